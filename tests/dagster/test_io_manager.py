"""LaminIOManager: outputs become versioned artifacts, inputs load the exact upstream artifact."""

from pathlib import Path

import anndata as ad
import dagster as dg
import numpy as np
import pandas as pd
import pytest
from dagster_helpers import Catalog, step_error

import lamin_core as ln
from lamin_dagster import LaminIOManager, LaminResource, lamin_asset


def _metadata(result: dg.ExecuteInProcessResult, node: str) -> dict[str, object]:
    materialization = result.asset_materializations_for_node(node)[-1]
    return {key: getattr(value, "value", value) for key, value in materialization.metadata.items()}


def _iris_asset(rows: list[int]) -> dg.AssetsDefinition:
    @dg.asset(name="iris", key_prefix=["raw"], description="Iris measurements.")
    def iris() -> pd.DataFrame:
        return pd.DataFrame({"sepal_length": rows, "species": ["setosa"] * len(rows)})

    return iris


def test_handle_output_saves_dataframe_with_catalog_metadata(
    catalog: Catalog, dagster_instance: dg.DagsterInstance
) -> None:
    result = dg.materialize(
        [_iris_asset([1, 2, 3])], resources=catalog.resources(), instance=dagster_instance
    )

    (artifact,) = catalog.artifacts()
    assert artifact.key == "raw/iris.parquet"
    assert artifact.description == "Iris measurements."
    assert artifact.otype == "DataFrame"
    assert artifact.run is not None and artifact.run.reference.endswith("/raw__iris")
    assert artifact.run.transform.key == "raw/iris"
    metadata = _metadata(result, "raw__iris")
    assert metadata["lamin/uid"] == artifact.uid
    assert metadata["lamin/version"] == "1"
    assert metadata["lamin/hash"] == artifact.hash
    assert metadata["dagster/row_count"] == 3
    schema = metadata["dagster/column_schema"]
    assert [(c.name, c.type) for c in schema.columns] == [
        ("sepal_length", "int64"),
        ("species", "object"),
    ]
    assert metadata["dagster/uri"] == f"file://{artifact.path}"
    assert Path(str(metadata["lamin/path"])).exists()
    pd.testing.assert_frame_equal(
        artifact.load(), pd.DataFrame({"sepal_length": [1, 2, 3], "species": ["setosa"] * 3})
    )


def test_materialize_twice_with_identical_output_reuses_the_artifact(
    catalog: Catalog, dagster_instance: dg.DagsterInstance
) -> None:
    iris = _iris_asset([1, 2, 3])
    first = dg.materialize([iris], resources=catalog.resources(), instance=dagster_instance)
    second = dg.materialize([iris], resources=catalog.resources(), instance=dagster_instance)

    assert len(catalog.artifacts()) == 1
    assert len(catalog.stored_files()) == 1
    assert _metadata(first, "raw__iris")["lamin/uid"] == _metadata(second, "raw__iris")["lamin/uid"]


def test_materialize_with_changed_output_saves_the_next_version(
    catalog: Catalog, dagster_instance: dg.DagsterInstance
) -> None:
    dg.materialize(
        [_iris_asset([1, 2, 3])], resources=catalog.resources(), instance=dagster_instance
    )
    result = dg.materialize(
        [_iris_asset([1, 2, 3, 4])], resources=catalog.resources(), instance=dagster_instance
    )

    first, second = catalog.artifacts()
    assert second.uid[:16] == first.uid[:16] and second.uid != first.uid
    assert (first.version, second.version) == ("1", "2")
    assert (first.is_latest, second.is_latest) == (False, True)
    assert _metadata(result, "raw__iris")["lamin/version"] == "2"
    assert _metadata(result, "raw__iris")["dagster/row_count"] == 4


def _summary_asset() -> dg.AssetsDefinition:
    @dg.asset(ins={"iris": dg.AssetIn(key=["raw", "iris"])})
    def summary(iris: pd.DataFrame) -> pd.DataFrame:
        return iris.groupby("species").agg(n=("sepal_length", "size")).reset_index()

    return summary


def test_load_input_resolves_the_exact_artifact_of_an_earlier_run(
    catalog: Catalog, dagster_instance: dg.DagsterInstance
) -> None:
    dg.materialize(
        [_iris_asset([1, 2, 3])], resources=catalog.resources(), instance=dagster_instance
    )
    (upstream,) = catalog.artifacts()
    # a newer version of the same key, saved outside Dagster: not what Dagster materialized
    with catalog.instance.activate():
        ln.Artifact.from_df(pd.DataFrame({"other": [0]}), key="raw/iris.parquet").save()

    result = dg.materialize(
        [_summary_asset(), _iris_asset([9])],
        selection=["summary"],
        resources=catalog.resources(),
        instance=dagster_instance,
    )

    summary = catalog.artifacts(key="summary.parquet")[0]
    assert summary.load()["n"].tolist() == [3]
    assert [a.uid for a in summary.run.input_artifacts] == [upstream.uid]
    loaded = [
        event
        for event in result.all_events
        if event.event_type_value == "LOADED_INPUT" and event.step_key == "summary"
    ]
    assert loaded and "lamin/uid" in str(loaded[0].event_specific_data.metadata)


def test_load_input_follows_a_rematerialized_upstream(
    sqlite_catalog: Catalog, dagster_instance: dg.DagsterInstance
) -> None:
    resources = sqlite_catalog.resources()
    dg.materialize(
        [_iris_asset([1, 2, 3]), _summary_asset()], resources=resources, instance=dagster_instance
    )
    dg.materialize([_iris_asset([1, 2, 3, 4, 5])], resources=resources, instance=dagster_instance)
    dg.materialize(
        [_summary_asset(), _iris_asset([0])],
        selection=["summary"],
        resources=resources,
        instance=dagster_instance,
    )

    latest = sqlite_catalog.artifacts(key="summary.parquet", is_latest=True)[0]
    assert latest.load()["n"].tolist() == [5]
    (iris_v2,) = sqlite_catalog.artifacts(key="raw/iris.parquet", version="2")
    assert [a.uid for a in latest.run.input_artifacts] == [iris_v2.uid]


def test_load_input_of_unmaterialized_upstream_names_the_asset(
    sqlite_catalog: Catalog, dagster_instance: dg.DagsterInstance
) -> None:
    result = dg.materialize(
        [_summary_asset(), _iris_asset([1])],
        selection=["summary"],
        resources=sqlite_catalog.resources(),
        instance=dagster_instance,
        raise_on_error=False,
    )

    assert not result.success
    message = step_error(result)
    assert "asset 'raw/iris'" in message and "never been materialized" in message
    assert sqlite_catalog.artifacts() == []


PARTITIONS = dg.StaticPartitionsDefinition(["north", "south"])


@dg.asset(partitions_def=PARTITIONS)
def counts(context: dg.AssetExecutionContext) -> pd.DataFrame:
    size = {"north": 2, "south": 3}[context.partition_key]
    return pd.DataFrame({"site": [context.partition_key] * size, "n": range(size)})


@dg.asset
def all_counts(counts: dict[str, pd.DataFrame]) -> pd.DataFrame:
    return pd.concat(counts.values(), ignore_index=True)


@dg.asset(partitions_def=PARTITIONS)
def doubled(counts: pd.DataFrame) -> pd.DataFrame:
    return counts.assign(n=counts["n"] * 2)


def test_partitions_are_artifacts_per_partition_and_load_as_a_dict(
    sqlite_catalog: Catalog, dagster_instance: dg.DagsterInstance
) -> None:
    resources = sqlite_catalog.resources()
    north = dg.materialize(
        [counts], partition_key="north", resources=resources, instance=dagster_instance
    )
    dg.materialize([counts], partition_key="south", resources=resources, instance=dagster_instance)
    dg.materialize(
        [counts, all_counts],
        selection=["all_counts"],
        resources=resources,
        instance=dagster_instance,
    )
    dg.materialize(
        [counts, doubled],
        selection=["doubled"],
        partition_key="south",
        resources=resources,
        instance=dagster_instance,
    )

    keys = [a.key for a in sqlite_catalog.artifacts()]
    assert keys == [
        "counts/north.parquet",
        "counts/south.parquet",
        "all_counts.parquet",
        "doubled/south.parquet",
    ]
    metadata = _metadata(north, "counts")
    assert metadata["dagster/partition_row_count"] == 2 and "dagster/row_count" not in metadata
    (all_artifact,) = sqlite_catalog.artifacts(key="all_counts.parquet")
    assert sorted(all_artifact.load()["site"]) == ["north"] * 2 + ["south"] * 3
    assert sorted(a.key for a in all_artifact.run.input_artifacts) == [
        "counts/north.parquet",
        "counts/south.parquet",
    ]
    (doubled_artifact,) = sqlite_catalog.artifacts(key="doubled/south.parquet")
    assert doubled_artifact.load()["n"].tolist() == [0, 2, 4]


def test_paths_store_files_and_folders_and_load_as_local_paths(
    sqlite_catalog: Catalog, dagster_instance: dg.DagsterInstance, tmp_path: Path
) -> None:
    source = tmp_path / "inputs"
    (source / "reads").mkdir(parents=True)
    (source / "sample.fastq.gz").write_bytes(b"@r1\nACGT\n+\n!!!!\n")
    (source / "reads" / "a.txt").write_text("a")
    (source / "reads" / "b.txt").write_text("b")

    @dg.asset
    def fastq() -> Path:
        return source / "sample.fastq.gz"

    @dg.asset
    def reads() -> str:
        return str(source / "reads")

    @dg.asset
    def sizes(fastq: Path, reads: Path) -> pd.DataFrame:
        return pd.DataFrame(
            {"fastq": [fastq.stat().st_size], "reads": [len(list(Path(reads).iterdir()))]}
        )

    dg.materialize(
        [fastq, reads, sizes], resources=sqlite_catalog.resources(), instance=dagster_instance
    )

    by_key = {a.key: a for a in sqlite_catalog.artifacts()}
    assert set(by_key) == {"fastq.fastq.gz", "reads", "sizes.parquet"}
    assert by_key["reads"].n_files == 2
    assert by_key["sizes.parquet"].load().to_dict("records") == [{"fastq": 16, "reads": 2}]


def test_anndata_round_trips_with_obs_as_rows(
    sqlite_catalog: Catalog, dagster_instance: dg.DagsterInstance
) -> None:
    @dg.asset
    def cells() -> ad.AnnData:
        return ad.AnnData(
            X=np.arange(6, dtype="float32").reshape(3, 2),
            obs=pd.DataFrame({"cell_type": ["B cell", "T cell", "T cell"]}, index=["a", "b", "c"]),
        )

    @dg.asset
    def n_cells(cells: ad.AnnData) -> pd.DataFrame:
        return cells.obs["cell_type"].value_counts().rename_axis("cell_type").reset_index()

    result = dg.materialize(
        [cells, n_cells], resources=sqlite_catalog.resources(), instance=dagster_instance
    )

    metadata = _metadata(result, "cells")
    assert metadata["dagster/row_count"] == 3
    assert [c.name for c in metadata["dagster/column_schema"].columns] == ["cell_type"]
    (stored,) = sqlite_catalog.artifacts(key="cells.h5ad")
    assert stored.otype == "AnnData" and stored.n_observations == 3
    table = sqlite_catalog.artifacts(key="n_cells.parquet")[0].load()
    assert dict(zip(table["cell_type"], table["count"])) == {"T cell": 2, "B cell": 1}


def test_op_outputs_are_keyed_by_job_and_op_and_load_downstream(
    sqlite_catalog: Catalog, dagster_instance: dg.DagsterInstance
) -> None:
    @dg.op
    def make_table() -> pd.DataFrame:
        return pd.DataFrame({"x": [1, 2]})

    @dg.op
    def add_one(table: pd.DataFrame) -> pd.DataFrame:
        return table + 1

    @dg.job(resource_defs=sqlite_catalog.resources())
    def tables() -> None:
        add_one(make_table())

    assert tables.execute_in_process(instance=dagster_instance).success

    by_key = {a.key: a for a in sqlite_catalog.artifacts()}
    assert set(by_key) == {"tables/make_table.parquet", "tables/add_one.parquet"}
    assert by_key["tables/add_one.parquet"].load()["x"].tolist() == [2, 3]
    step_run = by_key["tables/add_one.parquet"].run
    assert step_run.transform.key == "tables/add_one" and step_run.transform.type == "dagster_op"
    assert [a.key for a in step_run.input_artifacts] == ["tables/make_table.parquet"]


def test_io_manager_leaves_the_process_wide_active_catalog_alone(
    sqlite_catalog: Catalog, dagster_instance: dg.DagsterInstance
) -> None:
    dg.materialize(
        [_iris_asset([1])], resources=sqlite_catalog.resources(), instance=dagster_instance
    )

    assert ln.get_instance() is sqlite_catalog.instance


def test_io_manager_works_with_unit_test_contexts(sqlite_catalog: Catalog) -> None:
    manager = LaminIOManager(storage=sqlite_catalog.storage)
    frame = pd.DataFrame({"a": [1, 2]})

    manager.handle_output(dg.build_output_context(asset_key=dg.AssetKey(["unit", "frame"])), frame)

    (artifact,) = sqlite_catalog.artifacts()
    assert artifact.key == "unit/frame.parquet" and artifact.run is None
    manager.close()


@pytest.mark.parametrize("value", [None, 42, {"a": 1}])
def test_unsupported_output_type_names_the_type_and_the_handled_ones(
    sqlite_catalog: Catalog, dagster_instance: dg.DagsterInstance, value: object
) -> None:
    @dg.asset
    def odd():
        return value

    result = dg.materialize(
        [odd],
        resources=sqlite_catalog.resources(),
        instance=dagster_instance,
        raise_on_error=False,
    )

    assert not result.success
    message = step_error(result)
    assert f"No handler for type builtins.{type(value).__name__}" in message
    assert "handlers exist for pandas.DataFrame, anndata.AnnData, pathlib.Path" in message
    assert sqlite_catalog.artifacts() == [] and sqlite_catalog.stored_files() == []


def test_lamin_asset_stores_each_partition_with_its_hash_as_data_version(
    sqlite_catalog: Catalog, dagster_instance: dg.DagsterInstance
) -> None:
    @lamin_asset(partitions_def=PARTITIONS)
    def sites(context: dg.AssetExecutionContext) -> pd.DataFrame:
        return pd.DataFrame({"site": [context.partition_key]})

    result = dg.materialize(
        [sites],
        partition_key="south",
        resources=sqlite_catalog.resources(),
        instance=dagster_instance,
    )

    (artifact,) = sqlite_catalog.artifacts()
    assert artifact.key == "sites/south.parquet"
    (materialization,) = result.asset_materializations_for_node("sites")
    assert materialization.partition == "south"
    assert materialization.tags["dagster/data_version"] == artifact.hash
    assert materialization.metadata["dagster/partition_row_count"].value == 1


@pytest.mark.parametrize("resource", [LaminIOManager, LaminResource])
def test_every_config_field_is_described(resource: type) -> None:
    fields = resource.model_fields

    assert set(fields) == {"storage", "db", "user", "create", "openlineage_url", "openlineage_file"}
    assert all(field.description for field in fields.values())


def test_every_export_is_ours_and_documented() -> None:
    import inspect

    import lamin_dagster

    undocumented = []
    for name in lamin_dagster.__all__:
        exported = getattr(lamin_dagster, name)  # AttributeError: listed but not defined
        if callable(exported):
            assert exported.__module__.startswith("lamin_dagster"), name
            if not inspect.getdoc(exported):
                undocumented.append(name)
    assert not undocumented
    assert {
        "LaminIOManager",
        "LaminResource",
        "lamin_asset",
        "lamin_resources",
        "lamin_run_sensors",
    } <= set(lamin_dagster.__all__)  # the names the README's Dagster section uses


def _parquet_file(tmp_path: Path, rows: int) -> Path:
    path = tmp_path / "table.parquet"
    pd.DataFrame({"x": range(rows)}).to_parquet(path)
    return path


@pytest.mark.parametrize(
    ("make_output", "rows"),
    [
        (lambda tmp_path: pd.DataFrame({"x": range(3)}), 3),
        (lambda tmp_path: ad.AnnData(np.zeros((4, 2), dtype="float32")), 4),
        (lambda tmp_path: _parquet_file(tmp_path, 5), 5),
    ],
    ids=["DataFrame", "AnnData", "parquet-path"],
)
def test_outputs_record_their_number_of_observations(
    catalog: Catalog, dagster_instance: dg.DagsterInstance, tmp_path: Path, make_output, rows
) -> None:
    @dg.asset(name="table")
    def table():  # type: ignore[no-untyped-def]
        return make_output(tmp_path)

    result = dg.materialize([table], resources=catalog.resources(), instance=dagster_instance)
    (artifact,) = catalog.artifacts()
    assert artifact.n_observations == rows
    assert _metadata(result, "table")["dagster/row_count"] == rows
