"""The set-up of LaminDB's "Query & search registries" guide, as one function.

`make demo`, the seed-guide test and the docs all run the same steps: features, labels, and two
AnnData datasets curated against genes, cell types and labels, with their ``uns`` as
dataset-level features. Re-running it on the same catalog reuses what exists.

Examples:
    >>> import lamin_core as ln
    >>> ln.init(storage="./test-registries")
    >>> dataset1, dataset2 = seed_guide_setup()
    >>> ln.Artifact.df(features=True)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa

from lamin_core.errors import ValidationError

if TYPE_CHECKING:
    from lamin_core.models import Artifact

__all__ = ["GUIDE_FEATURES", "seed_guide_setup"]

GUIDE_FEATURES = {
    # observation-level metadata
    "cell_medium": "cat[ULabel]",
    "sample_note": "str",
    "cell_type_by_expert": "cat[bionty.CellType]",
    "cell_type_by_model": "cat[bionty.CellType]",
    # dataset-level metadata
    "temperature": "float",
    "study": "cat[ULabel]",
    "date_of_study": "date",
    "study_note": "str",
}


def _ensure_features() -> None:
    from lamin_core.instance import get_instance
    from lamin_core.models import Feature

    session = get_instance().session
    existing = {
        f.name: f
        for f in session.scalars(sa.select(Feature).where(Feature.name.in_(GUIDE_FEATURES)))
    }
    for name, dtype in GUIDE_FEATURES.items():
        if name not in existing:
            Feature(name=name, dtype=dtype).save()
        elif existing[name].dtype != dtype:
            raise ValidationError(
                f"The catalog has a feature {name!r} with dtype {existing[name].dtype!r}; the "
                f"guide needs {dtype!r}. Use a fresh catalog for the guide."
            )


def seed_guide_setup(*, with_files: bool = False) -> tuple[Artifact, Artifact]:
    """Run the guide's set-up in the active catalog and return its two curated datasets.

    Args:
        with_files: Also register the guide's three raw artifacts first (an image, a FASTQ
            file and the iris table).

    Returns:
        The artifacts ``example_datasets/dataset1.h5ad`` and ``example_datasets/dataset2.h5ad``.

    Raises:
        ValidationError: the catalog has one of the guide's features with another dtype.
    """
    import lamin_core.bio as bt
    from lamin_core import datasets
    from lamin_core.curators.formats import Curator
    from lamin_core.models import Artifact, ULabel

    if with_files:
        Artifact(datasets.file_jpg_paradisi05(), key="images/my_image.jpg").save()
        Artifact(datasets.file_fastq(), key="raw/my_fastq.fastq.gz").save()
        Artifact.from_df(datasets.df_iris(), key="iris/iris_collection.parquet").save()
    _ensure_features()
    # permissible values for categoricals
    ULabel.from_values(["DMSO", "IFNG"], create=True).save()
    ULabel.from_values(["Candidate marker study 1", "Candidate marker study 2"], create=True).save()
    bt.CellType.from_values(["B cell", "T cell"], create=True).save()
    artifacts = []
    for number, loader, categoricals in [
        (1, datasets.small_dataset1, ["cell_medium", "cell_type_by_expert", "cell_type_by_model"]),
        (2, datasets.small_dataset2, ["cell_medium", "cell_type_by_model"]),
    ]:
        adata = loader(format="anndata")
        curator = Curator.from_anndata(
            adata,
            var_index=bt.Gene.symbol,
            categoricals={
                name: ULabel.name if name == "cell_medium" else bt.CellType.name
                for name in categoricals
            },
            organism="human",
        )
        artifact = curator.save_artifact(key=f"example_datasets/dataset{number}.h5ad")
        artifact.features.add_values(adata.uns)
        artifacts.append(artifact)
    return artifacts[0], artifacts[1]
