"""The datasets of LaminDB's query & search guide, made by a Dagster pipeline.

Raw files (a microscopy image, a FASTQ file) and the iris table are registered as they are; the
guide's two single-cell datasets are validated against the catalog's registries (cell media as
ULabels, cell types and genes against the bundled public ontologies) before they are saved, with
their dataset-level metadata (``adata.uns``) as feature values; a per-cell-type table is derived
from both. The permissible values (features, labels, cell types) are registered by an asset of
their own, as a curator would do once before ingesting data.
"""

from pathlib import Path

import anndata as ad
import dagster as dg
import pandas as pd

import lamin_core as ln
from lamin_core import datasets
from lamin_dagster import LaminResource, lamin_asset

FEATURES = {
    "cell_medium": "cat[ULabel]",
    "sample_note": "str",
    "cell_type_by_expert": "cat[bionty.CellType]",
    "cell_type_by_model": "cat[bionty.CellType]",
    "temperature": "float",
    "study": "cat[ULabel]",
    "date_of_study": "date",
    "study_note": "str",
}
ULABELS = ["DMSO", "IFNG", "Candidate marker study 1", "Candidate marker study 2"]
CELL_TYPES = ["B cell", "T cell"]
GENES = ["CD8A", "CD4", "CD14", "CD38"]

DATASET1_SCHEMA = {
    "categoricals": {
        "cell_medium": "ULabel.name",
        "cell_type_by_expert": "bionty.CellType.name",
        "cell_type_by_model": "bionty.CellType.name",
    },
    "var_index": "bionty.Gene.symbol",
    "organism": "human",
}
DATASET2_SCHEMA = {
    "categoricals": {
        "cell_medium": "ULabel.name",
        "cell_type_by_model": "bionty.CellType.name",
    },
    "var_index": "bionty.Gene.symbol",
    "organism": "human",
}


@lamin_asset(key=["images", "my_image"], group_name="raw", code_version="1", suffix=".jpg")
def my_image() -> Path:
    """A microscopy image of laminopathic nuclei."""
    return datasets.file_jpg_paradisi05()


@lamin_asset(key=["raw", "my_fastq"], group_name="raw", code_version="1", suffix=".fastq.gz")
def my_fastq() -> Path:
    """A tiny gzipped FASTQ file."""
    return datasets.file_fastq()


@lamin_asset(key=["iris", "iris_collection"], group_name="raw", code_version="1")
def iris_collection() -> pd.DataFrame:
    """Fisher's iris measurements."""
    return datasets.df_iris()


@dg.asset(group_name="registries", code_version="1", kinds={"lamin"})
def permissible_values(
    context: dg.AssetExecutionContext, lamin: LaminResource
) -> dg.MaterializeResult:
    """Register the features, labels, cell types and genes the datasets are validated against."""
    import lamin_core.bio as bt

    with lamin.track(context):
        for name, dtype in FEATURES.items():
            if ln.Feature.filter(name=name).one_or_none() is None:
                ln.Feature(name=name, dtype=dtype).save()
        ln.ULabel.from_values(ULABELS, create=True).save()
        bt.CellType.from_values(CELL_TYPES, create=True).save()
        # the genes of both datasets, from the bundled Ensembl table: registered here once, so
        # the two dataset steps (which may run at the same time) only read the Gene registry
        bt.Gene.from_values(GENES, field=bt.Gene.symbol, organism="human").save()
    return dg.MaterializeResult(
        metadata={
            "features": dg.MetadataValue.json(FEATURES),
            "ulabels": dg.MetadataValue.json(ULABELS),
            "cell_types": dg.MetadataValue.json(CELL_TYPES),
            "genes": dg.MetadataValue.json(GENES),
        }
    )


def _with_features(adata: ad.AnnData) -> dg.Output:
    """Return the dataset with its ``uns`` as the feature values to annotate it with."""
    return dg.Output(adata, metadata={"lamin/features": dg.MetadataValue.json(dict(adata.uns))})


@lamin_asset(
    key=["example_datasets", "dataset1"],
    schema=DATASET1_SCHEMA,
    deps=[permissible_values],
    group_name="datasets",
    code_version="1",
    suffix=".h5ad",
)
def dataset1() -> dg.Output:
    """The guide's first dataset: 3 cells x CD8A, CD4, CD14, annotated by an expert and a model."""
    return _with_features(datasets.small_dataset1(format="anndata"))


@lamin_asset(
    key=["example_datasets", "dataset2"],
    schema=DATASET2_SCHEMA,
    deps=[permissible_values],
    group_name="datasets",
    code_version="1",
    suffix=".h5ad",
)
def dataset2() -> dg.Output:
    """The guide's second dataset: 3 cells x CD8A, CD4, CD38, annotated by a model."""
    return _with_features(datasets.small_dataset2(format="anndata"))


def summarize_cell_types(datasets_by_name: dict[str, ad.AnnData]) -> pd.DataFrame:
    """Return cells and mean expression of the shared genes per cell type and dataset."""
    shared = sorted(set.intersection(*(set(a.var_names) for a in datasets_by_name.values())))
    frames = []
    for name, adata in datasets_by_name.items():
        expression = adata[:, shared].to_df()
        expression["cell_type"] = adata.obs["cell_type_by_model"].astype(str).to_numpy()
        grouped = expression.groupby("cell_type")
        table = grouped[shared].mean().add_prefix("mean_")
        table.insert(0, "n_cells", grouped.size())
        table.insert(0, "dataset", name)
        frames.append(table.reset_index())
    return pd.concat(frames, ignore_index=True)


@lamin_asset(
    key=["example_datasets", "cell_type_summary"],
    ins={
        "dataset1": dg.AssetIn(key=["example_datasets", "dataset1"]),
        "dataset2": dg.AssetIn(key=["example_datasets", "dataset2"]),
    },
    group_name="summaries",
    code_version="1",
    labels=["derived"],
)
def cell_type_summary(dataset1: ad.AnnData, dataset2: ad.AnnData) -> pd.DataFrame:
    """Cells and mean CD8A/CD4 expression per cell type in both datasets."""
    return summarize_cell_types({"dataset1": dataset1, "dataset2": dataset2})


SEED_ASSETS = [
    my_image,
    my_fastq,
    iris_collection,
    permissible_values,
    dataset1,
    dataset2,
    cell_type_summary,
]
