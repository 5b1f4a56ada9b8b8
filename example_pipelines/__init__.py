"""Example Dagster pipelines on a lamin_core catalog, and the function `make demo` runs.

`definitions` is what ``dagster dev -w workspace.yaml`` loads (made by `build`);
`materialize_demo` runs the jobs once into a fresh catalog without a Dagster server, with the
notebook step (`analysis`, a tracked script run) between the seed pipeline and the report.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# Dagster's console log levels in quiet mode: warnings of the seed job are shown; the failing
# job's expected errors (a step failure and a run failure, each with a stack trace) are not: the
# demo reports the failed check itself, and every event is in the Dagster home regardless.
QUIET_LOG_LEVEL = "WARNING"
EXPECTED_FAILURE_LOG_LEVEL = "CRITICAL"


@dataclass
class DemoResult:
    """What `materialize_demo` made: the runs and the catalog keys of the stored artifacts."""

    seed_run_id: str
    failing_run_id: str
    report_run_id: str
    artifact_keys: list[str] = field(default_factory=list)
    failed_checks: list[str] = field(default_factory=list)
    check_descriptions: dict[str, str] = field(default_factory=dict)


def console_log_config(level: str | None) -> dict[str, Any]:
    """Return the run config that sets the level of Dagster's console logger (None: default)."""
    if level is None:
        return {}
    return {"loggers": {"console": {"config": {"log_level": level}}}}


def materialize_demo(
    storage: str,
    db: str | None = None,
    *,
    dagster_instance: Any = None,
    quiet: bool = False,
    before_failing_job: Callable[[], None] | None = None,
) -> DemoResult:
    """Materialize the seed-guide pipeline, the notebook step, the report and the failing job.

    The notebook step (`example_pipelines.analysis.cell_type_shares`) is a tracked script run
    on the catalog; the definitions are built again after it, as reloading the code location
    would, so its artifact is the external asset the report job loads.

    Args:
        storage: The catalog's storage root; the catalog is created if missing.
        db: The database URL (default: SQLite under `storage`).
        dagster_instance: Where Dagster records the runs; default: the instance of
            ``DAGSTER_HOME`` when set (so ``dagster dev`` shows the runs), else an in-memory one.
        quiet: Show only Dagster's warnings and errors for the seed job and none of the
            failing job's expected errors (its failed check is in the result), instead of
            Dagster's DEBUG log.
        before_failing_job: Called before the job that is meant to fail starts.

    Returns:
        The run ids, the keys of the artifacts in the catalog and the failed checks.
    """
    import os

    import dagster as dg
    import sqlalchemy as sa

    import lamin_core as ln
    from example_pipelines.build import build_definitions
    from lamin_dagster.run_status import record_run_end

    defs = build_definitions(storage, db)
    if dagster_instance is None:
        dagster_instance = (
            dg.DagsterInstance.get()
            if os.environ.get("DAGSTER_HOME")
            else dg.DagsterInstance.ephemeral()
        )
    seed = defs.resolve_job_def("seed_guide").execute_in_process(
        instance=dagster_instance,
        run_config=console_log_config(QUIET_LOG_LEVEL if quiet else None),
    )
    from example_pipelines.analysis import cell_type_shares
    from example_pipelines.report import SHARES_SENSOR

    with defs.resources["lamin"].activate():
        cell_type_shares()
    for resource in (defs.resources["lamin"], defs.resources["io_manager"]):
        resource.close()
    defs = build_definitions(storage, db)  # now with the shares as an external asset
    # what the shares' sensor reports under `dagster dev`: the notebook's version, as a runless
    # materialization, so the report's input has a data version and the UI shows the version
    sensor = defs.resolve_sensor_def(SHARES_SENSOR)
    with dg.build_sensor_context(
        instance=dagster_instance, resources={"lamin": defs.resources["lamin"]}
    ) as context:
        reported = sensor(context)
    for event in getattr(reported, "asset_events", []):
        dagster_instance.report_runless_asset_event(event)
    report = defs.resolve_job_def("cell_type_report").execute_in_process(
        instance=dagster_instance,
        run_config=console_log_config(QUIET_LOG_LEVEL if quiet else None),
    )
    if before_failing_job is not None:
        before_failing_job()
    failing = defs.resolve_job_def("failing_validation").execute_in_process(
        instance=dagster_instance,
        raise_on_error=False,
        run_config=console_log_config(EXPECTED_FAILURE_LOG_LEVEL if quiet else None),
    )
    lamin = defs.resources["lamin"]
    instance = lamin.get_instance()
    for result in (seed, report, failing):
        record_run_end(instance, dagster_instance, result.run_id)
    keys = list(
        instance.session.scalars(
            sa.select(ln.Artifact.key)
            .where(
                ln.Artifact.is_latest.is_(True),
                ln.Artifact.key.is_not(None),  # not the runs' environments and reports
            )
            .order_by(ln.Artifact.id)
        )
    )
    descriptions = {
        f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}": evaluation.description
        or ""
        for evaluation in failing.get_asset_check_evaluations()
        if not evaluation.passed
    }
    lamin.close()
    return DemoResult(
        seed.run_id,
        failing.run_id,
        report.run_id,
        [str(k) for k in keys],
        list(descriptions),
        descriptions,
    )
