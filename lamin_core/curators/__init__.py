"""Curators: validate, standardize and save DataFrames and AnnData objects with annotations.

Examples:
    >>> curator = ln.Curator.from_anndata(adata, var_index=bt.Gene.symbol,
    ...     categoricals={"cell_type_by_model": bt.CellType.name}, organism="human")
    >>> curator.validate()
    >>> curator.save_artifact(key="example_datasets/dataset1.h5ad")
"""

from lamin_core.curators.base import BaseCurator, CurateLookup
from lamin_core.curators.formats import AnnDataCurator, Curator, DataFrameCurator, curator_for
from lamin_core.curators.seed_guide import seed_guide_setup

__all__ = [
    "AnnDataCurator",
    "BaseCurator",
    "CurateLookup",
    "Curator",
    "DataFrameCurator",
    "curator_for",
    "seed_guide_setup",
]
