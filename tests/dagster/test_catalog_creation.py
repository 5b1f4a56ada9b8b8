"""A catalog configured by path is created on first use, also by step processes racing to it.

Dagster users expect a resource configured with a path to create what is missing (as
dagster-duckdb creates its database file): `LaminIOManager` and `LaminResource` create the
catalog on first use, idempotently; ``create=False`` makes a missing catalog an error.
"""

import multiprocessing
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa
from concurrent_pipeline import N_WRITERS, run_concurrent_job

import lamin_core as ln
from lamin_dagster import LaminResource, lamin_resources

N_RACERS = 4


@dg.asset
def table() -> pd.DataFrame:
    return pd.DataFrame({"x": [1, 2]})


def _rows(instance: ln.Instance, registry: type) -> int:
    with instance.engine.connect() as connection:
        return int(connection.scalar(sa.select(sa.func.count()).select_from(registry)) or 0)


def test_the_io_manager_creates_a_missing_catalog_on_first_use(
    tmp_path: Path, db_url: str | None, dagster_instance: dg.DagsterInstance
) -> None:
    storage = str(tmp_path / "my-catalog")
    resources = lamin_resources(storage, db_url)

    first = dg.materialize([table], resources=resources, instance=dagster_instance)
    second = dg.materialize([table], resources=resources, instance=dagster_instance)

    assert first.success and second.success
    catalog = ln.connect(db_url, storage=storage, activate=False)
    with catalog.activate():
        (artifact,) = ln.Artifact.filter(key="table.parquet").all()
        assert artifact.load()["x"].tolist() == [1, 2]
    assert _rows(catalog, ln.Storage) == 1 and _rows(catalog, ln.User) == 1
    catalog.close()


def _open_and_label(storage: str, db: str | None, index: int, start: object) -> None:
    start.wait()  # type: ignore[attr-defined]  # all processes open the catalog at once
    lamin = LaminResource(storage=storage, db=db)
    with lamin.activate():
        ln.ULabel(name=f"racer {index}").save()
    lamin.close()


@pytest.mark.slow
def test_processes_racing_to_create_the_catalog_all_get_one_catalog(
    tmp_path: Path, db_url: str | None
) -> None:
    storage = str(tmp_path / "raced-catalog")
    context = multiprocessing.get_context("fork")
    start = context.Barrier(N_RACERS)
    racers = [
        context.Process(target=_open_and_label, args=(storage, db_url, index, start))
        for index in range(N_RACERS)
    ]

    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join(timeout=120)

    assert [racer.exitcode for racer in racers] == [0] * N_RACERS
    catalog = ln.connect(db_url, storage=storage, activate=False)
    with catalog.activate():
        names = sorted(ln.ULabel.filter(name__startswith="racer ").list("name"))
    assert names == [f"racer {index}" for index in range(N_RACERS)]
    assert _rows(catalog, ln.Storage) == 1 and _rows(catalog, ln.User) == 1
    catalog.close()


@pytest.mark.slow
def test_step_processes_create_a_missing_catalog_once(tmp_path: Path, db_url: str | None) -> None:
    storage = str(tmp_path / "new-catalog")
    config = {"storage": storage, "db": db_url}
    run_concurrent_job(config, tmp_path / "dagster")

    catalog = ln.connect(db_url, storage=storage, activate=False)
    with catalog.activate():
        keys = ln.Artifact.filter(key__startswith="writer_").list("key")
    assert sorted(keys) == [f"writer_{i}.parquet" for i in range(N_WRITERS)]
    assert _rows(catalog, ln.Storage) == 1
    catalog.close()
