"""feature names unique within their feature type, as in LaminDB 2.x

A unique index on ``(name, coalesce(type_id, 0))``: ``sample_name`` under ``ScopeA`` and under
``ScopeB`` are two features, while two features at the root (no type) with the same name are
still refused (NULLs are distinct in a plain UNIQUE, ``coalesce`` makes the root one value).
``feature.name`` loses its registry-wide UNIQUE constraint; on SQLite the table is recreated for
that (the constraint is part of the table). The rows need no check: the constraint dropped was
stricter than the index made.

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from lamin_core.migrations.sqlite import recreate_sqlite_table

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

INDEX = "uq_feature_name_type"
NAME_PER_TYPE = "coalesce(type_id, 0)"  # as lamin_core.models.record_types.NAME_PER_TYPE


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        recreate_sqlite_table(
            "feature",
            lambda batch: batch.drop_constraint("uq_feature_name", type_="unique"),
            naming_convention={"uq": "uq_%(table_name)s_%(column_0_name)s"},  # 0001 gave none
        )
    else:
        op.drop_constraint("feature_name_key", "feature", type_="unique")
    op.create_index(INDEX, "feature", ["name", sa.text(NAME_PER_TYPE)], unique=True)


def downgrade() -> None:
    op.drop_index(INDEX, table_name="feature")
    # the revision before has one feature name per registry: same-named features of other
    # types must be renamed first, else restoring the constraint fails and nothing changes
    if op.get_bind().dialect.name != "sqlite":
        op.create_unique_constraint("feature_name_key", "feature", ["name"])
        return
    recreate_sqlite_table(
        "feature", lambda batch: batch.create_unique_constraint("uq_feature_name", ["name"])
    )
