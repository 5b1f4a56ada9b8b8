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

import pandas as pd
import sqlalchemy as sa

from lamin_core.annotations.dtypes import DType, parse_dtype
from lamin_core.curators.keys import column_key, columns_key, index_key
from lamin_core.errors import (
    InvalidArgument,
    RegistryReferenceError,
    ValidationError,
    did_you_mean,
)
from lamin_core.instance import get_instance
from lamin_core.models import Feature, Schema
from lamin_core.models.registry import parse_reference

if TYPE_CHECKING:
    from lamin_core.curators.base import BaseCurator

__all__ = [
    "CatManager",
    "SlotCurator",
    "add_frame_keys",
    "add_var_key",
    "check_schema",
    "coerce_columns",
    "infer_organism",
    "schema_problems",
]

# pandas dtypes a column is converted to under coerce_dtype, by feature dtype
_COERCE = {"int": "int64", "float": "float64", "num": "float64", "bool": "bool", "str": "str"}


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
    try:
        return parse_reference(schema.itype)
    except RegistryReferenceError as error:
        raise ValidationError(
            f"Schema {schema.name or schema.uid!r} has itype {schema.itype!r}, which names no "
            f"registry field: {error.reason}."
        ) from error


def add_frame_keys(curator: BaseCurator, schema: Schema) -> None:
    """Give `curator` the keys of a frame (a DataFrame, ``adata.obs``) under `schema`."""
    registry, field = _itype_field(schema)
    frame = curator._frame
    key = columns_key(frame, registry, field)
    key.strict = bool(schema.maximal_set) and schema.n == 0
    curator._keys["columns"] = key
    names = [str(c) for c in frame.columns]
    declared = list(schema.features) if registry is Feature else []
    by_name = {feature.name: feature for feature in declared}
    registered: dict[str, Feature] = {}
    if schema.flexible and registry is Feature:
        with get_instance().reading() as session:
            rows = session.scalars(sa.select(Feature).where(Feature.name.in_(names)))
            registered = {feature.name: feature for feature in rows}
    known = {**registered, **by_name}
    curator._features = {name: known[name] for name in names if name in known}
    curator._required = [f.name for f in declared] if schema.minimal_set else []
    curator._allowed = set(known) if schema.maximal_set and declared else None
    curator._coerce = bool(schema.coerce_dtype)
    for name, feature in curator._features.items():
        dtype = parse_dtype(feature.dtype)
        if dtype.is_categorical and not dtype.is_list:
            label_registry, label_field = dtype.registries[0]
            curator._check_organism(label_registry)
            curator._keys[name] = column_key(frame, name, label_registry, label_field, feature)


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
    """Return column -> problem for required columns that are missing and forbidden extras."""
    names = [str(c) for c in curator._frame.columns]
    problems = {
        name: "required by the schema but missing"
        for name in curator._required
        if name not in names
    }
    if curator._allowed is not None:
        for name in names:
            if name not in curator._allowed:
                problems[name] = "not in the schema, which allows no other columns (maximal_set)"
    problems.update(curator._coerce_problems)
    return problems


def coerce_columns(curator: BaseCurator) -> None:
    """Convert the columns of non-categorical features to their dtype, in place.

    Columns that cannot be converted are recorded as problems of the "columns" key.
    """
    curator._coerce_problems = {}
    frame = curator._frame
    for name, feature in curator._features.items():
        dtype = parse_dtype(feature.dtype)
        target = _target(dtype)
        if target is None or _fits(frame[name], dtype):
            continue
        try:
            if target == "datetime":
                frame[name] = pd.to_datetime(frame[name])
            else:
                frame[name] = frame[name].astype(target)  # type: ignore[call-overload]
        except (ValueError, TypeError) as error:
            curator._coerce_problems[name] = (
                f"cannot be coerced to the feature's dtype {dtype.text!r} ({error})"
            )


def _target(dtype: DType) -> str | None:
    if dtype.is_list or dtype.is_categorical:
        return None
    if dtype.base in ("date", "datetime"):
        return "datetime"
    return _COERCE.get(dtype.base)


def _fits(series: pd.Series, dtype: DType) -> bool:
    kinds = {"int": "iu", "float": "f", "num": "iuf", "bool": "b", "str": "OSU"}
    kinds["date"] = kinds["datetime"] = "M"
    return series.dtype.kind in kinds.get(dtype.base, "")


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

    def __repr__(self) -> str:
        names = self._names if self._names is not None else list(self._curator._keys)
        return f"CatManager(keys: {', '.join(names)})"


class SlotCurator:
    """One slot of a composite curator (``curator.slots["obs"]``): its keys and their fixes."""

    def __init__(self, curator: BaseCurator, slot: str, keys: list[str]) -> None:
        self.slot = slot
        self.cat = CatManager(curator, keys)

    def __repr__(self) -> str:
        return f"SlotCurator({self.slot!r}, {self.cat!r})"
