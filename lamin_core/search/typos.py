"""A deletion-neighbourhood (SymSpell) index: typo candidates that cannot be missed.

Trigrams find typos in long names, but a substitution or a transposition in the middle of a
7-letter word ("lymfocte", "TP35") leaves almost no trigram in common with the intended word.
This index finds every term within Damerau-Levenshtein distance `MAX_EDITS` of a query term,
by lookup, never by scanning:

- the vocabulary of a registry, ``<table>_terms (prefix, n, term)``: the distinct words (4 to
  `MAX_WORD` characters, split at whitespace and ASCII punctuation) and whole values (4 to
  `MAX_WHOLE` characters; each synonym of a ``synonyms`` field) of its search fields, ASCII
  lower-cased; ``prefix`` is the term's first `PREFIX_LENGTH` characters, ``n`` its length;
- the deletion neighbourhood, ``<table>_deletes (del, prefix)``: every string made by deleting
  0 to `MAX_EDITS` characters of a prefix.

Two strings within `MAX_EDITS` edits (insertions, deletions, substitutions, adjacent
transpositions) share a string made by deleting at most `MAX_EDITS` characters of each; so do
their first `PREFIX_LENGTH` characters (an edit inside the prefix pushes at most one character
across its end). A query term's deletions therefore reach the prefix of every term within
reach, and the terms with that prefix and a length within `MAX_EDITS` are checked exactly.
Keying deletions by prefix keeps the table small: 1.26 million NCBITaxon names have 1.5 million
terms but 260,000 prefixes.

A prefix alone does not bound the terms to check: 36,000 human genes carry an Ensembl id
("ENSG00000297080") as symbol, with one prefix and one length; 41,000 NCBITaxon values of 28
characters begin with "lepido". The same argument holds for the last `SUFFIX_LENGTH`
characters, so terms of `TAIL_FROM`+ characters are also reached from their suffix:

- ``<table>_terms_tail``, an index of the terms table on (suffix, n) for those terms;
- ``<table>_tail_deletes (del, suffix)``: the deletions of their suffixes.

A term within reach of a query term shares a prefix deletion AND a suffix deletion with it;
so the terms read from either side, when that side is read in full, contain every one of them.
Retrieval reads both sides up to a small cap and keeps the one it read in full: a lookup
bounded by key equality, not by the size of a crowd of terms with a common beginning.

Triggers keep both tables in step with the registry, in the database, so that every way of
writing rows (``save()``, ``ln.save``, SQLAlchemy core inserts, raw SQL) updates them: a new
row adds its terms, a new prefix its deletions; a deleted or updated row removes the terms no
other row contains, a prefix without terms its deletions. On SQLite the triggers are per row
and split text with ``json_each``; on PostgreSQL one plpgsql function per registry handles
whole statements through transition tables.

The same splitting and lower-casing run in Python (`terms_of`, `query_terms`) and in the
triggers' SQL, so a value and a query split alike; only ASCII letters are lower-cased, as
SQLite's ``lower()`` does. Terms shorter than `MIN_TERM` get no typo tolerance (queries of 1-3
characters match by prefix, through the B-tree of `index`).

Migration ``0009`` created these objects for catalogs that existed before; it spells its DDL
out so that it stays frozen, as migration ``0019`` does for the suffix side. This module makes
them for new catalogs.
"""

from __future__ import annotations

import string
from collections.abc import Sequence

from lamin_core.search.ranking import SYNONYM_FIELDS

__all__ = [
    "IDENTIFIER_FIELDS",
    "MAX_EDITS",
    "MAX_WHOLE",
    "MAX_WORD",
    "MIN_TERM",
    "PREFIX_LENGTH",
    "SUFFIX_LENGTH",
    "TAIL_FROM",
    "ascii_lower",
    "deletes",
    "deletes_table",
    "drop_typo_index_ddl",
    "query_terms",
    "split_words",
    "suffix_sql",
    "tail_deletes",
    "tail_deletes_table",
    "terms_of",
    "terms_table",
    "typo_index_ddl",
]

PREFIX_LENGTH = 6
SUFFIX_LENGTH = PREFIX_LENGTH
# terms of this length or more are also indexed by their suffix: shorter terms have few
# characters after their prefix, so a prefix and a length select few of them
TAIL_FROM = 9
MAX_EDITS = 2
MIN_TERM = 4
MAX_WORD = 64
MAX_WHOLE = 40
# words end at whitespace and ASCII punctuation ("example_datasets/dataset1.h5ad" has the
# words example, datasets, dataset1, h5ad)
SEPARATORS = " \t\n\r" + string.punctuation
LIST_SEPARATOR = "|"
# identifiers are looked up exactly, not misspelled: indexing "ncbitaxon:9606" and "9606" of
# 1.26 million terms would triple the index
IDENTIFIER_FIELDS = ("ontology_id", "ensembl_gene_id")
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
_TO_SPACE = str.maketrans(SEPARATORS, " " * len(SEPARATORS))


def terms_table(table: str) -> str:
    """Return the name of the vocabulary table of `table`."""
    return f"{table}_terms"


def deletes_table(table: str) -> str:
    """Return the name of the deletion-neighbourhood table of `table`."""
    return f"{table}_deletes"


def tail_deletes_table(table: str) -> str:
    """Return the name of the suffix-deletion table of `table`."""
    return f"{table}_tail_deletes"


def suffix_sql(column: str, *, dialect: str) -> str:
    """Return the SQL expression of the suffix of the term column `column` (as indexed)."""
    if dialect == "sqlite":
        return f"substr({column}, -{SUFFIX_LENGTH})"
    return f"right({column}, {SUFFIX_LENGTH})"


def ascii_lower(text: str) -> str:
    """Lower-case the ASCII letters of `text` (as SQLite's ``lower()``), nothing else."""
    return text.translate(_ASCII_LOWER)


def split_words(text: str) -> list[str]:
    """Return the words of `text`: split at whitespace and ASCII punctuation, ASCII-lowered."""
    return ascii_lower(text).translate(_TO_SPACE).split(" ")


def terms_of(value: str | None, *, is_list: bool = False) -> set[str]:
    """Return the vocabulary terms of one field value, as the triggers store them.

    Args:
        value: The field's value.
        is_list: The value is a ``|``-separated list (synonyms): each item is a whole value.
    """
    if not value:
        return set()
    lowered = ascii_lower(value)
    wholes = [part.strip() for part in lowered.split(LIST_SEPARATOR)] if is_list else [lowered]
    found = {w for w in split_words(value) if MIN_TERM <= len(w) <= MAX_WORD}
    found.update(w for w in wholes if MIN_TERM <= len(w) <= MAX_WHOLE)
    return found


def query_terms(query: str) -> list[str]:
    """Return the terms of a normalized query to look typos up for: its words, then itself."""
    terms = [w for w in split_words(query) if MIN_TERM <= len(w) <= MAX_WORD]
    whole = ascii_lower(query)
    if MIN_TERM <= len(whole) <= MAX_WHOLE:
        terms.append(whole)
    return list(dict.fromkeys(terms))


def _deletion_pairs(length: int = PREFIX_LENGTH) -> list[tuple[int, int]]:
    """Return the 1-based positions to delete: (0, 0) none, (0, j) one, (i, j) two."""
    pairs = [(0, 0)] + [(0, j) for j in range(1, length + 1)]
    return pairs + [(i, j) for j in range(1, length + 1) for i in range(1, j)]


def _deletions(window: str) -> set[str]:
    found = set()
    for i, j in _deletion_pairs(len(window)):
        if i:
            found.add(window[: i - 1] + window[i : j - 1] + window[j:])
        elif j:
            found.add(window[: j - 1] + window[j:])
        else:
            found.add(window)
    return found


def deletes(term: str) -> set[str]:
    """Return the strings made by deleting 0 to `MAX_EDITS` characters of `term`'s prefix."""
    return _deletions(term[:PREFIX_LENGTH])


def tail_deletes(term: str) -> set[str]:
    """Return the strings made by deleting 0 to `MAX_EDITS` characters of `term`'s suffix."""
    return _deletions(term[-SUFFIX_LENGTH:])


# ---------------------------------------------------------------------------------------------
# DDL: the same term splitting and deletions in SQL


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


def _sqlite_terms(
    row: str, fields: Sequence[str], *, table: str | None = None, where: str | None = None
) -> str:
    """Return a SELECT of the terms (column ``term``) of row `row` (``new``, ``old``).

    With `table`, `row` is an alias of it and the SELECT covers every row of the table, or
    those matching the SQL condition `where`.
    """
    scan = ""
    if table:
        rows = _q(table) if where is None else f"(SELECT * FROM {_q(table)} WHERE {where})"
        scan = f"{rows} {row}"
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
    return " UNION ALL ".join(selects)


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
        # a prefix is its own 0-deletion: one primary-key probe says whether it is indexed
        f"WHEN NOT EXISTS (SELECT 1 FROM {dels} WHERE del = new.prefix AND prefix = new.prefix) "
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


def _tail_ddl(table: str, *, dialect: str) -> list[str]:
    """Return the suffix side of the typo index: an index of the terms, their suffix deletions
    and the triggers on the terms table that keep the deletions in step (idempotent)."""
    terms, tails = _q(terms_table(table)), _q(tail_deletes_table(table))
    index = _q(terms_table(table) + "_tail")
    key = "PRIMARY KEY (del, suffix)"
    if dialect == "sqlite":
        new, old = suffix_sql("new.term", dialect=dialect), suffix_sql("old.term", dialect=dialect)
        return [
            f"CREATE INDEX IF NOT EXISTS {index} ON {terms} "
            f"({suffix_sql('term', dialect=dialect)}, n) WHERE n >= {TAIL_FROM}",
            f"CREATE TABLE IF NOT EXISTS {tails} (del TEXT NOT NULL, suffix TEXT NOT NULL, "
            f"{key}) WITHOUT ROWID",
            f"CREATE TRIGGER IF NOT EXISTS {_q(terms_table(table) + '_tai')} AFTER INSERT ON "
            f"{terms} WHEN new.n >= {TAIL_FROM} AND NOT EXISTS (SELECT 1 FROM {tails} "
            f"WHERE del = {new} AND suffix = {new}) "
            f"BEGIN INSERT OR IGNORE INTO {tails} (del, suffix) SELECT d, {new} "
            f"FROM ({deletes_sql(new)}); END",
            f"CREATE TRIGGER IF NOT EXISTS {_q(terms_table(table) + '_tad')} AFTER DELETE ON "
            f"{terms} WHEN old.n >= {TAIL_FROM} AND NOT EXISTS (SELECT 1 FROM {terms} "
            f"WHERE {suffix_sql('term', dialect=dialect)} = {old} AND n >= {TAIL_FROM}) "
            f"BEGIN DELETE FROM {tails} WHERE suffix = {old} AND del IN ({deletes_sql(old)}); END",
        ]
    function = _q(terms_table(table) + "_tails_sync")
    suffix = suffix_sql("r.term", dialect=dialect)
    body = f"""
BEGIN
  IF TG_OP = 'DELETE' THEN
    DELETE FROM {tails} x USING (
      SELECT dl.d, g.suffix FROM (
        SELECT DISTINCT {suffix} AS suffix FROM old_terms r WHERE r.n >= {TAIL_FROM}) g
      CROSS JOIN LATERAL ({deletes_sql("g.suffix")}) dl
      WHERE NOT EXISTS (SELECT 1 FROM {terms} w
        WHERE {suffix_sql("w.term", dialect=dialect)} = g.suffix AND w.n >= {TAIL_FROM})
    ) g WHERE x.del = g.d AND x.suffix = g.suffix;
  ELSE
    INSERT INTO {tails} (del, suffix)
    SELECT DISTINCT dl.d, g.suffix FROM (
      SELECT DISTINCT {suffix} AS suffix FROM new_terms r WHERE r.n >= {TAIL_FROM}) g
    CROSS JOIN LATERAL ({deletes_sql("g.suffix")}) dl
    WHERE NOT EXISTS (SELECT 1 FROM {tails} x WHERE x.del = g.suffix AND x.suffix = g.suffix)
    ON CONFLICT DO NOTHING;
  END IF;
  RETURN NULL;
END
"""
    return [
        # INCLUDE (term): the lookup reads the index alone (SQLite's indexes of a WITHOUT ROWID
        # table hold its primary key)
        f"CREATE INDEX IF NOT EXISTS {index} ON {terms} "
        f"({suffix_sql('term', dialect=dialect)}, n) INCLUDE (term) WHERE n >= {TAIL_FROM}",
        f"CREATE TABLE IF NOT EXISTS {tails} (del TEXT NOT NULL, suffix TEXT NOT NULL, {key})",
        f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS "
        f"$lamin${body}$lamin$",
        f"DROP TRIGGER IF EXISTS {_q(terms_table(table) + '_tins')} ON {terms}",
        f"CREATE TRIGGER {_q(terms_table(table) + '_tins')} AFTER INSERT ON {terms} "
        f"REFERENCING NEW TABLE AS new_terms FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
        f"DROP TRIGGER IF EXISTS {_q(terms_table(table) + '_tdel')} ON {terms}",
        f"CREATE TRIGGER {_q(terms_table(table) + '_tdel')} AFTER DELETE ON {terms} "
        f"REFERENCING OLD TABLE AS old_terms FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
    ]


def populate_ddl(
    table: str, fields: Sequence[str], *, dialect: str, where: str | None = None
) -> list[str]:
    """Return the statements that add the terms of the rows `table` already holds.

    Args:
        table: The registry's table name.
        fields: Its typo-indexed fields.
        dialect: ``"sqlite"`` or ``"postgresql"``.
        where: SQLite: an SQL condition on the table's columns choosing the rows (rows just
            inserted in bulk, see `lamin_core.search.bulk`); default every row.
    """
    terms = _q(terms_table(table))
    if dialect == "sqlite":
        selects = _sqlite_terms("t", fields, table=table, where=where)
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


def typo_index_ddl(
    table: str, fields: Sequence[str], *, dialect: str, populate: bool = False
) -> list[str]:
    """Return the statements that create the typo index of a registry table (idempotent).

    Args:
        table: The registry's table name.
        fields: Its search fields.
        dialect: ``"sqlite"`` or ``"postgresql"``.
        populate: Add the terms of the rows the table already holds.
    """
    fields = [field for field in fields if field not in IDENTIFIER_FIELDS]
    if dialect == "sqlite":
        statements = _sqlite_ddl(table, fields)
    elif dialect == "postgresql":
        statements = _postgres_ddl(table, fields)
    else:
        raise ValueError(f"No typo index for the database {dialect!r}: use sqlite or postgresql.")
    # the suffix side first: the terms the populating statements add reach its triggers
    statements += _tail_ddl(table, dialect=dialect)
    return statements + (populate_ddl(table, fields, dialect=dialect) if populate else [])


def drop_typo_index_ddl(table: str, *, dialect: str) -> list[str]:
    """Return the statements that drop the typo index of a registry table."""
    terms, dels = terms_table(table), deletes_table(table)
    statements: list[str] = []
    if dialect == "sqlite":
        statements += [
            f"DROP TRIGGER IF EXISTS {_q(terms + suffix)}"
            for suffix in ("_rai", "_rad", "_rau", "_ai", "_ad", "_tai", "_tad")
        ]
    else:
        # CASCADE: the triggers that call the functions go with them
        statements += [
            f"DROP FUNCTION IF EXISTS {_q(terms + name)}() CASCADE"
            for name in ("_sync", "_tails_sync")
        ]
    return [
        *statements,
        f"DROP TABLE IF EXISTS {_q(tail_deletes_table(table))}",
        f"DROP TABLE IF EXISTS {_q(dels)}",
        f"DROP TABLE IF EXISTS {_q(terms)}",
    ]
