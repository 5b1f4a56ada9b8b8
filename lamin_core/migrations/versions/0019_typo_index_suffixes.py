"""typo index by suffix: every term of 9+ characters is also reached from its last six

Revision 0009 keys the deletion neighbourhood of the typo index by a term's first six
characters. A prefix shared by tens of thousands of terms of one length (36,000 Ensembl-id gene
symbols "ENSG00..."; 41,000 NCBITaxon values "Lepido..." of 28 characters) made a lookup read a
capped slice of them and miss the intended term. This revision adds, per typo-indexed registry
(every ``<table>_terms`` of the catalog):

- ``<table>_terms_tail``: an index of the terms of 9+ characters on (last six characters, n);
- ``<table>_tail_deletes (del, suffix)``: the strings made by deleting 0 to 2 characters of
  those suffixes, filled from the terms the catalog holds;
- triggers on ``<table>_terms`` that keep it in step (SQLite: per row; PostgreSQL: one plpgsql
  function per registry over transition tables).

``lamin_core.search.typos`` explains the lookup and makes the same objects for new catalogs;
the DDL is spelled out here so that this revision means the same thing forever.

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

SUFFIX_LENGTH = 6
TAIL_FROM = 9


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _deletion_pairs(length: int = SUFFIX_LENGTH) -> list[tuple[int, int]]:
    """Return the 1-based positions to delete: (0, 0) none, (0, j) one, (i, j) two."""
    pairs = [(0, 0)] + [(0, j) for j in range(1, length + 1)]
    return pairs + [(i, j) for j in range(1, length + 1) for i in range(1, j)]


def _deletion(window: str, i: int, j: int) -> str:
    if i:
        return (
            f"substr({window}, 1, {i - 1}) || substr({window}, {i + 1}, {j - i - 1}) "
            f"|| substr({window}, {j + 1})"
        )
    if j:
        return f"substr({window}, 1, {j - 1}) || substr({window}, {j + 1})"
    return window


def _deletes_sql(window: str) -> str:
    """Return a SELECT of the deletions of the SQL expression `window` (column ``d``)."""
    selects = []
    for i, j in _deletion_pairs():
        where = f" WHERE length({window}) >= {j}" if j else ""
        selects.append(f"SELECT {_deletion(window, i, j)} AS d{where}")
    return " UNION ALL ".join(selects)


def _suffix(column: str, dialect: str) -> str:
    if dialect == "sqlite":
        return f"substr({column}, -{SUFFIX_LENGTH})"
    return f"right({column}, {SUFFIX_LENGTH})"


def _sqlite_ddl(table: str) -> list[str]:
    terms, tails = _q(f"{table}_terms"), _q(f"{table}_tail_deletes")
    new, old = _suffix("new.term", "sqlite"), _suffix("old.term", "sqlite")
    # the distinct suffixes once (a CTE read more than once is materialized), then each
    # deletion of them: SQLite has no LATERAL join
    populate = f"WITH s AS (SELECT DISTINCT {_suffix('term', 'sqlite')} AS suffix FROM {terms} "
    populate += f"WHERE n >= {TAIL_FROM}) INSERT OR IGNORE INTO {tails} (del, suffix) "
    populate += " UNION ALL ".join(
        f"SELECT {_deletion('s.suffix', i, j)}, s.suffix FROM s"
        + (f" WHERE length(s.suffix) >= {j}" if j else "")
        for i, j in _deletion_pairs()
    )
    return [
        f"CREATE INDEX IF NOT EXISTS {_q(f'{table}_terms_tail')} ON {terms} "
        f"({_suffix('term', 'sqlite')}, n) WHERE n >= {TAIL_FROM}",
        f"CREATE TABLE IF NOT EXISTS {tails} (del TEXT NOT NULL, suffix TEXT NOT NULL, "
        f"PRIMARY KEY (del, suffix)) WITHOUT ROWID",
        f"CREATE TRIGGER IF NOT EXISTS {_q(f'{table}_terms_tai')} AFTER INSERT ON "
        f"{terms} WHEN new.n >= {TAIL_FROM} AND NOT EXISTS (SELECT 1 FROM {tails} "
        f"WHERE del = {new} AND suffix = {new}) "
        f"BEGIN INSERT OR IGNORE INTO {tails} (del, suffix) SELECT d, {new} "
        f"FROM ({_deletes_sql(new)}); END",
        f"CREATE TRIGGER IF NOT EXISTS {_q(f'{table}_terms_tad')} AFTER DELETE ON "
        f"{terms} WHEN old.n >= {TAIL_FROM} AND NOT EXISTS (SELECT 1 FROM {terms} "
        f"WHERE {_suffix('term', 'sqlite')} = {old} AND n >= {TAIL_FROM}) "
        f"BEGIN DELETE FROM {tails} WHERE suffix = {old} AND del IN ({_deletes_sql(old)}); END",
        populate,
    ]


def _postgres_ddl(table: str) -> list[str]:
    terms, tails = _q(f"{table}_terms"), _q(f"{table}_tail_deletes")
    function = _q(f"{table}_terms_tails_sync")
    suffix = _suffix("r.term", "postgresql")
    body = f"""
BEGIN
  IF TG_OP = 'DELETE' THEN
    DELETE FROM {tails} x USING (
      SELECT dl.d, g.suffix FROM (
        SELECT DISTINCT {suffix} AS suffix FROM old_terms r WHERE r.n >= {TAIL_FROM}) g
      CROSS JOIN LATERAL ({_deletes_sql("g.suffix")}) dl
      WHERE NOT EXISTS (SELECT 1 FROM {terms} w
        WHERE {_suffix("w.term", "postgresql")} = g.suffix AND w.n >= {TAIL_FROM})
    ) g WHERE x.del = g.d AND x.suffix = g.suffix;
  ELSE
    INSERT INTO {tails} (del, suffix)
    SELECT DISTINCT dl.d, g.suffix FROM (
      SELECT DISTINCT {suffix} AS suffix FROM new_terms r WHERE r.n >= {TAIL_FROM}) g
    CROSS JOIN LATERAL ({_deletes_sql("g.suffix")}) dl
    WHERE NOT EXISTS (SELECT 1 FROM {tails} x WHERE x.del = g.suffix AND x.suffix = g.suffix)
    ON CONFLICT DO NOTHING;
  END IF;
  RETURN NULL;
END
"""
    return [
        f"CREATE INDEX IF NOT EXISTS {_q(f'{table}_terms_tail')} ON {terms} "
        f"({_suffix('term', 'postgresql')}, n) INCLUDE (term) WHERE n >= {TAIL_FROM}",
        f"CREATE TABLE IF NOT EXISTS {tails} (del TEXT NOT NULL, suffix TEXT NOT NULL, "
        f"PRIMARY KEY (del, suffix))",
        f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS "
        f"$lamin${body}$lamin$",
        f"DROP TRIGGER IF EXISTS {_q(f'{table}_terms_tins')} ON {terms}",
        f"CREATE TRIGGER {_q(f'{table}_terms_tins')} AFTER INSERT ON {terms} "
        f"REFERENCING NEW TABLE AS new_terms FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
        f"DROP TRIGGER IF EXISTS {_q(f'{table}_terms_tdel')} ON {terms}",
        f"CREATE TRIGGER {_q(f'{table}_terms_tdel')} AFTER DELETE ON {terms} "
        f"REFERENCING OLD TABLE AS old_terms FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
        f"INSERT INTO {tails} (del, suffix) SELECT DISTINCT dl.d, g.suffix FROM "
        f"(SELECT DISTINCT {_suffix('t.term', 'postgresql')} AS suffix FROM {terms} t "
        f"WHERE t.n >= {TAIL_FROM}) g CROSS JOIN LATERAL ({_deletes_sql('g.suffix')}) dl "
        f"ON CONFLICT DO NOTHING",
    ]


def _typo_indexed_tables() -> list[str]:
    """Return the registries with a typo index: a ``<table>_terms`` beside ``<table>_deletes``."""
    names = set(sa.inspect(op.get_bind()).get_table_names())
    return sorted(
        name[: -len("_terms")]
        for name in names
        if name.endswith("_terms") and name[: -len("_terms")] + "_deletes" in names
    )


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table in _typo_indexed_tables():
        statements = _sqlite_ddl(table) if dialect == "sqlite" else _postgres_ddl(table)
        for statement in statements:
            op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table in _typo_indexed_tables():
        if dialect == "sqlite":
            for name in ("_terms_tai", "_terms_tad"):
                op.execute(f"DROP TRIGGER IF EXISTS {_q(table + name)}")
        else:
            op.execute(f"DROP FUNCTION IF EXISTS {_q(table + '_terms_tails_sync')}() CASCADE")
        op.execute(f"DROP INDEX IF EXISTS {_q(table + '_terms_tail')}")
        op.execute(f"DROP TABLE IF EXISTS {_q(table + '_tail_deletes')}")
