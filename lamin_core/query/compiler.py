"""Compile `Q` trees into SQLAlchemy boolean expressions: the pure heart of `filter()`.

Relations are followed with uncorrelated ``IN`` subqueries over aliased tables, never with
joins on the main query, so a filter on a to-many relation cannot duplicate rows and the main
statement stays ``SELECT ... FROM <registry> WHERE ...``. Within one AND group, lookups through
the same relation share one subquery (``filter(ulabels__name="a", ulabels__is_type=False)``
means one label with both properties), as in Django. Under negation, comparisons on nullable
columns also require the column to be non-null, so ``exclude(key="x")`` keeps rows whose key is
NULL.

Examples:
    >>> from lamin_core.models import Artifact
    >>> condition = compile_filter(Artifact, Q(suffix=".jpg") | Q(ulabels__name="DMSO"))
    >>> sa.select(Artifact).where(condition)
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import RelationshipProperty, aliased
from sqlalchemy.orm.interfaces import MANYTOMANY, MANYTOONE, ONETOMANY
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import NamedFromClause

from lamin_core.errors import ValidationError
from lamin_core.query.feature_filters import feature_condition, json_comparison
from lamin_core.query.fields import Leaf, resolve_leaf
from lamin_core.query.q import Q
from lamin_core.query.sql import DatePart

if TYPE_CHECKING:
    from lamin_core.query.feature_filters import FeatureRef

__all__ = [
    "Node",
    "RelatedRows",
    "compile_filter",
    "compile_node",
    "related_column",
    "related_rows",
    "resolve_q",
]


@dataclass
class Node:
    """A resolved `Q`: leaves are validated lookups, ready to compile."""

    connector: str = Q.AND
    negated: bool = False
    children: list[Any] = field(default_factory=list)


def resolve_q(
    model: Any, q: Q, *, feature_for: Callable[[str], FeatureRef | None] | None = None
) -> Node:
    """Resolve every lookup of `q` against `model` (raising FieldError/ValidationError)."""
    node = Node(q.connector, q.negated)
    for child in q.children:
        if isinstance(child, Q):
            node.children.append(resolve_q(model, child, feature_for=feature_for))
        elif isinstance(child, tuple) and len(child) == 2 and isinstance(child[0], str):
            key, value = child
            node.children.append(resolve_leaf(model, key, value, feature_for=feature_for))
        elif isinstance(child, ColumnElement):
            node.children.append(child)
        else:
            raise ValidationError(
                f"filter() got {child!r} ({type(child).__name__}); pass Q objects, SQLAlchemy "
                "expressions, or keyword lookups."
            )
    return node


def compile_filter(
    model: Any,
    *queries: Any,
    feature_for: Callable[[str], FeatureRef | None] | None = None,
    **lookups: Any,
) -> ColumnElement[bool]:
    """Resolve and compile lookups and `Q` objects on `model` into one boolean expression.

    Raises:
        FieldError: an unknown field, relation or lookup.
        ValidationError: a value that does not fit its field or lookup.
    """
    return compile_node(model, resolve_q(model, Q(*queries, **lookups), feature_for=feature_for))


def _is_existence(leaf: Leaf) -> bool:
    """``rel__isnull=...`` on a relation: a test for related rows, not a comparison."""
    return (
        len(leaf.hops) == 1
        and leaf.lookup.lookup_name == "isnull"
        and leaf.column == leaf.hops[0].mapper.primary_key[0].key
    )


def _groups(node: Node) -> list[list[Any]]:
    if node.connector != Q.AND:
        return [[child] for child in node.children]
    groups: list[list[Any]] = []
    by_relation: dict[str, list[Any]] = {}
    for child in node.children:
        if isinstance(child, Leaf) and child.hops and not _is_existence(child):
            key = child.hops[0].key
            if key not in by_relation:
                by_relation[key] = []
                groups.append(by_relation[key])
            by_relation[key].append(child)
        else:
            groups.append([child])
    return groups


def compile_node(entity: Any, node: Node, negated: bool = False) -> ColumnElement[bool]:
    """Compile a resolved `Node` into a boolean expression on `entity` (a class or an alias)."""
    inner_negated = negated != node.negated
    parts: list[ColumnElement[bool]] = []
    for group in _groups(node):
        first = group[0]
        if isinstance(first, Node):
            parts.append(compile_node(entity, first, inner_negated))
        elif isinstance(first, ColumnElement):
            parts.append(first)
        elif first.hops:
            parts.append(_compile_relation(entity, first.hops[0], group, inner_negated))
        else:
            parts.append(_compile_leaf(entity, first, inner_negated))
    if not parts:
        expression: ColumnElement[bool] = sa.true()
    elif len(parts) == 1:
        expression = parts[0]
    else:
        expression = sa.and_(*parts) if node.connector == Q.AND else sa.or_(*parts)
    return sa.not_(expression) if node.negated else expression


def _attribute(entity: Any, column: Any) -> Any:
    """Return the attribute of `entity` (class or alias) mapped to a table column."""
    mapper = sa.inspect(entity).mapper
    return getattr(entity, mapper.get_property_by_column(column).key)


def _compile_leaf(entity: Any, leaf: Leaf, negated: bool) -> ColumnElement[bool]:
    if leaf.feature is not None:
        return feature_condition(entity, leaf)
    assert leaf.column is not None
    lhs: Any = getattr(entity, leaf.column)
    column = sa.inspect(entity).mapper.column_attrs[leaf.column].columns[0]
    if isinstance(column.type, sa.JSON) and leaf.lookup.lookup_name != "isnull":
        condition = json_comparison(lhs, leaf.lookup, leaf.value)
    else:
        expression = lhs if leaf.transform is None else DatePart(lhs, leaf.transform)
        condition = leaf.lookup.as_sql(expression, leaf.value)
    if (
        negated
        and column.nullable
        and leaf.lookup.lookup_name != "isnull"
        and leaf.value is not None
        and not (isinstance(leaf.value, list) and None in leaf.value)
    ):
        condition = sa.and_(condition, lhs.is_not(None))
    return condition


def _pairs(relation: RelationshipProperty[Any]) -> list[tuple[Any, Any]]:
    return list(relation.local_remote_pairs or ())


def _single_pair(relation: RelationshipProperty[Any]) -> bool:
    if relation.secondary is not None:
        return (
            len(relation.synchronize_pairs) == 1
            and len(relation.secondary_synchronize_pairs or ()) == 1
        )
    return len(_pairs(relation)) == 1


@functools.cache
def _link(table: sa.Table) -> NamedFromClause:
    """Return an alias of the link table `table` for subqueries, made once per table.

    Each subquery is its own SQL scope, so one alias serves them all; making its column
    collection costs more than compiling the rest of a typical filter.
    """
    return table.alias()


def _compile_relation(
    entity: Any, relation: RelationshipProperty[Any], leaves: list[Leaf], negated: bool
) -> ColumnElement[bool]:
    target = relation.mapper
    pk = target.primary_key[0].key
    if len(leaves) == 1 and _is_existence(leaves[0]):
        return _existence(entity, relation, want_related=not leaves[0].value)
    shifted = [leaf.shifted() for leaf in leaves]
    only_pk = all(
        not leaf.hops and leaf.feature is None and leaf.column == pk and leaf.transform is None
        for leaf in shifted
    )
    if not _single_pair(relation):
        alias = aliased(target.class_)
        inner = compile_node(alias, Node(children=list(shifted)))
        attribute = getattr(entity, relation.key)
        return attribute.any(inner) if relation.uselist else attribute.has(inner)
    if relation.direction is MANYTOONE:
        ((local, remote),) = relation.local_remote_pairs
        local_attr = _attribute(entity, local)
        if only_pk:
            conditions = [leaf.lookup.as_sql(local_attr, leaf.value) for leaf in shifted]
            condition = sa.and_(*conditions) if len(conditions) > 1 else conditions[0]
        else:
            alias = aliased(target.class_)
            inner = compile_node(alias, Node(children=list(shifted)))
            condition = local_attr.in_(
                sa.select(_attribute(alias, remote)).where(inner).correlate(None)
            )
        if negated and local.nullable:
            condition = sa.and_(local_attr.is_not(None), condition)
        return condition
    if relation.direction is ONETOMANY:
        ((local, remote),) = relation.local_remote_pairs
        alias = aliased(target.class_)
        inner = compile_node(alias, Node(children=list(shifted)))
        remote_attr = _attribute(alias, remote)
        subquery = sa.select(remote_attr).where(remote_attr.is_not(None), inner)
        return _attribute(entity, local).in_(subquery.correlate(None))
    assert relation.direction is MANYTOMANY and relation.secondary is not None
    ((local, secondary_local),) = relation.synchronize_pairs
    ((remote, secondary_remote),) = relation.secondary_synchronize_pairs or ()
    link = _link(relation.secondary)
    link_local, link_remote = link.c[secondary_local.name], link.c[secondary_remote.name]
    if only_pk:
        conditions = [leaf.lookup.as_sql(link_remote, leaf.value) for leaf in shifted]
        subquery = sa.select(link_local).where(*conditions)
    else:
        alias = aliased(target.class_)
        inner = compile_node(alias, Node(children=list(shifted)))
        subquery = (
            sa.select(link_local)
            .select_from(link.join(alias, _attribute(alias, remote) == link_remote))
            .where(inner)
        )
    return _attribute(entity, local).in_(subquery.correlate(None))


def _existence(
    entity: Any, relation: RelationshipProperty[Any], *, want_related: bool
) -> ColumnElement[bool]:
    """Whether a record has any related record through `relation` (``rel__isnull=False``)."""
    if not _single_pair(relation):
        attribute = getattr(entity, relation.key)
        condition = attribute.any() if relation.uselist else attribute.has()
    elif relation.direction is MANYTOONE:
        ((local, _remote),) = relation.local_remote_pairs
        local_attr = _attribute(entity, local)
        return local_attr.is_not(None) if want_related else local_attr.is_(None)
    elif relation.direction is ONETOMANY:
        ((local, remote),) = relation.local_remote_pairs
        alias = aliased(relation.mapper.class_)
        remote_attr = _attribute(alias, remote)
        subquery = sa.select(remote_attr).where(remote_attr.is_not(None)).correlate(None)
        condition = _attribute(entity, local).in_(subquery)
    else:
        assert relation.secondary is not None
        ((local, secondary_local),) = relation.synchronize_pairs
        link = _link(relation.secondary)
        subquery = sa.select(link.c[secondary_local.name]).correlate(None)
        condition = _attribute(entity, local).in_(subquery)
    return condition if want_related else sa.not_(condition)


@dataclass(frozen=True)
class RelatedRows:
    """The records reached from each `entity` row through a path, as SQL to select them from.

    A related row belongs to the `entity` row whose `outer_key` equals its `key`: a correlated
    subquery selects ``WHERE key = outer_key``; a grouped subquery groups by `key` and is
    joined on it.
    """

    from_clause: Any
    key: ColumnElement[Any]
    outer_key: ColumnElement[Any]
    value: ColumnElement[Any]


def related_rows(
    entity: Any, hops: tuple[RelationshipProperty[Any], ...], column: str
) -> RelatedRows:
    """Return how to select `column` of the records reached from `entity` rows via `hops`."""
    first = hops[0]
    current = aliased(first.mapper.class_)
    if first.direction in (MANYTOONE, ONETOMANY) and _single_pair(first):
        ((local, remote),) = first.local_remote_pairs
        from_clause: Any = current
        key, outer_key = _attribute(current, remote), _attribute(entity, local)
    elif first.secondary is not None and _single_pair(first):
        ((local, secondary_local),) = first.synchronize_pairs
        ((remote, secondary_remote),) = first.secondary_synchronize_pairs or ()
        link = _link(first.secondary)
        from_clause = link.join(
            current, _attribute(current, remote) == link.c[secondary_remote.name]
        )
        key, outer_key = link.c[secondary_local.name], _attribute(entity, local)
    else:
        root = aliased(sa.inspect(entity).mapper.class_)
        from_clause = sa.orm.join(root, current, getattr(root, first.key).of_type(current))
        key, outer_key = root.id, entity.id
    for relation in hops[1:]:
        following = aliased(relation.mapper.class_)
        from_clause = sa.orm.join(
            from_clause, following, getattr(current, relation.key).of_type(following)
        )
        current = following
    return RelatedRows(from_clause, key, outer_key, getattr(current, column))


def related_column(
    entity: Any,
    hops: tuple[RelationshipProperty[Any], ...],
    column: str,
    *,
    aggregate: Callable[[Any], ColumnElement[Any]] | None = None,
) -> ColumnElement[Any]:
    """Return a correlated scalar subquery: `column` reached from each `entity` row via `hops`.

    With `aggregate` (e.g. `JsonArrayAgg`, ``sa.func.min``), the values of a to-many path are
    aggregated into one per row; without it the path must be to-one.
    """
    rows = related_rows(entity, hops, column)
    selected = aggregate(rows.value) if aggregate is not None else rows.value
    statement = sa.select(selected).select_from(rows.from_clause).where(rows.key == rows.outer_key)
    return statement.correlate(entity).scalar_subquery()
