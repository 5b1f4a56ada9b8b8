"""Unchanged content stays fresh: the content hash is the data version, for both ways of storing."""

from collections.abc import Callable

import dagster as dg
import pandas as pd
import pytest
from dagster._utils.test.data_versions import get_stale_status_resolver
from dagster_helpers import Catalog

from lamin_dagster import lamin_asset


def _plain(values: list[int]) -> list[dg.AssetsDefinition]:
    @dg.asset(code_version="1")
    def cells() -> pd.DataFrame:
        return pd.DataFrame({"n": values})

    @dg.asset(code_version="1")
    def total(cells: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"total": [int(cells["n"].sum())]})

    return [cells, total]


def _decorated(values: list[int]) -> list[dg.AssetsDefinition]:
    @lamin_asset(code_version="1")
    def cells() -> pd.DataFrame:
        return pd.DataFrame({"n": values})

    @lamin_asset(code_version="1")
    def total(cells: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"total": [int(cells["n"].sum())]})

    return [cells, total]


@pytest.mark.parametrize("make", [_plain, _decorated], ids=["dg.asset", "lamin_asset"])
def test_identical_output_keeps_downstream_fresh_and_new_content_makes_it_stale(
    catalog: Catalog,
    dagster_instance: dg.DagsterInstance,
    make: Callable[[list[int]], list[dg.AssetsDefinition]],
) -> None:
    values = [1, 2]
    assets = make(values)
    resources = catalog.resources()

    def status() -> str:
        resolver = get_stale_status_resolver(dagster_instance, assets)
        return str(resolver.get_status(dg.AssetKey("total")).value)

    def materialize_cells() -> dg.ExecuteInProcessResult:
        return dg.materialize(
            assets, selection=["cells"], resources=resources, instance=dagster_instance
        )

    first = dg.materialize(assets, resources=resources, instance=dagster_instance)
    assert status() == "FRESH"
    again = materialize_cells()  # same content: same artifact, same data version
    assert status() == "FRESH"
    values.append(3)  # new content: the next version, a new data version
    changed = materialize_cells()
    assert status() == "STALE"

    v1, v2 = catalog.artifacts(key="cells.parquet")
    versions = [
        result.asset_materializations_for_node("cells")[0].tags["dagster/data_version"]
        for result in (first, again, changed)
    ]
    assert versions == [v1.hash, v1.hash, v2.hash]
    hashes = [
        result.asset_materializations_for_node("cells")[0].metadata["lamin/hash"].value
        for result in (first, again, changed)
    ]
    assert hashes == versions


def test_a_data_version_the_asset_body_sets_wins_over_the_hash(
    sqlite_catalog: Catalog, dagster_instance: dg.DagsterInstance
) -> None:
    @dg.asset
    def cells(context: dg.AssetExecutionContext) -> pd.DataFrame:
        context.set_data_version(dg.AssetKey("cells"), dg.DataVersion("from-the-body"))
        return pd.DataFrame({"n": [1]})

    result = dg.materialize(
        [cells], resources=sqlite_catalog.resources(), instance=dagster_instance
    )

    (materialization,) = result.asset_materializations_for_node("cells")
    assert materialization.tags["dagster/data_version"] == "from-the-body"
    assert materialization.metadata["lamin/hash"].value == sqlite_catalog.artifacts()[0].hash
