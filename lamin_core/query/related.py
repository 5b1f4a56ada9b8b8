"""Related managers: every to-many relation of a record is a QuerySet plus add/remove/set/clear.

LaminDB users write ``artifact.ulabels.filter(name="DMSO").df()``, ``label.parents.add(other)``
and ``collection.artifacts.list("key")``. SQLAlchemy gives a plain list for a to-many
relationship, so this module swaps the class of every to-many relationship's instrumented
attribute for `RelatedAttribute`, whose value on a record is a `RelatedManager`. The class
attribute stays SQLAlchemy's (``ln.Artifact.ulabels.any(...)`` and query compilation are
unchanged), assignment (``feature_set.features = [...]``) is unchanged, and the manager still
behaves as the list it wraps (iteration, ``len``, ``in``, indexing, ``append``), so code that
treats relations as lists keeps working.

Writes through the manager (``add``, ``remove``, ``set``, ``clear``) go straight to the link
table (or the foreign key of a one-to-many relation) and commit, as in LaminDB; they need a
saved record on both sides. One mechanism serves every registry: it is installed from the mapper
configuration events, so relations defined later (the bio registries') get it too.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import InstrumentedAttribute, Mapper, RelationshipProperty, object_session
from sqlalchemy.orm.interfaces import MANYTOMANY, ONETOMANY

from lamin_core.errors import ValidationError
from lamin_core.models.registry import to_many_relations
from lamin_core.query.queryset import QuerySet

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["RelatedAttribute", "RelatedManager", "install_related_managers", "to_many_relations"]


class RelatedAttribute(InstrumentedAttribute[Any]):
    """The class attribute of a to-many relation: SQLAlchemy's, but a manager on records."""

    __slots__ = ()
    inherit_cache = True

    def __get__(self, instance: object | None, owner: Any) -> Any:
        if instance is None:
            return self
        return RelatedManager(instance, self)


def _install(mapper: Mapper[Any]) -> None:
    for relation in mapper.relationships:
        if not relation.uselist or relation.direction not in (MANYTOMANY, ONETOMANY):
            continue
        attribute = mapper.class_manager.get(relation.key)
        if type(attribute) is InstrumentedAttribute:
            attribute.__class__ = RelatedAttribute  # same slots: only the behaviour changes


def _install_all() -> None:
    from lamin_core.models.base import Record

    for mapper in Record.registry.mappers:
        if mapper.configured:
            _install(mapper)


def install_related_managers() -> None:
    """Give every to-many relation of every registry a `RelatedManager` (idempotent).

    Runs now for the mappers already configured and again after each mapper configuration
    (SQLAlchemy configures mappers on first use), so relations defined later (the bio
    registries') are covered.
    """
    if not sa.event.contains(Mapper, "after_configured", _install_all):
        sa.event.listen(Mapper, "after_configured", _install_all)
    _install_all()


def _flatten(records: tuple[Any, ...]) -> list[Any]:
    """Accept records, lists of records and QuerySets, as LaminDB's ``add(*records)`` does."""
    items: list[Any] = []
    for item in records:
        if isinstance(item, (list, tuple, set, QuerySet, RelatedManager)):
            items.extend(item)
        else:
            items.append(item)
    return items


class RelatedManager:
    """The records at the other end of one to-many relation of one record.

    A QuerySet over the relation (``all``, ``filter``, ``exclude``, ``order_by``, ``df``,
    ``list``, ``count``, ``first``, ``one_or_none``, ``search``), writes that persist at once
    (``add``, ``remove``, ``set``, ``clear``), and the list it replaces (iteration, ``len``,
    ``in``, indexing, ``append``).

    Examples:
        >>> artifact.ulabels.add(ln.ULabel(name="study 1").save())
        >>> artifact.ulabels.filter(name__startswith="study").list("name")
        ['study 1']
        >>> label.parents.add(project); project.children.count()
        1
    """

    def __init__(self, owner: Any, attribute: InstrumentedAttribute[Any]) -> None:
        self._owner = owner
        self._attribute = attribute
        self._relation: RelationshipProperty[Any] = attribute.property  # type: ignore[assignment]
        self.model: type = self._relation.mapper.class_

    # --- naming --------------------------------------------------------------------------------

    @property
    def _name(self) -> str:
        return f"{type(self._owner).__name__}.{self._relation.key}"

    # --- the list it replaces --------------------------------------------------------------------

    def _items(self) -> builtins.list[Any]:
        """The relation as SQLAlchemy loads it: the records in memory, loaded on first use."""
        return InstrumentedAttribute.__get__(self._attribute, self._owner, type(self._owner))

    def __iter__(self) -> Iterator[Any]:
        return iter(list(self._items()))

    def __len__(self) -> int:
        return len(self._items())

    def __bool__(self) -> bool:
        return bool(self._items())

    def __contains__(self, record: object) -> bool:
        return record in self._items()

    def __getitem__(self, index: Any) -> Any:
        return self._items()[index]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, RelatedManager):
            other = list(other)
        return list(self._items()) == other

    __hash__ = None  # type: ignore[assignment]  # compared like the list it stands for

    def __repr__(self) -> str:
        return f"<{self._name}: {list(self._items())!r}>"

    def append(self, record: Any) -> None:
        """Append to the list in memory; it is written with the owner's next ``save()``."""
        self._items().append(record)

    def extend(self, records: Iterable[Any]) -> None:
        """Extend the list in memory; it is written with the owner's next ``save()``."""
        self._items().extend(records)

    def index(self, record: Any) -> int:
        """Return the position of `record` in the list."""
        return self._items().index(record)

    # --- queries -------------------------------------------------------------------------------

    def _owner_value(self) -> Any:
        """Return the owner's key the relation joins on, refusing an unsaved owner."""
        ((owner_column, _other),) = self._relation.synchronize_pairs
        key = sa.inspect(type(self._owner)).get_property_by_column(owner_column).key
        value = getattr(self._owner, key) if sa.inspect(self._owner).has_identity else None
        if value is None:
            raise ValidationError(
                f"{self._owner!r} is not saved; save it before using {self._name} "
                "(LaminDB also needs a saved record for a relation)."
            )
        return value

    def _link_columns(self) -> tuple[sa.Table, sa.Column[Any], sa.Column[Any], sa.Column[Any]]:
        """Return (link table, its owner column, its target column, the target's column)."""
        relation = self._relation
        assert relation.secondary is not None
        ((_owner_column, local),) = relation.synchronize_pairs
        ((target_column, remote),) = relation.secondary_synchronize_pairs or ()
        return cast(sa.Table, relation.secondary), local, remote, target_column  # type: ignore[return-value]

    def _condition(self) -> sa.ColumnElement[bool]:
        value = self._owner_value()
        if self._relation.secondary is not None:
            _table, local, remote, target_column = self._link_columns()
            return target_column.in_(sa.select(remote).where(local == value))
        ((_owner_column, foreign_key),) = self._relation.synchronize_pairs
        return foreign_key == value

    def all(self) -> QuerySet[Any]:
        """Return a QuerySet over the related records (evaluated afresh)."""
        return QuerySet(self.model, instance=self._owner._instance()).filter(self._condition())

    def filter(self, *queries: Any, **lookups: Any) -> QuerySet[Any]:
        """Return the related records that match the lookups."""
        return self.all().filter(*queries, **lookups)

    def exclude(self, *queries: Any, **lookups: Any) -> QuerySet[Any]:
        """Return the related records that do not match the lookups."""
        return self.all().exclude(*queries, **lookups)

    def order_by(self, *fields: str) -> QuerySet[Any]:
        """Return the related records ordered by fields (``-field`` descends)."""
        return self.all().order_by(*fields)

    def df(
        self, include: Any = None, features: Any = False, limit: int | None = None
    ) -> pd.DataFrame:
        """Return the related records as a DataFrame indexed by `id` (alias `to_dataframe`)."""
        return self.all().df(include=include, features=features, limit=limit)

    to_dataframe = df

    def list(self, field: str | None = None) -> builtins.list[Any]:
        """Return the related records, or the values of one `field` (``list("name")``)."""
        return self.all().list(field)

    to_list = list  # LaminDB 2.x's name

    def count(self, *record: Any) -> int:
        """Return how many records are related (one COUNT query).

        With an argument, count it in the list, as ``list.count`` does.
        """
        if record:
            return self._items().count(*record)
        return self.all().count()

    def exists(self) -> bool:
        """Return whether any record is related."""
        return self.all().exists()

    def first(self) -> Any:
        """Return the first related record (by id), or None."""
        return self.all().first()

    def last(self) -> Any:
        """Return the last related record (by id), or None."""
        return self.all().last()

    def one(self) -> Any:
        """Return the only related record; raise when there is none or several."""
        return self.all().one()

    def one_or_none(self) -> Any:
        """Return the only related record or None; raise when there are several."""
        return self.all().one_or_none()

    def get(self, idlike: int | str | None = None, **lookups: Any) -> Any:
        """Return the one related record matching an id, a uid or lookups."""
        return self.all().get(idlike, **lookups)

    def search(
        self,
        string: str,
        *,
        field: Any = None,
        limit: int | None = 20,
        case_sensitive: bool = False,
    ) -> Any:
        """Search the related records, ranked as ``Registry.search`` ranks them."""
        condition = self._condition()
        found = self.model.search(  # type: ignore[attr-defined]
            string, field=field, limit=None, case_sensitive=case_sensitive
        ).filter(condition)
        return found if limit is None else found[:limit]

    # --- writes --------------------------------------------------------------------------------

    def _targets(self, records: tuple[Any, ...], action: str) -> builtins.list[Any]:
        """Return the records to write, checked: of the related registry and saved."""
        items = _flatten(records)
        for item in items:
            if not isinstance(item, self.model):
                raise ValidationError(
                    f"{self._name}.{action}() takes {self.model.__name__} records, got "
                    f"{type(item).__name__} {item!r}; nothing was changed. Pass records such "
                    f"as ln.{self.model.__name__}.get(...)."
                )
            if getattr(item, "id", None) is None:
                raise ValidationError(
                    f"{item!r} is not saved; save it before {action}ing it to {self._name} "
                    "(nothing was changed)."
                )
        return list({id(item): item for item in items}.values())

    def _write(self, action: str, write: Any, ids: builtins.list[int]) -> None:
        """Run `write(session)` in one transaction, then refresh what it changed in memory.

        Records whose registry derives fields from its links (a collection's hash, a feature
        set's n and hash) define ``_after_links_changed(session)``; it runs for the owner and
        the touched records before the commit, so the derived fields change with the links.
        """
        instance = self._owner._instance()
        relation = self._relation
        table = cast(
            sa.Table, relation.secondary if relation.secondary is not None else relation.target
        )
        verb = "INSERT" if action == "add" and relation.secondary is not None else "UPDATE"
        if action in ("remove", "clear", "set") and relation.secondary is not None:
            verb = "DELETE"
        writes = [(table.name, verb)] + ([(table.name, "INSERT")] if action == "set" else [])
        instance.check_write(lambda: f"{action} records of {self._name} on {self._owner!r}", writes)
        try:
            with instance.writing() as session:
                touched = set(ids)
                if hasattr(self.model, "_after_links_changed"):
                    touched |= set(  # the records clear() and set() unlink
                        session.scalars(
                            sa.select(self._target_id_column()).where(self._condition())
                        )
                    )
                else:
                    touched = set()
                write(session)
                self._after_links_changed(session, touched)
        finally:
            self._expire(instance.session)

    def _after_links_changed(self, session: sa.orm.Session, touched: set[int]) -> None:
        records = [self._owner] if hasattr(self._owner, "_after_links_changed") else []
        if touched:
            statement: sa.Select[Any] = sa.select(self.model).where(
                self._target_id_column().in_(touched)
            )
            records += session.scalars(statement).all()
        for record in records:
            record._after_links_changed(session)

    def _expire(self, session: sa.orm.Session) -> None:
        """Forget the in-memory sides of the relation, so the next read sees the database."""
        if object_session(self._owner) is session:
            session.expire(self._owner, [self._relation.key])
        table = self._relation.secondary
        columns = {column for pair in self._relation.synchronize_pairs for column in pair}
        for record in list(session.identity_map.values()):
            if not isinstance(record, self.model):
                continue
            mapper = sa.inspect(type(record))
            keys = [
                rel.key
                for rel in mapper.relationships
                if (table is not None and rel.secondary is table)
                or (table is None and columns & set(rel.local_columns))
            ]
            if table is None:
                keys += [prop.key for prop in mapper.column_attrs if columns & set(prop.columns)]
            if keys:
                session.expire(record, keys)

    def _next_positions(self, session: sa.orm.Session, value: Any) -> dict[str, Any]:
        """Return the position column and its next value for an ordered link table."""
        table, local, _remote, _target = self._link_columns()
        for clause in self._relation.order_by or ():
            column = getattr(clause, "element", clause)
            if isinstance(column, sa.Column) and column.table is table:
                last = session.scalar(sa.select(sa.func.max(column)).where(local == value))
                return {column.key: -1 if last is None else last}
        return {}

    def _link(self, session: sa.orm.Session, value: Any, ids: builtins.list[int]) -> None:
        table, local, remote, _target = self._link_columns()
        existing = set(
            session.scalars(sa.select(remote).where(local == value, remote.in_(ids))) if ids else []
        )
        wanted = [id_ for id_ in ids if id_ not in existing]
        if not wanted:
            return
        positions = self._next_positions(session, value)
        rows = []
        for offset, id_ in enumerate(wanted, start=1):
            row = {local.key: value, remote.key: id_}
            row.update({key: last + offset for key, last in positions.items()})
            rows.append(row)
        session.execute(table.insert(), rows)

    def _unlink(self, session: sa.orm.Session, value: Any, ids: builtins.list[int] | None) -> None:
        """Remove links to `ids` (None: all of them)."""
        if self._relation.secondary is not None:
            table, local, remote, _target = self._link_columns()
            statement = table.delete().where(local == value)
            if ids is not None:
                statement = statement.where(remote.in_(ids))
            session.execute(statement)
            return
        ((_owner_column, foreign_key),) = self._relation.synchronize_pairs
        if not foreign_key.nullable:
            other = self.model.__name__
            raise ValidationError(
                f"Cannot remove {other} records from {self._name}: every {other} needs its "
                f"{foreign_key.name!r}; nothing was changed. Delete the {other} records or "
                f"add them to another {type(self._owner).__name__} instead."
            )
        detach = (
            sa.update(foreign_key.table).where(foreign_key == value).values({foreign_key.key: None})
        )
        if ids is not None:
            detach = detach.where(self._target_id_column().in_(ids))
        session.execute(detach)

    def _target_id_column(self) -> sa.Column[Any]:
        return self.model.__table__.c.id  # type: ignore[attr-defined]

    def _attach(self, session: sa.orm.Session, value: Any, ids: builtins.list[int]) -> None:
        if not ids:
            return
        if self._relation.secondary is not None:
            self._link(session, value, ids)
            return
        ((_owner_column, foreign_key),) = self._relation.synchronize_pairs
        session.execute(
            sa.update(foreign_key.table)
            .where(self._target_id_column().in_(ids))
            .values({foreign_key.key: value})
        )

    def add(self, *records: Any) -> None:
        """Relate records (saved, of the related registry) and write it at once.

        Raises:
            ValidationError: the owner or a record is not saved, or a record is of another
                registry; nothing is changed.
        """
        value = self._owner_value()
        ids = [item.id for item in self._targets(records, "add")]
        self._write("add", lambda session: self._attach(session, value, ids), ids)

    def remove(self, *records: Any) -> None:
        """Unrelate records and write it at once (the records themselves stay).

        Raises:
            ValidationError: as for `add`, or the relation is a required foreign key (a Run
                cannot be removed from its Transform; delete it instead).
        """
        value = self._owner_value()
        ids = [item.id for item in self._targets(records, "remove")]
        self._write("remove", lambda session: self._unlink(session, value, ids), ids)

    def set(self, records: Iterable[Any]) -> None:
        """Make exactly `records` related, in one transaction."""
        value = self._owner_value()
        ids = [item.id for item in self._targets((list(records),), "set")]

        def write(session: sa.orm.Session) -> None:
            current = set(
                session.scalars(sa.select(self._target_id_column()).where(self._condition()))
            )
            stale = [id_ for id_ in current if id_ not in ids]
            if stale:
                self._unlink(session, value, stale)
            self._attach(session, value, [id_ for id_ in ids if id_ not in current])

        self._write("set", write, ids)

    def clear(self) -> None:
        """Unrelate every record, at once."""
        value = self._owner_value()
        self._write("clear", lambda session: self._unlink(session, value, None), [])
