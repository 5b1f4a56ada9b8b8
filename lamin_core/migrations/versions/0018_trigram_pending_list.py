"""trigram indexes with a small pending list: ``gin_pending_list_limit = 64`` (PostgreSQL)

New rows wait in a GIN index's pending list, which every trigram lookup reads in full, until
(auto)vacuum merges it or it outgrows ``gin_pending_list_limit`` (4 MB by default): after a bulk
load of 15,000 ontology terms a search took 150-400 ms instead of 10-20. This revision sets the
limit to 64 kB (the minimum) on every trigram index of the catalog's schema (the
``ix_<table>_<field>_trgm`` GIN indexes of revision 0002 and of `lamin_core.search.index`) and
merges what their pending lists hold. SQLite: nothing.

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

PENDING_LIST_KB = 64
# the GIN trigram indexes of the current schema
TRIGRAM_INDEXES = (
    "SELECT c.oid::regclass::text FROM pg_class c "
    "JOIN pg_am a ON a.oid = c.relam "
    "WHERE c.relkind = 'i' AND a.amname = 'gin' AND c.relname LIKE 'ix\\_%\\_trgm' "
    "AND c.relnamespace = current_schema()::regnamespace"
)


def _trigram_indexes() -> list[str]:
    return list(op.get_bind().execute(sa.text(TRIGRAM_INDEXES)).scalars())


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for index in _trigram_indexes():
        op.execute(f"ALTER INDEX {index} SET (gin_pending_list_limit = {PENDING_LIST_KB})")
        op.execute(
            sa.text("SELECT gin_clean_pending_list(CAST(:index AS regclass))").bindparams(
                index=index
            )
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for index in _trigram_indexes():
        op.execute(f"ALTER INDEX {index} RESET (gin_pending_list_limit)")
