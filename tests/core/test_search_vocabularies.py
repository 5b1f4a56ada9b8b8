"""Search over real vocabularies (../shared/data): short typos, gene symbols, PostgreSQL plans."""

from __future__ import annotations

import csv
import gzip
import random
from typing import Any

import pytest
import sqlalchemy as sa
from rapidfuzz.distance import OSA

import lamin_core as ln
import lamin_core.bio as bt
from lamin_core.instance import create_engine
from lamin_core.migrations import upgrade
from lamin_core.search.ranking import normalize
from tests.conftest import shared_data
from tests.core.test_search import cell_ontology_terms, insert_rows
from tests.core.test_search_typos import EDITS, typo

HUMAN_GENES = "genes/genes_homo_sapiens.csv.gz"


def _rivals(query: str, intended: str, rows: list[dict[str, Any]]) -> int:
    """Count the other terms whose name or synonym is as close to `query` as `intended` is."""
    distance = OSA.distance(normalize(query), normalize(intended))
    count = 0
    for row in rows:
        if row["name"] == intended:
            continue
        values = [row["name"], *(row["synonyms"] or "").split("|")]
        if any(v and OSA.distance(normalize(query), normalize(v)) <= distance for v in values):
            count += 1
    return count


def test_short_cell_ontology_names_with_a_typo_are_found(instance: ln.Instance):
    rows = [
        {"name": row["name"], "synonyms": row["synonyms"], "ontology_id": f"CL:{i:07d}"}
        for i, row in enumerate(cell_ontology_terms())
    ]
    insert_rows(bt.CellType, rows)
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["name"].casefold()] = counts.get(row["name"].casefold(), 0) + 1
    short = sorted(
        r["name"] for r in rows if 5 <= len(r["name"]) <= 9 and counts[r["name"].casefold()] == 1
    )
    rng = random.Random(5)
    missed = []
    for index, intended in enumerate(rng.sample(short, 40)):
        query = typo(intended, EDITS[index % len(EDITS)], rng)
        if normalize(query) == normalize(intended):
            continue
        found = [record.name for record in bt.CellType.search(query, limit=5)]
        if intended not in found:
            missed.append((query, intended, found))
        elif found[0] != intended and _rivals(query, intended, rows) == 0:
            # only a record as close to the query as the intended one may come first
            missed.append((query, intended, found))
    assert missed == []


def _human_gene_symbols(prefixes: tuple[str, ...]) -> list[str]:
    with gzip.open(shared_data(HUMAN_GENES), "rt", newline="") as handle:
        symbols = {row[1] for row in csv.reader(handle) if row[1].startswith(prefixes)}
    return sorted(symbols)


def test_gene_symbols_exact_first_then_typos(instance: ln.Instance):
    human = bt.Organism(name="human", ontology_id="NCBITaxon:9606").save()
    symbols = _human_gene_symbols(("TP", "CD", "PTP"))
    assert {"TP53", "CD8A", "CD8B"} <= set(symbols)
    insert_rows(
        bt.Gene,
        [
            {"symbol": s, "ensembl_gene_id": f"ENSG{i:011d}", "organism_id": human.id}
            for i, s in enumerate(symbols)
        ],
    )

    def search(query: str) -> list[str]:
        return [gene.symbol for gene in bt.Gene.search(query, limit=5)]

    assert search("tp53")[0] == "TP53"
    assert search("TP35")[0] == "TP53"  # a transposition, not one of the TP3x symbols
    assert sorted(search("CD8")[:2]) == ["CD8A", "CD8B"]
    assert search("cd8b")[0] == "CD8B"


def test_postgres_search_statements_read_through_indexes(instance: ln.Instance):
    """Every statement of a search is planned on an index, in the search's own transaction.

    The rows are bulk-inserted and never analysed, as right after a load: the planner then
    prefers a sequential scan with trigram operators, hundreds of milliseconds on real sizes.
    """
    if instance.engine.dialect.name != "postgresql":
        pytest.skip("SQLite plans are tested in test_search_index and test_search_typos")
    names = [f"{word} {i}" for i in range(600) for word in ("lymphocyte", "marker study")]
    insert_rows(ln.ULabel, [{"name": name} for name in names])
    plans: list[tuple[str, str]] = []

    def explain(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        if "ulabel" not in statement or not statement.lstrip().upper().startswith(
            ("SELECT", "WITH")
        ):
            return
        with conn.connection.driver_connection.cursor() as other:  # same transaction
            other.execute("EXPLAIN " + statement, parameters)
            plans.append((statement, "\n".join(row[0] for row in other.fetchall())))

    sa.event.listen(instance.engine, "before_cursor_execute", explain)
    try:
        for query in ("lymfocyte 7", "candidate marker studdy 12", "marker", "ly"):
            assert ln.ULabel.search(query).first() is not None
    finally:
        sa.event.remove(instance.engine, "before_cursor_execute", explain)
    assert any("ulabel_deletes" in statement for statement, _plan in plans)
    scans = [(statement, plan) for statement, plan in plans if "Seq Scan" in plan]
    assert scans == []


def test_postgres_trigram_indexes_keep_a_small_pending_list(instance: ln.Instance):
    """New rows wait in a GIN pending list that every lookup reads: at most 64 kB of them."""
    if instance.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no GIN indexes")
    with instance.engine.connect() as connection:
        options = dict(
            connection.execute(
                sa.text(
                    "SELECT c.relname, array_to_string(c.reloptions, ',') FROM pg_class c "
                    "WHERE c.relname IN ('ix_ulabel_name_trgm', 'ix_celltype_synonyms_trgm') "
                    "AND c.relnamespace = current_schema()::regnamespace"
                )
            ).all()
        )
    assert options == {
        "ix_ulabel_name_trgm": "gin_pending_list_limit=64",
        "ix_celltype_synonyms_trgm": "gin_pending_list_limit=64",
    }


def test_migration_0018_shrinks_the_pending_lists_of_existing_catalogs(postgres_url: str):
    engine = create_engine(postgres_url)
    upgrade(engine, "0017")
    with engine.begin() as connection:  # as a catalog made before 0018 has it
        connection.execute(
            sa.text('ALTER INDEX "ix_ulabel_name_trgm" RESET (gin_pending_list_limit)')
        )
    upgrade(engine)
    with engine.connect() as connection:
        options = connection.execute(
            sa.text(
                "SELECT array_to_string(reloptions, ',') FROM pg_class "
                "WHERE relname = 'ix_ulabel_name_trgm' "
                "AND relnamespace = current_schema()::regnamespace"
            )
        ).scalar()
    engine.dispose()
    assert options == "gin_pending_list_limit=64"
