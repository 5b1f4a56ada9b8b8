"""The declarative base and the behaviour every registry shares.

A registry is a SQLAlchemy 2 model. Records behave like Django models: `save()` writes and
returns the record so calls chain, `delete()` removes it, and class methods (`filter`, `get`,
`df`, `search`, `lookup`, `from_values`) query the active catalog.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import sqlalchemy as sa
from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, TypeDecorator
from sqlalchemy.exc import IntegrityError as SAIntegrityError
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    declared_attr,
    mapped_column,
    object_session,
    relationship,
)
from sqlalchemy.orm.decl_api import DeclarativeAttributeIntercept

from lamin_core.binding import above
from lamin_core.errors import FieldError, IntegrityError, ValidationError, did_you_mean
from lamin_core.errors.database import report_deleted_rows
from lamin_core.errors.values import check_values_on_set
from lamin_core.ids import base62
from lamin_core.instance.access import ALL_SPACE_ID, record_space_id
from lamin_core.models.branches import MAIN_BRANCH, TRASH_BRANCH, Trashable
from lamin_core.models.insert import check_new_writes, insert_new, new_by_registry

if TYPE_CHECKING:
    import pandas as pd

    from lamin_core.instance import Instance
    from lamin_core.models.space import Space
    from lamin_core.query import QuerySet

R = TypeVar("R", bound="Record")


logger = logging.getLogger("lamin_core.models")

# checks run before a constructor returns an existing record instead of a new one, by registry;
# a higher layer adds them (a Feature redeclared with another dtype: lamin_core.annotations)
ReuseCheck = Callable[["Record", dict[str, Any]], None]
_reuse_checks: dict[type[Record], list[ReuseCheck]] = {}


def add_reuse_check(registry: type[Record], check: ReuseCheck) -> None:
    """Run `check(existing, kwargs)` before a `registry(...)` call returns an existing record.

    The check raises (e.g. a ValidationError) when the constructor's arguments contradict the
    existing record; the constructor then raises it and nothing is returned. Idempotent.
    """
    checks = _reuse_checks.setdefault(registry, [])
    if check not in checks:
        checks.append(check)


def utcnow() -> dt.datetime:
    """Return the current time, timezone-aware in UTC."""
    return dt.datetime.now(dt.timezone.utc)


class _on_class_or_record:
    """A method that receives the record, or the registry when called on the class."""

    def __init__(self, method: Callable[[Any], Any]) -> None:
        self.method = method
        self.__doc__ = method.__doc__

    def __get__(self, record: Any, registry: type) -> Callable[[], Any]:
        target = registry if record is None else record
        return lambda: self.method(target)


class _Objects:
    """Django's ``Registry.objects``: the registry's records as a QuerySet, as ``all()`` gives.

    LaminDB's records are Django models, so 2.x code reaches for ``ln.User.objects.order_by(...)``;
    like Django's manager it answers on the registry only.
    """

    def __get__(self, record: Any, registry: type[Record]) -> QuerySet[Any]:
        if record is not None:
            raise AttributeError(
                f"objects is a query of the {registry.__name__} registry, not of one record: use "
                f"ln.{registry.__name__}.objects (or ln.{registry.__name__}.filter(...))."
            )
        return registry.all()


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


def log_reuse(existing: Record, fields: tuple[str, ...]) -> None:
    """Say, as LaminDB does, that an existing record is returned instead of a new one.

    A key field that is None (a record at the root, without a type) is not mentioned.
    """
    fields = tuple(name for name in fields if getattr(existing, name) is not None) or fields
    shown = ", ".join(_shown(getattr(existing, name)) for name in fields)
    logger.info(
        f"→ returning existing {type(existing).__name__} record with same "
        f"{' and '.join(fields)}: {shown}"
    )


def _shown(value: Any) -> str:
    """Show a key value as LaminDB's messages do: 'DMSO' for text, the record for others."""
    return f"'{value}'" if isinstance(value, str) else repr(value)


def _format_value(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S %Z")
    return repr(value)


class RecordMeta(DeclarativeAttributeIntercept):
    """Let a registry's constructor return the existing record with the same natural key.

    ``ln.ULabel(name="DMSO")`` run twice (a notebook re-run) must not make a second DMSO: as in
    LaminDB, the second call returns the saved record and says so. A metaclass does this before
    SQLAlchemy instruments a new object, so an existing record is never initialised twice.
    """

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        # LaminDB's private flag: make a new record even if one with the natural key exists
        if not kwargs.pop("_skip_validation", False):
            existing = cls._existing_for_call(args, kwargs)  # type: ignore[attr-defined]
            if existing is not None:
                return existing
        return super().__call__(*args, **kwargs)

    def _create(cls, *args: Any, **kwargs: Any) -> Any:
        """Construct a new record without looking for an existing one (the caller did)."""
        return super().__call__(*args, **kwargs)


class Record(Base, Trashable, metaclass=RecordMeta):
    """Behaviour shared by all registries.

    Subclasses set `_uid_length` (the length of the random part of `uid`) and `_name_field` (the
    field used by `lookup()`, `from_values()` and search by default).

    A uid is validated whenever it is set (constructor keyword or assignment) and never changes
    once the record is saved: it is the record's identity across catalogs, and for artifacts the
    name of the stored file.
    """

    __abstract__ = True

    _uid_length: ClassVar[int] = 8
    _name_field: ClassVar[str] = "name"
    _search_fields: ClassVar[tuple[str, ...]] = ("name",)
    _repr_hidden: ClassVar[frozenset[str]] = frozenset({"id", "source_code"})
    # other names a query may use for a field, e.g. LaminDB's "registry" for FeatureSet.itype
    _field_aliases: ClassVar[dict[str, str]] = {}
    # what to do instead of changing an identity field of a saved record
    _immutable_fix: ClassVar[str] = "create a new record instead"

    # the natural keys: field tuples that identify a record; a constructor given all fields of
    # one of them (and no uid) returns the existing record with those values
    _natural_keys: ClassVar[tuple[tuple[str, ...], ...]] = ()
    # natural-key fields that may be left out or None: then they mean "none" (a record at the
    # root of a type hierarchy: name and type identify a label, no type is the root level)
    _optional_key_fields: ClassVar[frozenset[str]] = frozenset()

    # True for registries whose save commits on its own (with a stored file): ln.save writes
    # them after the one transaction of all other records
    _commits_itself: ClassVar[bool] = False

    # False for the registries outside spaces: User, Space
    _has_space: ClassVar[bool] = True
    # True for the registries whose records go to the trash on delete() (a `branch_id` column)
    _has_branch: ClassVar[bool] = False

    # deleting a row that another process deleted first leaves the catalog as asked: no warning
    __mapper_args__ = {"confirm_deleted_rows": False}

    id: Mapped[int] = mapped_column(primary_key=True, sort_order=-100)

    @declared_attr
    def space_id(cls) -> Mapped[int]:
        # the space the record belongs to (lamin_core.models.space); the default is "all"
        if not cls._has_space:
            return None  # type: ignore[return-value]  # no column on this registry
        return mapped_column(
            ForeignKey("space.id"),
            default=ALL_SPACE_ID,
            server_default=sa.text(str(ALL_SPACE_ID)),
            sort_order=85,
        )

    @declared_attr
    def space(cls) -> Mapped[Space]:
        if not cls._has_space:
            return None  # type: ignore[return-value]
        return relationship("Space", foreign_keys=f"{cls.__name__}.space_id")

    @declared_attr
    def branch_id(cls) -> Mapped[int]:
        # 1 main, 0 archive, -1 trash (MAIN_BRANCH, ...); queries show the main branch only
        if not cls._has_branch:
            return None  # type: ignore[return-value]  # no column on this registry
        return mapped_column(
            Integer,
            default=MAIN_BRANCH,
            server_default=sa.text(str(MAIN_BRANCH)),
            index=True,
            sort_order=84,
        )

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
        if kwargs.get("uid") is None:
            kwargs["uid"] = self._new_uid()
        super().__init__(**kwargs)

    @classmethod
    def _new_uid(cls) -> str:
        return base62(cls._full_uid_length())

    @classmethod
    def _find_existing(
        cls: type[R], values: dict[str, Any]
    ) -> tuple[tuple[str, ...], R] | tuple[None, None]:
        """Return (natural key, saved record) for the first natural key given in `values`.

        Keys whose fields are not all given (or point to an unsaved record) are skipped; with
        no active catalog nothing is looked up. Returns (None, None) when nothing matches or
        the match differs in another given key field.
        """
        return cls._find_existing_many([values])[0]

    @classmethod
    def _find_existing_many(
        cls: type[R], values_list: list[dict[str, Any]]
    ) -> list[tuple[tuple[str, ...], R] | tuple[None, None]]:
        """Return `_find_existing` of each element of `values_list`, a few queries in all.

        Candidates are read per natural key with an IN list on one field of the key, then
        matched on every field of the key (a related record by its id), in the order
        `_find_existing` prefers (main branch first, then the oldest).
        """
        from lamin_core.instance import active_instance

        found: list[Any] = [(None, None)] * len(values_list)
        instance = active_instance()
        if not cls._natural_keys or instance is None or not values_list:
            return found
        given = [
            [] if values.get("uid") is not None else cls._given_natural_keys(values)
            for values in values_list
        ]
        pending = set(range(len(values_list)))
        for fields in cls._natural_keys:
            positions = [i for i in sorted(pending) if fields in given[i]]
            if not positions:
                continue
            # the IN list goes on a field every record gives (an optional type may be None)
            anchor = next(f for f in fields if f not in cls._optional_key_fields)
            first: dict[tuple[Any, ...], R] = {}
            for record in cls._candidates(instance, anchor, [values_list[i] for i in positions]):
                first.setdefault(tuple(cls._key_of(record, name) for name in fields), record)
            for i in positions:
                values = values_list[i]
                existing = first.get(tuple(cls._key_in(values, name) for name in fields))
                # another identity field that differs (a new name for a saved ontology id) is a
                # new record, which the unique constraint then refuses with the fix
                identity = {name for key in given[i] for name in key}
                if existing is not None and all(
                    cls._key_of(existing, name) == cls._key_in(values, name) for name in identity
                ):
                    found[i] = (fields, existing)
                    pending.discard(i)
        return found

    @classmethod
    def _candidates(cls, instance: Any, anchor: str, values_list: list[dict[str, Any]]) -> list:
        """Return the records whose `anchor` field is one of the given values, in the order
        `_find_existing` prefers: main branch first, then the oldest."""
        wanted = list(dict.fromkeys(cls._key_in(values, anchor) for values in values_list))
        column = getattr(cls, cls._key_attribute(anchor))
        records: list[Any] = []
        with instance.reading() as session:  # a constructor leaves no transaction open
            for start in range(0, len(wanted), 500):  # a bound parameter per value
                query = sa.select(cls).where(column.in_(wanted[start : start + 500]))
                records += session.scalars(query).all()
        branch = "branch_id" in cls.__table__.c
        return sorted(records, key=lambda r: (branch and r.branch_id != MAIN_BRANCH, r.id))

    @classmethod
    def _key_attribute(cls, name: str) -> str:
        """Return the attribute holding a natural key field's value: the field itself for a
        column, the foreign key for a related record."""
        relationship = sa.inspect(cls).relationships.get(name)
        if relationship is None:
            return name
        (column,) = relationship.local_columns  # a natural key refers by one foreign key
        return sa.inspect(cls).get_property_by_column(column).key

    @classmethod
    def _key_of(cls, record: Any, name: str) -> Any:
        return getattr(record, cls._key_attribute(name))

    @classmethod
    def _key_in(cls, values: dict[str, Any], name: str) -> Any:
        value = values.get(name)
        return value.id if isinstance(value, Record) else value

    @classmethod
    def _given_natural_keys(cls, values: dict[str, Any]) -> list[tuple[str, ...]]:
        """Return the natural keys whose fields `values` all give, with values that can match.

        A value of the wrong type (``ULabel(name=5)``) or an unsaved related record matches
        nothing: the constructor then reports the value as it would without a lookup.
        """
        return [
            fields
            for fields in cls._natural_keys
            if all(
                cls._can_match(name, values.get(name))
                or (name in cls._optional_key_fields and values.get(name) is None)
                for name in fields
            )
        ]

    @classmethod
    def _can_match(cls, name: str, value: Any) -> bool:
        if value is None:
            return False
        if isinstance(value, Record):
            return value.id is not None
        if name in _string_columns(cls):
            return isinstance(value, str)
        return True

    @classmethod
    def _existing_for_call(cls: type[R], args: tuple[Any, ...], kwargs: dict[str, Any]) -> R | None:
        """Return the saved record a constructor call means, or None for a new one.

        Keyword calls look up the natural keys (`_existing_record`); a registry whose identity
        is derived from its arguments (a Schema's hash) overrides this.
        """
        return cls._existing_record(kwargs) if not args else None

    @classmethod
    def _existing_record(cls: type[R], kwargs: dict[str, Any]) -> R | None:
        """Return the saved record with the natural key given in `kwargs`, updated, or None.

        As LaminDB: a uid given on purpose means a new record; otherwise the first natural key
        whose fields are all given is looked up in the active catalog (none active: None).
        The other given values are set on the record (saved by its next `save()`).

        Raises:
            ValidationError: a registry's reuse check refuses (see `add_reuse_check`).
        """
        fields, existing = cls._find_existing(kwargs)
        if fields is None or existing is None:
            return None
        for check in _reuse_checks.get(cls, []):
            check(existing, kwargs)
        log_reuse(existing, fields)
        if getattr(existing, "branch_id", MAIN_BRANCH) == TRASH_BRANCH and not hasattr(
            existing, "is_latest"
        ):
            # named again: it comes back from the trash with its next save (2.x's behaviour
            # for a record found by its natural key); versions come back through restore()
            logger.info("→ the record is in the trash; its next save() restores it")
            existing.branch_id = MAIN_BRANCH
        for name, value in kwargs.items():
            changed = value is not None and getattr(existing, name) != value
            if changed and name not in fields and name != "dtype":
                setattr(existing, name, value)
        return existing

    # --- identity ------------------------------------------------------------------------------

    @sa.orm.validates("uid")
    def _validate_uid(self, name: str, value: Any) -> Any:
        if self._keeps_saved_value(name, value):
            return value
        length = self._full_uid_length()
        is_base62 = isinstance(value, str) and value.isascii() and value.isalnum()
        if not is_base62 or len(value) != length:
            stem: int | None = getattr(self, "_stem_length", None)
            parts = (
                "" if stem is None else f": {stem} for the family, {length - stem} for the version"
            )
            raise ValidationError(
                f"Invalid uid {value!r} for {type(self).__name__}: {type(self).__name__} uids "
                f"are {length} base62 characters (0-9, a-z, A-Z){parts}, e.g. "
                f"{self._new_uid()!r}. Omit uid= to get a new one."
            )
        return value

    def _keeps_saved_value(self, name: str, value: Any, *, is_same: bool | None = None) -> bool:
        """Return whether setting `name` to `value` leaves a saved record as it is.

        Args:
            name: The identity field being set.
            value: The new value.
            is_same: Whether `value` equals the current one, when the caller knows better
                (e.g. for a relationship); default: compare with the current value.

        Returns:
            True when the record is saved and `value` is its current value; False when the
            record is not saved yet (the caller validates `value`).

        Raises:
            ValidationError: the record is saved and `value` would change the field; nothing
                is changed.
        """
        state = sa.inspect(self)
        if not state.has_identity:
            return False
        try:
            current = state.dict[name] if name in state.dict else getattr(self, name)
        except sa.exc.SQLAlchemyError:  # expired on a detached record: cannot tell, so refuse
            current = "<not loaded>"
        if is_same is None:
            is_same = value == current
        if is_same:
            return True
        raise ValidationError(
            f"{name} of {type(self).__name__} {self.uid!r} is immutable once saved; "
            f"{self._immutable_fix} (it is {current!r}, not {value!r})."
        )

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
        columns = self._field_names()
        if "created_by_id" in columns and getattr(self, "created_by_id", None) is None:
            setattr(self, "created_by_id", instance.user_id)  # noqa: B010 - not every registry has it
        if "run_id" in columns and getattr(self, "run_id", None) is None:
            run = above.current_run(instance)
            if run is not None and run is not self:
                setattr(self, "run_id", run.id)  # noqa: B010
                self._take_run_context(run)

    def _take_run_context(self, run: Any) -> None:
        """Put a record made in a run into the run's space and projects (``ln.track(project=,
        space=)``), unless it names its own space."""
        space = getattr(run, "tracked_space", None)
        if space is not None and record_space_id(self) in (None, ALL_SPACE_ID):
            self.space_id = space.id
        projects = getattr(run, "tracked_projects", ())
        relation = sa.inspect(type(self)).relationships.get("projects")
        if projects and relation is not None and not relation.viewonly:
            linked = self.projects  # type: ignore[attr-defined]
            linked.extend(p for p in projects if p not in linked)

    # --- persistence ---------------------------------------------------------------------------

    def _check_write(self, instance: Instance, action: str | None = None) -> None:
        """Refuse, before anything is written, a write the database role may not make.

        Args:
            instance: The catalog written to.
            action: INSERT, UPDATE or DELETE; default: INSERT for a new record, else UPDATE.

        Raises:
            NoWriteAccess: the role is read-only, or the record is in a space it cannot use.
        """
        if action is None:
            action = "UPDATE" if sa.inspect(self).has_identity else "INSERT"
        verb = {"INSERT": "save", "UPDATE": "save changes to", "DELETE": "delete"}[action]
        instance.check_write(
            lambda: f"{verb} {self!r}",
            [(type(self).__tablename__, action)],
            [] if action == "DELETE" else [record_space_id(self)],
        )

    def save(self: R) -> R:
        """Write the record to the catalog and return it.

        Raises:
            IntegrityError: the record breaks a constraint (e.g. a unique name already taken);
                the catalog is left unchanged.
            NoWriteAccess: the database role may not write it (read-only, or another space).
        """
        instance = self._instance()
        self._check_write(instance)
        session = instance.session
        try:
            with instance.writing():
                self._fill_defaults(instance)
                session.add(self)
                session.flush()  # a broken constraint raises here, also inside an outer block
        except SAIntegrityError as error:
            session.expunge(self) if self in session else None
            raise IntegrityError(
                f"Cannot save {self!r}: it breaks a constraint of the {type(self).__name__} "
                f"registry ({error.orig}). Use {type(self).__name__}.get(...) to fetch the "
                "existing record instead."
            ) from error
        return self

    @classmethod
    def _save_many(cls, records: Sequence[Record]) -> None:
        """Save records of this kind of registry for ``ln.save``: in one transaction.

        Registries whose records carry more (files, ancestors) override it.
        """
        RecordList(records).save()

    def _delete_with(self, remove: Callable[[sa.orm.Session, Any], object]) -> None:
        """Run `remove(session, self)` in a `writing()` block, translating a refused delete.

        A record this session already deleted (``ln.Schema.filter(...).delete()`` matched it)
        stays deleted: deleting it again changes nothing, as in LaminDB.
        """
        state = sa.inspect(self)
        if state.was_deleted or state.deleted:
            logger.info(f"{type(self).__name__} {self.id} is already deleted")
            return
        instance = self._instance()
        self._check_write(instance, "DELETE")
        described = repr(self)  # a rollback expires the fields the message shows
        try:
            with instance.writing() as session:
                remove(session, self)
                session.flush()
        except SAIntegrityError as error:
            raise IntegrityError(
                f"Cannot delete {described}: other records still point to it ({error.orig})."
            ) from error

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

    @_on_class_or_record
    def describe(self) -> None:
        """Print the record with its relations (storage, run, transform, labels, features).

        Called on the registry (``ln.Artifact.describe()``), print its fields and relations.
        """
        above.describe(self)

    # --- queries (implemented in lamin_core.query and lamin_core.search) -------------------------

    @classmethod
    def filter(cls: type[R], *queries: Any, **lookups: Any) -> QuerySet[R]:
        """Return the records that match Django-style lookups and `Q` objects.

        Examples:
            >>> ln.Artifact.filter(suffix=".h5ad", size__gt=1e4).df()
        """
        return above.queryset(cls).filter(*queries, **lookups)

    @classmethod
    def exclude(cls: type[R], *queries: Any, **lookups: Any) -> QuerySet[R]:
        """Return the records that do not match the lookups."""
        return above.queryset(cls).exclude(*queries, **lookups)

    @classmethod
    def all(cls: type[R]) -> QuerySet[R]:
        """Return a QuerySet over every record of the registry."""
        return above.queryset(cls)

    objects: ClassVar[Any] = (
        _Objects()
    )  # ln.User.objects.order_by("id"): Django's spelling of all()

    @classmethod
    def get(cls: type[R], idlike: int | str | None = None, **lookups: Any) -> R:
        """Return the one record matching an id, a uid (or uid prefix) or lookups.

        Raises:
            DoesNotExist: nothing matches.
            MultipleResultsFound: several records match.
        """
        return above.queryset(cls).get(idlike, **lookups)

    @classmethod
    def df(
        cls,
        include: str | Sequence[str] | None = None,
        features: bool | str | Sequence[str] = False,
        limit: int | None = 100,
    ) -> pd.DataFrame:
        """Return the latest records as a DataFrame indexed by `id` (alias `to_dataframe`).

        ``include="features"`` (or ``"features"`` in a list of includes) adds one column per
        feature, as ``features=True`` does; `features` may also name the features.

        Examples:
            >>> ln.Artifact.to_dataframe(include=["ulabels__name", "features"])
        """
        return above.registry_df(cls, include=include, features=features, limit=limit)

    to_dataframe = df

    @classmethod
    def search(
        cls: type[R],
        string: str,
        *,
        field: str | None = None,
        limit: int = 20,
        case_sensitive: bool = False,
    ) -> Any:
        """Search the registry with ranking: exact > synonym > word > prefix > substring > fuzzy.

        ``case_sensitive=True`` keeps only records whose value contains `string` as written.
        """
        return above.search(cls, string, field=field, limit=limit, case_sensitive=case_sensitive)

    @classmethod
    def lookup(cls, field: str | None = None) -> Any:
        """Return an object whose attributes are the records, named after `field`."""
        return above.lookup(cls, field=field)

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
                records.append(cls._create(**{field_name: value}))
        return records


check_values_on_set(Record)  # every column of every registry: type, length, range, finite
report_deleted_rows(Record)  # a record whose row another process deleted: DoesNotExist


@functools.cache
def _string_columns(registry: type[Record]) -> frozenset[str]:
    """Return the names of the registry's text columns (a natural key lookup asks per value)."""
    return frozenset(c.key for c in registry.__table__.columns if isinstance(c.type, String))


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
        check_new_writes(instance, self)
        try:
            with instance.writing() as session:
                rest: list[Record] = []
                for group in new_by_registry(self).values():
                    rest += insert_new(session, instance, group)
                rest += [record for record in self if sa.inspect(record).has_identity]
                for record in rest:
                    record._fill_defaults(instance)
                session.add_all(rest)
                session.flush()
        except SAIntegrityError as error:
            raise IntegrityError(
                f"Cannot save {len(self)} {type(self[0]).__name__} records: one breaks a "
                f"constraint ({error.orig}); nothing was saved."
            ) from error
        return self


def created_by_column() -> Mapped[int | None]:
    """Return the `created_by_id` column: who made the record."""
    return mapped_column(ForeignKey("user.id"), index=True, sort_order=90)


def created_at_column() -> Mapped[dt.datetime]:
    """Return the `created_at` column, set to the current UTC time."""
    return mapped_column(UTCDateTime(), default=utcnow, index=True, sort_order=91)
