"""Look at the catalog: `ln.view()` prints registries' newest rows, `record.describe()` a record.

Both read through the query layer, so a view costs one statement per registry and a description
one statement for the record with all its relations (plus two for features).

Examples:
    >>> ln.view()                           # the newest 7 rows of each registry with rows
    >>> ln.view(ln.Artifact.df(features=True))  # a DataFrame with feature dtypes under the names
    >>> artifact.describe()
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd
import sqlalchemy as sa

from lamin_core.models.record_types import readable_dtype
from lamin_core.models.registry import registries

if TYPE_CHECKING:
    from lamin_core.models.base import Record

__all__ = ["all_registries", "describe", "describe_text", "view"]


def all_registries() -> list[type[Record]]:
    """Return every registry class (with a table), sorted by module group and name."""
    found = {f"{cls.__module__}.{cls.__name__}": cls for cls in registries()}
    return sorted(
        found.values(),
        key=lambda cls: (_module_group(cls) != "core", _module_group(cls), cls.__name__),
    )


def _module_group(cls: type) -> str:
    parts = cls.__module__.split(".")
    if parts[:2] == ["lamin_core", "models"]:
        return "core"
    if parts[0] == "lamin_core" and len(parts) > 1:
        return parts[1]
    return parts[0]


def _banner(text: str) -> str:
    line = "*" * (len(text) + 4)
    return f"{line}\n* {text} *\n{line}"


def _with_dtypes(df: pd.DataFrame) -> pd.DataFrame:
    dtypes = df.attrs.get("feature_dtypes", {})
    if not dtypes:
        return df
    shown = df.copy()
    labels = []
    for column in df.columns:
        if column in dtypes:
            labels.append((column, dtypes[column]))
        else:
            kind = df[column].dtype
            labels.append((column, "str" if kind is object or str(kind) == "object" else str(kind)))
    shown.columns = pd.MultiIndex.from_tuples(labels)
    return shown


def view(
    df: pd.DataFrame | None = None,
    *,
    limit: int = 7,
    registries: Sequence[str] | None = None,
) -> None:
    """Print a DataFrame, or the `limit` newest rows of every registry that has rows.

    Args:
        df: A DataFrame to print; feature columns of ``df(features=True)`` show their dtype.
        limit: Rows per registry.
        registries: Names of the registries to show (default: all).
    """
    with pd.option_context(
        "display.max_columns", None, "display.width", 250, "display.max_colwidth", 50
    ):
        if df is not None:
            print(_with_dtypes(df).to_string())
            return
        from lamin_core.query.queryset import QuerySet

        group = None
        for registry in all_registries():
            if registries is not None and registry.__name__ not in registries:
                continue
            frame = QuerySet(registry).order_by("-id").df(limit=limit)
            if frame.empty:
                continue
            if _module_group(registry) != group:
                group = _module_group(registry)
                print(_banner(f"module: {group}"))
            print(registry.__name__)
            print(frame.to_string())
            print()


def _display_name(record: Any) -> str:
    if record is None:
        return "None"
    for field in (getattr(record, "_name_field", None), "name", "key", "handle", "root", "uid"):
        value = getattr(record, field, None) if field else None
        if value:
            return str(value)
    return repr(record)


def _format_set(values: Any) -> str:
    if not isinstance(values, set) or values == {None}:
        return ""
    return ", ".join(sorted(str(v) for v in values))


def describe_text(record: Record) -> str:
    """Return the text `describe()` prints: fields, to-one relations, related records, features."""
    from lamin_core.query.dataframe import build_df
    from lamin_core.query.feature_filters import has_features
    from lamin_core.query.fields import resolve_path
    from lamin_core.query.queryset import QuerySet

    model = type(record)
    mapper = sa.inspect(model)
    lines = [f"{model.__name__} {_display_name(record)!r} (uid {record.uid}, id {record.id})"]
    hidden = {"id", "uid", "source_code"}
    for column in model._column_order():
        if column in hidden or column.endswith("_id"):
            continue
        value = getattr(record, column)
        if column == "dtype" and isinstance(value, str):  # a type record by name, not uid
            value = readable_dtype(record._instance().session, value)
        if value is not None:
            lines.append(f"  {column}: {value}")
    for relation in mapper.relationships:
        if relation.uselist:
            continue
        target = getattr(record, relation.key)
        if target is not None:
            lines.append(f"  {relation.key}: {_display_name(target)}")
    # per to-many relation: its name field, and a second searchable field for records whose
    # name may be empty (a FeatureSet's registry)
    to_many: dict[str, list[str]] = {}
    for relation in mapper.relationships:
        if relation.uselist:
            _hops, column = resolve_path(model, relation.key)
            fields = [column, *getattr(relation.mapper.class_, "_search_fields", ())[1:2]]
            to_many[relation.key] = [f"{relation.key}__{f}" for f in dict.fromkeys(fields)]
    paths = [path for group in to_many.values() for path in group]
    queryset = QuerySet(model).filter(id=record.id)
    frame = build_df(queryset, include=paths, features=has_features(model))
    if not frame.empty:
        row = frame.iloc[0]
        related = []
        for name, group in to_many.items():
            text = next((_format_set(row[p]) for p in group if _format_set(row[p])), "")
            if text:
                related.append((name, text))
        if related:
            lines.append("  related:")
            lines += [f"    {name}: {text}" for name, text in related]
        describe_members = getattr(record, "_describe_members", None)
        if describe_members is not None:  # a schema: its members in order, marked optional
            lines += describe_members()
        features = frame.attrs.get("feature_dtypes", {})
        if features:
            lines.append("  features:")
            for name, dtype in features.items():
                lines.append(f"    {name} ({dtype}): {_format_set(row[name])}")
    return "\n".join(lines)


def describe(record: Record | type[Record]) -> None:
    """Print a record with its relations: for an artifact its storage, run, transform, labels,
    feature sets and feature values. Given a registry, print its fields and relations."""
    print(describe_registry(record) if isinstance(record, type) else describe_text(record))


def describe_registry(registry: type[Record]) -> str:
    """Return a registry's fields (with their types) and relations (with their registries).

    Examples:
        >>> print(describe_registry(ln.ULabel).splitlines()[0])
        ULabel (table ulabel)
    """
    mapper = sa.inspect(registry)
    lines = [f"{registry.__name__} (table {registry.__tablename__})", "  Fields"]
    for name in registry._column_order():
        if name == "id" or name.endswith("_id"):
            continue
        column = mapper.columns[name]
        try:
            kind = column.type.python_type.__name__
        except NotImplementedError:  # JSON and other types without one Python type
            kind = type(column.type).__name__
        lines.append(f"    .{name}: {kind}")
    relations = sorted(mapper.relationships, key=lambda relation: relation.key)
    for title, to_many in (("Links to one", False), ("Links to many", True)):
        shown = [r for r in relations if r.uselist is to_many and not r.key.startswith("_")]
        if shown:
            lines.append(f"  {title}")
            lines += [f"    .{r.key}: {r.mapper.class_.__name__}" for r in shown]
    return "\n".join(lines)
