"""Database locks that serialise writers which must not interleave.

Version assignment (the next uid of a family) and the repair of stored files both decide from
what the database holds at that moment, then act on it. Optimistic retries lose under contention
(sixteen writers on one key), so such sections run under a lock held by the database until the
transaction ends: a crash or a killed process releases it with the connection.

- PostgreSQL: advisory transaction locks named by text, exclusive or shared, so that writers of
  different keys never wait for each other. The server hashes the catalog's schema with the name
  (`lock_key`): catalogs in different schemas of one database never wait for each other either.
- SQLite: one writer at a time anyway, so every lock is the database's write lock, taken at the
  start of the transaction (``BEGIN IMMEDIATE``) instead of at its first write; a transaction
  that reads first and writes later could otherwise fail without waiting ("database is locked").
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.orm import Session

# Saves and deletes hold it shared while a stored file and its row may disagree; repair holds it
# exclusively while it decides that a file has no row and removes it.
REPAIR_LOCK = "lamin:repair"


def lock_key(name: str) -> sa.ColumnElement[int]:
    """Return the 64-bit key of the advisory lock `name` of this connection's catalog.

    The key hashes the current schema with the name (on the server, no extra round trip), so a
    catalog's locks are its own even when several catalogs share a database, one schema each.
    """
    return sa.func.hashtextextended(sa.func.current_schema() + sa.literal(f":{name}"), 0)


def hold_locks(
    session: Session, exclusive: Iterable[str] = (), *, shared: Iterable[str] = ()
) -> None:
    """Hold the named locks until the session's transaction commits or rolls back.

    Shared locks are taken before exclusive ones; callers name exclusive locks in one global
    order (repair, then key, then family), so two writers never wait for each other in a circle.

    Args:
        session: The session whose transaction holds the locks.
        exclusive: Names of locks no other transaction may hold at the same time.
        shared: Names of locks other transactions may hold shared, but not exclusively.
    """
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        begin_immediate(connection)
        return
    calls = [sa.func.pg_advisory_xact_lock_shared(lock_key(name)) for name in shared]
    calls += [sa.func.pg_advisory_xact_lock(lock_key(name)) for name in exclusive]
    if calls:
        connection.execute(sa.select(*calls))  # one round trip, evaluated left to right


def begin_immediate(connection: sa.Connection) -> None:
    """Take SQLite's write lock now, unless this connection's transaction already holds it.

    The sqlite3 driver starts a transaction only before the first write; until then reads run
    outside any transaction, so this ``BEGIN IMMEDIATE`` becomes the transaction that the
    session commits. It waits up to the busy timeout for other writers.
    """
    dbapi_connection = connection.connection.dbapi_connection
    if not getattr(dbapi_connection, "in_transaction", True):
        connection.exec_driver_sql("BEGIN IMMEDIATE")
