"""Where the example pipelines keep their catalog, and creating it on a fresh machine.

The storage comes from ``LAMIN_DAGSTER_STORAGE`` (default ``./demo-catalog``, the folder
`make demo` fills) and the database from ``LAMIN_DAGSTER_DB`` (default: SQLite under the
storage), so ``dagster dev -w workspace.yaml`` and `make demo` share one catalog.
"""

import os

import lamin_core as ln

DEFAULT_STORAGE = "demo-catalog"


def catalog_settings() -> tuple[str, str | None]:
    """Return (storage, db) of the example catalog from the environment."""
    return (
        os.environ.get("LAMIN_DAGSTER_STORAGE", DEFAULT_STORAGE),
        os.environ.get("LAMIN_DAGSTER_DB") or None,
    )


def ensure_catalog(storage: str, db: str | None = None) -> None:
    """Create the catalog when it does not exist yet; leave an existing one as it is.

    The process's active catalog and the user's settings file are left alone.

    Raises:
        InstanceError: the database is unreachable.
    """
    ln.init(storage=storage, db=db, activate=False).close()
