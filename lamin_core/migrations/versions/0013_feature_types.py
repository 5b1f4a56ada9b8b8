"""feature types and flags: LaminDB 2.x's Feature.is_type/type/nullable/coerce, Schema.index

- ``feature.is_type`` (default false), ``feature.type_id`` (a nullable, indexed foreign key to
  the feature type), ``feature.nullable`` (true for the existing features, as for new ones) and
  ``feature.coerce``; ``feature.dtype`` becomes nullable, since a feature type has no dtype.
- ``featureset.index_feature_id``: the feature a DataFrame schema validates the index against.

SQLite cannot drop NOT NULL in place: the feature table is recreated with foreign keys off (as
revision 0008 does for its downgrade), and the search index's triggers and the indexes the
copy lost are restored.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from lamin_core.migrations.sqlite import recreate_sqlite_table

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

TYPE_INDEX = "ix_feature_type_id"
SCHEMA_INDEX = "ix_featureset_index_feature_id"


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        op.execute("ALTER TABLE feature ADD COLUMN type_id INTEGER REFERENCES feature (id)")
        op.execute(
            "ALTER TABLE featureset ADD COLUMN index_feature_id INTEGER REFERENCES feature (id)"
        )
    else:
        op.add_column(
            "feature",
            sa.Column("type_id", sa.Integer(), sa.ForeignKey("feature.id"), nullable=True),
        )
        op.add_column(
            "featureset",
            sa.Column("index_feature_id", sa.Integer(), sa.ForeignKey("feature.id"), nullable=True),
        )
    op.add_column(
        "feature",
        sa.Column("is_type", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.add_column("feature", sa.Column("nullable", sa.Boolean(), nullable=True))
    op.add_column("feature", sa.Column("coerce", sa.Boolean(), nullable=True))
    op.create_index(TYPE_INDEX, "feature", ["type_id"])
    op.create_index(SCHEMA_INDEX, "featureset", ["index_feature_id"])
    op.execute("UPDATE feature SET nullable = true")  # the behaviour before: missing values pass
    if bind.dialect.name == "sqlite":
        recreate_sqlite_table(
            "feature",
            lambda batch: batch.alter_column(
                "dtype", existing_type=sa.String(length=255), nullable=True
            ),
        )
    else:
        op.alter_column("feature", "dtype", existing_type=sa.String(length=255), nullable=True)


def downgrade() -> None:
    bind = op.get_bind()
    # the revision before has no feature types: their features lose the type, the types go
    op.execute("UPDATE feature SET type_id = NULL")
    op.execute("DELETE FROM feature WHERE dtype IS NULL")
    op.drop_index(SCHEMA_INDEX, table_name="featureset")
    op.drop_index(TYPE_INDEX, table_name="feature")
    if bind.dialect.name != "sqlite":
        op.drop_column("featureset", "index_feature_id")
        for column in ("coerce", "nullable", "is_type", "type_id"):
            op.drop_column("feature", column)
        op.alter_column("feature", "dtype", existing_type=sa.String(length=255), nullable=False)
        return

    def drop_feature_columns(batch: Any) -> None:
        for column in ("coerce", "nullable", "is_type", "type_id"):
            batch.drop_column(column)
        batch.alter_column("dtype", existing_type=sa.String(length=255), nullable=False)

    recreate_sqlite_table(
        "featureset", lambda batch: batch.drop_column("index_feature_id"), ("index_feature_id",)
    )
    recreate_sqlite_table("feature", drop_feature_columns, ("type_id",))
