"""Small example datasets: the files and objects of LaminDB's query & search guide.

Everything is generated or shipped with the package; nothing is downloaded. Files are written
into a folder (default: ``$LAMIN_CORE_HOME/datasets``) so they can be registered as artifacts.

Examples:
    >>> from lamin_core import datasets
    >>> ln.Artifact(datasets.file_fastq(), key="raw/my_fastq.fastq").save()
"""

from __future__ import annotations

import gzip
import shutil
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from lamin_core.errors import ValidationError

DATA = files("lamin_core") / "datasets_data"


def _folder(directory: str | Path | None) -> Path:
    from lamin_core.instance import settings_dir

    folder = Path(directory) if directory is not None else settings_dir() / "datasets"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def file_jpg_paradisi05(directory: str | Path | None = None) -> Path:
    """Return the path of a microscopy image of nuclei (JPEG)."""
    target = _folder(directory) / "paradisi05_laminopathic_nuclei.jpg"
    with (DATA / target.name).open("rb") as source, target.open("wb") as out:
        shutil.copyfileobj(source, out)
    return target


def file_fastq(directory: str | Path | None = None) -> Path:
    """Return the path of a tiny gzipped FASTQ file (deterministic bytes, so a stable hash)."""
    target = _folder(directory) / "input.fastq.gz"
    content = b"@r1\nACGTACGTAC\n+\nIIIIIIIIII\n"
    target.write_bytes(gzip.compress(content, mtime=0))
    return target


def df_iris() -> pd.DataFrame:
    """Return Fisher's iris measurements: 150 flowers, 4 measurements and the species."""
    with (DATA / "iris.csv").open("rb") as source:
        return pd.read_csv(source)


def _small_dataset(
    var: list[str],
    obs: dict[str, list[str]],
    uns: dict[str, Any],
    format: Literal["anndata", "df"],
) -> Any:
    index = pd.Index([f"sample{i + 1}" for i in range(len(next(iter(obs.values()))))], name=None)
    values = np.arange(len(index) * len(var), dtype=np.int64).reshape(len(index), len(var)) + 1
    obs_df = pd.DataFrame(
        {name: pd.Categorical(v) if name != "sample_note" else v for name, v in obs.items()},
        index=index,
    )
    if format == "df":
        df = pd.concat([pd.DataFrame(values, index=index, columns=var), obs_df], axis=1)
        df.attrs = dict(uns)
        return df
    if format != "anndata":
        raise ValidationError(f"Unknown format {format!r}: use 'anndata' or 'df'.")
    import anndata as ad

    return ad.AnnData(
        X=values.astype(np.float32), obs=obs_df, var=pd.DataFrame(index=var), uns=dict(uns)
    )


def small_dataset1(format: Literal["anndata", "df"] = "anndata") -> Any:
    """Return the guide's first dataset: 3 cells x CD8A, CD4, CD14, with obs and uns metadata."""
    return _small_dataset(
        ["CD8A", "CD4", "CD14"],
        {
            "cell_medium": ["DMSO", "IFNG", "DMSO"],
            "sample_note": ["was ok", "looks naah", "pretty! 🤩"],
            "cell_type_by_expert": ["B cell", "T cell", "T cell"],
            "cell_type_by_model": ["B cell", "T cell", "T cell"],
        },
        {
            "temperature": 21.6,
            "study": "Candidate marker study 1",
            "date_of_study": "2024-12-01",
            "study_note": "We had a great time performing this study and the results look "
            "compelling.",
        },
        format,
    )


def small_dataset2(format: Literal["anndata", "df"] = "anndata") -> Any:
    """Return the guide's second dataset: 3 cells x CD8A, CD4, CD38, with obs and uns metadata."""
    return _small_dataset(
        ["CD8A", "CD4", "CD38"],
        {
            "cell_medium": ["DMSO", "IFNG", "IFNG"],
            "cell_type_by_model": ["B cell", "T cell", "T cell"],
        },
        {"temperature": 22.6, "study": "Candidate marker study 2", "date_of_study": "2025-02-13"},
        format,
    )
