"""Insert many rows into a registry table, its search index filled once after them.

On SQLite the search index of a registry (`index`: FTS5 trigram; `typos`: the term vocabulary)
is kept in step by AFTER INSERT triggers that run once per row. For tens of thousands of rows
(60,000 genes) they cost more than the rows themselves: each one starts an FTS5 insert and splits
the row's text with ``json_each``. `insert_rows` therefore sets the two insert triggers aside
inside the writing transaction, inserts the rows, puts the triggers back with their own SQL, and
indexes the new rows with one ``INSERT ... SELECT`` each, written by the same functions as the
triggers' bodies. SQLite's DDL is transactional and it has one writer at a time: no other
connection ever sees the table without its triggers, and an error rolls all of it back.

PostgreSQL's typo index already works per statement (transition tables) and its trigram
indexes are ordinary indexes: rows are inserted as they are.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from lamin_core.instance.locks import begin_immediate
from lamin_core.search.index import _fields_of, fts_table_name, quote
from lamin_core.search.typos import IDENTIFIER_FIELDS, populate_ddl, terms_table

__all__ = ["MIN_DEFERRED_INDEX_ROWS", "insert_rows"]

# below this many rows the per-row triggers are as fast as setting them aside
MIN_DEFERRED_INDEX_ROWS = 1_000
# bound parameters per IN list when the new ids are not one contiguous range
_ID_CHUNK = 500


def insert_rows(session: Session, table: sa.Table, rows: list[dict[str, Any]]) -> list[int]:
    """Insert `rows` (all with the same keys) into `table`; return their ids, in order.

    One multi-row INSERT ... RETURNING per batch (SQLAlchemy's insertmanyvalues, which matches
    the returned ids to the rows by the uid sentinel). On SQLite, from
    `MIN_DEFERRED_INDEX_ROWS` rows, the search index is filled after the rows (module
    docstring).

    Args:
        session: A session inside a writing transaction.
        table: A registry table.
        rows: Column values by column name.
    """
    if not rows:
        return []
    connection = session.connection()
    statement = sa.insert(table).returning(table.c.id, sort_by_parameter_order=True)
    deferred = (
        _insert_triggers(connection, table.name) if len(rows) >= MIN_DEFERRED_INDEX_ROWS else {}
    )
    if not deferred:
        return list(connection.execute(statement, rows).scalars())
    begin_immediate(connection)  # the DDL below must belong to the writing transaction
    for name in deferred:
        connection.exec_driver_sql(f"DROP TRIGGER {quote(name)}")
    ids = list(connection.execute(statement, rows).scalars())
    for sql in deferred.values():
        connection.exec_driver_sql(sql)
    _index_rows(connection, table, ids, deferred)
    return ids


def _insert_triggers(connection: sa.Connection, table: str) -> dict[str, str]:
    """Return {name: SQL} of the search index's AFTER INSERT triggers on `table` (SQLite)."""
    if connection.dialect.name != "sqlite":
        return {}
    names = [f"{fts_table_name(table)}_ai", f"{terms_table(table)}_rai"]
    found = connection.execute(
        sa.text(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = :table "
            "AND name IN (:fts, :terms)"
        ),
        {"table": table, "fts": names[0], "terms": names[1]},
    )
    return {name: sql for name, sql in found}


def _index_rows(
    connection: sa.Connection, table: sa.Table, ids: list[int], deferred: dict[str, str]
) -> None:
    """Add the rows `ids` of `table` to the index parts whose triggers were set aside."""
    name, fields, _ = _fields_of(table, None)  # the fields the triggers were made for
    low, high = min(ids), max(ids)
    if high - low + 1 == len(ids):  # one range: SQLite gives new rows consecutive ids
        conditions = [f"id BETWEEN {int(low)} AND {int(high)}"]
    else:
        conditions = [
            f"id IN ({', '.join(str(int(i)) for i in ids[start : start + _ID_CHUNK])})"
            for start in range(0, len(ids), _ID_CHUNK)
        ]
    fts = fts_table_name(name)
    columns = ", ".join(quote(f) for f in fields)
    typo_fields = [f for f in fields if f not in IDENTIFIER_FIELDS]
    for condition in conditions:
        if f"{fts}_ai" in deferred:
            connection.exec_driver_sql(
                f"INSERT INTO {quote(fts)}(rowid, {columns}) "
                f"SELECT id, {columns} FROM {quote(name)} WHERE {condition}"
            )
        if f"{terms_table(name)}_rai" in deferred:
            for sql in populate_ddl(name, typo_fields, dialect="sqlite", where=condition):
                connection.exec_driver_sql(sql)
