"""Query artifacts by their feature values and labels: ``filter(temperature__gt=21, study=...)``.

Dataset-level values live in ``FeatureValue.value`` (JSON), linked to artifacts through
``artifact_featurevalue``; categorical features (``cat[ULabel]``, ``cat[bionty.CellType]``) link
labels through a link table with a ``feature_id`` column (``artifact_ulabel``,
``artifact_celltype``, ...), which the registry map (`lamin_core.models.registry`) finds and
whose dtypes its parser reads, so registries added later (the bio ones) are queryable unchanged.

For ``ln.Artifact.features.filter(...)``: load the features once, then compile any mix of field
and feature lookups into one boolean expression (`compile_filter`), or one feature lookup
(`feature_condition` on a resolved `Leaf`):

    >>> refs = feature_refs(session, Artifact, ["temperature", "study"])
    >>> condition = compile_filter(Artifact, temperature__gt=21, study="IFNG", feature_for=refs.get)
    >>> ln.Artifact.filter(condition)           # or sa.select(Artifact).where(condition)
    >>> leaf = resolve_leaf(Artifact, "temperature__gt", 21, feature_for=refs.get)
    >>> feature_condition(Artifact, leaf)  # artifact.id IN (SELECT ... artifact_featurevalue ...)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from lamin_core.errors import RegistryReferenceError, ValidationError
from lamin_core.errors.values import as_python, check_text, comparable_number
from lamin_core.models.registry import categorical_registries, feature_link, value_link
from lamin_core.query.field_lookups import LOOKUPS, Lookup, check_regex, is_many
from lamin_core.query.sql import JsonArrayAgg, JsonScalar

if TYPE_CHECKING:
    from lamin_core.query.fields import Leaf

__all__ = [
    "CategoricalLink",
    "FeatureRef",
    "feature_condition",
    "feature_refs",
    "feature_value_columns",
    "json_comparison",
]


@dataclass(frozen=True)
class CategoricalLink:
    """How labels of one registry attach to records: link table, columns and label field."""

    table: sa.Table
    record_column: sa.Column[Any]
    label_column: sa.Column[Any]
    feature_column: sa.Column[Any]
    registry: type
    label_field: str


@dataclass(frozen=True)
class FeatureRef:
    """A Feature as the compiler needs it: id, name, dtype and, if categorical, its links."""

    id: int
    name: str
    dtype: str
    registries: tuple[CategoricalLink, ...] = ()


def _links(root: type, dtype: str, feature_name: str) -> tuple[CategoricalLink, ...]:
    try:
        references = categorical_registries(dtype)
    except RegistryReferenceError as error:
        raise ValidationError(
            f"Feature {feature_name!r} has dtype {dtype!r}, but {error.reason}; import the "
            "module that defines its registry."
        ) from error
    links = []
    for registry, label_field in references:
        found = feature_link(root, registry)
        if found is None:
            continue
        table, record_col, label_col, feature_col = found
        links.append(
            CategoricalLink(table, record_col, label_col, feature_col, registry, label_field)
        )
    return tuple(links)


def has_features(root: type) -> bool:
    """Whether records of `root` can carry feature values or feature-linked labels."""
    return value_link(root) is not None


def feature_refs(
    session: sa.orm.Session, root: type, names: Iterable[str] | None = None
) -> dict[str, FeatureRef]:
    """Load the Features called `names` (all when None) as `FeatureRef` objects, in one query."""
    from lamin_core.models import Feature

    statement = sa.select(Feature.id, Feature.name, Feature.dtype).order_by(Feature.id)
    if names is not None:
        wanted = list(names)
        if not wanted:
            return {}
        statement = statement.where(Feature.name.in_(wanted))
    refs = {}
    for id_, name, dtype in session.execute(statement):
        refs[name] = FeatureRef(id_, name, dtype or "", _links(root, dtype or "", name))
    return refs


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return "text"


def _json_value(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


def _feature_item(item: Any, key: str) -> Any:
    """Return one value compared with a feature, checked: valid text, finite numbers."""
    item = as_python(item)
    if isinstance(item, str):
        return check_text(item, key)
    if isinstance(item, (int, float)) and not isinstance(item, bool):
        return comparable_number(item, key)  # compared as JSON numbers: doubles
    return item


def validate_feature_value(
    feature: FeatureRef, label_field: str | None, lookup: type[Lookup], value: Any, key: str
) -> tuple[Any, type[Lookup]]:
    """Check a value compared with a feature; return it (normalised) and the lookup."""
    from lamin_core.models.base import Record

    name = lookup.lookup_name
    if name == "isnull":
        if not isinstance(value, bool):
            raise ValidationError(f"{key}={value!r}: isnull expects True or False.")
        return value, lookup
    if value is None:
        return True, LOOKUPS["isnull"]
    values = list(value) if name in ("in", "range") and is_many(value) else [value]
    if name in ("in", "range") and not is_many(value):
        raise ValidationError(f"{key}={value!r}: the lookup {name!r} expects a list of values.")
    if name == "range" and len(values) != 2:
        raise ValidationError(f"{key}={value!r}: the lookup 'range' expects (low, high).")
    values = [_feature_item(item, key) for item in values]
    value = values if name in ("in", "range") else values[0]
    for item in values:
        if isinstance(item, Record):
            if not feature.registries:
                raise ValidationError(
                    f"{key}={item!r}: the feature {feature.name!r} has dtype {feature.dtype!r} "
                    "and holds values, not records."
                )
            if name not in ("exact", "in"):
                raise ValidationError(f"{key}: records compare with exact or in, not {name!r}.")
        elif not isinstance(item, (str, int, float, bool, dt.date, dt.datetime)):
            raise ValidationError(
                f"{key}={item!r}: a feature value must be a string, number, boolean or date, "
                f"got {type(item).__name__}."
            )
    if lookup.text_only and not all(isinstance(item, str) for item in values):
        raise ValidationError(f"{key}={value!r}: the lookup {name!r} expects a string.")
    if name in ("regex", "iregex"):
        check_regex(value, key)
    kinds = {_json_kind(item) for item in values if not isinstance(item, Record)}
    if len(kinds) > 1:
        raise ValidationError(f"{key}={value!r}: mixes value types; use one type per lookup.")
    if name == "range":
        return tuple(_json_value(item) for item in values), lookup
    if name == "in":
        return [item if isinstance(item, Record) else _json_value(item) for item in values], lookup
    return (value if isinstance(value, Record) else _json_value(value)), lookup


def _label_condition(
    link: CategoricalLink, label_table: Any, leaf: Leaf
) -> tuple[ColumnElement[bool], bool]:
    """Return the condition on labels and whether it needs the label table joined."""
    from lamin_core.models.base import Record

    values = leaf.value if isinstance(leaf.value, list) else [leaf.value]
    if values and all(isinstance(v, Record) for v in values):
        ids = [getattr(v, "id", None) for v in values if isinstance(v, link.registry)]
        return link.label_column.in_(ids), False
    field = leaf.column or link.label_field
    if field not in label_table.c:
        raise ValidationError(
            f"{leaf.key}: {link.registry.__name__} has no field {field!r}; fields: "
            f"{', '.join(label_table.c.keys())}."
        )
    return leaf.lookup.as_sql(label_table.c[field], leaf.value), True


def json_comparison(lhs: Any, lookup: type[Lookup], value: Any) -> ColumnElement[bool]:
    """Compare the top-level scalar of a JSON column with `value` (a scalar, list or pair)."""
    items = value if isinstance(value, (list, tuple)) else [value]
    kind = _json_kind(items[0]) if items else "text"
    return lookup.as_sql(JsonScalar(lhs, kind), _json_compare_value(value))


def _json_compare_value(value: Any) -> Any:
    if isinstance(value, list):
        return [_json_compare_value(item) for item in value]
    if isinstance(value, tuple):
        return tuple(_json_compare_value(item) for item in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def feature_condition(entity: Any, leaf: Leaf) -> ColumnElement[bool]:
    """Compile a feature lookup (a `Leaf` whose `feature` is set) into a condition on `entity`.

    The condition is ``entity.id IN (<records with such a value or label>)``; ``isnull=True``
    becomes ``NOT IN (<records with any value>)``.
    """
    from lamin_core.models import FeatureValue

    feature = leaf.feature
    assert feature is not None
    model = sa.inspect(entity).mapper.class_
    pk = entity.id
    subqueries: list[sa.Select[Any]] = []
    is_null = leaf.lookup.lookup_name == "isnull"
    for link in feature.registries:
        label_table = link.registry.__table__.alias()  # type: ignore[attr-defined]
        statement = sa.select(link.record_column).where(link.feature_column == feature.id)
        if not is_null:
            condition, needs_join = _label_condition(link, label_table, leaf)
            if needs_join:
                statement = statement.join(label_table, label_table.c.id == link.label_column)
            statement = statement.where(condition)
        subqueries.append(statement)
    if not feature.registries:
        found = value_link(model)
        if found is None:
            raise ValidationError(f"{model.__name__} records cannot have feature values.")
        _table, record_col, value_col = found
        values = FeatureValue.__table__.alias()
        statement = (
            sa.select(record_col)
            .join(values, values.c.id == value_col)
            .where(values.c.feature_id == feature.id)
        )
        if not is_null:
            statement = statement.where(json_comparison(values.c.value, leaf.lookup, leaf.value))
        subqueries.append(statement)
    if not subqueries:
        return sa.true() if is_null and leaf.value else sa.false()
    union = subqueries[0] if len(subqueries) == 1 else sa.union_all(*subqueries)
    condition = pk.in_(union)
    return sa.not_(condition) if is_null and leaf.value else condition


def feature_value_columns(
    entity: Any, refs: Iterable[FeatureRef]
) -> list[tuple[str, list[ColumnElement[Any]]]]:
    """Return, per feature, correlated subqueries aggregating its values for each row of `entity`.

    Each subquery yields a JSON array (or NULL when the record has no value); a categorical
    feature linked to several registries has one subquery per registry.
    """
    from lamin_core.models import FeatureValue

    model = sa.inspect(entity).mapper.class_
    pk = entity.id
    columns = []
    found = value_link(model)
    for ref in refs:
        parts: list[ColumnElement[Any]] = []
        for link in ref.registries:
            labels = link.registry.__table__.alias()  # type: ignore[attr-defined]
            parts.append(
                sa.select(JsonArrayAgg(labels.c[link.label_field]))
                .select_from(link.table)
                .join(labels, labels.c.id == link.label_column)
                .where(link.record_column == pk, link.feature_column == ref.id)
                .scalar_subquery()
            )
        if not ref.registries and found is not None:
            table, record_col, value_col = found
            values = FeatureValue.__table__.alias()
            parts.append(
                sa.select(JsonArrayAgg(values.c.value, is_json=True))
                .select_from(table)
                .join(values, values.c.id == value_col)
                .where(record_col == pk, values.c.feature_id == ref.id)
                .scalar_subquery()
            )
        columns.append((ref.name, parts))
    return columns
