"""search indexes: FTS5 trigram tables (SQLite), pg_trgm indexes (PostgreSQL)

Catalogs created at revision 0001 get the indexes that `Base.metadata.create_all` now makes for
new catalogs, with the rows they already hold indexed. The registries and fields are spelled out
here (not read from the models) so that this revision means the same thing forever.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

from lamin_core.search.index import drop_search_index, ensure_trigram_extension, search_index_ddl

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# table -> (search fields, fields with an exact/prefix B-tree index), as of revision 0001
SEARCH_FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "artifact": (("key", "description"), ("key",)),
    "collection": (("key", "description"), ("key",)),
    "feature": (("name", "description", "synonyms"), ("name",)),
    "featureset": (("name", "itype"), ("name", "itype")),
    "run": (("name", "reference"), ("name", "reference")),
    "storage": (("root", "description"), ("root",)),
    "transform": (("key", "description"), ("key",)),
    "ulabel": (("name", "description"), ("name",)),
    "user": (("handle", "name"), ("handle", "name")),
}


def upgrade() -> None:
    bind = op.get_bind()
    dialect = bind.dialect.name
    schema = ensure_trigram_extension(bind) if dialect == "postgresql" else None
    for table, (fields, prefix) in SEARCH_FIELDS.items():
        for statement in search_index_ddl(
            table, fields, dialect=dialect, prefix=prefix, trgm_schema=schema, populate=True
        ):
            op.execute(statement)


def downgrade() -> None:
    bind = op.get_bind()
    for table, (fields, prefix) in SEARCH_FIELDS.items():
        if bind.dialect.name == "sqlite":
            drop_search_index(bind, table)
            for field in prefix:
                op.execute(f'DROP INDEX IF EXISTS "ix_{table}_{field}_fts_nocase"')
        else:
            for field in fields:
                op.execute(f'DROP INDEX IF EXISTS "ix_{table}_{field}_trgm"')
                op.execute(f'DROP INDEX IF EXISTS "ix_{table}_{field}_trgm_prefix"')
