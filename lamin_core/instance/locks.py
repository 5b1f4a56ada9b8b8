"""Database locks that serialise writers which must not interleave.

Version assignment (the next uid of a family) and the repair of stored files both decide from
what the database holds at that moment, then act on it. Optimistic retries lose under contention
(sixteen writers on one key), so such sections run under a lock held by the database until the
transaction ends: a crash or a killed process releases it with the connection.

- PostgreSQL: advisory transaction locks named by text (hashed to 64 bits), exclusive or shared,
  so that writers of different keys never wait for each other.
- SQLite: one writer at a time anyway, so every lock is the database's write lock, taken at the
  start of the transaction (``BEGIN IMMEDIATE``) instead of at its first write; a transaction
  that reads first and writes later could otherwise fail without waiting ("database is locked").
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.orm import Session

# Saves and deletes hold it shared while a stored file and its row may disagree; repair holds it
# exclusively while it decides that a file has no row and removes it.
REPAIR_LOCK = "lamin:repair"


def lock_id(name: str) -> int:
    """Return the signed 64-bit key of the advisory lock called `name`."""
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


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
    calls = [f"pg_advisory_xact_lock_shared({lock_id(name)})" for name in shared]
    calls += [f"pg_advisory_xact_lock({lock_id(name)})" for name in exclusive]
    if calls:
        # literal integers (not names from users): one round trip, evaluated left to right
        connection.exec_driver_sql(f"SELECT {', '.join(calls)}")


def begin_immediate(connection: sa.Connection) -> None:
    """Take SQLite's write lock now, unless this connection's transaction already holds it.

    The sqlite3 driver starts a transaction only before the first write; until then reads run
    outside any transaction, so this ``BEGIN IMMEDIATE`` becomes the transaction that the
    session commits. It waits up to the busy timeout for other writers.
    """
    dbapi_connection = connection.connection.dbapi_connection
    if not getattr(dbapi_connection, "in_transaction", True):
        connection.exec_driver_sql("BEGIN IMMEDIATE")
