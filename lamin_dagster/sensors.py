"""Run-status sensors that close the catalog Run of every finished Dagster run.

Steps can close their own Runs (the hooks of `lamin_hooks`), but only Dagster knows when a
whole run has ended, and a step killed with its process never runs a hook. These sensors fire
once per run that ends in success, failure or cancellation, read the step outcomes from
Dagster's event log, and close the run's catalog Run and any step Run still open. They need the
Dagster daemon (``dagster dev`` starts it); `record_run_end` does the same work on demand, and
the IO manager and the resource do it for every finished run when they start
(`lamin_dagster.run_status`).
"""

from __future__ import annotations

import inspect
from typing import Any

import dagster as dg

from lamin_dagster.resources import CatalogResource
from lamin_dagster.run_status import FINISHED_STATUSES, record_run_end

__all__ = ["lamin_run_sensors", "record_run_end", "with_resource_parameter"]


def lamin_run_sensors(
    resource_key: str = "lamin", *, monitor_all_code_locations: bool = False
) -> list[dg.SensorDefinition]:
    """Return three run-status sensors (success, failure, canceled) that close catalog Runs.

    Args:
        resource_key: The key of the `LaminResource` (or LaminIOManager) with the catalog.
        monitor_all_code_locations: Also close runs of jobs in other code locations.

    Examples:
        >>> defs = dg.Definitions(
        ...     assets=[...],
        ...     sensors=lamin_run_sensors(),
        ...     resources={"lamin": LaminResource(storage="./catalog"), ...},
        ... )
    """
    sensors = []
    for status in FINISHED_STATUSES:
        sensors.append(_run_end_sensor(status, resource_key, monitor_all_code_locations))
    return sensors


def with_resource_parameter(fn: Any, resource_key: str) -> Any:
    """Give `fn(context, **resources)` the signature ``(context, <resource_key>: CatalogResource)``.

    Dagster passes resources to sensors by parameter name; this lets the caller choose the key.
    """
    context = next(iter(inspect.signature(fn).parameters.values()))
    resource = inspect.Parameter(
        resource_key, inspect.Parameter.KEYWORD_ONLY, annotation=CatalogResource
    )
    fn.__signature__ = inspect.Signature([context, resource])
    return fn


def _run_end_sensor(
    status: dg.DagsterRunStatus, resource_key: str, monitor_all_code_locations: bool
) -> dg.SensorDefinition:
    name = f"lamin_run_{status.value.lower()}_sensor"

    def close_catalog_run(context: dg.RunStatusSensorContext, **resources: Any) -> None:
        instance = resources[resource_key].get_instance()
        record_run_end(instance, context.instance, context.dagster_run.run_id)

    return dg.run_status_sensor(
        run_status=status,
        name=name,
        description=f"Close the catalog Run of each Dagster run that ends with {status.value}.",
        monitor_all_code_locations=monitor_all_code_locations or None,
        default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=5,
    )(with_resource_parameter(close_catalog_run, resource_key))
