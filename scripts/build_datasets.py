"""Build the example files shipped in lamin_core/datasets_data (run once; output is committed).

- iris.csv: Fisher's iris measurements (public domain), with the species as names.
- paradisi05_laminopathic_nuclei.jpg: a synthetic fluorescence image of nuclei, drawn with a
  fixed seed, standing in for the microscopy image of LaminDB's guide.

Usage: python scripts/build_datasets.py path/to/sklearn/datasets/data/iris.csv
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageFilter

OUT = Path(__file__).resolve().parents[1] / "lamin_core" / "datasets_data"
SPECIES = ["setosa", "versicolor", "virginica"]


def build_iris(source: Path) -> None:
    raw = pd.read_csv(source, skiprows=1, header=None)
    df = pd.DataFrame(
        {
            "sepal_length": raw[0],
            "sepal_width": raw[1],
            "petal_length": raw[2],
            "petal_width": raw[3],
            "iris_organism_name": [SPECIES[i] for i in raw[4]],
        }
    )
    df.to_csv(OUT / "iris.csv", index=False)


def build_image() -> None:
    rng = np.random.default_rng(5)
    height, width = 256, 320
    yy, xx = np.mgrid[0:height, 0:width]
    image = np.zeros((height, width), dtype=float)
    for _ in range(14):
        cy, cx = rng.uniform(20, height - 20), rng.uniform(20, width - 20)
        ry, rx = rng.uniform(12, 24), rng.uniform(12, 24)
        blob = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2
        image += np.clip(1.2 - blob, 0, None) * rng.uniform(0.6, 1.0)
    image += rng.normal(0, 0.04, image.shape)
    gray = np.clip(image / image.max() * 255, 0, 255).astype(np.uint8)
    rgb = np.stack([gray * 0.2, gray * 0.9, gray * 0.3], axis=-1).astype(np.uint8)
    picture = Image.fromarray(rgb).filter(ImageFilter.GaussianBlur(1.2))
    picture.save(OUT / "paradisi05_laminopathic_nuclei.jpg", quality=90)


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    build_iris(Path(sys.argv[1]))
    build_image()
