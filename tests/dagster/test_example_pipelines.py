"""The example pipelines: the seed guide's datasets made by Dagster, and the failing example."""

import os
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

import lamin_core as ln
from example_pipelines import materialize_demo
from example_pipelines.build import build_definitions


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Materialize the demo once for the module (it takes a few seconds)."""
    folder = tmp_path_factory.mktemp("demo")
    storage = folder / "catalog"
    with pytest.MonkeyPatch.context() as patch, dg.instance_for_test() as dagster_instance:
        # module-scoped: set up before the autouse fixture that isolates LAMIN_CORE_HOME
        patch.setenv("LAMIN_CORE_HOME", str(folder / "lamin-home"))
        result = materialize_demo(str(storage), dagster_instance=dagster_instance)
    return {"storage": str(storage), "result": result}


def _artifact(storage: str, key: str) -> tuple[ln.Instance, ln.Artifact]:
    instance = ln.connect(storage=storage, activate=False)
    artifact = instance.session.scalar(
        sa.select(ln.Artifact).where(ln.Artifact.key == key, ln.Artifact.is_latest.is_(True))
    )
    assert artifact is not None, key
    return instance, artifact


def test_demo_stores_the_seed_guide_datasets(demo: dict[str, object]) -> None:
    result = demo["result"]

    assert result.artifact_keys == [
        "images/my_image.jpg",
        "iris/iris_collection.parquet",
        "raw/my_fastq.fastq.gz",
        "example_datasets/dataset1.h5ad",
        "example_datasets/dataset2.h5ad",
        "example_datasets/cell_type_summary.parquet",
        "analysis/cell_type_shares.parquet",
        "reports/dominant_cell_type.parquet",
    ]
    assert result.failed_checks == ["example_datasets/dataset_with_typos:lamin_validation"]


def test_demo_datasets_carry_features_labels_and_lineage(demo: dict[str, object]) -> None:
    instance, dataset1 = _artifact(str(demo["storage"]), "example_datasets/dataset1.h5ad")
    with instance.activate():
        values = dataset1.features.get_values()
        assert values["temperature"] == 21.6
        assert values["study"] == "Candidate marker study 1"
        assert {label.name for label in dataset1.ulabels} >= {"DMSO", "IFNG"}
        _, summary = _artifact(str(demo["storage"]), "example_datasets/cell_type_summary.parquet")
        summary = instance.session.get(ln.Artifact, summary.id)
        assert sorted(a.key for a in summary.run.input_artifacts) == [
            "example_datasets/dataset1.h5ad",
            "example_datasets/dataset2.h5ad",
        ]
        assert [label.name for label in summary.ulabels] == ["derived"]
        table = summary.load()
    counts = {(row.dataset, row.cell_type): row.n_cells for row in table.itertuples()}
    assert counts == {
        ("dataset1", "B cell"): 1,
        ("dataset1", "T cell"): 2,
        ("dataset2", "B cell"): 1,
        ("dataset2", "T cell"): 2,
    }
    assert {"mean_CD4", "mean_CD8A"} <= set(table.columns)
    instance.close()


def test_the_notebook_step_joins_the_seed_pipeline_and_the_report(
    demo: dict[str, object],
) -> None:
    instance, report = _artifact(str(demo["storage"]), "reports/dominant_cell_type.parquet")
    with instance.activate():
        report = instance.session.get(ln.Artifact, report.id)
        (shares,) = report.run.input_artifacts
        assert shares.key == "analysis/cell_type_shares.parquet"
        assert shares.run.transform.key == "cell_type_shares.py"  # the tracked script
        assert [a.key for a in shares.run.input_artifacts] == [
            "example_datasets/cell_type_summary.parquet"
        ]
        assert report.load()["cell_type"].tolist() == ["T cell"]
    instance.close()
    defs = build_definitions(str(demo["storage"]))
    graph = defs.resolve_asset_graph()
    key = dg.AssetKey
    shares_key = key(["analysis", "cell_type_shares"])

    assert graph.get(shares_key).parent_keys == {key(["example_datasets", "cell_type_summary"])}
    assert graph.get(key(["reports", "dominant_cell_type"])).parent_keys == {shares_key}
    assert graph.get(shares_key).tags.get("ULabel/cell_type_shares") == ""
    assert {"dagster/kind/lamin", "dagster/kind/parquet"} <= set(graph.get(shares_key).tags)


def test_the_failing_example_saves_nothing(demo: dict[str, object]) -> None:
    instance = ln.connect(storage=str(demo["storage"]), activate=False)
    keys = set(instance.session.scalars(sa.select(ln.Artifact.key)))

    assert (
        not {"example_datasets/dataset_with_typos.h5ad", "example_datasets/typo_summary.parquet"}
        & keys
    )
    instance.close()


def test_definitions_declare_the_graph_jobs_and_checks(tmp_path: Path) -> None:
    defs = build_definitions(str(tmp_path / "catalog"))
    graph = defs.resolve_asset_graph()
    key = dg.AssetKey

    assert graph.get(key(["example_datasets", "cell_type_summary"])).parent_keys == {
        key(["example_datasets", "dataset1"]),
        key(["example_datasets", "dataset2"]),
    }
    assert key("permissible_values") in graph.get(key(["example_datasets", "dataset1"])).parent_keys
    assert {job.name for job in defs.resolve_all_job_defs()} >= {
        "seed_guide",
        "cell_type_report",
        "failing_validation",
    }
    # before the notebook step ran: a placeholder the report depends on
    shares = graph.get(key(["analysis", "cell_type_shares"]))
    assert "run `make demo`" in (shares.description or "")
    assert graph.get(key(["reports", "dominant_cell_type"])).parent_keys == {shares.key}
    check_keys = {check.asset_key for check in graph.asset_check_keys}
    assert check_keys == {
        key(["example_datasets", "dataset1"]),
        key(["example_datasets", "dataset2"]),
        key(["example_datasets", "dataset_with_typos"]),
    }
    assert (tmp_path / "catalog" / ".lamindb" / "lamin.db").exists()


def test_loading_the_definitions_creates_the_catalog_without_activating_it(
    tmp_path: Path,
) -> None:
    build_definitions(str(tmp_path / "fresh"))
    build_definitions(str(tmp_path / "fresh"))  # an existing catalog is reopened as it is

    assert (tmp_path / "fresh" / ".lamindb" / "lamin.db").exists()
    assert not (Path(os.environ["LAMIN_CORE_HOME"]) / "settings.json").exists()
    with pytest.raises(ln.InstanceError, match="No active catalog"):
        ln.get_instance()
