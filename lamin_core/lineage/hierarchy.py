"""Drawings of a record's hierarchy: ``cell_type.view_parents()``, LaminDB's ontology view.

The parents of a record (an ontology term, a ULabel, a Record) are drawn with the lineage
drawing code: the same graph value, DOT, Mermaid and SVG (with graphviz or in pure Python), so
a machine without graphviz or a network still gets a picture. Parents are drawn above their
children; the record itself is highlighted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa

from lamin_core.errors import FieldError, ValidationError, did_you_mean
from lamin_core.lineage.drawing import show
from lamin_core.lineage.graph import LineageGraph
from lamin_core.models.hierarchy import parent_links, walk_hierarchy

__all__ = ["RECORD", "hierarchy_graph", "view_parents"]

RECORD = "record"


def _label_field(registry: type, field: Any) -> str:
    """Return the column `field` names (a name or ``Registry.field``), default the name field."""
    columns: set[str] = set(sa.inspect(registry).column_attrs.keys())
    if field is None:
        default = str(getattr(registry, "_name_field", "name"))
        return default if default in columns else "uid"
    name = field if isinstance(field, str) else getattr(field, "key", None)
    if not isinstance(name, str) or name not in columns:
        shown = name if name is not None else repr(field)
        raise FieldError(
            f"Unknown field {shown!r} on {registry.__name__}.{did_you_mean(str(shown), columns)} "
            f"Label the records with one of: {', '.join(sorted(columns))}."
        )
    return name


def _node(record: Any) -> str:
    return f"{RECORD}:{record.id}"


def hierarchy_graph(
    record: Any, *, field: Any = None, with_children: bool = False, distance: int = 5
) -> LineageGraph:
    """Return the graph of `record`'s ancestors (and descendants), edges parent -> child.

    Args:
        record: A saved record of a registry with parents (Record, ULabel, CellType, ...).
        field: The field to label the nodes with; default: the registry's name field.
        with_children: Also walk down to the descendants.
        distance: How many levels to walk in each direction (at least 1).

    Raises:
        ValidationError: the registry has no parents, the record is not saved, or `distance`
            is not a positive integer.
        FieldError: `field` is not a field of the registry.
    """
    registry = type(record)
    parent_links(registry)
    label_field = _label_field(registry, field)
    if isinstance(distance, bool) or not isinstance(distance, int) or distance < 1:
        raise ValidationError(
            f"view_parents() distance must be a positive integer (levels to draw), got "
            f"{distance!r}."
        )
    if record.id is None:
        raise ValidationError(
            f"Cannot draw the parents of an unsaved {registry.__name__}: save() it first."
        )
    with record._instance().reading() as session:
        links = walk_hierarchy(session, registry, [record.id], "parents", depth=distance)
        if with_children:
            links += walk_hierarchy(session, registry, [record.id], "children", depth=distance)
        ids = {record.id} | {id_ for link in links for id_ in link}
        records = {
            r.id: r for r in session.scalars(sa.select(registry).where(registry.id.in_(ids)))
        }
    graph = LineageGraph(target=_node(record))
    for id_ in [record.id, *sorted(ids - {record.id})]:
        if id_ in records:
            found = records[id_]
            label = getattr(found, label_field)
            graph.nodes[_node(found)] = (
                str(label if label is not None else found.uid),
                RECORD,
                f"{registry.__name__} {found.uid}",
            )
    for parent, child in dict.fromkeys(links):
        if parent in records and child in records:
            graph.edges.append((f"{RECORD}:{parent}", f"{RECORD}:{child}"))
    return graph


def view_parents(
    record: Any,
    *,
    field: Any = None,
    with_children: bool = False,
    distance: int = 5,
    path: str | Path | None = None,
) -> Path | None:
    """Draw `record`'s parents (``record.view_parents()``): inline in a notebook, else to a file.

    Returns:
        The file written, or None when a notebook showed the drawing inline.
    """
    graph = hierarchy_graph(record, field=field, with_children=with_children, distance=distance)
    label = graph.nodes[graph.target][0]
    return show(
        graph,
        None if path is None else Path(path),
        name=f"parents-{record.uid}",
        what=f"parents of {type(record).__name__} {label!r}",
    )
