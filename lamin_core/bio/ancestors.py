"""Save bio records with their ontology ancestors and parent links, in one transaction.

A term saved alone would have no parents in the catalog, so ``record.parents`` would be empty and
queries up the hierarchy would miss it. Saving a record made from an ontology therefore also
saves its ancestors (those not yet in the registry) and every missing parent link, as bionty does
with ``auto_save_parents``; ``bt.settings.auto_save_parents = False`` turns this off.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError as SAIntegrityError
from sqlalchemy.orm import Session

from lamin_core.bio.registry import (
    PENDING,
    PublicRows,
    public_table,
    records_from_public,
    settings,
)
from lamin_core.errors import IntegrityError
from lamin_core.models.base import utcnow
from lamin_core.models.insert import check_new_writes, insert_new, new_by_registry

if TYPE_CHECKING:
    from lamin_core.models.base import Record

__all__ = ["save_records"]


def save_records(records: Sequence[Record], bulk: Sequence[PublicRows] = ()) -> None:
    """Save records, their ancestors from the ontology and the parent links, in one transaction.

    Args:
        records: Records to save (ORM objects).
        bulk: Public rows to insert with one statement per registry (many genes).

    Raises:
        IntegrityError: a record breaks a constraint (e.g. an ontology id already taken);
            nothing is saved.
    """
    if not records and not bulk:
        return
    from lamin_core.instance import get_instance

    instance = records[0]._instance() if records else get_instance()
    if records:
        check_new_writes(instance, records)
    if bulk:
        instance.check_write(
            f"save {bulk[0].registry.__name__} records",
            [(bulk[0].registry.__table__.name, "INSERT")],
        )
    named = type(records[0]).__name__ if records else bulk[0].registry.__name__
    try:
        with instance.writing() as session:
            rest = [r for r in records if sa.inspect(r).has_identity]
            for group in new_by_registry(records).values():
                rest += insert_new(session, instance, group)
            session.add_all(rest)
            for public in bulk:
                session.add(public.source)
                if public.organism is not None:
                    session.add(public.organism)
            for record in list(session.new):  # records plus their new Source/Organism rows
                if hasattr(record, "_fill_defaults"):
                    record._fill_defaults(instance)
            session.flush()
            for public in bulk:
                _insert_rows(session, instance, public)
            if settings.auto_save_parents:
                _save_ancestors(session, instance, records)
            session.flush()
    except SAIntegrityError as error:
        raise IntegrityError(
            f"Cannot save {named} records: one breaks a constraint ({error.orig}); nothing was "
            f"saved. Fetch existing records with {named}.from_values(...) instead of creating "
            "them."
        ) from error
    instance.session.info.pop(PENDING, None)


def _insert_rows(session: Session, instance: Any, public: PublicRows) -> None:
    """Insert public rows with one statement, with the columns `_fill_defaults` would set."""
    from lamin_core.tracking import current_run

    if not public.rows:
        return
    run = current_run(instance)
    registry = public.registry
    common = {
        "source_id": public.source.id,
        "created_by_id": instance.user_id,
        "run_id": run.id if run is not None else None,
        "created_at": utcnow(),
    }
    if public.organism is not None:
        common["organism_id"] = public.organism.id
    rows = [{**row, **common, "uid": registry._new_uid()} for row in public.rows]
    session.execute(sa.insert(registry.__table__), rows)


def _save_ancestors(session: Session, instance: Any, records: Sequence[Record]) -> None:
    """Create missing ancestors of records made from an ontology and link every parent pair."""
    by_registry: dict[Any, list[Any]] = {}
    for record in records:
        if getattr(record, "_public_parents", None) is not None:
            by_registry.setdefault(type(record), []).append(record)
    for registry, fresh in by_registry.items():
        public = public_table(registry, source=fresh[0].source)
        parents = public._table.df["parents"]
        closure: dict[str, list[str]] = {}
        frontier = [r.ontology_id for r in fresh]
        while frontier:
            term = frontier.pop()
            if term in closure or term not in parents.index:
                continue
            closure[term] = list(parents[term])
            frontier.extend(closure[term])
        column = registry.ontology_id
        found = {
            r.ontology_id: r
            for r in session.scalars(sa.select(registry).where(column.in_(list(closure))))
        }
        missing = [t for t in closure if t not in found]
        created: list[Any] = records_from_public(
            registry, "ontology_id", missing, source=fresh[0].source, session=session
        )
        for record in created:
            record._fill_defaults(instance)
        session.add_all(created)
        session.flush()
        found.update({r.ontology_id: r for r in created})
        link = registry.parents.property.secondary
        pairs = {
            (found[child].id, found[parent].id)
            for child in [r.ontology_id for r in fresh] + missing
            for parent in closure.get(child, [])
            if parent in found
        }
        if pairs:
            existing = set(
                session.execute(
                    sa.select(link.c.child_id, link.c.parent_id).where(
                        link.c.child_id.in_({c for c, _ in pairs})
                    )
                ).all()
            )
            rows = [{"child_id": c, "parent_id": p} for c, p in pairs - existing]
            if rows:
                session.execute(link.insert(), rows)
        for record in fresh + created:
            record._public_parents = None
            session.expire(record, ["parents", "children"])
