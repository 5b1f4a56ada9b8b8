"""Field lookups: one small class per comparison, registered by name (Django style).

``ln.Artifact.filter(size__gt=1e4)`` resolves ``gt`` to `GreaterThan` here. A lookup turns a
left-hand SQL expression and an already-validated value into a boolean SQL expression. Values are
always bound parameters; for the LIKE-based lookups, ``%`` and ``_`` in the value are escaped so
that a user's string is matched literally.

On SQLite, whose LIKE ignores case and limits patterns to 50,000 bytes, the same lookups
compile to ``instr()`` and ``substr()`` instead (see `DialectSwitch`).

Examples:
    >>> import sqlalchemy as sa
    >>> from sqlalchemy.dialects import postgresql
    >>> condition = get_lookup("icontains").as_sql(sa.column("key", sa.String), "100%")
    >>> print(condition.compile(dialect=postgresql.dialect()))
    lower(key) LIKE lower(%(param_1)s::VARCHAR) ESCAPE '\\'
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from lamin_core.errors import FieldError, did_you_mean
from lamin_core.instance.regex import check_regex
from lamin_core.query.sql import (
    LIKE_ESCAPE,
    MANY_VALUES,
    DialectSwitch,
    InValues,
    RegexMatch,
    escape_like,
)

__all__ = ["LOOKUPS", "TRANSFORMS", "Lookup", "check_regex", "get_lookup", "register_lookup"]

LOOKUPS: dict[str, type[Lookup]] = {}
# transforms apply to a datetime column before a lookup: created_at__year__gte=2024
TRANSFORMS = ("year", "month", "day", "date")


def register_lookup(cls: type[Lookup]) -> type[Lookup]:
    """Register a lookup class under its `lookup_name` (usable as a decorator)."""
    LOOKUPS[cls.lookup_name] = cls
    return cls


def get_lookup(name: str) -> type[Lookup]:
    """Return the lookup class called `name`.

    Raises:
        FieldError: no lookup has that name; the message suggests the closest one.
    """
    try:
        return LOOKUPS[name]
    except KeyError:
        raise FieldError(
            f"Unknown lookup {name!r}.{did_you_mean(name, LOOKUPS)} Lookups: {', '.join(LOOKUPS)}."
        ) from None


class Lookup:
    """A comparison between an SQL expression and a value.

    Subclasses set `lookup_name` and implement `as_sql`. `value_shape` tells how the value is
    validated: ``"scalar"`` (one value of the field's type), ``"many"`` (an iterable of them),
    ``"pair"`` (two of them), ``"bool"``, ``"text"`` (a string, whatever the field's type).
    """

    lookup_name: ClassVar[str]
    value_shape: ClassVar[str] = "scalar"
    # lookups that only make sense on text fields
    text_only: ClassVar[bool] = False

    @classmethod
    def as_sql(cls, lhs: ColumnElement[Any], value: Any) -> ColumnElement[bool]:
        """Return the boolean SQL expression comparing `lhs` with `value`."""
        raise NotImplementedError


@register_lookup
class Exact(Lookup):
    lookup_name = "exact"

    @classmethod
    def as_sql(cls, lhs: ColumnElement[Any], value: Any) -> ColumnElement[bool]:
        return lhs.is_(None) if value is None else lhs == value


@register_lookup
class IExact(Lookup):
    lookup_name = "iexact"
    text_only = True

    @classmethod
    def as_sql(cls, lhs: ColumnElement[Any], value: Any) -> ColumnElement[bool]:
        if value is None:
            return lhs.is_(None)
        return sa.func.lower(lhs) == sa.func.lower(sa.literal(value, sa.String()))


def _lower(value: Any) -> Any:
    return sa.func.lower(sa.literal(value, sa.String()))


def _like(lhs: ColumnElement[Any], pattern: str, *, case_insensitive: bool) -> ColumnElement[bool]:
    if case_insensitive:
        return sa.func.lower(lhs).like(
            sa.func.lower(sa.literal(pattern, sa.String())), escape=LIKE_ESCAPE
        )
    return lhs.like(pattern, escape=LIKE_ESCAPE)


@register_lookup
class Contains(Lookup):
    lookup_name = "contains"
    text_only = True

    @classmethod
    def as_sql(cls, lhs: ColumnElement[Any], value: Any) -> ColumnElement[bool]:
        # SQLite's LIKE ignores case, so the case-sensitive test there is instr()
        return DialectSwitch(
            _like(lhs, f"%{escape_like(value)}%", case_insensitive=False),
            sqlite=sa.func.instr(lhs, sa.literal(value, sa.String())) > 0,
        )


@register_lookup
class IContains(Lookup):
    lookup_name = "icontains"
    text_only = True

    @classmethod
    def as_sql(cls, lhs: ColumnElement[Any], value: Any) -> ColumnElement[bool]:
        # on SQLite, instr(): no LIKE pattern length limit (50,000 bytes)
        return DialectSwitch(
            _like(lhs, f"%{escape_like(value)}%", case_insensitive=True),
            sqlite=sa.func.instr(sa.func.lower(lhs), _lower(value)) > 0,
        )


@register_lookup
class StartsWith(Lookup):
    lookup_name = "startswith"
    text_only = True

    @classmethod
    def as_sql(cls, lhs: ColumnElement[Any], value: Any) -> ColumnElement[bool]:
        literal = sa.literal(value, sa.String())
        return DialectSwitch(
            _like(lhs, f"{escape_like(value)}%", case_insensitive=False),
            sqlite=sa.func.substr(lhs, 1, sa.func.length(literal)) == literal,
        )


@register_lookup
class IStartsWith(Lookup):
    lookup_name = "istartswith"
    text_only = True

    @classmethod
    def as_sql(cls, lhs: ColumnElement[Any], value: Any) -> ColumnElement[bool]:
        literal = sa.literal(value, sa.String())
        return DialectSwitch(
            _like(lhs, f"{escape_like(value)}%", case_insensitive=True),
            sqlite=sa.func.lower(sa.func.substr(lhs, 1, sa.func.length(literal))) == _lower(value),
        )


@register_lookup
class EndsWith(Lookup):
    lookup_name = "endswith"
    text_only = True

    @classmethod
    def as_sql(cls, lhs: ColumnElement[Any], value: Any) -> ColumnElement[bool]:
        literal = sa.literal(value, sa.String())
        return DialectSwitch(
            _like(lhs, f"%{escape_like(value)}", case_insensitive=False),
            sqlite=sa.and_(
                sa.func.length(lhs) >= sa.func.length(literal),
                sa.func.substr(lhs, -sa.func.length(literal)) == literal,
            ),
        )


@register_lookup
class IEndsWith(Lookup):
    lookup_name = "iendswith"
    text_only = True

    @classmethod
    def as_sql(cls, lhs: ColumnElement[Any], value: Any) -> ColumnElement[bool]:
        literal = sa.literal(value, sa.String())
        return DialectSwitch(
            _like(lhs, f"%{escape_like(value)}", case_insensitive=True),
            sqlite=sa.and_(
                sa.func.length(lhs) >= sa.func.length(literal),
                sa.func.lower(sa.func.substr(lhs, -sa.func.length(literal))) == _lower(value),
            ),
        )


@register_lookup
class In(Lookup):
    lookup_name = "in"
    value_shape = "many"

    @classmethod
    def as_sql(cls, lhs: ColumnElement[Any], value: Any) -> ColumnElement[bool]:
        if isinstance(value, sa.Select):
            return lhs.in_(value)
        values = list(value)
        has_none = None in values
        values = [v for v in values if v is not None]
        condition = InValues(lhs, values) if len(values) > MANY_VALUES else lhs.in_(values)
        return sa.or_(condition, lhs.is_(None)) if has_none else condition


@register_lookup
class GreaterThan(Lookup):
    lookup_name = "gt"

    @classmethod
    def as_sql(cls, lhs: ColumnElement[Any], value: Any) -> ColumnElement[bool]:
        return lhs > value


@register_lookup
class GreaterThanOrEqual(Lookup):
    lookup_name = "gte"

    @classmethod
    def as_sql(cls, lhs: ColumnElement[Any], value: Any) -> ColumnElement[bool]:
        return lhs >= value


@register_lookup
class LessThan(Lookup):
    lookup_name = "lt"

    @classmethod
    def as_sql(cls, lhs: ColumnElement[Any], value: Any) -> ColumnElement[bool]:
        return lhs < value


@register_lookup
class LessThanOrEqual(Lookup):
    lookup_name = "lte"

    @classmethod
    def as_sql(cls, lhs: ColumnElement[Any], value: Any) -> ColumnElement[bool]:
        return lhs <= value


@register_lookup
class Range(Lookup):
    lookup_name = "range"
    value_shape = "pair"

    @classmethod
    def as_sql(cls, lhs: ColumnElement[Any], value: Any) -> ColumnElement[bool]:
        low, high = value
        return lhs.between(low, high)


@register_lookup
class IsNull(Lookup):
    lookup_name = "isnull"
    value_shape = "bool"

    @classmethod
    def as_sql(cls, lhs: ColumnElement[Any], value: Any) -> ColumnElement[bool]:
        return lhs.is_(None) if value else lhs.is_not(None)


@register_lookup
class Regex(Lookup):
    lookup_name = "regex"
    value_shape = "text"
    text_only = True

    @classmethod
    def as_sql(cls, lhs: ColumnElement[Any], value: Any) -> ColumnElement[bool]:
        return RegexMatch(lhs, value, case_insensitive=False)


@register_lookup
class IRegex(Regex):
    lookup_name = "iregex"

    @classmethod
    def as_sql(cls, lhs: ColumnElement[Any], value: Any) -> ColumnElement[bool]:
        return RegexMatch(lhs, value, case_insensitive=True)


def is_many(value: Any) -> bool:
    """Whether `value` is a collection usable with ``__in`` (not a string or a mapping)."""
    return isinstance(value, Iterable) and not isinstance(value, (str, bytes, dict))
