"""A dataset that fails validation, kept apart so the seed pipeline stays green.

Its cell types carry typos ("B cells", "Tcell"), so the blocking `lamin_validation` check fails,
nothing is saved, and the downstream summary never runs: what a reviewer sees in the Dagster UI
when a curator would have rejected the data.
"""

import anndata as ad
import dagster as dg
import pandas as pd

from example_pipelines.seed_guide import (
    DATASET2_SCHEMA,
    permissible_values,
    summarize_cell_types,
)
from lamin_core import datasets
from lamin_dagster import lamin_asset

GROUP = "failing_validation"


@lamin_asset(
    key=["example_datasets", "dataset_with_typos"],
    schema=DATASET2_SCHEMA,
    deps=[permissible_values],
    group_name=GROUP,
    code_version="1",
)
def dataset_with_typos() -> ad.AnnData:
    """The guide's second dataset with misspelled cell types."""
    adata = datasets.small_dataset2(format="anndata")
    adata.obs["cell_type_by_model"] = pd.Categorical(["B cells", "T cell", "Tcell"])
    return adata


@lamin_asset(
    key=["example_datasets", "typo_summary"],
    ins={"dataset_with_typos": dg.AssetIn(key=["example_datasets", "dataset_with_typos"])},
    group_name=GROUP,
)
def typo_summary(dataset_with_typos: ad.AnnData) -> pd.DataFrame:
    """Never materialized: its input fails validation."""
    return summarize_cell_types({"dataset_with_typos": dataset_with_typos})


FAILING_ASSETS = [dataset_with_typos, typo_summary]

failing_validation_job = dg.define_asset_job(
    "failing_validation",
    selection=dg.AssetSelection.groups(GROUP),
    description="Materialize a dataset whose validation fails; the summary below it is skipped.",
)
