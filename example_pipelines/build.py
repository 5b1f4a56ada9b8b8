"""The example Definitions for a given catalog, built on request (nothing happens at import).

Three jobs: ``seed_guide`` (raw files and datasets -> summary), ``cell_type_report`` (a report
on the cell type shares a tracked notebook step made from the summary: an external asset
between the two pipelines) and ``failing_validation``.

`definitions` binds them to the catalog of the environment for ``dagster dev``; the demo and
the tests build them for a catalog of their own.
"""

import dagster as dg

import lamin_core as ln
from example_pipelines.catalog import ensure_catalog
from example_pipelines.failing_validation import FAILING_ASSETS, failing_validation_job
from example_pipelines.report import REPORT_ASSETS, report_job, shares_specs
from example_pipelines.seed_guide import SEED_ASSETS
from lamin_dagster import lamin_resources, lamin_run_sensors

seed_guide_job = dg.define_asset_job(
    "seed_guide",
    selection=dg.AssetSelection.assets(*SEED_ASSETS),
    description="Raw files and iris -> two curated AnnData datasets -> a per-cell-type summary.",
)


def build_definitions(storage: str, db: str | None = None) -> dg.Definitions:
    """Return the example definitions bound to one catalog (created if missing).

    The external asset of the notebook step's artifact is read from the catalog now: build
    the definitions again (reload the code location) after the step has run.
    """
    ensure_catalog(storage, db)
    instance = ln.connect(storage=storage, db=db, activate=False)
    try:
        specs, sensors = shares_specs(instance)
    finally:
        instance.close()
    return dg.Definitions(
        assets=[*SEED_ASSETS, *specs, *REPORT_ASSETS, *FAILING_ASSETS],
        jobs=[seed_guide_job, report_job, failing_validation_job],
        resources=lamin_resources(storage, db),
        sensors=[*lamin_run_sensors(), *sensors],
    )
