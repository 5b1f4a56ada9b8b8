"""``ln.examples``: the mini immuno datasets and schemas of LaminDB 2.x's guides, made offline."""

from __future__ import annotations

import itertools
from pathlib import Path

import anndata as ad
import pandas as pd
import pytest

import lamin_core as ln

mini_immuno = ln.examples.datasets.mini_immuno
FLAGS = (
    "with_typo",
    "with_cell_type_synonym",
    "with_cell_type_typo",
    "with_gene_typo",
    "with_outdated_gene",
    "with_wrong_subtype",
    "with_index_type_mismatch",
)


@pytest.mark.parametrize("otype", ["DataFrame", "AnnData"])
@pytest.mark.parametrize("symbols", [False, True])
def test_dataset1_has_three_samples_three_genes_and_metadata(otype: str, symbols: bool) -> None:
    data = mini_immuno.get_dataset1(otype=otype, gene_symbols_in_index=symbols)
    genes = ["CD8A", "CD4", "CD14"] if symbols else [
        "ENSG00000153563", "ENSG00000010610", "ENSG00000170458"
    ]  # fmt: skip
    if otype == "DataFrame":
        assert isinstance(data, pd.DataFrame)
        assert list(data.columns[:3]) == genes
        assert list(data.index) == ["sample1", "sample2", "sample3"]
        assert data.attrs["temperature"] == 21.6
        assert data["donor_ethnicity"].iloc[0] == ["Chinese", "Singaporean Chinese"]
    else:
        assert isinstance(data, ad.AnnData)
        assert list(data.var_names) == genes
        assert data.shape == (3, 3)
        assert data.uns["experiment"] == "Experiment 1"
        assert "donor_ethnicity" not in data.obs  # lists cannot be written to h5ad


@pytest.mark.parametrize("flags", [c for n in (1, 2) for c in itertools.combinations(FLAGS, n)])
def test_each_flag_changes_the_dataset_it_names(flags: tuple[str, ...]) -> None:
    clean = mini_immuno.get_dataset1()
    flawed = mini_immuno.get_dataset1(**dict.fromkeys(flags, True))
    assert not clean.equals(flawed) or flags == ("with_outdated_gene",)  # needs with_gene_typo
    expected = {
        "with_typo": lambda df: "IFNJ" in set(df["perturbation"]),
        "with_cell_type_synonym": lambda df: "B-cell" in set(df["cell_type_by_expert"]),
        "with_cell_type_typo": lambda df: (
            "CD8-pos alpha-beta T cell" in set(df["cell_type_by_expert"])
        ),
        "with_gene_typo": lambda df: df.columns[2] in ("GeneTypo", "ENSG00000278198"),
        "with_outdated_gene": lambda df: (
            "with_gene_typo" not in flags or df.columns[2] == "ENSG00000278198"
        ),
        "with_wrong_subtype": lambda df: "ulabel_but_not_perturbation" in set(df["perturbation"]),
        "with_index_type_mismatch": lambda df: 0 in list(df.index),
    }
    for flag in flags:
        assert expected[flag](flawed), flag


def test_dataset2_differs_from_dataset1_in_genes_and_samples() -> None:
    first, second = mini_immuno.get_dataset1(), mini_immuno.get_dataset2()
    assert list(second.columns[:3]) == ["ENSG00000153563", "ENSG00000010610", "ENSG00000004468"]
    assert set(first.index).isdisjoint(second.index)
    assert second.attrs["date_of_study"] == "2025-02-13"
    adata = mini_immuno.get_dataset2(otype="AnnData", with_date_as_iso_string=False)
    assert str(adata.uns["date_of_study"]) == "2025-02-13"


def test_unknown_otype_is_refused_with_the_choices() -> None:
    with pytest.raises(ln.ValidationError, match=r"'MuData'.*'DataFrame' or 'AnnData'"):
        mini_immuno.get_dataset1(otype="MuData")  # type: ignore[arg-type]


def test_file_mini_csv_writes_three_rows_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    path = ln.examples.datasets.file_mini_csv()
    assert path == tmp_path / "mini.csv"
    assert pd.read_csv(path)["test"].tolist() == [1, 2, 3]


def test_anndata_with_obs_uses_shipped_human_gene_ids() -> None:
    adata = ln.examples.datasets.anndata_with_obs()
    assert adata.shape == (40, 100)
    assert all(gene.startswith("ENSG") for gene in adata.var_names)
    assert set(adata.obs["cell_type"]) >= {"T cell", "hepatocyte", "my new cell type"}
