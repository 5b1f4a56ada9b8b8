"""The rules a value must follow to be stored in, or compared with, the catalog.

SQLite and PostgreSQL disagree on what they accept: PostgreSQL refuses NUL characters in text and
integers beyond a column's width, SQLite stores them; neither can encode a lone surrogate; JSON
has no ``inf`` or ``NaN``, yet Python's `json` writes them and only PostgreSQL then refuses the
document (SQLite keeps it, and every later query on it fails). Checking values here, before any
SQL runs, gives both backends the same answer and a message that names the field and the value.

One module serves every layer that takes values: the registries (every column of every record,
by the column's type), feature values, filters and search strings. It imports nothing of
lamin_core but the errors, so the lowest layers can use it.

Examples:
    >>> check_text("a\\x00b", "ULabel.name")
    Traceback (most recent call last):
    lamin_core.errors.ValidationError: ULabel.name: 'a\\x00b' contains a NUL character ...
    >>> json_value({"a": (1, 2.5)}, "Run.params")
    {'a': [1, 2.5]}
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping
from typing import Any

import sqlalchemy as sa

from lamin_core.errors import ValidationError

__all__ = [
    "INT32_RANGE",
    "INT64_RANGE",
    "as_python",
    "check_finite",
    "check_integer",
    "check_text",
    "check_values_on_set",
    "column_check",
    "comparable_number",
    "integer_range",
    "is_valid_text",
    "json_value",
]

INT16_RANGE = (-(2**15), 2**15 - 1)
INT32_RANGE = (-(2**31), 2**31 - 1)
INT64_RANGE = (-(2**63), 2**63 - 1)
# nesting deeper than this is almost certainly a cycle or a mistake, and would exhaust the stack
MAX_JSON_DEPTH = 100
_SHOWN = 60  # characters of a long value shown in a message


def shown(value: Any) -> str:
    """Return ``repr(value)``, shortened for a message when it is long."""
    text = repr(value)
    return text if len(text) <= _SHOWN else f"{text[: _SHOWN - 5]}...{text[-3:]}"


def is_valid_text(value: str) -> bool:
    """Whether the catalog can store and compare `value`: no NUL, no lone surrogate."""
    if "\x00" in value:
        return False
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_text(value: str, what: str) -> str:
    """Return `value` if the catalog can store and compare it, else raise a ValidationError.

    Args:
        value: The text.
        what: What the text is, for the message (``"ULabel.name"``, ``"key__contains"``).

    Raises:
        ValidationError: `value` contains a NUL character or a lone surrogate.
    """
    if "\x00" in value:
        raise ValidationError(
            f"{what}: {shown(value)} contains a NUL character ('\\x00'), which the catalog cannot "
            "store or compare (PostgreSQL text refuses it). Remove it, e.g. "
            "value.replace('\\x00', '')."
        )
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as error:
            raise ValidationError(
                f"{what}: {shown(value)} is not valid Unicode text: the lone surrogate "
                f"{value[error.start]!r} at position {error.start} cannot be encoded. Decode the "
                "source with errors='replace', or remove the character."
            ) from None
    return str(value)  # str subclasses (numpy.str_) as plain str: every driver adapts those


def check_finite(value: float, what: str) -> float:
    """Return `value` if it is a finite float, else raise a ValidationError naming `what`."""
    if not math.isfinite(value):
        raise ValidationError(
            f"{what}: {value!r} is not a finite number. The catalog stores and compares finite "
            "numbers only (JSON has no inf or NaN); leave the value out, or store None or a "
            "string such as 'inf'."
        )
    return float(value)


def comparable_number(value: int | float, what: str) -> int | float:
    """Return a number every driver can bind in a comparison with a double or a JSON number.

    Floats must be finite; integers beyond 64 bits become floats (compared as doubles anyway).

    Raises:
        ValidationError: ``inf``/``NaN``, or an integer too large even for a float.
    """
    if isinstance(value, float):
        return check_finite(value, what)
    if not INT64_RANGE[0] <= value <= INT64_RANGE[1]:
        try:
            return float(value)
        except OverflowError:
            raise ValidationError(f"{what}: {shown(value)} is too large to compare.") from None
    return value


def integer_range(sql_type: Any) -> tuple[int, int] | None:
    """Return the (min, max) integers a column type holds on every backend; None if no integer.

    ``Integer`` is 32 bits on PostgreSQL, so it is 32 bits here for SQLite too: a value that
    fits one backend fits the other.
    """
    if isinstance(sql_type, sa.TypeDecorator):
        sql_type = sql_type.impl_instance
    if isinstance(sql_type, sa.BigInteger):
        return INT64_RANGE
    if isinstance(sql_type, sa.SmallInteger):
        return INT16_RANGE
    if isinstance(sql_type, sa.Integer):
        return INT32_RANGE
    return None


def as_python(value: Any) -> Any:
    """Return a numpy scalar as the Python value it holds (anything else unchanged)."""
    item = getattr(value, "item", None)
    if item is not None and type(value).__module__ == "numpy" and getattr(value, "ndim", 1) == 0:
        return item()
    return value


def check_integer(value: Any, what: str, bounds: tuple[int, int] = INT64_RANGE) -> int:
    """Return `value` as an int within `bounds`, or raise a ValidationError."""
    value = as_python(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValidationError(
            f"{what} expects an integer, got {type(value).__name__} {shown(value)}."
        )
    low, high = bounds
    if not low <= value <= high:
        raise ValidationError(
            f"{what}: {value} is out of range; the catalog stores integers from {low} to {high} "
            "here."
        )
    return int(value)


def json_value(value: Any, what: str) -> Any:
    """Return `value` as the JSON document the catalog stores, or raise a ValidationError.

    Numpy scalars and arrays become Python numbers and lists, tuples become lists. Numbers must
    be finite (integers within 64 bits), text valid (no NUL, no lone surrogate), keys strings.

    Args:
        value: A JSON-like value: None, bool, number, string, list, tuple or mapping of them.
        what: What the value is, for the message (``"Run.params"``, ``"feature 'temperature'"``).

    Raises:
        ValidationError: the value, or a value nested in it, cannot be stored as JSON; the
            message names where (``Run.params['a'][2]``).
    """
    return _json(value, what, 0)


def _json(value: Any, where: str, depth: int) -> Any:
    if depth > MAX_JSON_DEPTH:
        raise ValidationError(
            f"{where}: nested more than {MAX_JSON_DEPTH} levels deep (a cycle?); the catalog "
            "stores JSON documents of reasonable depth."
        )
    value = as_python(value)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return check_integer(value, where)
    if isinstance(value, float):
        return check_finite(value, where)
    if isinstance(value, str):
        return check_text(value, where)
    if isinstance(value, Mapping):
        result = {}
        for key, item in value.items():
            key = as_python(key)
            if not isinstance(key, str):
                raise ValidationError(
                    f"{where}: the key {shown(key)} is a {type(key).__name__}; JSON object keys "
                    f"are strings. Use {str(key)!r} instead."
                )
            check_text(key, f"{where} (a key)")
            result[key] = _json(item, f"{where}[{key!r}]", depth + 1)
        return result
    if isinstance(value, (list, tuple)) or type(value).__name__ == "ndarray":
        return [_json(item, f"{where}[{i}]", depth + 1) for i, item in enumerate(value)]
    raise ValidationError(
        f"{where}: {shown(value)} is a {type(value).__name__}, which is not JSON-serialisable. "
        "Use None, a bool, a number, a string, or lists and dicts of them (dates as "
        "value.isoformat())."
    )


def _type_error(what: str, expected: str, value: Any) -> ValidationError:
    return ValidationError(f"{what} expects {expected}, got {type(value).__name__} {shown(value)}.")


def column_check(column: sa.ColumnElement[Any]) -> Callable[[Any, str], Any]:
    """Return the function that checks (and normalises) values for a column, by its type.

    The function takes ``(value, what)`` and returns the value to store: Python numbers for
    numpy ones, plain str for str subclasses, a JSON document for JSON columns. None passes
    (NOT NULL is the database's to enforce). SQL expressions pass unchanged.

    Raises (from the returned function):
        ValidationError: the value has the wrong type for the column, is too long, out of
            range, not finite, or not storable text.
    """
    sql_type = column.type
    if isinstance(sql_type, sa.TypeDecorator):
        sql_type = sql_type.impl_instance
    check: Callable[[Any, str], Any]
    if isinstance(sql_type, sa.JSON):
        check = json_value
    elif isinstance(sql_type, sa.Boolean):
        check = _check_bool
    elif isinstance(sql_type, sa.Integer):
        bounds = integer_range(sql_type) or INT64_RANGE

        def check(value: Any, what: str) -> Any:
            return check_integer(value, what, bounds)

    elif isinstance(sql_type, sa.Numeric):
        check = _check_number
    elif isinstance(sql_type, sa.String):
        length = sql_type.length

        def check(value: Any, what: str) -> Any:
            return _check_string(value, what, length)

    elif isinstance(sql_type, sa.DateTime):
        check = _check_datetime
    elif isinstance(sql_type, sa.Date):
        check = _check_date
    else:

        def check(value: Any, what: str) -> Any:
            return value

    def checked(value: Any, what: str) -> Any:
        if value is None or isinstance(value, sa.ClauseElement):
            return value
        return check(value, what)

    return checked


def _check_bool(value: Any, what: str) -> bool:
    value = as_python(value)
    if not isinstance(value, bool):
        raise _type_error(what, "True or False", value)
    return value


def _check_number(value: Any, what: str) -> float | int:
    value = as_python(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _type_error(what, "a number", value)
    if isinstance(value, int):
        return check_integer(value, what)
    return check_finite(value, what)


def _check_string(value: Any, what: str, length: int | None) -> str:
    if not isinstance(value, str):
        raise _type_error(what, "a string", value)
    value = check_text(value, what)
    if length is not None and len(value) > length:
        raise ValidationError(
            f"{what}: {shown(value)} has {len(value)} characters; the limit is {length}. Use a "
            "shorter value."
        )
    return value


def _check_datetime(value: Any, what: str) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        raise _type_error(what, "a datetime", value)
    return value


def _check_date(value: Any, what: str) -> dt.date:
    if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
        raise _type_error(what, "a date", value)
    return value


def check_values_on_set(base: type) -> None:
    """Check every value assigned to a column of `base`'s mapped subclasses, by column type.

    Registries defined later are covered too: the checks are attached as each mapper is
    configured, before its first record is made. ``ULabel(name=5)`` and ``artifact.size = 2**70``
    raise a ValidationError naming the field, the expected type and the value, before anything
    reaches a session.
    """

    def attach(mapper: sa.orm.Mapper[Any], cls: type) -> None:
        for attribute in mapper.column_attrs:
            if len(attribute.columns) != 1:
                continue
            check = column_check(attribute.columns[0])
            what = f"{cls.__name__}.{attribute.key}"
            sa.event.listen(getattr(cls, attribute.key), "set", _on_set(check, what), retval=True)

    sa.event.listen(base, "mapper_configured", attach, propagate=True)


def _on_set(check: Callable[[Any, str], Any], what: str) -> Callable[..., Any]:
    def on_set(_target: Any, value: Any, _old: Any, _initiator: Any) -> Any:
        return check(value, what)

    return on_set
