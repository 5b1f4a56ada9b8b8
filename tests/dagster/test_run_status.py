"""Dagster's run status is the truth: catalog Runs of finished Dagster runs do not stay open.

A step killed with its process never closes its catalog Run, and the run-end sensors need the
Dagster daemon. Whatever starts next against the catalog (the IO manager or the resource) asks
Dagster about the runs the catalog still shows as started and closes those that have finished,
with Dagster's status and end time; runs Dagster does not know, or still runs, stay open.
"""

import datetime as dt
import uuid
from pathlib import Path
from typing import Any
from unittest import mock

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa
from crash_pipeline import MAX_RETRIES, crash_job
from dagster_helpers import Catalog

from lamin_dagster import LaminIOManager, LaminResource
from lamin_dagster.mapping import StepInfo, job_run_spec, step_run_spec
from lamin_dagster.run_status import close_finished_runs
from lamin_dagster.runs import start_step_run


def _end_time(dagster_instance: dg.DagsterInstance, run_id: str) -> dt.datetime:
    record = dagster_instance.get_run_record_by_id(run_id)
    assert record is not None and record.end_time is not None
    return dt.datetime.fromtimestamp(record.end_time, tz=dt.timezone.utc)


def _close_to(value: dt.datetime | None, expected: dt.datetime) -> bool:
    return value is not None and abs(value - expected) < dt.timedelta(milliseconds=1)


@dg.asset
def unrelated() -> pd.DataFrame:
    return pd.DataFrame({"y": [0]})


@dg.asset
def resource_only(context: dg.AssetExecutionContext, lamin: LaminResource) -> None:
    with lamin.track(context):
        pass


def _start_anything(catalog: Catalog, dagster_instance: dg.DagsterInstance, trigger: str) -> Any:
    """Materialize an asset unrelated to the open runs, with the IO manager or the resource."""
    if trigger == "io_manager":
        resources: dict[str, Any] = {
            "io_manager": LaminIOManager(storage=catalog.storage, db=catalog.db)
        }
        return dg.materialize([unrelated], resources=resources, instance=dagster_instance)
    resources = {"lamin": LaminResource(storage=catalog.storage, db=catalog.db)}
    return dg.materialize([resource_only], resources=resources, instance=dagster_instance)


@pytest.mark.slow
def test_a_killed_step_with_retries_exhausted_is_closed_when_the_io_manager_next_starts(
    catalog: Catalog, persistent_dagster_instance: dg.DagsterInstance
) -> None:
    config = {"storage": catalog.storage, "db": catalog.db}
    result = dg.execute_job(
        dg.build_reconstructable_job(
            "crash_pipeline",
            crash_job.__name__,
            reconstructor_working_directory=str(Path(__file__).parent),
        ),
        instance=persistent_dagster_instance,
        run_config={"resources": {"io_manager": {"config": config}, "lamin": {"config": config}}},
        raise_on_error=False,
    )
    assert not result.success
    run_id = result.run_id
    attempts = catalog.runs(reference=f"{run_id}/doomed")
    # the retry closed the first attempt; nothing in the dead process closed the last one
    assert [r.status for r in attempts] == ["errored"] * MAX_RETRIES + ["started"]

    _start_anything(catalog, persistent_dagster_instance, "io_manager")

    ended = _end_time(persistent_dagster_instance, run_id)
    (parent,) = catalog.runs(reference=run_id, reference_type="dagster")
    assert parent.status == "errored" and _close_to(parent.finished_at, ended)
    attempts = catalog.runs(reference=f"{run_id}/doomed")
    assert [r.status for r in attempts] == ["errored"] * (MAX_RETRIES + 1)
    last = attempts[-1]
    assert last.finished_at is not None and last.started_at is not None
    assert last.started_at <= last.finished_at <= ended
    (source_run,) = catalog.runs(reference=f"{run_id}/source")
    assert source_run.status == "completed"  # its outcome, from Dagster's event log
    # what each killed attempt saved is credited to that attempt, with the input it loaded
    logs = catalog.artifacts(key="logs/doomed.parquet")
    (source,) = catalog.artifacts(key="source.parquet")
    assert [log.run_id for log in logs] == [r.id for r in attempts]
    assert [log.load()["attempt"].tolist() for log in logs] == [
        [n] for n in range(1, MAX_RETRIES + 2)
    ]
    assert all([a.uid for a in r.input_artifacts] == [source.uid] for r in attempts)


@dg.asset
def source() -> pd.DataFrame:
    return pd.DataFrame({"x": [1]})


@dg.asset
def broken(source: pd.DataFrame) -> pd.DataFrame:
    raise ValueError("bad column")


@pytest.mark.parametrize("trigger", ["io_manager", "resource"])
@pytest.mark.parametrize(
    ("assets", "run_status", "step_statuses"),
    [
        ([source], "completed", {"source": "completed"}),
        ([source, broken], "errored", {"source": "completed", "broken": "errored"}),
    ],
    ids=["success", "failure"],
)
def test_finished_runs_are_closed_with_dagsters_status_when_a_resource_next_starts(
    catalog: Catalog,
    dagster_instance: dg.DagsterInstance,
    trigger: str,
    assets: list[dg.AssetsDefinition],
    run_status: str,
    step_statuses: dict[str, str],
) -> None:
    finished = dg.materialize(
        assets, resources=catalog.resources(), instance=dagster_instance, raise_on_error=False
    )
    # plain assets have no hooks: without a sensor, every Run of that run is still open
    assert {r.status for r in catalog.runs()} == {"started"}

    later = _start_anything(catalog, dagster_instance, trigger)

    ended = _end_time(dagster_instance, finished.run_id)
    (parent,) = catalog.runs(reference=finished.run_id)
    assert parent.status == run_status and _close_to(parent.finished_at, ended)
    steps = {r.name: r for r in catalog.runs(initiated_by_run_id=parent.id)}
    assert {name: r.status for name, r in steps.items()} == step_statuses
    assert all(r.finished_at is not None and r.finished_at <= ended for r in steps.values())
    # the run that did the closing is not closed by it
    assert {r.status for r in catalog.runs(reference=later.run_id)} <= {"started"}


def _open_runs(catalog: Catalog, run_id: str) -> None:
    step = StepInfo(run_id, "etl", "clean", "clean", ("clean",))
    start_step_run(catalog.instance, job_run_spec(run_id, "etl"), step_run_spec(step))


@dg.op
def noop() -> None:
    return None


@dg.job
def noop_job() -> None:
    noop()


def test_close_finished_runs_follows_dagsters_status_and_leaves_unknown_runs_alone(
    catalog: Catalog, dagster_instance: dg.DagsterInstance
) -> None:
    canceled = dagster_instance.create_run_for_job(noop_job)
    dagster_instance.report_run_canceled(canceled)
    going = dagster_instance.create_run_for_job(noop_job, status=dg.DagsterRunStatus.STARTED)
    elsewhere = str(uuid.uuid4())  # a run of another Dagster instance
    for run_id in (canceled.run_id, going.run_id, elsewhere):
        _open_runs(catalog, run_id)

    closed = close_finished_runs(catalog.instance, dagster_instance)

    assert [r.reference for r in closed] == [canceled.run_id]
    by_run = {r.reference.split("/")[0]: r for r in catalog.runs(name="clean")}
    assert by_run[canceled.run_id].status == "aborted"
    assert by_run[going.run_id].status == "started"
    assert by_run[elsewhere].status == "started"
    assert close_finished_runs(catalog.instance, dagster_instance) == []  # nothing left to do


def test_close_finished_runs_is_one_catalog_query_when_nothing_finished(
    catalog: Catalog, dagster_instance: dg.DagsterInstance
) -> None:
    running = dagster_instance.create_run_for_job(noop_job, status=dg.DagsterRunStatus.STARTED)
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    engine = catalog.instance.engine
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        with mock.patch.object(
            dagster_instance, "get_run_records", wraps=dagster_instance.get_run_records
        ) as asked:
            assert close_finished_runs(catalog.instance, dagster_instance) == []
            assert len(statements) == 1 and asked.call_count == 0  # nothing open: Dagster not asked

            _open_runs(catalog, running.run_id)
            statements.clear()
            assert close_finished_runs(catalog.instance, dagster_instance) == []
            assert len(statements) == 1 and asked.call_count == 1
            # the run being executed is not even looked up
            statements.clear()
            assert (
                close_finished_runs(
                    catalog.instance, dagster_instance, current_run_id=running.run_id
                )
                == []
            )
            assert len(statements) == 1 and asked.call_count == 1
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    assert {r.status for r in catalog.runs()} == {"started"}
