"""A notebook step between two pipelines: its external asset's upstream edges come from lineage."""

import dagster as dg
import pandas as pd
from dagster_helpers import Catalog

import lamin_core as ln
from lamin_dagster import lamin_asset, lamin_external_assets


@lamin_asset(key=["pipeline", "counts"], partitions_def=None)
def counts() -> pd.DataFrame:
    return pd.DataFrame({"cell_type": ["B cell", "T cell"], "n": [3, 5]})


@dg.asset(key=["pipeline", "raw_reads"])
def raw_reads() -> pd.DataFrame:
    return pd.DataFrame({"reads": [10, 20]})


def _notebook(catalog: Catalog, *input_keys: str) -> ln.Artifact:
    """What a tracked notebook does: load pipeline artifacts, save a derived one."""
    with catalog.instance.activate():
        ln.track(key="shares.ipynb", description="share of each cell type")
        loaded = [ln.Artifact.filter(key=key, is_latest=True).one().load() for key in input_keys]
        table = loaded[0]
        shares = table.assign(share=table["n"] / table["n"].sum())[["cell_type", "share"]]
        derived = ln.Artifact.from_df(shares, key="analysis/shares.parquet").save()
        ln.finish()
        return derived


def test_a_notebook_artifact_joins_two_pipelines_in_one_graph(
    catalog: Catalog, dagster_instance: dg.DagsterInstance
) -> None:
    resources = catalog.resources()
    dg.materialize([counts, raw_reads], resources=resources, instance=dagster_instance)
    derived = _notebook(catalog, "pipeline/counts.parquet", "pipeline/raw_reads.parquet")
    with catalog.instance.activate():
        (shares,) = lamin_external_assets([derived])

    @dg.asset(ins={"shares": dg.AssetIn(key=shares.key)}, key=["report", "top_cell_type"])
    def top_cell_type(shares: pd.DataFrame) -> pd.DataFrame:
        return shares.nlargest(1, "share")

    defs = dg.Definitions(assets=[counts, raw_reads, shares, top_cell_type], resources=resources)
    graph = defs.resolve_asset_graph()

    assert graph.get(shares.key).parent_keys == {
        dg.AssetKey(["pipeline", "counts"]),
        dg.AssetKey(["pipeline", "raw_reads"]),
    }
    assert graph.get(dg.AssetKey(["report", "top_cell_type"])).parent_keys == {shares.key}
    # the downstream pipeline loads the notebook's artifact
    dg.materialize(
        [shares, top_cell_type],
        selection=[top_cell_type],
        resources=resources,
        instance=dagster_instance,
    )
    (report,) = catalog.artifacts(key="report/top_cell_type.parquet")
    assert report.load()["cell_type"].tolist() == ["T cell"]
    assert [a.uid for a in report.run.input_artifacts] == [derived.uid]


def test_partitions_map_to_their_asset_and_notebook_inputs_to_their_external_asset(
    sqlite_catalog: Catalog, dagster_instance: dg.DagsterInstance
) -> None:
    days = dg.StaticPartitionsDefinition(["d1", "d2"])

    @dg.asset(key=["pipeline", "daily"], partitions_def=days)
    def daily(context: dg.AssetExecutionContext) -> pd.DataFrame:
        return pd.DataFrame({"cell_type": ["B cell"], "n": [int(context.partition_key[1:])]})

    dg.materialize(
        [daily], partition_key="d2", resources=sqlite_catalog.resources(), instance=dagster_instance
    )
    first = _notebook(sqlite_catalog, "pipeline/daily/d2.parquet")
    with sqlite_catalog.instance.activate():
        ln.track(key="second.ipynb")
        first.load()
        second = ln.Artifact.from_df(pd.DataFrame({"x": [1]}), key="analysis/second.parquet").save()
        ln.finish()
        specs = {s.key.to_user_string(): s for s in lamin_external_assets([first, second])}

    assert [d.asset_key for d in specs["analysis/shares"].deps] == [
        dg.AssetKey(["pipeline", "daily"])
    ]
    assert [d.asset_key for d in specs["analysis/second"].deps] == [
        dg.AssetKey(["analysis", "shares"])
    ]


def test_artifacts_without_a_run_have_no_upstreams(sqlite_catalog: Catalog) -> None:
    with sqlite_catalog.instance.activate():
        artifact = ln.Artifact.from_df(pd.DataFrame({"x": [1]}), key="upload/x.parquet").save()
        (spec,) = lamin_external_assets([artifact])

    assert list(spec.deps) == []
