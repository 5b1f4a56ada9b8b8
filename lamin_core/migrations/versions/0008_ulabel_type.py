"""ulabel.type_id: a label's type, as in LaminDB 1.x (``ULabel(name="train", type=split)``)

A nullable foreign key from ``ulabel`` to itself, with an index (``split.ulabels`` lists the
labels of a type). SQLite accepts ``ADD COLUMN ... REFERENCES`` for a column without default.
Dropping it there needs the table recreated with foreign keys off (as revision 0007 does), then
the search index's triggers and indexes the copy did not carry over restored.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from lamin_core.migrations.sqlite import recreate_sqlite_table

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

INDEX = "ix_ulabel_type_id"


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        op.execute("ALTER TABLE ulabel ADD COLUMN type_id INTEGER REFERENCES ulabel (id)")
    else:
        op.add_column(
            "ulabel", sa.Column("type_id", sa.Integer(), sa.ForeignKey("ulabel.id"), nullable=True)
        )
    op.create_index(INDEX, "ulabel", ["type_id"])


def downgrade() -> None:
    bind = op.get_bind()
    op.drop_index(INDEX, table_name="ulabel")
    if bind.dialect.name != "sqlite":
        op.drop_column("ulabel", "type_id")
        return
    recreate_sqlite_table("ulabel", lambda batch: batch.drop_column("type_id"), ("type_id",))
