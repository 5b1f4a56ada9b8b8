"""Pinning an upstream version: dg.AssetIn(metadata={"lamin/version": "2"}) or "lamin/uid"."""

from typing import Any

import dagster as dg
import pandas as pd
import pytest
from dagster_helpers import Catalog, step_error

import lamin_core as ln
from lamin_dagster import lamin_external_assets


def _cells(values: list[int]) -> dg.AssetsDefinition:
    @dg.asset(key=["raw", "cells"])
    def cells() -> pd.DataFrame:
        return pd.DataFrame({"n": values})

    return cells


def _total(pin: dict[str, Any]) -> dg.AssetsDefinition:
    @dg.asset(ins={"cells": dg.AssetIn(key=["raw", "cells"], metadata=pin)})
    def total(cells: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"total": [int(cells["n"].sum())]})

    return total


def _three_versions(catalog: Catalog, dagster_instance: dg.DagsterInstance) -> list[ln.Artifact]:
    for values in ([1], [1, 2], [1, 2, 3]):
        dg.materialize([_cells(values)], resources=catalog.resources(), instance=dagster_instance)
    versions = catalog.artifacts(key="raw/cells.parquet")
    assert [a.version for a in versions] == ["1", "2", "3"]
    return versions


def _materialize_total(
    catalog: Catalog, dagster_instance: dg.DagsterInstance, pin: dict[str, Any]
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [_cells([0]), _total(pin)],
        selection=["total"],
        resources=catalog.resources(),
        instance=dagster_instance,
        raise_on_error=False,
    )


@pytest.mark.parametrize("field", ["version", "uid"])
def test_a_pinned_version_loads_exactly_that_version_and_is_the_runs_input(
    catalog: Catalog, dagster_instance: dg.DagsterInstance, field: str
) -> None:
    versions = _three_versions(catalog, dagster_instance)
    pin = {"lamin/version": "2"} if field == "version" else {"lamin/uid": versions[1].uid}

    result = _materialize_total(catalog, dagster_instance, pin)

    assert result.success
    (stored,) = catalog.artifacts(key="total.parquet")
    assert stored.load()["total"].tolist() == [3]  # version 2 holds [1, 2], the latest [1, 2, 3]
    assert [a.uid for a in stored.run.input_artifacts] == [versions[1].uid]
    (loaded,) = [e for e in result.all_events if e.event_type_value == "LOADED_INPUT"]
    assert loaded.event_specific_data.metadata["lamin/version"].value == "2"


def test_without_a_pin_the_latest_materialization_loads(
    sqlite_catalog: Catalog, dagster_instance: dg.DagsterInstance
) -> None:
    versions = _three_versions(sqlite_catalog, dagster_instance)

    assert _materialize_total(sqlite_catalog, dagster_instance, {}).success
    (stored,) = sqlite_catalog.artifacts(key="total.parquet")
    assert [a.uid for a in stored.run.input_artifacts] == [versions[2].uid]


def test_a_version_that_does_not_exist_fails_with_the_versions_that_do(
    catalog: Catalog, dagster_instance: dg.DagsterInstance
) -> None:
    versions = _three_versions(catalog, dagster_instance)

    result = _materialize_total(catalog, dagster_instance, {"lamin/version": "7"})

    message = step_error(result, "total")
    assert "input 'cells' (asset 'raw/cells'): lamin/version '7' does not exist" in message
    assert "for artifact 'raw/cells.parquet'" in message
    listed = ", ".join(f"{a.version} (uid {a.uid})" for a in versions)
    assert f"Its versions: {listed}. Pin one of those" in message
    assert catalog.artifacts(key="total.parquet") == []


def test_a_uid_of_another_artifact_is_refused(
    sqlite_catalog: Catalog, dagster_instance: dg.DagsterInstance
) -> None:
    _three_versions(sqlite_catalog, dagster_instance)
    with sqlite_catalog.instance.activate():
        other = ln.Artifact.from_df(pd.DataFrame({"n": [9]}), key="other.parquet").save()

    result = _materialize_total(sqlite_catalog, dagster_instance, {"lamin/uid": other.uid})

    message = step_error(result, "total")
    assert f"lamin/uid {other.uid!r} names artifact 'other.parquet'" in message
    assert "not a version of the upstream's artifact 'raw/cells.parquet'" in message


def test_pinning_both_version_and_uid_is_refused(
    sqlite_catalog: Catalog, dagster_instance: dg.DagsterInstance
) -> None:
    versions = _three_versions(sqlite_catalog, dagster_instance)

    result = _materialize_total(
        sqlite_catalog, dagster_instance, {"lamin/version": "1", "lamin/uid": versions[0].uid}
    )

    assert "pins both lamin/version '1' and lamin/uid" in step_error(result, "total")


def test_an_external_asset_version_is_pinned_before_any_report(
    sqlite_catalog: Catalog, dagster_instance: dg.DagsterInstance
) -> None:
    with sqlite_catalog.instance.activate():
        first = ln.Artifact.from_df(pd.DataFrame({"n": [4]}), key="raw/cells.parquet").save()
        latest = ln.Artifact.from_df(pd.DataFrame({"n": [4, 4]}), key="raw/cells.parquet").save()
        (spec,) = lamin_external_assets([latest])

    dg.materialize(
        [spec, _total({"lamin/version": "1"})],
        selection=["total"],
        resources=sqlite_catalog.resources(),
        instance=dagster_instance,
    )

    (stored,) = sqlite_catalog.artifacts(key="total.parquet")
    assert [a.uid for a in stored.run.input_artifacts] == [first.uid]
