"""The checks of one column against its feature: missing values, list cells, and coercion.

A feature says whether its column may hold missing values (``nullable``), whether cells are
lists (``list[...]``) and whether the column may be converted to the dtype first (``coerce``,
or the schema's ``coerce``). Conversion is lossless or refused: ``"1"`` and ``1.0`` become the
integer 1, ``1.1`` does not. Coerced columns are kept apart from the caller's DataFrame, which
stays as it was; the saved artifact holds the coerced values.

Examples:
    >>> coerce_series(pd.Series(["1", 2.0]), parse_dtype("int"))
    (0    1
    1    2
    dtype: int64, None)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from lamin_core.annotations.dtypes import DType
from lamin_core.errors import ValidationError

__all__ = ["COERCIBLE", "KINDS", "coerce_series", "column_problem", "is_missing", "missing_count"]

SHOW = 5
# the numpy kinds a column of each dtype may have without conversion
KINDS = {"int": "iu", "float": "iuf", "num": "iuf", "bool": "b", "str": "OSU", "date": "MOSU"}
KINDS["datetime"] = KINDS["date"]
KINDS["url"] = KINDS["path"] = KINDS["str"]
COERCIBLE = ("int", "float", "date", "datetime")  # the dtypes `coerce` converts to


def _is_many(value: Any) -> bool:
    return isinstance(value, (list, tuple, np.ndarray))


def is_missing(value: Any) -> bool:
    """Whether a cell is null-like: None, NaN, NaT or pd.NA (a list cell is never missing)."""
    if _is_many(value):
        return False
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def missing_count(series: pd.Series) -> int:
    """Return the number of null-like cells of a column."""
    if series.dtype.kind != "O":
        return int(series.isna().sum())
    return int(sum(is_missing(value) for value in series))


def _shown(values: list[Any]) -> str:
    more = f", ... ({len(values)} in all)" if len(values) > SHOW else ""
    return ", ".join(repr(v) for v in values[:SHOW]) + more


def _list_problem(series: pd.Series, dtype: DType) -> str | None:
    """Return why the cells of a ``list[...]`` column are not all lists of the dtype, or None."""
    scalars = [v for v in series if not _is_many(v) and not is_missing(v)]
    if scalars:
        return (
            f"the feature has dtype {dtype.text!r}, so every cell is a list, but "
            f"{len(scalars)} cells are not: {_shown(scalars)}; wrap them in a list"
        )
    if dtype.is_categorical:
        return None  # the values are validated against the registry by the column's key
    items = [item for cell in series if _is_many(cell) for item in cell]
    kinds = KINDS.get(dtype.base)
    if kinds is None:
        return None
    wrong = [
        item
        for item in items
        if (not is_missing(item) and np.asarray(item).dtype.kind not in kinds)
        or (dtype.base in ("int", "float", "num") and isinstance(item, (bool, np.bool_)))
    ]
    if wrong:
        return (
            f"the feature has dtype {dtype.text!r}, but its lists hold {len(wrong)} other "
            f"values: {_shown(wrong)}"
        )
    return None


def column_problem(
    series: pd.Series,
    dtype: DType,
    feature: Any,
    *,
    ints_as_floats: bool = True,
    is_index: bool = False,
) -> str | None:
    """Return why a column does not fit its feature (missing values, cells, dtype), or None.

    Args:
        series: The column.
        dtype: The feature's parsed dtype.
        feature: The feature (its ``name`` and ``nullable``).
        ints_as_floats: Take an integer column for a float feature (the 1.x curators do);
            LaminDB 2.x's schema curators do not: such a column needs ``coerce``.
        is_index: The series is the DataFrame's index, and the dtype message names it so.
    """
    if feature.nullable is False:
        n_missing = missing_count(series)
        if n_missing:
            return (
                f"non-nullable series {feature.name!r} contains null values: the column has "
                f"{n_missing} missing values (None, NaN or pd.NA), but the feature is not "
                "nullable (nullable=False); fill them or drop those rows, or allow them with "
                "feature.nullable = True"
            )
    if dtype.is_list:
        return _list_problem(series, dtype)
    if dtype.base in ("dict", "cat"):
        return None
    if dtype.base == "float" and not ints_as_floats and series.dtype.kind in "iu":
        return (
            f"the feature has dtype 'float', but the column holds {series.dtype}; convert it "
            "with df[column].astype(float), or set feature.coerce = True (or the schema's "
            "coerce=True) to convert it during validation"
        )
    if series.dtype.kind in KINDS[dtype.base]:
        return _value_problem(series, dtype)
    if series.dtype.kind == "O" and series.map(is_missing).all():
        return None  # an empty or all-missing column has no values to be of another dtype
    return _dtype_mismatch(series, dtype, feature.name, is_index=is_index)


# the pandas dtypes that hold a dtype's values beside missing ones
NULLABLE = {"int": "Int64", "bool": "boolean", "float": "float64", "str": "string"}


def _dtype_mismatch(series: pd.Series, dtype: DType, name: str, *, is_index: bool) -> str:
    """Say that a column (or the index) is not of its feature's dtype, in LaminDB's words, and
    how to fix it."""
    kind, values = ("index", "df.index") if is_index else ("series", f"df[{name!r}]")
    if series.dtype.kind == "O":
        found = (
            f"{'Index' if is_index else 'Column'} {name!r} failed dtype check for "
            f"{dtype.text!r}: got {series.dtype}"
        )
    else:
        found = f"expected {kind} {name!r} to have type {dtype.text}, got {series.dtype}"
    fixes = []
    if dtype.base in NULLABLE:
        fixes.append(f"{values}.astype({NULLABLE[dtype.base]!r})")
    if dtype.base in COERCIBLE:
        fixes.append("coerce=True on the feature or the schema")
    return f"{found}; convert it with {' or '.join(fixes)}" if fixes else found


def _value_problem(series: pd.Series, dtype: DType) -> str | None:
    """Return which text cells are not of a text dtype's form (a URL, a path), or None."""
    if dtype.base not in ("url", "path"):
        return None
    wrong = []
    for value in series:
        if is_missing(value):
            continue
        try:
            dtype.check("", value)
        except ValidationError:
            wrong.append(value)
    if not wrong:
        return None
    return f"the feature has dtype {dtype.text!r}, but {len(wrong)} cells are not: {_shown(wrong)}"


def _lossy(original: pd.Series, numbers: pd.Series) -> list[Any]:
    present = numbers.notna()
    fraction = numbers[present] % 1 != 0
    return original[present][fraction.to_numpy()].tolist()


def coerce_series(series: pd.Series, dtype: DType) -> tuple[pd.Series | None, str | None]:
    """Convert a column to `dtype` without losing information.

    Only numbers and dates are converted (`COERCIBLE`, as LaminDB 2.x): a str, bool or num
    column must hold its dtype already, since turning 1 into "1" or True is a guess.

    Returns:
        (the converted column, None); (None, None) when the column needs no conversion or
        its dtype is not converted; (None, the reason) when a value cannot be converted
        exactly.
    """
    if dtype.base not in COERCIBLE or dtype.is_list or series.dtype.kind in _NATIVE[dtype.base]:
        return None, None
    missing = series.map(is_missing)
    if dtype.base in ("int", "float", "num"):
        if series.dtype.kind == "b":
            return None, f"holds booleans, which are not numbers of dtype {dtype.text!r}"
        numbers = pd.to_numeric(series, errors="coerce")
        failed = series[numbers.isna() & ~missing].tolist()
        if failed:
            return None, f"cannot convert {_shown(failed)} to numbers"
        lossy = _lossy(series, numbers) if dtype.base == "int" else []
        if lossy:
            return None, f"cannot convert {_shown(lossy)} to integers without losing digits"
        if dtype.base == "int":
            return numbers.astype("Int64" if missing.any() else "int64"), None
        return numbers.astype("float64"), None
    try:
        moments = pd.to_datetime(series)
    except (ValueError, TypeError) as error:
        return None, f"cannot convert to dates ({error})"
    if dtype.base == "date":  # calendar dates (datetime.date; a parquet date32 column)
        return moments.dt.date.where(moments.notna(), None), None
    return moments, None


# the numpy kinds that need no conversion to each dtype
_NATIVE = {"int": "iu", "float": "f", "num": "iuf", "bool": "b", "str": "OSU", "dict": "O"}
_NATIVE.update({"url": "OSU", "path": "OSU"})
_NATIVE.update({"date": "M", "datetime": "M", "cat": ""})
