"""Example datasets: the "mini immuno" datasets, small files and in-memory objects.

``mini_immuno`` is the two-dataset example of LaminDB 2.x's guides; the files and frames of the
1.0 guide live in `lamin_core.datasets` and are re-exported here.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from lamin_core.datasets import df_iris, file_fastq, file_jpg_paradisi05
from lamin_core.examples.datasets import mini_immuno

if TYPE_CHECKING:
    import anndata as ad

__all__ = [
    "anndata_with_obs",
    "df_iris",
    "file_fastq",
    "file_jpg_paradisi05",
    "file_mini_csv",
    "mini_immuno",
]

# Four cells of anndata_with_obs: (cell type, its Cell Ontology id, tissue, disease); the last
# cell type is new to the ontology, so curating it needs a decision.
_CELLS = (
    ("T cell", "CL:0000084", "kidney", "chronic kidney disease"),
    ("hematopoietic stem cell", "CL:0000037", "liver", "liver lymphoma"),
    ("hepatocyte", "CL:0000182", "heart", "cardiac ventricle disorder"),
    ("my new cell type", "", "brain", "Alzheimer disease"),
)


def file_mini_csv(in_storage_root: bool = False) -> Path:
    """Write a three-row CSV (one column, ``test``) and return its path.

    Args:
        in_storage_root: Write it into the active catalog's storage root instead of the working
            directory (registering it then keeps it in place).
    """
    folder = Path.cwd()
    if in_storage_root:
        from lamin_core.instance import get_instance

        folder = Path(get_instance().storage_root)
    path = folder / "mini.csv"
    pd.DataFrame({"test": [1, 2, 3]}).to_csv(path, index=False)
    return path


def anndata_with_obs() -> ad.AnnData:
    """Return 40 cells x 100 human genes with cell type, cell type id, tissue and disease in obs.

    The genes are the first 100 Ensembl ids of the shipped human gene table; X is all zeros.
    """
    import anndata as ad

    from lamin_core.bio.public import PublicGenes

    columns = ("cell_type", "cell_type_id", "tissue", "disease")
    obs = pd.DataFrame([dict(zip(columns, cell, strict=True)) for cell in _CELLS * 10])
    obs.index = "obs" + obs.index.astype(str)
    genes = PublicGenes("human").df()["ensembl_gene_id"].head(100)
    return ad.AnnData(
        X=np.zeros((len(obs), len(genes)), dtype=np.float32),
        obs=obs,
        var=pd.DataFrame(index=pd.Index(list(genes))),
    )
