"""Version families: records sharing a uid stem, exactly one of them the latest.

Shared by artifacts, collections and transforms, so that "same key, new content" means the same
thing for all three.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from lamin_core.ids import decode_version, encode_version
from lamin_core.models.core import VERSION_SUFFIX_LENGTH, IsVersioned


def latest_with_key(
    session: Session, model: type[IsVersioned], key: str, **filters: Any
) -> IsVersioned | None:
    """Return the latest record of `model` with `key` (and the extra column filters), if any."""
    statement = sa.select(model).where(model.key == key, model.is_latest.is_(True))  # type: ignore[attr-defined]
    for name, value in filters.items():
        statement = statement.where(getattr(model, name) == value)
    return session.scalars(statement.order_by(model.id.desc()).limit(1)).first()


def assign_next_version(
    session: Session, record: IsVersioned, prior: IsVersioned, *, at_least: int = 0
) -> None:
    """Give `record` the uid of the version after the newest of `prior`'s family.

    `at_least` skips version numbers a concurrent, not yet committed save holds. The family's
    other members stop being the latest in the same transaction; the caller commits.
    """
    model = type(record)
    stem = prior.uid[: model._stem_length]
    uids = session.scalars(sa.select(model.uid).where(model.uid.startswith(stem))).all()
    number = max(max(decode_version(uid[-VERSION_SUFFIX_LENGTH:]) for uid in uids) + 1, at_least)
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
        prior.is_latest = False  # the bulk update above does not touch loaded records
    record.is_latest = True
