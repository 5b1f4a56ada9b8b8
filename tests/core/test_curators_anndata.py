"""AnnData curation: var index against genes (human, mouse), obs categoricals, bad input."""

from __future__ import annotations

import logging

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

import lamin_core as ln
import lamin_core.bio as bt


def table_counts() -> dict[str, int]:
    session = ln.get_instance().session
    return {
        name: session.scalar(sa.select(sa.func.count()).select_from(table))
        for name, table in ln.Artifact.metadata.tables.items()
    }


def make_adata(var: list[str], cell_types: list[str] | None = None) -> ad.AnnData:
    cell_types = cell_types or ["B cell", "T cell", "T cell"]
    obs = pd.DataFrame(
        {"cell_type": pd.Categorical(cell_types)}, index=[f"c{i}" for i in range(len(cell_types))]
    )
    x = np.arange(len(cell_types) * len(var), dtype=np.int32).reshape(len(cell_types), len(var))
    return ad.AnnData(x, obs=obs, var=pd.DataFrame(index=var))


@pytest.fixture
def features(instance: ln.Instance) -> ln.Instance:
    ln.Feature(name="cell_type", dtype="cat[bionty.CellType]").save()
    return instance


def curator_for(adata: ad.AnnData, organism: str = "human") -> ln.curators.AnnDataCurator:  # type: ignore[name-defined]
    return ln.Curator.from_anndata(
        adata,
        var_index=bt.Gene.symbol,
        categoricals={"cell_type": bt.CellType.name},
        organism=organism,
    )


def test_human_genes_come_from_the_public_source_and_form_the_var_feature_set(
    features: ln.Instance, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO, logger="lamin_core")
    adata = make_adata(["CD8A", "CD4", "CD14"])
    curator = curator_for(adata)
    assert curator.validate() is True
    assert "indexing datasets with gene symbols can be problematic" in caplog.text
    assert (
        "✓ added 3 records from public with Gene.symbol for \"var_index\": 'CD8A', 'CD4', 'CD14'"
        in caplog.text
    )
    assert '✓ added 2 records from public with CellType.name for "cell_type"' in caplog.text
    artifact = curator.save_artifact(key="sc/human.h5ad")
    assert artifact.n_observations == 3 and artifact.otype == "AnnData"
    slots = {fs.itype: fs for fs in artifact.feature_sets}
    genes = slots["bionty.Gene"]
    assert (genes.n, genes.dtype) == (3, "int")
    assert [g.symbol for g in genes.genes] == ["CD8A", "CD4", "CD14"]
    assert slots["Feature"].n == 1
    assert sorted(artifact.labels.get("cell_type").list("name")) == ["B cell", "T cell"]
    cd4 = bt.Gene.get(symbol="CD4")
    assert cd4.ensembl_gene_id == "ENSG00000010610" and cd4.organism.name == "human"


def test_mouse_genes_validate_case_sensitively(features: ln.Instance):
    adata = make_adata(["Cd8a", "Cd4", "CD14"])
    curator = curator_for(adata, organism="mouse")
    assert curator.validate() is False
    assert curator.non_validated == {"var_index": ["CD14"]}
    curator.standardize("var_index")
    assert list(adata.var_names) == ["Cd8a", "Cd4", "Cd14"]
    assert curator.validate() is True
    artifact = curator.save_artifact(key="sc/mouse.h5ad")
    genes = next(fs for fs in artifact.feature_sets if fs.itype == "bionty.Gene")
    assert {g.organism.name for g in genes.genes} == {"mouse"}


def test_unknown_gene_fails_and_public_genes_are_not_added(
    features: ln.Instance, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO, logger="lamin_core")
    curator = curator_for(make_adata(["CD8A", "CD4", "NOTAGENE1"]))
    before = table_counts()
    assert curator.validate() is False
    assert curator.non_validated == {"var_index": ["NOTAGENE1"]}
    with pytest.raises(
        ln.ValidationError, match=r'"var_index" \(Gene\.symbol\): 1 term not validated in '
    ):
        curator.save_artifact(key="sc/bad.h5ad")
    assert table_counts() == before


def test_add_new_from_var_index_creates_genes_of_the_organism(features: ln.Instance):
    curator = curator_for(make_adata(["CD8A", "MYGENE"]))
    curator.add_new_from("var_index")
    assert curator.validate() is True
    mine = bt.Gene.get(symbol="MYGENE")
    assert mine.organism.name == "human" and mine.ensembl_gene_id is None


def test_duplicated_var_index_is_reported(features: ln.Instance):
    adata = make_adata(["CD8A", "CD4", "CD8A"])
    curator = curator_for(adata)
    before = table_counts()
    assert curator.validate() is False
    assert curator.non_validated == {"var_index": ["CD8A"]}
    with pytest.raises(ln.ValidationError, match=r"duplicated values \('CD8A'\).*var_names_make"):
        curator.save_artifact(key="sc/dup.h5ad")
    assert table_counts() == before


def test_obs_synonyms_standardize_in_place(features: ln.Instance):
    adata = make_adata(["CD4"], cell_types=["B lymphocyte", "T cell", "B cell"])
    curator = curator_for(adata)
    assert curator.non_validated == {"cell_type": ["B lymphocyte"]}
    curator.standardize("cell_type")
    assert list(adata.obs["cell_type"]) == ["B cell", "T cell", "B cell"]
    assert curator.validate() is True


def test_obs_columns_must_be_features(features: ln.Instance):
    adata = make_adata(["CD4"])
    adata.obs["donor"] = ["d1", "d2", "d3"]
    curator = curator_for(adata)
    assert curator.non_validated == {"columns": ["donor"]}
    curator.add_new_from("columns")
    assert ln.Feature.get(name="donor").dtype == "str"
    assert curator.validate() is True


def test_bad_input(features: ln.Instance):
    with pytest.raises(ln.ValidationError, match="Unknown organism 'martian'"):
        curator_for(make_adata(["CD4"]), organism="martian")
    with pytest.raises(ln.ValidationError, match="Gene records belong to an organism"):
        ln.Curator.from_anndata(make_adata(["CD4"]), var_index=bt.Gene.symbol)
    with pytest.raises(ln.ValidationError, match="expects an AnnData object"):
        ln.Curator.from_anndata(pd.DataFrame(), var_index=bt.Gene.symbol, organism="human")


def test_var_index_by_ensembl_id(features: ln.Instance):
    adata = make_adata(["ENSG00000010610", "ENSG00000153563"])
    curator = ln.Curator.from_anndata(adata, var_index=bt.Gene.ensembl_gene_id, organism="human")
    assert curator.validate() is True
    assert bt.Gene.get(ensembl_gene_id="ENSG00000010610").symbol == "CD4"


def test_two_columns_on_one_registry_add_each_public_record_once(features: ln.Instance):
    ln.Feature(name="cell_type_by_expert", dtype="cat[bionty.CellType]").save()
    adata = make_adata(["CD8A"])
    adata.obs["cell_type_by_expert"] = adata.obs["cell_type"].copy()
    curator = ln.Curator.from_anndata(
        adata,
        var_index=bt.Gene.symbol,
        categoricals={"cell_type": bt.CellType.name, "cell_type_by_expert": bt.CellType.name},
        organism="human",
    )

    assert curator.validate() is True
    names = bt.CellType.filter().list("name")  # with their ancestors
    assert {"B cell", "T cell"} <= set(names) and len(names) == len(set(names))


def test_suggestions_name_the_close_matches_of_a_typo(features: ln.Instance):
    curator = curator_for(make_adata(["CD8A"], ["B cell", "B cels", "T cell"]))

    assert curator.validate() is False
    assert curator.suggestions == {"cell_type": {"B cels": ["B cell"]}}


def test_features_slots_give_the_schema_of_each_slot(features: ln.Instance):
    obs_schema = ln.Schema(features=[ln.Feature.get(name="cell_type")], name="obs").save()
    composite = ln.Schema(otype="AnnData", slots={"obs": obs_schema}).save()
    adata = make_adata(["CD8A", "CD4"])
    artifact = ln.Artifact.from_anndata(adata, key="sc/slots.h5ad", schema=composite).save()
    slots = artifact.features.slots
    assert list(slots) == ["obs"]
    assert slots["obs"] == obs_schema
    assert slots["obs"].features.list("name") == ["cell_type"]
    frame = ln.Artifact.from_dataframe(pd.DataFrame({"cell_type": ["B cell"]}), key="t.parquet")
    frame.save()
    assert frame.features.slots == {}  # saved without a schema


def test_features_slots_of_an_unsaved_artifact_say_save_it(features: ln.Instance):
    artifact = ln.Artifact.from_dataframe(pd.DataFrame({"a": [1]}), key="t.parquet")
    with pytest.raises(ln.ValidationError, match="is not saved; save it before"):
        artifact.features.slots  # noqa: B018


def test_anndata_curator_obs_slot_looks_up_its_keys(features: ln.Instance):
    obs_schema = ln.Schema(features=[ln.Feature.get(name="cell_type")], name="obs").save()
    composite = ln.Schema(otype="AnnData", slots={"obs": obs_schema}).save()
    curator = ln.curators.AnnDataCurator(make_adata(["CD8A"]), composite)
    curator.validate()
    obs = curator.slots["obs"]
    assert obs.cat.lookup()["cell_type"].b_cell.name == "B cell"
    public = obs.cat.lookup(public=True)["cell_type"]
    assert public.cd8_positive_alpha_beta_t_cell.name == "CD8-positive, alpha-beta T cell"
