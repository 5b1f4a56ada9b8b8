"""Read the rows of a DataFrame from a SQLite catalog as Arrow columns, not row by row.

Python's sqlite3 module hands rows over one at a time: for every row it releases and takes
back the GIL and SQLite's mutex, and it creates a Python object per value. For a table of
10,000 artifacts with their labels that is half of `df()`'s time. The ADBC SQLite driver of
Apache Arrow steps through the rows in C and returns whole columns (integers as int64 arrays,
text as Arrow strings); pandas recommends ADBC drivers for ``read_sql`` for the same reason.

`read_columns` is used by `df()` when it gives the same answer as the session's connection:

- the catalog is a SQLite file (PostgreSQL and in-memory databases read through SQLAlchemy);
- the session holds no open transaction: a read inside one must see the transaction's own
  uncommitted writes, which only the session's connection sees.

Any error of the driver (a busy database, REGEXP, which only the session's connections define,
a column whose values change type between Arrow batches, the driver not installed) returns None
and the caller reads through the session instead; the statement is compiled by SQLAlchemy for
both. Set ``LAMIN_CORE_COLUMNAR_READS=0`` to always read through the session.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import weakref
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa

__all__ = ["ENV_SWITCH", "read_columns"]

logger = logging.getLogger(__name__)

ENV_SWITCH = "LAMIN_CORE_COLUMNAR_READS"
# The driver infers each column's type from the first Arrow batch; one batch holds any result
# up to this many rows, so a column that is NULL in its first rows still gets its type.
BATCH_ROWS = 1 << 22


class _Held:
    """The connection of one thread; when the thread ends, its locals go and this with them."""

    __slots__ = ("__weakref__", "connection", "pid")

    def __init__(self, pid: int, connection: Any) -> None:
        self.pid, self.connection = pid, connection


def _close(pid: int, connection: Any) -> None:
    if pid == os.getpid():  # never a connection a forked child inherited from its parent
        with contextlib.suppress(Exception):
            connection.close()


class _Connections:
    """ADBC connections to one SQLite file: one per thread and process, opened on first use.

    A thread's connection closes when the thread ends, all of them when the engine is disposed
    (`Instance.close()`) or the interpreter exits.
    """

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self._local = threading.local()
        self._lock = threading.Lock()
        self._closers: list[weakref.finalize[Any, Any]] = []

    def get(self) -> Any:
        held = getattr(self._local, "held", None)
        if held is not None and held.pid == os.getpid():  # not one inherited through fork()
            return held.connection
        import adbc_driver_sqlite.dbapi

        connection = adbc_driver_sqlite.dbapi.connect(self.uri, autocommit=True)
        held = self._local.held = _Held(os.getpid(), connection)
        closer = weakref.finalize(held, _close, held.pid, connection)
        with self._lock:
            self._closers = [*(c for c in self._closers if c.alive), closer]
        return connection

    @property
    def open_count(self) -> int:
        """How many connections are open (this process's, of threads still running)."""
        with self._lock:
            return sum(1 for closer in self._closers if closer.alive)

    def close(self) -> None:
        with self._lock:
            closers, self._closers = self._closers, []
        self._local = threading.local()
        for closer in closers:
            closer()


_by_engine: weakref.WeakKeyDictionary[sa.Engine, _Connections | None] = weakref.WeakKeyDictionary()
_by_engine_lock = threading.Lock()


def _connections(engine: sa.Engine) -> _Connections | None:
    """Return the ADBC connections of `engine`'s SQLite file, or None when it has none."""
    with _by_engine_lock:
        if engine in _by_engine:
            return _by_engine[engine]
        connections = None
        database = engine.url.database
        if engine.dialect.name == "sqlite" and database and database != ":memory:":
            try:
                import adbc_driver_sqlite.dbapi  # noqa: F401
            except ImportError:
                logger.debug("adbc-driver-sqlite is not installed; DataFrames read row by row")
            else:
                connections = _Connections(Path(database).resolve().as_uri())
                sa.event.listen(engine, "engine_disposed", lambda _engine: connections.close())
        _by_engine[engine] = connections
        return connections


def read_columns(session: sa.orm.Session, statement: sa.Select[Any]) -> list[np.ndarray] | None:
    """Return each column of `statement`'s result as an array, or None to read it otherwise.

    Floats and integers without NULLs come as numpy arrays (NaN for a NULL float); integers
    with NULLs, text and the rest as object arrays with None for NULL, as in the driver's rows.
    """
    if os.environ.get(ENV_SWITCH, "1") == "0" or session.in_transaction():
        return None
    engine = session.get_bind()
    if not isinstance(engine, sa.Engine):
        return None
    connections = _connections(engine)
    if connections is None:
        return None
    # IN lists rendered as one placeholder per value; values through the dialect's processors
    compiled = statement.compile(
        dialect=engine.dialect, compile_kwargs={"render_postcompile": True}
    )
    values = compiled.construct_params()
    processors: dict[str, Any] = dict(compiled._bind_processors)
    parameters = tuple(
        processors[name](values[name]) if name in processors else values[name]
        for name in compiled.positiontup or ()
    )
    try:
        cursor = connections.get().cursor()
        try:
            cursor.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(BATCH_ROWS)})
            cursor.execute(compiled.string, parameters or None)
            table = cursor.fetch_arrow_table()
        finally:
            cursor.close()
    except Exception as error:  # the driver's errors have no common base; the session reads
        logger.debug("Columnar read failed, reading through the session: %s", error)
        return None
    return [_cells(column) for column in table.columns]


def _cells(column: Any) -> np.ndarray:
    """Return an Arrow column as a numpy array, as the caller expects the driver's values."""
    import pyarrow as pa

    if column.null_count == len(column):  # its type is a guess: SQLite had no value to show
        return np.full(len(column), None, dtype=object)
    kind = column.type
    if pa.types.is_floating(kind) or (pa.types.is_integer(kind) and not column.null_count):
        return np.asarray(column.to_numpy())
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return np.asarray(column.to_numpy(zero_copy_only=False))
    return np.array(column.to_pylist(), dtype=object)
