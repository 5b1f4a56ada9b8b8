"""Search: ranking tiers on real ontology names, typo tolerance, hostile input, both backends."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import zstandard

import lamin_core as ln
from lamin_core.ids import base62
from lamin_core.search.ranking import normalize, rank
from lamin_core.search.retrieval import fts_phrase, query_chunks
from tests.conftest import shared_data

CL_FILE = "ontologies/CL-ontology-v2026-03-26.json.zst"
NCBITAXON_FILE = "ontologies/NCBITaxon-ontology-v2026-05-13.json.zst"


def read_ontology(relative: str) -> dict[str, dict[str, Any]]:
    path = shared_data(relative)
    with path.open("rb") as handle:
        return json.loads(zstandard.ZstdDecompressor().stream_reader(handle).read())


_LABEL = re.compile(r'"label": ?"((?:[^"\\]|\\.)*)"')


def read_labels(relative: str) -> list[str]:
    """Return every label of a large ontology snapshot (a regex is 3x faster than json.loads)."""
    path = shared_data(relative)
    with path.open("rb") as handle:
        text = zstandard.ZstdDecompressor().stream_reader(handle).read().decode()
    return [json.loads(f'"{m}"') if "\\" in m else m for m in _LABEL.findall(text)]


def insert_rows(model: Any, rows: list[dict[str, Any]]) -> None:
    """Insert rows in bulk (Core insert, so the search triggers run as for any insert)."""
    session = ln.get_instance().session
    for row in rows:
        row.setdefault("uid", base62(model._full_uid_length()))
    session.execute(sa.insert(model), rows)
    session.commit()


def cell_ontology_terms() -> list[dict[str, Any]]:
    terms = read_ontology(CL_FILE)
    seen: set[str] = set()
    rows = []
    for term in terms.values():
        label = term.get("label")
        if not label or term.get("deprecated") or label in seen:
            continue
        seen.add(label)
        rows.append(
            {
                "name": label,
                "dtype": "cat",
                "description": term.get("description"),
                "synonyms": "|".join(term.get("synonyms") or []) or None,
            }
        )
    return rows


@pytest.fixture(scope="session")
def ncbitaxon_subset(pytestconfig: pytest.Config) -> list[str]:
    """Every NCBITaxon label starting with "Homo" plus 5,000 others, cached between runs."""
    cached = pytestconfig.cache.get("lamin_core/ncbitaxon_subset", None)
    if cached:
        return list(cached)
    labels = read_labels(NCBITAXON_FILE)
    homo = sorted({label for label in labels if label.startswith("Homo")})
    others = sorted(set(labels) - set(homo))
    subset = homo + others[:: max(len(others) // 5000, 1)][:5000]
    pytestconfig.cache.set("lamin_core/ncbitaxon_subset", subset)
    return subset


@pytest.fixture
def cell_types(instance: ln.Instance) -> None:
    """Load the Cell Ontology into the Feature registry (name, description, synonyms)."""
    insert_rows(ln.Feature, cell_ontology_terms())


def names(result: Any) -> list[str]:
    return [record.name for record in result]


def test_search_typo_finds_lymphocyte(cell_types: None):
    assert names(ln.Feature.search("lymphocite"))[0] == "lymphocyte"


def test_search_missing_letter_and_transposition(cell_types: None):
    assert names(ln.Feature.search("lymphcyte"))[0] == "lymphocyte"
    assert names(ln.Feature.search("lypmhocyte"))[0] == "lymphocyte"


def test_search_prefix_finds_b_cell_first(cell_types: None):
    assert names(ln.Feature.search("b cel"))[0] == "B cell"


def test_search_is_case_insensitive(cell_types: None):
    assert names(ln.Feature.search("B CELL"))[0] == "B cell"
    assert names(ln.Feature.search("  b   cell "))[0] == "B cell"


def test_search_synonym_finds_the_term(cell_types: None):
    assert names(ln.Feature.search("B lymphocyte"))[0] == "B cell"


def test_search_whole_word_before_prefix_and_substring(cell_types: None):
    result = ln.Feature.search("neuron", limit=50)
    ranked = names(result)
    assert ranked[0] == "neuron"
    scores = [result.scores[record.id] for record in result]
    assert scores == sorted(scores, reverse=True)
    # a name where "neuron" is a word ranks above one where it is only a part of a word
    word = next(n for n in ranked if " neuron" in n.lower())
    part = next((n for n in ranked if "neuronal" in n.lower()), None)
    if part is not None:
        assert ranked.index(word) < ranked.index(part)


def test_search_exact_beats_synonym_beats_prefix_beats_substring(instance: ln.Instance):
    insert_rows(
        ln.Feature,
        [
            {"name": "thymocyte", "dtype": "cat", "synonyms": "T cell precursor|T cell"},
            {"name": "T cell receptor", "dtype": "cat"},
            {"name": "activated T cell", "dtype": "cat"},
            {"name": "T cellular thing", "dtype": "cat"},
            {"name": "T cell", "dtype": "cat"},
            {"name": "mature T cellx", "dtype": "cat"},
        ],
    )
    ranked = names(ln.Feature.search("t cell"))
    assert ranked[:2] == ["T cell", "thymocyte"]
    assert ranked.index("T cell receptor") < ranked.index("T cellular thing")
    assert ranked.index("activated T cell") < ranked.index("T cellular thing")
    assert ranked.index("T cellular thing") < ranked.index("mature T cellx")


def test_search_homo_sapien_finds_homo_sapiens_first(
    instance: ln.Instance, ncbitaxon_subset: list[str]
):
    insert_rows(ln.ULabel, [{"name": label} for label in ncbitaxon_subset])
    assert names(ln.ULabel.search("Homo sapien"))[0] == "Homo sapiens"
    assert names(ln.ULabel.search("homo sapiens"))[0] == "Homo sapiens"
    assert names(ln.ULabel.search("Homo sapeins"))[0] == "Homo sapiens"


def test_search_result_df_has_scores_in_rank_order(cell_types: None):
    result = ln.Feature.search("b cell", limit=5)
    df = result.df()
    assert list(df.columns)[-1] == "score"
    assert len(df) == 5
    assert df["name"].iloc[0] == "B cell" and df["score"].iloc[0] == 100.0
    assert list(df["score"]) == sorted(df["score"], reverse=True)
    assert [r.id for r in result.list()] == list(df.index)
    assert result.first().name == "B cell"


def test_search_result_is_a_queryset(cell_types: None):
    result = ln.Feature.search("b cell", limit=10)
    narrowed = result.filter(name__startswith="B cell,")
    assert all(n.startswith("B cell,") for n in names(narrowed))
    assert result.count() == 10


def test_search_field_restricts_the_fields(cell_types: None):
    by_description = ln.Feature.search("antibody", field="description", limit=5)
    assert all("antibod" in (r.description or "").lower() for r in by_description)
    with pytest.raises(ln.FieldError, match="Did you mean 'description'"):
        ln.Feature.search("x", field="descripton")


def test_search_artifact_by_key(instance: ln.Instance, tmp_path: Path):
    path = tmp_path / "iris.csv"
    path.write_text("a,b\n1,2\n")
    artifact = ln.Artifact(path, key="iris/iris.csv").save()
    assert ln.Artifact.search("iris").first() == artifact
    assert ln.Artifact.search("irris").first() == artifact  # a typo in a short query


def test_search_short_queries_use_exact_and_prefix(instance: ln.Instance):
    ln.ULabel.from_values(["CD4", "CD8A", "C", "XCD"], create=True).save()
    assert names(ln.ULabel.search("c"))[0] == "C"
    assert names(ln.ULabel.search("cd")) == ["CD4", "CD8A"]


@pytest.mark.parametrize(
    "hostile",
    [
        "'; DROP TABLE artifact; --",
        "%",
        "_",
        '"',
        'a"b',
        "AND OR NEAR * ^",
        "NEAR(a b)",
        "{name}: x",
        "name:x*",
        "\\",
        "' OR 1=1 --",
    ],
)
def test_search_treats_syntax_as_data(instance: ln.Instance, hostile: str):
    labels = ["100% pure", "%%", "a_b", "_x", 'say "hi"', "plain", "AND OR NEAR * ^ label"]
    ln.ULabel.from_values(labels, create=True).save()
    result = names(ln.ULabel.search(hostile, limit=None))
    query = normalize(hostile)
    # queries shorter than a trigram match exact values and prefixes, longer ones substrings
    expected = [
        n
        for n in labels
        if (query in n.lower() if len(query) >= 3 else n.lower().startswith(query))
    ]
    for name in expected:
        assert name in result
    if hostile == "%":
        assert result == ["%%"]  # not a wildcard
    if hostile == "_":
        assert result == ["_x"]
    assert ln.ULabel.filter().count() == len(labels)
    session = ln.get_instance().session
    assert session.execute(sa.select(sa.func.count()).select_from(ln.Artifact)).scalar() == 0


@pytest.mark.parametrize("bad", ["", "   ", None, 5])
def test_search_rejects_empty_and_non_strings(instance: ln.Instance, bad: Any):
    with pytest.raises(ln.ValidationError, match="search"):
        ln.ULabel.search(bad)


def test_search_rejects_huge_strings_quickly(instance: ln.Instance):
    with pytest.raises(ln.ValidationError, match="100000 characters"):
        ln.ULabel.search("a" * 100_000)


def test_search_index_follows_inserts_updates_and_deletes(instance: ln.Instance):
    label = ln.ULabel(name="Interferon gamma").save()
    assert names(ln.ULabel.search("interferon")) == ["Interferon gamma"]
    label.name = "IFNG"
    label.save()
    assert names(ln.ULabel.search("interferon")) == []
    assert names(ln.ULabel.search("ifng")) == ["IFNG"]
    label.delete(permanent=True)
    assert names(ln.ULabel.search("ifng")) == []


def test_ranking_is_pure_and_orders_tiers():
    from lamin_core.search.ranking import Candidate

    candidates = [
        Candidate(1, {"name": "B cell receptor", "synonyms": None}),
        Candidate(2, {"name": "B cell", "synonyms": "B lymphocyte"}),
        Candidate(3, {"name": "pro-B cell", "synonyms": None}),
        Candidate(4, {"name": "lymphoblast", "synonyms": "B cell blast"}),
        Candidate(5, {"name": "bacell", "synonyms": None}),
    ]
    ranked = rank("b cell", candidates, primary="name", synonym_fields=["synonyms"])
    assert [id_ for id_, _ in ranked][:3] == [2, 1, 3]
    assert ranked[0][1] == 100.0
    assert ranked[-1][0] == 5  # fuzzy


def test_fts_phrase_quotes_everything():
    assert fts_phrase('a"b') == '"a""b"'
    assert fts_phrase("x OR y*") == '"x OR y*"'


def test_query_chunks_are_four_grams_for_long_queries():
    assert query_chunks("lymphocite")[:3] == ["lymp", "ymph", "mpho"]
    assert query_chunks("irsi") == ["irs", "rsi"]


def test_search_case_sensitive_keeps_only_matches_of_the_same_case(instance: ln.Instance):
    ln.save([ln.ULabel(name=n) for n in ("B cell", "b cell precursor", "Memory B cell", "B-cell")])
    ignoring_case = set(names(ln.ULabel.search("B cell")))
    assert {"B cell", "b cell precursor", "Memory B cell"} <= ignoring_case
    same_case = ln.ULabel.search("B cell", case_sensitive=True)
    assert names(same_case) == ["B cell", "Memory B cell"]  # exact name first
    assert names(ln.ULabel.search("b cell", case_sensitive=True)) == ["b cell precursor"]
    # typo matches need case folding, so a case-sensitive search has none
    assert names(ln.ULabel.search("B cwll", case_sensitive=True)) == []
    assert names(ln.ULabel.search("B cwll"))[0] == "B cell"


def test_search_case_sensitive_on_related_records(instance: ln.Instance):
    parent = ln.ULabel(name="cell types").save()
    children = [ln.ULabel(name=n).save() for n in ("T cell", "t cell like", "NK cell")]
    parent.children.add(*children)
    found = parent.children.search("T cell", case_sensitive=True)
    assert [record.name for record in found] == ["T cell"]


def test_search_none_says_none_cannot_be_searched(instance: ln.Instance):
    with pytest.raises(ValueError, match="Cannot search for None value! Please pass a valid str"):
        ln.ULabel.search(None)  # type: ignore[arg-type]


def test_search_case_sensitive_must_be_a_bool(instance: ln.Instance):
    with pytest.raises(ln.ValidationError, match="case_sensitive must be True or False, got 'yes'"):
        ln.ULabel.search("x", case_sensitive="yes")  # type: ignore[arg-type]
