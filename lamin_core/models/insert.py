"""Many new records in bulk: built from plain rows, inserted without the ORM's unit of work.

``bt.Gene.from_values(<60,000 ids>)`` then ``ln.save(genes)`` spent most of its time in
per-object machinery: attribute events on construction (a value check, a history entry per
field), then the unit of work's per-object bookkeeping (history, dependency sync of the
source and organism foreign keys). Two shortcuts keep what a record is and remove that work:

- `new_records` builds records from rows of values: each value goes through the same column
  check as an assignment (`lamin_core.errors.values.column_check`), and lands in the record
  without an event; relations are set normally, so a record saved on its own later
  (``gene.save()``) is written exactly as before.
- `insert_new` writes new records with one multi-row INSERT per batch (`above.insert_rows`,
  which also keeps the search index), then gives each record its id and attaches it to the
  session as a persistent record: attributes, ``.save()`` and relations work as after a flush.
  Should the transaction roll back, the records become unsaved again, with the values they had
  (as the unit of work does with records it inserted).

Records that need more than their own row (a collection such as ``parents`` or ``projects``
given before the save, a related record that is not saved yet and not made here) are left to
the unit of work: `insert_new` returns them.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, SessionTransaction
from sqlalchemy.orm.attributes import instance_dict, instance_state
from sqlalchemy.orm.interfaces import MANYTOONE

from lamin_core.binding import above
from lamin_core.errors.values import column_check
from lamin_core.ids import base62_many
from lamin_core.instance.access import record_space_id

if TYPE_CHECKING:
    from lamin_core.instance import Instance
    from lamin_core.models.base import Record

__all__ = ["MIN_BULK_RECORDS", "check_new_writes", "insert_new", "new_by_registry", "new_records"]

# from this many new records of one registry on, `insert_new` writes them (fewer: the ORM)
MIN_BULK_RECORDS = 100

_UNSET = object()
# set from the catalog when None, as `Record._fill_defaults` does
_FILLED_WHEN_NONE = frozenset({"created_by_id", "run_id"})

# records inserted by `insert_new`, by the transaction they were inserted in, with their values
# before the save: a rollback of that transaction (or of one enclosing it) makes them unsaved
_inserted: weakref.WeakKeyDictionary[SessionTransaction, list[tuple[Any, dict[str, Any]]]] = (
    weakref.WeakKeyDictionary()
)


def new_records(
    registry: type[Record], rows: Iterable[dict[str, Any]], **related: Any
) -> list[Any]:
    """Return new unsaved records of `registry` made from rows of column values.

    The values are checked as an assignment checks them (type, length, finiteness), the uids
    are made in one batch, and `related` records (``source=...``) are set on each.

    Args:
        registry: The registry.
        rows: Column values by field name (no ``id``).
        related: Relations to set on every record (a record or None each).

    Raises:
        ValidationError: a value does not fit its column; no record is returned.
    """
    rows = list(rows)
    mapper = sa.inspect(registry)
    checks: dict[str, Any] = {}
    for key in {key for row in rows[:1] for key in row}:
        (column,) = mapper.column_attrs[key].columns
        checks[key] = (column_check(column), f"{registry.__name__}.{key}")
    manager = sa.orm.instrumentation.manager_of_class(registry)
    uids = base62_many(registry._full_uid_length(), len(rows))
    records = []
    for row, uid in zip(rows, uids):
        values = {key: checks[key][0](value, checks[key][1]) for key, value in row.items()}
        values.setdefault("uid", uid)
        record = manager.new_instance()
        instance_dict(record).update(values)
        for name, value in related.items():
            setattr(record, name, value)  # an event: the unit of work syncs the foreign key
        records.append(record)
    return records


def check_new_writes(instance: Instance, records: Sequence[Record]) -> None:
    """Refuse, before anything is written, records the database role may not write.

    Saved records are checked one by one (`Record._check_write`); new ones once per registry
    and space, which is what the check depends on.

    Raises:
        NoWriteAccess: the role is read-only, or a record is in a space it cannot use.
    """
    checked: set[tuple[type, Any]] = set()
    for record in records:
        if instance_state(record).has_identity:
            record._check_write(instance)
            continue
        key = (type(record), record_space_id(record))
        if key not in checked:
            checked.add(key)
            record._check_write(instance, "INSERT")


def new_by_registry(records: Iterable[Record]) -> dict[type[Record], list[Record]]:
    """Return the unsaved records by registry, in order (what `insert_new` takes)."""
    groups: dict[type[Record], list[Record]] = {}
    for record in records:
        if not instance_state(record).has_identity:
            groups.setdefault(type(record), []).append(record)
    return groups


def insert_new(session: Session, instance: Instance, records: Sequence[Record]) -> list[Any]:
    """Insert new records of one registry in bulk; return those left to the unit of work.

    Fills created_by and run as `Record._fill_defaults` does, saves their new related records
    (a first-use Source or Organism) through the session first, and inserts the others with
    `above.insert_rows`. Fewer than `MIN_BULK_RECORDS` records are all returned.

    Args:
        session: The session, inside `instance.writing()`.
        instance: The catalog written to.
        records: New (transient) records of one registry.
    """
    if len(records) < MIN_BULK_RECORDS:
        return list(records)
    registry = type(records[0])
    mapper = sa.inspect(registry)
    run = above.current_run(instance)
    if run is not None and (
        getattr(run, "tracked_space", None) is not None
        or bool(getattr(run, "tracked_projects", ()))
    ):
        return list(records)  # a space or projects from ln.track(): per record, as before
    if mapper.dispatch.before_insert or mapper.dispatch.after_insert:
        return list(records)  # checks that run per row (a Feature's dtype): the unit of work
    relations = [rel for rel in mapper.relationships if not rel.viewonly]
    scalars = [rel for rel in relations if rel.direction is MANYTOONE]
    collections = [rel.key for rel in relations if rel.uselist]
    bulk, rest = [], []
    for record in records:
        values = instance_dict(record)
        if record in session or any(values.get(key) for key in collections):
            rest.append(record)
        else:
            bulk.append(record)
    if len(bulk) < MIN_BULK_RECORDS:
        return list(records)
    _save_related(session, instance, bulk, scalars)
    defaults = _defaults(registry, instance, run)
    columns = [column for column in registry.__table__.columns if column.key != "id"]
    names = [mapper.get_property_by_column(column).key for column in columns]
    before, rows = [], []
    for record in bulk:
        values = instance_dict(record)
        before.append(dict(values))
        for rel in scalars:
            target = values.get(rel.key)
            if target is not None:
                for local, remote in rel.local_remote_pairs:
                    values[mapper.get_property_by_column(local).key] = getattr(
                        target, str(remote.key)
                    )
        row = {}
        for name, column in zip(names, columns):
            value = values.get(name, _UNSET)
            if value is _UNSET or (value is None and name in _FILLED_WHEN_NONE):
                value = defaults[name]
            row[column.key] = value
        if row.get("uid") is None:
            row["uid"] = registry._new_uid()
        rows.append(row)
    # registered first: a failure from here on (half the batches written) unsaves them too
    transaction = session.get_nested_transaction() or session.get_transaction()
    if transaction is not None:
        _inserted.setdefault(transaction, []).extend(zip(bulk, before))
    ids = above.insert_rows(session, registry.__table__, rows)
    for record, row, record_id in zip(bulk, rows, ids):
        values = instance_dict(record)
        values.update({name: row[column.key] for name, column in zip(names, columns)})
        values["id"] = record_id
        sa.orm.make_transient_to_detached(record)
    session.add_all(bulk)
    return rest


def _save_related(
    session: Session, instance: Instance, records: list[Any], scalars: list[Any]
) -> None:
    """Flush the unsaved records the new ones point to (e.g. a Source used the first time)."""
    unsaved: dict[int, Any] = {}
    for record in records:
        values = instance_dict(record)
        for rel in scalars:
            target = values.get(rel.key)
            if target is not None and not instance_state(target).has_identity:
                unsaved[id(target)] = target
    if unsaved:
        for target in unsaved.values():
            target._fill_defaults(instance)
        session.add_all(unsaved.values())
        session.flush()


def _defaults(registry: type[Record], instance: Instance, run: Any) -> dict[str, Any]:
    """Return the value each column takes when a record leaves it unset, for one batch.

    A callable default (``created_at``) is called once: the rows of one save share it.
    """
    mapper = sa.inspect(registry)
    defaults: dict[str, Any] = {}
    for column in registry.__table__.columns:
        name = mapper.get_property_by_column(column).key
        default = column.default
        if default is None or not hasattr(default, "arg"):
            defaults[name] = None
        elif default.is_callable:
            defaults[name] = default.arg(None)
        else:
            defaults[name] = default.arg
    fields = registry._field_names()
    if "created_by_id" in fields:
        defaults["created_by_id"] = instance.user_id
    if "run_id" in fields and run is not None:
        defaults["run_id"] = run.id
    return defaults


@sa.event.listens_for(Session, "after_soft_rollback")
def _unsave_on_rollback(session: Session, previous: SessionTransaction) -> None:
    """Make records inserted in a rolled-back transaction unsaved again, as they were."""
    for transaction in list(_inserted):
        chain: SessionTransaction | None = transaction
        while chain is not None and chain is not previous:
            chain = chain.parent
        if chain is None:
            continue
        for record, values in _inserted.pop(transaction):
            sa.orm.make_transient(record)
            current = instance_dict(record)
            for key in [k for k in current if not k.startswith("_sa_")]:
                del current[key]
            current.update(values)
