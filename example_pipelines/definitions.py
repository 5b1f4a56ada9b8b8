"""The Dagster definitions of the example pipelines: ``dagster dev -w workspace.yaml``.

One code location with the seed-guide pipeline (job ``seed_guide``) and the failing-validation
example (job ``failing_validation``), both stored in the catalog named by
``LAMIN_DAGSTER_STORAGE``/``LAMIN_DAGSTER_DB``, which is created when this module is loaded.
"""

from example_pipelines.build import build_definitions
from example_pipelines.catalog import catalog_settings

defs = build_definitions(*catalog_settings())
