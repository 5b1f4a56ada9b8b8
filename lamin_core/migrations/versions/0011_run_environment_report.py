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

from typing import Any

import sqlalchemy as sa
from alembic import op

from lamin_core.migrations.sqlite import recreate_sqlite_table

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

    def drop_columns(batch: Any) -> None:
        for column in COLUMNS:
            batch.drop_column(column)

    recreate_sqlite_table("run", drop_columns, COLUMNS)
