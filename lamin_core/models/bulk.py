"""Save many records at once, reusing those the catalog already has (``ln.save``).

A notebook re-run builds its records again; saving them must neither fail on a unique name nor
make a second "DMSO". As LaminDB's ``ln.save``, a record whose natural key (see
``Record._natural_keys``) is already in the catalog, or earlier in the same list, is not written
again: the existing one is used and the log says so. Everything new is written in one
transaction per kind of record (plain registries together, bio records with their ancestors;
artifacts and collections each with their files).

Examples:
    >>> labels = [ln.ULabel(name=name) for name in ["DMSO", "IFNG"]]
    >>> ln.save(labels)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy.orm.attributes import instance_state

from lamin_core.errors import ValidationError
from lamin_core.models.base import Record, log_reuse

__all__ = ["save"]


def _key_values(record: Record) -> list[tuple[Any, ...]]:
    """Return the identities of `record` by each natural key it has: (registry, key, values)."""
    registry = type(record)
    values = {name: getattr(record, name) for fields in registry._natural_keys for name in fields}
    return [
        (registry, fields, tuple(_comparable(values[name]) for name in fields))
        for fields in registry._given_natural_keys(values)
    ]


def _comparable(value: Any) -> Any:
    return ("record", type(value).__name__, value.id) if isinstance(value, Record) else value


def save(records: Iterable[Record]) -> list[Record]:
    """Save records in bulk; records whose natural key exists are reused, not duplicated.

    Args:
        records: Records of any registries, new or saved (changes to saved ones are written).

    Returns:
        The records as saved, in order: a record that duplicated an existing one (in the
        catalog or earlier in `records`) is replaced by that one.

    Raises:
        ValidationError: an element is not a record; nothing is saved.
        IntegrityError: a record breaks another constraint; no record other than artifacts and
            collections is saved.

    Examples:
        >>> ln.save([ln.ULabel(name="DMSO"), ln.ULabel(name="IFNG")])
    """
    records = list(records)
    for position, record in enumerate(records):
        if not isinstance(record, Record):
            raise ValidationError(
                f"ln.save() takes records, got {record!r} at position {position}. Pass a list "
                "of records, e.g. ln.save([ln.ULabel(name='DMSO')])."
            )
    result: list[Record] = []
    seen: dict[tuple[Any, ...], Record] = {}
    to_write: list[Record] = []
    in_catalog = _saved_twins(records)
    for record in records:
        if instance_state(record).has_identity:  # saved: write its changes, and it is the one
            for key in _key_values(record):
                seen.setdefault(key, record)
            result.append(record)
            to_write.append(record)
            continue
        keys = _key_values(record)
        duplicate = next((seen[key] for key in keys if key in seen), None)
        if duplicate is not None:
            log_reuse(duplicate, next(fields for _, fields, _ in keys))
        else:
            fields, existing = in_catalog.get(id(record), (None, None))
            if existing is not None and fields is not None:
                log_reuse(existing, fields)
                duplicate = existing
        if duplicate is not None:
            result.append(duplicate)
            continue
        for key in keys:
            seen[key] = record
        result.append(record)
        to_write.append(record)
    _write(to_write)
    return result


def _saved_twins(records: list[Record]) -> dict[int, tuple[Any, Any]]:
    """Return, by `id()` of each unsaved record, the saved record with its natural key (if any),
    looked up a few queries per registry instead of one per record."""
    unsaved: dict[type[Record], list[Record]] = {}
    for record in records:
        if not instance_state(record).has_identity:
            unsaved.setdefault(type(record), []).append(record)
    twins: dict[int, tuple[Any, Any]] = {}
    for registry, group in unsaved.items():
        keyed = [
            {name: getattr(r, name) for fields in registry._natural_keys for name in fields}
            for r in group
        ]
        for record, found in zip(group, registry._find_existing_many(keyed)):
            twins[id(record)] = found
    return twins


def _write(records: list[Record]) -> None:
    """Write records grouped by how their registry saves many (`Record._save_many`).

    Plain records of every registry and bio records (with their ancestors) are written in ONE
    `writing()` block: a failure in any of them saves none. Artifacts and collections follow one
    by one, as each commits on its own once its file is in place (`Record._commits_itself`).
    """
    if not records:
        return
    groups: dict[Any, list[Record]] = {}
    for record in records:
        groups.setdefault(type(record)._save_many.__func__, []).append(record)  # type: ignore[attr-defined]
    joined = [g for g in groups.values() if not type(g[0])._commits_itself]
    own = [g for g in groups.values() if type(g[0])._commits_itself]
    if joined:
        with records[0]._instance().writing():
            for group in joined:
                type(group[0])._save_many(group)
    for group in own:
        type(group[0])._save_many(group)
