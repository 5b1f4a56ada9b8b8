"""Typo recall: short names with one or two edits are found through the typo index."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from rapidfuzz.distance import OSA

import lamin_core as ln
import lamin_core.bio as bt
from lamin_core.instance import create_engine
from lamin_core.migrations import alembic_config, upgrade
from lamin_core.search.typos import (
    TAIL_FROM,
    deletes,
    deletes_table,
    tail_deletes,
    terms_of,
    terms_table,
)

# short names of the kinds the issue names: cell types, gene symbols, drug names, tissues
VOCABULARY = [
    "neuron", "hepatocyte", "astrocyte", "monocyte", "platelet", "basophil", "podocyte",
    "oocyte", "keratinocyte", "myoblast", "osteoclast", "pericyte", "tenocyte", "erythroblast",
    "imatinib", "cisplatin", "tamoxifen", "dasatinib", "gefitinib", "sorafenib", "erlotinib",
    "paclitaxel", "docetaxel", "etoposide", "liver", "kidney", "spleen", "thymus",
    "pancreas", "stomach", "bladder", "retina", "cornea", "cochlea", "tonsil", "adrenal",
]  # fmt: skip
EDITS = ("deletion", "insertion", "substitution", "transposition")


def typo(word: str, kind: str, rng: random.Random) -> str:
    """Return `word` with one edit of `kind` at a random inner position."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    i = rng.randrange(1, len(word) - 1)
    if kind == "deletion":
        return word[:i] + word[i + 1 :]
    if kind == "insertion":
        return word[:i] + rng.choice(letters) + word[i:]
    if kind == "substitution":
        return word[:i] + rng.choice(letters.replace(word[i], "")) + word[i + 1 :]
    if word[i] == word[i + 1]:
        i -= 1
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]


def seeded_typos(words: list[str], seed: int = 7) -> list[tuple[str, str, str]]:
    """Return (intended, query, kind): every word with each kind of edit, from a seeded RNG."""
    rng = random.Random(seed)
    cases = []
    for word in words:
        for kind in EDITS:
            query = typo(word, kind, rng)
            if query != word:
                cases.append((word, query, kind))
    return cases


def test_deletions_of_two_strings_within_two_edits_always_meet():
    rng = random.Random(3)
    letters = "abcdefgh"  # a small alphabet makes near-collisions and repeated letters common
    for _ in range(3000):
        word = "".join(rng.choice(letters) for _ in range(rng.randrange(4, 14)))
        query = word
        for kind in rng.sample(EDITS, rng.choice([1, 2])):
            query = typo(query, kind, rng) if len(query) > 3 else query
        if OSA.distance(word, query) <= 2:
            assert deletes(word) & deletes(query), (word, query)


def test_terms_of_a_value_are_its_words_and_its_whole_value():
    assert terms_of("example_datasets/dataset1.h5ad") == {
        "example", "datasets", "dataset1", "h5ad", "example_datasets/dataset1.h5ad",
    }  # fmt: skip
    assert terms_of("B cell") == {"cell", "b cell"}
    assert terms_of("CD8|T-cell surface glycoprotein", is_list=True) >= {
        "surface", "glycoprotein", "t-cell surface glycoprotein",
    }  # fmt: skip
    assert "cd8" not in terms_of("CD8|x", is_list=True)  # shorter than 4 characters


def _save(registry: str, names: list[str]) -> tuple[Any, Callable[[str], list[str]]]:
    """Save one record per name in `registry`; return the registry and a search returning names."""
    if registry == "ULabel":
        ln.ULabel.from_values(names, create=True).save()
        return ln.ULabel, lambda q: [r.name for r in ln.ULabel.search(q, limit=5)]
    if registry == "Feature":
        ln.save([ln.Feature(name=name, dtype="str") for name in names])
        return ln.Feature, lambda q: [r.name for r in ln.Feature.search(q, limit=5)]
    if registry == "CellType":
        ln.save([bt.CellType(name=name, ontology_id=f"CL:{i:07d}") for i, name in enumerate(names)])
        return bt.CellType, lambda q: [r.name for r in bt.CellType.search(q, limit=5)]
    if registry == "Transform":
        for name in names:
            ln.Transform(key=f"pipelines/{name}.py", type="script").save()
        return ln.Transform, lambda q: [
            r.key.split("/")[1][:-3] for r in ln.Transform.search(q, limit=5)
        ]
    if registry == "Artifact":
        for i, name in enumerate(names):
            ln.Artifact.from_df(pd.DataFrame({"x": [i]}), key=f"data/{name}.parquet").save()
        return ln.Artifact, lambda q: [
            r.key.split("/")[1].split(".")[0] for r in ln.Artifact.search(q, limit=5)
        ]
    collection_artifact = ln.Artifact.from_df(pd.DataFrame({"x": [0]}), key="c.parquet").save()
    for name in names:
        ln.Collection([collection_artifact], key=f"collections/{name}").save()
    return ln.Collection, lambda q: [r.key.split("/")[1] for r in ln.Collection.search(q, limit=5)]


@pytest.mark.parametrize(
    "registry", ["ULabel", "Feature", "CellType", "Transform", "Artifact", "Collection"]
)
def test_short_name_typos_find_the_intended_name_first(instance: ln.Instance, registry: str):
    words = VOCABULARY if registry in ("ULabel", "CellType") else VOCABULARY[:12]
    _registry, search = _save(registry, words)
    missed = []
    for intended, query, kind in seeded_typos(words):
        found = search(query)
        if intended not in found[:5]:
            missed.append((query, kind, intended, found))
        elif found[0] != intended and OSA.distance(query, found[0]) >= OSA.distance(
            query, intended
        ):
            # another name may come first only when it is closer to what was typed
            missed.append((query, kind, intended, found))
    assert missed == []


def test_typo_of_a_key_word_finds_the_artifact(instance: ln.Instance):
    ln.Artifact.from_df(pd.DataFrame({"a": [1]}), key="example_datasets/dataset1.parquet").save()
    ln.Artifact.from_df(pd.DataFrame({"a": [2]}), key="raw/sample_sheet.parquet").save()
    keys = [artifact.key for artifact in ln.Artifact.search("datset")]
    assert keys[:1] == ["example_datasets/dataset1.parquet"]


def test_gene_symbols_exact_then_prefix_then_typos(instance: ln.Instance):
    human = bt.Organism(name="human", ontology_id="NCBITaxon:9606").save()
    symbols = ["TP53", "TP63", "TP73", "TP53BP1", "CD8A", "CD8B", "CD8B2", "CD4", "CD84", "PTP4A1"]
    ln.save(
        [
            bt.Gene(symbol=s, ensembl_gene_id=f"ENSG{i:011d}", organism=human)
            for i, s in enumerate(symbols)
        ]
    )
    ln.save([bt.Gene(symbol="CDX8", ensembl_gene_id="ENSG99", synonyms="CD8|X", organism=human)])
    assert [g.symbol for g in bt.Gene.search("tp53")][:2] == ["TP53", "TP53BP1"]
    assert [g.symbol for g in bt.Gene.search("TP35")][:1] == ["TP53"]
    # "CD8" is a synonym of CDX8 (an exact synonym outranks a prefix), then the two symbols
    # it begins, shortest first
    assert [g.symbol for g in bt.Gene.search("CD8")][:3] == ["CDX8", "CD8A", "CD8B"]
    assert [g.symbol for g in bt.Gene.search("cd8a")][:1] == ["CD8A"]


@pytest.mark.parametrize("query", ["n", "ne", "neu"])
def test_queries_of_one_to_three_characters_match_prefixes(instance: ln.Instance, query: str):
    ln.ULabel.from_values(
        ["neuron", "Neutrophil", "monocyte", "ganglion neuron"], create=True
    ).save()
    names = [label.name for label in ln.ULabel.search(query)]
    assert names[:2] == ["neuron", "Neutrophil"]
    assert "monocyte" not in names


def _terms(instance: ln.Instance, table: str) -> set[str]:
    with instance.engine.connect() as connection:
        rows = connection.execute(sa.text(f'SELECT term FROM "{terms_table(table)}"'))
        return {row[0] for row in rows}


def _deletions(instance: ln.Instance, table: str) -> set[tuple[str, str]]:
    with instance.engine.connect() as connection:
        rows = connection.execute(sa.text(f'SELECT del, prefix FROM "{deletes_table(table)}"'))
        return {(row[0], row[1]) for row in rows}


def test_index_follows_inserts_updates_deletes_and_bulk_inserts(instance: ln.Instance):
    label = ln.ULabel(name="Hepatocyte").save()
    ln.ULabel(name="hepatocyte precursor").save()
    assert {"hepatocyte", "precursor", "hepatocyte precursor"} <= _terms(instance, "ulabel")
    assert ("hepto", "hepato") in _deletions(instance, "ulabel")
    label.name = "astrocyte"
    label.save()
    terms = _terms(instance, "ulabel")
    assert "astrocyte" in terms and "hepatocyte" in terms  # still a word of the other label
    assert [r.name for r in ln.ULabel.search("astrocyet")][:1] == ["astrocyte"]
    ln.ULabel.get(name="hepatocyte precursor").delete(permanent=True)
    terms = _terms(instance, "ulabel")
    assert "hepatocyte" not in terms and "precursor" not in terms
    assert not any(prefix == "hepato" for _d, prefix in _deletions(instance, "ulabel"))
    assert ln.ULabel.search("hepatocyet").list() == []
    # a bulk insert through SQLAlchemy core (no ORM events) is indexed by the triggers
    session = instance.session
    rows = [{"uid": f"bulk{i:04d}", "name": f"podocyte {i}"} for i in range(50)]
    user = instance.user_id
    session.execute(sa.insert(ln.ULabel), [row | {"created_by_id": user} for row in rows])
    session.commit()
    assert "podocyte" in _terms(instance, "ulabel")
    assert [r.name for r in ln.ULabel.search("podocyet 7")][:1] == ["podocyte 7"]


def test_sqlite_typo_lookup_uses_the_primary_keys(sqlite_instance: ln.Instance):
    ln.ULabel.from_values(
        ["lymphocyte", "monocyte", "hepatocyte", "ENSG00000297080", "ENSG00000297081"],
        create=True,
    ).save()
    seen: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        seen.append((statement, parameters))

    engine = sqlite_instance.engine
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        assert [r.name for r in ln.ULabel.search("lymfocyte")][:1] == ["lymphocyte"]
        # long enough for the suffix side: both sides are read, each through its index
        assert [r.name for r in ln.ULabel.search("ENSG0000029v080")][:1] == ["ENSG00000297080"]
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    lookups = [(s, p) for s, p in seen if "ulabel_deletes" in s or "COLLATE NOCASE IN" in s]
    assert len(lookups) == 4
    assert sum("ulabel_tail_deletes" in s for s, _p in lookups) == 1
    with engine.connect() as connection:
        for statement, parameters in lookups:
            plan = [
                str(row[-1])
                for row in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
            ]
            # a scan may only read rows already selected: a capped lookup ("near", a
            # co-routine) or the distinct keys a primary-key lookup materialized
            materialized = {step.split()[-1] for step in plan if step.startswith("MATERIALIZE")}
            scans = [s for s in plan if s.startswith("SCAN") and s.split()[1] != "near"]
            assert [s for s in scans if s.split()[1] not in materialized] == [], plan
            assert any("USING" in step and ("INDEX" in step or "KEY" in step) for step in plan)
            if "ulabel_tail_deletes" in statement:
                assert any("ulabel_terms_tail" in step for step in plan), plan


def test_postgres_typo_lookup_uses_the_primary_keys(instance: ln.Instance):
    if instance.engine.dialect.name != "postgresql":
        pytest.skip("EXPLAIN QUERY PLAN is tested on SQLite above")
    ln.ULabel.from_values(["lymphocyte", "monocyte"], create=True).save()
    with instance.engine.connect() as connection:
        connection.exec_driver_sql("SET enable_seqscan = off")  # a tiny table is scanned anyway
        plan = "\n".join(
            row[0]
            for row in connection.execute(
                sa.text(
                    "EXPLAIN SELECT w.term FROM ulabel_deletes d JOIN ulabel_terms w "
                    "ON w.prefix = d.prefix AND w.n BETWEEN 7 AND 11 "
                    "WHERE d.del IN ('lymfoc', 'lymoc')"
                )
            )
        )
    assert "ulabel_deletes_pkey" in plan and "ulabel_terms_pkey" in plan
    assert [r.name for r in ln.ULabel.search("lymfocyte")][:1] == ["lymphocyte"]


def test_postgres_suffix_lookup_uses_its_indexes(instance: ln.Instance):
    if instance.engine.dialect.name != "postgresql":
        pytest.skip("the SQLite plan is tested above")
    ln.ULabel.from_values(["ENSG00000297080", "ENSG00000297081"], create=True).save()
    seen: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        seen.append((statement, parameters))

    sa.event.listen(instance.engine, "before_cursor_execute", record)
    try:
        assert [r.name for r in ln.ULabel.search("ENSG0000029v080")][:1] == ["ENSG00000297080"]
    finally:
        sa.event.remove(instance.engine, "before_cursor_execute", record)
    lookups = [(s, p) for s, p in seen if "ulabel_tail_deletes" in s]
    assert lookups
    with instance.engine.connect() as connection:
        connection.exec_driver_sql("SET enable_seqscan = off")  # as `index_plans` does
        for statement, parameters in lookups:
            plan = "\n".join(
                row[0] for row in connection.exec_driver_sql("EXPLAIN " + statement, parameters)
            )
            assert "ulabel_tail_deletes_pkey" in plan and "ulabel_terms_tail" in plan, plan


def _misspell(word: str, rng: random.Random, edits: int) -> str:
    """Return `word` with `edits` seeded edits of the kinds in turn, anywhere in it."""
    query = word
    for kind in rng.sample(EDITS, edits):
        i = rng.randrange(0, len(query) - 1)
        if kind == "deletion":
            query = query[:i] + query[i + 1 :]
        elif kind == "insertion":
            query = query[:i] + rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") + query[i:]
        elif kind == "substitution":
            query = query[:i] + rng.choice("xyz0123456789".replace(query[i], "")) + query[i + 1 :]
        else:
            query = query[:i] + query[i + 1] + query[i] + query[i + 2 :]
    return query


def _typo_recall(names: list[str], search: Callable[[str], list[str]], seed: int, *,
                 edits: tuple[int, ...]) -> list[Any]:  # fmt: skip
    """Search seeded typos (of each number of `edits`) of 30 of `names`; return the misses a
    ranking could have avoided: the intended name not first though no other name is as close
    to the query, or not among the first five though fewer than five are."""
    rng = random.Random(seed)
    lowered = [name.lower() for name in names]
    missed = []
    for name in rng.sample(names, 30):
        for count in edits:
            query = _misspell(name, rng, count)
            distance = OSA.distance(query.lower(), name.lower())
            if distance > count:
                continue  # two edits on one spot ("hatobi" -> "htaobi" -> "hthaobi")
            rivals = sum(
                OSA.distance(query.lower(), other, score_cutoff=distance) <= distance
                for other in lowered
                if other != name.lower()
            )
            found = search(query)
            if (rivals == 0 and found[:1] != [name]) or (rivals < 5 and name not in found[:5]):
                missed.append((query, name, rivals, found))
    return missed


def test_long_identifier_typos_are_found_among_thousands_sharing_their_prefix(
    instance: ln.Instance,
):
    # 5,000 identifiers with one prefix and one length, more than a side of the lookup reads
    # (EXACT_READ): their prefix selects all of them, their suffix a few
    rng = random.Random(19)
    numbers = rng.sample(range(10**6), 5000)
    names = [f"ENSG00000{number:06d}" for number in numbers]
    ln.save([ln.ULabel(name=name) for name in names])
    search = lambda q: [r.name for r in ln.ULabel.search(q, limit=5)]  # noqa: E731
    assert _typo_recall(names, search, 23, edits=(1, 2)) == []


def test_short_generated_name_typos_are_found(instance: ln.Instance):
    rng = random.Random(29)
    consonants, vowels = "bcdfghklmnprstvz", "aeiou"
    names = sorted(
        {
            "".join(rng.choice(consonants) + rng.choice(vowels) for _ in range(rng.randrange(3, 5)))
            for _ in range(3000)
        }
    )
    ln.save([ln.ULabel(name=name) for name in names])
    # names of 6 or 8 characters: one edit (the ranking allows two from 8 characters)
    search = lambda q: [r.name for r in ln.ULabel.search(q, limit=5)]  # noqa: E731
    assert _typo_recall(names, search, 31, edits=(1,)) == []


def test_migration_0019_indexes_the_suffixes_of_an_existing_catalog(
    tmp_path: Path, empty_db_url: str | None
):
    from alembic import command

    names = ["ENSG00000297080", "ENSG00000297081", "lymphocyte precursor", "neuron"]
    catalog = ln.init(storage=tmp_path / "catalog", db=empty_db_url, user="testuser1")
    ln.ULabel.from_values(names, create=True).save()
    url = empty_db_url or str(catalog.engine.url)
    catalog.close()
    engine = create_engine(url)
    command.downgrade(alembic_config(engine), "0018")  # as a catalog made before 0019 is
    assert "ulabel_tail_deletes" not in sa.inspect(engine).get_table_names()
    upgrade(engine)
    with engine.connect() as connection:
        terms = {row[0] for row in connection.execute(sa.text("SELECT term FROM ulabel_terms"))}
        tails = set(connection.execute(sa.text("SELECT del, suffix FROM ulabel_tail_deletes")))
    engine.dispose()
    expected = {(d, t[-6:]) for t in terms if len(t) >= TAIL_FROM for d in tail_deletes(t)}
    assert tails == expected
    assert ("29780", "297080") in tails
    ln.connect(url, storage=tmp_path / "catalog")
    assert [r.name for r in ln.ULabel.search("ENSG0000029v080")][:1] == ["ENSG00000297080"]
