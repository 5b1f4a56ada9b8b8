"""Curation against a `ln.Schema` (LaminDB 2.x): which keys a schema makes, and its own rules.

A schema turns into the same keys the 1.x curators validate (the column names against the
schema's itype, each categorical feature's values against its registry, an AnnData's var index
against the ``var.T`` schema's itype), plus the rules only a schema states: required features
(``minimal_set``), no other columns (``maximal_set``), registered features beyond the listed
ones (``flexible``) and dtype coercion (``coerce_dtype``).

Examples:
    >>> curator = ln.curators.DataFrameCurator(df, schema)
    >>> curator.validate()  # raises ValidationError naming the failing columns and values
    >>> curator.cat.standardize("cell_type")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from lamin_core.annotations.cat_filters import cat_filter_condition
from lamin_core.annotations.dtypes import parse_dtype, type_condition, type_record
from lamin_core.curators.columns import coerce_series
from lamin_core.curators.keys import (
    column_key,
    columns_key,
    index_key,
    is_internal_column,
    list_column_key,
)
from lamin_core.errors import (
    InvalidArgument,
    RegistryReferenceError,
    ValidationError,
    did_you_mean,
)
from lamin_core.instance import get_instance
from lamin_core.models import Feature, Schema
from lamin_core.models.registry import parse_reference
from lamin_core.models.schema import feature_type_uid
from lamin_core.query.levels import resolve_by_level

if TYPE_CHECKING:
    from lamin_core.curators.base import BaseCurator

__all__ = [
    "CatManager",
    "CatVector",
    "SlotCurator",
    "add_frame_keys",
    "add_var_key",
    "check_schema",
    "coerce_columns",
    "infer_organism",
    "schema_problems",
]


def check_schema(schema: Any, *, otype: str) -> Schema:
    """Return `schema` if it can validate an object of `otype`, else raise with the fix.

    Raises:
        InvalidArgument: not a Schema.
        ValidationError: a schema for another kind of object.
    """
    if not isinstance(schema, Schema):
        raise InvalidArgument(
            f"The schema argument must be a Schema, got {type(schema).__name__} {schema!r}. "
            "Make one with "
            "ln.Schema(features=[...]) or ln.Schema(otype='AnnData', slots={...})."
        )
    if otype == "AnnData" and not schema.is_composite:
        raise ValidationError(
            "An AnnData is validated against a composite Schema: ln.Schema(otype='AnnData', "
            "slots={'obs': obs_schema, 'var.T': var_schema}); got a schema of "
            f"{schema.itype} identifiers."
        )
    if otype == "AnnData" and schema.otype != "AnnData":
        raise ValidationError(
            f"The Schema describes {schema.otype!r} objects, not AnnData; pass a schema with "
            "otype='AnnData'."
        )
    if otype == "DataFrame" and schema.is_composite:
        raise ValidationError(
            f"A DataFrame is validated against a Schema of features, not a composite "
            f"{schema.otype} schema; pass one of its slots, e.g. schema.slots['obs']."
        )
    return schema


def _itype_field(schema: Schema) -> tuple[Any, str]:
    if feature_type_uid(schema.itype) is not None:
        return Feature, "name"
    try:
        return parse_reference(schema.itype)
    except RegistryReferenceError as error:
        raise ValidationError(
            f"Schema {schema.name or schema.uid!r} has itype {schema.itype!r}, which names no "
            f"registry field: {error.reason}."
        ) from error


def _feature_type_condition(session: Any, schema: Schema) -> list[Any]:
    """Return the condition restricting features to those of the schema's feature type."""
    uid = feature_type_uid(schema.itype)
    if uid is None:
        return []
    feature_type = session.scalars(sa.select(Feature).where(Feature.uid == uid)).first()
    if feature_type is None:
        raise ValidationError(
            f"Schema {schema.name or schema.uid!r} validates against the features of the "
            f"feature type with uid {uid!r}, which is not in the catalog; make the schema "
            "again with an existing feature type."
        )
    return [Feature.__table__.c.type_id == feature_type.id]  # a Core column: see type_condition


def _feature_type(session: Any, schema: Schema) -> Feature | None:
    uid = feature_type_uid(schema.itype)
    if uid is None:
        return None
    return session.scalars(sa.select(Feature).where(Feature.uid == uid)).first()


def add_frame_keys(curator: BaseCurator, schema: Schema) -> None:
    """Give `curator` the keys of a frame (a DataFrame, ``adata.obs``) under `schema`."""
    registry, field = _itype_field(schema)
    frame = curator._frame
    key = columns_key(frame, registry, field)
    key.strict = bool(schema.maximal_set) and schema.n == 0
    names = [str(c) for c in frame.columns]
    declared = list(schema.features) if registry is Feature else []
    by_name = {feature.name: feature for feature in declared}
    registered: dict[str, Feature] = {}
    with get_instance().reading() as session:
        optional = set(schema._optional_uids(session))
        key.conditions = _feature_type_condition(session, schema)
        key.type_record = _feature_type(session, schema)
        if schema.flexible and registry is Feature:
            # the closest level wins; same-named features at one level are reported by the
            # columns key, and the schema's own features win over all of them (below)
            rest = [name for name in names if name not in by_name]
            registered = resolve_by_level(session, Feature, "name", rest, key.conditions).records
        curator._keys["columns"] = key
        known = {**registered, **by_name}
        curator._features = {name: known[name] for name in names if name in known}
        curator._required = (
            # None: an unsaved schema that left minimal_set at its default, True
            [f.name for f in declared if f.uid not in optional]
            if schema.minimal_set is not False
            else []
        )
        curator._ordered = [f.name for f in declared] if schema.ordered_set else None
        curator._allowed = set(known) if schema.maximal_set and declared else None
        curator._coerce = bool(schema.coerce_dtype)
        curator._index_feature = schema.index
        for name, feature in curator._features.items():
            dtype = parse_dtype(feature.dtype)
            if not dtype.is_categorical:
                continue
            label_registry, label_field = dtype.registries[0]
            curator._check_organism(label_registry)
            make_key = list_column_key if dtype.is_list else column_key
            curator._keys[name] = make_key(frame, name, label_registry, label_field, feature)
            curator._keys[name].conditions = [
                *type_condition(session, dtype),
                *cat_filter_condition(session, feature),
            ]
            curator._keys[name].type_record = type_record(session, dtype)


def add_var_key(curator: BaseCurator, adata: Any, schema: Schema) -> None:
    """Give `curator` the key validating an AnnData's var index against `schema`'s itype."""
    registry, field = _itype_field(schema)
    if getattr(registry, "_has_organism", False) and curator._organism is None:
        curator._organism = infer_organism(adata.var_names)
    curator._check_organism(registry)
    key = index_key(adata, "var_index", registry, field)
    key.strict = bool(schema.maximal_set)
    curator._keys["var_index"] = key


def infer_organism(identifiers: Any) -> str | None:
    """Return the organism of Ensembl gene ids (``ENSG`` human, ``ENSMUSG`` mouse), or None."""
    first = next((str(v) for v in identifiers if isinstance(v, str)), "")
    if first.startswith("ENSMUSG"):
        return "mouse"
    if first.startswith("ENSG"):
        return "human"
    return None


def schema_problems(curator: BaseCurator) -> dict[str, str]:
    """Return column -> problem for missing required columns, forbidden extras and the order."""
    names = [str(c) for c in curator._frame.columns if not is_internal_column(str(c))]
    problems = {
        name: (
            f"not in dataframe, but required by the schema. Columns in dataframe: {names}. Add "
            "the column, or make the feature optional: schema.optionals.add(feature)"
        )
        for name in curator._required
        if name not in names
    }
    if curator._allowed is not None:
        for name in names:
            if name not in curator._allowed:
                problems[name] = (
                    "is not in the schema, which allows no other columns (maximal_set); drop "
                    "it or add its feature to the schema"
                )
    ordered = curator._ordered
    if ordered is not None:
        present = [name for name in names if name in ordered]
        expected = [name for name in ordered if name in present]
        if present != expected:
            first = next(a for a, b in zip(present, expected, strict=True) if a != b)
            problems[first] = (
                f"is out of order: the schema orders its columns (ordered_set), expected "
                f"{expected}, got {present}; reorder them, e.g. df = df[{expected}]"
            )
    problems.update(curator._coerce_problems)
    return problems


def coerce_columns(curator: BaseCurator) -> None:
    """Convert the columns whose feature (or the schema) says ``coerce`` to the feature's dtype.

    The converted columns are kept in ``curator._coerced`` (the caller's frame is not
    changed); columns that cannot be converted losslessly are problems of the "columns" key.
    """
    curator._coerce_problems, curator._coerced = {}, {}
    frame = curator._frame
    for name, feature in curator._features.items():
        if not (curator._coerce or feature.coerce):
            continue
        dtype = parse_dtype(feature.dtype)
        converted, problem = coerce_series(frame[name], dtype)
        if problem is not None:
            curator._coerce_problems[name] = (
                f"cannot be coerced to the feature's dtype {dtype.text!r}: {problem}"
            )
        elif converted is not None:
            curator._coerced[name] = converted


class CatManager:
    """The categorical keys of a curator: ``curator.cat.standardize("cell_type")`` and so on.

    Examples:
        >>> curator = ln.curators.DataFrameCurator(df, schema)
        >>> curator.cat.non_validated
        {'cell_type': ['B-cell']}
        >>> curator.cat.standardize("cell_type")
        >>> curator.cat.add_new_from("perturbation")
    """

    def __init__(self, curator: BaseCurator, keys: list[str] | None = None) -> None:
        self._curator = curator
        self._names = keys

    def _check(self, key: str) -> str:
        names = self._names if self._names is not None else list(self._curator._keys)
        if key != "all" and key not in names:
            raise ValidationError(
                f"Unknown key {key!r}.{did_you_mean(key, names)} Keys: {', '.join(names)}, or "
                "'all'."
            )
        return key

    def _each(self, key: str) -> list[str]:
        if key != "all" or self._names is None:
            return [self._check(key)]
        return list(self._names)

    @property
    def non_validated(self) -> dict[str, list[str]]:
        """Key -> values that do not validate (empty when everything does)."""
        found = self._curator.non_validated
        return {k: v for k, v in found.items() if self._names is None or k in self._names}

    def standardize(self, key: str) -> None:
        """Replace synonyms and case variants of a key's values (``"all"``: every key)."""
        for name in self._each(key):
            self._curator.standardize(name)

    def add_new_from(self, key: str, **kwargs: Any) -> None:
        """Register the non-validated values of a key in its registry (``"all"``: every key)."""
        for name in self._each(key):
            self._curator.add_new_from(name, **kwargs)

    def lookup(self, public: bool = False) -> Any:
        """Return the valid values of each key as attributes."""
        return self._curator.lookup(public=public)

    @property
    def _cat_vectors(self) -> dict[str, CatVector]:
        """Key -> a read-only view of its validation state (compatibility view).

        LaminDB's tests read ``curator.cat._cat_vectors["columns"]._validated`` and so on:
        the keys are the curator's (``"columns"`` and each categorical column), the views
        read the curator's latest report of each key.
        """
        names = self._names if self._names is not None else list(self._curator._keys)
        return {name: CatVector(self._curator, name) for name in names}

    def __repr__(self) -> str:
        names = self._names if self._names is not None else list(self._curator._keys)
        return f"CatManager(keys: {', '.join(names)})"


class CatVector:
    """A read-only view of one key's validation state, as LaminDB's ``CatVector`` shows it.

    A compatibility view for code that reads LaminDB's curator internals: ``_validated``,
    ``_non_validated``, ``_synonyms`` and ``records`` (the records of the validated values).
    """

    def __init__(self, curator: BaseCurator, key: str) -> None:
        self._curator, self._key = curator, key

    def _report(self) -> Any:
        curator = self._curator
        report = curator._reports.get(self._key)
        if report is None:
            with get_instance().reading():
                report = curator._reports[self._key] = curator._report(curator._key(self._key))
        return report

    @property
    def _validated(self) -> list[Any]:
        """The values found in the registry (or its public source)."""
        match = self._report().match
        return [*match.validated, *match.from_public]

    @property
    def _non_validated(self) -> list[Any]:
        """The values that do not validate."""
        return list(self._report().non_validated)

    @property
    def _synonyms(self) -> dict[Any, Any]:
        """Non-validated values -> the value `standardize` replaces them with."""
        return dict(self._report().match.synonyms)

    @property
    def records(self) -> list[Any]:
        """The records of the validated values (a column's feature for ``"columns"``)."""
        report = self._report()
        found = dict(report.records)
        missing = [v for v in report.match.validated if v not in found]
        if missing:
            key = report.key
            with get_instance().reading() as session:
                extra = resolve_by_level(session, key.registry, key.field, missing, key.conditions)
            found.update(extra.records)
        return [found[v] for v in report.match.validated if v in found]

    def __repr__(self) -> str:
        return f"CatVector({self._key!r}, validated={len(self._validated)})"


class SlotCurator:
    """One slot of a composite curator (``curator.slots["obs"]``): its keys and their fixes."""

    def __init__(self, curator: BaseCurator, slot: str, keys: list[str]) -> None:
        self.slot = slot
        self.cat = CatManager(curator, keys)

    def __repr__(self) -> str:
        return f"SlotCurator({self.slot!r}, {self.cat!r})"
