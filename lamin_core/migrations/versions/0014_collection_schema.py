"""collection.schema_id: the schema of its artifacts, as LaminDB 2.x's Collection(schema=)

A nullable, indexed foreign key from ``collection`` to ``featureset``; deleting the schema
leaves the collection without one (``ON DELETE SET NULL``).

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from lamin_core.migrations.sqlite import recreate_sqlite_table

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

INDEX = "ix_collection_schema_id"


def upgrade() -> None:
    target = sa.ForeignKey("featureset.id", ondelete="SET NULL", name="fk_collection_schema_id")
    column = sa.Column("schema_id", sa.Integer(), target)
    if op.get_bind().dialect.name == "sqlite":
        # a table-level FOREIGN KEY clause: SQLite's inline REFERENCES of ADD COLUMN would keep
        # ON DELETE SET NULL, but reflection (and so the schema check) does not read it there
        recreate_sqlite_table("collection", lambda batch: batch.add_column(column))
    else:
        op.add_column("collection", column)
    op.create_index(INDEX, "collection", ["schema_id"])


def downgrade() -> None:
    op.drop_index(INDEX, table_name="collection")
    if op.get_bind().dialect.name != "sqlite":
        op.drop_column("collection", "schema_id")
        return
    recreate_sqlite_table(
        "collection", lambda batch: batch.drop_column("schema_id"), ("schema_id",)
    )
