"""schema members and record schemas: optional and ordered features, Record.schema

- ``featureset_feature.optional`` (default false): a member a dataset may lack (LaminDB 2.x's
  ``feature.with_config(optional=True)``, ``schema.optionals``); ``featureset_feature.position``:
  the member's place in the declared order (``schema.members``), NULL for the links written
  before, which sort after the ordered ones by feature id.
- ``featureset.ordered_set`` (default false): the columns must come in the members' order.
- ``record.schema_id``: the schema of a record type (a sheet); a nullable, indexed foreign key,
  ``ON DELETE SET NULL`` as ``collection.schema_id`` (revision 0014).
- ``feature.cat_filters`` (JSON): the conditions the labels of a categorical feature meet
  (LaminDB 2.x's ``Feature(cat_filters={"source__uid": ...})``).

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from lamin_core.migrations.sqlite import recreate_sqlite_table

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

INDEX = "ix_record_schema_id"


def upgrade() -> None:
    op.add_column(
        "featureset_feature",
        sa.Column("optional", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.add_column("featureset_feature", sa.Column("position", sa.Integer(), nullable=True))
    op.add_column(
        "featureset",
        sa.Column("ordered_set", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.add_column("feature", sa.Column("cat_filters", sa.JSON(), nullable=True))
    target = sa.ForeignKey("featureset.id", ondelete="SET NULL", name="fk_record_schema_id")
    column = sa.Column("schema_id", sa.Integer(), target)
    if op.get_bind().dialect.name == "sqlite":
        # a table-level FOREIGN KEY clause, which reflection reads (see revision 0014)
        recreate_sqlite_table("record", lambda batch: batch.add_column(column))
    else:
        op.add_column("record", column)
    op.create_index(INDEX, "record", ["schema_id"])


def downgrade() -> None:
    op.drop_index(INDEX, table_name="record")
    if op.get_bind().dialect.name != "sqlite":
        op.drop_column("record", "schema_id")
        op.drop_column("feature", "cat_filters")
        op.drop_column("featureset", "ordered_set")
        op.drop_column("featureset_feature", "position")
        op.drop_column("featureset_feature", "optional")
        return
    recreate_sqlite_table("record", lambda batch: batch.drop_column("schema_id"), ("schema_id",))
    recreate_sqlite_table(
        "feature", lambda batch: batch.drop_column("cat_filters"), ("cat_filters",)
    )
    recreate_sqlite_table(
        "featureset", lambda batch: batch.drop_column("ordered_set"), ("ordered_set",)
    )

    def drop_member_columns(batch: Any) -> None:
        batch.drop_column("position")
        batch.drop_column("optional")

    recreate_sqlite_table("featureset_feature", drop_member_columns, ("position", "optional"))
