"""Saving and deleting artifacts and collections, atomically, under concurrency and crashes.

The order is what keeps the catalog consistent:

1. Content is copied (or uploaded) next to its destination under a temporary name that names
   the owning process (`lamin_core.storage.inflight`), before any lock is taken.
2. Under the key's lock (`lamin_core.models.versioning.lock_key`; on SQLite the write lock),
   the save re-checks for identical content, takes the next version number, moves the content
   into place (a rename: cheap, so other keys wait little) and inserts the row; the commit ends
   the lock.
3. A failure before the commit removes what was written; a crash leaves a temporary file (a
   leftover `lamin-core fsck --repair` removes) or a file at the chosen uid with no row. No live
   save can hold such a file (the lock), so the next save of the key replaces it: no gap.

`fsck --repair` holds the repair lock exclusively while it removes files without rows; saves hold
it shared from before their file is placed until the row commits, so repair never removes what a
save is about to commit.

Fault points: ``LAMIN_CORE_FAULT=<point>`` (one of `FAULT_POINTS`, read once at import) makes the
process kill itself with SIGKILL at that point, for crash tests; unset, a point costs one
comparison.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import shutil
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError as SAIntegrityError
from sqlalchemy.orm import Session

from lamin_core.artifacts.access import managed_path
from lamin_core.errors import IntegrityError, StorageError
from lamin_core.instance import Instance, staging_root
from lamin_core.instance.locks import REPAIR_LOCK
from lamin_core.models.artifact import LATEST_KEY_INDEX
from lamin_core.models.base import Record
from lamin_core.models.branches import TRASH_BRANCH
from lamin_core.models.versioning import (
    assign_next_version,
    is_reused_uid,
    latest_with_key,
    lock_key,
    remove_version,
    reused_uid_error,
)
from lamin_core.storage.hashing import hash_folder
from lamin_core.storage.inflight import partial_name
from lamin_core.storage.paths import storage_type

if TYPE_CHECKING:
    from lamin_core.artifacts.staging import Staged
    from lamin_core.models.artifact import Artifact, Collection

logger = logging.getLogger("lamin_core")

FAULT_POINTS = (
    "save:staged",  # content copied next to its destination under a temporary name
    "save:placed",  # content at its final name, row not inserted
    "save:before-commit",  # row inserted, not committed
    "save:after-commit",  # row committed, staging not cleaned up
    "delete:before-commit",  # row deleted, not committed
    "delete:after-commit",  # row deletion committed, stored content not removed
)
_FAULT = os.environ.get("LAMIN_CORE_FAULT") or None


def fault_point(point: str) -> None:
    """Kill this process at `point` when ``LAMIN_CORE_FAULT`` names it (crash tests only)."""
    if _FAULT is not None and point == _FAULT:
        os.kill(os.getpid(), signal.SIGKILL)


def stored_path(instance: Instance, artifact: Artifact) -> str:
    """Return where the catalog stores a managed artifact's content: ``.lamindb/<uid><suffix>``.

    Raises:
        StorageError: the uid or suffix would lead outside the catalog folder.
    """
    return managed_path(
        instance.storage_path, artifact.uid, artifact.suffix, is_local=instance.is_local_storage
    )


def save_artifact(artifact: Artifact) -> Artifact:
    """Store the content and write the row; return the saved (or the identical existing) record.

    Raises:
        IntegrityError: the row breaks a rule of the catalog (a key held by another family, the
            uid of a deleted artifact); nothing is stored.
        StorageError: the content cannot be written; nothing is recorded.
    """
    from lamin_core.models.artifact import Artifact

    staged: Staged | None = getattr(artifact, "_staged", None)
    if artifact.id is not None or staged is None:
        return Record.save(artifact)
    instance = artifact._instance()
    try:
        artifact._check_write(instance, "INSERT")  # before any file is stored
    except BaseException:
        staged.discard()
        raise
    session = instance.session
    existing = _same_content(session, artifact)
    if existing is not None:
        staged.discard()
        logger.info("returning the existing artifact with the same hash: %r", existing)
        return _out_of_trash(existing)
    artifact._fill_defaults(instance)
    if artifact.run_id is not None and artifact.transform_id is None:
        from lamin_core.models import Run

        run = session.get(Run, artifact.run_id)
        artifact.transform_id = run.transform_id if run is not None else None
    in_catalog_storage = staged.in_place_root in (None, instance.storage_root)
    artifact.storage_id = (
        instance.storage_id if in_catalog_storage else _storage_id(instance, staged)
    )
    durable = _is_durable(session)
    partial = None if staged.in_place_root else _prepare(instance, staged, durable=durable)
    destination = None
    try:
        fault_point("save:staged")
        lock_key(
            session, Artifact, artifact.key, storage_id=artifact.storage_id, shared=(REPAIR_LOCK,)
        )
        existing = _same_content(session, artifact)
        if existing is not None:  # another process saved it while this one copied
            session.commit()
            _discard(instance, partial, staged)
            return _out_of_trash(existing)
        prior = artifact._revises or (
            latest_with_key(session, Artifact, artifact.key, storage_id=artifact.storage_id)
            if artifact.key is not None
            else None
        )
        if prior is not None:
            assign_next_version(session, artifact, prior)
        elif artifact.version is None:
            artifact.version = "1"
        if partial is not None:
            destination = stored_path(instance, artifact)
            _place(instance, partial, destination, durable=durable)
            partial = None
            fault_point("save:placed")
        session.add(artifact)
        session.flush()
        fault_point("save:before-commit")
        session.commit()
    except SAIntegrityError as error:
        _undo(instance, session, artifact, destination, staged.is_folder)
        _discard(instance, partial, staged)
        if is_reused_uid(error):
            raise reused_uid_error(Artifact, artifact.uid) from error
        winner = session.scalar(sa.select(Artifact).where(Artifact.hash == artifact.hash))
        if winner is not None:  # saved under another key by a process this lock did not stop
            return winner
        raise IntegrityError(_save_error(artifact, error)) from error
    except BaseException:
        _undo(instance, session, artifact, destination, staged.is_folder)
        _discard(instance, partial, staged)
        raise
    fault_point("save:after-commit")
    staged.discard()
    del artifact._staged
    return artifact


def _out_of_trash(existing: Artifact) -> Artifact:
    """Restore an artifact saved again while in the trash: saving it means wanting it back."""
    if existing.branch_id == TRASH_BRANCH:
        logger.info("the artifact with the same hash was in the trash: restoring it")
        existing.restore()
    return existing


def _same_content(session: Session, artifact: Artifact) -> Artifact | None:
    """Return the saved artifact with the same content hash, if any."""
    model = type(artifact)
    return session.scalars(sa.select(model).where(model.hash == artifact.hash).limit(1)).first()


def _undo(
    instance: Instance,
    session: Session,
    artifact: Artifact,
    destination: str | None,
    is_folder: bool,
) -> None:
    """Roll back a failed save: the transaction, the record's membership, the placed content."""
    session.rollback()
    if artifact in session:
        session.expunge(artifact)
    _remove(instance, destination, is_folder)


def _is_durable(session: Session) -> bool:
    """Whether a commit survives a power loss, so the stored content must be flushed too."""
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return True
    return int(connection.exec_driver_sql("PRAGMA synchronous").scalar() or 0) >= 2


def _save_error(artifact: Artifact, error: SAIntegrityError) -> str:
    text = str(error.orig)
    if LATEST_KEY_INDEX in text or "artifact.storage_id, artifact.key" in text:
        return (
            f"Cannot save {artifact!r}: key {artifact.key!r} is the key of the latest version of "
            "another artifact family. Save it with revises=<that artifact> or another key."
        )
    return f"Cannot save {artifact!r}: {error.orig}"


def _storage_id(instance: Instance, staged: Staged) -> int:
    """Return the Storage row of the artifact: the catalog's, or the bucket it lies in."""
    from lamin_core.models import Storage

    if staged.in_place_root is None or staged.in_place_root == instance.storage_root:
        return instance.storage_id
    session = instance.session
    storage = session.scalar(sa.select(Storage).where(Storage.root == staged.in_place_root))
    if storage is None:
        storage = Storage._create(
            root=staged.in_place_root,
            type=storage_type(staged.in_place_root),
            created_by_id=instance.user_id,
        )
        session.add(storage)
        session.flush()
    return storage.id


def _prepare(instance: Instance, staged: Staged, *, durable: bool) -> str:
    """Put the content next to its destination under a temporary name; return that name.

    This is the slow part of a save (a copy or an upload), so it runs before any lock. A staging
    file already inside the catalog folder is used as it is.

    Raises:
        StorageError: the upload failed; nothing is left behind.
    """
    if instance.is_local_storage:
        catalog = Path(instance.catalog_path)
        catalog.mkdir(parents=True, exist_ok=True)
        if staged.is_temporary and Path(staged.source).parent == staging_root(instance):
            if durable:
                _fsync(Path(staged.source))
            return staged.source
        partial = catalog / partial_name()
        try:
            if staged.is_folder:
                shutil.copytree(staged.source, partial)
            else:
                shutil.copyfile(staged.source, partial)
            staged.check_copy(partial)  # the source must not have changed while it was copied
            if durable:
                _fsync(partial)
        except BaseException:
            _remove_local(partial)
            raise
        return str(partial)
    partial_url = f"{instance.catalog_path}/{partial_name()}"
    try:
        # object stores make each object visible only once its upload completed
        instance.fs.put(staged.source, partial_url, recursive=staged.is_folder)
    except OSError as error:
        _remove(instance, partial_url, staged.is_folder)
        raise StorageError(
            f"Cannot upload {staged.source!r} to {partial_url!r}: {error}. Nothing was recorded."
        ) from error
    except BaseException:
        _remove(instance, partial_url, staged.is_folder)
        raise
    if not staged.is_temporary:
        try:
            staged.check_upload(instance.fs, partial_url)
        except StorageError:
            _remove(instance, partial_url, staged.is_folder)
            raise
    return partial_url


def _place(instance: Instance, source: str, destination: str, *, durable: bool) -> None:
    """Move prepared content to its final name (under the key's lock).

    Anything already there has no row and no live save can hold it (the lock): it is what a
    save left when it crashed after placing its file, and is replaced.
    """
    if instance.is_local_storage:
        target = Path(destination)
        if target.exists() or target.is_symlink():
            logger.warning("replacing %s, left by a save that crashed before committing", target)
            _remove_local(target)
        os.rename(source, target)
        if durable:
            _fsync(target.parent, entries_only=True)  # the rename itself
        return
    fs = instance.fs
    fs.invalidate_cache()
    if fs.exists(destination):
        logger.warning("replacing %s, left by a save that crashed before committing", destination)
        fs.rm(destination, recursive=True)
    if not fs.isdir(source):
        fs.mv(source, destination)
        return
    # object stores have no folders to rename: copy object by object (server-side), then drop
    prefix = source.rstrip("/") + "/"
    for path in fs.find(source):
        fs.copy(path, f"{destination}/{path[len(prefix) :]}")
    fs.rm(source, recursive=True)


def _fsync(path: Path, *, entries_only: bool = False) -> None:
    """Flush a file (or every file of a folder) to disk; a folder's entries with `entries_only`."""
    paths = [path] if entries_only or not path.is_dir() else [*path.rglob("*"), path]
    for item in paths:
        descriptor = os.open(item, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        except OSError as error:
            # some filesystems cannot flush a folder; its files are flushed all the same
            if error.errno != errno.EINVAL or not item.is_dir():
                raise
        finally:
            os.close(descriptor)


def _discard(instance: Instance, partial: str | None, staged: Staged) -> None:
    """Remove the temporary copy of a save that ends without placing it, and its staging file."""
    if partial is not None and partial != staged.source:
        _remove(instance, partial, staged.is_folder)
    staged.discard()


def _remove_local(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
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
    """Delete the row (and the stored content), handing `is_latest` to the previous version.

    The row goes first, with its tombstone (its uid is never given out again), under the
    family's lock so that a concurrent save of the family numbers after it; the content goes
    after the commit. A crash in between leaves a file without a row for `fsck --repair`.
    """
    from lamin_core.artifacts.access import artifact_location

    instance = artifact._instance()
    artifact._check_write(instance, "DELETE")  # before the row or the file goes
    session = instance.session
    _check_documents_no_run(session, artifact)
    delete_content = artifact.key_is_virtual if storage is None else storage
    fs, location = artifact_location(artifact)
    try:
        if not remove_version(session, artifact):
            session.commit()
            logger.warning("%r was already deleted (by another process)", artifact)
            return
        fault_point("delete:before-commit")
        session.commit()
    except SAIntegrityError as error:
        session.rollback()
        raise IntegrityError(
            f"Cannot delete {artifact!r}: the previous version cannot become the latest "
            f"({error.orig}). Delete or re-key the other artifact with key {artifact.key!r} first."
        ) from error
    except BaseException:
        session.rollback()
        raise
    fault_point("delete:after-commit")
    if delete_content:
        try:
            fs.rm(location, recursive=bool(artifact.n_files))
        except FileNotFoundError:
            logger.warning("the stored content of %r was already gone", artifact)


def _check_documents_no_run(session: Session, artifact: Artifact) -> None:
    """Refuse to delete the report or environment of a run (the run would lose it).

    Raises:
        IntegrityError: runs point to the artifact; the message names them and the fix.
    """
    from lamin_core.models import Run

    roles = {"report": Run.report_id, "environment": Run.environment_id}
    for role, column in roles.items():
        uids = session.scalars(sa.select(Run.uid).where(column == artifact.id).limit(4)).all()
        if uids:
            shown = ", ".join(f"Run('{uid}')" for uid in uids[:3])
            more = " and more" if len(uids) > 3 else ""
            raise IntegrityError(
                f"Cannot delete {artifact!r}: it is the {role} of {shown}{more}. Delete those "
                f"runs first, or detach it: run.{role} = None; run.save()."
            )


def collection_hash(artifacts: list[Artifact]) -> str:
    """Return the hash of an ordered list of artifacts."""
    return hash_folder((f"{position:08d}", a.hash or a.uid) for position, a in enumerate(artifacts))


def save_collection(collection: Collection) -> Collection:
    """Write a collection and its ordered members; return it or the identical existing one.

    Raises:
        IntegrityError: the collection breaks a rule of the catalog (e.g. the uid of a deleted
            collection); nothing is written.
    """
    from lamin_core.models.artifact import Collection, collection_artifact

    members = getattr(collection, "_members", None)
    if collection.id is not None or members is None:
        return Record.save(collection)
    instance = collection._instance()
    collection._check_write(instance, "INSERT")
    instance.check_write(f"save {collection!r}", [("collection_artifact", "INSERT")])
    session = instance.session
    same = sa.select(Collection).where(
        Collection.hash == collection.hash, Collection.key == collection.key
    )
    existing = session.scalar(same)
    if existing is not None:
        return existing
    collection._fill_defaults(instance)
    try:
        lock_key(session, Collection, collection.key)
        existing = session.scalar(same)
        if existing is not None:  # saved by another process meanwhile
            session.commit()
            return existing
        prior = collection._revises or latest_with_key(session, Collection, collection.key)
        if prior is not None:
            assign_next_version(session, collection, prior)
        elif collection.version is None:
            collection.version = "1"
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
    except SAIntegrityError as error:
        _rollback_new(session, collection)
        if is_reused_uid(error):
            raise reused_uid_error(Collection, collection.uid) from error
        raise IntegrityError(f"Cannot save {collection!r}: {error.orig}") from error
    except BaseException:
        _rollback_new(session, collection)
        raise
    del collection._members
    return collection


def _rollback_new(session: Session, record: Any) -> None:
    session.rollback()
    if record in session:
        session.expunge(record)
