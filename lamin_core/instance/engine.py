"""The engine of a catalog database: SQLite tuned for concurrency (WAL, busy timeout, REGEXP
through RE2), or PostgreSQL through psycopg; driver errors become LaminErrors on both."""

from __future__ import annotations

import functools
import os
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from lamin_core.errors import InstanceError
from lamin_core.errors import database as dberrors
from lamin_core.instance.regex import regex_search

__all__ = [
    "SQLITE_SYNCHRONOUS_LEVELS",
    "create_engine",
    "install_sqlite_functions",
    "sqlite_synchronous",
]


SQLITE_SYNCHRONOUS_LEVELS = ("OFF", "NORMAL", "FULL", "EXTRA")


def sqlite_synchronous() -> str:
    """Return the SQLite ``synchronous`` level: ``LAMIN_CORE_SQLITE_SYNCHRONOUS``, else NORMAL.

    In WAL mode, NORMAL never corrupts the catalog, but a power loss (not a crash of the
    process) may drop the last commits; FULL makes every commit durable at the cost of a disk
    flush per commit (and saves then flush stored files too); EXTRA is FULL here (its extra
    flush concerns rollback journals); OFF leaves flushing to the operating system (a power loss
    may then corrupt the database).

    Raises:
        InstanceError: the variable names another level.
    """
    value = os.environ.get("LAMIN_CORE_SQLITE_SYNCHRONOUS", "").strip() or "NORMAL"
    if value.upper() not in SQLITE_SYNCHRONOUS_LEVELS:
        raise InstanceError(
            f"Invalid LAMIN_CORE_SQLITE_SYNCHRONOUS {value!r}: use one of "
            f"{', '.join(SQLITE_SYNCHRONOUS_LEVELS)} (default NORMAL; FULL for durable commits)."
        )
    return value.upper()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any, *, synchronous: str = "NORMAL") -> None:
    # WAL lets readers run while one process writes; the busy timeout makes concurrent writers
    # (Dagster's multiprocess executor) wait for the lock instead of failing at once.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA synchronous={synchronous}")  # one of SQLITE_SYNCHRONOUS_LEVELS
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=60000")
    cursor.close()


# A pooled PostgreSQL connection idle for longer than this is pinged before it is handed out:
# a server restart or an idle timeout that dropped it is noticed then, not by the user's query.
# A connection used moments ago is not: the ping would be one more round trip per operation.
PING_AFTER_IDLE_S = 5.0


def _note_checkin(_dbapi_connection: Any, record: Any) -> None:
    record.info["checked_in"] = time.monotonic()


def _ping_if_idle(dialect: Any, dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """Ping a connection that sat idle in the pool; a dead one is replaced by a new one.

    Raises:
        sqlalchemy.exc.DisconnectionError: the ping failed; the pool then opens a new connection.
    """
    checked_in = record.info.get("checked_in")
    if checked_in is not None and time.monotonic() - checked_in < PING_AFTER_IDLE_S:
        return
    try:
        dialect.do_ping(dbapi_connection)
    except dialect.loaded_dbapi.Error as error:
        raise sa.exc.DisconnectionError(f"the pooled connection is gone: {error}") from error


def create_engine(db_url: str | URL, *, create: bool = True) -> Engine:
    """Create an engine for a catalog database: SQLite tuned for concurrency, or PostgreSQL.

    Raises:
        InstanceError: the URL is malformed or names an unsupported database.
    """
    try:
        url = make_url(db_url)
    except ArgumentError as error:
        raise InstanceError(
            f"Invalid database URL {str(db_url)!r}: {error}. Use 'sqlite:///path/lamin.db' or "
            "'postgresql://user@host:5432/dbname'."
        ) from error
    backend = url.get_backend_name()
    if backend == "sqlite":
        synchronous = sqlite_synchronous()
        if url.database and url.database != ":memory:":
            if not create and not Path(url.database).exists():
                raise InstanceError(
                    f"No catalog at {url.database!r}. Create one with ln.init(storage=...)."
                )
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            url, connect_args={"timeout": 60}, json_serializer=dberrors.json_dumps
        )
        dberrors.install(engine)
        sa.event.listen(
            engine, "connect", functools.partial(_sqlite_pragmas, synchronous=synchronous)
        )
        install_sqlite_functions(engine)  # REGEXP for the regex/iregex lookups
        return engine
    if backend == "postgresql":
        if url.drivername in ("postgresql", "postgres"):
            url = url.set(drivername="postgresql+psycopg")
        try:
            engine = sa.create_engine(url, json_serializer=dberrors.json_dumps)
        except (NoSuchModuleError, ImportError) as error:
            raise InstanceError(
                "PostgreSQL needs the psycopg driver: pip install 'lamin-core[postgres]'."
            ) from error
        dberrors.install(engine)  # driver errors become LaminErrors
        sa.event.listen(engine, "connect", _note_checkin)  # a new connection needs no ping
        sa.event.listen(engine, "checkin", _note_checkin)
        sa.event.listen(engine, "checkout", functools.partial(_ping_if_idle, engine.dialect))
        return engine
    raise InstanceError(
        f"Unsupported database {backend!r} in {url.render_as_string(hide_password=True)!r}: "
        "lamin-core runs on SQLite and PostgreSQL."
    )


def _regexp(pattern: str | None, value: Any) -> bool | None:
    return regex_search(pattern, value, case_insensitive=False)


def _iregexp(pattern: str | None, value: Any) -> bool | None:
    return regex_search(pattern, value, case_insensitive=True)


def register_sqlite_functions(dbapi_connection: Any, _record: Any = None) -> None:
    """Register ``regexp`` and ``lamin_iregexp`` on one sqlite3 connection."""
    dbapi_connection.create_function("regexp", 2, _regexp, deterministic=True)
    dbapi_connection.create_function("lamin_iregexp", 2, _iregexp, deterministic=True)


def install_sqlite_functions(engine: Engine) -> None:
    """Give every connection of a SQLite `engine` the functions the query compiler uses.

    SQLite has a ``REGEXP`` operator but no implementation; this registers one (RE2: linear
    time, so no pattern can hang the database; deterministic, with compiled patterns cached) on
    each new connection. A no-op for other databases and for an engine that already has it.
    """
    if engine.dialect.name != "sqlite":
        return
    dberrors.listen_once(engine, "connect", register_sqlite_functions)
