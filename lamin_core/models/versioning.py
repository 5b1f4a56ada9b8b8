"""Version families: records sharing a uid stem, exactly one of them the latest.

Shared by artifacts, collections and transforms, so that "same key, new content" means the same
thing for all three. Two rules make versions trustworthy:

- Numbers are assigned under a database lock per key and per family (`lock_key`, and the family
  lock `assign_next_version` takes), not by optimistic retries: any number of concurrent writers
  on one key all save, as versions 1, 2, 3, ... without duplicates or gaps.
- A uid is never given out twice: the next number comes after every uid the family ever had,
  deleted ones included (their tombstones, `lamin_core.models.tombstone`).
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError as SAIntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from lamin_core.errors import IntegrityError
from lamin_core.ids import decode_version, encode_version
from lamin_core.instance.locks import hold_locks
from lamin_core.models.branches import MAIN_BRANCH, has_branch
from lamin_core.models.provenance import VERSION_SUFFIX_LENGTH, IsVersioned
from lamin_core.models.tombstone import UID_REUSED, tombstone

logger = logging.getLogger("lamin_core.models")


def key_lock_name(model: type[IsVersioned], key: str, storage_id: int | None = None) -> str:
    """Return the name of the lock that serialises version assignment for `key`."""
    return f"lamin:version:{model.__tablename__}:{storage_id}:{key}"


def family_lock_name(model: type[IsVersioned], stem: str) -> str:
    """Return the name of the lock that serialises version assignment within a family."""
    return f"lamin:family:{model.__tablename__}:{stem}"


def lock_key(
    session: Session,
    model: type[IsVersioned],
    key: str | None,
    *,
    storage_id: int | None = None,
    shared: tuple[str, ...] = (),
) -> None:
    """Serialise version assignment for `key` until the session's transaction ends.

    Call it before reading the latest version of the key: a concurrent save of the same key
    waits here until this transaction commits, then sees its version.

    Args:
        session: The session whose transaction holds the lock.
        model: The versioned registry.
        key: The key; None locks nothing but the shared locks (and SQLite's write lock).
        storage_id: Keys are unique per storage for artifacts.
        shared: Names of locks to hold shared as well (see `lamin_core.instance.locks`).
    """
    exclusive = [key_lock_name(model, key, storage_id)] if key is not None else []
    hold_locks(session, exclusive, shared=shared)


def latest_with_key(
    session: Session, model: type[IsVersioned], key: str, **filters: Any
) -> IsVersioned | None:
    """Return the latest record of `model` with `key` (and the extra column filters), if any."""
    statement = sa.select(model).where(model.key == key, model.is_latest.is_(True))  # type: ignore[attr-defined]
    for name, value in filters.items():
        statement = statement.where(getattr(model, name) == value)
    return session.scalars(statement.order_by(model.id.desc()).limit(1)).first()


def next_version_number(session: Session, model: type[IsVersioned], stem: str) -> int:
    """Return the number after every version the family `stem` has or ever had."""
    uids = session.scalars(sa.select(model.uid).where(model.uid.startswith(stem))).all()
    buried = session.scalars(
        sa.select(tombstone.c.uid).where(
            tombstone.c.registry == model.__tablename__, tombstone.c.uid.startswith(stem)
        )
    ).all()
    # LIKE ignores case on SQLite: keep exactly this stem
    numbers = [
        decode_version(uid[-VERSION_SUFFIX_LENGTH:])
        for uid in [*uids, *buried]
        if uid[: len(stem)] == stem and len(uid) == model._full_uid_length()
    ]
    return max(numbers, default=-1) + 1


def assign_next_version(session: Session, record: IsVersioned, prior: IsVersioned) -> None:
    """Give `record` the uid of the version after the newest `prior`'s family ever had.

    Takes the family's lock first (held until the transaction ends), so that concurrent saves
    of one family get distinct numbers. The family's other members stop being the latest in the
    same transaction; the caller commits.
    """
    model = type(record)
    stem = prior.uid[: model._stem_length]
    hold_locks(session, [family_lock_name(model, stem)])
    number = next_version_number(session, model, stem)
    record.uid = stem + encode_version(number)
    if record.version is None:
        record.version = str(number + 1)
    session.execute(
        sa.update(model)
        .where(model.uid.startswith(stem), model.is_latest.is_(True))
        .values(is_latest=False)
        .execution_options(synchronize_session=False)
    )
    if prior in session:
        # the bulk update above did the write; only the loaded record is told (an attribute
        # change would be written again, and fail if a delete removed the row meanwhile)
        set_committed_value(prior, "is_latest", False)
    record.is_latest = True


def remove_version(session: Session, record: IsVersioned) -> bool:
    """Delete `record`'s row, handing `is_latest` to the newest remaining version of its family.

    Takes the family's lock first, so that a concurrent save of the family numbers after the
    deleted uid and a concurrent delete cannot leave the family without a latest version. The
    caller commits (or rolls back).

    Returns:
        False if another process already deleted the row (nothing was done), else True.
    """
    model = type(record)
    hold_locks(session, [family_lock_name(model, record.stem_uid)])
    is_latest = session.scalar(sa.select(model.is_latest).where(model.id == record.id))
    if is_latest is None:
        return False
    previous = _newest_on_main(session, record, exclude=record) if is_latest else None
    session.delete(record)
    session.flush()  # the row goes first: one latest version per key at every statement
    if previous is not None:
        previous.is_latest = True
    return True


def _newest_on_main(
    session: Session, record: IsVersioned, *, exclude: IsVersioned | None = None
) -> IsVersioned | None:
    """Return the newest version of `record`'s family on the main branch (trash left out)."""
    model = type(record)
    statement = sa.select(model).where(model.uid.startswith(record.stem_uid))
    if exclude is not None:
        statement = statement.where(model.id != exclude.id)
    if has_branch(model):
        statement = statement.where(model.branch_id == MAIN_BRANCH)
    # LIKE ignores case on SQLite: keep exactly this stem
    found = session.scalars(statement.order_by(model.uid.desc())).all()
    return next((r for r in found if r.stem_uid == record.stem_uid), None)


def move_version(session: Session, record: IsVersioned, branch: int) -> None:
    """Put `record` on `branch` (trash, archive, main), keeping one latest version per family.

    Leaving the main branch, the latest version hands `is_latest` to the newest version left
    there (as LaminDB 2.x does when trashing); coming back (`restore()`), the record becomes the
    latest again if it is the newest version on the main branch and no other family took its
    key meanwhile. Takes the family's lock first, as `remove_version` does.
    """
    model = type(record)
    hold_locks(session, [family_lock_name(model, record.stem_uid)])
    if branch != MAIN_BRANCH:
        was_latest = record.is_latest
        record.branch_id = branch
        record.is_latest = False
        session.flush()  # the latest goes first: one latest version per key at every statement
        previous = _newest_on_main(session, record, exclude=record) if was_latest else None
        if previous is not None:
            previous.is_latest = True
        return
    record.branch_id = branch
    newest = _newest_on_main(session, record, exclude=record)
    if newest is not None and newest.uid > record.uid:
        return  # a newer version is the latest: the restored one stays an older version
    if _key_taken(session, record):
        logger.info(
            f"restored {model.__name__} {record.uid!r} is not the latest version: another "
            f"{model.__name__} has the key {getattr(record, 'key', None)!r} meanwhile"
        )
        return
    session.execute(
        sa.update(model)
        .where(model.uid.startswith(record.stem_uid), model.is_latest.is_(True))
        .values(is_latest=False)
        .execution_options(synchronize_session="fetch")
    )
    session.flush()
    record.is_latest = True


def _key_taken(session: Session, record: IsVersioned) -> bool:
    """Whether another family's latest version holds `record`'s key (in its storage)."""
    model = type(record)
    key = getattr(record, "key", None)
    if key is None:
        return False
    statement = sa.select(model.id).where(
        model.key == key,  # type: ignore[attr-defined]
        model.is_latest.is_(True),
        ~model.uid.startswith(record.stem_uid),
    )
    if "storage_id" in model.__table__.c:
        statement = statement.where(model.storage_id == record.storage_id)  # type: ignore[attr-defined]
    return session.scalar(statement.limit(1)) is not None


def is_reused_uid(error: SAIntegrityError) -> bool:
    """Whether a failed insert was refused because its uid belonged to a deleted record."""
    return UID_REUSED in str(error.orig)


def reused_uid_error(model: type[IsVersioned], uid: str) -> IntegrityError:
    """Return the error for an attempt to give a deleted record's uid to a new one."""
    return IntegrityError(
        f"Cannot save a {model.__name__} with uid {uid!r}: it belonged to a deleted "
        f"{model.__name__}, and a uid is never reused (references to the deleted record must "
        "not find other data). Omit uid= to get a new one."
    )


def ensure_uid_unused(session: Session, model: type[IsVersioned], uid: str) -> None:
    """Raise if `uid` belonged to a deleted record of `model`.

    Raises:
        IntegrityError: the uid has a tombstone.
    """
    statement = sa.select(tombstone.c.id).where(
        tombstone.c.registry == model.__tablename__, tombstone.c.uid == uid
    )
    if session.scalar(statement) is not None:
        raise reused_uid_error(model, uid)
