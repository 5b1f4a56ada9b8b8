"""Find search candidates through an index, never by scanning the registry.

Three passes, each bounded by `CANDIDATES` rows, the later ones only when needed:

1. exact and prefix matches: a range on a ``COLLATE NOCASE`` B-tree (SQLite) or ``LIKE 'q%'``
   on ``lower(field)`` (PostgreSQL), also for queries shorter than three characters;
2. substrings (whole words, synonyms): the FTS5 trigram phrase ``"q"`` ordered by bm25
   (SQLite) or ``LIKE '%q%'`` on the GIN trigram index (PostgreSQL);
3. typos, only when passes 1-2 found fewer than `limit` records: first the deletion-neighbourhood
   index (`typos`) gives every word and whole value within two edits of the query's words and of
   the whole query; rows holding them come from the name's B-tree (equality) and the trigram
   index (containment). Then, unless a value within two edits of the whole query was found, the
   rows sharing the most of the query's 4-grams (trigrams for short queries), or pg_trgm's
   ``%`` / ``<%`` ordered by similarity: they catch long names with edits across words.

Without an index (no FTS5 table, no pg_trgm) the same passes run as ``LIKE`` scans.
User text only ever reaches SQL as bound parameters; in FTS5 queries it is a quoted phrase.
"""

from __future__ import annotations

import contextlib
import json
import time
import weakref
from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from rapidfuzz import process
from rapidfuzz.distance import OSA
from sqlalchemy.engine import Engine

from lamin_core.query.sql import LIKE_ESCAPE, escape_like
from lamin_core.search.index import fts_table_name, prefix_fields, quote, trigram_schema
from lamin_core.search.ranking import Candidate
from lamin_core.search.typos import (
    IDENTIFIER_FIELDS,
    MAX_EDITS,
    PREFIX_LENGTH,
    TAIL_FROM,
    ascii_lower,
    deletes,
    deletes_table,
    query_terms,
    suffix_sql,
    tail_deletes,
    tail_deletes_table,
    terms_table,
)

__all__ = [
    "CANDIDATES",
    "candidates",
    "fuzzy_candidates",
    "index_plans",
    "query_chunks",
    "similar_terms",
]

CANDIDATES = 1000
# typo candidates ranked by how many of the query's chunks they contain
TYPO_CANDIDATES = 500
# substring candidates: rows containing the query's rarest trigrams
SUBSTRING_TRIGRAMS = 3
# typo candidates: the cheapest chunks of the query, up to this many postings read
TYPO_POSTINGS_BUDGET = 60_000
MIN_TYPO_CHUNKS = 3
MAX_TYPO_CHUNKS = 10
DF_TTL = 600.0
# typo index: query terms looked up, vocabulary terms per query term whose rows are fetched,
# rows read per query term, values looked up by equality
MAX_QUERY_TERMS = 8
TERMS_PER_QUERY_TERM = 8
ROWS_PER_QUERY_TERM = 200
EQUAL_VALUES = 200
# terms read per side of a query term by the first and the second lookup (see `similar_terms`)
FIRST_READ = 100
EXACT_READ = 4000
# terms read per query term when both sides are crowded: a whole value sharing its first
# characters and length with 200,000 others is left to its words
TERMS_READ = 30_000
# containment is skipped for query terms whose neighbours are in more rows than this
CONTAINMENT_BUDGET = 20_000
_fts_columns: weakref.WeakKeyDictionary[Engine, dict[str, tuple[str, ...]]] = (
    weakref.WeakKeyDictionary()
)
_frequencies: weakref.WeakKeyDictionary[Engine, dict[str, tuple[float, dict[str, int] | None]]] = (
    weakref.WeakKeyDictionary()
)
_typo_tables: weakref.WeakKeyDictionary[Engine, set[str]] = weakref.WeakKeyDictionary()


def fts_phrase(text: str) -> str:
    """Return `text` as an FTS5 phrase: every character, operators included, is literal."""
    return '"' + text.replace('"', '""') + '"'


# queries shorter than this look for typos by trigrams (see `query_chunks`) and, on PostgreSQL,
# with a lower word-similarity threshold
SHORT_QUERY = 8
SHORT_QUERY_WORD_SIMILARITY = 0.4


def query_chunks(query: str) -> list[str]:
    """Return the overlapping pieces of a query used to find typo candidates.

    4-grams for queries of 8+ characters (far more selective than trigrams), trigrams for
    shorter ones: one typo breaks up to `size` overlapping chunks, so a query needs at least
    twice the chunk size for one chunk to survive ("datset" keeps "dat" and "set" of
    "dataset", but none of its 4-grams).
    """
    size = 4 if len(query) >= SHORT_QUERY else 3
    chunks = [query[i : i + size] for i in range(len(query) - size + 1)]
    return list(dict.fromkeys(chunk for chunk in chunks if chunk.strip()))


# planner settings a search changes for its own statements, restored afterwards
_SETTINGS = ("enable_seqscan", "pg_trgm.word_similarity_threshold")


@contextlib.contextmanager
def index_plans(session: Any) -> Iterator[None]:
    """Make PostgreSQL read through the search indexes for the statements of the block.

    Trigram operators cost far more per row than the planner assumes, so on a table of a few
    thousand rows, or one without statistics yet (autovacuum not run after a bulk load), it
    scans: 200-800 ms instead of a few. Sequential scans are off inside the block; the
    settings (also the word-similarity threshold of `_postgres_fuzzy`) get their previous values
    back when it ends without an error (an error rolls the read back), so a transaction the
    search joins keeps its own.
    """
    if session.get_bind().dialect.name != "postgresql":
        yield
        return
    current = ", ".join(f"current_setting('{name}', true)" for name in _SETTINGS)
    previous = session.execute(
        sa.text(f"SELECT {current}, set_config('enable_seqscan', 'off', true)")
    ).one()
    yield
    restore = [
        f"set_config('{name}', :v{i}, true)"
        for i, name in enumerate(_SETTINGS)
        if previous[i] is not None
    ]
    params = {f"v{i}": value for i, value in enumerate(previous[: len(_SETTINGS)])}
    session.execute(sa.text(f"SELECT {', '.join(restore)}"), params)


def _engine(session: Any) -> Engine:
    bind = session.get_bind()
    return bind.engine if isinstance(bind, sa.Connection) else bind


def _indexed_fts_columns(session: sa.orm.Session, table: str) -> tuple[str, ...]:
    engine = _engine(session)
    cache = _fts_columns.setdefault(engine, {})
    if table not in cache:
        rows = session.execute(sa.text(f"PRAGMA table_info({quote(fts_table_name(table))})"))
        columns = tuple(row[1] for row in rows)
        if not columns:
            return ()  # not cached: the index may be created later
        cache[table] = columns
    return cache[table]


def trigrams(text: str) -> list[str]:
    """Return the distinct trigrams of `text`, in order."""
    return list(dict.fromkeys(text[i : i + 3] for i in range(len(text) - 2)))


def _document_frequencies(session: Any, table: str, terms: Sequence[str]) -> dict[str, int] | None:
    """Return how many rows contain each trigram (from the FTS5 vocabulary), cached per engine.

    Reading the posting list of a common trigram ("ia ", "the") dominates FTS5 query time, so
    retrieval prefers rare trigrams. Counts are cached for `DF_TTL` seconds: stale counts only
    make a query slower, never wrong. None when the catalog has no vocabulary table.
    """
    engine = _engine(session)
    tables = _frequencies.setdefault(engine, {})
    now = time.monotonic()
    created, cached = tables.get(table, (0.0, None))
    if cached is None or now - created > DF_TTL:
        vocabulary = fts_table_name(table) + "_vocab"
        exists = session.execute(
            sa.text("SELECT 1 FROM sqlite_master WHERE name = :name"), {"name": vocabulary}
        ).first()
        if exists is None:
            return None
        cached = {}
        tables[table] = (now, cached)
    missing = [term for term in dict.fromkeys(terms) if term not in cached]
    if missing:
        vocabulary = quote(fts_table_name(table) + "_vocab")
        statement = " UNION ALL ".join(
            f"SELECT term, doc FROM {vocabulary} WHERE term = :t{i}" for i in range(len(missing))
        )
        found = dict(
            session.execute(sa.text(statement), {f"t{i}": t for i, t in enumerate(missing)}).all()
        )
        for term in missing:
            cached[term] = int(found.get(term, 0))
    return {term: cached[term] for term in terms}


def _substring_expression(session: Any, table: str, query: str) -> str:
    """Return the FTS5 query for rows containing `query`: its rarest trigrams, ANDed.

    The full phrase would read the posting list of every trigram of the query; three rare ones
    select (nearly) the same rows at a fraction of the cost. Ranking checks the real substring.
    """
    terms = trigrams(query)
    if len(terms) <= SUBSTRING_TRIGRAMS:
        return fts_phrase(query)
    frequencies = _document_frequencies(session, table, terms)
    if frequencies is None:
        return fts_phrase(query)
    rare = sorted(terms, key=lambda term: frequencies[term])[:SUBSTRING_TRIGRAMS]
    return " AND ".join(fts_phrase(term) for term in rare)


def _typo_chunks(session: Any, table: str, query: str) -> list[str]:
    """Return the query's chunks to look up for typo candidates, cheapest first, within budget."""
    chunks = query_chunks(query)
    frequencies = _document_frequencies(session, table, trigrams(query))
    if frequencies is None:
        return chunks
    cost = {chunk: sum(frequencies.get(t, 0) for t in trigrams(chunk)) for chunk in chunks}
    chosen: list[str] = []
    total = 0
    for chunk in sorted(chunks, key=lambda c: cost[c]):
        if len(chosen) >= MIN_TYPO_CHUNKS and total + cost[chunk] > TYPO_POSTINGS_BUDGET:
            break
        if len(chosen) >= MAX_TYPO_CHUNKS:
            break
        chosen.append(chunk)
        total += cost[chunk]
    return chosen


def _rows_to_candidates(rows: Any, fields: Sequence[str]) -> list[Candidate]:
    return [Candidate(row[0], dict(zip(fields, row[1:]))) for row in rows]


def _select_fields(table: sa.Table, fields: Sequence[str]) -> str:
    return ", ".join(f"t.{quote(f)}" for f in fields)


def _sqlite_prefix(session: Any, table: sa.Table, query: str, fields: Sequence[str],
                   returned: Sequence[str]) -> list[Candidate]:  # fmt: skip
    found: list[Candidate] = []
    upper = query[:-1] + chr(ord(query[-1]) + 1)
    for field in prefix_fields(table, fields):
        statement = sa.text(
            f"SELECT t.id, {_select_fields(table, returned)} FROM {quote(table.name)} t "
            f"WHERE t.{quote(field)} >= :low COLLATE NOCASE "
            f"AND t.{quote(field)} < :high COLLATE NOCASE LIMIT :n"
        )
        rows = session.execute(statement, {"low": query, "high": upper, "n": CANDIDATES})
        found += _rows_to_candidates(rows, returned)
    return found


def _fts_match(session: Any, table: sa.Table, expression: str, fields: Sequence[str],
               returned: Sequence[str], indexed: Sequence[str]) -> list[Candidate]:  # fmt: skip
    fts = quote(fts_table_name(table.name))
    if set(fields) != set(indexed):
        expression = "{" + " ".join(fields) + "} : (" + expression + ")"
    statement = sa.text(
        f"WITH hits AS (SELECT rowid AS id, rank FROM {fts} WHERE {fts} MATCH :match "
        f"ORDER BY rank LIMIT :n) "
        f"SELECT t.id, {_select_fields(table, returned)} FROM hits "
        f"JOIN {quote(table.name)} t ON t.id = hits.id ORDER BY hits.rank"
    )
    rows = session.execute(statement, {"match": expression, "n": CANDIDATES})
    return _rows_to_candidates(rows, returned)


def _fts_chunk_hits(session: Any, table: sa.Table, chunks: Sequence[str],
                    fields: Sequence[str], returned: Sequence[str],
                    indexed: Sequence[str]) -> list[Candidate]:  # fmt: skip
    """Return the rows matching the most chunks (one typo leaves most chunks intact).

    Counting chunk hits per row replaces bm25 over an OR query, which scores every matching
    row and costs hundreds of milliseconds on a million rows.
    """
    fts = quote(fts_table_name(table.name))
    column_filter = "{" + " ".join(fields) + "} : " if set(fields) != set(indexed) else ""
    parts = [f"SELECT rowid AS id FROM {fts} WHERE {fts} MATCH :c{i}" for i in range(len(chunks))]
    statement = sa.text(
        f"WITH hits AS ({' UNION ALL '.join(parts)}), "
        f"best AS (SELECT id, count(*) AS n FROM hits GROUP BY id ORDER BY n DESC, id LIMIT :n) "
        f"SELECT t.id, {_select_fields(table, returned)} FROM best "
        f"JOIN {quote(table.name)} t ON t.id = best.id ORDER BY best.n DESC, best.id"
    )
    params: dict[str, Any] = {f"c{i}": column_filter + fts_phrase(c) for i, c in enumerate(chunks)}
    params["n"] = TYPO_CANDIDATES
    return _rows_to_candidates(session.execute(statement, params), returned)


def _like_pass(session: Any, table: sa.Table, patterns: Sequence[str], fields: Sequence[str],
               returned: Sequence[str], *, order_by_length: bool) -> list[Candidate]:  # fmt: skip
    conditions = []
    params: dict[str, Any] = {"n": CANDIDATES}
    for f_index, field in enumerate(fields):
        for p_index, pattern in enumerate(patterns):
            name = f"p{f_index}_{p_index}"
            params[name] = pattern
            conditions.append(f"lower(t.{quote(field)}) LIKE :{name} ESCAPE '{LIKE_ESCAPE}'")
    order = ""
    if order_by_length:
        order = f"ORDER BY length(t.{quote(fields[0])}) "
    statement = sa.text(
        f"SELECT t.id, {_select_fields(table, returned)} FROM {quote(table.name)} t "
        f"WHERE {' OR '.join(conditions)} {order}LIMIT :n"
    )
    return _rows_to_candidates(session.execute(statement, params), returned)


def _postgres_fuzzy(session: Any, table: sa.Table, query: str, fields: Sequence[str],
                    returned: Sequence[str], schema: str) -> list[Candidate]:  # fmt: skip
    found: list[Candidate] = []
    s = quote(schema)
    if len(query) < SHORT_QUERY:
        # one typo in a short word leaves few of its trigrams ("datset" in "example_datasets"
        # has a word similarity of 0.44, under pg_trgm's 0.6): lower the threshold of `<%`
        # for this transaction; ranking then drops the noise (rapidfuzz cutoff)
        session.execute(
            sa.text("SELECT set_config('pg_trgm.word_similarity_threshold', :t, true)"),
            {"t": str(SHORT_QUERY_WORD_SIMILARITY)},
        )
    for field in fields:
        value = f"lower(t.{quote(field)})"
        statement = sa.text(
            f"SELECT t.id, {_select_fields(table, returned)} FROM {quote(table.name)} t "
            f"WHERE {value} OPERATOR({s}.%) :q OR :q OPERATOR({s}.<%) {value} "
            f"ORDER BY {s}.word_similarity(:q, {value}) DESC LIMIT :n"
        )
        found += _rows_to_candidates(
            session.execute(statement, {"q": query, "n": CANDIDATES}), returned
        )
    return found


def candidates(
    session: Any, model: Any, query: str, fields: Sequence[str], returned: Sequence[str]
) -> list[Candidate]:
    """Return exact, prefix and substring candidates (passes 1 and 2) for a normalized query."""
    table: sa.Table = model.__table__
    dialect = session.get_bind().dialect.name
    found: list[Candidate] = []
    prefix = escape_like(query) + "%"
    substring = "%" + escape_like(query) + "%"
    if dialect == "sqlite":
        found += _sqlite_prefix(session, table, query, fields, returned)
        indexed = _indexed_fts_columns(session, table.name)
        in_index = [f for f in fields if f in indexed]
        rest = [f for f in fields if f not in indexed]
        if in_index and len(query) >= 3:
            expression = _substring_expression(session, table.name, query)
            found += _fts_match(session, table, expression, in_index, returned, indexed)
        if rest:
            found += _like_pass(session, table, [substring], rest, returned, order_by_length=False)
        return found
    for field in fields:
        found += _like_pass(session, table, [prefix], [field], returned, order_by_length=True)
    if len(query) >= 3 or trigram_schema(session.get_bind()) is None:
        found += _like_pass(session, table, [substring], fields, returned, order_by_length=True)
    return found


def _has_typo_index(session: Any, table: str) -> bool:
    """Whether `table` has its typo index (cached once found: it is never dropped in use)."""
    engine = _engine(session)
    known = _typo_tables.setdefault(engine, set())
    if table not in known:
        names = set(sa.inspect(session.connection()).get_table_names())
        needed = (terms_table(table), deletes_table(table), tail_deletes_table(table))
        if not set(needed) <= names:
            return False
        known.add(table)
    return True


def _side_sql(table: str, k: int, term: str, side: str, dialect: str, params: dict[str, Any],
              *, where_extra: str = "", edits: int = MAX_EDITS, tier: int = 0) -> str:  # fmt: skip
    """Return a SELECT (columns k, side, term) of the terms of `table` reached from one side.

    ``side`` is ``"head"`` (prefix deletions) or ``"tail"`` (suffix deletions, only terms of
    `TAIL_FROM`+ characters). The keys come from a primary key, the terms from a range of the
    terms table's primary key (head) or of its suffix index (tail), per key.
    """
    lo, hi = f"lo{k}_{side}{tier}", f"hi{k}_{side}{tier}"
    params[lo], params[hi] = len(term) - edits, len(term) + edits
    names = []
    keys = deletes(term) if side == "head" else tail_deletes(term)
    for m, deletion in enumerate(sorted(keys)):
        params[f"d{k}_{side}{tier}_{m}"] = deletion
        names.append(f":d{k}_{side}{tier}_{m}")
    words = quote(terms_table(table))
    if side == "head":
        keys_sql = (
            f"SELECT DISTINCT d.prefix AS key FROM {quote(deletes_table(table))} d "
            f"WHERE d.del IN ({', '.join(names)}){where_extra}"
        )
        match = "w.prefix = d.key"
    else:
        keys_sql = (
            f"SELECT DISTINCT d.suffix AS key FROM {quote(tail_deletes_table(table))} d "
            f"WHERE d.del IN ({', '.join(names)})"
        )
        # "+d.key": a key without column affinity, as the indexed expression has none (SQLite
        # compares through the index only then)
        key = "+d.key" if dialect == "sqlite" else "d.key"
        match = f"{suffix_sql('w.term', dialect=dialect)} = {key} AND w.n >= {TAIL_FROM}"
    code = 0 if side == "head" else 1
    if dialect == "postgresql":
        # LATERAL: one index range per key, whatever the planner's statistics say (without
        # them it hashes the whole vocabulary); OFFSET 0 keeps the planner from flattening it
        # into that hash join
        return (
            f"SELECT {k} AS k, {code} AS side, w.term FROM ({keys_sql}) d CROSS JOIN LATERAL "
            f"(SELECT w.term FROM {words} w WHERE {match} AND w.n BETWEEN :{lo} AND :{hi} "
            f"OFFSET 0) w"
        )
    return (
        f"SELECT {k} AS k, {code} AS side, w.term FROM ({keys_sql}) d "
        f"JOIN {words} w ON {match} AND w.n BETWEEN :{lo} AND :{hi}"
    )


def _read_sides(session: Any, parts: Sequence[tuple[int, int, str, str]],
                params: dict[str, Any]) -> dict[tuple[int, int], list[str]]:  # fmt: skip
    """Run SELECTs of terms, each with its LIMIT parameter, as one statement.

    `parts` are (query term, side, SELECT, name of its LIMIT parameter). Return the terms read
    per (query term, side), each SELECT's as one JSON array: a fraction of the cost of a result
    row per term.
    """
    dialect = session.get_bind().dialect.name
    value = "json_group_array(term)" if dialect == "sqlite" else "json_agg(term)::text"
    selects = [
        f"SELECT {k} AS k, {side} AS side, {value} AS v FROM ({sql} LIMIT :{cap}) AS near"
        for k, side, sql, cap in parts
    ]
    rows = session.execute(sa.text(" UNION ALL ".join(selects)), params).all()
    return {(k, side): json.loads(v) if v else [] for k, side, v in rows}


def similar_terms(session: Any, table: str, terms: Sequence[str]) -> list[list[tuple[int, str]]]:
    """Return, per query term, the vocabulary terms within `MAX_EDITS` edits: [(edits, term)].

    A term within reach shares a deletion of its prefix with the query term's prefix, and one
    of its suffix with the query term's suffix (see `typos`); so the terms of a length within
    reach read from either side, when that side is read in full, hold every term within
    reach. Reads are bounded by key equality, in up to three statements, each for the query
    terms the one before left open:

    1. both sides, up to `FIRST_READ` terms each; the smaller side read in full answers;
    2. the suffix side (or, for query terms too short for it, the prefix side) up to
       `EXACT_READ` terms: "ensg0000029v080" reads its 1,300 suffix neighbours, never the
       36,000 Ensembl ids sharing its prefix;
    3. both crowded (a term among hundreds of thousands of terms of similar beginnings and
       endings): up to `TERMS_READ` terms of the prefix side, twice: first those that can be
       one edit away, then all. A term one edit away has a length within one of the query
       term's, and its prefix shares a deletion with the query's prefix that costs at most two
       deletions in all (one on each side for a substitution or a transposition; the cost of
       a pair is known from the lengths: ``len(query prefix) + len(prefix) - 2 *
       len(deletion)``). So a short name among hundreds of thousands of names of similar
       prefixes ("hyidae" in NCBITaxon) is never cut off by the terms two edits away.

    The edit distance is checked here; closest first, then the length nearest to the query
    term's.
    """
    dialect = session.get_bind().dialect.name
    params: dict[str, Any] = {"first": FIRST_READ + 1, "exact": EXACT_READ + 1, "most": TERMS_READ}
    sides: dict[tuple[int, int], str] = {}
    for k, term in enumerate(terms):
        sides[k, 0] = _side_sql(table, k, term, "head", dialect, params)
        if len(term) - MAX_EDITS >= TAIL_FROM:
            sides[k, 1] = _side_sql(table, k, term, "tail", dialect, params)
    read: list[list[str] | None] = [None] * len(terms)

    def settle(asked: Sequence[tuple[int, int]], cap: str, limit: int) -> None:
        """Read the sides `asked`; a query term takes its smallest side read in full."""
        found = _read_sides(session, [(k, side, sides[k, side], cap) for k, side in asked], params)
        for k, side in asked:
            words = found.get((k, side), [])
            if len(words) <= limit and (read[k] is None or len(words) < len(read[k] or ())):
                read[k] = words

    settle(list(sides), "first", FIRST_READ)
    open_ = [k for k in range(len(terms)) if read[k] is None]
    if open_:
        settle([(k, 1 if (k, 1) in sides else 0) for k in open_], "exact", EXACT_READ)
        crowded = [k for k in open_ if read[k] is None]
        if crowded:
            parts = []
            for k in crowded:
                term = terms[k]
                params[f"p{k}"] = len(term[:PREFIX_LENGTH])
                one_edit = f" AND length(d.prefix) + :p{k} <= 2 * length(d.del) + 2"
                tiers = [
                    _side_sql(table, k, term, "head", dialect, params, where_extra=one_edit,
                              edits=1, tier=1),
                    _side_sql(table, k, term, "head", dialect, params, tier=2),
                ]  # fmt: skip
                parts += [(k, tier, sql, "most") for tier, sql in enumerate(tiers)]
            more = _read_sides(session, parts, params)
            for k in crowded:
                read[k] = [*more.get((k, 0), []), *more.get((k, 1), [])]
    found_terms: list[list[tuple[int, str]]] = [[] for _ in terms]
    for k, term in enumerate(terms):
        # one rapidfuzz call per query term: thousands of terms checked in C
        close = process.extract(
            term, set(read[k] or ()), scorer=OSA.distance, score_cutoff=MAX_EDITS, limit=None
        )
        found_terms[k] = [(int(edits), word) for word, edits, _index in close]
        found_terms[k].sort(key=lambda item: (item[0], abs(len(item[1]) - len(term)), item[1]))
    return found_terms


def _equal_rows(session: Any, table: sa.Table, values: Sequence[str], fields: Sequence[str],
                returned: Sequence[str], dialect: str) -> list[Candidate]:  # fmt: skip
    """Return the rows whose short text field equals one of `values`, case-insensitively."""
    found: list[Candidate] = []
    params: dict[str, Any] = {f"v{i}": value for i, value in enumerate(values)}
    params["n"] = CANDIDATES
    names = ", ".join(f":v{i}" for i in range(len(values)))
    for field in prefix_fields(table, fields):
        if field in IDENTIFIER_FIELDS:
            continue  # not in the typo index: no term of it is a value to look up
        column = f"t.{quote(field)}"
        test = f"{column} COLLATE NOCASE" if dialect == "sqlite" else f"lower({column})"
        statement = sa.text(
            f"SELECT t.id, {_select_fields(table, returned)} FROM {quote(table.name)} t "
            f"WHERE {test} IN ({names}) LIMIT :n"
        )
        found += _rows_to_candidates(session.execute(statement, params), returned)
    return found


def _containing_rows(session: Any, table: sa.Table, groups: Sequence[Sequence[str]],
                     fields: Sequence[str], returned: Sequence[str],
                     dialect: str) -> list[Candidate]:  # fmt: skip
    """Return the rows containing a term of the most groups (one group per query term).

    Each group reads at most `ROWS_PER_QUERY_TERM` rows from the trigram index (FTS5 on
    SQLite, GIN on PostgreSQL), so a common word costs no more than a rare one.
    """
    parts = []
    params: dict[str, Any] = {"per": ROWS_PER_QUERY_TERM, "n": TYPO_CANDIDATES}
    if dialect == "sqlite":
        indexed = _indexed_fts_columns(session, table.name)
        fts = quote(fts_table_name(table.name))
        column_filter = "{" + " ".join(fields) + "} : " if set(fields) != set(indexed) else ""
        for k, group in enumerate(groups):
            # each term by its rarest trigrams: a phrase reads the posting list of every
            # trigram it has ("ensg00000297080": "ens", "nsg", "000" are in 36,000 rows each)
            matches = [_substring_expression(session, table.name, t) for t in group]
            params[f"m{k}"] = column_filter + "(" + " OR ".join(f"({m})" for m in matches) + ")"
            parts.append(
                f"SELECT id FROM (SELECT rowid AS id FROM {fts} WHERE {fts} MATCH :m{k} "
                f"LIMIT :per) AS hits"
            )
    else:
        for k, group in enumerate(groups):
            conditions = []
            for i, term in enumerate(group):
                params[f"p{k}_{i}"] = "%" + escape_like(term) + "%"
                conditions += [
                    f"lower(t.{quote(f)}) LIKE :p{k}_{i} ESCAPE '{LIKE_ESCAPE}'" for f in fields
                ]
            parts.append(
                f"SELECT id FROM (SELECT t.id FROM {quote(table.name)} t "
                f"WHERE {' OR '.join(conditions)} LIMIT :per) AS hits"
            )
    statement = sa.text(
        f"WITH hits AS ({' UNION ALL '.join(parts)}), "
        f"best AS (SELECT id, count(*) AS n FROM hits GROUP BY id ORDER BY n DESC, id LIMIT :n) "
        f"SELECT t.id, {_select_fields(table, returned)} FROM best "
        f"JOIN {quote(table.name)} t ON t.id = best.id ORDER BY best.n DESC, best.id"
    )
    return _rows_to_candidates(session.execute(statement, params), returned)


def _too_common(session: Any, table: str, terms: Sequence[str]) -> bool:
    """Whether the rows containing `terms` exceed `CONTAINMENT_BUDGET` (by their rarest trigram).

    A trigram query reads the posting lists of its trigrams in full before any LIMIT applies:
    "lepidoptera" in NCBITaxon (100,000 rows) costs a second, even through its rarest trigrams.
    """
    frequencies = _document_frequencies(session, table, [t for w in terms for t in trigrams(w)])
    if frequencies is None:
        return False
    rows = sum(min(frequencies[t] for t in trigrams(w)) for w in terms if trigrams(w))
    return rows > CONTAINMENT_BUDGET


def typo_candidates(
    session: Any, model: Any, query: str, fields: Sequence[str], returned: Sequence[str]
) -> tuple[list[Candidate], bool]:
    """Return the candidates found through the typo index, and whether one is within reach.

    The flag says that a vocabulary term within `MAX_EDITS` edits of the whole query exists:
    then the closest answers are in hand and the trigram pass is not needed.
    """
    table: sa.Table = model.__table__
    dialect = session.get_bind().dialect.name
    terms = query_terms(query)[-MAX_QUERY_TERMS:]
    if not terms or not _has_typo_index(session, table.name):
        return [], False
    if dialect == "sqlite":
        indexed = _indexed_fts_columns(session, table.name)
        fields = [f for f in fields if f in indexed]
        if not fields:
            return [], False
    similar = similar_terms(session, table.name, terms)
    within_reach = terms[-1] == ascii_lower(query) and bool(similar[-1])
    # the whole query's neighbours first: a short code in a long name ("r2a2") can have
    # hundreds of neighbours that must not crowd out the name itself
    words = sorted(item for group in similar[:-1] for item in group)
    values = list(dict.fromkeys(term for _edits, term in [*similar[-1], *words]))
    found: list[Candidate] = []
    if values:
        values = values[:EQUAL_VALUES]
        found += _equal_rows(session, table, values, fields, returned, dialect)
    groups = []
    for k, group in enumerate(similar):
        if not group or (within_reach and k == len(terms) - 1 and len(terms) > 1):
            continue  # the whole query's neighbours are whole values: found by equality
        fewest = group[0][0]
        chosen = [t for edits, t in group[:TERMS_PER_QUERY_TERM] if edits <= fewest + 1]
        if dialect == "sqlite" and _too_common(session, table.name, chosen):
            continue  # in so many rows that containing it tells nothing (and reading costs)
        groups.append(chosen)
    # identifiers are not in the typo index, nor searched for its terms: their trigrams
    # ("ensg00000...", "ncbitaxon:...") are in nearly every row
    fields = [f for f in fields if f not in IDENTIFIER_FIELDS]
    if groups and fields:
        found += _containing_rows(session, table, groups, fields, returned, dialect)
    return found, within_reach


def fuzzy_candidates(
    session: Any, model: Any, query: str, fields: Sequence[str], returned: Sequence[str]
) -> list[Candidate]:
    """Return candidates for a query with typos (pass 3)."""
    found, within_reach = typo_candidates(session, model, query, fields, returned)
    if within_reach:
        return found
    return found + _trigram_candidates(session, model, query, fields, returned)


def _trigram_candidates(
    session: Any, model: Any, query: str, fields: Sequence[str], returned: Sequence[str]
) -> list[Candidate]:
    """Return the rows sharing the most chunks of the query (trigram index)."""
    table: sa.Table = model.__table__
    dialect = session.get_bind().dialect.name
    chunks = query_chunks(query)
    if not chunks:
        return []
    if dialect == "sqlite":
        indexed = _indexed_fts_columns(session, table.name)
        in_index = [f for f in fields if f in indexed]
        rest = [f for f in fields if f not in indexed]
        found: list[Candidate] = []
        if in_index:
            chosen = _typo_chunks(session, table.name, query)
            found += _fts_chunk_hits(session, table, chosen, in_index, returned, indexed)
        if rest:
            patterns = ["%" + escape_like(chunk) + "%" for chunk in chunks]
            found += _like_pass(session, table, patterns, rest, returned, order_by_length=False)
        return found
    schema = trigram_schema(session.get_bind())
    if schema is not None:
        return _postgres_fuzzy(session, table, query, fields, returned, schema)
    patterns = ["%" + escape_like(chunk) + "%" for chunk in chunks]
    return _like_pass(session, table, patterns, fields, returned, order_by_length=False)
