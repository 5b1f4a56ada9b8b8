"""The set-up of LaminDB's "Query & search registries" guide, run verbatim, on both backends.

One difference from the guide's printed ``df(features=True)`` table is deliberate: there, the
row of dataset2 shows dataset1's ``uns`` values (21.6, 2024-12-01, the study note) and dataset1
shows none, although the guide's own FeatureValue table holds dataset2's 22.6 and 2025-02-13.
Here each dataset shows the values it was annotated with.
"""

from __future__ import annotations

import inspect
import logging
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import lamin_core as ln
import lamin_core.bio as bt
from lamin_core import datasets
from lamin_core.curators.seed_guide import GUIDE_FEATURES, seed_guide_setup

STUDY_NOTE = "We had a great time performing this study and the results look compelling."
GUIDE_MESSAGES = [
    "! indexing datasets with gene symbols can be problematic: "
    "https://docs.lamin.ai/faq/symbol-mapping",
    "• saving validated records of 'var_index'",
    "✓ added 3 records from public with Gene.symbol for \"var_index\": 'CD8A', 'CD4', 'CD14'",
    '✓ "var_index" is validated against Gene.symbol',
    '✓ "cell_medium" is validated against ULabel.name',
    '✓ "cell_type_by_expert" is validated against CellType.name',
    '✓ "cell_type_by_model" is validated against CellType.name',
    "! indexing datasets with gene symbols can be problematic: "
    "https://docs.lamin.ai/faq/symbol-mapping",
    "• saving validated records of 'var_index'",
    "✓ added 1 record from public with Gene.symbol for \"var_index\": 'CD38'",
    '✓ "var_index" is validated against Gene.symbol',
    '✓ "cell_medium" is validated against ULabel.name',
    '✓ "cell_type_by_model" is validated against CellType.name',
]


def run_guide_setup() -> tuple[ln.Artifact, ln.Artifact]:
    """The guide's hidden set-up cell, with lamin_core in place of lamindb and bionty."""
    ln.track("pd7UR7Z8hoTq0000")
    # Create non-curated datasets
    ln.Artifact(datasets.file_jpg_paradisi05(), key="images/my_image.jpg").save()
    ln.Artifact(datasets.file_fastq(), key="raw/my_fastq.fastq").save()
    ln.Artifact.from_df(datasets.df_iris(), key="iris/iris_collection.parquet").save()
    # Create a more complex case
    # observation-level metadata
    ln.Feature(name="cell_medium", dtype="cat[ULabel]").save()
    ln.Feature(name="sample_note", dtype="str").save()
    ln.Feature(name="cell_type_by_expert", dtype="cat[bionty.CellType]").save()
    ln.Feature(name="cell_type_by_model", dtype="cat[bionty.CellType]").save()
    # dataset-level metadata
    ln.Feature(name="temperature", dtype="float").save()
    ln.Feature(name="study", dtype="cat[ULabel]").save()
    ln.Feature(name="date_of_study", dtype="date").save()
    ln.Feature(name="study_note", dtype="str").save()
    ## Permissible values for categoricals
    ln.ULabel.from_values(["DMSO", "IFNG"], create=True).save()
    ln.ULabel.from_values(
        ["Candidate marker study 1", "Candidate marker study 2"], create=True
    ).save()
    bt.CellType.from_values(["B cell", "T cell"], create=True).save()
    # Ingest dataset1
    adata = datasets.small_dataset1(format="anndata")
    curator = ln.Curator.from_anndata(
        adata,
        var_index=bt.Gene.symbol,
        categoricals={
            "cell_medium": ln.ULabel.name,
            "cell_type_by_expert": bt.CellType.name,
            "cell_type_by_model": bt.CellType.name,
        },
        organism="human",
    )
    artifact = curator.save_artifact(key="example_datasets/dataset1.h5ad")
    artifact.features.add_values(adata.uns)
    # Ingest dataset2
    adata2 = datasets.small_dataset2(format="anndata")
    curator = ln.Curator.from_anndata(
        adata2,
        var_index=bt.Gene.symbol,
        categoricals={
            "cell_medium": ln.ULabel.name,
            "cell_type_by_model": bt.CellType.name,
        },
        organism="human",
    )
    artifact2 = curator.save_artifact(key="example_datasets/dataset2.h5ad")
    artifact2.features.add_values(adata2.uns)
    return artifact, artifact2


@pytest.fixture
def guide(
    instance: ln.Instance, caplog: pytest.LogCaptureFixture
) -> tuple[ln.Artifact, ln.Artifact, list[str]]:
    caplog.set_level(logging.INFO, logger="lamin_core.curators")
    artifact, artifact2 = run_guide_setup()
    messages = [r.getMessage() for r in caplog.records if r.name == "lamin_core.curators"]
    return artifact, artifact2, messages


def test_guide_prints_the_guides_messages(guide: tuple[ln.Artifact, ln.Artifact, list[str]]):
    assert guide[2] == GUIDE_MESSAGES


def test_guide_records(guide: tuple[ln.Artifact, ln.Artifact, list[str]]):
    genes = {g.symbol: g.ensembl_gene_id for g in bt.Gene.filter()}
    assert genes == {
        "CD8A": "ENSG00000153563", "CD4": "ENSG00000010610",
        "CD14": "ENSG00000170458", "CD38": "ENSG00000004468",
    }  # fmt: skip
    assert {g.organism.name for g in bt.Gene.filter()} == {"human"}
    assert bt.CellType.get(name="B cell").ontology_id == "CL:0000236"
    assert bt.CellType.get(name="T cell").ontology_id == "CL:0000084"
    assert set(ln.ULabel.filter().list("name")) == {
        "DMSO", "IFNG", "Candidate marker study 1", "Candidate marker study 2",
    }  # fmt: skip
    assert [a.key for a in ln.Artifact.filter().order_by("id")] == [
        "images/my_image.jpg", "raw/my_fastq.fastq", "iris/iris_collection.parquet",
        "example_datasets/dataset1.h5ad", "example_datasets/dataset2.h5ad",
    ]  # fmt: skip
    assert {a.transform.uid for a in ln.Artifact.filter()} == {"pd7UR7Z8hoTq0000"}


def test_guide_feature_sets(guide: tuple[ln.Artifact, ln.Artifact, list[str]]):
    artifact, artifact2, _ = guide
    for dataset, genes, features in [
        (artifact, ["CD8A", "CD4", "CD14"], 4),
        (artifact2, ["CD8A", "CD4", "CD38"], 2),
    ]:
        sets = {fs.itype: fs for fs in dataset.feature_sets}
        assert (sets["bionty.Gene"].n, sets["Feature"].n) == (3, features)
        assert [g.symbol for g in sets["bionty.Gene"].genes] == genes
        assert dataset.n_observations == 3
    obs = next(fs for fs in artifact.feature_sets if fs.itype == "Feature")
    assert [f.name for f in obs.features] == [
        "cell_medium", "sample_note", "cell_type_by_expert", "cell_type_by_model"
    ]  # fmt: skip
    df = ln.Artifact.df(include=["feature_sets__registry"])
    assert df.loc[artifact.id, "feature_sets__registry"] == {"bionty.Gene", "Feature"}


def test_guide_feature_values_and_labels(guide: tuple[ln.Artifact, ln.Artifact, list[str]]):
    artifact, artifact2, _ = guide
    assert artifact.features.get_values() == {
        "cell_medium": ["DMSO", "IFNG"],
        "cell_type_by_expert": ["B cell", "T cell"],
        "cell_type_by_model": ["B cell", "T cell"],
        "temperature": 21.6,
        "study": "Candidate marker study 1",
        "date_of_study": "2024-12-01",
        "study_note": STUDY_NOTE,
    }
    assert artifact2.features.get_values()["temperature"] == 22.6
    assert artifact2.labels.get("cell_medium").list("name") == ["DMSO", "IFNG"]
    assert artifact2.labels.get("cell_type_by_model").list("name") == ["B cell", "T cell"]
    assert artifact2.labels.get("cell_type_by_expert").count() == 0
    df = ln.Artifact.df(include=["ulabels__name", "cell_types__name"])
    assert df.loc[artifact.id, "ulabels__name"] == {"Candidate marker study 1", "DMSO", "IFNG"}
    assert df.loc[artifact2.id, "cell_types__name"] == {"B cell", "T cell"}
    assert df.loc[1, "ulabels__name"] == {None}


def test_guide_features_table(guide: tuple[ln.Artifact, ln.Artifact, list[str]]):
    df = ln.Artifact.df(features=True)
    assert list(df.index) == [5, 4, 3, 2, 1]
    assert list(df.columns) == [
        "uid", "key", "description", "cell_medium", "cell_type_by_expert", "cell_type_by_model",
        "temperature", "study", "date_of_study", "study_note",
    ]  # fmt: skip
    assert df.attrs["feature_dtypes"]["cell_type_by_model"] == "cat[bionty.CellType]"
    expected = {
        5: {"cell_medium": {"DMSO", "IFNG"}, "cell_type_by_expert": None,
            "cell_type_by_model": {"B cell", "T cell"}, "temperature": {22.6},
            "study": {"Candidate marker study 2"}, "date_of_study": {"2025-02-13"},
            "study_note": None},
        4: {"cell_medium": {"DMSO", "IFNG"}, "cell_type_by_expert": {"B cell", "T cell"},
            "cell_type_by_model": {"B cell", "T cell"}, "temperature": {21.6},
            "study": {"Candidate marker study 1"}, "date_of_study": {"2024-12-01"},
            "study_note": {STUDY_NOTE}},
    }  # fmt: skip
    for row, values in expected.items():
        for column, value in values.items():
            cell = df.loc[row, column]
            if value is None:
                assert isinstance(cell, float) and math.isnan(cell), (row, column)
            else:
                assert cell == value, (row, column)
    for row in (1, 2, 3):
        assert df.loc[row, "cell_medium":].isna().all()


def test_guide_queries_by_features(guide: tuple[ln.Artifact, ln.Artifact, list[str]]):
    artifact, artifact2, _ = guide
    assert [a.id for a in ln.Artifact.filter(temperature__gt=21.7)] == [artifact2.id]
    study = ln.ULabel.lookup().candidate_marker_study_1
    assert ln.Artifact.filter(ulabels=study).one().id == artifact.id
    assert ln.Artifact.filter(study="Candidate marker study 1").one().id == artifact.id
    assert ln.Artifact.filter(cell_type_by_expert="T cell").one().id == artifact.id
    assert ln.Artifact.filter(suffix=".h5ad", ulabels=study, size__gt=1e4).count() == 1


def test_seed_guide_setup_function_is_idempotent(sqlite_instance: ln.Instance):
    first = seed_guide_setup(with_files=True)
    counts = (ln.Artifact.filter().count(), bt.Gene.filter().count(), ln.ULabel.filter().count())
    assert [a.key for a in first] == [
        "example_datasets/dataset1.h5ad", "example_datasets/dataset2.h5ad"
    ]  # fmt: skip
    second = seed_guide_setup()
    assert [a.id for a in second] == [a.id for a in first]
    assert (
        ln.Artifact.filter().count(),
        bt.Gene.filter().count(),
        ln.ULabel.filter().count(),
    ) == counts
    assert ln.Artifact.filter(temperature__gt=21.7).one().id == first[1].id


def _guide_as_notebook() -> str:
    """The guide's cells as a top-level script (a notebook exported to .py), then a check."""
    body = inspect.getsource(run_guide_setup).split('"""', 2)[2]
    cells = [line for line in textwrap.dedent(body).splitlines() if not line.startswith("return")]
    return "\n".join(
        [
            "import lamin_core as ln",
            "import lamin_core.bio as bt",
            "from lamin_core import datasets",
            'ln.init(storage="./test-registries")',
            *cells,
            'print("DMSO:", ln.ULabel.get(name="DMSO").uid)',
            "ln.finish()",
        ]
    )


def test_guide_as_notebook_runs_twice_in_the_same_folder(tmp_path: Path):
    script = tmp_path / "guide.py"
    script.write_text(_guide_as_notebook())
    env = {**os.environ, "LAMIN_CORE_HOME": str(tmp_path / "home")}
    runs = [
        subprocess.run(
            [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True
        )
        for _ in range(2)
    ]
    for run in runs:
        assert run.returncode == 0, run.stderr
    first, second = (run.stderr for run in runs)
    assert "→ connected lamindb: " in first
    assert "→ created Transform('pd7UR7Z8hoTq0000'), started Run('" in first
    assert "returning existing" not in first
    assert "→ loaded Transform('pd7UR7Z8hoTq0000'), started Run('" in second
    for name in GUIDE_FEATURES:
        assert f"→ returning existing Feature record with same name: '{name}'" in second
    assert "→ finished Run('" in second
    assert runs[0].stdout == runs[1].stdout  # the same DMSO, not a second one
