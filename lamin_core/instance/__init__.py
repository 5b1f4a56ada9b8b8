"""The catalog's database connection and its unit of work (see `lamin_core.instance.catalog`)."""

from lamin_core.instance import settings, setup
from lamin_core.instance.catalog import (
    CATALOG_DIR,
    SQLITE_NAME,
    Instance,
    active_instance,
    cache_root,
    connect,
    create_engine,
    deactivate,
    default_db_url,
    get_instance,
    init,
    resolve_location,
    staging_root,
)
from lamin_core.instance.settings import settings_dir

__all__ = [
    "CATALOG_DIR",
    "SQLITE_NAME",
    "Instance",
    "active_instance",
    "cache_root",
    "connect",
    "create_engine",
    "deactivate",
    "default_db_url",
    "get_instance",
    "init",
    "resolve_location",
    "settings",
    "settings_dir",
    "setup",
    "staging_root",
]
