"""spaces: the Space registry, a space_id on every registry, row-level security on PostgreSQL

- ``space`` (with the built-in space "all", id 1) and ``space_access`` (space, role): which
  roles may read and write which spaces.
- ``space_id`` (default 1, a foreign key to ``space``) on every registry table: every table with
  a ``uid`` column but ``user`` and ``space``, so registries added by the revisions before this
  one get it too. Existing records belong to "all".
- PostgreSQL: row-level-security policies on those tables (see `lamin_core.instance.access`).

SQLite refuses to add a column with a REFERENCES clause and a default while it enforces foreign
keys, and switches enforcement only outside a transaction. There the revision commits the ones
before it, turns enforcement off, runs in a transaction of its own (idempotently, in case a
crash came between its commit and alembic's), and turns enforcement on again. Dropping such a
column needs the table recreated: the downgrade recreates it and then restores the triggers
(search index) and indexes the copy did not carry over.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import op

import lamin_core.models.base
from lamin_core.instance.access import (
    ALL_SPACE_ID,
    ALL_SPACE_NAME,
    ALL_SPACE_UID,
    drop_space_policy_ddl,
    space_policy_ddl,
)
from lamin_core.migrations.sqlite import foreign_keys_off

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# the tombstones of deleted uids (revision 0006) belong to no space: they outlive their records
OUTSIDE_SPACES = ("user", "space", "tombstone")


def _registry_tables(bind: sa.Connection) -> list[str]:
    inspector = sa.inspect(bind)
    return sorted(
        table
        for table in inspector.get_table_names()
        if table not in OUTSIDE_SPACES
        and "uid" in {column["name"] for column in inspector.get_columns(table)}
    )


def _has_space_id(bind: sa.Connection, table: str) -> bool:
    return "space_id" in {column["name"] for column in sa.inspect(bind).get_columns(table)}


def _create_space_tables(bind: sa.Connection) -> None:
    if sa.inspect(bind).has_table("space"):
        return  # left by an interrupted run on SQLite (see the module docstring)
    op.create_table(
        "space",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(length=12), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("created_at", lamin_core.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["created_by_id"], ["user.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
        sa.UniqueConstraint("uid"),
    )
    op.create_index("ix_space_created_at", "space", ["created_at"])
    op.create_index("ix_space_created_by_id", "space", ["created_by_id"])
    op.create_table(
        "space_access",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("space_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=63), nullable=False),
        sa.ForeignKeyConstraint(["space_id"], ["space.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("space_id", "role"),
    )
    op.create_index("ix_space_access_space_id", "space_access", ["space_id"])
    space = sa.table(
        "space",
        sa.column("id", sa.Integer),
        sa.column("uid", sa.String),
        sa.column("name", sa.String),
        sa.column("description", sa.Text),
        sa.column("created_at", lamin_core.models.base.UTCDateTime(timezone=True)),
    )
    op.execute(
        space.insert().values(
            id=ALL_SPACE_ID,
            uid=ALL_SPACE_UID,
            name=ALL_SPACE_NAME,
            description="Records everyone with access to the catalog can see.",
            created_at=dt.datetime.now(dt.timezone.utc),
        )
    )
    if bind.dialect.name == "postgresql":
        op.execute(f"SELECT setval(pg_get_serial_sequence('space', 'id'), {ALL_SPACE_ID})")


def upgrade() -> None:
    bind = op.get_bind()
    tables = _registry_tables(bind)
    if bind.dialect.name == "sqlite":
        with foreign_keys_off(check="0007"):
            _create_space_tables(bind)
            for table in tables:
                if not _has_space_id(bind, table):
                    op.execute(
                        f'ALTER TABLE "{table}" ADD COLUMN space_id INTEGER DEFAULT '
                        f"{ALL_SPACE_ID} NOT NULL REFERENCES space (id)"
                    )
        return
    _create_space_tables(bind)
    for table in tables:
        op.add_column(
            table,
            sa.Column(
                "space_id",
                sa.Integer(),
                sa.ForeignKey("space.id"),
                nullable=False,
                server_default=str(ALL_SPACE_ID),
            ),
        )
        for statement in space_policy_ddl(table):
            op.execute(statement)


def _sqlite_schema_objects(bind: sa.Connection, table: str) -> dict[str, str]:
    rows = bind.exec_driver_sql(
        "SELECT name, sql FROM sqlite_master WHERE tbl_name = ? AND type IN ('index', 'trigger') "
        "AND sql IS NOT NULL",
        (table,),
    ).all()
    return {name: sql for name, sql in rows}


def downgrade() -> None:
    bind = op.get_bind()
    tables = [t for t in _registry_tables(bind) if _has_space_id(bind, t)]
    if bind.dialect.name == "sqlite":
        with foreign_keys_off(check="0007"):
            for table in tables:
                before = _sqlite_schema_objects(bind, table)
                with op.batch_alter_table(table, recreate="always") as batch:
                    batch.drop_column("space_id")
                after = _sqlite_schema_objects(bind, table)
                for name, sql in before.items():
                    if name not in after and "space_id" not in sql:
                        op.execute(sql)  # the search index's triggers, expression indexes
            op.drop_table("space_access")
            op.drop_table("space")
        return
    for table in tables:
        for statement in drop_space_policy_ddl(table):
            op.execute(statement)
        op.drop_column(table, "space_id")
    op.drop_table("space_access")
    op.drop_table("space")
