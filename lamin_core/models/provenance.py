"""Who, where and how: User, Storage, Transform and Run.

These registries hold the provenance of every artifact: the user who made it, the storage it
lives in, and the run of a transform (a script, notebook, pipeline or Dagster op) that produced it.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, ClassVar

import sqlalchemy as sa
from sqlalchemy import JSON, Boolean, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lamin_core.errors import IntegrityError, ValidationError
from lamin_core.ids import base62, encode_version
from lamin_core.models.base import (
    Record,
    UTCDateTime,
    created_at_column,
    created_by_column,
    utcnow,
)
from lamin_core.models.can_curate import CanCurate
from lamin_core.storage.paths import storage_type

if TYPE_CHECKING:
    from lamin_core.instance import Instance
    from lamin_core.models.artifact import Artifact
    from lamin_core.query import QuerySet

VERSION_SUFFIX_LENGTH = 4


class User(CanCurate, Record):
    """A person or service account that creates records.

    Examples:
        >>> ln.User.get(handle="testuser1").name
        'Test User1'
    """

    __tablename__ = "user"
    _uid_length = 8
    _has_space = False  # users are catalog-wide: records of every space name their creator
    _name_field = "handle"
    _natural_keys = (("handle",),)
    _search_fields = ("handle", "name")

    handle: Mapped[str] = mapped_column(String(255), unique=True)
    name: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = created_at_column()


class Storage(Record):
    """A storage location: a local folder or a bucket prefix that holds artifacts.

    Examples:
        >>> ln.Storage.get(root="s3://my-bucket/catalog")
    """

    __tablename__ = "storage"
    _uid_length = 12
    _name_field = "root"
    _natural_keys = (("root",),)
    _search_fields = ("root", "description")

    root: Mapped[str] = mapped_column(String(1024), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    type: Mapped[str] = mapped_column(String(32))
    region: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = created_at_column()
    created_by_id: Mapped[int | None] = created_by_column()

    _immutable_fix = "register the new location as another Storage instead"

    @sa.orm.validates("root")
    def _validate_root(self, name: str, value: Any) -> Any:
        # the root locates every file registered in it: moving it would point them elsewhere
        self._keeps_saved_value(name, value)
        return value


class IsVersioned(Record):
    """A registry whose records have versions sharing a uid stem.

    The uid is a random stem followed by a 4-character base62 version suffix: the first version
    ends in ``0000``, the next in ``0001``. Exactly one version of a family is the latest.
    """

    __abstract__ = True

    _stem_length: ClassVar[int] = 16

    @classmethod
    def _full_uid_length(cls) -> int:
        return cls._stem_length + VERSION_SUFFIX_LENGTH

    @classmethod
    def _new_uid(cls) -> str:
        return base62(cls._stem_length) + encode_version(0)

    version: Mapped[str | None] = mapped_column(String(64), sort_order=80)
    # not indexed: nearly every record is the latest, so an index would only slow scans down
    is_latest: Mapped[bool] = mapped_column(Boolean, default=True, sort_order=81)

    @property
    def stem_uid(self) -> str:
        """The part of the uid shared by all versions."""
        return self.uid[: self._stem_length]

    @property
    def versions(self) -> QuerySet[Any]:
        """All versions of this record, oldest first."""
        return type(self).filter(uid__startswith=self.stem_uid).order_by("uid")

    def _delete_permanently(self) -> None:
        """Remove this version; if it was the latest, the newest remaining one becomes it.

        Raises:
            IntegrityError: other records still point to it.
            NoWriteAccess: the database role may not delete it.
        """
        from lamin_core.models.versioning import remove_version  # versioning imports this module

        self._delete_with(remove_version)

    def _set_branch(self, session: sa.orm.Session, branch: int) -> None:
        """Move the version to `branch`, handing `is_latest` on (see `move_version`)."""
        from lamin_core.models.versioning import move_version  # versioning imports this module

        move_version(session, self, branch)


class Transform(IsVersioned):
    """A piece of code that produces data: a notebook, script, pipeline or Dagster op.

    LaminDB 2.x calls its `type` `kind`: ``Transform(kind="script")``, ``transform.kind`` and
    ``Transform.filter(kind="script")`` read and write the same column.

    Examples:
        >>> transform = ln.Transform(key="qc.py", kind="script").save()
        >>> transform.kind, transform.type
        ('script', 'script')
    """

    __tablename__ = "transform"
    _has_branch = True
    _stem_length = 12
    _name_field = "key"
    _search_fields = ("key", "description")
    # LaminDB's guide filters transforms by `name`, which is their description here
    _field_aliases = {"name": "description", "kind": "type"}
    _natural_keys = (("key", "version"),)

    key: Mapped[str | None] = mapped_column(String(1024), index=True)
    description: Mapped[str | None] = mapped_column(Text)
    type: Mapped[str] = mapped_column(String(32), default="pipeline")
    source_code: Mapped[str | None] = mapped_column(Text)
    hash: Mapped[str | None] = mapped_column(String(64), index=True)
    reference: Mapped[str | None] = mapped_column(String(1024))
    reference_type: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = created_at_column()
    created_by_id: Mapped[int | None] = created_by_column()

    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    runs: Mapped[list[Run]] = relationship(
        back_populates="transform", foreign_keys="Run.transform_id"
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**_kind_as_type(kwargs))

    @classmethod
    def _existing_for_call(cls, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        return super()._existing_for_call(args, _kind_as_type(kwargs))

    @property
    def kind(self) -> str:
        """LaminDB 2.x's name of `type`: ``"pipeline"``, ``"script"``, ``"function"``, ..."""
        return self.type

    @kind.setter
    def kind(self, value: str) -> None:
        self.type = value

    @property
    def name(self) -> str | None:
        """The transform's display name: its description, else its key."""
        return self.description or self.key

    def _delete_permanently(self) -> None:
        """Remove this version and its runs, in one transaction (as LaminDB does).

        Raises:
            IntegrityError: artifacts made by its runs still exist (they would lose the run
                that made them); nothing is deleted.
            NoWriteAccess: the database role may not delete it.
        """
        instance = self._instance()
        self._check_write(instance, "DELETE")
        described = repr(self)  # a rollback expires the fields the message shows
        with instance.writing() as session:
            runs = list(session.scalars(sa.select(Run).where(Run.transform_id == self.id)))
            producing = session.scalars(
                sa.select(Run.uid)
                .where(Run.transform_id == self.id, Run.output_artifacts.any())
                .limit(4)
            ).all()
            if producing:
                shown = ", ".join(f"Run('{uid}')" for uid in producing[:3])
                more = " and more" if len(producing) > 3 else ""
                raise IntegrityError(
                    f"Cannot delete {described}: its runs {shown}{more} made artifacts that "
                    "still exist (in the trash too). Nothing was deleted. Delete those artifacts "
                    "first with delete(permanent=True) (see run.output_artifacts), then the "
                    "transform."
                )
            for run in runs:
                run._check_write(instance, "DELETE")
                session.delete(run)
            session.flush()
            super()._delete_permanently()


def _kind_as_type(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Return Transform keywords with LaminDB 2.x's `kind` given as `type`.

    Raises:
        ValidationError: both are given, with different values.
    """
    if "kind" not in kwargs:
        return kwargs
    kwargs = dict(kwargs)
    kind = kwargs.pop("kind")
    if kwargs.get("type", kind) != kind:
        raise ValidationError(
            f"Transform got kind={kind!r} and type={kwargs['type']!r}; they name the same field "
            "(kind is LaminDB 2.x's name of type). Pass one of them."
        )
    kwargs["type"] = kind
    return kwargs


run_input_artifact = sa.Table(
    "run_input_artifact",
    Record.metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("run_id", ForeignKey("run.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column(
        "artifact_id", ForeignKey("artifact.id", ondelete="CASCADE"), nullable=False, index=True
    ),
    sa.UniqueConstraint("run_id", "artifact_id"),
)


class Run(Record):
    """One execution of a transform, with its inputs, outputs, status and parameters.

    Examples:
        >>> run = ln.Run(transform=transform).save()
        >>> run.output_artifacts.df()
    """

    __tablename__ = "run"
    _has_branch = True
    _uid_length = 20
    _search_fields = ("name", "reference")

    name: Mapped[str | None] = mapped_column(String(255))
    transform_id: Mapped[int] = mapped_column(ForeignKey("transform.id"), index=True)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(32), default="started", index=True)
    reference: Mapped[str | None] = mapped_column(String(255), index=True)
    reference_type: Mapped[str | None] = mapped_column(String(64))
    params: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    initiated_by_run_id: Mapped[int | None] = mapped_column(
        ForeignKey("run.id", ondelete="SET NULL"), index=True
    )
    # the files documenting the run (LaminDB 2.x): its installed packages, its captured output.
    # An artifact a run points to cannot be deleted (as LaminDB's PROTECT); artifact.run_id
    # points the other way, so these foreign keys are created after both tables
    environment_id: Mapped[int | None] = mapped_column(
        ForeignKey("artifact.id", use_alter=True), index=True
    )
    report_id: Mapped[int | None] = mapped_column(
        ForeignKey("artifact.id", use_alter=True), index=True
    )
    created_at: Mapped[dt.datetime] = created_at_column()
    created_by_id: Mapped[int | None] = created_by_column()

    transform: Mapped[Transform] = relationship(back_populates="runs", foreign_keys=[transform_id])
    environment: Mapped[Artifact | None] = relationship(
        foreign_keys=[environment_id], post_update=True
    )
    report: Mapped[Artifact | None] = relationship(foreign_keys=[report_id], post_update=True)
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    initiated_by_run: Mapped[Run | None] = relationship(
        remote_side="Run.id", foreign_keys=[initiated_by_run_id], back_populates="initiated_runs"
    )
    initiated_runs: Mapped[list[Run]] = relationship(
        back_populates="initiated_by_run", foreign_keys=[initiated_by_run_id]
    )
    input_artifacts: Mapped[list[Artifact]] = relationship(
        secondary=run_input_artifact, back_populates="input_of_runs"
    )
    output_artifacts: Mapped[list[Artifact]] = relationship(
        back_populates="run", foreign_keys="Artifact.run_id"
    )

    def __init__(self, transform: Transform | None = None, **kwargs: Any) -> None:
        if transform is not None:
            kwargs["transform"] = transform
        super().__init__(**kwargs)


def register_storage_and_user(instance: Instance, *, retry: bool = True) -> None:
    """Register the instance's storage root and user (once) and remember their ids on it.

    Raises:
        IntegrityError: the rows cannot be written even after reading what a concurrent
            process registered (a damaged catalog, e.g. without its default space).
    """
    access = instance.access
    try:
        with instance.writing() as session:
            user = session.scalar(sa.select(User).where(User.handle == instance.user_handle))
            if user is None and access.may("user", "INSERT"):
                user = User._create(handle=instance.user_handle, name=instance.user_handle)
                session.add(user)
                session.flush()
            storage = session.scalar(
                sa.select(Storage).where(Storage.root == instance.storage_root)
            )
            if storage is None and access.may("storage", "INSERT"):
                storage = Storage._create(
                    root=instance.storage_root,
                    type=storage_type(instance.storage_root),
                    created_by_id=user.id if user is not None else None,
                )
                session.add(storage)
    except sa.exc.IntegrityError:
        if not retry:
            raise
        # another process registered the same storage or user at the same moment: use theirs
        return register_storage_and_user(instance, retry=False)
    # a role that may not register them reads without: its writes are refused anyway
    instance.user_id = user.id if user is not None else 0
    instance.storage_id = storage.id if storage is not None else 0
