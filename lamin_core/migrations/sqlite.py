"""SQLite table rewrites for migrations: what ALTER TABLE cannot do in place there.

SQLite cannot drop a column with a foreign key or change NOT NULL in place; alembic's batch mode
copies the table. The copy must not cascade to the tables that link to it (foreign keys off), and
it loses the triggers of the search index and some indexes, which are restored.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from alembic import op

__all__ = ["recreate_sqlite_table"]


def recreate_sqlite_table(table: str, change: Callable[[Any], None], skip: str = "") -> None:
    """Run `change` on a batch recreating `table`, keeping its triggers and indexes.

    Args:
        table: The table to copy.
        change: What to do to it, given alembic's batch operations.
        skip: Leave out the triggers and indexes whose SQL contains this text (those of a
            dropped column).
    """
    bind = op.get_bind()
    raw = bind.connection.dbapi_connection
    assert raw is not None
    rows = bind.exec_driver_sql(
        "SELECT name, sql FROM sqlite_master WHERE tbl_name = ? "
        "AND type IN ('index', 'trigger') AND sql IS NOT NULL",
        (table,),
    ).all()
    raw.commit()  # the revisions before, with alembic_version saying so
    raw.execute("PRAGMA foreign_keys=OFF")  # recreating the table must not cascade to links
    try:
        raw.execute("BEGIN")
        try:
            with op.batch_alter_table(table, recreate="always") as batch:
                change(batch)
            kept = {
                name
                for (name,) in bind.exec_driver_sql(
                    "SELECT name FROM sqlite_master WHERE tbl_name = ?", (table,)
                )
            }
            for name, sql in rows:
                if name not in kept and not (skip and skip in sql):
                    op.execute(sql)
        except BaseException:
            raw.rollback()
            raise
        raw.commit()
    finally:
        raw.execute("PRAGMA foreign_keys=ON")
