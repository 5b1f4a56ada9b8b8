"""run.environment_id and run.report_id: the files that document a run, as in LaminDB 2.x

Two nullable foreign keys from ``run`` to ``artifact``, each indexed: the environment (the
installed packages, one artifact shared by every run with the same packages) and the report
(the captured output of a script or tracked function, or a file the user gives). An artifact
a run points to cannot be deleted while it does (as LaminDB's ``PROTECT``). SQLite accepts
``ADD COLUMN ... REFERENCES`` for a column without default; dropping them there needs the table
recreated with foreign keys off (as revision 0008 does), then the search index's triggers and
indexes the copy did not carry over restored.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

COLUMNS = ("environment_id", "report_id")


def index_name(column: str) -> str:
    return f"ix_run_{column}"


def upgrade() -> None:
    bind = op.get_bind()
    for column in COLUMNS:
        if bind.dialect.name == "sqlite":
            op.execute(f"ALTER TABLE run ADD COLUMN {column} INTEGER REFERENCES artifact (id)")
        else:
            op.add_column(
                "run",
                sa.Column(column, sa.Integer(), sa.ForeignKey("artifact.id"), nullable=True),
            )
        op.create_index(index_name(column), "run", [column])


def downgrade() -> None:
    bind = op.get_bind()
    for column in COLUMNS:
        op.drop_index(index_name(column), table_name="run")
    if bind.dialect.name != "sqlite":
        for column in COLUMNS:
            op.drop_column("run", column)
        return
    raw = bind.connection.dbapi_connection
    assert raw is not None
    rows = bind.exec_driver_sql(
        "SELECT name, sql FROM sqlite_master WHERE tbl_name = 'run' "
        "AND type IN ('index', 'trigger') AND sql IS NOT NULL"
    ).all()
    raw.commit()  # the revisions before, with alembic_version saying so
    raw.execute("PRAGMA foreign_keys=OFF")  # recreating run must not cascade to its links
    try:
        raw.execute("BEGIN")
        try:
            with op.batch_alter_table("run", recreate="always") as batch:
                for column in COLUMNS:
                    batch.drop_column(column)
            kept = {
                name
                for (name,) in bind.exec_driver_sql(
                    "SELECT name FROM sqlite_master WHERE tbl_name = 'run'"
                )
            }
            for name, sql in rows:
                if name not in kept and not any(column in sql for column in COLUMNS):
                    op.execute(sql)
        except BaseException:
            raw.rollback()
            raise
        raw.commit()
    finally:
        raw.execute("PRAGMA foreign_keys=ON")
