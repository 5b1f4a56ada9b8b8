"""Tombstones: the uids of deleted versioned records, so that no uid is ever given out twice.

A uid names content: a notebook, a Dagster materialization or a colleague may still refer to
the uid of a deleted artifact, and must never find other data under it. Version assignment takes
the next number after every uid of the family, deleted ones included; an explicit ``uid=`` of a
deleted record is refused.

Database triggers do the bookkeeping, so that it holds for every way a row can go (a record's
`delete()`, ``QuerySet.delete()``'s single statement, plain SQL) and every way one can come:

- ``<table>_tombstone`` (AFTER DELETE) writes the tombstone in the deleting transaction;
- ``<table>_uid_not_reused`` (BEFORE INSERT) refuses a uid that has a tombstone, as a
  constraint violation (an ``IntegrityError``) whose message starts with `UID_REUSED`.

New catalogs get the triggers from a ``Base.metadata`` ``after_create`` listener; older ones
from migration ``0006``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy import String
from sqlalchemy.engine import Connection

from lamin_core.models.base import Record, UTCDateTime

UID_REUSED = "uid_reused"
VERSIONED_TABLES = ("artifact", "collection", "transform")

tombstone = sa.Table(
    "tombstone",
    Record.metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("registry", String(64), nullable=False),
    sa.Column("uid", String(32), nullable=False),
    sa.Column("deleted_at", UTCDateTime(), nullable=False),
    sa.UniqueConstraint("registry", "uid", name="uq_tombstone_registry_uid"),
)

_MESSAGE = f"{UID_REUSED}: a uid is never reused, and this one belonged to a deleted record"

_POSTGRESQL_FUNCTIONS = [
    """
CREATE OR REPLACE FUNCTION lamin_remember_deleted_uid() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format(
        'INSERT INTO %I.tombstone (registry, uid, deleted_at) VALUES ($1, $2, now())
         ON CONFLICT DO NOTHING', TG_TABLE_SCHEMA
    ) USING TG_TABLE_NAME, OLD.uid;
    RETURN OLD;
END $$""",
    f"""
CREATE OR REPLACE FUNCTION lamin_refuse_reused_uid() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    found boolean;
BEGIN
    EXECUTE format(
        'SELECT EXISTS (SELECT 1 FROM %I.tombstone WHERE registry = $1 AND uid = $2)',
        TG_TABLE_SCHEMA
    ) INTO found USING TG_TABLE_NAME, NEW.uid;
    IF found THEN
        RAISE EXCEPTION '{_MESSAGE} (%)', NEW.uid USING ERRCODE = 'unique_violation';
    END IF;
    RETURN NEW;
END $$""",
]


def tombstone_ddl(dialect: str, tables: Iterable[str] = VERSIONED_TABLES) -> list[str]:
    """Return the statements that create the tombstone triggers of `tables`.

    Args:
        dialect: ``"sqlite"`` or ``"postgresql"``.
        tables: The versioned tables (fixed names, never user input).
    """
    statements: list[str] = []
    if dialect == "postgresql":
        statements += _POSTGRESQL_FUNCTIONS
    for table in tables:
        if dialect == "sqlite":
            statements.append(
                f'CREATE TRIGGER IF NOT EXISTS "{table}_tombstone" AFTER DELETE ON "{table}" '
                "BEGIN INSERT OR IGNORE INTO tombstone (registry, uid, deleted_at) "
                f"VALUES ('{table}', OLD.uid, CURRENT_TIMESTAMP); END"
            )
            statements.append(
                f'CREATE TRIGGER IF NOT EXISTS "{table}_uid_not_reused" BEFORE INSERT ON "{table}" '
                f"WHEN EXISTS (SELECT 1 FROM tombstone WHERE registry = '{table}' "
                f"AND uid = NEW.uid) BEGIN SELECT RAISE(ABORT, '{_MESSAGE}'); END"
            )
        elif dialect == "postgresql":
            statements.append(
                f'CREATE TRIGGER "{table}_tombstone" AFTER DELETE ON "{table}" '
                "FOR EACH ROW EXECUTE FUNCTION lamin_remember_deleted_uid()"
            )
            statements.append(
                f'CREATE TRIGGER "{table}_uid_not_reused" BEFORE INSERT ON "{table}" '
                "FOR EACH ROW EXECUTE FUNCTION lamin_refuse_reused_uid()"
            )
    return statements


def drop_tombstone_ddl(dialect: str, tables: Iterable[str] = VERSIONED_TABLES) -> list[str]:
    """Return the statements that drop what `tombstone_ddl` creates."""
    statements = []
    for table in tables:
        for trigger in (f"{table}_tombstone", f"{table}_uid_not_reused"):
            on = f' ON "{table}"' if dialect == "postgresql" else ""
            statements.append(f'DROP TRIGGER IF EXISTS "{trigger}"{on}')
    if dialect == "postgresql":
        statements.append("DROP FUNCTION IF EXISTS lamin_remember_deleted_uid()")
        statements.append("DROP FUNCTION IF EXISTS lamin_refuse_reused_uid()")
    return statements


def _create_triggers(target: sa.MetaData, connection: Connection, **kw: Any) -> None:
    created = {table.name for table in kw.get("tables") or target.tables.values()}
    tables = [name for name in VERSIONED_TABLES if name in created]
    if tombstone.name in created and tables:
        for statement in tombstone_ddl(connection.dialect.name, tables):
            connection.execute(sa.text(statement))


if not sa.event.contains(Record.metadata, "after_create", _create_triggers):
    sa.event.listen(Record.metadata, "after_create", _create_triggers)
