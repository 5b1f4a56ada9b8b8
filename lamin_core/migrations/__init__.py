"""Schema migrations with alembic, and the check that runs whenever a catalog is opened.

A new database gets the current schema in one step (``create_all``, then stamped with the head
revision); an older one is upgraded through the revisions in ``versions/``; one written by a
newer lamin-core is refused with the fix.

Opening a current catalog costs one query and no alembic import: the revision is read from
``alembic_version`` with SQL and compared with the newest file in ``versions/`` (revision ids
are the files' four-digit prefixes; a test checks alembic agrees). Alembic, the models' metadata
and the search-index DDL are imported only when a schema is created or upgraded.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from lamin_core.errors import InstanceError
from lamin_core.instance.locks import lock_key
from lamin_core.models import Base

if TYPE_CHECKING:
    from alembic.config import Config

# alembic is imported inside the functions that create or upgrade a schema: opening a current
# catalog (every cold start) never needs it

HERE = Path(__file__).parent
# the PostgreSQL advisory lock that guards changes of a catalog's schema (see `lock_key`)
SCHEMA_LOCK = "lamin:schema"


def alembic_config(engine: Engine | None = None) -> Config:
    """Return the alembic configuration of lamin-core, bound to `engine` when given."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.attributes["engine"] = engine
    return config


@functools.cache
def known_revisions() -> frozenset[str]:
    """Return every revision the installed code knows: the prefixes of ``versions/NNNN_*.py``."""
    return frozenset(
        path.name[:4] for path in (HERE / "versions").glob("[0-9][0-9][0-9][0-9]_*.py")
    )


def head_revision() -> str:
    """Return the newest revision the installed code knows."""
    return max(known_revisions())


def current_revision(engine: Engine) -> str | None:
    """Return the revision of the catalog's schema, or None for a database without a catalog."""
    with engine.connect() as connection:
        if not sa.inspect(connection).has_table("alembic_version"):
            return None
        return connection.scalar(sa.text("SELECT version_num FROM alembic_version"))


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Upgrade the catalog's schema to `revision`."""
    from alembic import command

    command.upgrade(alembic_config(engine), revision)


def ensure_schema(engine: Engine, *, create: bool, auto_migrate: bool) -> None:
    """Make sure the catalog's schema is current: create it, upgrade it, or say how to.

    Raises:
        InstanceError: no catalog where one is expected, a schema newer than the code, or an
            older schema while `auto_migrate` is off.
    """
    revision = current_revision(engine)
    if revision == head_revision():
        return
    with schema_lock(engine):
        # re-read under the lock: another process may have created or upgraded it meanwhile
        _bring_up_to_date(engine, current_revision(engine), create, auto_migrate)


@contextlib.contextmanager
def schema_lock(engine: Engine) -> Iterator[None]:
    """Hold a lock, across processes, while the catalog's schema is created or upgraded.

    SQLite runs DDL outside transactions, so without it a second process could see half-created
    tables; PostgreSQL gets an advisory lock of the catalog's schema (other catalogs of the
    database, in other schemas, are created meanwhile).
    """
    if engine.dialect.name == "sqlite":
        database = engine.url.database
        if not database or database == ":memory:":
            yield
            return
        with open(f"{database}.lock", "a+b") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)
        return
    with engine.connect() as connection:
        connection.execute(sa.select(sa.func.pg_advisory_lock(lock_key(SCHEMA_LOCK))))
        connection.commit()
        try:
            yield
        finally:
            connection.execute(sa.select(sa.func.pg_advisory_unlock(lock_key(SCHEMA_LOCK))))
            connection.commit()


def _bring_up_to_date(
    engine: Engine, revision: str | None, create: bool, auto_migrate: bool
) -> None:
    head = head_revision()
    url = engine.url.render_as_string(hide_password=True)
    if revision == head:
        return
    if revision is None:
        if "artifact" in sa.inspect(engine).get_table_names():
            raise InstanceError(
                f"The database {url!r} has catalog tables but no schema revision. Check that the "
                f"tables match this lamin-core, then stamp them: lamin-core migrate --stamp "
                f"--db {url}."
            )
        if not create:
            # a role without USAGE on the catalog's schema sees no tables at all
            hint = (
                f" If it does, the role {engine.url.username!r} cannot see it: the catalog's "
                f"owner grants access with `lamin-core grant --read-only {engine.url.username}`."
                if engine.dialect.name == "postgresql"
                else ""
            )
            raise InstanceError(
                f"The database {url!r} holds no catalog. Create one with "
                f"ln.init(storage=..., db={url!r}).{hint}"
            )
        if _is_new_sqlite_file(engine):
            _copy_sqlite_schema(engine)
            return
        with engine.begin() as connection:
            _create_schema(connection)
        return
    if revision not in known_revisions():
        raise InstanceError(
            f"The catalog {url!r} is at schema revision {revision!r}, which this lamin-core does "
            "not know: it was written by a newer version. Upgrade: pip install -U lamin-core."
        )
    if not auto_migrate:
        raise InstanceError(
            f"The catalog {url!r} is at schema revision {revision!r}; this lamin-core needs "
            f"{head!r}. Upgrade it with `lamin-core migrate --db {url}` (back up first), or "
            "connect with auto_migrate=True."
        )
    upgrade(engine)


def _create_schema(connection: sa.Connection) -> None:
    """Create the current schema (tables, search indexes) and stamp it with the head revision."""
    from alembic import command

    from lamin_core.search.index import install_listeners  # the search indexes of create_all

    install_listeners()
    Base.metadata.create_all(connection)
    config = alembic_config(connection.engine)
    config.attributes["connection"] = connection
    command.stamp(config, "head")


def _is_new_sqlite_file(engine: Engine) -> bool:
    """Whether `engine` is a SQLite file without any table (a catalog being created)."""
    if engine.dialect.name != "sqlite" or engine.url.database in (None, "", ":memory:"):
        return False
    with engine.connect() as connection:
        return not connection.exec_driver_sql("SELECT 1 FROM sqlite_master LIMIT 1").first()


@functools.cache
def _sqlite_schema() -> sqlite3.Connection:
    """Return an in-memory SQLite database holding the current schema, built once per process.

    Creating the schema is about 800 DDL statements (0.3 s); a new SQLite catalog copies this
    database's pages instead (a few milliseconds), so a process that creates many catalogs (a
    test suite, a service) builds the schema once.
    """
    database = sqlite3.connect(":memory:", check_same_thread=False)
    engine = sa.create_engine("sqlite://", creator=lambda: database, poolclass=sa.StaticPool)
    with engine.begin() as connection:
        _create_schema(connection)
    return database


_sqlite_schema_lock = threading.Lock()


def _copy_sqlite_schema(engine: Engine) -> None:
    """Give the empty SQLite file of `engine` the current schema, copied with SQLite's backup."""
    with _sqlite_schema_lock:  # one reader of the shared in-memory database at a time
        schema = _sqlite_schema()
        with engine.connect() as connection:
            target = connection.connection.dbapi_connection
            schema.backup(target)  # type: ignore[arg-type]
            # the copy carries the in-memory database's journal mode: back to the engine's WAL
            connection.exec_driver_sql("PRAGMA journal_mode=WAL")


def stamp(engine: Engine) -> None:
    """Record that the catalog's tables are at the newest revision, without changing them."""
    from alembic import command

    command.stamp(alembic_config(engine), "head")
