"""The things a curator validates: columns, categorical columns and the var index.

Each is a `CuratedKey`: a registry field plus a way to read its DISTINCT values from the data
(categories of a pandas Categorical, `pd.unique` otherwise: work proportional to the number of
categories, not of observations) and a way to write a value mapping back in place (what
`standardize` does). Structural problems that no registry can fix (numbers where labels are
expected, a duplicated var index) are found here too.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "CuratedKey",
    "Distinct",
    "column_key",
    "columns_key",
    "distinct",
    "index_key",
    "is_internal_column",
    "list_column_key",
]

SHOW = 10
# LaminDB's bookkeeping columns (a sheet's ``__lamindb_record_uid__``): not features, never
# validated, and allowed by a schema that allows no other columns
_INTERNAL_COLUMN = re.compile(r"^__lamindb_\w+__$")


def is_internal_column(name: str) -> bool:
    """Whether a column is LaminDB's bookkeeping (``__lamindb_record_uid__``), not a feature."""
    return bool(_INTERNAL_COLUMN.match(name))


@dataclass
class Distinct:
    """The distinct non-missing values of a key, how many entries were missing, and problems.

    Attributes:
        values: Distinct values, missing ones (None, NaN, pd.NA) excluded.
        n_missing: Number of missing entries (they are neither validated nor linked).
        problem: A reason the key cannot validate whatever the registry holds, or None.
        bad_values: The values behind `problem` (for reports and `non_validated`).
    """

    values: pd.Index
    n_missing: int = 0
    problem: str | None = None
    bad_values: list[Any] | None = None


@dataclass
class CuratedKey:
    """One thing to validate against a registry field.

    Attributes:
        name: ``"columns"``, ``"var_index"`` or a column name.
        registry: The registry, e.g. ``ln.ULabel``.
        field: The field of the registry, e.g. ``"name"``.
        read: Returns the key's `Distinct` values.
        write: Applies a {value: new value} mapping to the data in place.
        feature: The Feature whose labels these values are (linked on save), or None.
        use_public: Look values up in the registry's public source too.
        strict: Every value must validate. A lenient key (the columns of a schema without
            ``maximal_set``) fails only when none does; the others are left unannotated.
        conditions: SQL conditions a matching record must also meet (the records of a type,
            the features of a feature type).
        type_record: The type those records have; `add_new_from` gives it to new records.
        slot: The slot of a composite schema (``"obs"``, ``"var.T"``) the key validates.
    """

    name: str
    registry: type
    field: str
    read: Callable[[], Distinct]
    write: Callable[[dict[Any, Any]], None]
    feature: Any = None
    use_public: bool = True
    strict: bool = True
    conditions: list[Any] = dataclasses.field(default_factory=list)
    type_record: Any = None  # the type the values' records belong to (set on new records)
    slot: str | None = None  # the slot of a composite schema the key belongs to

    @property
    def place(self) -> str:
        """Where the values are, as LaminDB's messages say: ``feature 'cell_type'``, ``columns in
        slot 'var.T'``."""
        if self.name == "columns" or (self.name == "var_index" and self.slot is not None):
            place = "columns"
        else:
            place = f"feature {self.name!r}" if self.feature is not None else repr(self.name)
        return place if self.slot is None else f"{place} in slot {self.slot!r}"

    @property
    def label(self) -> str:
        """The registry field, e.g. ``"Gene.symbol"`` or ``"Record.name of type 'Samples'"``."""
        scope = "" if self.type_record is None else f" of type {self.type_record.name!r}"
        return f"{self.registry.__name__}.{self.field}{scope}"


def _is_text_field(registry: type, field: str) -> bool:
    column = registry.__table__.c[field]  # type: ignore[attr-defined]
    try:
        return column.type.python_type is str
    except NotImplementedError:
        return False


def distinct(values: pd.Series | pd.Index) -> tuple[pd.Index, int]:
    """Return (distinct non-missing values, number of missing entries) without a Python loop."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        categorical = values.array if isinstance(values, pd.Index) else values.cat
        codes = np.asarray(categorical.codes)
        counts = np.bincount(codes + 1, minlength=len(categorical.categories) + 1)
        present = np.flatnonzero(counts[1:])
        return pd.Index(categorical.categories.take(present), dtype=object), int(counts[0])
    uniques = pd.unique(values.to_numpy())
    missing = pd.isna(uniques)
    n_missing = int(pd.isna(values).sum()) if missing.any() else 0
    return pd.Index(uniques[~missing], dtype=object), n_missing


def _non_text(name: str, values: pd.Index, dtype: Any, label: str) -> tuple[str, list[Any]] | None:
    bad = [v for v in values if not isinstance(v, str)]
    if not bad:
        return None
    shown = ", ".join(repr(v) for v in bad[:SHOW])
    kind = "numbers" if all(isinstance(v, (int, float, np.number)) for v in bad) else "non-text"
    return (
        f"{name!r} holds {kind} ({dtype}: {shown}) but {label} takes text labels; cast with "
        f".astype(str) if they are labels, or leave {name!r} out of categoricals",
        bad,
    )


def column_key(
    frame: pd.DataFrame, column: str, registry: type, field: str, feature: Any = None
) -> CuratedKey:
    """Return the key validating the values of a DataFrame (or ``obs``) column."""
    label = f"{registry.__name__}.{field}"

    def read() -> Distinct:
        series = frame[column]
        values, n_missing = distinct(series)
        result = Distinct(values, n_missing)
        if _is_text_field(registry, field):
            dtype = (
                series.dtype.categories.dtype
                if hasattr(series.dtype, "categories")
                else series.dtype
            )
            found = _non_text(column, values, dtype, label)
            if found is not None:
                result.problem, result.bad_values = found
        return result

    def write(mapper: dict[Any, Any]) -> None:
        series = frame[column]
        if isinstance(series.dtype, pd.CategoricalDtype):
            categories = series.cat.categories
            renamed = categories.map(lambda v: mapper.get(v, v))
            if renamed.is_unique:
                frame[column] = series.cat.rename_categories(list(renamed))
            else:  # two spellings of one term: merge their categories
                frame[column] = pd.Categorical(series.map(lambda v: mapper.get(v, v)))
        else:
            frame[column] = series.map(mapper).fillna(series)

    return CuratedKey(column, registry, field, read, write, feature)


def list_column_key(
    frame: pd.DataFrame, column: str, registry: type, field: str, feature: Any = None
) -> CuratedKey:
    """Return the key validating the items of a column of lists (a ``list[cat[...]]`` feature).

    Cells that are not lists are left to the column's dtype check; standardizing maps the
    items inside each list.
    """
    label = f"{registry.__name__}.{field}"

    def read() -> Distinct:
        items = [
            item
            for cell in frame[column]
            if isinstance(cell, (list, tuple, np.ndarray))
            for item in cell
        ]
        values, n_missing = distinct(pd.Series(items, dtype=object))
        result = Distinct(values, n_missing)
        if _is_text_field(registry, field):
            found = _non_text(column, values, "list items", label)
            if found is not None:
                result.problem, result.bad_values = found
        return result

    def write(mapper: dict[Any, Any]) -> None:
        frame[column] = frame[column].map(
            lambda cell: (
                [mapper.get(item, item) for item in cell]
                if isinstance(cell, (list, tuple, np.ndarray))
                else cell
            )
        )

    return CuratedKey(column, registry, field, read, write, feature)


def columns_key(frame: pd.DataFrame, registry: type, field: str) -> CuratedKey:
    """Return the key validating the column names of a DataFrame (or ``obs``) as features."""

    def read() -> Distinct:
        names = [str(c) for c in frame.columns if not is_internal_column(str(c))]
        values = pd.Index(names, dtype=object)
        result = Distinct(values.unique())
        if values.has_duplicates:
            duplicated = values[values.duplicated()].unique().tolist()
            result.problem = f"duplicated column names: {', '.join(map(repr, duplicated))}"
            result.bad_values = duplicated
        return result

    def write(mapper: dict[Any, Any]) -> None:
        frame.rename(columns=mapper, inplace=True)

    return CuratedKey("columns", registry, field, read, write, use_public=False)


def index_key(owner: Any, name: str, registry: type, field: str) -> CuratedKey:
    """Return the key validating an AnnData's ``var`` index (``owner.var_names``)."""

    def read() -> Distinct:
        index = owner.var_names
        values, n_missing = distinct(index)
        result = Distinct(values, n_missing)
        if index.has_duplicates:
            duplicated = index[index.duplicated()].unique().tolist()
            shown = ", ".join(map(repr, duplicated[:SHOW]))
            result.problem = (
                f"{name!r} has duplicated values ({shown}); make them unique, e.g. with "
                "adata.var_names_make_unique(), or aggregate the duplicated genes"
            )
            result.bad_values = duplicated
        return result

    def write(mapper: dict[Any, Any]) -> None:
        owner.var_names = pd.Index([mapper.get(v, v) for v in owner.var_names])

    return CuratedKey(name, registry, field, read, write)
