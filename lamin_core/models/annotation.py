"""What artifacts are about: ULabel, Feature and FeatureValue (Schema: models.schema).

Labels are free-form categories; features are typed dimensions (a column of a DataFrame, a key
of ``adata.uns``); feature sets are schemas (the columns of a DataFrame, the genes of an AnnData);
feature values are the dataset-level values of features (``temperature=21.6``). Schemas, the
sets of features a dataset must have, live in `lamin_core.models.schema`.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import JSON, Boolean, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lamin_core.errors import ValidationError
from lamin_core.models.base import Record, created_at_column, created_by_column
from lamin_core.models.can_curate import CanCurate, HasSynonyms
from lamin_core.models.feature_predicate import FeatureComparisons
from lamin_core.models.hierarchy import HasParents
from lamin_core.models.record_types import name_per_type_index, validate_type

if TYPE_CHECKING:
    from lamin_core.models.artifact import Artifact
    from lamin_core.models.schema import Schema


def run_column() -> Mapped[int | None]:
    """Return the `run_id` column: the run that created the record."""
    return mapped_column(ForeignKey("run.id", ondelete="SET NULL"), index=True, sort_order=89)


ulabel_parent = sa.Table(
    "ulabel_parent",
    Record.metadata,
    sa.Column("child_id", ForeignKey("ulabel.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("parent_id", ForeignKey("ulabel.id", ondelete="CASCADE"), primary_key=True),
)


class ULabel(CanCurate, Record, HasParents):
    """A universal label: a free-form category such as a study, a treatment or a project.

    As in LaminDB 1.x, labels are grouped by `type` (a label with ``is_type=True``; its
    ``ulabels`` are the labels of that type) and, for a DAG such as an ontology, by `parents`
    and `children`. As in 2.x, a name identifies a label within its type: ``ULabel(name="Sample",
    type=lab_a)`` is another label than the root ``Sample``, and the constructor returns the
    existing label with the same name and type.

    Examples:
        >>> ln.ULabel.from_values(["DMSO", "IFNG"], create=True).save()
        >>> ln.ULabel.get(name="IFNG")
        >>> split = ln.ULabel(name="Split", is_type=True).save()
        >>> train = ln.ULabel(name="train", type=split).save()
        >>> train.parents.add(ln.ULabel(name="partition").save())
    """

    __tablename__ = "ulabel"
    _has_branch = True
    _natural_keys = (("name", "type"),)
    _optional_key_fields = frozenset({"type"})
    _uid_length = 8
    _search_fields = ("name", "description")

    name: Mapped[str] = mapped_column(String(255), index=True)
    is_type: Mapped[bool] = mapped_column(Boolean, default=False)
    # the label's type (LaminDB's ForeignKey("self", PROTECT)): a type with labels cannot be
    # deleted, so the ORM leaves the labels alone and the database refuses the delete
    type_id: Mapped[int | None] = mapped_column(ForeignKey("ulabel.id"), index=True)
    description: Mapped[str | None] = mapped_column(Text)
    reference: Mapped[str | None] = mapped_column(String(255))
    reference_type: Mapped[str | None] = mapped_column(String(64))
    run_id: Mapped[int | None] = run_column()
    created_at: Mapped[dt.datetime] = created_at_column()
    created_by_id: Mapped[int | None] = created_by_column()

    parents: Mapped[list[ULabel]] = relationship(
        secondary=ulabel_parent,
        primaryjoin="ULabel.id == ulabel_parent.c.child_id",
        secondaryjoin="ULabel.id == ulabel_parent.c.parent_id",
        back_populates="children",
    )
    children: Mapped[list[ULabel]] = relationship(
        secondary=ulabel_parent,
        primaryjoin="ULabel.id == ulabel_parent.c.parent_id",
        secondaryjoin="ULabel.id == ulabel_parent.c.child_id",
        back_populates="parents",
    )
    artifacts: Mapped[list[Artifact]] = relationship(
        secondary="artifact_ulabel", back_populates="ulabels", viewonly=True
    )
    type: Mapped[ULabel | None] = relationship(
        remote_side="ULabel.id", foreign_keys=[type_id], back_populates="ulabels"
    )
    ulabels: Mapped[list[ULabel]] = relationship(
        back_populates="type", foreign_keys=[type_id], passive_deletes="all"
    )

    @sa.orm.validates("type")
    def _validate_type(self, name: str, value: Any) -> Any:
        return validate_type(self, value)


featureset_feature = sa.Table(
    "featureset_feature",
    Record.metadata,
    sa.Column("featureset_id", ForeignKey("featureset.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("feature_id", ForeignKey("feature.id", ondelete="CASCADE"), primary_key=True),
    # a member a dataset may lack (LaminDB 2.x: feature.with_config(optional=True))
    sa.Column("optional", Boolean, nullable=False, default=False, server_default=sa.false()),
    # the member's place in the declared order (schema.members); NULL: after the ordered ones
    sa.Column("position", sa.Integer),
)


class Feature(FeatureComparisons, CanCurate, HasSynonyms, Record):
    """A typed dimension of data: a DataFrame column, an ``obs`` column or an ``uns`` key.

    `dtype` is one of ``str int float num bool date datetime dict``, ``cat[ULabel]``,
    ``cat[bionty.CellType]`` (any biological registry) or ``list[...]`` of those; it may be
    given as a Python type (``float``, ``list[str]``), a label registry (``ln.ULabel``,
    ``bt.CellType``) or one of its fields (``bt.CellType.ontology_id``), stored as the string.
    A categorical feature may restrict its labels with ``cat_filters``, field lookups of the
    label registry (``{"source__uid": "..."}``, ``{"type": sample_type, "is_type": True}``).

    A name is unique within its feature type (`type`): ``sample_name`` under ``ScopeA`` and
    under ``ScopeB`` are two features; the constructor returns the one with the same name and
    type (none given: the one at the root). ``_skip_validation=True`` (LaminDB's private
    flag) skips that lookup.

    Examples:
        >>> ln.Feature(name="temperature", dtype="float").save()
        >>> ln.Feature(name="cell_type", dtype=bt.CellType).save().dtype
        'cat[bionty.CellType]'
    """

    __tablename__ = "feature"
    __table_args__ = (name_per_type_index("feature"),)
    _has_branch = True
    _natural_keys = (("name", "type"),)
    _optional_key_fields = frozenset({"type"})
    _uid_length = 12
    _search_fields = ("name", "description", "synonyms")

    # unique within its type (name_per_type_index), as in LaminDB 2.x
    name: Mapped[str] = mapped_column(String(255))
    # None only for a feature type (is_type=True), which groups features and holds no values
    dtype: Mapped[str | None] = mapped_column(String(255))
    unit: Mapped[str | None] = mapped_column(String(64))
    description: Mapped[str | None] = mapped_column(Text)
    synonyms: Mapped[str | None] = mapped_column(Text)
    is_type: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa.false())
    # the feature type grouping this feature (LaminDB 2.x: ForeignKey("self", PROTECT))
    type_id: Mapped[int | None] = mapped_column(ForeignKey("feature.id"), index=True)
    # whether a column of this feature may hold missing values (None for a feature type)
    nullable: Mapped[bool | None] = mapped_column(Boolean)
    # whether a column is converted to the dtype before it is validated (losslessly)
    coerce: Mapped[bool | None] = mapped_column(Boolean)
    # the conditions a categorical feature's labels meet, e.g. {"source__uid": "..."}; a record
    # given as a value is stored by uid ({"type": t} as {"type__uid": t.uid})
    cat_filters: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    run_id: Mapped[int | None] = run_column()
    created_at: Mapped[dt.datetime] = created_at_column()
    created_by_id: Mapped[int | None] = created_by_column()

    feature_sets: Mapped[list[Schema]] = relationship(
        secondary=featureset_feature, back_populates="features"
    )
    values: Mapped[list[FeatureValue]] = relationship(back_populates="feature")
    type: Mapped[Feature | None] = relationship(
        remote_side="Feature.id", foreign_keys=[type_id], back_populates="features"
    )
    features: Mapped[list[Feature]] = relationship(
        back_populates="type", foreign_keys=[type_id], passive_deletes="all"
    )

    def __init__(self, **kwargs: Any) -> None:
        kwargs = _feature_kwargs(kwargs)
        if not kwargs.get("is_type"):
            kwargs.setdefault("nullable", True)
        super().__init__(**kwargs)

    @classmethod
    def _existing_for_call(cls, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        return super()._existing_for_call(args, _feature_kwargs(kwargs))

    def with_config(self, *, optional: bool | None = None) -> tuple[Feature, dict[str, Any]]:
        """Return this feature with its configuration as a member of a schema (LaminDB 2.x).

        Args:
            optional: The feature may be missing from a dataset the schema validates.

        Examples:
            >>> ln.Schema(features=[sample_id, sample_name.with_config(optional=True)]).save()
        """
        return self, {"optional": optional}

    @sa.orm.validates("type")
    def _validate_type(self, name: str, value: Any) -> Any:
        return validate_type(self, value)


def _feature_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Return Feature arguments with the older name ``coerce_dtype`` read as ``coerce``."""
    if "coerce_dtype" not in kwargs:
        return kwargs
    kwargs = dict(kwargs)
    older = kwargs.pop("coerce_dtype")
    if "coerce" in kwargs and kwargs["coerce"] != older:
        raise ValidationError(
            f"Feature got coerce={kwargs['coerce']!r} and coerce_dtype={older!r}; coerce_dtype "
            "is the older name of coerce: pass only coerce=."
        )
    kwargs["coerce"] = older
    return kwargs


class FeatureValue(Record):
    """A dataset-level value of a feature, shared by the artifacts that have it.

    Examples:
        >>> artifact.features.add_values({"temperature": 21.6})
    """

    __tablename__ = "featurevalue"
    __table_args__ = (sa.UniqueConstraint("feature_id", "hash"),)
    _uid_length = 12
    _search_fields = ()

    feature_id: Mapped[int] = mapped_column(ForeignKey("feature.id", ondelete="CASCADE"))
    value: Mapped[Any] = mapped_column(JSON)
    hash: Mapped[str] = mapped_column(String(64))
    run_id: Mapped[int | None] = run_column()
    created_at: Mapped[dt.datetime] = created_at_column()
    created_by_id: Mapped[int | None] = created_by_column()

    feature: Mapped[Feature] = relationship(back_populates="values")
    artifacts: Mapped[list[Artifact]] = relationship(
        secondary="artifact_featurevalue", back_populates="feature_values", viewonly=True
    )
