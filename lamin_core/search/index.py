"""Search indexes: an FTS5 trigram table per registry on SQLite, pg_trgm indexes on PostgreSQL.

Search must not scan a table of a million ontology terms, so every registry with
`_search_fields` gets an index when its table is created:

- SQLite: an external-content FTS5 table ``<table>_fts`` with the ``trigram`` tokenizer over the
  search fields (substring and typo candidates), kept in sync by three triggers, plus a
  ``COLLATE NOCASE`` B-tree index per short text field (exact and prefix candidates, also for
  queries shorter than a trigram).
- PostgreSQL: a GIN ``gin_trgm_ops`` index on ``lower(field)`` (``LIKE '%q%'``, ``%``,
  ``<%``) and a ``text_pattern_ops`` B-tree on ``lower(field)`` (prefix) per field. Without the
  pg_trgm extension only the B-tree is made and search falls back to ``LIKE``. New rows wait in
  a GIN index's pending list, which every lookup reads in full, until (auto)vacuum merges it or
  it outgrows ``gin_pending_list_limit``: 4 MB by default, 2-3 ms per lookup and 150-400 ms per
  search after a bulk load. Ours is `GIN_PENDING_LIST_KB` (the minimum): a lookup reads at most
  that, and bulk inserts keep their speed (``fastupdate = off`` would double their time).

New catalogs get the indexes from a ``Base.metadata`` ``after_create`` listener, for every
`Record` subclass found at that moment (registries added later, such as the bio ones, included).
Existing catalogs get them from migration ``0002``; a module that adds registries in its own
migration calls `create_search_index(op.get_bind(), "celltype", fields=[...])`, or executes
`search_index_ddl(...)` itself.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from lamin_core.errors import LaminError
from lamin_core.models.registry import search_fields, searchable_registries
from lamin_core.search.typos import drop_typo_index_ddl, typo_index_ddl

__all__ = [
    "create_search_index",
    "drop_search_index",
    "fts_table_name",
    "install_listeners",
    "prefix_fields",
    "search_index_ddl",
    "searchable_registries",
    "trigram_schema",
]

logger = logging.getLogger(__name__)

# kB of new entries a trigram index holds unmerged (PostgreSQL's minimum; its default is 4 MB)
GIN_PENDING_LIST_KB = 64
# fields holding long text: searched through the trigram index only, no prefix B-tree
LONG_TEXT_FIELDS = frozenset({"description", "synonyms", "source_code"})


def quote(name: str) -> str:
    """Quote an SQL identifier (table, column or index name) for SQLite and PostgreSQL."""
    return '"' + name.replace('"', '""') + '"'


def fts_table_name(table: str) -> str:
    """Return the name of the FTS5 table of `table`."""
    return f"{table}_fts"


def _registry_for(table: str) -> Any:
    for registry in searchable_registries():
        if registry.__table__.name == table:
            return registry
    return None


def prefix_fields(table: sa.Table, fields: Sequence[str]) -> list[str]:
    """Return the fields that get an exact/prefix B-tree index: short (non-Text) strings."""
    result = []
    for name in fields:
        column = table.c.get(name)
        if name in LONG_TEXT_FIELDS or column is None:
            continue
        if isinstance(column.type, sa.String) and not isinstance(column.type, sa.Text):
            result.append(name)
    return result


def _fields_of(
    table: sa.Table | str, fields: Sequence[str] | None
) -> tuple[str, list[str], list[str]]:
    name = table if isinstance(table, str) else table.name
    registry = _registry_for(name)
    if fields is None:
        if registry is None:
            raise ValueError(
                f"No registry with search fields has the table {name!r}; pass fields=."
            )
        fields = list(search_fields(registry))
    resolved = table if isinstance(table, sa.Table) else getattr(registry, "__table__", None)
    if resolved is not None:
        prefix = prefix_fields(resolved, fields)
    else:
        prefix = [f for f in fields if f not in LONG_TEXT_FIELDS]
    return name, list(fields), prefix


def search_index_ddl(
    table: sa.Table | str,
    fields: Sequence[str] | None = None,
    *,
    dialect: str = "sqlite",
    prefix: Sequence[str] | None = None,
    trgm_schema: str | None = "public",
    populate: bool = True,
) -> list[str]:
    """Return the DDL statements that create the search index of a table.

    Args:
        table: The table (or its name) of a registry.
        fields: The searchable columns; default: the registry's `_search_fields`.
        dialect: ``"sqlite"`` or ``"postgresql"``.
        prefix: The columns that get an exact/prefix B-tree index; default: the short text ones.
        trgm_schema: PostgreSQL: the schema of the pg_trgm extension, or None without it.
        populate: SQLite: index the rows the table already holds.

    Examples:
        >>> for statement in search_index_ddl("celltype", ["name", "synonyms"], prefix=["name"]):
        ...     op.execute(statement)
    """
    name, fields, default_prefix = _fields_of(table, fields)
    prefix = list(default_prefix if prefix is None else prefix)
    statements: list[str] = []
    quoted = quote(name)
    if dialect == "sqlite":
        fts = fts_table_name(name)
        columns = ", ".join(quote(f) for f in fields)
        new_values = ", ".join(f"new.{quote(f)}" for f in fields)
        old_values = ", ".join(f"old.{quote(f)}" for f in fields)
        delete = (
            f"INSERT INTO {quote(fts)}({quote(fts)}, rowid, {columns}) "
            f"VALUES ('delete', old.id, {old_values});"
        )
        insert = f"INSERT INTO {quote(fts)}(rowid, {columns}) VALUES (new.id, {new_values});"
        statements += [
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {quote(fts)} USING fts5({columns}, "
            f"content={quoted}, content_rowid='id', tokenize='trigram')",
            f"CREATE TRIGGER IF NOT EXISTS {quote(fts + '_ai')} AFTER INSERT ON {quoted} "
            f"BEGIN {insert} END",
            f"CREATE TRIGGER IF NOT EXISTS {quote(fts + '_ad')} AFTER DELETE ON {quoted} "
            f"BEGIN {delete} END",
            f"CREATE TRIGGER IF NOT EXISTS {quote(fts + '_au')} AFTER UPDATE OF {columns} "
            f"ON {quoted} BEGIN {delete} {insert} END",
        ]
        statements.append(
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {quote(fts + '_vocab')} "
            f"USING fts5vocab({quote(fts)}, 'row')"
        )
        for field in prefix:
            index = quote(f"ix_{name}_{field}_fts_nocase")
            statements.append(
                f"CREATE INDEX IF NOT EXISTS {index} ON {quoted} ({quote(field)} COLLATE NOCASE)"
            )
        if populate:
            statements.append(f"INSERT INTO {quote(fts)}({quote(fts)}) VALUES ('rebuild')")
        return statements
    if dialect == "postgresql":
        for field in fields:
            expression = f"lower({quote(field)})"
            if trgm_schema is not None:
                statements.append(
                    f"CREATE INDEX IF NOT EXISTS {quote(f'ix_{name}_{field}_trgm')} ON {quoted} "
                    f"USING gin ({expression} {quote(trgm_schema)}.gin_trgm_ops) "
                    f"WITH (gin_pending_list_limit = {GIN_PENDING_LIST_KB})"
                )
            if field in prefix:
                statements.append(
                    f"CREATE INDEX IF NOT EXISTS {quote(f'ix_{name}_{field}_trgm_prefix')} "
                    f"ON {quoted} ({expression} text_pattern_ops)"
                )
        return statements
    raise ValueError(f"No search index for the database {dialect!r}: use sqlite or postgresql.")


_trigram_schemas: weakref.WeakKeyDictionary[Engine, str | None] = weakref.WeakKeyDictionary()


def _find_trigram_schema(connection: Connection) -> str | None:
    return connection.execute(
        sa.text(
            "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n "
            "ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'"
        )
    ).scalar()


def ensure_trigram_extension(connection: Connection) -> str | None:
    """Create pg_trgm (in ``public``) if possible; return its schema, or None without it."""
    schema = _find_trigram_schema(connection)
    if schema is not None:
        return schema
    try:
        with connection.begin_nested():
            connection.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public"))
    except (sa.exc.DBAPIError, LaminError) as error:
        # no permission, or another session created it at the same moment
        logger.info("pg_trgm is not available (%s); search falls back to LIKE", error)
    return _find_trigram_schema(connection)


def trigram_schema(engine: Engine) -> str | None:
    """Return the schema of pg_trgm for an engine (cached), or None when it is not installed."""
    if engine not in _trigram_schemas:
        with engine.connect() as connection:
            schema = _find_trigram_schema(connection)
        if schema is None:
            return None  # not cached: it may be installed later
        _trigram_schemas[engine] = schema
    return _trigram_schemas[engine]


def create_search_index(
    bind: Connection,
    table: sa.Table | str,
    fields: Sequence[str] | None = None,
    *,
    prefix: Sequence[str] | None = None,
    populate: bool = True,
) -> None:
    """Create the search index of a table on the connection's database (idempotent).

    Call it from a migration that adds a searchable registry:
    ``create_search_index(op.get_bind(), "celltype", ["name", "synonyms", "ontology_id"])``.
    """
    dialect = bind.dialect.name
    if dialect == "postgresql":
        schema = ensure_trigram_extension(bind)
        statements = search_index_ddl(
            table, fields, dialect=dialect, prefix=prefix, trgm_schema=schema
        )
    elif dialect == "sqlite":
        statements = search_index_ddl(
            table, fields, dialect=dialect, prefix=prefix, populate=populate
        )
    else:
        return
    name, fields, _prefix = _fields_of(table, fields)
    statements += typo_index_ddl(name, fields, dialect=dialect, populate=populate)
    for statement in statements:
        bind.exec_driver_sql(statement)


def drop_search_index(bind: Connection, table: str) -> None:
    """Drop the FTS5 table and triggers of `table` (SQLite), and its typo index.

    PostgreSQL's trigram indexes go with the table.
    """
    if bind.dialect.name == "postgresql":
        for statement in drop_typo_index_ddl(table, dialect="postgresql"):
            bind.exec_driver_sql(statement)
    if bind.dialect.name != "sqlite":
        return
    for statement in drop_typo_index_ddl(table, dialect="sqlite"):
        bind.exec_driver_sql(statement)
    fts = fts_table_name(table)
    for suffix in ("_ai", "_ad", "_au"):
        bind.exec_driver_sql(f"DROP TRIGGER IF EXISTS {quote(fts + suffix)}")
    bind.exec_driver_sql(f"DROP TABLE IF EXISTS {quote(fts + '_vocab')}")
    bind.exec_driver_sql(f"DROP TABLE IF EXISTS {quote(fts)}")


def _after_create(target: sa.MetaData, connection: Connection, **kw: Any) -> None:
    tables = {table.name for table in kw.get("tables") or target.tables.values()}
    for registry in searchable_registries():
        if registry.__table__.name in tables and registry.__table__.metadata is target:
            create_search_index(connection, registry.__table__, populate=False)


def _before_drop(target: sa.MetaData, connection: Connection, **kw: Any) -> None:
    for table in kw.get("tables") or target.tables.values():
        drop_search_index(connection, table.name)


def install_listeners() -> None:
    """Make ``Base.metadata.create_all`` create (and ``drop_all`` drop) the search indexes."""
    from lamin_core.models.base import Base

    if not sa.event.contains(Base.metadata, "after_create", _after_create):
        sa.event.listen(Base.metadata, "after_create", _after_create)
        sa.event.listen(Base.metadata, "before_drop", _before_drop)
