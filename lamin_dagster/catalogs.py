"""Open catalogs shared by the resources of one process: connect once, not once per run.

Dagster copies a resource for every run (and the multiprocess executor for every step process),
so a catalog opened by the resource itself is opened and closed again for each. Opening a SQLite
catalog costs tens of milliseconds (the schema check; the first connection recovers the WAL) and
closing it as much again (the last connection checkpoints the WAL), for every in-process
``dg.materialize`` or job run of a long-lived process (tests, ``dagster dev``'s run workers,
notebooks). So `acquire` hands out the catalog already open in this process for the same
configuration, and `release` ends the caller's session but keeps the connection pool, up to
`IDLE_CATALOGS` catalogs nobody uses; older idle ones are closed.

A SQLite catalog whose database file was replaced or deleted since it was opened (another
`ln.init` at the same place) is opened afresh, so a cached connection never reads a stale file.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import lamin_core as ln

#: Catalogs kept open while no resource uses them (least recently used ones are closed first).
IDLE_CATALOGS = 2

#: What identifies a catalog configuration: working directory (relative storage paths), storage,
#: database URL, user handle and whether a missing catalog is created.
CatalogKey = tuple[str, str, str | None, str | None, bool]


@dataclass
class _Open:
    instance: ln.Instance
    users: int
    database_file: tuple[int, int] | None  # (device, inode) of a SQLite file when opened


_open: OrderedDict[CatalogKey, _Open] = OrderedDict()
_lock = threading.Lock()
# catalogs a forked child inherited: its parent's connections, never used nor closed here (a
# closed PostgreSQL connection would tell the server, ending the parent's), kept from collection
_inherited: list[ln.Instance] = []


def _forget_in_child() -> None:
    global _lock
    _lock = threading.Lock()  # another thread of the parent may have held it
    _inherited.extend(entry.instance for entry in _open.values())
    _open.clear()


os.register_at_fork(after_in_child=_forget_in_child)


def catalog_key(storage: str, db: str | None, user: str | None, create: bool) -> CatalogKey:
    """Return the key under which a configuration's open catalog is shared."""
    return (os.getcwd(), storage, db, user, create)


def _database_file(instance: ln.Instance) -> tuple[int, int] | None:
    """Return the (device, inode) of a SQLite catalog's file, None for a server or no file."""
    url = instance.engine.url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    try:
        status = os.stat(url.database)
    except OSError:
        return (-1, -1)  # gone: never equal to a file that exists
    return (status.st_dev, status.st_ino)


def acquire(key: CatalogKey, open_catalog: Callable[[], ln.Instance]) -> ln.Instance:
    """Return the catalog open in this process under `key`, opening it when there is none.

    Args:
        key: The configuration (`catalog_key`).
        open_catalog: Opens the catalog (``ln.init`` or ``ln.connect``); its errors propagate.
    """
    with _lock:
        entry = _open.get(key)
        if entry is not None and entry.database_file != _database_file(entry.instance):
            del _open[key]  # replaced on disk since: open what is there now
            if entry.users == 0:
                entry.instance.close()
            entry = None
        if entry is None:
            instance = open_catalog()
            entry = _Open(instance, 0, _database_file(instance))
            _open[key] = entry
        entry.users += 1
        _open.move_to_end(key)
        return entry.instance


def release(key: CatalogKey, instance: ln.Instance, *, keep: bool = True) -> None:
    """Give back a catalog from `acquire`: end this thread's session, keep the connections.

    Catalogs beyond `IDLE_CATALOGS` that nobody uses are closed, the least recently used first.

    Args:
        key: The key it was acquired under.
        instance: The catalog `acquire` returned.
        keep: Keep it open for the next `acquire` when nobody else uses it; False closes it
            then (other users keep it open until they release it).
    """
    instance.session.close()  # rolls back what was left open; the pool keeps the connection
    with _lock:
        entry = _open.get(key)
        if entry is None or entry.instance is not instance:
            instance.close()  # no longer shared (replaced on disk): nobody else holds it
            return
        entry.users -= 1
        if entry.users == 0 and not keep:
            del _open[key]
            instance.close()
            return
        idle = [k for k, e in _open.items() if e.users == 0]
        for stale in idle[: max(0, len(idle) - IDLE_CATALOGS)]:
            _open.pop(stale).instance.close()


def close_idle() -> None:
    """Close every shared catalog nobody uses (tests, or a process about to fork)."""
    with _lock:
        for key in [k for k, e in _open.items() if e.users == 0]:
            _open.pop(key).instance.close()
