"""Where the example pipelines keep their catalog and Dagster home, and creating them.

The storage comes from ``LAMIN_DAGSTER_STORAGE`` (default ``./demo-catalog``, the folder
`make demo` fills) and the database from ``LAMIN_DAGSTER_DB`` (default: SQLite under the
storage), so ``dagster dev -w workspace.yaml`` and `make demo` share one catalog.

The demo's Dagster runs, materializations and check results belong to its catalog: they are
recorded in the Dagster home ``<storage>/.dagster``, which `make dagster-ui` gives ``dagster dev``
as ``DAGSTER_HOME``. Recreating the catalog (`make demo`) recreates its history with it.
"""

import os
from pathlib import Path

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


DAGSTER_HOME_DIR = ".dagster"
# the demo's instance: local SQLite storage, no telemetry or first-run prompts in the UI, and
# runs launched from the UI start at once, also under a bare dagster-webserver (no daemon)
DAGSTER_YAML = """\
run_coordinator:
  module: dagster._core.run_coordinator
  class: DefaultRunCoordinator
telemetry:
  enabled: false
nux:
  enabled: false
"""


def dagster_home(storage: str | os.PathLike[str]) -> Path:
    """Return the Dagster home of a local catalog, ``<storage>/.dagster``, creating it if missing.

    Its ``dagster.yaml`` is written once; an existing one is left as the user edited it.
    """
    home = Path(storage).resolve() / DAGSTER_HOME_DIR
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML)
    return home
