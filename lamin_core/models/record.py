"""`Record`: LaminDB 2.x's general record, for entities that have no registry of their own.

Samples, experiments, compounds or donors become records; a record with ``is_type=True`` is a
type that groups others (``experiment = Record(name="Experiment", is_type=True)``), and
parents/children build hierarchies. A record type may carry a `schema`, the features of its
records (the rows of a sheet); ``cat_filters={"schema": schema}`` on a feature then admits only
the types with that schema. Records label artifacts like ulabels do (``cat[Record]``
features, ``artifact.records.add(...)``) and link to transforms, collections and runs.

The class is called `Record` as in LaminDB 2.x; the base class of all registries keeps its name
`lamin_core.models.base.Record` (2.x's ``SQLRecord``), which this module imports as `SQLRecord`.

Examples:
    >>> experiment = ln.Record(name="Experiment", is_type=True).save()
    >>> exp1 = ln.Record(name="Experiment 1", type=experiment).save()
    >>> artifact.records.add(exp1)
    >>> ln.Artifact.filter(records__name="Experiment 1").df()
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Boolean, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lamin_core.errors import ValidationError
from lamin_core.models.annotation import run_column
from lamin_core.models.base import Record as SQLRecord
from lamin_core.models.base import created_at_column, created_by_column
from lamin_core.models.can_curate import CanCurate
from lamin_core.models.hierarchy import HasParents
from lamin_core.models.project import link_registries, parent_table
from lamin_core.models.record_types import validate_type
from lamin_core.models.schema import Schema

__all__ = ["Record"]

record_parent = parent_table("record")


class Record(CanCurate, SQLRecord, HasParents):
    """A general record: a sample, an experiment, a donor, typed by another record.

    Examples:
        >>> sample_type = ln.Record(name="Sample", is_type=True).save()
        >>> s1 = ln.Record(name="S1", type=sample_type, description="first sample").save()
        >>> s1.parents.add(ln.Record(name="Donor 7").save())
        >>> artifact.records.add(s1)
    """

    __tablename__ = "record"
    _has_branch = True
    # a name identifies a record within its type (LaminDB 2.x); no type: the root level
    _natural_keys = (("name", "type"),)
    _optional_key_fields = frozenset({"type"})
    _uid_length = 16
    _search_fields = ("name", "description")

    name: Mapped[str | None] = mapped_column(String(255), index=True)
    is_type: Mapped[bool] = mapped_column(Boolean, default=False)
    type_id: Mapped[int | None] = mapped_column(ForeignKey("record.id"), index=True)
    description: Mapped[str | None] = mapped_column(Text)
    reference: Mapped[str | None] = mapped_column(String(255))
    reference_type: Mapped[str | None] = mapped_column(String(64))
    run_id: Mapped[int | None] = run_column()
    created_at: Mapped[dt.datetime] = created_at_column()
    created_by_id: Mapped[int | None] = created_by_column()
    # the schema of a record type (LaminDB 2.x's Record.schema): the features of its records
    schema_id: Mapped[int | None] = mapped_column(
        ForeignKey("featureset.id", ondelete="SET NULL"), index=True
    )

    schema: Mapped[Schema | None] = relationship(foreign_keys=[schema_id])
    type: Mapped[Record | None] = relationship(
        remote_side="Record.id", foreign_keys=[type_id], back_populates="records"
    )
    records: Mapped[list[Record]] = relationship(
        back_populates="type", foreign_keys=[type_id], passive_deletes="all"
    )
    parents: Mapped[list[Record]] = relationship(
        secondary=record_parent,
        primaryjoin="Record.id == record_parent.c.child_id",
        secondaryjoin="Record.id == record_parent.c.parent_id",
        back_populates="children",
    )
    children: Mapped[list[Record]] = relationship(
        secondary=record_parent,
        primaryjoin="Record.id == record_parent.c.parent_id",
        secondaryjoin="Record.id == record_parent.c.child_id",
        back_populates="parents",
    )

    @sa.orm.validates("type")
    def _validate_type(self, name: str, value: Any) -> Any:
        return validate_type(self, value)

    @sa.orm.validates("schema")
    def _validate_schema(self, name: str, value: Any) -> Any:
        if value is not None and (not isinstance(value, Schema) or value.id is None):
            state = "an unsaved Schema" if isinstance(value, Schema) else type(value).__name__
            raise ValidationError(
                f"The schema of Record {self.name!r} must be a saved ln.Schema, got {state} "
                f"{value!r}. Save it first: ln.Schema(features=[...]).save()."
            )
        return value


link_registries(Record, with_feature=True)
