"""Runs in one process share the open catalog: connected once, not once per run.

Dagster copies the IO manager and the resource for every run; each copy gets the catalog already
open in this process for its configuration, and gives it back when the run ends. A catalog
replaced on disk in between is opened afresh, and only a few catalogs nobody uses stay open.
"""

import shutil
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

import lamin_core as ln
from lamin_dagster import LaminIOManager, LaminResource
from lamin_dagster.catalogs import IDLE_CATALOGS, close_idle


@dg.asset
def table() -> pd.DataFrame:
    return pd.DataFrame({"x": [1, 2, 3]})


def _is_closed(instance: ln.Instance) -> bool:
    try:
        instance.session  # noqa: B018  # a closed catalog refuses to give a session
    except ln.InstanceError:
        return True
    return False


def test_runs_in_one_process_reuse_the_open_catalog(
    tmp_path: Path, db_url: str | None, dagster_instance: dg.DagsterInstance
) -> None:
    storage = str(tmp_path / "catalog")
    opened: list[ln.Instance] = []

    @dg.asset
    def seen(lamin: LaminResource) -> pd.DataFrame:
        opened.append(lamin.get_instance())
        return pd.DataFrame({"x": [len(opened)]})

    resources = {
        "io_manager": LaminIOManager(storage=storage, db=db_url),
        "lamin": LaminResource(storage=storage, db=db_url),
    }
    for _ in range(2):
        assert dg.materialize([seen], resources=resources, instance=dagster_instance).success

    first, second = opened
    assert first is second and not _is_closed(first)  # released, not closed, between runs
    with first.activate():
        versions = ln.Artifact.filter(key="seen.parquet").order_by("version").all()
        assert [a.load()["x"].tolist() for a in versions] == [[1], [2]]
    close_idle()
    assert _is_closed(first)


def test_a_catalog_replaced_on_disk_is_opened_afresh(
    tmp_path: Path, dagster_instance: dg.DagsterInstance
) -> None:
    storage = tmp_path / "catalog"
    resources = {"io_manager": LaminIOManager(storage=str(storage))}
    assert dg.materialize([table], resources=resources, instance=dagster_instance).success
    shutil.rmtree(storage)  # a new catalog at the same place

    assert dg.materialize([table], resources=resources, instance=dagster_instance).success

    catalog = ln.connect(storage=str(storage), activate=False)
    with catalog.activate():
        (artifact,) = ln.Artifact.filter(key="table.parquet").all()
        assert artifact.version == "1" and artifact.path.exists()
    catalog.close()


@pytest.mark.parametrize("extra", [1, 3])
def test_only_a_few_unused_catalogs_stay_open(tmp_path: Path, extra: int) -> None:
    close_idle()
    resources = [
        LaminResource(storage=str(tmp_path / f"catalog-{i}")) for i in range(IDLE_CATALOGS + extra)
    ]
    instances = [resource.get_instance() for resource in resources]
    for resource in resources:
        resource.teardown_after_execution(dg.build_init_resource_context())

    # the least recently used ones are closed; the last IDLE_CATALOGS stay open for reuse
    assert [_is_closed(i) for i in instances] == [True] * extra + [False] * IDLE_CATALOGS
    again = LaminResource(storage=str(tmp_path / f"catalog-{IDLE_CATALOGS + extra - 1}"))
    assert again.get_instance() is instances[-1]
    again.close()  # closes it: nobody else uses it
    assert _is_closed(instances[-1]) and not _is_closed(instances[-2])
    close_idle()
