"""Schema migrations with alembic, and the check that runs whenever a catalog is opened.

A new database gets the current schema in one step (``create_all``, then stamped with the head
revision); an older one is upgraded through the revisions in ``versions/``; one written by a
newer lamin-core is refused with the fix.
"""

from __future__ import annotations

import functools
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from lamin_core.errors import InstanceError

HERE = Path(__file__).parent


def alembic_config(engine: Engine | None = None) -> Config:
    """Return the alembic configuration of lamin-core, bound to `engine` when given."""
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.attributes["engine"] = engine
    return config


@functools.cache
def head_revision() -> str:
    """Return the newest revision the installed code knows."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


@functools.cache
def known_revisions() -> frozenset[str]:
    """Return every revision the installed code knows."""
    script = ScriptDirectory.from_config(alembic_config())
    return frozenset(rev.revision for rev in script.walk_revisions())


def current_revision(engine: Engine) -> str | None:
    """Return the revision of the catalog's schema, or None for a database without a catalog."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Upgrade the catalog's schema to `revision`."""
    command.upgrade(alembic_config(engine), revision)


def ensure_schema(engine: Engine, *, create: bool, auto_migrate: bool) -> None:
    """Make sure the catalog's schema is current: create it, upgrade it, or say how to.

    Raises:
        InstanceError: no catalog where one is expected, a schema newer than the code, or an
            older schema while `auto_migrate` is off.
    """
    from lamin_core.models import Base

    revision = current_revision(engine)
    head = head_revision()
    url = engine.url.render_as_string(hide_password=True)
    if revision == head:
        return
    if revision is None:
        if not create:
            raise InstanceError(
                f"The database {url!r} holds no catalog. Create one with "
                f"ln.init(storage=..., db={url!r})."
            )
        tables = sa.inspect(engine).get_table_names()
        if "artifact" in tables:
            raise InstanceError(
                f"The database {url!r} has catalog tables but no schema revision. Stamp it with "
                "`lamin-core migrate --stamp` once you have checked the tables match."
            )
        try:
            with engine.begin() as connection:
                Base.metadata.create_all(connection)
                config = alembic_config(engine)
                config.attributes["connection"] = connection
                command.stamp(config, "head")
        except sa.exc.OperationalError:
            # another process created the catalog at the same moment: use what it made
            if current_revision(engine) != head:
                raise
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
