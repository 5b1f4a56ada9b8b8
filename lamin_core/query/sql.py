"""Small SQL constructs that compile differently on SQLite and PostgreSQL.

The query compiler builds one SQLAlchemy expression tree without knowing the database; the few
places where the two backends disagree (case-sensitive LIKE, regular expressions, JSON scalars,
date parts of UTC timestamps, JSON array aggregation) are these constructs, each rendered by the
dialect at execution time. That keeps the compiler pure and testable without a database.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal

from lamin_core.instance.regex import postgres_pattern

__all__ = [
    "MANY_VALUES",
    "DatePart",
    "DialectSwitch",
    "InValues",
    "JsonArrayAgg",
    "JsonScalar",
    "RegexMatch",
    "escape_like",
]

LIKE_ESCAPE = "\\"


def escape_like(value: str) -> str:
    """Escape the LIKE wildcards ``%`` and ``_`` (and the escape character) in `value`."""
    return (
        value.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2)
        .replace("%", LIKE_ESCAPE + "%")
        .replace("_", LIKE_ESCAPE + "_")
    )


class DialectSwitch(ColumnElement[Any]):
    """An expression with a default form and an optional SQLite-specific form."""

    inherit_cache = True
    _traverse_internals = [
        ("default", InternalTraversal.dp_clauseelement),
        ("sqlite", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, default: ColumnElement[Any], sqlite: ColumnElement[Any]) -> None:
        self.default = default
        self.sqlite = sqlite
        self.type = default.type


@compiles(DialectSwitch)
def _compile_switch(element: DialectSwitch, compiler: Any, **kw: Any) -> str:
    chosen = element.sqlite if compiler.dialect.name == "sqlite" else element.default
    return str(compiler.process(chosen, **kw))


class RegexMatch(ColumnElement[bool]):
    """`column` matches the regular expression `pattern` (RE2 syntax, see `regex`).

    PostgreSQL runs the pattern rewritten for its engine (`postgres_pattern`), SQLite through
    RE2 in the ``regexp``/``lamin_iregexp`` functions; both match alike.
    """

    inherit_cache = True
    type = sa.Boolean()
    _traverse_internals = [
        ("column", InternalTraversal.dp_clauseelement),
        ("pattern", InternalTraversal.dp_clauseelement),
        ("postgres", InternalTraversal.dp_clauseelement),
        ("case_insensitive", InternalTraversal.dp_boolean),
    ]

    def __init__(self, column: ColumnElement[Any], pattern: str, case_insensitive: bool) -> None:
        self.column = column
        self.pattern = sa.bindparam(None, pattern, type_=sa.String())
        self.postgres = sa.bindparam(None, postgres_pattern(pattern), type_=sa.String())
        self.case_insensitive = case_insensitive


@compiles(RegexMatch)
def _compile_regex(element: RegexMatch, compiler: Any, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    if compiler.dialect.name == "sqlite":
        pattern = compiler.process(element.pattern, **kw)
        function = "lamin_iregexp" if element.case_insensitive else "regexp"
        return f"{function}({pattern}, {column})"
    pattern = compiler.process(element.postgres, **kw)
    operator = "~*" if element.case_insensitive else "~"
    return f"({column} {operator} {pattern})"


# More values than this are bound as ONE parameter: drivers cap the parameters of a statement
# (65,535 in PostgreSQL's protocol; 32,766 or 250,000 in SQLite, depending on the build).
MANY_VALUES = 1000


class _ValueArray(sa.TypeDecorator[list[Any]]):
    """A list of values bound as one parameter: an array on PostgreSQL, JSON text on SQLite.

    Each value goes through the item type's own bind processing first (timestamps become the
    text SQLite stores), so the list compares as the values would one by one.
    """

    impl = sa.String
    cache_ok = True

    def __init__(self, item_type: Any) -> None:
        super().__init__()
        self.item_type = sa.types.to_instance(item_type)

    def load_dialect_impl(self, dialect: sa.Dialect) -> Any:
        if dialect.name == "postgresql":
            # the generic ARRAY: PostgreSQL's dialect adapts it (no dialect import at start-up)
            return dialect.type_descriptor(sa.ARRAY(self.item_type))
        return dialect.type_descriptor(sa.String())

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> Any:
        if dialect.name == "postgresql":
            return list(value)  # the ARRAY type processes the items
        processor = self.item_type._cached_bind_processor(dialect)
        items = [processor(item) for item in value] if processor else list(value)
        return json.dumps(items)


class InValues(ColumnElement[bool]):
    """`column` is one of many `values`, bound as one parameter (see `MANY_VALUES`).

    ``column = ANY(:values)`` on PostgreSQL, ``column IN (SELECT value FROM json_each(:values))``
    on SQLite: any number of values in a statement of fixed size.
    """

    inherit_cache = True
    type = sa.Boolean()
    _traverse_internals = [
        ("column", InternalTraversal.dp_clauseelement),
        ("values", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, column: ColumnElement[Any], values: list[Any]) -> None:
        self.column = column
        self.values = sa.bindparam(None, values, type_=_ValueArray(column.type))


@compiles(InValues)
def _compile_in_values(element: InValues, compiler: Any, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    values = compiler.process(element.values, **kw)
    if compiler.dialect.name == "sqlite":
        return f"{column} IN (SELECT value FROM json_each({values}))"
    return f"{column} = ANY({values})"


DATE_PARTS = ("year", "month", "day")


class DatePart(ColumnElement[Any]):
    """A part of a UTC timestamp: ``year``, ``month``, ``day`` (integers) or ``date``."""

    inherit_cache = True
    _traverse_internals = [
        ("column", InternalTraversal.dp_clauseelement),
        ("part", InternalTraversal.dp_string),
    ]

    def __init__(self, column: ColumnElement[Any], part: str) -> None:
        self.column = column
        self.part = part
        self.type = sa.Date() if part == "date" else sa.Integer()


@compiles(DatePart)
def _compile_date_part(element: DatePart, compiler: Any, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    if compiler.dialect.name == "sqlite":
        # timestamps are stored as naive UTC text: 'YYYY-MM-DD HH:MM:SS.ffffff'
        if element.part == "date":
            return f"date({column})"
        fmt = {"year": "%Y", "month": "%m", "day": "%d"}[element.part]
        return f"CAST(strftime('{fmt}', {column}) AS INTEGER)"
    # extract in UTC, whatever the session's time zone is
    if element.part == "date":
        return f"CAST(({column} AT TIME ZONE 'UTC') AS DATE)"
    return f"CAST(EXTRACT({element.part} FROM ({column} AT TIME ZONE 'UTC')) AS INTEGER)"


JSON_KINDS = ("number", "text", "bool")


class JsonScalar(ColumnElement[Any]):
    """The top-level scalar of a JSON column, or NULL when it is not of `kind`.

    `kind` is ``number`` (a float), ``text`` (a string) or ``bool`` (``'true'``/``'false'``).
    Values of another JSON type become NULL, so comparisons never mix numbers and strings.
    """

    inherit_cache = True
    _traverse_internals = [
        ("column", InternalTraversal.dp_clauseelement),
        ("kind", InternalTraversal.dp_string),
    ]

    def __init__(self, column: ColumnElement[Any], kind: str) -> None:
        self.column = column
        self.kind = kind
        self.type = sa.Float() if kind == "number" else sa.String()


@compiles(JsonScalar)
def _compile_json_scalar(element: JsonScalar, compiler: Any, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    if compiler.dialect.name == "sqlite":
        if element.kind == "number":
            return (
                f"(CASE WHEN json_type({column}) IN ('integer', 'real') "
                f"THEN json_extract({column}, '$') END)"
            )
        if element.kind == "bool":
            return (
                f"(CASE WHEN json_type({column}) IN ('true', 'false') THEN json_type({column}) END)"
            )
        return f"(CASE WHEN json_type({column}) = 'text' THEN json_extract({column}, '$') END)"
    json_type = {"number": "number", "bool": "boolean", "text": "string"}[element.kind]
    cast = "::double precision" if element.kind == "number" else ""
    return f"(CASE WHEN json_typeof({column}) = '{json_type}' THEN ({column} #>> '{{}}'){cast} END)"


class JsonArrayAgg(ColumnElement[Any]):
    """Aggregate values into a JSON array (``json_group_array`` / ``json_agg``).

    With `is_json`, the values are JSON documents embedded as such (not as strings). Used by
    `df()` to fetch the values of a to-many relation for every row in the same statement.
    """

    inherit_cache = True
    type = sa.JSON()
    _traverse_internals = [
        ("column", InternalTraversal.dp_clauseelement),
        ("is_json", InternalTraversal.dp_boolean),
    ]

    def __init__(self, column: ColumnElement[Any], is_json: bool = False) -> None:
        self.column = column
        self.is_json = is_json


@compiles(JsonArrayAgg)
def _compile_json_agg(element: JsonArrayAgg, compiler: Any, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    if compiler.dialect.name == "sqlite":
        return (
            f"json_group_array(json({column}))"
            if element.is_json
            else f"json_group_array({column})"
        )
    return f"json_agg({column})"
