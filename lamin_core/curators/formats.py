"""The concrete curators, for DataFrames and AnnData objects, and the `ln.Curator` factory.

They differ only in where the keys are: a DataFrame's columns, or an AnnData's ``obs`` columns
and ``var`` index, and in how the dataset becomes an artifact; validation, fixing and saving are
`BaseCurator`'s.

Examples:
    >>> curator = ln.Curator.from_df(df, categoricals={"cell_medium": ln.ULabel.name})
    >>> curator.validate()
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from lamin_core.bio.matching import resolve_field
from lamin_core.curators.base import BaseCurator
from lamin_core.curators.keys import index_key
from lamin_core.errors import ValidationError

if TYPE_CHECKING:
    import anndata as ad

    from lamin_core.models import Artifact

__all__ = ["AnnDataCurator", "Curator", "DataFrameCurator"]


class DataFrameCurator(BaseCurator):
    """Validates a DataFrame's column names against features and categorical columns."""

    _slot = "columns"

    def __init__(
        self,
        df: pd.DataFrame,
        categoricals: dict[str, Any] | None = None,
        columns: Any = None,
        organism: str | None = None,
    ) -> None:
        if not isinstance(df, pd.DataFrame):
            raise ValidationError(
                f"Curator.from_df() expects a pandas DataFrame, got {type(df).__name__}."
            )
        super().__init__(df, df, organism)
        self._add_columns(columns, categoricals)

    def _artifact(
        self, key: str | None, description: str | None, revises: Any, run: Any
    ) -> Artifact:
        from lamin_core.models import Artifact

        artifact = Artifact.from_df(
            self._data, key=key, description=description, revises=revises, run=run
        )
        artifact.n_observations = len(self._data)
        return artifact


class AnnDataCurator(BaseCurator):
    """Validates an AnnData's var index, obs column names and categorical obs columns."""

    _slot = "obs"

    def __init__(
        self,
        adata: ad.AnnData,
        var_index: Any = None,
        categoricals: dict[str, Any] | None = None,
        obs_columns: Any = None,
        organism: str | None = None,
    ) -> None:
        import anndata as ad

        if not isinstance(adata, ad.AnnData):
            raise ValidationError(
                f"Curator.from_anndata() expects an AnnData object, got {type(adata).__name__}; "
                "read files first with anndata.read_h5ad(path)."
            )
        super().__init__(adata, adata.obs, organism)
        if var_index is not None:
            registry, field = resolve_field(var_index)
            self._check_organism(registry)
            self._keys["var_index"] = index_key(adata, "var_index", registry, field)
        self._add_columns(obs_columns, categoricals)

    def _artifact(
        self, key: str | None, description: str | None, revises: Any, run: Any
    ) -> Artifact:
        from lamin_core.models import Artifact

        return Artifact.from_anndata(
            self._data, key=key, description=description, revises=revises, run=run
        )


class Curator:
    """Build curators: ``ln.Curator.from_df(...)`` and ``ln.Curator.from_anndata(...)``.

    Examples:
        >>> curator = ln.Curator.from_df(df, categoricals={"cell_medium": ln.ULabel.name})
        >>> if not curator.validate():
        ...     curator.add_new_from("cell_medium")
        >>> curator.save_artifact(key="my_datasets/df.parquet")
    """

    @classmethod
    def from_df(
        cls,
        df: pd.DataFrame,
        categoricals: dict[str, Any] | None = None,
        columns: Any = None,
        organism: str | None = None,
    ) -> DataFrameCurator:
        """Return a curator for a DataFrame.

        Args:
            df: The DataFrame.
            categoricals: Column -> registry field its values must be in (``ln.ULabel.name``,
                ``bt.CellType.name``). Columns that are features with a ``cat[...]`` dtype are
                validated against their dtype's registry without being listed.
            columns: The field column names are validated against; default ``ln.Feature.name``.
            organism: For organism-bound registries (genes): ``"human"``, ``"mouse"``, ...

        Raises:
            ValidationError: a categorical names no column, an unknown organism (with the closest
                match), or a gene field without an organism.
        """
        return DataFrameCurator(df, categoricals=categoricals, columns=columns, organism=organism)

    @classmethod
    def from_anndata(
        cls,
        adata: ad.AnnData,
        var_index: Any = None,
        categoricals: dict[str, Any] | None = None,
        obs_columns: Any = None,
        organism: str | None = None,
    ) -> AnnDataCurator:
        """Return a curator for an AnnData object.

        Args:
            adata: The AnnData object.
            var_index: The field the var index is validated against, e.g. ``bt.Gene.symbol``.
            categoricals: obs column -> registry field.
            obs_columns: The field obs column names are validated against (``ln.Feature.name``).
            organism: ``"human"``, ``"mouse"``, ... (needed for genes).
        """
        return AnnDataCurator(
            adata,
            var_index=var_index,
            categoricals=categoricals,
            obs_columns=obs_columns,
            organism=organism,
        )
