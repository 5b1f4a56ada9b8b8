"""lamin_dagster: Dagster assets stored, validated and tracked in a lamin_core catalog.

Examples:
    >>> import dagster as dg
    >>> from lamin_dagster import LaminIOManager, LaminResource, lamin_asset
    >>> @lamin_asset(schema={"categoricals": {"cell_medium": "ULabel.name"}}, code_version="1")
    ... def dataset1() -> ad.AnnData:
    ...     return datasets.small_dataset1(format="anndata")
    >>> defs = dg.Definitions(
    ...     assets=[dataset1],
    ...     resources=lamin_resources(storage="./my-catalog"),
    ...     sensors=lamin_run_sensors(),
    ... )
"""

from typing import Any

from lamin_dagster.assets import VALIDATION_CHECK_NAME, lamin_asset, lamin_hooks
from lamin_dagster.errors import CurationError, NoHandlerError, SchemaError, UpstreamArtifactError
from lamin_dagster.external import (
    asset_key_for,
    lamin_external_asset_sensor,
    lamin_external_assets,
)
from lamin_dagster.handlers import TableHandler, TypeHandler
from lamin_dagster.io_manager import LaminIOManager
from lamin_dagster.resources import LaminResource
from lamin_dagster.schema import LaminSchema
from lamin_dagster.sensors import lamin_run_sensors


def lamin_resources(
    storage: Any,
    db: Any = None,
    *,
    user: Any = None,
    create: bool = True,
    io_manager_key: str = "io_manager",
) -> dict[str, Any]:
    """Return the resources for one catalog: a LaminIOManager and a LaminResource (``lamin``).

    Args:
        storage: The catalog's storage root (a string or ``dg.EnvVar``).
        db: The database URL (default: SQLite under `storage`).
        user: The user handle recorded as creator.
        create: Create the catalog on first use when it does not exist; False makes a
            missing catalog an error.
        io_manager_key: The key to bind the IO manager to.
    """
    return {
        io_manager_key: LaminIOManager(storage=storage, db=db, user=user, create=create),
        "lamin": LaminResource(storage=storage, db=db, user=user, create=create),
    }


# What users write; the rest (built-in handlers, the run mapping, run closing) is importable
# from its module: `lamin_dagster.handlers`, `lamin_dagster.mapping`, `lamin_dagster.run_status`.
__all__ = [
    "VALIDATION_CHECK_NAME",
    "CurationError",
    "LaminIOManager",
    "LaminResource",
    "LaminSchema",
    "NoHandlerError",
    "SchemaError",
    "TableHandler",
    "TypeHandler",
    "UpstreamArtifactError",
    "asset_key_for",
    "lamin_asset",
    "lamin_external_asset_sensor",
    "lamin_external_assets",
    "lamin_hooks",
    "lamin_resources",
    "lamin_run_sensors",
]
