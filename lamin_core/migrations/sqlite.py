"""SQLite table rewrites for migrations: what ALTER TABLE cannot do in place there.

SQLite cannot drop a column with a foreign key or change NOT NULL in place; alembic's batch mode
copies the table. The copy must not cascade to the tables that link to it (foreign keys off, in a
transaction of its own: `foreign_keys_off`), and it loses the triggers of the search index and
some indexes, which are restored (`recreate_sqlite_table`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from alembic import op

__all__ = ["foreign_keys_off", "recreate_sqlite_table"]


@contextlib.contextmanager
def foreign_keys_off(*, check: str = "") -> Iterator[None]:
    """Run the block in a transaction of its own with foreign keys off (SQLite only).

    The revisions before are committed first (with alembic_version saying so): SQLite ignores
    ``PRAGMA foreign_keys`` inside a transaction. The block is rolled back on an error.

    Args:
        check: When given, the revision's name: its block must leave no broken foreign key
            (``PRAGMA foreign_key_check``), else it is rolled back with a RuntimeError naming it.
    """
    raw = op.get_bind().connection.dbapi_connection
    assert raw is not None
    raw.commit()
    raw.execute("PRAGMA foreign_keys=OFF")
    try:
        raw.execute("BEGIN")
        try:
            yield
            problems = raw.execute("PRAGMA foreign_key_check").fetchall() if check else []
            if problems:
                raise RuntimeError(f"foreign keys broken by revision {check}: {problems[:5]}")
        except BaseException:
            raw.rollback()
            raise
        raw.commit()
    finally:
        raw.execute("PRAGMA foreign_keys=ON")


def recreate_sqlite_table(
    table: str,
    change: Callable[[Any], None],
    skip: tuple[str, ...] = (),
    naming_convention: dict[str, str] | None = None,
) -> None:
    """Run `change` on a batch recreating `table`, keeping its triggers and indexes.

    Args:
        table: The table to copy.
        change: What to do to it, given alembic's batch operations.
        skip: Leave out the triggers and indexes whose SQL contains one of these texts (those
            of dropped columns).
        naming_convention: Names for the table's unnamed constraints, so that `change` can
            drop one (alembic's batch mode, e.g. ``{"uq": "uq_%(table_name)s_%(column_0_name)s"}``).
    """
    bind = op.get_bind()
    rows = bind.exec_driver_sql(
        "SELECT name, sql FROM sqlite_master WHERE tbl_name = ? "
        "AND type IN ('index', 'trigger') AND sql IS NOT NULL",
        (table,),
    ).all()
    with foreign_keys_off():  # recreating the table must not cascade to its links
        with op.batch_alter_table(
            table, recreate="always", naming_convention=naming_convention
        ) as batch:
            change(batch)
        kept = {
            name
            for (name,) in bind.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE tbl_name = ?", (table,)
            )
        }
        for name, sql in rows:
            if name not in kept and not any(text in sql for text in skip):
                op.execute(sql)
