"""Fit a filter's value to its field: the type it compares as, the numbers it can hold.

``filter(size__gt=1e4)`` compares an integer column with a float, ``filter(size=2**70)`` with a
number no column holds, ``filter(temperature__lt=2**70)`` a JSON number (a double) with an
integer no driver binds; text may carry a NUL or a lone surrogate. Each value is checked and
converted here before any SQL exists, so both backends answer alike and the database never
sees a value it would refuse.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
from typing import Any

import sqlalchemy as sa

from lamin_core.errors import ValidationError
from lamin_core.errors.values import (
    INT32_RANGE,
    as_python,
    check_finite,
    check_text,
    comparable_number,
)
from lamin_core.query.field_lookups import LOOKUPS, Lookup

__all__ = ["coerce", "expected_type", "fit_integer", "python_type", "transform_range"]


def python_type(sql_type: Any) -> type | None:
    """Return the Python type of a column type (``dict`` for JSON), or None when unknown."""
    if isinstance(sql_type, sa.JSON):
        return dict
    if isinstance(sql_type, sa.TypeDecorator):
        sql_type = sql_type.impl_instance
    try:
        return sql_type.python_type  # type: ignore[no-any-return,unused-ignore]
    except NotImplementedError:
        return None


def transform_range(transform: str) -> tuple[int, int] | None:
    """Return the integers a date part (year, month, day) compares as; None for dates."""
    return None if transform == "date" else INT32_RANGE


_NUMERIC_LOOKUPS = frozenset({"exact", "in", "range", "gt", "gte", "lt", "lte"})


def fit_integer(value: Any, lookup: type[Lookup], bounds: tuple[int, int]) -> tuple[Any, Any]:
    """Rewrite a comparison of an integer column with numbers it cannot hold exactly.

    A float compares as the integers around it (``n_files__gt=2.5`` is ``n_files > 2``), a
    number beyond the column's range as what it means for every value the column can hold
    (``size=2**70`` matches nothing, ``size__lt=2**70`` every size): the database is never asked
    to bind a number its column type cannot hold, and both backends answer alike.

    Args:
        value: The checked value (a number, a list for ``in``, a pair for ``range``).
        lookup: The lookup comparing it.
        bounds: The (min, max) integers the column holds.

    Returns:
        The value and lookup to compare with instead.
    """
    low, high = bounds
    name = lookup.lookup_name
    never = (high, LOOKUPS["gt"])  # column > its maximum: no row
    always = (high, LOOKUPS["lte"])  # column <= its maximum: every row with a value
    if isinstance(value, sa.Select) or name not in _NUMERIC_LOOKUPS:
        return value, lookup
    if name == "in":
        return [
            v if v is None else int(v)
            for v in value
            if v is None or (_is_integral(v) and low <= v <= high)
        ], lookup
    if name == "range":
        first, last = math.ceil(value[0]), math.floor(value[1])
        if first > high or last < low or first > last:
            return never
        return (max(first, low), min(last, high)), lookup
    if value is None:
        return value, lookup
    if name == "exact":
        return (int(value), lookup) if _is_integral(value) and low <= value <= high else never
    # x > 2.5 is x > 2 and x <= 2.5 is x <= 2; x >= 2.5 is x >= 3 and x < 2.5 is x < 3
    number = math.floor(value) if name in ("gt", "lte") else math.ceil(value)
    if number > high:
        return never if name in ("gt", "gte") else always
    if number < low:
        return always if name in ("gt", "gte") else never
    return number, lookup


def _is_integral(value: Any) -> bool:
    return isinstance(value, int) or (
        isinstance(value, (float, decimal.Decimal)) and value % 1 == 0
    )


def expected_type(sql_type: Any, transform: str | None) -> type | None:
    """Return the type a value compared with a column (after a date `transform`) must have."""
    if transform == "date":
        return dt.date
    if transform is not None:
        return int
    return python_type(sql_type)


_TYPE_NAMES = {
    int: "a number",
    float: "a number",
    decimal.Decimal: "a number",
    str: "a string",
    bool: "True or False",
    dt.datetime: "a datetime or an ISO 8601 string",
    dt.date: "a date or an ISO 8601 string",
}


def _number(value: Any, key: str, *, is_double: bool = False) -> Any:
    """Return a finite number for a comparison; for a double (float or JSON) a bindable one.

    Integers beyond a column's range are rewritten by `_fit_integer`, so integer columns keep
    them; compared with a double, they become floats.
    """
    if isinstance(value, decimal.Decimal):
        if not value.is_finite():
            raise ValidationError(f"{key}={value!r}: the catalog compares finite numbers only.")
        return value
    if isinstance(value, float) or is_double:
        return comparable_number(value, key)
    return value


def _scalar_json(value: Any, where: str, key: str) -> Any:
    """Check a value compared with the top-level scalar of a JSON field."""
    if isinstance(value, str):
        return check_text(value, key)
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return _number(value, key, is_double=True)
    raise ValidationError(
        f"{key}={value!r}: {where} is a JSON field and compares its top-level value with a "
        f"string, number or boolean, got {type(value).__name__}."
    )


def coerce(value: Any, expected: type | None, where: str, key: str) -> Any:
    """Return `value` converted to the field's type.

    Args:
        value: The value of a lookup (numpy scalars are taken as Python values).
        expected: The field's Python type (`expected_type`); None when unknown.
        where: The field, for messages (``"Artifact.size"``).
        key: The lookup, for messages (``"size__gt"``).

    Raises:
        ValidationError: the value has another type, is not finite, or is text the catalog
            cannot compare (NUL, lone surrogate).
    """
    value = as_python(value)
    if value is None:
        return value
    if expected is dict:
        return _scalar_json(value, where, key)
    if expected is None:
        if isinstance(value, str):
            return check_text(value, key)
        return check_finite(value, key) if isinstance(value, float) else value
    if expected is bool:
        if isinstance(value, bool) or (isinstance(value, int) and value in (0, 1)):
            return bool(value)
    elif expected in (int, float, decimal.Decimal):
        if isinstance(value, (int, float, decimal.Decimal)) and not isinstance(value, bool):
            return _number(value, key, is_double=expected is float)
    elif expected is str:
        if isinstance(value, str):
            return check_text(value, key)
    elif expected is dt.datetime:
        if isinstance(value, dt.datetime):
            return value
        if isinstance(value, dt.date):
            return dt.datetime(value.year, value.month, value.day, tzinfo=dt.timezone.utc)
        if isinstance(value, str):
            try:
                return dt.datetime.fromisoformat(check_text(value, key))
            except ValueError:
                pass
    elif expected is dt.date:
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(check_text(value, key))
            except ValueError:
                pass
    else:
        return value
    raise ValidationError(
        f"{key}={value!r}: {where} expects {_TYPE_NAMES.get(expected, expected.__name__)}, "
        f"got {type(value).__name__}."
    )
