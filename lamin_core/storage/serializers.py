"""Turning in-memory objects into files and files back into objects, by suffix.

Loaders are registered per suffix so that `Artifact.load()` and the Dagster IO manager share
one table; an unknown suffix gets an error that lists the suffixes that can be loaded.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from lamin_core.errors import ValidationError

Loader = Callable[[Path], Any]

LOADERS: dict[str, Loader] = {}


def register_loader(*suffixes: str) -> Callable[[Loader], Loader]:
    """Register a function that loads files with the given suffixes."""

    def decorate(function: Loader) -> Loader:
        for suffix in suffixes:
            LOADERS[suffix] = function
        return function

    return decorate


@register_loader(".parquet")
def _load_parquet(path: Path) -> Any:
    import pandas as pd

    return pd.read_parquet(path)


@register_loader(".csv", ".csv.gz")
def _load_csv(path: Path) -> Any:
    import pandas as pd

    return pd.read_csv(path)


@register_loader(".tsv", ".tsv.gz")
def _load_tsv(path: Path) -> Any:
    import pandas as pd

    return pd.read_csv(path, sep="\t")


@register_loader(".h5ad")
def _load_h5ad(path: Path) -> Any:
    import anndata as ad

    return ad.read_h5ad(path)


@register_loader(".zarr")
def _load_zarr(path: Path) -> Any:
    import anndata as ad

    return ad.read_zarr(path)


@register_loader(".json")
def _load_json(path: Path) -> Any:
    return json.loads(path.read_text())


@register_loader(".txt", ".md", ".yaml", ".yml")
def _load_text(path: Path) -> Any:
    return path.read_text()


def load_file(path: Path, suffix: str) -> Any:
    """Load a local file by its suffix.

    Raises:
        ValidationError: no loader handles the suffix.
    """
    loader = LOADERS.get(suffix.lower())
    if loader is None:
        raise ValidationError(
            f"Cannot load an artifact with suffix {suffix!r}: loaders exist for "
            f"{', '.join(sorted(LOADERS))}. Use artifact.cache() for a local path or "
            "artifact.open() for a file object."
        )
    return loader(path)


def write_dataframe(df: Any, path: Path | IO[bytes]) -> None:
    """Write a pandas DataFrame as parquet, keeping its index."""
    df.to_parquet(path, engine="pyarrow", compression="snappy")


def write_anndata(adata: Any, path: Path) -> None:
    """Write an AnnData object as h5ad."""
    adata.write_h5ad(path)
