"""The declarative base and the behaviour every registry shares.

A registry is a SQLAlchemy 2 model. Records behave like Django models: `save()` writes and
returns the record so calls chain, `delete()` removes it, and class methods (`filter`, `get`,
`df`, `search`, `lookup`, `from_values`) query the active catalog.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import sqlalchemy as sa
from sqlalchemy import JSON, DateTime, ForeignKey, String, TypeDecorator
from sqlalchemy.exc import IntegrityError as SAIntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column, object_session

from lamin_core.dberrors import report_deleted_rows
from lamin_core.errors import FieldError, IntegrityError, did_you_mean
from lamin_core.ids import base62
from lamin_core.values import check_values_on_set

if TYPE_CHECKING:
    import pandas as pd

    from lamin_core.instance import Instance
    from lamin_core.query import QuerySet

R = TypeVar("R", bound="Record")


def utcnow() -> dt.datetime:
    """Return the current time, timezone-aware in UTC."""
    return dt.datetime.now(dt.timezone.utc)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp stored in UTC and always returned timezone-aware.

    SQLite has no time zones; without this, values read back from SQLite would be naive while
    PostgreSQL returns aware ones, and comparisons between records would depend on the backend.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: sa.Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        value = value.astimezone(dt.timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)


class Base(DeclarativeBase):
    """The declarative base of every table in the catalog."""

    type_annotation_map = {dict[str, Any]: JSON, dt.datetime: UTCDateTime}


def _format_value(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S %Z")
    return repr(value)


class Record(Base):
    """Behaviour shared by all registries.

    Subclasses set `_uid_length` (the length of the random part of `uid`) and `_name_field` (the
    field used by `lookup()`, `from_values()` and search by default).
    """

    __abstract__ = True

    _uid_length: ClassVar[int] = 8
    _name_field: ClassVar[str] = "name"
    _search_fields: ClassVar[tuple[str, ...]] = ("name",)
    _repr_hidden: ClassVar[frozenset[str]] = frozenset({"id", "source_code"})
    # other names a query may use for a field, e.g. LaminDB's "registry" for FeatureSet.itype
    _field_aliases: ClassVar[dict[str, str]] = {}

    # deleting a row that another process deleted first leaves the catalog as asked: no warning
    __mapper_args__ = {"confirm_deleted_rows": False}

    id: Mapped[int] = mapped_column(primary_key=True, sort_order=-100)

    @declared_attr
    def uid(cls) -> Mapped[str]:
        # insert_sentinel: uids are unique and made client-side, so SQLAlchemy can batch many
        # INSERTs into one statement and match the returned ids to the records by uid (without
        # a sentinel, SQLite inserts one row per statement to keep RETURNING in order)
        return mapped_column(
            String(cls._full_uid_length()), unique=True, insert_sentinel=True, sort_order=-99
        )

    @classmethod
    def _full_uid_length(cls) -> int:
        return cls._uid_length

    def __init__(self, **kwargs: Any) -> None:
        fields = self.__class__._field_names()
        relations = self.__class__._relation_names()
        for name in kwargs:
            if name not in fields and name not in relations:
                raise FieldError(
                    f"Unknown field {name!r} for {type(self).__name__}."
                    f"{did_you_mean(name, fields | relations)} "
                    f"Fields: {', '.join(sorted(fields))}."
                )
        kwargs.setdefault("uid", self._new_uid())
        super().__init__(**kwargs)

    @classmethod
    def _new_uid(cls) -> str:
        return base62(cls._full_uid_length())

    # --- introspection -----------------------------------------------------------------------

    @classmethod
    def _field_names(cls) -> set[str]:
        """Return the names of the registry's columns."""
        return {column.key for column in sa.inspect(cls).column_attrs}

    @classmethod
    def _relation_names(cls) -> set[str]:
        """Return the names of the registry's relationships."""
        return {rel.key for rel in sa.inspect(cls).relationships}

    @classmethod
    def _column_order(cls) -> list[str]:
        """Return the column names in table order (the order `df()` and `repr` show)."""
        return [column.key for column in cls.__table__.columns]

    # --- instance binding ----------------------------------------------------------------------

    def _instance(self) -> Instance:
        """Return the catalog this record belongs to: its session's, else the active one."""
        from lamin_core.instance import get_instance

        session = object_session(self)
        if session is not None and "instance" in session.info:
            return session.info["instance"]
        return get_instance()

    def _fill_defaults(self, instance: Instance) -> None:
        """Set created_by and run from the catalog and the tracking context when unset."""
        from lamin_core.tracking import current_run

        columns = self._field_names()
        if "created_by_id" in columns and getattr(self, "created_by_id", None) is None:
            setattr(self, "created_by_id", instance.user_id)  # noqa: B010 - not every registry has it
        if "run_id" in columns and getattr(self, "run_id", None) is None:
            run = current_run(instance)
            if run is not None and run is not self:
                setattr(self, "run_id", run.id)  # noqa: B010

    # --- persistence ---------------------------------------------------------------------------

    def save(self: R) -> R:
        """Write the record to the catalog and return it.

        Raises:
            IntegrityError: the record breaks a constraint (e.g. a unique name already taken);
                the catalog is left unchanged.
        """
        instance = self._instance()
        session = instance.session
        self._fill_defaults(instance)
        session.add(self)
        try:
            session.commit()
        except SAIntegrityError as error:
            session.rollback()
            session.expunge(self) if self in session else None
            raise IntegrityError(
                f"Cannot save {self!r}: it breaks a constraint of the {type(self).__name__} "
                f"registry ({error.orig}). Use {type(self).__name__}.get(...) to fetch the "
                "existing record instead."
            ) from error
        except BaseException:
            session.rollback()
            raise
        return self

    def delete(self) -> None:
        """Delete the record from the catalog."""
        instance = self._instance()
        session = instance.session
        try:
            session.delete(self)
            session.commit()
        except SAIntegrityError as error:
            session.rollback()
            raise IntegrityError(
                f"Cannot delete {self!r}: other records still point to it ({error.orig})."
            ) from error
        except BaseException:
            session.rollback()
            raise

    # --- display -------------------------------------------------------------------------------

    def __repr__(self) -> str:
        state = sa.inspect(self)
        parts = []
        for name in self._column_order():
            if name in self._repr_hidden or name in state.unloaded:
                continue
            value = state.dict.get(name)
            if value is None:
                continue
            parts.append(f"{name}={_format_value(value)}")
        return f"{type(self).__name__}({', '.join(parts)})"

    def describe(self) -> None:
        """Print the record with its relations (storage, run, transform, labels, features)."""
        from lamin_core.view import describe

        describe(self)

    # --- queries (implemented in lamin_core.query and lamin_core.search) -------------------------

    @classmethod
    def filter(cls: type[R], *queries: Any, **lookups: Any) -> QuerySet[R]:
        """Return the records that match Django-style lookups and `Q` objects.

        Examples:
            >>> ln.Artifact.filter(suffix=".h5ad", size__gt=1e4).df()
        """
        from lamin_core.query import QuerySet

        return QuerySet(cls).filter(*queries, **lookups)

    @classmethod
    def exclude(cls: type[R], *queries: Any, **lookups: Any) -> QuerySet[R]:
        """Return the records that do not match the lookups."""
        from lamin_core.query import QuerySet

        return QuerySet(cls).exclude(*queries, **lookups)

    @classmethod
    def all(cls: type[R]) -> QuerySet[R]:
        """Return a QuerySet over every record of the registry."""
        from lamin_core.query import QuerySet

        return QuerySet(cls)

    @classmethod
    def get(cls: type[R], idlike: int | str | None = None, **lookups: Any) -> R:
        """Return the one record matching an id, a uid (or uid prefix) or lookups.

        Raises:
            DoesNotExist: nothing matches.
            MultipleResultsFound: several records match.
        """
        from lamin_core.query import QuerySet

        return QuerySet(cls).get(idlike, **lookups)

    @classmethod
    def df(
        cls,
        include: str | Sequence[str] | None = None,
        features: bool | Sequence[str] = False,
        limit: int | None = 100,
    ) -> pd.DataFrame:
        """Return the latest records as a DataFrame indexed by `id` (alias `to_dataframe`)."""
        from lamin_core.query.dataframe import registry_df

        return registry_df(cls, include=include, features=features, limit=limit)

    to_dataframe = df

    @classmethod
    def search(cls: type[R], string: str, *, field: str | None = None, limit: int = 20) -> Any:
        """Search the registry with ranking: exact > synonym > word > prefix > substring > fuzzy."""
        from lamin_core.search import search

        return search(cls, string, field=field, limit=limit)

    @classmethod
    def lookup(cls, field: str | None = None) -> Any:
        """Return an object whose attributes are the records, named after `field`."""
        from lamin_core.query.lookup import lookup

        return lookup(cls, field=field)

    @classmethod
    def from_values(
        cls: type[R], values: Iterable[Any], field: Any = None, *, create: bool = False
    ) -> RecordList[R]:
        """Return records for `values`: existing ones, plus new unsaved ones when `create`.

        Examples:
            >>> ln.ULabel.from_values(["DMSO", "IFNG"], create=True).save()
        """
        field_name = _field_name(cls, field)
        wanted = list(dict.fromkeys(v for v in values if v is not None))
        column = getattr(cls, field_name)
        session = _active_session()
        existing = {
            getattr(record, field_name): record
            for record in session.scalars(sa.select(cls).where(column.in_(wanted)))
        }
        records = RecordList[R]()
        for value in wanted:
            if value in existing:
                records.append(existing[value])
            elif create:
                records.append(cls(**{field_name: value}))
        return records


check_values_on_set(Record)  # every column of every registry: type, length, range, finite
report_deleted_rows(Record)  # a record whose row another process deleted: DoesNotExist


def _active_session() -> sa.orm.Session:
    from lamin_core.instance import get_instance

    return get_instance().session


def _field_name(registry: type[Record], field: Any) -> str:
    """Accept a field given as a name, a column attribute (``ln.ULabel.name``) or None."""
    if field is None:
        return registry._name_field
    if isinstance(field, str):
        name = field
    else:
        name = getattr(field, "key", None) or str(field)
    if name not in registry._field_names():
        raise FieldError(
            f"Unknown field {name!r} for {registry.__name__}."
            f"{did_you_mean(name, registry._field_names())}"
        )
    return name


class RecordList(list[R]):
    """A list of records that saves them all in one transaction."""

    def save(self) -> RecordList[R]:
        """Save every unsaved record of the list in one transaction and return the list."""
        if not self:
            return self
        instance = self[0]._instance()
        session = instance.session
        for record in self:
            record._fill_defaults(instance)
        session.add_all(self)
        try:
            session.commit()
        except SAIntegrityError as error:
            session.rollback()
            raise IntegrityError(
                f"Cannot save {len(self)} {type(self[0]).__name__} records: one breaks a "
                f"constraint ({error.orig}); nothing was saved."
            ) from error
        except BaseException:
            session.rollback()
            raise
        return self


def created_by_column() -> Mapped[int | None]:
    """Return the `created_by_id` column: who made the record."""
    return mapped_column(ForeignKey("user.id"), index=True, sort_order=90)


def created_at_column() -> Mapped[dt.datetime]:
    """Return the `created_at` column, set to the current UTC time."""
    return mapped_column(UTCDateTime(), default=utcnow, index=True, sort_order=91)
