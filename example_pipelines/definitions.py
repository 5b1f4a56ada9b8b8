"""The Dagster definitions of the example pipelines: ``dagster dev -w workspace.yaml``.

One code location with the seed-guide pipeline (job ``seed_guide``) and the failing-validation
example (job ``failing_validation``), both stored in the catalog named by
``LAMIN_DAGSTER_STORAGE``/``LAMIN_DAGSTER_DB``, which is created if missing.
"""

import dagster as dg

from example_pipelines.catalog import catalog_settings, ensure_catalog
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


defs = build_definitions(*catalog_settings())
