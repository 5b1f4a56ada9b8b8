"""Dagster runs and steps as catalog Runs: idempotent records, statuses on success and failure."""

import datetime as dt
from typing import Any

import dagster as dg
import pandas as pd
import pytest
from dagster_helpers import Catalog

import lamin_core as ln
from lamin_core.tracking import get_or_create_transform
from lamin_dagster import LaminResource, lamin_asset, lamin_run_sensors
from lamin_dagster.mapping import StepInfo, StepOutcome, job_run_spec, step_run_spec
from lamin_dagster.run_status import record_run_end
from lamin_dagster.runs import finish_dagster_run, finish_step_run, start_step_run

RUN_ID = "0f6d2c1a-7b7e-4a36-8d0e-0a4b1f7c9e11"


def _step(step_key: str, attempt: int = 1) -> StepInfo:
    return StepInfo(RUN_ID, "etl", step_key, step_key, (step_key,), "1", attempt)


def test_start_step_run_is_idempotent(sqlite_catalog: Catalog) -> None:
    instance = sqlite_catalog.instance
    job = job_run_spec(RUN_ID, "etl")

    first = start_step_run(instance, job, step_run_spec(_step("clean")))
    again = start_step_run(instance, job, step_run_spec(_step("clean")))
    other = start_step_run(instance, job, step_run_spec(_step("load")))

    assert first.id == again.id
    parent, *steps = sqlite_catalog.runs()
    assert (parent.reference, parent.reference_type, parent.status) == (
        RUN_ID,
        "dagster",
        "started",
    )
    assert [s.reference for s in steps] == [f"{RUN_ID}/clean", f"{RUN_ID}/load"]
    assert {s.initiated_by_run_id for s in steps} == {parent.id}
    assert other.transform.key == "load" and other.transform.version == "1"
    assert [t.key for t in sqlite_catalog.transforms()] == ["etl", "clean", "load"]


def test_each_attempt_of_a_step_gets_its_own_run(catalog: Catalog) -> None:
    instance = catalog.instance
    job = job_run_spec(RUN_ID, "etl")
    first = start_step_run(instance, job, step_run_spec(_step("clean")))

    runs = [
        start_step_run(instance, job, step_run_spec(_step("clean", attempt=attempt)))
        for attempt in (2, 3, 3)  # the third attempt asks twice (a load, then a save)
    ]

    parent, *steps = catalog.runs()
    assert [s.id for s in steps] == [first.id, runs[0].id, runs[1].id] and runs[1].id == runs[2].id
    assert [s.params["attempt"] for s in steps] == [1, 2, 3]
    assert [s.name for s in steps] == ["clean", "clean (attempt 2)", "clean (attempt 3)"]
    assert {s.reference for s in steps} == {f"{RUN_ID}/clean"}
    assert {s.initiated_by_run_id for s in steps} == {parent.id}
    # a new attempt means the earlier ones are over, and did not succeed
    assert [s.status for s in steps] == ["errored", "errored", "started"]
    assert steps[0].finished_at is not None and steps[1].finished_at is not None
    assert steps[2].finished_at is None


def test_a_step_transform_is_the_one_lamin_core_gets_or_creates(catalog: Catalog) -> None:
    """Steps find Transforms by lamin_core's rule, the one `ln.track()` follows too."""
    instance = catalog.instance
    expected = get_or_create_transform("table", type="dagster_asset", version="1")
    instance.session.commit()

    run = start_step_run(instance, job_run_spec(RUN_ID, "etl"), step_run_spec(_step("table")))
    changed = StepInfo(RUN_ID, "etl", "other", "table", ("table",), "2", 1)
    next_run = start_step_run(instance, job_run_spec(RUN_ID, "etl"), step_run_spec(changed))

    assert run.transform_id == expected.id
    assert next_run.transform.key == "table" and next_run.transform.version == "2"
    assert next_run.transform.stem_uid == expected.stem_uid  # the next version of the asset
    # ln.track() with the same key: a script is another type, so the key's next version
    tracked = ln.track(key="table")
    ln.finish()
    assert tracked.transform.type == "script" and tracked.transform.version == "3"
    assert tracked.transform.stem_uid == expected.stem_uid


def test_finish_step_run_closes_the_latest_attempt(catalog: Catalog) -> None:
    instance = catalog.instance
    job = job_run_spec(RUN_ID, "etl")
    for attempt in (1, 2):
        start_step_run(instance, job, step_run_spec(_step("clean", attempt=attempt)))

    finished = finish_step_run(instance, f"{RUN_ID}/clean", "completed")

    first, second = catalog.runs()[1:]
    assert finished is not None and finished.id == second.id
    assert (first.status, second.status) == ("errored", "completed")


def test_a_failed_step_marks_its_run_errored(sqlite_catalog: Catalog) -> None:
    instance = sqlite_catalog.instance
    start_step_run(instance, job_run_spec(RUN_ID, "etl"), step_run_spec(_step("clean")))

    step = finish_step_run(instance, f"{RUN_ID}/clean", "errored")

    assert step is not None and step.status == "errored" and step.finished_at is not None
    assert step.initiated_by_run.status == "errored"
    assert finish_step_run(instance, "no-such-run/step", "completed") is None


def test_finish_dagster_run_closes_open_steps_from_their_outcomes(sqlite_catalog: Catalog) -> None:
    instance = sqlite_catalog.instance
    job = job_run_spec(RUN_ID, "etl")
    for key in ("clean", "load", "report"):
        start_step_run(instance, job, step_run_spec(_step(key)))
    finish_step_run(instance, f"{RUN_ID}/clean", "completed")
    at = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)

    run = finish_dagster_run(
        instance, RUN_ID, "errored", outcomes={"load": StepOutcome("errored", at)}
    )

    assert run is not None and run.status == "errored" and run.finished_at is not None
    by_name = {r.name: r for r in sqlite_catalog.runs()[1:]}
    assert by_name["clean"].status == "completed"
    assert (by_name["load"].status, by_name["load"].finished_at) == ("errored", at)
    assert by_name["report"].status == "errored"  # ended with the failed run, no outcome
    assert finish_dagster_run(instance, "unknown-run", "completed") is None


def test_finish_dagster_run_gives_the_outcome_to_the_latest_attempt_only(
    sqlite_catalog: Catalog,
) -> None:
    instance = sqlite_catalog.instance
    job = job_run_spec(RUN_ID, "etl")
    for attempt in (1, 2):
        start_step_run(instance, job, step_run_spec(_step("clean", attempt=attempt)))
    first = sqlite_catalog.runs()[1]
    first.status, first.finished_at = "started", None  # as if the retry could not close it
    instance.session.commit()
    at = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)

    finish_dagster_run(
        instance, RUN_ID, "completed", outcomes={"clean": StepOutcome("completed", at)}
    )

    first, second = sqlite_catalog.runs()[1:]
    assert (first.status, second.status, second.finished_at) == ("errored", "completed", at)
    assert first.finished_at is not None and first.finished_at <= second.started_at


class Flaky:
    """A step body that fails on its first `failures` calls."""

    def __init__(self, failures: int) -> None:
        self.failures = failures

    def __call__(self) -> None:
        if self.failures:
            self.failures -= 1
            raise RuntimeError("transient failure")


def _pipeline(flaky: Flaky, *, retries: int = 0) -> list[dg.AssetsDefinition]:
    @lamin_asset(code_version="7")
    def table() -> pd.DataFrame:
        return pd.DataFrame({"x": [1, 2, 3]})

    @lamin_asset(retry_policy=dg.RetryPolicy(max_retries=retries) if retries else None)
    def checked(table: pd.DataFrame) -> pd.DataFrame:
        flaky()
        return table.assign(y=table["x"] * 2)

    @dg.asset
    def plain(checked: pd.DataFrame) -> pd.DataFrame:
        return checked.head(1)

    return [table, checked, plain]


def test_materialize_maps_the_run_and_each_step(
    catalog: Catalog, dagster_instance: dg.DagsterInstance
) -> None:
    result = dg.materialize(
        _pipeline(Flaky(0)), resources=catalog.resources(), instance=dagster_instance
    )
    record_run_end(catalog.instance, dagster_instance, result.run_id)

    parent, *steps = catalog.runs()
    assert (parent.reference, parent.reference_type) == (result.run_id, "dagster")
    assert parent.transform.key == "__ephemeral_asset_job__"
    assert parent.transform.type == "pipeline"
    assert parent.status == "completed" and parent.finished_at is not None
    assert [(s.name, s.status, s.initiated_by_run_id) for s in steps] == [
        ("table", "completed", parent.id),
        ("checked", "completed", parent.id),
        ("plain", "completed", parent.id),
    ]
    assert all(s.finished_at is not None for s in steps)
    table_transform = steps[0].transform
    assert (table_transform.key, table_transform.type, table_transform.version) == (
        "table",
        "dagster_asset",
        "7",
    )
    by_key = {a.key: a for a in catalog.artifacts()}
    assert by_key["plain.parquet"].run.input_artifacts[0].key == "checked.parquet"


def test_a_failing_step_is_errored_and_downstream_never_starts(
    sqlite_catalog: Catalog, dagster_instance: dg.DagsterInstance
) -> None:
    result = dg.materialize(
        _pipeline(Flaky(5)),
        resources=sqlite_catalog.resources(),
        instance=dagster_instance,
        raise_on_error=False,
    )

    assert not result.success
    parent, *steps = sqlite_catalog.runs()
    by_name = {s.name: s for s in steps}
    assert set(by_name) == {"table", "checked"}
    assert by_name["table"].status == "completed"
    assert by_name["checked"].status == "errored" and by_name["checked"].finished_at is not None
    assert parent.status == "errored" and parent.finished_at is None

    record_run_end(sqlite_catalog.instance, dagster_instance, result.run_id)

    (parent,) = sqlite_catalog.runs(reference=result.run_id)
    assert parent.status == "errored" and parent.finished_at is not None
    assert [a.key for a in sqlite_catalog.artifacts()] == ["table.parquet"]


def _retried_pipeline(flaky: Flaky, decorator: Any) -> list[dg.AssetsDefinition]:
    """Return `table` and `checked`, whose attempts save a log, then fail as `flaky` says."""

    @dg.asset
    def table() -> pd.DataFrame:
        return pd.DataFrame({"x": [1, 2, 3]})

    @decorator(retry_policy=dg.RetryPolicy(max_retries=3))
    def checked(
        context: dg.AssetExecutionContext, table: pd.DataFrame, lamin: LaminResource
    ) -> pd.DataFrame:
        attempt = context.retry_number + 1
        with lamin.track(context):
            log = pd.DataFrame({"attempt": [attempt]})
            ln.Artifact.from_df(log, key="logs/checked.parquet").save()
        flaky()
        return table.assign(attempt=attempt)

    return [table, checked]


@pytest.mark.parametrize("failures", [1, 2])
@pytest.mark.parametrize("decorator", [lamin_asset, dg.asset], ids=["lamin_asset", "asset"])
def test_a_retried_step_gets_a_run_per_attempt_credited_with_its_own_artifacts(
    catalog: Catalog, dagster_instance: dg.DagsterInstance, failures: int, decorator: Any
) -> None:
    result = dg.materialize(
        _retried_pipeline(Flaky(failures), decorator),
        resources=catalog.resources(),
        instance=dagster_instance,
    )
    record_run_end(catalog.instance, dagster_instance, result.run_id)

    assert result.success
    parent = catalog.runs(reference=result.run_id, reference_type="dagster")[0]
    attempts = [r for r in catalog.runs(reference=f"{result.run_id}/checked")]
    assert [r.params["attempt"] for r in attempts] == list(range(1, failures + 2))
    assert [r.name for r in attempts] == [
        "checked" if n == 1 else f"checked (attempt {n})" for n in range(1, failures + 2)
    ]
    assert [r.status for r in attempts] == ["errored"] * failures + ["completed"]
    assert all(r.finished_at is not None for r in attempts)
    assert {r.initiated_by_run_id for r in attempts} == {parent.id}
    (table,) = catalog.artifacts(key="table.parquet")
    logs = catalog.artifacts(key="logs/checked.parquet")
    (output,) = catalog.artifacts(key="checked.parquet")
    for run, log in zip(attempts, logs, strict=True):
        # each attempt is credited with what it saved, and records what it loaded
        assert log.run_id == run.id and log.load()["attempt"].tolist() == [run.params["attempt"]]
        assert [a.uid for a in run.input_artifacts] == [table.uid]
    assert output.run_id == attempts[-1].id
    assert output.load()["attempt"].tolist() == [failures + 1] * 3
    assert sorted(a.key for a in attempts[-1].output_artifacts) == [
        "checked.parquet",
        "logs/checked.parquet",
    ]


def test_plain_assets_are_closed_by_the_run_end_sensor(
    sqlite_catalog: Catalog, dagster_instance: dg.DagsterInstance
) -> None:
    @dg.asset
    def source() -> pd.DataFrame:
        return pd.DataFrame({"x": [1]})

    @dg.asset
    def broken(source: pd.DataFrame) -> pd.DataFrame:
        raise ValueError("bad column")

    resources = sqlite_catalog.resources()
    result = dg.materialize(
        [source, broken], resources=resources, instance=dagster_instance, raise_on_error=False
    )
    assert {r.status for r in sqlite_catalog.runs()} == {"started"}  # no hooks on plain assets
    run = dagster_instance.get_run_by_id(result.run_id)
    failure_sensor = next(s for s in lamin_run_sensors() if "failure" in s.name)
    with dg.build_run_status_sensor_context(
        sensor_name=failure_sensor.name,
        dagster_instance=dagster_instance,
        dagster_run=run,
        dagster_event=dagster_instance.all_logs(
            result.run_id, of_type=dg.DagsterEventType.RUN_FAILURE
        )[0].dagster_event,
        resources={"lamin": resources["lamin"]},
    ) as context:
        failure_sensor(context)

    by_name = {r.name: r for r in sqlite_catalog.runs()}
    assert by_name["__ephemeral_asset_job__"].status == "errored"
    assert (by_name["source"].status, by_name["broken"].status) == ("completed", "errored")
    assert all(r.finished_at is not None for r in by_name.values())
