"""Dagster's run status as the truth for catalog Runs: close the Runs of finished Dagster runs.

A step killed with its process (the OOM killer, SIGKILL, a lost node) never runs its hooks, so
its catalog Run stays ``started``; the run-end sensors fix that only where the Dagster daemon
runs. So the IO manager and the resource, whenever they start, also call `close_finished_runs`:
it asks Dagster about every run the catalog still shows as started and closes those Dagster
reports finished (success, failure, canceled), with Dagster's status and end time and each
step's outcome from the run's event log. Runs Dagster does not know (another Dagster instance)
and runs still going are left alone. With nothing open it costs one indexed query.
"""

from __future__ import annotations

import datetime as dt

import dagster as dg

import lamin_core as ln
from lamin_dagster.mapping import catalog_status, step_outcomes
from lamin_dagster.runs import finish_dagster_run, open_dagster_run_ids

FINISHED_STATUSES = (
    dg.DagsterRunStatus.SUCCESS,
    dg.DagsterRunStatus.FAILURE,
    dg.DagsterRunStatus.CANCELED,
)
_STEP_EVENTS = {
    dg.DagsterEventType.STEP_START,
    dg.DagsterEventType.STEP_RESTARTED,
    dg.DagsterEventType.STEP_UP_FOR_RETRY,
    dg.DagsterEventType.STEP_SUCCESS,
    dg.DagsterEventType.STEP_FAILURE,
    dg.DagsterEventType.STEP_SKIPPED,
}


def _close_run(
    instance: ln.Instance, dagster_instance: dg.DagsterInstance, record: dg.RunRecord
) -> ln.Run | None:
    run_id = record.dagster_run.run_id
    events = [
        (entry.dagster_event.event_type_value, entry.step_key, entry.timestamp)
        for entry in dagster_instance.all_logs(run_id, of_type=_STEP_EVENTS)
        if entry.dagster_event is not None
    ]
    end = record.end_time
    at = dt.datetime.fromtimestamp(end, tz=dt.timezone.utc) if end is not None else None
    return finish_dagster_run(
        instance,
        run_id,
        catalog_status(record.dagster_run.status.value),
        at=at,
        outcomes=step_outcomes(events),
    )


def record_run_end(
    instance: ln.Instance, dagster_instance: dg.DagsterInstance, run_id: str
) -> ln.Run | None:
    """Close the catalog Run of a finished Dagster run, and its open step Runs.

    Args:
        instance: The catalog.
        dagster_instance: The Dagster instance that holds the run's event log.
        run_id: The Dagster run id.

    Returns:
        The run's catalog Run, or None when the run did not touch the catalog.
    """
    record = dagster_instance.get_run_record_by_id(run_id)
    if record is None:
        return None
    return _close_run(instance, dagster_instance, record)


def close_finished_runs(
    instance: ln.Instance,
    dagster_instance: dg.DagsterInstance,
    *,
    current_run_id: str | None = None,
) -> list[ln.Run]:
    """Close the catalog Runs still open whose Dagster run has finished, as Dagster says.

    Args:
        instance: The catalog.
        dagster_instance: The Dagster instance to ask; runs it does not know stay open.
        current_run_id: The run being executed by the caller: not looked up.

    Returns:
        The closed Runs of the Dagster runs (their step Runs are closed with them).

    Examples:
        >>> with dg.DagsterInstance.get() as dagster_instance:
        ...     close_finished_runs(lamin.get_instance(), dagster_instance)
    """
    run_ids = open_dagster_run_ids(instance) - {current_run_id}
    if not run_ids:
        return []
    records = dagster_instance.get_run_records(
        dg.RunsFilter(run_ids=sorted(run_ids), statuses=list(FINISHED_STATUSES))
    )
    closed = []
    for record in sorted(records, key=lambda r: r.create_timestamp):
        run = _close_run(instance, dagster_instance, record)
        if run is not None:
            closed.append(run)
    return closed
