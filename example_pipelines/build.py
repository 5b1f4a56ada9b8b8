"""The example Definitions for a given catalog, built on request (nothing happens at import).

`definitions` binds them to the catalog of the environment for ``dagster dev``; the demo and
the tests build them for a catalog of their own.
"""

import dagster as dg

from example_pipelines.catalog import ensure_catalog
from example_pipelines.failing_validation import FAILING_ASSETS, failing_validation_job
from example_pipelines.seed_guide import SEED_ASSETS
from lamin_dagster import lamin_resources, lamin_run_sensors

seed_guide_job = dg.define_asset_job(
    "seed_guide",
    selection=dg.AssetSelection.assets(*SEED_ASSETS),
    description="Raw files and iris -> two curated AnnData datasets -> a per-cell-type summary.",
)


def build_definitions(storage: str, db: str | None = None) -> dg.Definitions:
    """Return the example definitions bound to one catalog (created if missing)."""
    ensure_catalog(storage, db)
    return dg.Definitions(
        assets=[*SEED_ASSETS, *FAILING_ASSETS],
        jobs=[seed_guide_job, failing_validation_job],
        resources=lamin_resources(storage, db),
        sensors=lamin_run_sensors(),
    )
