"""tombstones: the uids of deleted artifacts, collections and transforms are never given out again

A ``tombstone`` table (registry, uid, deleted_at) and, on each versioned table, a trigger that
writes the tombstone when a row is deleted and one that refuses to insert a uid with a tombstone.
Records deleted before this revision left no tombstone; from now on none is forgotten.

The tables are spelled out here (not read from the models) so this revision means the same
forever.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from lamin_core.models.base import UTCDateTime
from lamin_core.models.tombstone import drop_tombstone_ddl, tombstone_ddl

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

VERSIONED = ("artifact", "collection", "transform")


def upgrade() -> None:
    op.create_table(
        "tombstone",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("registry", sa.String(64), nullable=False),
        sa.Column("uid", sa.String(32), nullable=False),
        sa.Column("deleted_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("registry", "uid", name="uq_tombstone_registry_uid"),
    )
    for statement in tombstone_ddl(op.get_bind().dialect.name, VERSIONED):
        op.execute(sa.text(statement))


def downgrade() -> None:
    for statement in drop_tombstone_ddl(op.get_bind().dialect.name, VERSIONED):
        op.execute(sa.text(statement))
    op.drop_table("tombstone")
