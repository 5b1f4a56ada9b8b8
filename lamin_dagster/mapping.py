"""How Dagster runs and steps map onto catalog Runs and Transforms, as pure functions.

Nothing here touches Dagster or a database: the functions take plain values (run ids, step keys,
asset keys, code versions, event types) and return specs. `lamin_dagster.runs` turns specs into
records with get-or-create keyed on `reference`, so the same Dagster run or step never makes two
catalog Runs, whichever process (step, hook, sensor) gets there first. Keeping the mapping pure
lets the tests pin it down without starting Dagster.

The mapping:

- a Dagster run -> a Run with ``reference=<run id>``, ``reference_type="dagster"``, of a Transform
  keyed by the job name (type ``"pipeline"``);
- each attempt of a step -> a Run with ``reference=<run id>/<step key>``,
  ``reference_type="dagster_step"``, the attempt in ``params["attempt"]`` (and in the name from
  the second attempt on: ``"<step key> (attempt 2)"``), ``initiated_by_run`` the run's Run, of a
  Transform keyed by the asset key (type ``"dagster_asset"``) or ``<job>/<op>`` (type
  ``"dagster_op"``), versioned by the code version. A retry gets its own Run, so what a failed
  attempt saved and loaded stays credited to that attempt.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

RUN_REFERENCE_TYPE = "dagster"
STEP_REFERENCE_TYPE = "dagster_step"
JOB_TRANSFORM_TYPE = "pipeline"
ASSET_TRANSFORM_TYPE = "dagster_asset"
OP_TRANSFORM_TYPE = "dagster_op"
REFERENCE_MAX_LENGTH = 255

STARTED = "started"
COMPLETED = "completed"
ERRORED = "errored"
ABORTED = "aborted"
SKIPPED = "skipped"

# Dagster run statuses (DagsterRunStatus values) -> catalog Run statuses.
_RUN_STATUSES = {
    "QUEUED": STARTED,
    "NOT_STARTED": STARTED,
    "MANAGED": STARTED,
    "STARTING": STARTED,
    "STARTED": STARTED,
    "SUCCESS": COMPLETED,
    "FAILURE": ERRORED,
    "CANCELING": ABORTED,
    "CANCELED": ABORTED,
}

# Step event types (DagsterEventType values) -> the step's status once that event happened.
_STEP_EVENT_STATUSES = {
    "STEP_START": STARTED,
    "STEP_RESTARTED": STARTED,
    "STEP_UP_FOR_RETRY": STARTED,
    "STEP_SUCCESS": COMPLETED,
    "STEP_FAILURE": ERRORED,
    "STEP_SKIPPED": SKIPPED,
}
FINAL_STEP_STATUSES = frozenset({COMPLETED, ERRORED, SKIPPED})


@dataclass(frozen=True)
class TransformSpec:
    """What identifies the Transform of a job or step: key, type and (code) version."""

    key: str
    type: str
    version: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class RunSpec:
    """What identifies a catalog Run of a Dagster run or step, and what it records."""

    reference: str
    reference_type: str
    name: str
    transform: TransformSpec
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StepInfo:
    """The facts about one Dagster step that decide its catalog records.

    Attributes:
        run_id: The Dagster run id.
        job_name: The job the step runs in (``__ASSET_JOB`` for ad-hoc materializations).
        step_key: The step key, unique within the run.
        op_name: The op's handle (``graph.op`` inside graphs).
        asset_keys: The asset keys the step materializes, as ``a/b`` strings.
        code_version: The code version of the asset or op, if declared.
        attempt: 1 for the first attempt, 2 for the first retry, ...
    """

    run_id: str
    job_name: str
    step_key: str
    op_name: str
    asset_keys: tuple[str, ...] = ()
    code_version: str | None = None
    attempt: int = 1


@dataclass(frozen=True)
class StepOutcome:
    """How a step ended according to Dagster's event log."""

    status: str
    at: dt.datetime


def asset_key_string(path: Sequence[str]) -> str:
    """Return an asset key path as the ``a/b/c`` string used for catalog keys and transforms."""
    return "/".join(path)


def job_run_spec(run_id: str, job_name: str) -> RunSpec:
    """Return the spec of the catalog Run that stands for a whole Dagster run.

    Examples:
        >>> job_run_spec("6c1b...", "daily_job").reference_type
        'dagster'
    """
    return RunSpec(
        reference=run_id,
        reference_type=RUN_REFERENCE_TYPE,
        name=job_name[:REFERENCE_MAX_LENGTH],
        transform=TransformSpec(
            key=job_name, type=JOB_TRANSFORM_TYPE, description=f"Dagster job {job_name}"
        ),
        params={"dagster_run_id": run_id, "job_name": job_name},
    )


def step_transform_spec(step: StepInfo) -> TransformSpec:
    """Return the Transform of a step: its asset, or its op within the job.

    A step that materializes one asset is that asset's transform, whichever job runs it; a
    multi-asset step is its op's; an op outside assets is ``<job>/<op>``.
    """
    if len(step.asset_keys) == 1:
        key = step.asset_keys[0]
        return TransformSpec(
            key=key,
            type=ASSET_TRANSFORM_TYPE,
            version=step.code_version,
            description=f"Dagster asset {key}",
        )
    if step.asset_keys:
        return TransformSpec(
            key=step.op_name,
            type=ASSET_TRANSFORM_TYPE,
            version=step.code_version,
            description=f"Dagster multi-asset {step.op_name}: {', '.join(step.asset_keys)}",
        )
    key = f"{step.job_name}/{step.op_name}"
    return TransformSpec(
        key=key, type=OP_TRANSFORM_TYPE, version=step.code_version, description=f"Dagster op {key}"
    )


def step_reference(run_id: str, step_key: str) -> str:
    """Return the reference of a step's Run: ``<run id>/<step key>``, shortened to fit 255 chars.

    Over-long step keys are replaced by a digest, so the reference stays unique and stable.
    """
    reference = f"{run_id}/{step_key}"
    if len(reference) <= REFERENCE_MAX_LENGTH:
        return reference
    digest = hashlib.sha256(step_key.encode()).hexdigest()
    return f"{run_id}/{step_key[: REFERENCE_MAX_LENGTH - len(run_id) - 66]}~{digest}"


def step_run_spec(step: StepInfo) -> RunSpec:
    """Return the spec of the catalog Run of one attempt of a step (its parent: `job_run_spec`).

    All attempts share the step's reference; ``params["attempt"]`` tells them apart.

    Examples:
        >>> step_run_spec(StepInfo("6c1b...", "etl", "clean", "clean", attempt=2)).name
        'clean (attempt 2)'
    """
    suffix = f" (attempt {step.attempt})" if step.attempt > 1 else ""
    return RunSpec(
        reference=step_reference(step.run_id, step.step_key),
        reference_type=STEP_REFERENCE_TYPE,
        name=step.step_key[: REFERENCE_MAX_LENGTH - len(suffix)] + suffix,
        transform=step_transform_spec(step),
        params={
            "dagster_run_id": step.run_id,
            "step_key": step.step_key,
            "job_name": step.job_name,
            "attempt": step.attempt,
        },
    )


def attempt_of(params: Mapping[str, Any] | None) -> int:
    """Return the attempt number recorded in a step Run's params (1 when none is recorded)."""
    return int((params or {}).get("attempt", 1))


def catalog_status(dagster_run_status: str) -> str:
    """Return the catalog Run status for a Dagster run status (``"SUCCESS"`` -> ``"completed"``).

    Raises:
        ValueError: the status is not a Dagster run status.
    """
    name = dagster_run_status.rsplit(".", 1)[-1].upper()
    try:
        return _RUN_STATUSES[name]
    except KeyError:
        raise ValueError(
            f"Unknown Dagster run status {dagster_run_status!r}; known: "
            f"{', '.join(sorted(_RUN_STATUSES))}."
        ) from None


def step_outcomes(events: Iterable[tuple[str, str | None, float]]) -> dict[str, StepOutcome]:
    """Return each step's latest status from (event type, step key, unix timestamp) triples.

    Later events win, so a step that failed, was retried and then succeeded is ``completed``,
    and a step whose last event is a retry request is still ``started``.
    """
    outcomes: dict[str, StepOutcome] = {}
    for event_type, step_key, timestamp in sorted(events, key=lambda event: event[2]):
        status = _STEP_EVENT_STATUSES.get(event_type)
        if status is None or step_key is None:
            continue
        at = dt.datetime.fromtimestamp(timestamp, tz=dt.timezone.utc)
        outcomes[step_key] = StepOutcome(status=status, at=at)
    return outcomes
