"""The pure mapping of Dagster runs and steps to catalog Runs and Transforms (no Dagster, no DB)."""

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lamin_dagster.mapping import (
    StepInfo,
    TransformSpec,
    attempt_of,
    catalog_status,
    job_run_spec,
    step_outcomes,
    step_reference,
    step_run_spec,
    step_transform_spec,
)

RUN_ID = "6c1b9f3e-0d5a-4e4b-9a53-0c3f8b7a1d22"


def test_job_run_spec_references_the_dagster_run() -> None:
    spec = job_run_spec(RUN_ID, "daily_job")

    assert (spec.reference, spec.reference_type) == (RUN_ID, "dagster")
    assert spec.transform == TransformSpec(
        key="daily_job", type="pipeline", description="Dagster job daily_job"
    )


@pytest.mark.parametrize(
    ("asset_keys", "code_version", "expected"),
    [
        (
            ("raw/iris",),
            "3",
            TransformSpec("raw/iris", "dagster_asset", "3", "Dagster asset raw/iris"),
        ),
        ((), None, TransformSpec("etl/clean", "dagster_op", None, "Dagster op etl/clean")),
        (
            ("a", "b"),
            "1",
            TransformSpec("clean", "dagster_asset", "1", "Dagster multi-asset clean: a, b"),
        ),
    ],
)
def test_step_transform_is_the_asset_or_the_op(
    asset_keys: tuple[str, ...], code_version: str | None, expected: TransformSpec
) -> None:
    step = StepInfo(
        run_id=RUN_ID,
        job_name="etl",
        step_key="clean",
        op_name="clean",
        asset_keys=asset_keys,
        code_version=code_version,
    )

    assert step_transform_spec(step) == expected


def test_step_run_spec_is_keyed_by_run_and_step() -> None:
    step = StepInfo(RUN_ID, "etl", "raw__iris", "raw__iris", ("raw/iris",), "2", attempt=2)

    spec = step_run_spec(step)

    assert spec.reference == f"{RUN_ID}/raw__iris"
    assert spec.reference_type == "dagster_step"
    assert spec.name == "raw__iris (attempt 2)"
    assert step_run_spec(StepInfo(RUN_ID, "etl", "raw__iris", "raw__iris")).name == "raw__iris"
    assert spec.params == {
        "dagster_run_id": RUN_ID,
        "step_key": "raw__iris",
        "job_name": "etl",
        "attempt": 2,
    }


@given(
    # step keys as Dagster makes them: op names, graph.op handles, [mapping keys]
    step_key=st.from_regex(
        r"[A-Za-z0-9_]{1,200}(\.[A-Za-z0-9_]{1,200})?(\[[A-Za-z0-9_]{1,50}\])?", fullmatch=True
    ),
    attempts=st.lists(st.integers(1, 10_000), min_size=1, max_size=5, unique=True),
)
def test_step_run_spec_tells_attempts_apart_by_params_and_name(
    step_key: str, attempts: list[int]
) -> None:
    specs = [
        step_run_spec(StepInfo(RUN_ID, "etl", step_key, step_key, attempt=n)) for n in attempts
    ]

    assert {spec.reference for spec in specs} == {step_reference(RUN_ID, step_key)}
    assert [attempt_of(spec.params) for spec in specs] == attempts
    assert len({spec.name for spec in specs}) == len(
        attempts
    )  # a list of Runs shows which is which
    for spec, attempt in zip(specs, attempts, strict=True):
        assert len(spec.name) <= 255
        assert spec.name.endswith(f" (attempt {attempt})") == (attempt > 1)


def test_attempt_of_runs_recorded_without_an_attempt_is_the_first() -> None:
    assert (attempt_of(None), attempt_of({}), attempt_of({"attempt": 3})) == (1, 1, 3)


def test_step_reference_of_a_long_step_key_fits_and_stays_unique() -> None:
    first = step_reference(RUN_ID, "x" * 400 + "a")
    second = step_reference(RUN_ID, "x" * 400 + "b")

    assert len(first) == len(second) == 255
    assert first != second and first.startswith(f"{RUN_ID}/xxx")


@pytest.mark.parametrize(
    ("dagster_status", "expected"),
    [
        ("SUCCESS", "completed"),
        ("FAILURE", "errored"),
        ("CANCELED", "aborted"),
        ("DagsterRunStatus.STARTED", "started"),
    ],
)
def test_catalog_status_maps_dagster_run_statuses(dagster_status: str, expected: str) -> None:
    assert catalog_status(dagster_status) == expected


def test_catalog_status_rejects_unknown_statuses_with_the_choices() -> None:
    with pytest.raises(ValueError, match=r"Unknown Dagster run status 'DONE'; known: .*SUCCESS"):
        catalog_status("DONE")


def test_step_outcomes_take_the_latest_event_per_step() -> None:
    events = [
        ("STEP_START", "a", 10.0),
        ("STEP_UP_FOR_RETRY", "a", 11.0),
        ("STEP_SUCCESS", "a", 13.0),
        ("STEP_RESTARTED", "a", 12.0),
        ("STEP_START", "b", 10.0),
        ("STEP_FAILURE", "b", 14.0),
        ("STEP_START", "c", 15.0),
        ("ASSET_MATERIALIZATION", "c", 16.0),
        ("RUN_SUCCESS", None, 20.0),
    ]

    outcomes = step_outcomes(events)

    assert {key: outcome.status for key, outcome in outcomes.items()} == {
        "a": "completed",
        "b": "errored",
        "c": "started",
    }
    assert outcomes["b"].at == dt.datetime.fromtimestamp(14.0, tz=dt.timezone.utc)
