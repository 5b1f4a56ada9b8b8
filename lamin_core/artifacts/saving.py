"""Saving and deleting artifacts and collections, atomically.

The order is what keeps the catalog consistent: content first (written under a temporary name
and moved into place), the row last (in one transaction with the version bookkeeping). A failure
before the commit removes the content that was written, so no row ever points to a missing file
and no failed save leaves a file behind; a hard crash can only leave an unreferenced file, which
`lamin-core fsck` finds.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError as SAIntegrityError
from sqlalchemy.orm import Session

from lamin_core.artifacts.access import managed_path
from lamin_core.errors import IntegrityError, StorageError
from lamin_core.ids import base62, decode_version
from lamin_core.instance import Instance
from lamin_core.models.artifact import LATEST_KEY_INDEX
from lamin_core.models.base import Record
from lamin_core.models.core import VERSION_SUFFIX_LENGTH
from lamin_core.storage.hashing import hash_folder
from lamin_core.storage.paths import storage_type
from lamin_core.versioning import assign_next_version, latest_with_key

if TYPE_CHECKING:
    from lamin_core.artifacts.staging import Staged
    from lamin_core.models.artifact import Artifact, Collection

logger = logging.getLogger("lamin_core")

MAX_VERSION_RETRIES = 20


def stored_path(instance: Instance, artifact: Artifact) -> str:
    """Return where the catalog stores a managed artifact's content: ``.lamindb/<uid><suffix>``.

    Raises:
        StorageError: the uid or suffix would lead outside the catalog folder.
    """
    return managed_path(
        instance.storage_path, artifact.uid, artifact.suffix, is_local=instance.is_local_storage
    )


def save_artifact(artifact: Artifact) -> Artifact:
    """Store the content and write the row; return the saved (or the identical existing) record."""
    from lamin_core.models.artifact import Artifact

    staged: Staged | None = getattr(artifact, "_staged", None)
    if artifact.id is not None or staged is None:
        return Record.save(artifact)
    instance = artifact._instance()
    session = instance.session
    in_catalog_storage = staged.in_place_root in (None, instance.storage_root)
    existing, prior = _find_duplicate_and_prior(
        session, artifact, instance.storage_id if in_catalog_storage else None
    )
    if existing is not None:
        staged.discard()
        logger.info("returning the existing artifact with the same hash: %r", existing)
        return existing
    artifact._fill_defaults(instance)
    if artifact.run_id is not None and artifact.transform_id is None:
        from lamin_core.models import Run

        run = session.get(Run, artifact.run_id)
        artifact.transform_id = run.transform_id if run is not None else None
    artifact.storage_id = (
        instance.storage_id if in_catalog_storage else _storage_id(instance, staged)
    )
    taken = -1  # the highest version number found taken by a concurrent save
    given_version = artifact.version
    for attempt in range(MAX_VERSION_RETRIES):
        artifact.version = given_version
        if attempt > 0 or not in_catalog_storage:
            prior = artifact._revises or (
                latest_with_key(session, Artifact, artifact.key, storage_id=artifact.storage_id)
                if artifact.key is not None
                else None
            )
        if prior is not None:
            assign_next_version(session, artifact, prior, at_least=taken + 1)
        elif artifact.version is None:
            artifact.version = "1"
        destination = None if staged.in_place_root else stored_path(instance, artifact)
        written = False
        try:
            if destination is not None:
                _put(instance, staged, destination)
                written = True
            session.add(artifact)
            session.commit()
        except FileExistsError:
            # a concurrent save holds this uid's file and has not committed yet: never
            # overwrite it, take the version after it
            session.rollback()
            taken = decode_version(artifact.uid[-VERSION_SUFFIX_LENGTH:])
            time.sleep(0.01 * (attempt + 1))
            continue
        except SAIntegrityError as error:
            session.rollback()
            if written:
                _remove(instance, destination, staged.is_folder)
            winner = session.scalar(sa.select(Artifact).where(Artifact.hash == artifact.hash))
            if winner is not None:  # another process saved the same content a moment ago
                staged.discard()
                return winner
            if _names_latest_key_index(error) and artifact._revises is None:
                continue  # another process saved the first version of this key: be version 2
            if "uid" not in str(error.orig):
                staged.discard()
                raise IntegrityError(_save_error(artifact, error)) from error
            taken = decode_version(artifact.uid[-VERSION_SUFFIX_LENGTH:])
            continue  # another process took this version number: take the next one
        except BaseException:
            session.rollback()
            if artifact in session:
                session.expunge(artifact)
            if written:
                _remove(instance, destination, staged.is_folder)
            staged.discard()
            raise
        staged.discard()
        del artifact._staged
        return artifact
    staged.discard()
    raise IntegrityError(
        f"Cannot save a new version of key {artifact.key!r}: {MAX_VERSION_RETRIES} concurrent "
        "saves took the version numbers first. Try again."
    )


def _names_latest_key_index(error: SAIntegrityError) -> bool:
    """Whether a failed insert broke "one latest artifact per key" (SQLite or PostgreSQL)."""
    text = str(error.orig)
    return LATEST_KEY_INDEX in text or "artifact.storage_id, artifact.key" in text


def _save_error(artifact: Artifact, error: SAIntegrityError) -> str:
    if _names_latest_key_index(error):
        return (
            f"Cannot save {artifact!r}: key {artifact.key!r} is the key of the latest version of "
            "another artifact family. Save it with revises=<that artifact> or another key."
        )
    return f"Cannot save {artifact!r}: {error.orig}"


def _find_duplicate_and_prior(
    session: Session, artifact: Artifact, storage_id: int | None
) -> tuple[Artifact | None, Artifact | None]:
    """Return the artifact with the same content and the latest one with the same key.

    One query answers both, since every save needs both answers.
    """
    from lamin_core.models.artifact import Artifact

    table = Artifact.__table__
    conditions = [table.c.hash == artifact.hash]
    by_key = artifact._revises is None and artifact.key is not None and storage_id is not None
    if by_key:
        conditions.append(
            sa.and_(
                table.c.key == artifact.key,
                table.c.storage_id == storage_id,
                table.c.is_latest.is_(True),
            )
        )
    # plain rows first (the common answer is "none"), records only for what matched
    matches = session.execute(
        sa.select(table.c.id, table.c.hash, table.c.key, table.c.is_latest).where(
            sa.or_(*conditions)
        )
    ).all()
    duplicate = next(
        (session.get(Artifact, row.id) for row in matches if row.hash == artifact.hash), None
    )
    same_key = [row.id for row in matches if by_key and row.key == artifact.key and row.is_latest]
    prior = artifact._revises or (session.get(Artifact, max(same_key)) if same_key else None)
    return duplicate, prior


def _storage_id(instance: Instance, staged: Staged) -> int:
    """Return the Storage row of the artifact: the catalog's, or the bucket it lies in."""
    from lamin_core.models import Storage

    if staged.in_place_root is None or staged.in_place_root == instance.storage_root:
        return instance.storage_id
    session = instance.session
    storage = session.scalar(sa.select(Storage).where(Storage.root == staged.in_place_root))
    if storage is None:
        storage = Storage(
            root=staged.in_place_root,
            type=storage_type(staged.in_place_root),
            created_by_id=instance.user_id,
        )
        session.add(storage)
        session.flush()
    return storage.id


def _put(instance: Instance, staged: Staged, destination: str) -> None:
    """Write staged content to `destination` so that it appears there complete or not at all.

    Raises:
        FileExistsError: something is already stored there (a concurrent save of the same uid);
            it is never overwritten.
    """
    if instance.is_local_storage:
        target = Path(destination)
        target.parent.mkdir(parents=True, exist_ok=True)
        if staged.is_temporary:
            os.link(staged.source, target)  # unlike a rename, a link never replaces a file
            return
        partial = target.with_name(f".{target.name}.{base62(8)}.partial")
        try:
            if staged.is_folder:
                shutil.copytree(staged.source, partial)
                staged.check_copy(partial)
                if target.exists():
                    raise FileExistsError(f"{target} already exists")
                os.rename(partial, target)
            else:
                shutil.copyfile(staged.source, partial)
                staged.check_copy(partial)
                os.link(partial, target)
        finally:
            _remove_local(partial)
        return
    if instance.fs.exists(destination):
        raise FileExistsError(f"{destination} already exists")
    try:
        # object stores make each object visible only once its upload completed
        instance.fs.put(staged.source, destination, recursive=staged.is_folder)
    except OSError as error:
        raise StorageError(
            f"Cannot upload {staged.source!r} to {destination!r}: {error}. Nothing was recorded."
        ) from error
    if not staged.is_temporary:
        try:
            staged.check_upload(instance.fs, destination)
        except StorageError:
            _remove(instance, destination, staged.is_folder)
            raise


def _remove_local(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _remove(instance: Instance, destination: str | None, is_folder: bool) -> None:
    """Remove content written for a save that did not commit."""
    if destination is None:
        return
    if instance.is_local_storage:
        _remove_local(Path(destination))
        return
    with contextlib.suppress(FileNotFoundError):
        instance.fs.rm(destination, recursive=is_folder)


def delete_artifact(artifact: Artifact, *, storage: bool | None) -> None:
    """Delete the row (and the stored content), handing `is_latest` to the previous version."""
    from lamin_core.artifacts.access import artifact_location
    from lamin_core.models.artifact import Artifact

    instance = artifact._instance()
    session = instance.session
    delete_content = artifact.key_is_virtual if storage is None else storage
    fs, location = artifact_location(artifact)
    try:
        previous = None
        if artifact.is_latest:
            previous = session.scalars(
                sa.select(Artifact)
                .where(Artifact.uid.startswith(artifact.stem_uid), Artifact.id != artifact.id)
                .order_by(Artifact.uid.desc())
                .limit(1)
            ).first()
        session.delete(artifact)
        session.flush()  # the row goes first: one latest version per key at every statement
        if previous is not None:
            previous.is_latest = True
        session.commit()
    except BaseException:
        session.rollback()
        raise
    if delete_content:
        try:
            fs.rm(location, recursive=bool(artifact.n_files))
        except FileNotFoundError:
            logger.warning("the stored content of %r was already gone", artifact)


def collection_hash(artifacts: list[Artifact]) -> str:
    """Return the hash of an ordered list of artifacts."""
    return hash_folder((f"{position:08d}", a.hash or a.uid) for position, a in enumerate(artifacts))


def save_collection(collection: Collection) -> Collection:
    """Write a collection and its ordered members; return it or the identical existing one."""
    from lamin_core.models.artifact import Collection, collection_artifact

    members = getattr(collection, "_members", None)
    if collection.id is not None or members is None:
        return Record.save(collection)
    instance = collection._instance()
    session = instance.session
    existing = session.scalar(
        sa.select(Collection).where(
            Collection.hash == collection.hash, Collection.key == collection.key
        )
    )
    if existing is not None:
        return existing
    collection._fill_defaults(instance)
    prior = collection._revises or latest_with_key(session, Collection, collection.key)
    if prior is not None:
        assign_next_version(session, collection, prior)
    elif collection.version is None:
        collection.version = "1"
    try:
        session.add(collection)
        session.flush()
        session.execute(
            collection_artifact.insert(),
            [
                {"collection_id": collection.id, "artifact_id": a.id, "position": i}
                for i, a in enumerate(members)
            ],
        )
        session.commit()
    except BaseException:
        session.rollback()
        raise
    del collection._members
    return collection
