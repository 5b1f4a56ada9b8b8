"""`QuerySet`: a lazy, chainable query over one registry that runs ONE statement per evaluation.

Chaining (`filter`, `exclude`, `order_by`, slicing) only builds SQLAlchemy expressions; the
database is hit when results are needed (iteration, `len`, `df()`, `one()`, `count()` ...), each
time with a single statement. Records come from the catalog's session, refreshed with the
database's current values (``populate_existing``). After a read, the implicit transaction is
ended when the session holds no unsaved user edits, so PostgreSQL connections do not sit idle in
a transaction and SQLite readers see other processes' writes.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from lamin_core.errors import (
    DoesNotExist,
    FieldError,
    IntegrityError,
    MultipleResultsFound,
    ValidationError,
    did_you_mean,
)
from lamin_core.errors.values import is_valid_text
from lamin_core.models.branches import MAIN_BRANCH, has_branch
from lamin_core.query.collector import collector_paused
from lamin_core.query.compiler import compile_node, related_column, resolve_q
from lamin_core.query.feature_filters import FeatureRef, feature_refs, has_features
from lamin_core.query.fields import resolve_path, unknown_field_error
from lamin_core.query.levels import has_levels
from lamin_core.query.q import LOOKUP_SEP, Q

if TYPE_CHECKING:
    import pandas as pd

    from lamin_core.instance import Instance

__all__ = ["QuerySet"]

R = TypeVar("R")
REPR_LIMIT = 20
# execution options of a statement whose rows df() reads from the cursor (see _execute_raw)
_RAW_ROWS = {"_result_disable_adapt_to_context": True}
# lookups that name records directly: they find them on any branch, trash included (2.x)
_DIRECT_LOOKUPS = frozenset({"id", "uid", "uid__startswith", "id__in", "uid__in"})


def _lookup_names(queries: tuple[Any, ...], lookups: dict[str, Any]) -> set[str]:
    """Return the lookup names (``"branch_id__in"``) in keyword lookups and `Q` objects."""
    names = set(lookups)
    stack = [query for query in queries if isinstance(query, Q)]
    while stack:
        node = stack.pop()
        for child in node.children:
            if isinstance(child, Q):
                stack.append(child)
            elif isinstance(child, tuple) and isinstance(child[0], str):
                names.add(child[0])
    return names


class QuerySet(Generic[R]):
    """The records of a registry that match a filter, evaluated lazily.

    Args:
        model: The registry, e.g. ``ln.Artifact``.
        instance: The catalog to query; default: the active one.

    Examples:
        >>> qs = ln.Artifact.filter(suffix=".h5ad").order_by("-created_at")
        >>> qs.count(), qs.first(), qs.df(include=["ulabels__name"])
        >>> print(qs.statement)   # the SQLAlchemy select, usable directly
    """

    def __init__(self, model: type[R], *, instance: Instance | None = None) -> None:
        self.model = model
        self._instance = instance
        self._where: list[ColumnElement[bool]] = []
        self._order: tuple[str, ...] = ()
        # SQL the records come in when no order_by() is given (e.g. a collection's positions)
        self._default_order: tuple[ColumnElement[Any], ...] = ()
        self._distinct = False
        self._offset = 0
        self._limit: int | None = None
        self._cache: list[R] | None = None
        # rows a registry hides unless asked for (Artifact: the reports and environments of
        # runs, kind "__lamindb_run__", as in LaminDB): shown once a lookup names the field
        self._shows_hidden = False
        # as LaminDB 2.x: the main branch only, unless a lookup names the branch or the records
        self._main_only = has_branch(model)

    # --- building ----------------------------------------------------------------------------

    def _clone(self) -> QuerySet[R]:
        clone = copy.copy(self)  # keeps the attributes of subclasses (SearchResult)
        clone._where = list(self._where)
        clone._cache = None
        return clone

    def _catalog(self) -> Instance:
        """The catalog queried: the one given, else the active one (looked up once)."""
        if self._instance is None:
            from lamin_core.instance import get_instance

            self._instance = get_instance()
        return self._instance

    @property
    def session(self) -> sa.orm.Session:
        """The session records are read into: the catalog's session of this thread."""
        return self._catalog().session

    def _feature_lookup(self, q: Q) -> Any:
        """Return a name -> FeatureRef function for names in `q` that are not fields."""
        if not has_features(self.model):
            return None
        mapper = sa.inspect(self.model)
        known = {*mapper.column_attrs.keys(), *mapper.relationships.keys()}
        known |= set(getattr(self.model, "_field_aliases", {}))
        unknown: set[str] = set()
        stack = [q]
        while stack:
            node = stack.pop()
            for child in node.children:
                if isinstance(child, Q):
                    stack.append(child)
                elif isinstance(child, tuple) and isinstance(child[0], str):
                    name = child[0].split(LOOKUP_SEP)[0]
                    # a name no Feature can have is an unknown field: no query for it
                    if name not in known and is_valid_text(name):
                        unknown.add(name)
        if not unknown:
            return None
        with self._catalog().reading() as session:
            refs: dict[str, FeatureRef] = feature_refs(session, self.model, sorted(unknown))
            missing = sorted(unknown - refs.keys())
            # neither a field nor a feature: the error suggests the closest of both
            features = list(feature_refs(session, self.model)) if missing else []
        if missing:
            raise unknown_field_error(self.model, missing[0], features=features)
        return refs.get

    def _condition(self, queries: tuple[Any, ...], lookups: dict[str, Any]) -> ColumnElement[bool]:
        q = Q(*queries, **lookups)
        node = resolve_q(self.model, q, feature_for=self._feature_lookup(q))
        return compile_node(self.model, node)

    def filter(self, *queries: Any, **lookups: Any) -> QuerySet[R]:
        """Return a new QuerySet narrowed by `Q` objects, SQLAlchemy expressions and lookups.

        Raises:
            FieldError: an unknown field, relation or lookup (with the closest match).
            ValidationError: a value of the wrong type for its field or lookup.
        """
        self._check_unsliced("filter")
        clone = self._clone()
        lookups = clone._take_branch_lookups(queries, lookups)
        if queries or lookups:
            clone._where.append(self._condition(queries, lookups))
            clone._shows_hidden |= self._names_hiding_field(queries, lookups)
        return clone

    def _take_branch_lookups(
        self, queries: tuple[Any, ...], lookups: dict[str, Any], *, names_records: bool = True
    ) -> dict[str, Any]:
        """Stop showing the main branch only when the lookups name a branch or records.

        The whole query then shows every branch its filters allow: ``filter(uid=...)`` finds
        a trashed record, ``filter(branch_id=-1)`` the trash. ``branch_id=None`` means every
        branch, as in LaminDB 2.x: it is taken out of the lookups (a NULL test would match
        nothing). An ``exclude(id=...)`` names no record to find, so it keeps the default.

        Returns:
            The remaining lookups.
        """
        if not self._main_only:
            return lookups
        names = _lookup_names(queries, lookups)
        direct = names_records and bool(names & _DIRECT_LOOKUPS)
        if direct or any(n.split(LOOKUP_SEP)[0] == "branch_id" for n in names):
            self._main_only = False
        if "branch_id" in lookups and lookups["branch_id"] is None:
            lookups = {name: value for name, value in lookups.items() if name != "branch_id"}
        return lookups

    def exclude(self, *queries: Any, **lookups: Any) -> QuerySet[R]:
        """Return a new QuerySet without the records matching the lookups."""
        self._check_unsliced("exclude")
        clone = self._clone()
        lookups = clone._take_branch_lookups(queries, lookups, names_records=False)
        if queries or lookups:
            clone._where.append(self._condition((~Q(*queries, **lookups),), {}))
            clone._shows_hidden |= self._names_hiding_field(queries, lookups)
        return clone

    def _names_hiding_field(self, queries: tuple[Any, ...], lookups: dict[str, Any]) -> bool:
        """Whether the lookups name the field by which the registry hides rows (``kind``)."""
        hidden = getattr(self.model, "_hidden_by_default", None)
        if hidden is None:
            return False
        field = hidden[0]
        return any(name.split(LOOKUP_SEP)[0] == field for name in _lookup_names(queries, lookups))

    def _visibility(self) -> list[ColumnElement[bool]]:
        """The condition leaving out the rows the registry hides unless asked for."""
        hidden = getattr(self.model, "_hidden_by_default", None)
        if hidden is None or self._shows_hidden:
            return []
        field, values = hidden
        column = getattr(self.model, field)
        return [sa.or_(column.is_(None), column.not_in(values))]

    def order_by(self, *fields: str) -> QuerySet[R]:
        """Return a new QuerySet ordered by fields; ``-field`` descends, ``run__started_at`` works.

        Without `order_by`, records come in id order. NULLs sort last when ascending and first
        when descending, on every database.
        """
        self._check_unsliced("order_by")
        for name in fields:
            if not isinstance(name, str) or not name.lstrip("-"):
                raise ValidationError(
                    f"order_by() expects field names such as '-created_at', got {name!r}."
                )
            resolve_path(self.model, name.lstrip("-"))
        clone = self._clone()
        clone._order = tuple(fields)
        return clone

    def distinct(self) -> QuerySet[R]:
        """Return a new QuerySet with duplicate rows removed (filters never duplicate rows)."""
        clone = self._clone()
        clone._distinct = True
        return clone

    def all(self) -> QuerySet[R]:
        """Return a copy of this QuerySet (evaluated afresh)."""
        return self._clone()

    def _check_unsliced(self, action: str) -> None:
        if self._limit is not None or self._offset:
            raise ValidationError(
                f"Cannot {action} a sliced QuerySet; call {action}() before slicing."
            )

    # --- SQL -----------------------------------------------------------------------------------

    def in_default_order(self, *expressions: ColumnElement[Any]) -> QuerySet[R]:
        """Return a new QuerySet whose records come in the order of SQL `expressions`, then id.

        An `order_by` given later replaces this order. Used for orders no field names, such as
        the positions of a collection's artifacts (``collection.ordered_artifacts``).
        """
        self._check_unsliced("in_default_order")
        clone = self._clone()
        clone._default_order = tuple(expressions)
        return clone

    def _order_clauses(self, reverse: bool = False) -> list[ColumnElement[Any]]:
        if not self._order and self._default_order:
            model_id: ColumnElement[Any] = self.model.id  # type: ignore[attr-defined]
            expressions = [*self._default_order, model_id]
            return [e.desc() if reverse else e.asc() for e in expressions]
        fields = self._order or ("id",)
        clauses = []
        for spec in fields:
            descending = spec.startswith("-") != reverse
            hops, column = resolve_path(self.model, spec.lstrip("-"))
            if hops:
                to_many = any(hop.uselist for hop in hops)
                aggregate = (sa.func.max if descending else sa.func.min) if to_many else None
                expression: Any = related_column(self.model, hops, column, aggregate=aggregate)
                nullable = True
            else:
                expression = getattr(self.model, column)
                nullable = sa.inspect(self.model).column_attrs[column].columns[0].nullable
            clause = expression.desc() if descending else expression.asc()
            if nullable:
                clause = clause.nulls_first() if descending else clause.nulls_last()
            clauses.append(clause)
        return clauses

    def _conditions(self) -> list[ColumnElement[bool]]:
        """The WHERE conditions: the filters, the main branch unless asked otherwise, and not the
        rows the registry hides unless a lookup names them."""
        conditions = [*self._where, *self._visibility()]
        if self._main_only:
            conditions.append(self.model.branch_id == MAIN_BRANCH)  # type: ignore[attr-defined]
        return conditions

    def _select(
        self,
        *columns: Any,
        reverse: bool = False,
        ordered: bool = True,
        from_clause: Any = None,
    ) -> sa.Select[Any]:
        statement = sa.select(*columns).where(*self._conditions())
        if from_clause is not None:
            statement = statement.select_from(from_clause)
        if self._distinct:
            statement = statement.distinct()
        if ordered:
            statement = statement.order_by(*self._order_clauses(reverse))
        if self._offset:
            statement = statement.offset(self._offset)
        if self._limit is not None:
            statement = statement.limit(self._limit)
        return statement

    @property
    def statement(self) -> sa.Select[Any]:
        """The SQLAlchemy select this QuerySet runs (an escape hatch for any SQLAlchemy query)."""
        return self._select(self.model)

    def _id_subquery(self) -> sa.Select[Any]:
        """A select of the matching ids, for ``field__in=queryset``."""
        ordered = self._limit is not None or bool(self._offset)
        return self._select(self.model.id, ordered=ordered).correlate(None)  # type: ignore[attr-defined]

    # --- evaluation ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def _reading(self) -> Iterator[sa.orm.Session]:
        """Run a read in the catalog's `reading()` block (ended after it, rolled back on error).

        The cycle collector waits meanwhile: loading 10,000 records took ~40% longer with the
        full collections that the new, surviving objects set off (see `collector`).
        """
        with collector_paused(), self._catalog().reading() as session:
            yield session

    def _execute(self, statement: Any) -> Any:
        with self._reading() as session:
            return session.execute(statement.execution_options(populate_existing=True)).all()

    def _execute_rows(self, statement: Any) -> list[Any]:
        """Run a select of plain columns through the session's connection (no ORM loading)."""
        with self._reading() as session:
            return list(session.connection().execute(statement).all())

    def _execute_raw(self, statement: Any) -> tuple[Sequence[Any], list[Any]]:
        """Run a select and return the driver's rows untouched, with the column type codes.

        No per-row type processing: `df()` converts whole columns instead (see
        `dataframe._Columns`).
        """
        with self._reading() as session:
            # the rows are read from the cursor, so the result's column map is never used:
            # SQLAlchemy's own ORM skips remapping it to each new statement's columns too
            result = session.connection().execute(statement, execution_options=_RAW_ROWS)
            try:
                rows = result.cursor.fetchall()
                return rows, [column[1] for column in result.cursor.description]
            finally:
                result.close()

    def _records(self, statement: sa.Select[Any]) -> list[R]:
        return [row[0] for row in self._execute(statement)]

    def _fetch_all(self) -> list[R]:
        if self._cache is None:
            self._cache = self._records(self.statement)
        return self._cache

    def __iter__(self) -> Iterator[R]:
        return iter(self._fetch_all())

    def __len__(self) -> int:
        return len(self._fetch_all())

    def __bool__(self) -> bool:
        return bool(self._fetch_all())

    @overload
    def __getitem__(self, key: int) -> R: ...

    @overload
    def __getitem__(self, key: slice) -> QuerySet[R]: ...

    def __getitem__(self, key: int | slice) -> R | QuerySet[R]:
        if self._cache is not None:
            if isinstance(key, slice):
                return self._sliced(key)
            return self._cache[key]
        if isinstance(key, slice):
            return self._sliced(key)
        if not isinstance(key, int) or isinstance(key, bool):
            raise ValidationError(f"QuerySet indices must be integers or slices, got {key!r}.")
        if key < 0:
            raise ValidationError(
                f"Negative indexing ({key}) is not supported; use .last() or order_by('-field')."
            )
        records = self._sliced(slice(key, key + 1))._fetch_all()
        if not records:
            raise IndexError(f"QuerySet index {key} out of range.")
        return records[0]

    def _sliced(self, key: slice) -> QuerySet[R]:
        start, stop, step = key.start or 0, key.stop, key.step
        if step not in (None, 1) or start < 0 or (stop is not None and stop < 0):
            raise ValidationError(f"QuerySet slices must be non-negative without step, got {key}.")
        clone = self._clone()
        clone._offset = self._offset + start
        limit = None if stop is None else max(stop - start, 0)
        if self._limit is not None:
            remaining = max(self._limit - start, 0)
            limit = remaining if limit is None else min(limit, remaining)
        clone._limit = limit
        if self._cache is not None:
            clone._cache = self._cache[key]
        return clone

    def list(self, field: str | None = None) -> list[Any]:
        """Return the records as a list, or the values of one `field` (``list("name")``)."""
        if field is None:
            return list(self._fetch_all())
        hops, column = resolve_path(self.model, field)
        if hops:
            raise ValidationError(
                f"list({field!r}): name a field of {self.model.__name__}, not a relation path."
            )
        return [row[0] for row in self._execute(self._select(getattr(self.model, column)))]

    to_list = list  # LaminDB 2.x's name

    def count(self) -> int:
        """Return the number of matching records (one COUNT query)."""
        if self._cache is not None:
            return len(self._cache)
        if self._limit is None and not self._offset and not self._distinct:
            statement = (
                sa.select(sa.func.count()).select_from(self.model).where(*self._conditions())
            )
        else:
            inner = self._select(self.model.id, ordered=False).subquery()  # type: ignore[attr-defined]
            statement = sa.select(sa.func.count()).select_from(inner)
        return int(self._execute(statement)[0][0])

    def exists(self) -> bool:
        """Return whether any record matches (one EXISTS query)."""
        if self._cache is not None:
            return bool(self._cache)
        inner = self._select(self.model.id, ordered=False)  # type: ignore[attr-defined]
        return bool(self._execute(sa.select(sa.exists(inner)))[0][0])

    def first(self) -> R | None:
        """Return the first record (by the ordering, else by id), or None."""
        records = self._sliced(slice(0, 1))._fetch_all()
        return records[0] if records else None

    def last(self) -> R | None:
        """Return the last record (by the ordering, else by id), or None."""
        if self._limit is not None or self._offset:
            records = self._fetch_all()
            return records[-1] if records else None
        statement = self._select(self.model, reverse=True).limit(1)
        records = self._records(statement)
        return records[0] if records else None

    def _one_with_total(self) -> tuple[R | None, int]:
        total = sa.func.count().over().label("lamin_total")
        rows = self._execute(self._select(self.model, total).limit(2))
        if not rows:
            return None, 0
        return rows[0][0], int(rows[0][1])

    def _describe(self) -> str:
        return f"{self.model.__name__} query"

    def one(self) -> R:
        """Return the one matching record.

        Raises:
            DoesNotExist: no record matches.
            MultipleResultsFound: several match (the message says how many).
        """
        record, total = self._one_with_total()
        if record is None:
            raise DoesNotExist(f"No {self.model.__name__} record matches the {self._describe()}.")
        if total > 1:
            raise MultipleResultsFound(
                f"{total} {self.model.__name__} records match the {self._describe()}, expected "
                f"one.{self._candidates()} Add lookups to narrow it down, or use .first() or "
                ".df()."
            )
        return record

    def _candidates(self) -> str:
        """Name the records a get() matched when their type tells them apart (2.x levels)."""
        if not has_levels(self.model):
            return ""
        shown = []
        for found in self._sliced(slice(0, 5))._fetch_all():
            kind = found.type  # type: ignore[attr-defined]
            where = "at the root" if kind is None else f"of type {kind.name!r}"
            shown.append(f"uid {found.uid!r} {where}")  # type: ignore[attr-defined]
        return (
            f" Candidates: {', '.join(shown)}. A name is unique within its type: pick one with "
            "type=<the type record> (type=None: the root), or by uid."
        )

    def one_or_none(self) -> R | None:
        """Return the one matching record or None.

        Raises:
            MultipleResultsFound: several records match.
        """
        try:
            return self.one()
        except DoesNotExist:
            return None

    def get(self, idlike: int | str | None = None, **lookups: Any) -> R:
        """Return the one record with this id, uid, uid prefix, or lookups.

        A 16-character stem of a versioned uid returns its latest version, and so does a key
        (``get(key="a.csv")``) unless the lookups name a version, a uid or an id.

        Raises:
            DoesNotExist: no record matches.
            MultipleResultsFound: several records match (e.g. an ambiguous uid prefix).
        """
        described = ", ".join(f"{k}={v!r}" for k, v in lookups.items())
        queryset = self
        if idlike is not None:
            queryset = queryset._clone()
            queryset._shows_hidden = True  # a record named by its id or uid is found
            if isinstance(idlike, bool) or not isinstance(idlike, (int, str)):
                raise ValidationError(
                    f"{self.model.__name__}.get() expects an integer id or a uid string, got "
                    f"{type(idlike).__name__} {idlike!r}."
                )
            if isinstance(idlike, int):
                queryset = queryset.filter(id=idlike)
            else:
                full = self.model._full_uid_length()  # type: ignore[attr-defined]
                if len(idlike) >= full:
                    queryset = queryset.filter(uid=idlike)
                else:
                    queryset = queryset.filter(uid__startswith=idlike)
                    stem = getattr(self.model, "_stem_length", None)
                    if stem == len(idlike) and hasattr(self.model, "is_latest"):
                        queryset = queryset.filter(is_latest=True)
            described = ", ".join(filter(None, [repr(idlike), described]))
        if lookups:
            queryset = queryset.filter(**lookups)
            if self._names_latest_version_by_key(lookups):
                queryset = queryset.filter(is_latest=True)
        if idlike is None and not lookups:
            raise ValidationError(
                f"{self.model.__name__}.get() needs an id, a uid or lookups such as name='x'."
            )
        queryset._describe = lambda: f"get({described})"  # type: ignore[method-assign]
        return queryset.one()

    def _names_latest_version_by_key(self, lookups: dict[str, Any]) -> bool:
        """Whether get(**lookups) names a versioned record by its key and not a version of it."""
        fields = {name.split(LOOKUP_SEP)[0] for name in lookups}
        return (
            "key" in fields
            and hasattr(self.model, "is_latest")
            and not fields & {"version", "is_latest", "uid", "id"}
        )

    def delete(self, permanent: bool | None = None) -> int:
        """Move the matching records to the trash (or remove them) and return how many.

        As `Record.delete`: registries with a trash move the records there, unless `permanent`;
        records already in the trash need ``permanent=True``. Registries with their own removal
        (Artifact: also the stored files; versioned ones: the latest version moves) go record
        by record; the others in one statement.

        Raises:
            ValidationError: some matching records are already in the trash and `permanent` is
                None; nothing is changed.
            IntegrityError: other records still point to a matching record; nothing is deleted.
        """
        from lamin_core.models.base import Record

        if has_branch(self.model) and not permanent:
            return self._trash(permanent)
        model: Any = self.model
        custom = model.delete is not Record.delete
        if custom or model._delete_permanently is not Record._delete_permanently:
            records = self._fetch_all()
            for record in records:
                record.delete(permanent=True)  # type: ignore[attr-defined]
            return len(records)
        ids = self._id_subquery()
        try:
            with self._catalog().writing() as session:
                result = session.execute(
                    sa.delete(self.model).where(self.model.id.in_(ids)),  # type: ignore[attr-defined]
                    execution_options={"synchronize_session": "fetch"},
                )
        except sa.exc.IntegrityError as error:
            raise IntegrityError(
                f"Cannot delete the {self.model.__name__} records of this query: other records "
                f"still point to them ({error.orig}). Nothing was deleted; delete those first."
            ) from error
        return int(getattr(result, "rowcount", 0) or 0)

    def update(self, **fields: Any) -> int:
        """Set fields (or to-one relations) of every matching record; return how many changed.

        The records are changed as by assignment and saved in one transaction, so every rule
        of the registry holds (a ``type`` must be a type, a uid stays immutable).

        Raises:
            FieldError: a name is not a field or to-one relation of the registry.
            ValidationError: a value breaks a rule of the registry; nothing is changed.

        Examples:
            >>> ln.Record.filter(type=old_type).update(type=new_type)
        """
        self._check_unsliced("update")
        model: Any = self.model
        mapper = sa.inspect(model)
        to_one = {relation.key for relation in mapper.relationships if not relation.uselist}
        settable = (model._field_names() | to_one) - {"id"}
        for name in fields:
            if name not in settable:
                raise FieldError(
                    f"Cannot update {name!r} of {model.__name__}: not a field or to-one relation."
                    f"{did_you_mean(name, settable)} Fields: {', '.join(sorted(settable))}."
                )
        with self._catalog().writing() as session:
            records: list[Any] = self._fetch_all()
            for record in records:
                for name, value in fields.items():
                    setattr(record, name, value)
            session.flush()
        return len(records)

    def _trash(self, permanent: bool | None) -> int:
        """Move the matching records to the trash in one transaction; return how many moved."""
        from lamin_core.models.branches import TRASH_BRANCH

        records: list[Any] = self._fetch_all()
        trashed = [record for record in records if record.branch_id == TRASH_BRANCH]
        if trashed and permanent is None:
            raise ValidationError(
                f"{len(trashed)} of the {len(records)} {self.model.__name__} records of this "
                f"query are already in the trash (e.g. {trashed[0].uid!r}). Pass permanent=True "
                "to remove them for good, or exclude them with .filter(branch_id=1)."
            )
        moving = [record for record in records if record.branch_id != TRASH_BRANCH]
        if not moving:
            return 0
        instance = self._catalog()
        for record in moving:
            record._check_write(instance, "UPDATE")
        with instance.writing() as session:
            for record in moving:
                record._set_branch(session, TRASH_BRANCH)
                session.flush()
        return len(moving)

    # --- DataFrames ----------------------------------------------------------------------------

    def df(
        self,
        include: str | Sequence[str] | None = None,
        features: bool | str | Sequence[str] = False,
        limit: int | None = None,
    ) -> pd.DataFrame:
        """Return the records as a DataFrame indexed by `id`, in ONE statement for the rows.

        Args:
            include: Fields to add: plain fields (``"suffix"``), to-one paths
                (``"created_by__name"``, a scalar per row) and to-many paths (``"ulabels__name"``,
                a set per row; ``{None}`` when a record has no related record, as in LaminDB),
                and ``"features"`` (LaminDB 2.x's spelling of ``features=True``).
            features: True for one column per feature with values (a set per row, NaN when the
                record has none), or a feature name or list of feature names.
            limit: At most this many rows (default: all).

        Without `include` and `features` the columns are the registry's fields in table order;
        with them, ``uid``, the name field, ``description``, then the includes and features.
        `features` costs one more small query (the list of features).
        """
        from lamin_core.query.dataframe import build_df

        queryset = self if limit is None else self._sliced(slice(0, limit))
        return build_df(queryset, include=include, features=features)

    to_dataframe = df

    def __repr__(self) -> str:
        records = self[: REPR_LIMIT + 1].list() if self._cache is None else self._cache
        shown = ", ".join(repr(r) for r in records[:REPR_LIMIT])
        more = ", ..." if len(records) > REPR_LIMIT else ""
        return f"<QuerySet [{shown}{more}]>"
