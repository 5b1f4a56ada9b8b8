"""Translate database driver errors into LaminErrors, in one place: the engine's error hook.

Values are checked before SQL runs (`lamin_core.errors.values`), so a driver error means
something the checks did not foresee, or a condition of the database itself: a lock held past
the timeout, a role without write access, a server that went away. Users see these as
LaminErrors whatever statement hit them, with the driver's exception as ``__cause__``. The
translation is installed on every engine (`install`) through SQLAlchemy's ``handle_error``
event, which sees every error of every statement, commit and connection attempt, and may
replace it.

A constraint violation becomes a `ConstraintViolation`: our ``IntegrityError`` and SQLAlchemy's
at once, so the save code that catches SQLAlchemy's to detect a concurrent save (and retries)
works unchanged, while anywhere else the user gets a LaminError. `CatalogSession` translates
the one ORM error no engine sees: a row deleted by another process meanwhile
(``StaleDataError``).

Examples:
    >>> engine = sa.create_engine("sqlite:///lamin.db", json_serializer=json_dumps)
    >>> install(engine)
"""

from __future__ import annotations

import json
import re
import weakref
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine, ExceptionContext
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import ObjectDeletedError, StaleDataError

from lamin_core.errors import (
    DoesNotExist,
    InstanceError,
    IntegrityError,
    LaminError,
    NoWriteAccess,
    ValidationError,
)
from lamin_core.errors.values import json_value

__all__ = [
    "CatalogSession",
    "ConstraintViolation",
    "RecordDeleted",
    "UnstorableJSON",
    "install",
    "json_dumps",
    "listen_once",
    "recovered",
    "report_deleted_rows",
    "translate",
]

_WRITE_VERBS = frozenset(
    {"insert", "update", "delete", "create", "alter", "drop", "grant", "revoke", "truncate"}
)


class ConstraintViolation(IntegrityError, sa.exc.IntegrityError):
    """A write broke a constraint: our `IntegrityError`, and SQLAlchemy's as well.

    The save code catches SQLAlchemy's ``IntegrityError`` to detect a concurrent save (same
    content, same version number) and retries or says what happened; everywhere else (a label
    linked to a record another process deleted meanwhile) the user gets a LaminError. ``orig``
    is the driver's exception, as on SQLAlchemy's.
    """

    def __init__(self, message: str, statement: str | None, params: Any, orig: BaseException):
        sa.exc.IntegrityError.__init__(self, statement, params, orig)
        self.message = message
        self.args = (message,)

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> Any:
        return (type(self), (self.message, self.statement, self.params, self.orig))


def _constraint_violation(
    error: BaseException, statement: str | None, params: Any, database: str
) -> ConstraintViolation:
    text = " ".join(str(error).split())
    lowered = text.lower()
    if "foreign key" in lowered:
        rule = "a record it refers to does not exist (deleted by another process meanwhile?)"
    elif "unique" in lowered or "duplicate key" in lowered:
        rule = "a value that must be unique is already taken"
    elif "not null" in lowered or "null value" in lowered:
        rule = "a required field has no value"
    else:
        rule = "it breaks a constraint"
    return ConstraintViolation(
        f"Cannot write to {database!r}: {rule} ({text}). Nothing was written; fetch the records "
        "again and retry.",
        statement,
        params,
        error,
    )


class UnstorableJSON(ValueError):
    """A value bound to a JSON column that JSON cannot hold (raised by `json_dumps`)."""


def json_dumps(value: Any) -> str:
    """Serialise a JSON column's value: strict JSON (no inf/NaN), numpy values as Python ones.

    The engines' ``json_serializer``: values that reach a JSON column without the registries'
    checks (a dict changed in place after it was set) still cannot write what JSON has no
    words for.

    Raises:
        UnstorableJSON: the value cannot be stored; the error hook makes it a ValidationError.
    """
    try:
        return json.dumps(json_value(value, "a JSON value"), allow_nan=False)
    except (ValidationError, ValueError, TypeError) as error:
        raise UnstorableJSON(str(error)) from error


_LISTENING: weakref.WeakKeyDictionary[Engine, set[tuple[str, Any]]] = weakref.WeakKeyDictionary()


def listen_once(engine: Engine, event: str, listener: Any) -> None:
    """Add `listener` for `event` on `engine`, unless this engine already has it.

    Not ``sa.event.contains``: SQLAlchemy keys its registry by ``id(engine)``, and an engine
    freed before its listener collection is may hand its id to a new engine, which then seems to
    have the listener already and never gets it.
    """
    done = _LISTENING.setdefault(engine, set())
    if (event, listener) not in done:
        sa.event.listen(engine, event, listener)
        done.add((event, listener))


def install(engine: Engine) -> None:
    """Translate the driver errors of `engine` into LaminErrors (a no-op when already done)."""
    listen_once(engine, "handle_error", _handle_error)


def _handle_error(context: ExceptionContext) -> BaseException | None:
    if context.is_pre_ping:
        return None  # the pool's liveness probe: SQLAlchemy reconnects on its own
    engine = context.engine
    return translate(
        context.original_exception,
        statement=context.statement,
        params=context.parameters,
        database=engine.url.render_as_string(hide_password=True) if engine is not None else "",
        is_connect=context.connection is None,
    )


def _is_write(statement: str | None) -> bool:
    words = (statement or "").lstrip().split(None, 1)
    return bool(words) and words[0].lower() in _WRITE_VERBS


def translate(
    error: BaseException,
    *,
    statement: str | None,
    database: str,
    params: Any = None,
    is_connect: bool = False,
) -> LaminError | None:
    """Return the LaminError for a driver error, or None to let it pass as it is.

    Args:
        error: The exception raised by the driver (or while binding parameters).
        statement: The SQL statement, when there was one.
        database: The database URL without password, for messages.
        params: The statement's parameters (kept on a `ConstraintViolation`).
        is_connect: The error happened while connecting.
    """
    if isinstance(error, LaminError):
        return None
    name = type(error).__name__
    if name == "IntegrityError" or str(getattr(error, "sqlstate", "") or "").startswith("23"):
        return _constraint_violation(error, statement, params, database)
    if isinstance(error, UnstorableJSON):
        return ValidationError(f"{error} Nothing was written.")
    if isinstance(error, UnicodeEncodeError):
        return ValidationError(
            f"The text {error.object[error.start : error.end]!r} (at position {error.start} of a "
            "value) is not valid Unicode: a lone surrogate cannot be stored or compared. Decode "
            "the source with errors='replace', or remove the character."
        )
    if isinstance(error, OverflowError):
        return ValidationError(
            f"An integer is out of range for the database ({error}); the catalog stores integers "
            f"from {-(2**63)} to {2**63 - 1}."
        )
    module = type(error).__module__.split(".")[0]
    if module == "sqlite3":
        return _translate_sqlite(error, statement, database)
    if module == "psycopg":
        return _translate_postgres(error, statement, database, is_connect)
    return None


def _unreachable(database: str, error: BaseException) -> InstanceError:
    return InstanceError(
        f"Cannot reach the catalog database {database!r}: {error}. Check that the server runs "
        "and the URL (host, port, database, user) is right."
    )


def _translate_sqlite(
    error: BaseException, statement: str | None, database: str
) -> LaminError | None:
    name = type(error).__name__
    text = str(error)
    lowered = text.lower()
    if "locked" in lowered or "busy" in lowered:
        return InstanceError(
            f"The catalog database {database!r} is locked: another process or connection held "
            f"its write lock past the timeout ({text}). Nothing was written. Retry when the other "
            "writer is done; a Python session with an open transaction or a database browser "
            "holds the lock until it commits or closes."
        )
    if "too many sql variables" in lowered:
        return ValidationError(
            f"The statement has more values than SQLite accepts in one statement ({text}). "
            "Pass fewer values at a time."
        )
    if "readonly database" in lowered or "read-only" in lowered:
        return NoWriteAccess(
            f"Cannot write to the catalog database {database!r}: it is read-only ({text}). "
            "Check the permissions of the database file and its folder."
        )
    if "malformed json" in lowered:
        return ValidationError(
            f"A JSON value stored in {database!r} is malformed ({text}): it holds inf or NaN, "
            "written by an older lamin-core. Find it with "
            "ln.Artifact.features.filter(<feature>__isnull=False) and remove the value."
        )
    if name in ("DataError", "ProgrammingError", "InterfaceError"):
        return ValidationError(f"A value cannot be stored or compared by SQLite: {text}.")
    return InstanceError(f"The catalog database {database!r} failed: {text}.")


def _translate_postgres(
    error: BaseException, statement: str | None, database: str, is_connect: bool
) -> LaminError | None:
    sqlstate = getattr(error, "sqlstate", None) or ""
    name = type(error).__name__
    text = str(error).strip()
    first_line = text.splitlines()[0] if text else name
    if sqlstate == "42501":
        if _is_write(statement):
            return NoWriteAccess(
                f"The database role may not make this write to {database!r}: {first_line}. "
                "Nothing was written. Ask the catalog's owner for write access (a role with "
                "INSERT, UPDATE, DELETE on the catalog's tables), or connect as such a role."
            )
        return InstanceError(
            f"The database role may not read {database!r}: {first_line}. Ask the catalog's owner "
            "to grant it read access."
        )
    if sqlstate.startswith(("22", "54")) or sqlstate in ("42804", "42883", "42P18"):
        return ValidationError(
            f"A value cannot be stored or compared by PostgreSQL: {first_line}. Nothing was "
            "written."
        )
    if not sqlstate:
        if is_connect or (
            name in ("OperationalError", "InterfaceError") and "parameter" not in text
        ):
            return _unreachable(database, error)
        if name == "OperationalError":
            return ValidationError(
                f"The statement has more values than PostgreSQL accepts in one statement "
                f"({first_line}). Pass fewer values at a time."
            )
        return ValidationError(f"A value cannot be sent to PostgreSQL: {first_line}.")
    if sqlstate.startswith(("08", "57P", "53")):
        return _unreachable(database, error)
    if sqlstate.startswith("40"):
        return InstanceError(
            f"A concurrent transaction on {database!r} conflicted with this one ({first_line}); "
            "nothing was written. Retry."
        )
    return InstanceError(f"The catalog database {database!r} failed: {first_line}.")


# psycopg's TransactionStatus.INERROR: a statement failed, the transaction only takes ROLLBACK
_IN_ERROR = 3


def recovered(session: Session) -> Session:
    """Return `session`, rolled back first if a failed statement left its transaction aborted.

    On PostgreSQL a failed statement aborts the transaction: every later statement fails until
    a rollback, which loses nothing more (the aborted transaction cannot commit). Code that met
    the error may not have rolled back; the next use of the session does it, unless the session
    holds changes not yet flushed (those are the caller's to handle). Costs a few attribute
    reads; SQLite transactions survive a failed statement and are left alone.
    """
    if not session.in_transaction() or session.new or session.dirty or session.deleted:
        return session
    bind = session.get_bind()
    if bind.dialect.name != "postgresql":
        return session
    raw = session.connection().connection.dbapi_connection
    info = getattr(raw, "info", None)
    if getattr(info, "transaction_status", None) == _IN_ERROR:
        session.rollback()
    return session


class CatalogSession(Session):
    """The catalog's session: an ORM flush that finds its rows gone raises a LaminError.

    Saving a record that another process deleted meanwhile updates no row; SQLAlchemy raises
    ``StaleDataError`` at the flush. That is `DoesNotExist` here, and the transaction is rolled
    back by the caller as for any failed save.
    """

    def flush(self, objects: Any = None) -> None:
        """Flush pending changes; a row that vanished meanwhile raises DoesNotExist."""
        try:
            super().flush(objects)
        except StaleDataError as error:
            match = re.search(r"table '([^']+)'", str(error))
            table = match.group(1) if match else "a"
            raise DoesNotExist(
                f"A {table} record this write changes was deleted by another process or session "
                f"meanwhile ({error}). Nothing was written; fetch the record again with .get(...) "
                "and repeat the change, or save a new record."
            ) from error


class RecordDeleted(DoesNotExist, ObjectDeletedError):
    """A record's row was deleted by another process or session: DoesNotExist, and SQLAlchemy's
    ``ObjectDeletedError`` for code that expects that.

    Raised when a record whose values were expired (after a rollback) is read again and its row
    is gone.
    """

    def __init__(self, state: Any) -> None:
        name = state.class_.__name__
        identity: tuple[Any, ...] = tuple(state.key[1]) if state.key else ()
        shown = f" (id={identity[0]})" if len(identity) == 1 else ""
        message = (
            f"The {name} record{shown} no longer exists: another process or session deleted it. "
            f"Fetch the records again, e.g. {name}.filter(...)."
        )
        ObjectDeletedError.__init__(self, state, message)
        self.args = (message,)

    def __str__(self) -> str:
        return str(self.args[0])


def report_deleted_rows(base: type) -> None:
    """Raise `RecordDeleted` when a record of `base`'s registries finds its row deleted.

    SQLAlchemy reloads an expired record's values through its class manager's loader; the
    loader is wrapped as each registry is configured.
    """

    def attach(mapper: sa.orm.Mapper[Any], _cls: type) -> None:
        manager = mapper.class_manager
        load = manager.expired_attribute_loader
        if getattr(load, "reports_deleted_rows", False):
            return

        def load_or_report(state: Any, names: Any, passive: Any) -> None:
            try:
                load(state, names, passive)
            except ObjectDeletedError as error:
                raise RecordDeleted(state) from error

        load_or_report.reports_deleted_rows = True  # type: ignore[attr-defined]
        manager.expired_attribute_loader = load_or_report  # type: ignore[assignment]

    sa.event.listen(base, "mapper_configured", attach, propagate=True)
