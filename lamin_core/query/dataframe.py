"""Build DataFrames from QuerySets: every include in the same statement as the rows.

LaminDB (Django) runs one extra query per include; here each include is a correlated scalar
subquery in the main SELECT: to-one paths (``created_by__name``) select one value, to-many paths
(``ulabels__name``) aggregate a JSON array per row (``json_group_array`` / ``json_agg``), so a
DataFrame of any size with any number of includes costs one statement (two with `features`,
which first lists the features).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd
import sqlalchemy as sa

from lamin_core.errors import ValidationError
from lamin_core.query.compiler import related_column
from lamin_core.query.features import feature_refs, feature_value_columns, has_features
from lamin_core.query.fields import resolve_path
from lamin_core.query.sql import JsonArrayAgg

if TYPE_CHECKING:
    from lamin_core.query.queryset import QuerySet

__all__ = ["build_df", "default_columns", "registry_df"]

NAN = math.nan


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


def _as_set(values: Any, empty: Any) -> Any:
    if isinstance(values, str):  # a JSON array not parsed by the driver
        values = json.loads(values)
    if not values:
        return empty
    try:
        return set(values)
    except TypeError:  # lists or dicts among JSON values
        return {_hashable(item) for item in values}


def build_df(
    queryset: QuerySet[Any],
    *,
    include: str | Sequence[str] | None = None,
    features: bool | Sequence[str] = False,
) -> pd.DataFrame:
    """Return the records of `queryset` as a DataFrame (see `QuerySet.df`)."""
    model = queryset.model
    includes = [include] if isinstance(include, str) else list(include or [])
    names = default_columns(model, compact=bool(includes or features))
    selected: list[Any] = [getattr(model, name) for name in names]
    to_many: set[str] = set()
    for path in includes:
        if not isinstance(path, str):
            raise ValidationError(
                f"include expects field paths such as 'ulabels__name', got {path!r}."
            )
        hops, column = resolve_path(model, path)
        if not hops:
            if column not in names:
                names.append(column)
                selected.append(getattr(model, column))
            continue
        if path in names:
            continue
        if any(hop.uselist for hop in hops):
            to_many.add(path)
            expression = related_column(model, hops, column, aggregate=JsonArrayAgg)
        else:
            expression = related_column(model, hops, column)
        names.append(path)
        selected.append(expression.label(f"include_{len(names)}"))
    feature_dtypes: dict[str, str] = {}
    feature_parts: list[tuple[str, int]] = []  # (feature name, number of subqueries)
    explicit = not isinstance(features, bool)
    if features is not False and features is not None:
        if not has_features(model):
            raise ValidationError(f"{model.__name__} records have no features; drop features=.")
        wanted = None if features is True else list(features)
        refs = feature_refs(queryset.session, model, wanted)
        queryset._end_read()
        if wanted is not None:
            missing = [name for name in wanted if name not in refs]
            if missing:
                raise ValidationError(
                    f"No feature named {missing[0]!r}; features: {', '.join(refs) or 'none'}."
                )
            refs = {name: refs[name] for name in wanted}
        for name, parts in feature_value_columns(model, refs.values()):
            feature_dtypes[name] = refs[name].dtype
            feature_parts.append((name, len(parts)))
            for index, part in enumerate(parts):
                selected.append(part.label(f"feature_{len(feature_parts)}_{index}"))
    statement = queryset._select(model.id, *selected)
    rows = queryset._execute_rows(statement)
    n_plain = len(names)
    records: list[list[Any]] = []
    for row in rows:
        values = list(row[: n_plain + 1])
        for position, path in enumerate(names, start=1):
            if path in to_many:
                values[position] = _as_set(values[position], {None})
        offset = n_plain + 1
        for _name, count in feature_parts:
            merged: set[Any] = set()
            for cell in row[offset : offset + count]:
                found = _as_set(cell, None)
                if found:
                    merged |= found
            values.append(merged if merged else NAN)
            offset += count
        records.append(values)
    columns = ["id", *names, *(name for name, _count in feature_parts)]
    df = pd.DataFrame.from_records(records, columns=columns).set_index("id")
    if feature_parts and not explicit and len(df):
        empty = [name for name, _count in feature_parts if df[name].isna().all()]
        df = df.drop(columns=empty)
    if feature_dtypes:
        df.attrs["feature_dtypes"] = {k: v for k, v in feature_dtypes.items() if k in df.columns}
    return df


def registry_df(
    model: Any,
    include: str | Sequence[str] | None = None,
    features: bool | Sequence[str] = False,
    limit: int | None = 100,
) -> pd.DataFrame:
    """Return the registry overview: the `limit` newest records (by id, newest first).

    For versioned registries (Artifact, Collection, Transform) the overview shows only the
    latest version of each record (``is_latest``); ``Artifact.filter().df()`` shows every version.
    """
    from lamin_core.query.queryset import QuerySet

    queryset: QuerySet[Any] = QuerySet(model)
    if "is_latest" in sa.inspect(model).column_attrs:
        queryset = queryset.filter(is_latest=True)
    return queryset.order_by("-id").df(include=include, features=features, limit=limit)
