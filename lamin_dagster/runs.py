"""Catalog Runs and Transforms for Dagster runs and steps: get-or-create, start, finish.

Several processes write the same records at once (the multiprocess executor starts steps
together; hooks and sensors finish them), and neither `Run.reference` nor a transform's
``(key, version)`` is unique in the schema. So every get-or-create here runs in one transaction
that first takes a write lock on the catalog's Storage row: on PostgreSQL a row lock, on SQLite
the database write lock. Only these few statements are serialised; artifact saves are not.
Everything is idempotent: starting or finishing a step twice changes nothing the second time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import sqlalchemy as sa
from sqlalchemy.orm import Session

import lamin_core as ln
from lamin_core.versioning import assign_next_version, latest_with_key
from lamin_dagster.mapping import (
    ERRORED,
    FINAL_STEP_STATUSES,
    RUN_REFERENCE_TYPE,
    STARTED,
    STEP_REFERENCE_TYPE,
    RunSpec,
    StepOutcome,
    TransformSpec,
)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _lock_catalog(session: Session, instance: ln.Instance) -> None:
    """Take the write lock that serialises get-or-create of runs and transforms."""
    storage = ln.Storage.__table__
    session.execute(
        sa.update(storage).where(storage.c.id == instance.storage_id).values(root=storage.c.root)
    )


def _get_or_create_transform(
    session: Session, instance: ln.Instance, spec: TransformSpec
) -> ln.Transform:
    statement = sa.select(ln.Transform).where(
        ln.Transform.key == spec.key, ln.Transform.type == spec.type
    )
    if spec.version is not None:
        statement = statement.where(ln.Transform.version == spec.version)
    else:
        statement = statement.where(ln.Transform.is_latest.is_(True))
    existing = session.scalars(statement.order_by(ln.Transform.id.desc()).limit(1)).first()
    if existing is not None:
        return existing
    transform = ln.Transform(
        key=spec.key,
        type=spec.type,
        version=spec.version,
        description=spec.description,
        reference_type=RUN_REFERENCE_TYPE,
        created_by_id=instance.user_id,
    )
    prior = latest_with_key(session, ln.Transform, spec.key)
    if prior is not None:
        assign_next_version(session, transform, prior)
    elif transform.version is None:
        transform.version = "1"
    session.add(transform)
    session.flush()
    return transform


def _find_run(session: Session, reference: str, reference_type: str) -> ln.Run | None:
    return session.scalars(
        sa.select(ln.Run)
        .where(ln.Run.reference == reference, ln.Run.reference_type == reference_type)
        .order_by(ln.Run.id)
        .limit(1)
    ).first()


def _get_or_create_run(
    session: Session, instance: ln.Instance, spec: RunSpec, parent: ln.Run | None = None
) -> tuple[ln.Run, bool]:
    existing = _find_run(session, spec.reference, spec.reference_type)
    if existing is not None:
        return existing, False
    run = ln.Run(
        transform=_get_or_create_transform(session, instance, spec.transform),
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
    return run, True


def start_step_run(
    instance: ln.Instance, job: RunSpec, step: RunSpec, *, restart: bool = False
) -> ln.Run:
    """Return the catalog Run of a step, creating it (and its run's Run) when missing.

    Args:
        instance: The catalog.
        job: The spec of the Dagster run's Run (the parent).
        step: The spec of the step's Run.
        restart: The step (re)starts now: an existing Run goes back to ``started`` with this
            attempt's params, as on a retry. Otherwise an existing Run is returned unchanged.

    Returns:
        The step's Run, attached to the calling thread's session of `instance`.
    """
    session = instance.session
    try:
        _lock_catalog(session, instance)
        parent, _ = _get_or_create_run(session, instance, job)
        run, created = _get_or_create_run(session, instance, step, parent)
        if restart and not created:
            run.status = STARTED
            run.finished_at = None
            run.params = {**(run.params or {}), **step.params}
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return run


def finish_step_run(
    instance: ln.Instance, reference: str, status: str, *, at: dt.datetime | None = None
) -> ln.Run | None:
    """Set a step Run's status and `finished_at`; a failed step marks its run's Run errored too.

    Returns:
        The updated Run, or None when the step never reached the catalog.
    """
    session = instance.session
    try:
        run = _find_run(session, reference, STEP_REFERENCE_TYPE)
        if run is None:
            session.rollback()
            return None
        run.status = status
        run.finished_at = at or _utcnow()
        parent = run.initiated_by_run
        if status == ERRORED and parent is not None and parent.finished_at is None:
            # the Dagster run will end as a failure; say so before the run-end sensor does
            parent.status = ERRORED
        session.commit()
    except BaseException:
        session.rollback()
        raise
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

    Step Runs take their outcome from Dagster's event log (`outcomes`, by step key); a step
    with no final outcome ended with the run (killed, or its process died): it gets the run's
    status.

    Returns:
        The run's Run, or None when no step of the run touched the catalog.
    """
    session = instance.session
    finished_at = at or _utcnow()
    outcomes = outcomes or {}
    try:
        run = _find_run(session, run_id, RUN_REFERENCE_TYPE)
        if run is None:
            session.rollback()
            return None
        run.status = status
        run.finished_at = finished_at
        for step_run in session.scalars(
            sa.select(ln.Run).where(ln.Run.initiated_by_run_id == run.id)
        ):
            if step_run.finished_at is not None and step_run.status != STARTED:
                continue
            outcome = outcomes.get((step_run.params or {}).get("step_key", step_run.name or ""))
            if outcome is not None and outcome.status in FINAL_STEP_STATUSES:
                step_run.status, step_run.finished_at = outcome.status, outcome.at
            else:
                step_run.status, step_run.finished_at = status, finished_at
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return run
