"""Schema (formerly FeatureSet): the features a dataset has, or must have to validate.

One registry serves both roles, as in LaminDB 2.x. A curator records the columns it found as a
schema identified by the hash of its members; a user declares a validation contract with
constraints (``flexible``, ``minimal_set``, ``maximal_set``, ``coerce_dtype``) and, for
composite objects such as AnnData, component schemas by slot (``{"obs": ..., "var.T": ...}``).
Schemas are identified by a hash of what they require, so declaring the same schema twice (a
notebook re-run) returns the saved one. `FeatureSet` remains the older name of the class.

Examples:
    >>> schema = ln.Schema(features=[ln.Feature(name="temperature", dtype=float).save()]).save()
    >>> ln.Schema(otype="AnnData", slots={"obs": schema, "var.T": ln.Schema(itype=bt.Gene)})
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING, Any, ClassVar

import sqlalchemy as sa
from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.orm.attributes import set_committed_value

from lamin_core.errors import RegistryReferenceError, ValidationError, did_you_mean
from lamin_core.models.annotation import Feature, featureset_feature, run_column
from lamin_core.models.base import Record, created_at_column, created_by_column, log_reuse
from lamin_core.models.can_curate import CanCurate
from lamin_core.models.registry import parse_reference, reference_text, registry_named
from lamin_core.models.schema_members import (
    SchemaOptionals,
    member_order,
    member_rows,
    members_queryset,
    split_configs,
)
from lamin_core.storage.hashing import hash_bytes, set_hash

if TYPE_CHECKING:
    from lamin_core.models.artifact import Artifact

__all__ = [
    "COMPOSITE",
    "FEATURE_TYPE_ITYPE",
    "SLOTS",
    "Schema",
    "artifact_schema",
    "feature_type_uid",
    "schema_component",
    "schema_hash",
]

COMPOSITE = "Composite"  # the itype of a schema made of slots
SLOTS = {"AnnData": ("obs", "var", "var.T")}  # the slots a composite schema may have, by otype
_FLAGS = ("minimal_set", "maximal_set", "flexible", "coerce_dtype")
# the itype of a schema validated against the features of a feature type
FEATURE_TYPE_ITYPE = re.compile(r"^Feature\[(?P<uid>[A-Za-z0-9]+)\]$")

schema_component = sa.Table(
    "schema_component",
    Record.metadata,
    sa.Column("composite_id", ForeignKey("featureset.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("slot", String(64), primary_key=True),
    # a component in use cannot be deleted: the composite would lose a slot silently
    sa.Column("component_id", ForeignKey("featureset.id"), nullable=False, index=True),
)

# the schema an artifact was validated against (LaminDB's artifact.schema), at most one
artifact_schema = sa.Table(
    "artifact_schema",
    Record.metadata,
    sa.Column("artifact_id", ForeignKey("artifact.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("schema_id", ForeignKey("featureset.id"), nullable=False, index=True),
)


def schema_hash(
    member_uids: list[str],
    *,
    itype: str,
    dtype: str | None = None,
    minimal_set: bool = True,
    maximal_set: bool = False,
    flexible: bool = False,
    coerce_dtype: bool = False,
    slots: dict[str, str] | None = None,
    index: str | None = None,
    ordered_set: bool = False,
    optionals: list[str] | None = None,
) -> str:
    """Return the identity of a schema: what it requires, not its name or description.

    A plain set of features (every constraint at its default) hashes as the set of its member
    uids, so a declared schema and the column set a curator recorded for the same features are
    one record.

    Args:
        member_uids: The uids of the features.
        itype: The identifier type (``"Feature"``, ``"bionty.Gene.ensembl_gene_id"``).
        dtype: The dtype shared by all members, if any.
        minimal_set, maximal_set, flexible, coerce_dtype: The constraints.
        slots: For a composite: slot -> the component's hash.
        index: The uid of the feature the index is validated as, if any.
        ordered_set: The members must come in the order of `member_uids`.
        optionals: The uids of the members a dataset may lack.
    """
    is_plain = (
        itype == "Feature"
        and dtype is None
        and minimal_set
        and not (maximal_set or flexible or coerce_dtype or slots or index)
        and not (ordered_set or optionals)
    )
    if is_plain and member_uids:
        return set_hash(member_uids)
    parts = [
        f"members={set_hash(member_uids) if member_uids else ''}",
        f"itype={itype}",
        f"dtype={dtype}",
        *(
            f"{flag}={value}"
            for flag, value in zip(_FLAGS, (minimal_set, maximal_set, flexible, coerce_dtype))
        ),
        *(f"slot:{slot}={component}" for slot, component in sorted((slots or {}).items())),
        # absent when unset: the hashes of schemas made before these existed stay the same
        *([f"index={index}"] if index else []),
        *([f"order={','.join(member_uids)}"] if ordered_set else []),
        *([f"optionals={set_hash(optionals)}"] if optionals else []),
    ]
    return hash_bytes("|".join(parts).encode())


def _itype_text(itype: Any) -> str:
    """Return the canonical text of an identifier type given as a registry, a field or text."""
    if itype is None:
        return "Feature"
    if isinstance(itype, Feature):  # a feature type: its features are the identifiers
        if not itype.is_type or itype.id is None:
            state = "not saved" if itype.id is None else "not a feature type (is_type=False)"
            raise _itype_error(
                itype.name,
                f"the Feature is {state}",
                " Save a feature type, ln.Feature(name=..., is_type=True).save(), and pass it.",
            )
        return f"Feature[{itype.uid}]"
    if isinstance(itype, str) and FEATURE_TYPE_ITYPE.match(itype):
        return itype
    if isinstance(itype, str):
        try:
            return reference_text(*parse_reference(itype))
        except RegistryReferenceError as error:
            raise _itype_error(itype, error.reason, error.hint) from error
    if isinstance(itype, type):
        registry, field = itype, None
    elif isinstance(getattr(itype, "class_", None), type) and isinstance(
        getattr(itype, "key", None), str
    ):  # a field such as bt.Gene.ensembl_gene_id
        registry, field = itype.class_, itype.key
    else:
        raise _itype_error(itype, f"not a registry, a field or text ({type(itype).__name__})")
    if registry_named(registry.__name__) is not registry:
        raise _itype_error(itype, f"{registry.__name__} is not a registry of the catalog")
    return reference_text(registry, field)


def _itype_error(itype: Any, reason: str, hint: str = "") -> ValidationError:
    return ValidationError(
        f"Invalid itype {itype!r} for a Schema: {reason}.{hint} Pass the registry or field the "
        "identifiers are validated against, e.g. itype=ln.Feature (the default), "
        "itype=bt.Gene.ensembl_gene_id or itype='bionty.Gene.symbol'."
    )


def feature_type_uid(itype: str | None) -> str | None:
    """Return the uid of the feature type an itype ``Feature[<uid>]`` names, or None."""
    match = FEATURE_TYPE_ITYPE.match(itype or "")
    return match.group("uid") if match else None


def _check_index(index: Any) -> Feature | None:
    if index is None:
        return None
    if not isinstance(index, Feature) or index.id is None or index.is_type:
        raise ValidationError(
            f"A Schema's index is a saved ln.Feature (not a feature type) the DataFrame index "
            f"is validated as, got {type(index).__name__} {index!r}. Pass e.g. "
            "index=ln.Feature(name='sample_id', dtype=str).save()."
        )
    return index


def _check_features(features: Any) -> tuple[list[Feature], list[Feature]]:
    """Return the declared features and those of them configured optional."""
    if features is None:
        return [], []
    if isinstance(features, (str, bytes, Record)) or not hasattr(features, "__iter__"):
        raise ValidationError(
            f"Schema features must be a list of ln.Feature records, got "
            f"{type(features).__name__} {features!r}. Wrap a single feature in a list."
        )
    checked, optionals = split_configs(list(features))
    for feature in checked:
        if not isinstance(feature, Feature):
            raise ValidationError(
                f"Schema features must be ln.Feature records, got {type(feature).__name__} "
                f"{feature!r}. Make one with ln.Feature(name=..., dtype=...).save(); for a set of "
                "genes pass itype=bt.Gene.<field> instead."
            )
        if feature.id is None:
            raise ValidationError(
                f"Feature {feature.name!r} is not saved; save it before using it in a Schema: "
                f"ln.Feature(name={feature.name!r}, dtype={feature.dtype!r}).save()."
            )
    members = list({feature.id: feature for feature in checked}.values())
    return members, list({feature.id: feature for feature in optionals}.values())


def _check_slots(slots: Any, otype: Any) -> dict[str, Schema]:
    if not slots:
        return {}
    if not isinstance(slots, dict):
        raise ValidationError(
            f"Schema slots must be a dict of slot name -> ln.Schema, e.g. "
            f"{{'obs': obs_schema, 'var.T': var_schema}}; got {type(slots).__name__} {slots!r}."
        )
    if otype is None:
        raise ValidationError(
            "A Schema with slots is composite and needs the type of object it describes: pass "
            "otype='AnnData'."
        )
    allowed = SLOTS.get(otype)
    if allowed is None:
        raise ValidationError(
            f"A Schema of otype {otype!r} has no slots; composite schemas are for: "
            f"{', '.join(SLOTS)}. Pass features=[...] for a DataFrame."
        )
    for slot, component in slots.items():
        if slot not in allowed:
            raise ValidationError(
                f"Unknown slot {slot!r} for a Schema of otype {otype!r}."
                f"{did_you_mean(str(slot), allowed)} Slots: {', '.join(allowed)} ('var.T' "
                "validates the var index, 'var' the var columns)."
            )
        if not isinstance(component, Schema):
            raise ValidationError(
                f"Slot {slot!r} of a Schema must be a ln.Schema, got {type(component).__name__} "
                f"{component!r}. Make one with ln.Schema(features=[...]) or ln.Schema(itype=...)."
            )
        if component.itype == COMPOSITE:
            raise ValidationError(f"Slot {slot!r} is a composite Schema; slots cannot nest.")
    return dict(slots)


def _dtype_text(dtype: Any) -> str | None:
    if dtype is None or isinstance(dtype, str):
        return dtype
    if dtype in (int, float, str, bool):
        return dtype.__name__
    raise ValidationError(
        f"Invalid Schema dtype {dtype!r}: the dtype shared by all members is one of int, float, "
        "'num', str, bool."
    )


class _Declared:
    """A Schema's arguments, normalised: the columns, the features and the slots."""

    def __init__(self, features: Any, kwargs: dict[str, Any]) -> None:
        self.features, self.optionals = _check_features(features)
        self.slots = _check_slots(kwargs.pop("slots", None), kwargs.get("otype"))
        if "coerce" in kwargs:  # LaminDB 2.x's name of coerce_dtype
            coerce = kwargs.pop("coerce")
            if kwargs.get("coerce_dtype") not in (None, coerce):
                raise ValidationError(
                    f"Schema got coerce={coerce!r} and coerce_dtype={kwargs['coerce_dtype']!r}; "
                    "coerce is the 2.x name of coerce_dtype: pass only coerce=."
                )
            kwargs["coerce_dtype"] = coerce
        self.index = _check_index(kwargs.pop("index", None))
        if self.index is not None:
            kwargs["index_feature_id"] = self.index.id
        given_itype = "itype" in kwargs
        itype = COMPOSITE if self.slots else _itype_text(kwargs.pop("itype", None))
        if self.features and itype != "Feature" and not FEATURE_TYPE_ITYPE.match(itype):
            raise ValidationError(
                f"A Schema of features has itype 'Feature', not {itype!r}; leave itype out or "
                "pass itype=ln.Feature."
            )
        self.columns = dict(kwargs)
        self.columns["itype"] = itype
        if "dtype" in kwargs:
            self.columns["dtype"] = _dtype_text(kwargs["dtype"])
        if "flexible" not in kwargs or kwargs["flexible"] is None:
            # without features the schema is defined by its itype: any such identifier is taken
            self.columns["flexible"] = not self.features and not self.slots and given_itype
        if self.features:
            self.columns.setdefault("n", len(self.features))
            self.columns["features"] = self.features
        # identified by content when it has any and no hash is given (legacy rows pass one)
        self.is_hashed = "hash" not in kwargs and bool(self.features or self.slots or given_itype)
        if self.is_hashed:
            self.columns["hash"] = self.hash()

    def flag(self, name: str) -> Any:
        default: Any = sa.inspect(Schema).columns[name].default
        return self.columns.get(name, getattr(default, "arg", None))

    def hash(self) -> str:
        return schema_hash(
            [feature.uid for feature in self.features],
            itype=self.columns["itype"],
            dtype=self.columns.get("dtype"),
            minimal_set=bool(self.flag("minimal_set")),
            maximal_set=bool(self.flag("maximal_set")),
            flexible=bool(self.flag("flexible")),
            coerce_dtype=bool(self.flag("coerce_dtype")),
            slots={slot: component._identity() for slot, component in self.slots.items()},
            index=self.index.uid if self.index is not None else None,
            ordered_set=bool(self.flag("ordered_set")),
            optionals=[feature.uid for feature in self.optionals],
        )


class Schema(CanCurate, Record):
    """A schema: the features of a dataset, or the features a dataset must have to validate.

    Args:
        features: Saved ``ln.Feature`` records the dataset has (required by default); a
            member given as ``feature.with_config(optional=True)`` may be missing from the
            dataset (see `optionals`).
        itype: The registry field that identifiers are validated against when there are no
            features, e.g. ``ln.Feature`` (columns must be registered features) or
            ``bt.Gene.ensembl_gene_id`` (the var index of an AnnData); or a feature type
            (``ln.Feature(name=..., is_type=True)``): columns are validated against the
            features of that type.
        flexible: Also validate and annotate columns that are registered features but not in
            `features` (default: False with features, True with only an itype).
        minimal_set: Every feature in `features` must be present (default True).
        maximal_set: No column outside `features` may be present (default False).
        ordered_set: The columns of `features` must come in the order given (default False).
        coerce_dtype: Convert columns to their feature's dtype before checking (default False);
            ``coerce=`` is LaminDB 2.x's name, and ``schema.coerce`` reads it.
        index: A Feature the DataFrame index is validated as.
        otype: The type of object described: ``"DataFrame"``, ``"AnnData"``.
        slots: For a composite object, slot -> component Schema, e.g.
            ``{"obs": obs_schema, "var.T": var_schema}`` for an AnnData.
        name: A name.
        description: A description.

    Examples:
        >>> temperature = ln.Feature(name="temperature", dtype=float).save()
        >>> cell_type = ln.Feature(name="cell_type", dtype=bt.CellType).save()
        >>> obs = ln.Schema(features=[temperature, cell_type], name="obs").save()
        >>> adata_schema = ln.Schema(
        ...     otype="AnnData", slots={"obs": obs, "var.T": ln.Schema(itype=bt.Gene.symbol)}
        ... ).save()
        >>> ln.Artifact.from_anndata(adata, key="my.h5ad", schema=adata_schema).save()
    """

    __tablename__ = "featureset"
    _has_branch = True
    _uid_length = 20
    _search_fields = ("name", "itype")
    # `registry` is reserved by SQLAlchemy's declarative base; queries accept it as an alias.
    _field_aliases: ClassVar[dict[str, str]] = {"registry": "itype", "coerce": "coerce_dtype"}
    _natural_keys = (("hash",),)

    name: Mapped[str | None] = mapped_column(String(255))
    n: Mapped[int] = mapped_column(Integer, default=0)
    dtype: Mapped[str | None] = mapped_column(String(64))
    itype: Mapped[str] = mapped_column(String(128), default="Feature")
    hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    run_id: Mapped[int | None] = run_column()
    created_at: Mapped[dt.datetime] = created_at_column()
    created_by_id: Mapped[int | None] = created_by_column()
    description: Mapped[str | None] = mapped_column(Text)
    otype: Mapped[str | None] = mapped_column(String(64))
    minimal_set: Mapped[bool] = mapped_column(Boolean, default=True, server_default=sa.true())
    maximal_set: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa.false())
    flexible: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa.false())
    coerce_dtype: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa.false())
    ordered_set: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa.false())
    # the feature the index of a DataFrame is validated as (LaminDB 2.x: Schema(index=...))
    index_feature_id: Mapped[int | None] = mapped_column(ForeignKey("feature.id"), index=True)

    # in the declared order: `features.add()` gives new members the next positions
    features: Mapped[list[Feature]] = relationship(
        secondary=featureset_feature, back_populates="feature_sets", order_by=member_order()
    )
    artifacts: Mapped[list[Artifact]] = relationship(
        secondary="artifact_featureset", back_populates="feature_sets", viewonly=True
    )
    validated_artifacts: Mapped[list[Artifact]] = relationship(
        secondary=artifact_schema, back_populates="schema", viewonly=True
    )
    index: Mapped[Feature | None] = relationship(foreign_keys=[index_feature_id])

    def __init__(self, features: Any = None, **kwargs: Any) -> None:
        declared = _Declared(features, kwargs)
        members = declared.columns.pop("features", [])
        super().__init__(**declared.columns)
        # the members are written by save(); set without events, an unsaved schema does not
        # enter the saved features' `feature_sets` (where every flush would warn about it)
        set_committed_value(self, "features", members)
        self._pending_optionals: list[Feature] | None = declared.optionals
        self._pending_slots = declared.slots
        self._is_hashed = declared.is_hashed

    @classmethod
    def _existing_for_call(cls, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Return the saved schema with the same hash as the declared one, or None."""
        if len(args) > 1:
            raise ValidationError(
                f"Schema takes one positional argument (features), got {len(args)}; pass the "
                "others by keyword (itype=, slots=, name=, ...)."
            )
        declared = _Declared(
            args[0] if args else kwargs.get("features"),
            {k: v for k, v in kwargs.items() if k != "features"},
        )
        if not declared.is_hashed:
            return None if args else cls._existing_record(kwargs)
        fields, existing = cls._find_existing({"hash": declared.columns["hash"]})
        if fields is None or existing is None:
            return None
        log_reuse(existing, fields)
        for name in ("name", "description", "otype"):
            value = kwargs.get(name)
            if value is not None and getattr(existing, name) != value:
                setattr(existing, name, value)
        return existing

    @property
    def coerce(self) -> bool | None:
        """Whether columns are converted to their features' dtypes (2.x's name of coerce_dtype).

        None when the schema does not coerce, as in LaminDB 2.x (a feature's own ``coerce``
        then decides).
        """
        return True if self.coerce_dtype else None

    def _identity(self) -> str:
        """Return what identifies this schema inside a composite: its hash, else its uid."""
        return self.hash or self.uid

    @property
    def slots(self) -> dict[str, Schema]:
        """The component schemas of a composite schema, by slot (empty for others)."""
        pending = getattr(self, "_pending_slots", None)
        if pending or self.id is None:
            return dict(pending or {})
        session = self._instance().session
        link = schema_component.c
        rows = session.execute(
            sa.select(link.slot, Schema)
            .join(Schema, Schema.id == link.component_id)
            .where(link.composite_id == self.id)
            .order_by(link.slot)
        ).all()
        return {slot: component for slot, component in rows}

    @property
    def is_composite(self) -> bool:
        """Whether the schema is made of slots (an AnnData schema) rather than features."""
        return self.itype == COMPOSITE

    @property
    def optionals(self) -> SchemaOptionals:
        """The members a dataset may lack: ``.get()``, ``.set([...])``, ``.add()``, ``.remove()``.

        Examples:
            >>> schema.optionals.get().to_list("name")
            ['sample_name']
        """
        return SchemaOptionals(self)

    @property
    def members(self) -> Any:
        """The features of the schema as a QuerySet, in the order they were declared.

        Raises:
            ValidationError: the schema is not saved.
        """
        if self.id is None:
            raise ValidationError(
                f"Schema {self.name!r} is not saved; save it before reading its members."
            )
        return members_queryset(self)

    def add(self, features: Feature | list[Feature]) -> None:
        """Add features to the schema as required members, after the others; written at once.

        The schema's hash follows its new members.

        Raises:
            ValidationError: a feature is not saved, or the schema is not saved.
        """
        if self.id is None:
            raise ValidationError(
                f"Schema {self.name!r} is not saved; declare its features in "
                "ln.Schema(features=[...]) or save it before schema.add()."
            )
        self.features.add(*(features if isinstance(features, list) else [features]))  # type: ignore[attr-defined]

    def _describe_members(self) -> list[str]:
        """Return the lines ``describe()`` shows for the members: in order, optional ones marked."""
        rows = member_rows(self._instance().session, self.id)
        lines = [
            f"    {name} ({dtype}{', optional' if optional else ''})"
            for _, name, dtype, optional in rows
        ]
        return ["  members:", *lines] if lines else []

    def _member_rows(self, session: sa.orm.Session) -> list[tuple[str, bool]]:
        """Return (uid, optional) of each member feature, in the declared order."""
        return [(uid, bool(optional)) for uid, _, _, optional in member_rows(session, self.id)]

    def _content_hash(
        self,
        member_uids: list[str],
        slots: dict[str, str] | None = None,
        optionals: list[str] | None = None,
    ) -> str:
        """Return `schema_hash` of these members (and slots) under this schema's constraints."""
        return schema_hash(
            member_uids,
            itype=self.itype,
            dtype=self.dtype,
            minimal_set=bool(self.minimal_set is not False),
            maximal_set=bool(self.maximal_set),
            flexible=bool(self.flexible),
            coerce_dtype=bool(self.coerce_dtype),
            slots=slots,
            index=self.index.uid if self.index is not None else None,
            ordered_set=bool(self.ordered_set),
            optionals=optionals,
        )

    def _rehash(self) -> None:
        """Recompute n and the hash of a schema identified by its content, before writing."""
        if not getattr(self, "_is_hashed", False):
            return
        features = list(self.features)
        slots = self.slots
        self.n = len(features)
        self.hash = self._content_hash(
            [feature.uid for feature in features],
            slots={slot: component._identity() for slot, component in slots.items()},
            optionals=self._optional_uids(self._instance().session),
        )

    def _optional_uids(self, session: sa.orm.Session) -> list[str]:
        """Return the uids of the optional members, declared (unsaved schema) or saved."""
        pending = getattr(self, "_pending_optionals", None)
        if pending is None and self.id is not None:
            return [uid for uid, is_optional in self._member_rows(session) if is_optional]
        return [feature.uid for feature in pending or []]

    def save(self) -> Schema:
        """Write the schema with its features and component schemas; return it.

        Unsaved component schemas are saved with it, in one transaction; the members keep
        their declared order and which of them are optional.

        Raises:
            IntegrityError: another schema with the same content was saved meanwhile.
        """
        instance = self._instance()
        pending = getattr(self, "_pending_slots", None) or {}
        with instance.writing() as session:
            saved = {slot: component.save() for slot, component in pending.items()}
            self._pending_slots = saved
            self._rehash()
            members: list[Feature] = []
            if self.id is None:  # the members as changes of the new record: link rows
                members = list(self.features)
                set_committed_value(self, "features", [])
                self.features = members
            super().save()
            if members:
                self._write_member_config(session, members)
            link = schema_component.c
            for slot, component in saved.items():
                exists = session.scalar(
                    sa.select(link.component_id).where(
                        link.composite_id == self.id, link.slot == slot
                    )
                )
                if exists is None:
                    session.execute(
                        schema_component.insert(),
                        {"composite_id": self.id, "slot": slot, "component_id": component.id},
                    )
        self._pending_slots = {}
        self._pending_optionals = None
        return self

    def _write_member_config(self, session: sa.orm.Session, members: list[Feature]) -> None:
        """Write the declared position of each new member and whether it is optional."""
        optional_ids = {feature.id for feature in getattr(self, "_pending_optionals", None) or []}
        link = featureset_feature.c
        session.execute(
            featureset_feature.update()
            .where(link.featureset_id == self.id, link.feature_id == sa.bindparam("member"))
            .values(position=sa.bindparam("place"), optional=sa.bindparam("is_optional")),
            [
                {"member": f.id, "place": place, "is_optional": f.id in optional_ids}
                for place, f in enumerate(members)
            ],
        )

    @classmethod
    def _save_many(cls, records: Any) -> None:
        """Save schemas one by one: each with its members and component schemas."""
        for record in records:
            record.save()

    def _after_links_changed(self, session: sa.orm.Session) -> None:
        """Recount the members after ``schema.features.add(...)`` and the like.

        A schema identified by its members (`hash` set, as the curators make them) gets the hash
        of its new members, with its constraints.
        """
        uids: list[str] = []
        for relation in sa.inspect(type(self)).relationships:
            if relation.viewonly or relation.secondary is None:
                continue  # features and genes: the members
            ((_own, local),) = relation.synchronize_pairs
            ((member_id, remote),) = relation.secondary_synchronize_pairs or ()
            member_uid = relation.mapper.local_table.c.uid
            ids = sa.select(remote).where(local == self.id)
            uids += session.scalars(sa.select(member_uid).where(member_id.in_(ids))).all()
        self.n = len(uids)
        if self.hash is None:
            return
        if self.itype != "Feature":  # a gene set: the set of its members, as curators made it
            self.hash = set_hash(uids)
            return
        rows = self._member_rows(session)  # in order: an ordered set hashes its order
        self.hash = self._content_hash(
            [uid for uid, _ in rows], optionals=[uid for uid, optional in rows if optional]
        )


FeatureSet = Schema  # the name before LaminDB 2.x, for existing code
