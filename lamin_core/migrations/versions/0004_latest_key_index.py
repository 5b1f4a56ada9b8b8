"""one latest artifact per key: a partial unique index on (storage_id, key) where is_latest

Two processes saving the first version of a new key at the same moment could each start a
version family; with this index the second commit fails and the save retries as version 2.

Catalogs that already hold several latest artifacts for one key (left by that race) keep the
newest as the latest and mark the others as older versions, then get the index.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

INDEX = "ux_artifact_latest_key"


def upgrade() -> None:
    artifact = sa.table(
        "artifact",
        sa.column("id", sa.Integer),
        sa.column("storage_id", sa.Integer),
        sa.column("key", sa.String),
        sa.column("is_latest", sa.Boolean),
    )
    newest = (
        sa.select(sa.func.max(artifact.c.id))
        .where(artifact.c.is_latest.is_(True), artifact.c.key.is_not(None))
        .group_by(artifact.c.storage_id, artifact.c.key)
    )
    op.execute(
        artifact.update()
        .where(
            artifact.c.is_latest.is_(True),
            artifact.c.key.is_not(None),
            artifact.c.id.not_in(newest),
        )
        .values(is_latest=False)
    )
    op.create_index(
        INDEX,
        "artifact",
        ["storage_id", "key"],
        unique=True,
        sqlite_where=sa.text("is_latest = 1 AND key IS NOT NULL"),
        postgresql_where=sa.text("is_latest AND key IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index(INDEX, table_name="artifact")
