"""Build DataFrames from QuerySets: every include in the same statement as the rows.

LaminDB (Django) runs one extra query per include; here every include is part of the main
SELECT: many-to-one paths (``created_by__name``) are LEFT OUTER JOINs, other to-one paths a
correlated scalar subquery, to-many paths (``ulabels__name``) a JSON array per row
(``json_group_array`` / ``json_agg``). A DataFrame of any size with any number of includes
costs one statement (two with `features`, which first lists the features).

How a to-many path is aggregated depends on the database and the rows asked for. SQLite runs
a correlated subquery per row fast (a grouped subquery joined to the rows took ~20% longer). On
PostgreSQL that is a SubPlan run once per row (~40 ms of server time for 10,000 artifacts with
their labels); instead each to-many path is one grouped subquery over the related rows of the
records the query selects, LEFT OUTER JOINed to them (~30 ms), and a page (a `limit`) a LATERAL
join, whose cost follows the page, not the registry. The grouped subquery runs the filters a
second time: for a filter keeping few rows it costs a little more than a row-by-row read.
`benchmarks/include_join.py` measures both backends.

The rows are fetched from the driver as they are and converted column by column (see
`_Columns`) instead of by a type processor per value and pandas' type inference per column, with
the cycle collector paused while the frame is built (see `collector`). The SELECT list of each
shape (registry, includes) is built once (`_plan`). For 10,000 artifacts with their labels:
~10 ms of Python work after the query, which itself takes ~20 ms on SQLite row by row. Whole
registry overviews are read as Arrow columns from SQLite files instead (see `columnar`).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import RelationshipProperty, aliased
from sqlalchemy.orm.interfaces import MANYTOONE

from lamin_core.errors import ValidationError
from lamin_core.models.record_types import readable_dtype
from lamin_core.query.collector import collector_paused
from lamin_core.query.columnar import read_columns
from lamin_core.query.compiler import RelatedRows, related_column, related_rows
from lamin_core.query.feature_filters import feature_refs, feature_value_columns, has_features
from lamin_core.query.fields import resolve_path
from lamin_core.query.sql import JsonArrayAgg

if TYPE_CHECKING:
    from lamin_core.query.queryset import QuerySet

__all__ = ["build_df", "default_columns", "registry_df"]

NAN = math.nan
# registry overviews asking for more rows than this (or all) are read as Arrow columns
COLUMNAR_ROWS = 10_000


def default_columns(model: Any, *, compact: bool) -> list[str]:
    """Return the registry's columns for a DataFrame, without `id` (the index).

    `compact` gives ``uid``, the name field and ``description``: the columns LaminDB shows when
    includes or features are requested.
    """
    columns = [name for name in model._column_order() if name != "id"]
    if not compact:
        return columns
    wanted = ["uid", getattr(model, "_name_field", "name"), "description"]
    return [name for name in dict.fromkeys(wanted) if name in columns]


def _hashable(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_hashable(item) for item in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return value


def _sets(arrays: list[Any], *, none_when_empty: bool = False) -> list[Any]:
    """Return a set per JSON array: ``{None}`` for an empty one (as LaminDB shows a record
    without related records), or None with `none_when_empty`."""
    try:
        if none_when_empty:
            return [set(values) if values else None for values in arrays]
        return [set(values) if values else {None} for values in arrays]
    except TypeError:  # lists or dicts among JSON values
        empty = None if none_when_empty else {None}
        return [{_hashable(v) for v in values} if values else empty for values in arrays]


def _objects(values: list[Any]) -> np.ndarray:
    """Return `values` as an object array, which pandas takes as is (a list it converts)."""
    return np.fromiter(values, dtype=object, count=len(values))


def _parse_json(cells: np.ndarray) -> list[Any]:
    """Parse a column of JSON documents (None for SQL NULL) with one `json.loads` call.

    One call over the joined column runs in C; a call per row costs ~7x more on large tables.
    """
    try:  # the common case: text in every row
        return json.loads("[" + ",".join(cells.tolist()) + "]")
    except TypeError:  # NULLs (None) or values the driver already parsed
        pass
    if pd.api.types.infer_dtype(cells, skipna=True) not in ("string", "empty"):
        return [json.loads(cell) if isinstance(cell, str) else cell for cell in cells]
    texts = np.where(pd.isna(cells), "null", cells)
    return json.loads("[" + ",".join(texts.tolist()) + "]")


class _Columns:
    """The SELECT list of a DataFrame: each expression with how its column is converted.

    Rows come from the driver untouched and each column is converted once, by its SQL type:
    integers and floats to numpy arrays (NaN for NULL, as pandas infers them), date-times parsed
    in one call, JSON parsed with one `json.loads` per column (JSON comes as text from both
    backends), instead of a type processor per value and pandas' type inference per column.
    """

    def __init__(self, dialect: sa.Dialect) -> None:
        self.dialect = dialect
        self.expressions: list[Any] = []
        self.kinds: list[str] = []  # "value", "datetime", "json", "set"
        self.required: list[bool] = []  # NOT NULL columns of the queried table: no NULL check

    def copy(self) -> _Columns:
        copied = _Columns(self.dialect)
        copied.expressions, copied.kinds = [*self.expressions], [*self.kinds]
        copied.required = [*self.required]
        return copied

    def add(self, expression: Any, kind: str | None = None) -> None:
        column = getattr(expression, "expression", None)  # the Column behind a mapped attribute
        self.required.append(isinstance(column, sa.Column) and not column.nullable)
        if kind is None:
            kind = _kind_of(expression.type)
        self.expressions.append(self._fetched(expression, kind))
        self.kinds.append(kind)

    def replace(self, position: int, expression: Any) -> None:
        """Select `expression` at `position` instead, converted as the column it replaces."""
        self.expressions[position] = self._fetched(expression, self.kinds[position])

    def _fetched(self, expression: Any, kind: str) -> Any:
        """Return `expression` in the form the driver hands over untouched."""
        if kind in ("json", "set"):
            return (
                sa.type_coerce(expression, sa.Text())
                if self.dialect.name == "sqlite"
                else sa.cast(expression, sa.Text())
            )
        if kind == "datetime":
            return sa.type_coerce(expression, _RAW)
        return expression

    def convert(self, position: int, cells: np.ndarray, type_code: Any) -> Any:
        """Return column `position` as shown: `cells` holds the driver's values (an object
        array), or a numeric array when the column came from a columnar read."""
        kind = self.kinds[position]
        if kind == "datetime":
            return _to_datetime(cells)
        if kind in ("json", "set"):
            return _parse_json(cells)
        type_, processor = _result_processor(
            self.expressions[position].type, self.dialect, type_code
        )
        if isinstance(type_, sa.Integer | sa.Float | sa.Boolean):
            target = bool if isinstance(type_, sa.Boolean) else type_.python_type
            target = np.int64 if target is int else target
            if self.required[position]:
                return cells.astype(target)
            missing = pd.isna(cells)
            if not missing.any():
                return cells.astype(target)
            if isinstance(type_, sa.Boolean) or missing.all():
                return cells if processor is None else np.array([*map(processor, cells)], object)
            numbers = np.full(len(cells), math.nan)
            numbers[~missing] = cells[~missing].astype(np.float64)
            return numbers
        if processor is None:
            return cells
        return pd.Series([*map(processor, cells)], dtype=object).infer_objects().to_numpy()


@functools.lru_cache(maxsize=512)
def _result_processor(
    type_: sa.types.TypeEngine[Any], dialect: sa.Dialect, type_code: Any
) -> tuple[sa.types.TypeEngine[Any], Any]:
    """Return the dialect's form of `type_` and its result processor (None: values as fetched)."""
    implementation = type_.dialect_impl(dialect)
    return implementation, implementation.result_processor(dialect, type_code)


def _to_datetime(cells: np.ndarray) -> Any:
    """Return timezone-aware UTC date-times from SQLite's text or the driver's datetimes."""
    if pd.api.types.infer_dtype(cells, skipna=True) in ("string", "empty"):
        try:  # SQLite stores naive UTC text; numpy parses it ~2.5x faster than pandas
            parsed = np.array(cells, dtype="datetime64[us]")
            return pd.DatetimeIndex(parsed.astype("datetime64[ns]"), tz="UTC")
        except ValueError:
            pass
    return pd.to_datetime(cells, utc=True, format="ISO8601")


class _Raw(sa.types.TypeDecorator[Any]):
    """A column type that hands the driver's value through unchanged."""

    impl = sa.types.NullType
    cache_ok = True


_RAW = _Raw()


def _kind_of(type_: Any) -> str:
    if isinstance(type_, sa.TypeDecorator):
        type_ = type_.impl_instance
    if isinstance(type_, sa.DateTime):
        return "datetime"
    if isinstance(type_, sa.JSON):
        return "json"
    return "value"


class _OuterJoins:
    """LEFT OUTER JOINs along many-to-one paths (``created_by__name``), one per distinct path,
    and LATERAL joins aggregating to-many paths (see `lateral`).

    A many-to-one join never multiplies rows, and joining is cheaper than a correlated
    subquery per row.
    """

    def __init__(self, model: Any) -> None:
        self.model = model
        self.from_clause: Any = None
        self._aliases: dict[tuple[str, ...], Any] = {}

    def lateral(self, rows: RelatedRows) -> Any:
        """Return the JSON array of `rows` per record, from a LEFT OUTER JOIN LATERAL."""
        aggregated = (
            sa.select(JsonArrayAgg(rows.value).label("value"))
            .select_from(rows.from_clause)
            .where(rows.key == rows.outer_key)
            .lateral()
        )
        left = self.model if self.from_clause is None else self.from_clause
        self.from_clause = sa.orm.outerjoin(left, aggregated, sa.true())
        return aggregated.c.value

    def column(self, hops: Sequence[RelationshipProperty[Any]], column: str) -> Any:
        """Return `column` of the record reached through `hops`, joining what is missing."""
        current: Any = self.model
        keys: tuple[str, ...] = ()
        for hop in hops:
            keys = (*keys, hop.key)
            target = self._aliases.get(keys)
            if target is None:
                target = aliased(hop.mapper.class_)
                left = self.model if self.from_clause is None else self.from_clause
                onclause = getattr(current, hop.key).of_type(target)
                self.from_clause = sa.orm.outerjoin(left, target, onclause)
                self._aliases[keys] = target
            current = target
        return getattr(current, column)


@dataclasses.dataclass(frozen=True)
class _Grouped:
    """A to-many include still to be joined as a grouped subquery (see `_join_grouped`)."""

    position: int  # of its column in the SELECT list
    rows: RelatedRows


@dataclasses.dataclass(frozen=True)
class _Plan:
    """The SELECT list of a DataFrame before features: names, expressions, joins."""

    names: tuple[str, ...]
    columns: _Columns
    to_many: frozenset[str]
    from_clause: Any
    grouped: tuple[_Grouped, ...] = ()


def _to_many_form(dialect: sa.Dialect, queryset: QuerySet[Any]) -> str:
    """Return how to-many includes are aggregated: ``correlated``, ``grouped`` or ``lateral``.

    See the module docstring: a correlated subquery on SQLite; on PostgreSQL a LATERAL join for
    a page (its cost follows the page, not the registry) and a grouped subquery otherwise.
    """
    if dialect.name != "postgresql":
        return "correlated"
    return "lateral" if queryset._limit is not None else "grouped"


@functools.lru_cache(maxsize=256)
def _plan(
    model: Any,
    dialect: sa.Dialect,
    includes: tuple[str, ...],
    *,
    compact: bool,
    to_many_form: str = "correlated",
) -> _Plan:
    """Return the columns of a DataFrame of `model` with `includes`, built once per shape.

    They do not depend on which rows are asked for; building the include subqueries and
    joins again for every call cost more than compiling the statement. The grouped subqueries
    of ``to_many_form="grouped"`` do (they hold the filters): their columns are placeholders
    that `_join_grouped` replaces.
    """
    names = default_columns(model, compact=compact)
    selected = _Columns(dialect)
    selected.add(model.id)
    for name in names:
        selected.add(getattr(model, name))
    to_many: set[str] = set()
    grouped: list[_Grouped] = []
    joins = _OuterJoins(model)
    for path in includes:
        hops, column = resolve_path(model, path)
        if not hops:
            if column not in names:
                names.append(column)
                selected.add(getattr(model, column))
            continue
        if path in names:
            continue
        names.append(path)
        if any(hop.uselist for hop in hops):
            to_many.add(path)
            if to_many_form == "correlated":
                aggregated = related_column(model, hops, column, aggregate=JsonArrayAgg)
            elif to_many_form == "lateral":
                aggregated = joins.lateral(related_rows(model, hops, column))
            else:
                grouped.append(
                    _Grouped(len(selected.expressions), related_rows(model, hops, column))
                )
                aggregated = sa.null()
            selected.add(aggregated.label(f"include_{len(names)}"), "set")
        elif all(hop.direction is MANYTOONE for hop in hops):
            selected.add(joins.column(hops, column).label(f"include_{len(names)}"))
        else:
            selected.add(related_column(model, hops, column).label(f"include_{len(names)}"))
    return _Plan(tuple(names), selected, frozenset(to_many), joins.from_clause, tuple(grouped))


def _join_grouped(queryset: QuerySet[Any], plan: _Plan, selected: _Columns) -> Any:
    """Return the FROM clause of `plan` with its grouped to-many subqueries joined.

    Each subquery aggregates the related rows of the records the query selects (its branch,
    trash and space conditions and any filters, without order and offset: the join picks the rows),
    one row per record, so the LEFT OUTER JOIN never multiplies rows and a record without
    related rows gets NULL, as from the correlated form.
    """
    from_clause = queryset.model if plan.from_clause is None else plan.from_clause
    conditions = queryset._conditions()
    for grouped in plan.grouped:
        rows = grouped.rows
        selected_keys = sa.select(rows.outer_key).where(*conditions).correlate(None)
        aggregated = (
            sa.select(rows.key.label("key"), JsonArrayAgg(rows.value).label("value"))
            .select_from(rows.from_clause)
            .where(rows.key.in_(selected_keys))
            .group_by(rows.key)
            .subquery()
        )
        selected.replace(grouped.position, aggregated.c.value)
        from_clause = sa.orm.outerjoin(from_clause, aggregated, aggregated.c.key == rows.outer_key)
    return from_clause


FEATURES = "features"  # the include that adds one column per feature


def build_df(
    queryset: QuerySet[Any],
    *,
    include: str | Sequence[str] | None = None,
    features: bool | str | Sequence[str] | None = False,
    columnar: bool = False,
) -> pd.DataFrame:
    """Return the records of `queryset` as a DataFrame (see `QuerySet.df`).

    With `columnar`, a SQLite file is read as Arrow columns when it can be (see `columnar`).
    """
    model: Any = queryset.model
    includes = [include] if isinstance(include, str) else list(include or [])
    for path in includes:
        if not isinstance(path, str):
            raise ValidationError(
                f"include expects field paths such as 'ulabels__name' or 'features', got {path!r}."
            )
    if FEATURES in includes:  # LaminDB 2.x: include="features" is features=True
        includes = [path for path in includes if path != FEATURES]
        features = features or True
    if isinstance(features, str):  # one feature name
        features = [features]
    dialect = queryset.session.get_bind().dialect
    plan = _plan(
        model,
        dialect,
        tuple(includes),
        compact=bool(includes or features),
        to_many_form=_to_many_form(dialect, queryset),
    )
    names, selected = [*plan.names], plan.columns.copy()
    from_clause = _join_grouped(queryset, plan, selected) if plan.grouped else plan.from_clause
    feature_dtypes: dict[str, str | None] = {}
    feature_parts: list[tuple[str, int]] = []  # (feature name, number of subqueries)
    explicit = not isinstance(features, bool)
    if features is not False and features is not None:
        if not has_features(model):
            raise ValidationError(f"{model.__name__} records have no features; drop features=.")
        wanted = None if features is True else list(features)
        with queryset._catalog().reading() as session:
            refs = feature_refs(session, model, wanted)
            # type records by name, not uid (a query only for dtypes that name one)
            shown = {name: readable_dtype(session, ref.dtype) for name, ref in refs.items()}
        if wanted is not None:
            missing = [name for name in wanted if name not in refs]
            if missing:
                raise ValidationError(
                    f"No feature named {missing[0]!r}; features: {', '.join(refs) or 'none'}."
                )
            refs = {name: refs[name] for name in wanted}
        for name, parts in feature_value_columns(model, refs.values()):
            feature_dtypes[name] = shown[name]
            feature_parts.append((name, len(parts)))
            for index, part in enumerate(parts):
                selected.add(part.label(f"feature_{len(feature_parts)}_{index}"), "set")
    statement = queryset._select(*selected.expressions, from_clause=from_clause)
    with collector_paused():
        fetched, type_codes = _fetch_columns(queryset, statement, columnar=columnar)
        df = _frame(fetched, type_codes, selected, names, plan.to_many, feature_parts, explicit)
    if feature_dtypes:
        df.attrs["feature_dtypes"] = {k: v for k, v in feature_dtypes.items() if k in df.columns}
    return df


def _fetch_columns(
    queryset: QuerySet[Any], statement: Any, *, columnar: bool
) -> tuple[list[np.ndarray], list[Any]]:
    """Return the result of `statement` as one array per column, with the driver's type codes.

    With `columnar`, as Arrow columns when the catalog allows it (see `columnar`); else from
    the rows of the session's connection.
    """
    columns = read_columns(queryset.session, statement) if columnar else None
    if columns is not None:
        return columns, [None] * len(columns)
    rows, type_codes = queryset._execute_raw(statement)
    transposed = zip(*rows) if rows else [()] * len(type_codes)
    return [np.fromiter(cells, dtype=object, count=len(rows)) for cells in transposed], type_codes


def _frame(
    fetched: list[np.ndarray],
    type_codes: list[Any],
    selected: _Columns,
    names: list[str],
    to_many: frozenset[str],
    feature_parts: list[tuple[str, int]],
    explicit: bool,
) -> pd.DataFrame:
    """Build the DataFrame from the fetched columns: each converted once, by its type."""
    columns = [
        selected.convert(position, cells, code)
        for position, (cells, code) in enumerate(zip(fetched, type_codes))
    ]
    n_rows = len(columns[0])
    data: dict[str, Any] = {}
    for name, column in zip(names, columns[1:]):
        data[name] = _objects(_sets(column)) if name in to_many else column
    position = len(names) + 1
    for name, count in feature_parts:
        merged = [set[Any]() for _ in range(n_rows)]
        for part in columns[position : position + count]:
            for values, found in zip(merged, _sets(part, none_when_empty=True)):
                if found:
                    values |= found
        data[name] = _objects([values if values else NAN for values in merged])
        position += count
    # copy=False: every array is fresh; without it pandas copies each into consolidated blocks
    df = pd.DataFrame(data, index=pd.Index(columns[0], name="id"), copy=False)
    if feature_parts and not explicit and len(df):
        empty = [name for name, _count in feature_parts if df[name].isna().all()]
        df = df.drop(columns=empty)
    return df


def registry_df(
    model: Any,
    include: str | Sequence[str] | None = None,
    features: bool | str | Sequence[str] = False,
    limit: int | None = 100,
) -> pd.DataFrame:
    """Return the registry overview: the `limit` newest records (by id, newest first).

    For versioned registries (Artifact, Collection, Transform) the overview shows only the
    latest version of each record (``is_latest``); ``Artifact.filter().df()`` shows every version.
    A whole registry (``limit=None`` or above `COLUMNAR_ROWS`) is read as Arrow columns from
    SQLite files (see `columnar`): faster from a few thousand rows on, slower for a few rows.
    """
    from lamin_core.query.queryset import QuerySet

    queryset: QuerySet[Any] = QuerySet(model)
    if "is_latest" in sa.inspect(model).column_attrs:
        queryset = queryset.filter(is_latest=True)
    queryset = queryset.order_by("-id")
    if limit is not None:
        queryset = queryset[:limit]
    columnar = limit is None or limit > COLUMNAR_ROWS
    return build_df(queryset, include=include, features=features, columnar=columnar)
