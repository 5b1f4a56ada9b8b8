"""LaminDB 2.x's guides, run on lamin_core: the tutorial, curation and tracking, on both backends.

The guides come from LaminDB's source distribution (fetch.py extracts them into upstream/docs/,
rewriting only their imports: ``import lamindb as ln`` -> ``import lamin_core as ln``,
``import bionty as bt`` -> ``import lamin_core.bio as bt``). Each runs as the notebook it is: its
cells in order in one namespace, in a fresh catalog, with the notebook's name visible to
``ln.track()`` (as Jupyter makes it visible, through ``JPY_SESSION_NAME``).

A cell that cannot run anywhere but in LaminDB's own set-up (a hosted bucket, a script the
distribution does not ship, ``lamin init``) is in its guide's `Guide.skipped` with why; every other
cell must run, and `Guide.checks` compare what cells produce with what the guide says they do.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from guide import Cell, Outcome, read_cells, run_cell

import lamin_core as ln

Check = Callable[[dict[str, Any], Outcome], None]


@dataclass(frozen=True)
class Skip:
    """A cell the test does not run: the start of its first line (so a changed guide shows), why."""

    starts: str
    why: str


@dataclass(frozen=True)
class Guide:
    """How one guide runs here: the cells left out and the checks after cells."""

    skipped: dict[int, Skip]
    checks: dict[int, Check] = field(default_factory=dict)


HOSTED = "reads LaminDB's public S3 bucket (s3://lamindata): no network in tests"
NOT_SHIPPED = "runs a script of LaminDB's docs folder that the source distribution does not ship"
INIT = "creates the catalog: the test's fresh catalog (SQLite or PostgreSQL) stands for it"
AFTER_SCRIPTS = "reads what the scripts of earlier cells (not shipped) would have saved"


def _frame(*, rows: int | None = None, columns: set[str] | frozenset[str] = frozenset()) -> Check:
    """Check that a cell shows a DataFrame with `rows` rows and at least `columns`."""

    def check(namespace: dict[str, Any], outcome: Outcome) -> None:
        assert isinstance(outcome.value, pd.DataFrame), type(outcome.value)
        assert columns <= set(outcome.value.columns), sorted(outcome.value.columns)
        if rows is not None:
            assert len(outcome.value) == rows, outcome.value

    return check


def _keys(*keys: str) -> Check:
    """Check that a cell shows a DataFrame of artifacts with exactly these keys."""

    def check(namespace: dict[str, Any], outcome: Outcome) -> None:
        assert isinstance(outcome.value, pd.DataFrame), type(outcome.value)
        assert sorted(outcome.value["key"]) == sorted(keys), outcome.value

    return check


def _that(predicate: Callable[[dict[str, Any], Outcome], object], what: str) -> Check:
    def check(namespace: dict[str, Any], outcome: Outcome) -> None:
        assert predicate(namespace, outcome), what

    return check


RNASEQ1 = "my_datasets/rnaseq1.parquet"

TUTORIAL = Guide(
    skipped={
        1: Skip("mkdir mydata && cd mydata", INIT),
        32: Skip("# we use anon=True", HOSTED),
        33: Skip('artifact = ln.Artifact("s3://lamindata', HOSTED),
    },
    checks={
        2: _that(
            lambda ns, out: (
                out.value.transform.key == "tutorial.ipynb"
                and out.value.transform.type == "notebook"
            ),
            "ln.track() registers the notebook tutorial.ipynb",
        ),
        6: _that(lambda ns, out: ns["artifact"].n_observations == 3, "3 rows saved"),
        8: _that(
            lambda ns, out: out.value.drop(columns="donor_ethnicity").equals(
                ns["df"].drop(columns="donor_ethnicity")
            ),
            "load() gives back the DataFrame",
        ),
        9: _that(lambda ns, out: Path(out.value).exists(), "cache() gives a local path"),
        10: _that(
            lambda ns, out: ln.Artifact.get(key=RNASEQ1).description == "My updated description",
            "the restored artifact keeps its description",
        ),
        11: _that(lambda ns, out: out.value.key == "tutorial.ipynb", "the artifact's transform"),
        15: _keys(RNASEQ1),
        17: _keys(RNASEQ1),
        18: _that(
            lambda ns, out: (
                ns["artifact"].records.count() == 0 and ns["artifact"].cell_types.count() == 0
            ),
            "the labels are removed",
        ),
        19: _that(
            lambda ns, out: (
                ns["artifact"].features.get_values()
                == {"temperature": 21.6, "experiment": "My experiment"}
            ),
            "set_values() annotates the artifact",
        ),
        20: _keys(RNASEQ1),
        21: _that(
            lambda ns, out: ns["artifact"].features.get_values()["temperature"] == 22.0,
            "update_values() replaces the temperature",
        ),
        22: _that(
            lambda ns, out: (
                ns["artifact"].features.get_values() == {}
                and not ln.Feature.filter(name__in=["temperature", "experiment"]).exists()
            ),
            "the values are removed and the features in the trash",
        ),
        24: _that(lambda ns, out: "IFNJ" in out.output, "the validation error names IFNJ"),
        25: _frame(rows=2),  # artifact.versions: the first save and the curated one
        27: _frame(columns={"perturbation", "cell_type_by_model"}),
        30: _that(
            lambda ns, out: (
                ns["transform"].key == "tutorial.ipynb"
                and ln.Artifact.filter(transform=ns["transform"]).count() >= 2
            ),
            "the notebook and the artifacts it saved",
        ),
        31: _that(
            lambda ns, out: ln.Transform.search("tutor")[0].key == "tutorial.ipynb",
            "search finds the notebook",
        ),
        37: _that(
            lambda ns, out: out.value["name"].iloc[0] == "gamma-delta T cell",
            "the public ontology's best match",
        ),
        38: _that(
            lambda ns, out: ns["new_cell_state"].parents.to_list("name") == ["neuron"],
            "the new cell state is a neuron",
        ),
        40: _that(
            lambda ns, out: ns["artifact"].schema == ns["anndata_schema"],
            "the AnnData artifact is validated by the composite schema",
        ),
        41: _that(
            lambda ns, out: "my_datasets/my_rnaseq1.h5ad" in set(out.value["key"]),
            "the schemas that contain CD8A lead to the AnnData artifact",
        ),
        44: _that(
            lambda ns, out: Path(out.value).exists() and ns["collection"].artifacts.count() == 1,
            "append() makes a new version (unsaved): the collection keeps its one artifact",
        ),
        46: _that(
            lambda ns, out: out.value.to_list("key") == ["my_datasets/my_rnaseq1.h5ad"],
            "the collection's artifacts in their order",
        ),
    },
)

CURATE = Guide(
    skipped={
        1: Skip("lamin init --modules bionty", INIT),
        **{
            number: Skip(f"python scripts/{script}", NOT_SHIPPED)
            for number, script in (
                (11, "curate_dataframe_external_features.py"),
                (12, "curate_artifact_external_features.py"),
                (13, "curate_dataframe_union_features.py"),
                (15, "curate_anndata_flexible.py"),
                (25, "define_schema_anndata_uns.py"),
                (26, "curate_anndata_uns.py"),
                (27, "curate_mudata.py"),
                (28, "define_schema_spatialdata.py"),
                (29, "curate_spatialdata.py"),
                (30, "curate_soma_experiment.py"),
            )
        },
    },
    checks={
        4: _that(
            lambda ns, out: "B-cell" in out.output and "CD8-pos alpha-beta T cell" in out.output,
            "validation names both non-validated cell types",
        ),
        5: _that(
            lambda ns, out: (
                sorted(out.value["cell_type_by_expert"]) == ["B-cell", "CD8-pos alpha-beta T cell"]
            ),
            "two terms are not validated",
        ),
        6: _that(
            lambda ns, out: list(out.value["cell_type_by_expert"]) == ["CD8-pos alpha-beta T cell"],
            "the synonym is standardized, one term left",
        ),
        7: _that(
            lambda ns, out: out.value.name == "CD8-positive, alpha-beta T cell",
            "the public lookup finds the cell type",
        ),
        10: _that(
            lambda ns, out: (
                ns["artifact"].key == "examples/my_curated_dataset.parquet"
                and ns["artifact"].schema == ns["schema"]
            ),
            "the curated artifact is saved with its schema",
        ),
        22: _that(
            lambda ns, out: ns["artifact"].key == "examples/my_curated_anndata.h5ad",
            "the curated AnnData is saved",
        ),
        23: _that(lambda ns, out: set(out.value) == {"obs", "var.T"}, "a schema per slot"),
    },
)

TRACK = Guide(
    skipped={
        1: Skip("lamin init", INIT),
        5: Skip("python scripts/my_workflow.py", NOT_SHIPPED),
        **dict.fromkeys((6, 7, 8), Skip("", AFTER_SCRIPTS)),
        9: Skip("ln.Run.filter(", AFTER_SCRIPTS),
        10: Skip("python scripts/my_workflow_with_step.py", NOT_SHIPPED),
        **dict.fromkeys(range(11, 17), Skip("subsetted_artifact", AFTER_SCRIPTS)),
        17: Skip("python scripts/my_workflow_with_click.py", NOT_SHIPPED),
        18: Skip("run = ln.Run.filter(", AFTER_SCRIPTS),
        19: Skip("python scripts/run_track_with_params.py", NOT_SHIPPED),
        **dict.fromkeys((20, 21, 22), Skip("", AFTER_SCRIPTS)),
        24: Skip("python scripts/run_track_with_features_and_params.py", NOT_SHIPPED),
        **dict.fromkeys((25, 26), Skip("", AFTER_SCRIPTS)),
        35: Skip("python scripts/run_script_with_step.py", NOT_SHIPPED),
        38: Skip("assert run.params == {", AFTER_SCRIPTS),
    },
    checks={
        3: _keys("sample.fasta"),
        4: _keys("sample.fasta"),
        30: _that(
            lambda ns, out: (
                ns["subsetted_artifact"].run.params
                == {
                    "input_artifact_key": "my_analysis/dataset.parquet",
                    "output_artifact_key": "my_analysis/dataset_subsetted.parquet",
                    "subset_rows": 1,
                    "subset_cols": 2,
                }
            ),
            "the step's run keeps its parameters",
        ),
        31: _that(
            lambda ns, out: (
                ns["subsetted_artifact"].run.params["subset_cols"] == 3
                and ns["subsetted_artifact"].version == "2"
            ),
            "the second call saves a new version with its own parameters",
        ),
        32: _that(
            lambda ns, out: out.value.transform.key.endswith("subset_dataframe"),
            "the step is a transform of its own",
        ),
        34: _keys("my_analysis/dataset_subsetted.parquet"),
    },
)

GUIDES: dict[str, Guide] = {"tutorial.md": TUTORIAL, "curate.md": CURATE, "track.md": TRACK}


def _notebook(path: Path, cells: list[Cell]) -> Path:
    """Write the guide as the .ipynb it is published as (its code cells), for ln.track()."""
    notebook = {
        "cells": [
            {"cell_type": "code", "metadata": {}, "source": cell.code, "outputs": [],
             "execution_count": None}
            for cell in cells if cell.language == "python"
        ],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5,
    }  # fmt: skip
    path.write_text(json.dumps(notebook, indent=1))
    return path


@pytest.mark.parametrize("name", sorted(GUIDES))
def test_guide_runs_and_shows_what_the_guide_shows(
    fetched: None,
    name: str,
    instance: ln.Instance,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    guide = GUIDES[name]
    cells = read_cells(name)
    for number, skip in guide.skipped.items():
        assert cells[number - 1].first_line.startswith(skip.starts), (
            f"{name} cell {number} is now {cells[number - 1].first_line!r}: update its skip"
        )
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    notebook = _notebook(work / name.replace(".md", ".ipynb"), cells)
    monkeypatch.setenv("JPY_SESSION_NAME", str(notebook))
    namespace: dict[str, Any] = {"__name__": "__main__"}
    for cell in cells:
        if cell.number in guide.skipped:
            continue
        assert cell.language == "python" or cell.script() is not None, (
            f"{name} cell {cell.number} ({cell.first_line!r}) runs no fetched script: skip it"
        )
        try:
            outcome = run_cell(cell, namespace, filename=str(notebook))
        except Exception as error:
            raise AssertionError(
                f"{name} cell {cell.number} ({cell.first_line!r}) failed: "
                f"{type(error).__name__}: {error}"
            ) from error
        if cell.number in guide.checks:
            guide.checks[cell.number](namespace, outcome)
