"""Schema: FeatureSet grows into LaminDB 2.x's Schema (constraints, otype, slots, artifact.schema)

``featureset`` gets a description, the type of object it describes (``otype``) and the
validation constraints ``minimal_set``, ``maximal_set``, ``flexible`` and ``coerce_dtype``
(booleans with server defaults, so rows written before keep their meaning: a plain set of
features, all required). Two new tables: ``schema_component`` links a composite schema to its
component schemas by slot (``obs``, ``var.T``), and ``artifact_schema`` records the schema an
artifact was validated against. Downgrading drops them; SQLite drops the plain columns in place.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

FLAGS = (
    ("minimal_set", True),
    ("maximal_set", False),
    ("flexible", False),
    ("coerce_dtype", False),
)


def upgrade() -> None:
    op.add_column("featureset", sa.Column("description", sa.Text(), nullable=True))
    op.add_column("featureset", sa.Column("otype", sa.String(length=64), nullable=True))
    for flag, default in FLAGS:
        op.add_column(
            "featureset",
            sa.Column(
                flag,
                sa.Boolean(),
                nullable=False,
                server_default=sa.true() if default else sa.false(),
            ),
        )
    op.create_table(
        "schema_component",
        sa.Column("composite_id", sa.Integer(), nullable=False),
        sa.Column("slot", sa.String(length=64), nullable=False),
        sa.Column("component_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["composite_id"], ["featureset.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["component_id"], ["featureset.id"]),
        sa.PrimaryKeyConstraint("composite_id", "slot"),
    )
    op.create_index(
        "ix_schema_component_component_id", "schema_component", ["component_id"], unique=False
    )
    op.create_table(
        "artifact_schema",
        sa.Column("artifact_id", sa.Integer(), nullable=False),
        sa.Column("schema_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["artifact_id"], ["artifact.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["schema_id"], ["featureset.id"]),
        sa.PrimaryKeyConstraint("artifact_id"),
    )
    op.create_index("ix_artifact_schema_schema_id", "artifact_schema", ["schema_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_artifact_schema_schema_id", table_name="artifact_schema")
    op.drop_table("artifact_schema")
    op.drop_index("ix_schema_component_component_id", table_name="schema_component")
    op.drop_table("schema_component")
    columns = ["description", "otype", *(flag for flag, _ in FLAGS)]
    if op.get_bind().dialect.name == "sqlite":
        # SQLite (3.35+) drops a column without index or constraint in place; alembic would
        # recreate the table, losing the search index's triggers
        for column in columns:
            op.execute(f"ALTER TABLE featureset DROP COLUMN {column}")
    else:
        for column in columns:
            op.drop_column("featureset", column)
