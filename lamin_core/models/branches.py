"""Branches of a record: the main branch, the archive and the trash (LaminDB 2.x's `branch_id`).

Deleting a record of most registries does not remove it: it goes to the trash, where queries,
`df()` and `search()` no longer show it, and `restore()` brings it back with its uid, links and
annotations intact; ``delete(permanent=True)`` removes it for good. The archive hides records
the same way without deleting them. The rules live here, as a mixin of every registry, so that
all registries with a `branch_id` behave alike; versioned registries move `is_latest` along
(`lamin_core.models.versioning.move_version`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from lamin_core.errors import ValidationError

if TYPE_CHECKING:
    from lamin_core.instance import Instance

__all__ = [
    "ARCHIVE_BRANCH",
    "BRANCH_NAMES",
    "MAIN_BRANCH",
    "TRASH_BRANCH",
    "Trashable",
    "has_branch",
]

logger = logging.getLogger("lamin_core.models")

# the branches a record can be on, as LaminDB 2.x numbers them (`branch_id`): the main branch
# (what queries show), the archive and the trash (both hidden unless asked for)
MAIN_BRANCH = 1
ARCHIVE_BRANCH = 0
TRASH_BRANCH = -1
BRANCH_NAMES = {MAIN_BRANCH: "main", ARCHIVE_BRANCH: "archive", TRASH_BRANCH: "trash"}


def has_branch(registry: Any) -> bool:
    """Whether records of `registry` have a `branch_id` (can go to the trash or the archive)."""
    table = getattr(registry, "__table__", None)
    return table is not None and "branch_id" in table.c


class Trashable:
    """`delete()`, `restore()` and `archive()` of every registry (mixed into `Record`)."""

    if TYPE_CHECKING:
        id: int
        uid: str
        branch_id: int | None

        def _instance(self) -> Instance: ...
        def _check_write(self, instance: Instance, action: str | None = None) -> None: ...
        def _delete_with(self, remove: Callable[[sa.orm.Session, Any], object]) -> None: ...

    def delete(self, permanent: bool | None = None) -> None:
        """Move the record to the trash, or remove it from the catalog for good.

        As in LaminDB 2.x: a registry with a trash (a `branch_id`) moves the record there, where
        queries, `df()` and `search()` no longer show it and `restore()` brings it back; the
        record keeps its uid. A record in the trash is removed with ``permanent=True``.
        Registries without a trash (User, Storage, Space, FeatureValue, the bio registries)
        always remove the record.

        Args:
            permanent: True removes the record at once, trash or not; None (the default) moves
                it to the trash; False leaves a trashed record where it is.

        Raises:
            ValidationError: the record is already in the trash and `permanent` is None (LaminDB
                asks for confirmation; here ``delete(permanent=True)`` is the confirmation).
            IntegrityError: other records still point to it (a permanent removal).
            NoWriteAccess: the database role may not delete it.
        """
        self._trash_or_remove(permanent, self._delete_permanently)

    def _trash_or_remove(self, permanent: bool | None, remove: Callable[[], None]) -> None:
        """Do what `delete(permanent)` asks: call `remove()`, move to the trash, or refuse."""
        if not has_branch(type(self)) or permanent:
            remove()
            return
        if not sa.inspect(self).has_identity:
            # as LaminDB: nothing to delete; moving it would save it, in the trash
            logger.warning(
                f"{type(self).__name__} {self.uid!r} is not saved: delete() does nothing"
            )
            return
        if self.branch_id == TRASH_BRANCH:
            if permanent is False:
                return
            raise ValidationError(
                f"{type(self).__name__} {self.uid!r} is already in the trash. Pass "
                "permanent=True to remove it from the catalog for good (this cannot be undone), "
                "or call restore() to bring it back."
            )
        self._move_to_branch(TRASH_BRANCH)
        logger.info(f"moved {type(self).__name__} {self.uid!r} to the trash")

    def restore(self) -> None:
        """Bring the record back from the trash or the archive onto the main branch.

        A versioned record that is the newest of its family becomes its latest version again.

        Raises:
            ValidationError: the registry has no trash, or the record is not in the trash or the
                archive; nothing is changed.
            NoWriteAccess: the database role may not change it.
        """
        name = type(self).__name__
        if not has_branch(type(self)):
            raise ValidationError(
                f"{name} records have no trash: delete() removes them, so there is nothing to "
                "restore."
            )
        if sa.inspect(self).transient or self.branch_id in (None, MAIN_BRANCH):
            raise ValidationError(
                f"Cannot restore {name} {self.uid!r}: it is not in the trash or the archive "
                f"(branch_id={self.branch_id!r}, main is {MAIN_BRANCH}). Only a deleted or "
                "archived record can be restored."
            )
        self._move_to_branch(MAIN_BRANCH)

    def archive(self) -> None:
        """Move the record to the archive (``branch_id=0``): hidden like the trash, not deleted.

        Raises:
            ValidationError: the registry has no archive; nothing is changed.
        """
        if not has_branch(type(self)):
            raise ValidationError(f"{type(self).__name__} records cannot be archived.")
        self._move_to_branch(ARCHIVE_BRANCH)

    def _move_to_branch(self, branch: int) -> None:
        """Put the record on `branch` in a `writing()` block (see `_set_branch`)."""
        instance = self._instance()
        self._check_write(instance, "UPDATE")
        with instance.writing() as session:
            if self not in session:
                session.add(self)
            self._set_branch(session, branch)
            if branch == TRASH_BRANCH:
                self._trash_typed(session)
            session.flush()

    def _trash_typed(self, session: sa.orm.Session) -> None:
        """Move the records of a type (``is_type=True``) to the trash with it, as 2.x does.

        Types of types are followed down; `restore()` brings back only the record it is called
        on, as in 2.x.
        """
        registry: Any = type(self)
        if not getattr(self, "is_type", False) or "type_id" not in registry.__table__.c:
            return
        session.flush()
        typed = session.scalars(
            sa.select(registry).where(
                registry.type_id == self.id, registry.branch_id != TRASH_BRANCH
            )
        ).all()
        for record in typed:
            record._set_branch(session, TRASH_BRANCH)
            record._trash_typed(session)

    def _set_branch(self, session: sa.orm.Session, branch: int) -> None:
        """Set the branch; versioned registries also move `is_latest` (see IsVersioned)."""
        self.branch_id = branch

    def _delete_permanently(self) -> None:
        """Remove the row from the catalog (registries with files remove those too)."""
        self._delete_with(lambda session, record: session.delete(record))
