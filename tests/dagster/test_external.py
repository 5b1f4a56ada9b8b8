"""Artifacts made outside Dagster: asset specs in the graph, a sensor reporting new versions."""

import json

import dagster as dg
import pandas as pd
import pytest
from dagster_helpers import Catalog

import lamin_core as ln
from lamin_dagster import asset_key_for, lamin_external_asset_sensor, lamin_external_assets
from lamin_dagster.external import DATA_VERSION_TAG


@pytest.mark.parametrize(
    ("artifact_key", "asset_key"),
    [
        ("images/my_image.jpg", ["images", "my_image"]),
        ("raw/my_fastq.fastq.gz", ["raw", "my_fastq"]),
        ("iris/iris collection-v2.parquet", ["iris", "iris_collection_v2"]),
        ("folder/reads", ["folder", "reads"]),
    ],
)
def test_asset_key_for_strips_the_suffix_and_invalid_characters(
    artifact_key: str, asset_key: list[str]
) -> None:
    assert asset_key_for(artifact_key) == dg.AssetKey(asset_key)


def test_data_version_tag_is_dagsters() -> None:
    from dagster._core.definitions.data_version import DATA_VERSION_TAG as dagster_tag

    assert dagster_tag == DATA_VERSION_TAG


def _save(catalog: Catalog, values: list[int], key: str = "notebook/cells.parquet") -> ln.Artifact:
    with catalog.instance.activate():
        return ln.Artifact.from_df(pd.DataFrame({"n": values}), key=key).save()


def test_external_specs_feed_downstream_assets_and_the_sensor_reports_new_versions(
    sqlite_catalog: Catalog, dagster_instance: dg.DagsterInstance
) -> None:
    first = _save(sqlite_catalog, [1, 2])
    _save(sqlite_catalog, [0], key="notebook/other.parquet")
    with sqlite_catalog.instance.activate():
        specs = lamin_external_assets(ln.Artifact.filter(key__startswith="notebook/"))

    @dg.asset(ins={"cells": dg.AssetIn(key=["notebook", "cells"])})
    def total(cells: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"total": [int(cells["n"].sum())]})

    resources = sqlite_catalog.resources()
    sensor = lamin_external_asset_sensor(specs)
    defs = dg.Definitions(assets=[*specs, total], sensors=[sensor], resources=resources)
    assert {spec.key for spec in specs} == {
        dg.AssetKey(["notebook", "cells"]),
        dg.AssetKey(["notebook", "other"]),
    }
    assert defs.resolve_asset_graph().get(dg.AssetKey("total")).parent_keys == {
        dg.AssetKey(["notebook", "cells"])
    }

    def tick(cursor: str | None) -> dg.SensorResult | dg.SkipReason:
        with dg.build_sensor_context(
            instance=dagster_instance, cursor=cursor, resources={"lamin": resources["lamin"]}
        ) as context:
            return sensor(context)

    result = tick(None)
    assert isinstance(result, dg.SensorResult) and len(result.asset_events) == 2
    for event in result.asset_events:
        dagster_instance.report_runless_asset_event(event)
    reported = {e.asset_key: e for e in result.asset_events}[dg.AssetKey(["notebook", "cells"])]
    assert reported.tags[DATA_VERSION_TAG] == first.hash
    assert reported.metadata["lamin/uid"].value == first.uid
    assert isinstance(tick(result.cursor), dg.SkipReason)

    second = _save(sqlite_catalog, [1, 2, 3])
    newer = tick(result.cursor)
    assert [e.asset_key for e in newer.asset_events] == [dg.AssetKey(["notebook", "cells"])]
    assert json.loads(newer.cursor)["notebook/cells"] == second.uid
    dagster_instance.report_runless_asset_event(newer.asset_events[0])

    dg.materialize(
        [*specs, total], selection=[total], resources=resources, instance=dagster_instance
    )

    (stored,) = sqlite_catalog.artifacts(key="total.parquet")
    assert stored.load()["total"].tolist() == [6]
    assert [a.uid for a in stored.run.input_artifacts] == [second.uid]


def test_external_specs_load_the_latest_version_before_any_report(
    sqlite_catalog: Catalog, dagster_instance: dg.DagsterInstance
) -> None:
    _save(sqlite_catalog, [1])
    latest = _save(sqlite_catalog, [5, 5])
    with sqlite_catalog.instance.activate():
        (spec,) = lamin_external_assets([latest])

    @dg.asset(ins={"cells": dg.AssetIn(key=spec.key)})
    def total(cells: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"total": [int(cells["n"].sum())]})

    dg.materialize(
        [spec, total],
        selection=[total],
        resources=sqlite_catalog.resources(),
        instance=dagster_instance,
    )

    assert sqlite_catalog.artifacts(key="total.parquet")[0].load()["total"].tolist() == [10]


def test_external_assets_refuse_artifacts_without_a_key(sqlite_catalog: Catalog) -> None:
    with sqlite_catalog.instance.activate():
        keyless = ln.Artifact.from_df(pd.DataFrame({"n": [1]})).save()

        with pytest.raises(ln.ValidationError, match="has no key, so it has no stable asset key"):
            lamin_external_assets([keyless])
