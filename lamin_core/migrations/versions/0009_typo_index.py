"""typo index: the deletion-neighbourhood tables and triggers of every searchable registry

Adds, per registry with search fields, ``<table>_terms`` (its vocabulary: words and whole values
of the search fields) and ``<table>_deletes`` (the strings made by deleting up to two characters
of each term's first six), with the triggers that keep them in step with the registry, and
fills them from the rows the catalog holds. ``lamin_core.search.typos`` explains the index and
makes the same objects for new catalogs. The DDL is written out here, with the registries and
fields of revision 0008, so that this revision means the same thing forever.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import string
from collections.abc import Sequence

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

PREFIX_LENGTH = 6
MAX_EDITS = 2
MIN_TERM = 4
MAX_WORD = 64
MAX_WHOLE = 40
SEPARATORS = " \t\n\r" + string.punctuation
LIST_SEPARATOR = "|"
SYNONYM_FIELDS = ("synonyms",)

ONTOLOGIES = (
    "celltype", "tissue", "disease", "experimentalfactor", "developmentalstage", "phenotype",
    "ethnicity",
)  # fmt: skip
# table -> search fields but identifiers (ontology_id, ensembl_gene_id), as of revision 0008
SEARCH_FIELDS: dict[str, tuple[str, ...]] = {
    "artifact": ("key", "description"),
    "collection": ("key", "description"),
    "feature": ("name", "description", "synonyms"),
    "featureset": ("name", "itype"),
    "run": ("name", "reference"),
    "storage": ("root", "description"),
    "transform": ("key", "description"),
    "ulabel": ("name", "description"),
    "user": ("handle", "name"),
    **{table: ("name", "synonyms", "description") for table in ONTOLOGIES},
    "organism": ("name", "synonyms", "scientific_name"),
    "gene": ("symbol", "synonyms", "description"),
    "source": ("name", "entity", "description"),
    "space": ("name", "description"),
}


def terms_table(table: str) -> str:
    return f"{table}_terms"


def deletes_table(table: str) -> str:
    return f"{table}_deletes"


def _deletion_pairs(length: int = PREFIX_LENGTH) -> list[tuple[int, int]]:
    """Return the 1-based positions to delete: (0, 0) none, (0, j) one, (i, j) two."""
    pairs = [(0, 0)] + [(0, j) for j in range(1, length + 1)]
    return pairs + [(i, j) for j in range(1, length + 1) for i in range(1, j)]


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _pg_literal(text: str) -> str:
    """Return a PostgreSQL string expression for `text`; "%" as chr(37), which drivers would
    read as a placeholder."""
    return " || chr(37) || ".join(_literal(part) for part in text.split("%"))


def _sqlite_char(char: str) -> str:
    return _literal(char) if char.isprintable() else f"char({ord(char)})"


def deletes_sql(prefix: str) -> str:
    """Return a SELECT of the deletions of the SQL expression `prefix` (column ``d``)."""
    selects = []
    for i, j in _deletion_pairs():
        if i:
            expression = (
                f"substr({prefix}, 1, {i - 1}) || substr({prefix}, {i + 1}, {j - i - 1}) "
                f"|| substr({prefix}, {j + 1})"
            )
        elif j:
            expression = f"substr({prefix}, 1, {j - 1}) || substr({prefix}, {j + 1})"
        else:
            expression = prefix
        where = f" WHERE length({prefix}) >= {j}" if j else ""
        selects.append(f"SELECT {expression} AS d{where}")
    return " UNION ALL ".join(selects)


# SQLite has no translate(): separators become spaces through nested replace() calls, a dozen
# per subquery level (its parser refuses expressions nested much deeper)
_REPLACES_PER_LEVEL = 12


def _sqlite_words(value: str, scan: str) -> str:
    """Return FROM items yielding the words of `value` as ``json_each.value``.

    Args:
        value: The SQL expression of the field (``new."name"``, ``t."name"``).
        scan: ``"<table> t"`` when `value` reads a table, else empty.
    """
    separators = [char for char in SEPARATORS if char != " "]
    source = f"SELECT lower({value}) AS v" + (f" FROM {scan}" if scan else "")
    for start in range(0, len(separators), _REPLACES_PER_LEVEL):
        expression = "v"
        for char in separators[start : start + _REPLACES_PER_LEVEL]:
            expression = f"replace({expression}, {_sqlite_char(char)}, ' ')"
        source = f"SELECT {expression} AS v FROM ({source})"
    return f"({source}) w, json_each('[' || replace(json_quote(w.v), ' ', '\",\"') || ']')"


def _sqlite_terms(row: str, fields: Sequence[str], *, table: str | None = None) -> str:
    """Return a SELECT of the terms (column ``term``) of row `row` (``new``, ``old``).

    With `table`, `row` is an alias of it and the SELECT covers every row of the table.
    """
    scan = f"{_q(table)} {row}" if table else ""
    selects = []
    for field in fields:
        value = f"{row}.{_q(field)}"
        selects.append(
            f"SELECT value AS term FROM {_sqlite_words(value, scan)} "
            f"WHERE length(value) BETWEEN {MIN_TERM} AND {MAX_WORD}"
        )
        if field in SYNONYM_FIELDS:
            items = (
                f"json_each('[' || replace(json_quote(lower({value})), "
                f"'{LIST_SEPARATOR}', '\",\"') || ']')"
            )
            sources = ", ".join(filter(None, [scan, items]))
            selects.append(
                f"SELECT trim(value) AS term FROM {sources} "
                f"WHERE length(trim(value)) BETWEEN {MIN_TERM} AND {MAX_WHOLE}"
            )
        else:
            source = f" FROM {scan}" if scan else ""
            selects.append(
                f"SELECT lower({value}) AS term{source} "
                f"WHERE length({value}) BETWEEN {MIN_TERM} AND {MAX_WHOLE}"
            )
    return " UNION ".join(selects)


def _sqlite_ddl(table: str, fields: Sequence[str]) -> list[str]:
    terms, dels = _q(terms_table(table)), _q(deletes_table(table))
    fts = _q(f"{table}_fts")
    quoted = _q(table)
    columns = ", ".join(_q(f) for f in fields)
    add = (
        f"INSERT OR IGNORE INTO {terms} (prefix, n, term) "
        f"SELECT substr(term, 1, {PREFIX_LENGTH}), length(term), term "
        f"FROM ({_sqlite_terms('new', fields)});"
    )
    # a term stays while another row contains it (the trigram index answers, for any order of
    # the triggers: this row is excluded by its id)
    remove = (
        f"DELETE FROM {terms} WHERE (prefix, n, term) IN ("
        f"SELECT substr(term, 1, {PREFIX_LENGTH}), length(term), term "
        f"FROM ({_sqlite_terms('old', fields)})) "
        f"AND NOT EXISTS (SELECT 1 FROM {fts} WHERE {fts} MATCH "
        f"'\"' || replace({terms}.term, '\"', '\"\"') || '\"' AND rowid <> old.id);"
    )
    return [
        f"CREATE TABLE IF NOT EXISTS {terms} (prefix TEXT NOT NULL, n INTEGER NOT NULL, "
        f"term TEXT NOT NULL, PRIMARY KEY (prefix, n, term)) WITHOUT ROWID",
        f"CREATE TABLE IF NOT EXISTS {dels} (del TEXT NOT NULL, prefix TEXT NOT NULL, "
        f"PRIMARY KEY (del, prefix)) WITHOUT ROWID",
        f"CREATE TRIGGER IF NOT EXISTS {_q(terms_table(table) + '_ai')} AFTER INSERT ON {terms} "
        f"WHEN NOT EXISTS (SELECT 1 FROM {terms} WHERE prefix = new.prefix "
        f"AND (n <> new.n OR term <> new.term)) "
        f"BEGIN INSERT OR IGNORE INTO {dels} (del, prefix) SELECT d, new.prefix "
        f"FROM ({deletes_sql('new.prefix')}); END",
        f"CREATE TRIGGER IF NOT EXISTS {_q(terms_table(table) + '_ad')} AFTER DELETE ON {terms} "
        f"WHEN NOT EXISTS (SELECT 1 FROM {terms} WHERE prefix = old.prefix) "
        f"BEGIN DELETE FROM {dels} WHERE prefix = old.prefix "
        f"AND del IN ({deletes_sql('old.prefix')}); END",
        f"CREATE TRIGGER IF NOT EXISTS {_q(terms_table(table) + '_rai')} AFTER INSERT ON "
        f"{quoted} BEGIN {add} END",
        f"CREATE TRIGGER IF NOT EXISTS {_q(terms_table(table) + '_rad')} AFTER DELETE ON "
        f"{quoted} BEGIN {remove} END",
        f"CREATE TRIGGER IF NOT EXISTS {_q(terms_table(table) + '_rau')} AFTER UPDATE OF "
        f"{columns} ON {quoted} BEGIN {remove} {add} END",
    ]


_UPPER = _pg_literal(string.ascii_uppercase + SEPARATORS)
_LOWER = _literal(string.ascii_lowercase + " " * len(SEPARATORS))


def _postgres_terms(rows: str, fields: Sequence[str]) -> str:
    """Return a SELECT of the distinct terms (column ``term``) of the transition table `rows`."""
    upper, lower = _literal(string.ascii_uppercase), _literal(string.ascii_lowercase)
    selects = []
    for field in fields:
        value = f"r.{_q(field)}"
        selects.append(
            f"SELECT w AS term FROM {rows} r, "
            f"unnest(string_to_array(translate({value}, {_UPPER}, {_LOWER}), ' ')) w "
            f"WHERE length(w) BETWEEN {MIN_TERM} AND {MAX_WORD}"
        )
        whole = f"translate({value}, {upper}, {lower})"
        if field in SYNONYM_FIELDS:
            selects.append(
                f"SELECT trim(w) AS term FROM {rows} r, "
                f"unnest(string_to_array({whole}, '{LIST_SEPARATOR}')) w "
                f"WHERE length(trim(w)) BETWEEN {MIN_TERM} AND {MAX_WHOLE}"
            )
        else:
            selects.append(
                f"SELECT {whole} AS term FROM {rows} r "
                f"WHERE length({value}) BETWEEN {MIN_TERM} AND {MAX_WHOLE}"
            )
    return " UNION ".join(selects)


def _postgres_ddl(table: str, fields: Sequence[str]) -> list[str]:
    terms, dels = _q(terms_table(table)), _q(deletes_table(table))
    quoted = _q(table)
    function = _q(terms_table(table) + "_sync")
    pattern = (
        "chr(37) || lower(replace(replace(replace(g.term, '\\', '\\\\'), chr(37), "
        "'\\' || chr(37)), '_', '\\_')) || chr(37)"
    )
    contained = " OR ".join(f"lower(t.{_q(f)}) LIKE {pattern} ESCAPE '\\'" for f in fields)
    body = f"""
BEGIN
  IF TG_OP IN ('DELETE', 'UPDATE') THEN
    WITH gone AS (
      DELETE FROM {terms} x USING (
        SELECT g.term FROM ({_postgres_terms("old_rows", fields)}) g
        WHERE NOT EXISTS (SELECT 1 FROM {quoted} t WHERE {contained})
      ) g WHERE x.prefix = substr(g.term, 1, {PREFIX_LENGTH}) AND x.n = length(g.term)
        AND x.term = g.term RETURNING x.prefix, x.n, x.term),
    empty AS (
      SELECT DISTINCT p.prefix FROM gone p WHERE NOT EXISTS (
        SELECT 1 FROM {terms} w WHERE w.prefix = p.prefix AND NOT EXISTS (
          SELECT 1 FROM gone o WHERE o.prefix = w.prefix AND o.n = w.n AND o.term = w.term)))
    DELETE FROM {dels} x USING (
      SELECT dl.d, e.prefix FROM empty e CROSS JOIN LATERAL ({deletes_sql("e.prefix")}) dl
    ) g WHERE x.del = g.d AND x.prefix = g.prefix;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    WITH added AS (
      INSERT INTO {terms} (prefix, n, term)
      SELECT substr(term, 1, {PREFIX_LENGTH}), length(term), term
      FROM ({_postgres_terms("new_rows", fields)}) g
      ON CONFLICT DO NOTHING RETURNING prefix),
    fresh AS (
      SELECT DISTINCT a.prefix FROM added a
      WHERE NOT EXISTS (SELECT 1 FROM {terms} w WHERE w.prefix = a.prefix))
    INSERT INTO {dels} (del, prefix)
    SELECT DISTINCT dl.d, f.prefix FROM fresh f CROSS JOIN LATERAL ({deletes_sql("f.prefix")}) dl
    ON CONFLICT DO NOTHING;
  END IF;
  RETURN NULL;
END
"""
    return [
        f"CREATE TABLE IF NOT EXISTS {terms} (prefix TEXT NOT NULL, n INTEGER NOT NULL, "
        f"term TEXT NOT NULL, PRIMARY KEY (prefix, n, term))",
        f"CREATE TABLE IF NOT EXISTS {dels} (del TEXT NOT NULL, prefix TEXT NOT NULL, "
        f"PRIMARY KEY (del, prefix))",
        f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS "
        f"$lamin${body}$lamin$",
        f"DROP TRIGGER IF EXISTS {_q(terms_table(table) + '_ins')} ON {quoted}",
        f"CREATE TRIGGER {_q(terms_table(table) + '_ins')} AFTER INSERT ON {quoted} "
        f"REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
        f"DROP TRIGGER IF EXISTS {_q(terms_table(table) + '_del')} ON {quoted}",
        f"CREATE TRIGGER {_q(terms_table(table) + '_del')} AFTER DELETE ON {quoted} "
        f"REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
        f"DROP TRIGGER IF EXISTS {_q(terms_table(table) + '_upd')} ON {quoted}",
        f"CREATE TRIGGER {_q(terms_table(table) + '_upd')} AFTER UPDATE ON {quoted} "
        f"REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
    ]


def populate_ddl(table: str, fields: Sequence[str], *, dialect: str) -> list[str]:
    """Return the statements that add the terms of the rows `table` already holds."""
    terms = _q(terms_table(table))
    if dialect == "sqlite":
        selects = _sqlite_terms("t", fields, table=table)
        return [
            f"INSERT OR IGNORE INTO {terms} (prefix, n, term) "
            f"SELECT substr(term, 1, {PREFIX_LENGTH}), length(term), term FROM ({selects})"
        ]
    dels = _q(deletes_table(table))
    rows = f"(SELECT * FROM {_q(table)})"
    return [
        f"INSERT INTO {terms} (prefix, n, term) "
        f"SELECT substr(term, 1, {PREFIX_LENGTH}), length(term), term "
        f"FROM ({_postgres_terms(rows, fields)}) g ON CONFLICT DO NOTHING",
        f"INSERT INTO {dels} (del, prefix) SELECT DISTINCT dl.d, p.prefix "
        f"FROM (SELECT DISTINCT prefix FROM {terms}) p "
        f"CROSS JOIN LATERAL ({deletes_sql('p.prefix')}) dl ON CONFLICT DO NOTHING",
    ]


def drop_typo_index_ddl(table: str, *, dialect: str) -> list[str]:
    """Return the statements that drop the typo index of a registry table."""
    terms, dels = terms_table(table), deletes_table(table)
    statements: list[str] = []
    if dialect == "sqlite":
        statements += [
            f"DROP TRIGGER IF EXISTS {_q(terms + suffix)}"
            for suffix in ("_rai", "_rad", "_rau", "_ai", "_ad")
        ]
    else:
        # CASCADE: the registry's triggers that call the function go with it
        statements.append(f"DROP FUNCTION IF EXISTS {_q(terms + '_sync')}() CASCADE")
    return [*statements, f"DROP TABLE IF EXISTS {_q(dels)}", f"DROP TABLE IF EXISTS {_q(terms)}"]


def _has_fts(table: str) -> bool:
    return (
        op.get_bind()
        .exec_driver_sql("SELECT 1 FROM sqlite_master WHERE name = ?", (f"{table}_fts",))
        .first()
        is not None
    )


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table, fields in SEARCH_FIELDS.items():
        if dialect == "sqlite":
            if not _has_fts(table):
                continue  # the delete trigger asks the trigram index
            statements = _sqlite_ddl(table, fields)
        else:
            statements = _postgres_ddl(table, fields)
        for statement in statements + populate_ddl(table, fields, dialect=dialect):
            op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table in SEARCH_FIELDS:
        for statement in drop_typo_index_ddl(table, dialect=dialect):
            op.execute(statement)
