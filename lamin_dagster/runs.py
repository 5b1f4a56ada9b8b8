"""Catalog Runs and Transforms for Dagster runs and steps: get-or-create, start, finish.

Several processes write the same records at once (the multiprocess executor starts steps
together; hooks and sensors finish them), and neither `Run.reference` nor a transform's
``(key, version)`` is unique in the schema. So every get-or-create here runs in one transaction
that first takes the catalog's lock `RUNS_LOCK` (``instance.writing(lock=RUNS_LOCK)``): on
PostgreSQL an advisory transaction lock, on SQLite the database write lock. Only these few
statements are serialised; artifact saves are not.
Everything is idempotent: starting or finishing a step twice changes nothing the second time.

Each attempt of a step has its own Run (all with the step's reference, told apart by
``params["attempt"]``): starting attempt n closes the earlier attempts still open as errored,
since Dagster only retries a step whose previous attempt failed or died.

Whoever needs to know when Runs end (the resource's OpenLineage emission) registers with
`on_runs_finished`: every function here that closes Runs tells it which, once they are committed.
"""

from __future__ import annotations

import datetime as dt
import itertools
import weakref
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, TypeAlias

import lamin_core as ln
from lamin_dagster.mapping import (
    ERRORED,
    FINAL_STEP_STATUSES,
    RUN_REFERENCE_TYPE,
    STARTED,
    STEP_REFERENCE_TYPE,
    RunSpec,
    StepOutcome,
    TransformSpec,
    attempt_of,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

# SQLAlchemy and the models are imported by the functions that query, not here: every step
# process of Dagster's multiprocess executor imports this module, most never query

# the lock that serialises get-or-create of runs and transforms, across processes
RUNS_LOCK = "lamin_dagster:runs"

RunsFinished: TypeAlias = "Callable[[ln.Instance, list[ln.Run]], None]"
# a listener lives as long as the catalog it was registered for
_listeners: weakref.WeakKeyDictionary[ln.Instance, RunsFinished] = weakref.WeakKeyDictionary()


def on_runs_finished(instance: ln.Instance, listener: RunsFinished | None) -> None:
    """Call ``listener(instance, runs)`` whenever Runs of `instance` are closed here.

    It is called after the closing transaction commits, with the Runs it closed. One listener
    per catalog: registering again replaces it; None removes it.
    """
    if listener is None:
        _listeners.pop(instance, None)
    else:
        _listeners[instance] = listener


def _tell_finished(instance: ln.Instance, runs: list[ln.Run]) -> None:
    listener = _listeners.get(instance)
    if listener is not None and runs:
        listener(instance, runs)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _transform(instance: ln.Instance, spec: TransformSpec) -> ln.Transform:
    """Return the Transform of a spec, by lamin_core's rule (the same as ``ln.track()``'s)."""
    from lamin_core.tracking import get_or_create_transform

    return get_or_create_transform(
        spec.key,
        type=spec.type,
        version=spec.version,
        description=spec.description,
        reference_type=RUN_REFERENCE_TYPE,
        instance=instance,
    )


def _find_run(session: Session, reference: str, reference_type: str) -> ln.Run | None:
    import sqlalchemy as sa

    return session.scalars(
        sa.select(ln.Run)
        .where(ln.Run.reference == reference, ln.Run.reference_type == reference_type)
        .order_by(ln.Run.id)
        .limit(1)
    ).first()


def _step_attempts(session: Session, reference: str) -> list[ln.Run]:
    """Return the Runs of every attempt of a step, first attempt first."""
    import sqlalchemy as sa

    runs = session.scalars(
        sa.select(ln.Run).where(
            ln.Run.reference == reference, ln.Run.reference_type == STEP_REFERENCE_TYPE
        )
    ).all()
    return sorted(runs, key=lambda run: (attempt_of(run.params), run.id))


def _create_run(
    session: Session, instance: ln.Instance, spec: RunSpec, parent: ln.Run | None = None
) -> ln.Run:
    run = ln.Run(
        transform=_transform(instance, spec.transform),
        name=spec.name,
        reference=spec.reference,
        reference_type=spec.reference_type,
        params=dict(spec.params),
        status=STARTED,
        started_at=_utcnow(),
        initiated_by_run=parent,
        created_by_id=instance.user_id,
    )
    session.add(run)
    session.flush()
    return run


def start_step_run(instance: ln.Instance, job: RunSpec, step: RunSpec) -> ln.Run:
    """Return the catalog Run of a step's attempt, creating it (and its run's Run) when missing.

    Creating the Run of attempt n closes the Runs of earlier attempts that are still open as
    ``errored``: Dagster starts another attempt only after the previous one failed or died.

    Args:
        instance: The catalog.
        job: The spec of the Dagster run's Run (the parent).
        step: The spec of the step's Run, with the attempt in ``params["attempt"]``.

    Returns:
        The attempt's Run, attached to the calling thread's session of `instance`.
    """
    attempt = attempt_of(step.params)
    closed: list[ln.Run] = []
    with instance.writing(lock=RUNS_LOCK) as session:
        parent = _find_run(session, job.reference, job.reference_type)
        if parent is None:
            parent = _create_run(session, instance, job)
        attempts = _step_attempts(session, step.reference)
        run = next((r for r in attempts if attempt_of(r.params) == attempt), None)
        if run is None:
            run = _create_run(session, instance, step, parent)
            for earlier in attempts:
                if attempt_of(earlier.params) < attempt and earlier.status == STARTED:
                    earlier.status, earlier.finished_at = ERRORED, run.started_at
                    closed.append(earlier)
    _tell_finished(instance, closed)
    return run


def finish_step_run(
    instance: ln.Instance, reference: str, status: str, *, at: dt.datetime | None = None
) -> ln.Run | None:
    """Close the Run of a step's latest attempt; a failure marks its run's Run errored too.

    Returns:
        The updated Run, or None when the step never reached the catalog.
    """
    with instance.writing() as session:
        attempts = _step_attempts(session, reference)
        if not attempts:
            return None
        run = attempts[-1]
        run.status = status
        run.finished_at = at or _utcnow()
        parent = run.initiated_by_run
        if status == ERRORED and parent is not None and parent.finished_at is None:
            # the Dagster run will end as a failure; say so before the run-end sensor does
            parent.status = ERRORED
    _tell_finished(instance, [run])
    return run


def finish_dagster_run(
    instance: ln.Instance,
    run_id: str,
    status: str,
    *,
    at: dt.datetime | None = None,
    outcomes: Mapping[str, StepOutcome] | None = None,
) -> ln.Run | None:
    """Close the Run of a finished Dagster run and any of its step Runs still open.

    The latest attempt of each step takes the step's outcome from Dagster's event log
    (`outcomes`, by step key); a step with no final outcome ended with the run (killed, or its
    process died): it gets the run's status. Earlier attempts still open did not succeed (Dagster
    retried them): they end ``errored`` when the next attempt started.

    Returns:
        The run's Run, or None when no step of the run touched the catalog.
    """
    import sqlalchemy as sa

    finished_at = at or _utcnow()
    outcomes = outcomes or {}
    closed: list[ln.Run] = []
    with instance.writing() as session:
        run = _find_run(session, run_id, RUN_REFERENCE_TYPE)
        if run is None:
            return None
        run.status = status
        run.finished_at = finished_at
        closed.append(run)
        by_step: dict[str, list[ln.Run]] = {}
        for step_run in session.scalars(
            sa.select(ln.Run).where(ln.Run.initiated_by_run_id == run.id).order_by(ln.Run.id)
        ):
            step_key = (step_run.params or {}).get("step_key", step_run.name or "")
            by_step.setdefault(step_key, []).append(step_run)
        for step_key, attempts in by_step.items():
            attempts.sort(key=lambda r: (attempt_of(r.params), r.id))
            for earlier, later in itertools.pairwise(attempts):
                if _is_open(earlier):
                    earlier.status, earlier.finished_at = ERRORED, later.started_at
                    closed.append(earlier)
            latest = attempts[-1]
            if not _is_open(latest):
                continue
            outcome = outcomes.get(step_key)
            if outcome is not None and outcome.status in FINAL_STEP_STATUSES:
                latest.status, latest.finished_at = outcome.status, outcome.at
            else:
                latest.status, latest.finished_at = status, finished_at
            closed.append(latest)
    _tell_finished(instance, closed)
    return run


def _is_open(run: ln.Run) -> bool:
    return run.finished_at is None or run.status == STARTED


def open_dagster_run_ids(instance: ln.Instance) -> set[str]:
    """Return the ids of the Dagster runs that have catalog Runs still ``started``.

    One statement, on the indexed `status` column: cheap when nothing is open.
    """
    import sqlalchemy as sa

    # a connection of its own: the caller's session (and what it has pending) is not touched
    with instance.engine.connect() as connection:
        rows = connection.execute(
            sa.select(ln.Run.reference).where(
                ln.Run.status == STARTED,
                ln.Run.reference_type.in_((RUN_REFERENCE_TYPE, STEP_REFERENCE_TYPE)),
            )
        ).all()
    # a step's reference starts with its run id (`step_reference`); run ids have no "/"
    return {reference.split("/", 1)[0] for (reference,) in rows if reference}
