"""Resolve names to records in a type hierarchy, where a name is unique only within its type.

In LaminDB 2.x ``Record(name="s1")`` at the root and ``Record(name="s1", type=lab_a)`` are two
records; so are ``Feature(name="sample_name", type=scope_a)`` and the same name under
``scope_b``. A value ``"s1"`` of a column validated against ``cat[Record]`` therefore names the
record at the shallowest level that has one (the root first): the closest definition wins, as a
local name shadows an outer one. Two records at that same level (under ``LabA`` and ``LabB``)
are ambiguous: the value cannot be linked until the feature's dtype names a type or one of them
is renamed.

Examples:
    >>> resolved = resolve_by_level(session, ln.Record, "name", ["s1"], conditions=[])
    >>> resolved.records["s1"], resolved.ambiguous
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

__all__ = ["Resolved", "has_levels", "resolve_by_level"]

CHUNK = 10_000


def has_levels(registry: Any) -> bool:
    """Whether a registry's names are unique per type (it has ``type_id`` and ``is_type``)."""
    columns = getattr(registry, "__table__", None)
    return columns is not None and {"type_id", "is_type"} <= set(columns.c.keys())


@dataclass
class Resolved:
    """Which record each value names, and the values that name several at one level.

    Attributes:
        records: Value -> the record it names (the shallowest level that has the value).
        ambiguous: Value -> the message saying which records it matches at that level.
    """

    records: dict[Any, Any] = field(default_factory=dict)
    ambiguous: dict[Any, str] = field(default_factory=dict)


def _depths(session: Session, registry: Any, type_ids: Iterable[int | None]) -> dict[Any, int]:
    """Return type id -> depth of a record of that type (None: the root, depth 0)."""
    parent: dict[int, int | None] = {}
    todo = {i for i in type_ids if i is not None}
    while todo:  # walk up the types, one query per level; hierarchies are shallow
        rows = session.execute(
            sa.select(registry.id, registry.type_id).where(registry.id.in_(list(todo)))
        ).all()
        parent.update({row[0]: row[1] for row in rows})
        todo = {row[1] for row in rows if row[1] is not None and row[1] not in parent}

    def depth(type_id: int | None) -> int:
        steps, seen = 0, set()
        while type_id is not None and type_id not in seen:
            seen.add(type_id)
            steps += 1
            type_id = parent.get(type_id)
        return steps

    return {type_id: depth(type_id) for type_id in {None, *parent}}


def _type_names(session: Session, registry: Any, ids: set[int]) -> dict[int, str]:
    rows = session.execute(sa.select(registry.id, registry.name).where(registry.id.in_(ids)))
    return {row[0]: row[1] for row in rows}


def resolve_by_level(
    session: Session,
    registry: Any,
    field_name: str,
    values: Sequence[Any],
    conditions: list[Any] | None = None,
) -> Resolved:
    """Return the record each value names, preferring the shallowest level of the hierarchy.

    Args:
        session: The catalog session.
        registry: The registry, e.g. ``ln.Record`` or ``ln.Feature``.
        field_name: The field the values are of, e.g. ``"name"``.
        values: Distinct values.
        conditions: SQL conditions the records must meet (the records of a type).

    Returns:
        A `Resolved`: for a registry without types, the oldest record per value.
    """
    column = getattr(registry, field_name)
    candidates: dict[Any, list[Any]] = {}
    wanted = list(dict.fromkeys(values))
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start : start + CHUNK]
        statement = (
            sa.select(registry).where(column.in_(chunk), *(conditions or [])).order_by(registry.id)
        )
        for record in session.scalars(statement):
            candidates.setdefault(getattr(record, field_name), []).append(record)
    resolved = Resolved()
    if not has_levels(registry):
        resolved.records = {value: found[0] for value, found in candidates.items()}
        return resolved
    depths = _depths(session, registry, {r.type_id for rs in candidates.values() for r in rs})
    clashes: dict[Any, list[Any]] = {}
    for value, found in candidates.items():
        level = min(depths[r.type_id] for r in found)
        closest = [r for r in found if depths[r.type_id] == level]
        if len(closest) == 1:
            resolved.records[value] = closest[0]
        else:
            clashes[value] = closest
    if clashes:
        type_ids = {r.type_id for rs in clashes.values() for r in rs if r.type_id is not None}
        names = _type_names(session, registry, type_ids)
        for value, found in clashes.items():
            resolved.ambiguous[value] = _ambiguity(registry, value, found, depths, names)
    return resolved


def _ambiguity(
    registry: Any, value: Any, found: list[Any], depths: dict[Any, int], names: dict[int, str]
) -> str:
    """Return LaminDB's message for a value naming several records at one level, and the fix."""
    kind = registry.__name__
    depth = depths[found[0].type_id]
    if depth == 0:
        where = f"found {len(found)} root-level records"
    else:
        under = sorted(names.get(r.type_id, str(r.type_id)) for r in found)
        where = f"found {len(found)} records at depth {depth} (under types: {under})"
    if kind == "Feature":
        fix = "list one of them in the schema's features, or use ln.Schema(itype=<feature type>)"
    else:
        fix = f"give the feature a dtype of one type (dtype=<a {kind} with is_type=True>)"
    return f"Ambiguous match for {kind} {value!r}: {where}; {fix}, or rename all but one"
