"""Bio registries on the real shipped ontologies and gene tables, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa

import lamin_core as ln
import lamin_core.bio as bt
from lamin_core.bio import sources
from lamin_core.bio.models import ONTOLOGY_REGISTRIES, CellType


def count(registry: type) -> int:
    return ln.get_instance().session.scalar(sa.select(sa.func.count()).select_from(registry))


def test_from_values_fills_records_from_the_cell_ontology(instance: ln.Instance):
    records = bt.CellType.from_values(["B cell", "T cell"])
    assert [r.ontology_id for r in records] == ["CL:0000236", "CL:0000084"]
    assert records[0].synonyms.split("|") == ["B lymphocyte", "B-cell", "B-lymphocyte"]
    assert records[0].description.startswith("A lymphocyte of B lineage")
    assert all(r.id is None for r in records)  # nothing is written before save()
    assert count(CellType) == 0
    records.save()
    b_cell = bt.CellType.get(name="B cell")
    assert b_cell.source.entity == "bionty.CellType"
    assert b_cell.source.name == "cl" and b_cell.source.version == bt.get_source("CellType").version


def test_save_adds_ancestors_so_parents_and_children_work(instance: ln.Instance):
    bt.CellType.from_values(["B cell", "T cell"]).save()
    b_cell = bt.CellType.get(name="B cell")
    assert [p.name for p in b_cell.parents] == ["lymphocyte of B lineage"]
    lymphocyte = bt.CellType.get(name="lymphocyte")
    assert {"lymphocyte of B lineage", "T cell"} <= {c.name for c in lymphocyte.children}
    ancestors = set(bt.CellType.public().ancestors("CL:0000236").index)
    assert ancestors <= set(bt.CellType.filter().list("ontology_id"))


def test_from_values_maps_synonyms_and_reports_unknown_values(
    sqlite_instance: ln.Instance, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO, logger="lamin_core")
    records = bt.CellType.from_values(["B lymphocyte", "T cell", "unicorn cell"])
    assert [r.name for r in records] == ["B cell", "T cell"]
    assert "matching synonyms: 'B lymphocyte'" in caplog.text
    assert "did not create CellType records for 'unicorn cell'" in caplog.text
    created = bt.CellType.from_values(["unicorn cell"], create=True)
    assert created[0].name == "unicorn cell" and created[0].ontology_id is None


def test_from_values_reuses_existing_records(sqlite_instance: ln.Instance):
    bt.CellType.from_values(["B cell"]).save()
    before = count(CellType)
    again = bt.CellType.from_values(["B cell", "B lymphocyte"])
    assert len(again) == 1 and again[0].id is not None
    again.save()
    assert count(CellType) == before


def test_from_source_by_ontology_id(sqlite_instance: ln.Instance):
    neuron = bt.CellType.from_source(ontology_id="CL:0000540")
    assert neuron is not None and neuron.name == "neuron"
    assert bt.CellType.from_source(ontology_id="CL:9999999") is None
    with pytest.raises(ln.ValidationError, match="takes one field"):
        bt.CellType.from_source(name="neuron", ontology_id="CL:0000540")


@pytest.mark.parametrize(
    ("registry", "value", "ontology_id"),
    [
        (bt.Tissue, "liver", "UBERON:0002107"),
        (bt.Disease, "asthma", "MONDO:0004979"),
        (bt.Phenotype, "male", "PATO:0000384"),
        (bt.Organism, "mouse", "NCBITaxon:10090"),
    ],
)
def test_other_ontologies_fill_records(
    sqlite_instance: ln.Instance, registry: type, value: str, ontology_id: str
):
    records = registry.from_values([value])
    assert records[0].ontology_id == ontology_id
    records.save()
    assert registry.get(name=value).ontology_id == ontology_id


def test_developmental_stage_follows_the_organism(sqlite_instance: ln.Instance):
    mouse = bt.DevelopmentalStage.public(organism="mouse")
    human = bt.DevelopmentalStage.public(organism="human")
    assert (mouse.source.name, human.source.name) == ("mmusdv", "hsapdv")
    name = mouse.df().name.iloc[0]
    records = bt.DevelopmentalStage.from_values([name], organism="mouse").save()
    assert records[0].source.organism == "mouse"


def test_genes_for_human_and_mouse(instance: ln.Instance):
    human = bt.Gene.from_values(["CD8A", "CD4"], field=bt.Gene.symbol, organism="human").save()
    assert [g.ensembl_gene_id for g in human] == ["ENSG00000153563", "ENSG00000010610"]
    assert human[0].organism.name == "human"
    assert human[0].organism.ontology_id == "NCBITaxon:9606"
    mouse = bt.Gene.from_values(["Cd8a"], field=bt.Gene.symbol, organism="Mus musculus").save()
    assert mouse[0].ensembl_gene_id.startswith("ENSMUSG")
    assert mouse[0].organism.name == "mouse"
    assert bt.Gene.validate(["CD8A", "Cd8a"], organism="human").tolist() == [True, False]
    assert bt.Gene.validate(["CD8A", "Cd8a"], organism="mouse").tolist() == [False, True]
    assert {o.name for o in bt.Organism.filter()} == {"human", "mouse"}


def test_gene_needs_a_known_organism(sqlite_instance: ln.Instance):
    with pytest.raises(ln.ValidationError, match="pass organism='human'"):
        bt.Gene.from_values(["CD8A"], field=bt.Gene.symbol)
    with pytest.raises(
        ln.ValidationError, match=r"Unknown organism 'humna'\. Did you mean 'human'"
    ):
        bt.Gene.from_values(["CD8A"], field=bt.Gene.symbol, organism="humna")
    assert count(bt.Gene) == 0


def test_inspect_validate_standardize_against_the_registry(
    instance: ln.Instance, caplog: pytest.LogCaptureFixture
):
    bt.CellType.from_values(["B cell", "T cell"]).save()
    assert bt.CellType.validate(["B cell", "b cell", "neuron"]).tolist() == [True, False, False]
    assert bt.CellType.standardize(["B lymphocyte", "t cell", "B cell", "nerve cell"]) == [
        "B cell", "T cell", "B cell", "neuron",
    ]  # fmt: skip
    assert bt.CellType.standardize(["nerve cell"], public_aware=False) == ["nerve cell"]
    assert bt.CellType.standardize(["B lymphocyte", "B cell"], return_mapper=True) == {
        "B lymphocyte": "B cell"
    }
    caplog.set_level(logging.INFO, logger="lamin_core")
    result = bt.CellType.inspect(["B cell", "B lymphocyte", "neuron", "unicorn"])
    assert result.validated == ["B cell"]
    assert result.non_validated == ["B lymphocyte", "neuron", "unicorn"]  # in input order, as 2.x
    assert result.synonyms_mapper == {"B lymphocyte": "B cell"}
    assert "in the public source: 'neuron'" in caplog.text


def test_public_search_and_lookup(sqlite_instance: ln.Instance):
    public = bt.CellType.public()
    assert public.search("b lymphocyte").name.iloc[0] == "B cell"
    assert public.lookup().t_cell.ontology_id == "CL:0000084"
    assert bt.Gene.public(organism="human").lookup().cd4.ensembl_gene_id == "ENSG00000010610"


def test_registry_search_and_lookup_use_saved_records(sqlite_instance: ln.Instance):
    bt.CellType.from_values(["B cell", "T cell"]).save()
    assert bt.CellType.lookup().b_cell.ontology_id == "CL:0000236"
    assert bt.CellType.search("B lymphocyte").df().name.iloc[0] == "B cell"


def test_duplicate_ontology_id_is_refused_and_nothing_saved(instance: ln.Instance):
    bt.CellType.from_values(["B cell"]).save()
    before = count(CellType)
    with pytest.raises(ln.IntegrityError, match="nothing was saved"):
        bt.CellType(name="my B cell", ontology_id="CL:0000236").save()
    assert count(CellType) == before


def test_sources_registered_once(sqlite_instance: ln.Instance):
    bt.CellType.from_values(["B cell"]).save()
    bt.CellType.from_values(["neuron"]).save()
    sources = bt.Source.filter(entity="bionty.CellType")
    assert sources.count() == 1
    assert sources.one().url.startswith("https://")


def test_artifacts_relate_to_bio_records(sqlite_instance: ln.Instance, tmp_path):
    import pandas as pd

    artifact = ln.Artifact.from_df(pd.DataFrame({"a": [1]}), key="t.parquet").save()
    b_cell = bt.CellType.from_values(["B cell"]).save()[0]
    artifact.labels.add(b_cell)
    assert [c.name for c in ln.Artifact.get(artifact.id).cell_types] == ["B cell"]
    assert ln.Artifact.filter(cell_types__name="B cell").one().id == artifact.id
    assert [a.id for a in b_cell.artifacts] == [artifact.id]


@pytest.mark.parametrize("registry", ONTOLOGY_REGISTRIES, ids=lambda r: r.__name__)
def test_ontology_query_parents_and_children_follow_every_level(
    instance: ln.Instance, registry: Any
):
    top, middle, leaf = (registry(name=n, ontology_id=f"X:{i}").save() for i, n in enumerate("abc"))
    top.children.add(middle)
    middle.children.add(leaf)
    assert sorted(leaf.query_parents().list("name")) == ["a", "b"]
    assert sorted(top.query_children().list("name")) == ["b", "c"]


def test_celltype_from_source_by_name_saves_its_ancestors(instance: ln.Instance, tmp_path: Path):
    b_cell = bt.CellType.from_source(name="B cell")
    assert b_cell.ontology_id == "CL:0000236"
    b_cell.save()
    ancestors = b_cell.query_parents().list("name")
    assert "lymphocyte" in ancestors and "cell" in ancestors
    assert b_cell.name not in ancestors
    drawing = b_cell.view_parents(distance=1, path=tmp_path / "b.dot").read_text()
    assert '"B cell"' in drawing and '"lymphocyte of B lineage"' in drawing
    assert '"cell"' not in drawing  # five levels up, beyond distance=1


@pytest.mark.parametrize("registry", [bt.CellLine, bt.Pathway], ids=lambda r: r.__name__)
def test_registry_without_a_shipped_source_curates_against_the_catalog(
    instance: ln.Instance,
    registry: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
):
    monkeypatch.setattr(sources, "_ADDED", [])
    ln.save([registry(name="HEK293", synonyms="HEK-293"), registry(name="K562")])
    assert registry.validate(["HEK293", "HeLa"]).tolist() == [True, False]
    assert registry.standardize(["HEK-293", "hela"]) == ["HEK293", "hela"]
    with caplog.at_level(logging.INFO, logger="lamin_core"):
        assert [r.name for r in registry.from_values(["K562", "HeLa"])] == ["K562"]
    assert f"bt.add_source(path, entity={registry._entity!r}" in caplog.text
    assert registry.search("hek2").list("name")[0] == "HEK293"
    with pytest.raises(ln.ValidationError, match=f"No {registry._entity} source"):
        registry.public()
    # a file registered for the entity fills records as the shipped ontologies do
    terms = {
        "X:1": {"label": "HeLa", "synonyms": ["Hela cell"], "ancestors": {"X:0": 1}},
        "X:0": {"label": "cell line", "ancestors": {}},
    }
    (tmp_path / "terms.json").write_text(json.dumps(terms))
    bt.add_source(tmp_path / "terms.json", registry._entity, "local", "v1")
    hela = registry.from_values(["Hela cell"]).save()[0]
    assert (hela.name, hela.ontology_id) == ("HeLa", "X:1")
    assert [p.name for p in hela.parents.all()] == ["cell line"]
    artifact = ln.Artifact.from_df(pd.DataFrame({"a": [1]}), key="lines.parquet").save()
    getattr(artifact, registry._plural).add(hela)
    assert registry.filter(artifacts=artifact).list("name") == ["HeLa"]
