"""Offline public sources on the real shipped snapshots: what a curator sees when they use them."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import zstandard

from lamin_core.bio import public, sources
from lamin_core.bio.public import (
    PublicGenes,
    PublicOntology,
    add_source,
    get_source,
    list_sources,
    resolve_organism,
)
from lamin_core.errors import DoesNotExist, StorageError, ValidationError
from tests.conftest import shared_data


@pytest.fixture(autouse=True)
def no_added_sources(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sources added by one test must not leak into the next one."""
    monkeypatch.setattr(sources, "_ADDED", [])


@pytest.fixture(scope="module")
def cell_types() -> PublicOntology:
    return PublicOntology("CellType")


@pytest.fixture(scope="module")
def human_genes() -> PublicGenes:
    return PublicGenes("human")


def test_manifest_lists_every_entity_and_matches_the_shipped_files() -> None:
    sources = list_sources()
    assert set(sources.entity) >= {
        "CellType", "Tissue", "DevelopmentalStage", "Phenotype", "Ethnicity", "Organism", "Gene"
    }  # fmt: skip
    assert set(sources.query("entity == 'Gene'").organism) == {"human", "mouse"}
    assert sources.url.str.startswith(("https://", "ftp://")).all()
    for row in sources.itertuples():
        path = public.DATA_DIR / row.file
        assert hashlib.md5(path.read_bytes()).hexdigest() == row.md5, row.file
    total = sum((public.DATA_DIR / f).stat().st_size for f in sources.file)
    assert total < 5_000_000


@pytest.mark.parametrize(
    ("query", "first", "score"),
    [
        ("B cell", "B cell", 100.0),  # exact name
        ("b CELL", "B cell", 100.0),  # case-insensitive
        ("B lymphocyte", "B cell", 95.0),  # exact synonym
        ("b cel", "B cell", None),  # prefix
        ("lymphocite", "lymphocyte", None),  # typo
    ],
)
def test_search_ranks_the_expected_term_first(
    cell_types: PublicOntology, query: str, first: str, score: float | None
) -> None:
    results = cell_types.search(query)
    assert results.name.iloc[0] == first
    assert results.score.is_monotonic_decreasing
    if score is not None:
        assert results.score.iloc[0] == score


def test_search_ranks_whole_word_above_prefix_above_substring(cell_types: PublicOntology) -> None:
    scores = cell_types.search("neuron", limit=2000).set_index("name").score
    assert scores["neuron"] == 100
    assert scores["sensory neuron"] > scores["neuronal receptor cell"] > scores["interneuron"]


def test_search_typo_returns_lower_scores_than_real_matches(cell_types: PublicOntology) -> None:
    typo = cell_types.search("macrophge", limit=1)
    assert typo.name.iloc[0] == "macrophage"
    assert typo.score.iloc[0] < cell_types.search("macrophage", limit=1).score.iloc[0]


def test_standardize_maps_synonyms_and_case_and_keeps_unknown_values(
    cell_types: PublicOntology,
) -> None:
    values = ["B lymphocyte", "b-cell", "T cell", "nerve cell", "my cell"]
    assert cell_types.standardize(values) == ["B cell", "B cell", "T cell", "neuron", "my cell"]
    assert cell_types.standardize(values, return_mapper=True) == {
        "B lymphocyte": "B cell", "b-cell": "B cell", "nerve cell": "neuron"
    }  # fmt: skip


def test_standardize_ontology_ids_accepts_owl_iri_form(cell_types: PublicOntology) -> None:
    assert cell_types.standardize(["CL_0000236", "cl:0000540"], field="ontology_id") == [
        "CL:0000236",
        "CL:0000540",
    ]


def test_inspect_ontology_reports_synonyms_to_fix(cell_types: PublicOntology) -> None:
    result = cell_types.inspect(["B cell", "B lymphocyte", "T cell", "B cell", "unicorn cell"])
    assert result.validated == ["B cell", "T cell"]
    assert result.non_validated == ["B lymphocyte", "unicorn cell"]
    assert result.synonyms_mapper == {"B lymphocyte": "B cell"}
    assert result.frac_validated == pytest.approx(2 / 4)


def test_validate_human_gene_symbols_is_case_sensitive(human_genes: PublicGenes) -> None:
    validated = human_genes.validate(["CD8A", "CD4", "CD14", "CD38", "Cd8a", "NOTAGENE"])
    assert isinstance(validated, np.ndarray)
    assert validated.tolist() == [True, True, True, True, False, False]


def test_validate_mouse_gene_symbols() -> None:
    mouse = PublicGenes("mouse")
    assert mouse.validate(["Cd8a", "Cd4", "CD8A"]).tolist() == [True, True, False]
    assert mouse.standardize(["CD8A"]) == ["Cd8a"]


def test_validate_many_genes_returns_one_flag_per_value(human_genes: PublicGenes) -> None:
    symbols = human_genes.df().symbol.to_numpy()
    values = np.concatenate([symbols[:59_990], [f"FAKE{i}" for i in range(10)]])
    validated = human_genes.validate(values)
    assert validated.shape == (60_000,)
    assert validated.sum() == 59_990


def test_validate_ensembl_ids(human_genes: PublicGenes) -> None:
    ids = ["ENSG00000010610", "ENSG00000010610.10", "ENSG99999999999"]
    assert human_genes.validate(ids, field="ensembl_gene_id").tolist() == [True, False, False]
    standardized = human_genes.standardize(ids, field="ensembl_gene_id")
    assert standardized == ["ENSG00000010610", "ENSG00000010610", "ENSG99999999999"]


def test_inspect_genes_suggests_case_insensitive_matches(human_genes: PublicGenes) -> None:
    result = human_genes.inspect(["CD4", "cd14", "Cd38", "XYZ1"])
    assert result.validated == ["CD4"]
    assert result.non_validated == ["cd14", "Cd38", "XYZ1"]
    assert result.synonyms_mapper == {"cd14": "CD14", "Cd38": "CD38"}


def test_gene_get_by_symbol_or_id(human_genes: PublicGenes) -> None:
    assert human_genes.get("CD4").ensembl_gene_id == "ENSG00000010610"
    assert human_genes.get("ENSG00000010610").symbol == "CD4"
    with pytest.raises(DoesNotExist, match="Did you mean 'CD44'"):
        human_genes.get("CD44X")


def test_parents_children_and_ancestors_of_b_cell(cell_types: PublicOntology) -> None:
    assert cell_types.parents("CL:0000236").name.tolist() == ["lymphocyte of B lineage"]
    assert "B cell, CD19-positive" in cell_types.children("CL:0000236").name.tolist()
    ancestors = cell_types.ancestors("CL:0000236").set_index("name").distance
    assert ancestors["lymphocyte of B lineage"] == 1
    assert ancestors["lymphocyte"] == 2
    assert ancestors["cell"] == ancestors.max()


def test_deprecated_terms_are_hidden_but_explained(cell_types: PublicOntology) -> None:
    assert "CL:0000044" not in cell_types.df().index
    assert cell_types.df(include_deprecated=True).at["CL:0000044", "deprecated"]
    with pytest.raises(DoesNotExist, match="deprecated; replaced by 'CL:0000051'"):
        cell_types.get("CL:0000044")


def test_df_has_the_documented_columns(cell_types: PublicOntology) -> None:
    df = cell_types.df()
    assert df.index.name == "ontology_id"
    assert list(df.columns) == ["name", "synonyms", "description", "parents"]
    assert df.at["CL:0000236", "synonyms"].split("|") == ["B lymphocyte", "B-cell", "B-lymphocyte"]


def test_lookup_gives_attribute_friendly_names(cell_types: PublicOntology) -> None:
    lookup = cell_types.lookup()
    assert lookup.b_cell.ontology_id == "CL:0000236"
    assert lookup.b_cell_cd19_positive.name == "B cell, CD19-positive"
    assert lookup.dict()["B cell"].ontology_id == "CL:0000236"
    with pytest.raises(AttributeError, match="Did you mean 'b_cell'"):
        _ = lookup.b_cel


def test_lookup_prefixes_digits_and_suffixes_keywords(tmp_path: Path) -> None:
    terms = {
        "X:1": {"label": "10th week stage", "parents": []},
        "X:2": {"label": "class", "parents": []},
        "X:3": {"label": "B-cell", "parents": []},
        "X:4": {"label": "B cell", "parents": []},
    }
    path = tmp_path / "tiny.json.zst"
    path.write_bytes(zstandard.ZstdCompressor().compress(json.dumps(terms).encode()))
    lookup = PublicOntology.from_path(path, entity="CellType", name="tiny", version="1").lookup()
    assert lookup.bt_10th_week_stage.ontology_id == "X:1"
    assert lookup.class_.ontology_id == "X:2"
    assert [r.name for r in lookup.b_cell] == ["B-cell", "B cell"]


def test_gene_lookup_by_symbol(human_genes: PublicGenes) -> None:
    assert human_genes.lookup().cd8a.ensembl_gene_id == "ENSG00000153563"


def test_unknown_organism_suggests_the_closest() -> None:
    with pytest.raises(ValidationError, match=r"Unknown organism 'humn'\. Did you mean 'human'\?"):
        PublicGenes("humn")


@pytest.mark.parametrize(
    ("alias", "name"),
    [("Homo sapiens", "human"), ("mus_musculus", "mouse"), ("NCBITaxon:10116", "rat"),
     ("7955", "zebrafish"), ("Human", "human")],
)  # fmt: skip
def test_resolve_organism_accepts_names_ids_and_scientific_names(alias: str, name: str) -> None:
    assert resolve_organism(alias) == name


def test_unknown_entity_and_field_errors_list_the_choices(cell_types: PublicOntology) -> None:
    with pytest.raises(ValidationError, match=r"Did you mean 'CellType'.*Entities: CellType"):
        PublicOntology("CellTyp")
    with pytest.raises(ValidationError, match="Did you mean 'name'"):
        cell_types.validate(["B cell"], field="nam")


def test_developmental_stage_source_follows_the_organism() -> None:
    assert PublicOntology("DevelopmentalStage", organism="mouse").source.name == "mmusdv"
    assert PublicOntology("DevelopmentalStage", organism="human").source.name == "hsapdv"


def test_missing_file_is_a_storage_error(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="No such source file"):
        add_source(tmp_path / "nope.json.zst", "Disease", "mondo", "v0")


def test_add_gene_table_for_another_species_from_a_path() -> None:
    with pytest.raises(ValidationError, match="No Gene source for organism='rat'"):
        PublicGenes("rat")
    add_source(
        shared_data("genes/genes_rattus_norvegicus.csv.gz"), "Gene", "ensembl", "r114", "rat"
    )
    rat = PublicGenes("rat")
    assert rat.source.version == "r114"
    assert rat.validate(["Cd8a", "CD8A"]).tolist() == [True, False]
    assert list(rat.df().columns) == ["ensembl_gene_id", "symbol", "biotype"]


def test_added_ontology_takes_precedence_over_the_shipped_one() -> None:
    shipped = get_source("CellType")
    upstream = shared_data(f"ontologies/CL-ontology-{shipped.version}.json.zst")
    added = add_source(upstream, "CellType", "cl", "upstream-copy")
    assert get_source("CellType") == added
    assert list_sources().version.iloc[0] == "upstream-copy"
    cell_types = PublicOntology("CellType")
    assert cell_types.source.version == "upstream-copy"
    # the upstream format (ancestor closures) yields the same parents as the stripped snapshot
    assert cell_types.parents("CL:0000236").index.tolist() == ["CL:0000945"]
    assert PublicOntology("CellType", version=shipped.version).source == shipped
