"""ln.view() and record.describe(): what a user sees of the catalog."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_query_guide import Guide, build_guide_catalog

import lamin_core as ln
from lamin_core.display import describe_text


@pytest.fixture
def guide(instance: ln.Instance, tmp_path: Path) -> Guide:
    return build_guide_catalog(tmp_path, files=False)


def test_view_prints_newest_rows_of_each_registry(guide: Guide, capsys: pytest.CaptureFixture[str]):
    ln.view(limit=2)
    out = capsys.readouterr().out
    assert out.startswith("****************\n* module: core *\n****************\n")
    artifact_section = out.split("\nArtifact\n")[1].split("\n\n")[0]
    assert "example_datasets/dataset2.h5ad" in artifact_section
    assert "raw/my_fastq.fastq.gz" not in artifact_section  # only the 2 newest
    assert "\nCollection\n" not in out  # registries without rows are skipped


def test_view_selected_registries_and_dataframes(guide: Guide, capsys: pytest.CaptureFixture[str]):
    ln.view(registries=["ULabel"])
    out = capsys.readouterr().out
    assert "ULabel" in out and "\nArtifact\n" not in out
    ln.view(ln.Artifact.df(features=True))
    out = capsys.readouterr().out
    assert "cat[ULabel]" in out and "float" in out and "21.6" in out


def test_describe_artifact_shows_provenance_labels_and_features(
    guide: Guide, capsys: pytest.CaptureFixture[str]
):
    dataset2 = guide.artifacts[4]
    dataset2.describe()
    out = capsys.readouterr().out
    assert out.startswith("Artifact 'example_datasets/dataset2.h5ad'")
    for expected in (
        "suffix: .h5ad",
        "size: 22384",
        "hash: hash5",
        "storage: ",
        "run: ",
        "created_by: testuser1",
        "ulabels: Candidate marker study 2, DMSO, IFNG",
        "feature_sets: ",
        "temperature (float): 21.6",
        "study (cat[ULabel]): Candidate marker study 2",
    ):
        assert expected in out, expected


def test_describe_other_records(guide: Guide):
    text = describe_text(guide.labels["DMSO"])
    assert text.startswith("ULabel 'DMSO'")
    assert "artifacts: example_datasets/dataset1.h5ad, example_datasets/dataset2.h5ad" in text
    run_text = describe_text(guide.run)
    assert "transform: registries.ipynb" in run_text
