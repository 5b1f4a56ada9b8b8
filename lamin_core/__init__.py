"""lamin_core: a data-asset catalog with registries, queries, search, curation and lineage.

Examples:
    >>> import lamin_core as ln
    >>> ln.init(storage="./test-registries")
    >>> ln.Artifact.from_df(df, key="iris/iris.parquet").save()
    >>> ln.Artifact.filter(suffix=".parquet").df()
"""

from lamin_core import binding as _binding
from lamin_core import bio as _bio  # noqa: F401  (defines the biological registries' tables)
from lamin_core import errors
from lamin_core.annotations import accessors as _accessors
from lamin_core.annotations.hooks import install_hooks as _install_feature_hooks
from lamin_core.artifacts import access as _access
from lamin_core.artifacts import saving as _saving
from lamin_core.artifacts.staging import stage as _stage
from lamin_core.console import install_console_handler as _install_console_handler
from lamin_core.curators import Curator
from lamin_core.errors import (
    DoesNotExist,
    FieldError,
    InstanceError,
    IntegrityError,
    LaminError,
    MultipleResultsFound,
    NoWriteAccess,
    StorageError,
    ValidationError,
)
from lamin_core.instance import Instance, connect, get_instance, init, settings
from lamin_core.lineage import lineage
from lamin_core.lineage import view_lineage as _view_lineage
from lamin_core.migrations import ensure_schema as _ensure_schema
from lamin_core.models import (
    Artifact,
    Collection,
    Feature,
    FeatureSet,
    FeatureValue,
    Run,
    Space,
    Storage,
    Transform,
    ULabel,
    User,
)
from lamin_core.models.bulk import save
from lamin_core.models.provenance import register_storage_and_user as _register_storage_and_user
from lamin_core.query import Q, QuerySet
from lamin_core.query.dataframe import registry_df as _registry_df
from lamin_core.query.record_lookup import lookup as _lookup
from lamin_core.query.related import install_related_managers as _install_related_managers
from lamin_core.search import install_listeners as _install_search_index_listeners
from lamin_core.search import search as _search
from lamin_core.tracking import current_run as _current_run
from lamin_core.tracking import finish, track
from lamin_core.view import describe as _describe
from lamin_core.view import view

__version__ = "0.1.0"

# The face binds the higher layers' behaviour to the lower ones, once (lamin_core.binding;
# ARCHITECTURE.md): the models' queries, saves and accessors, the instance's schema and first rows.
_binding.install(
    ensure_schema=_ensure_schema,
    register_storage_and_user=_register_storage_and_user,
    queryset=QuerySet,
    registry_df=_registry_df,
    lookup=_lookup,
    search=_search,
    describe=_describe,
    current_run=_current_run,
    features=_accessors.features,
    labels=_accessors.labels,
    stage=_stage,
    save_artifact=_saving.save_artifact,
    delete_artifact=_saving.delete_artifact,
    collection_hash=_saving.collection_hash,
    save_collection=_saving.save_collection,
    artifact_path=_access.artifact_path,
    cache=_access.cache,
    load=_access.load,
    open_artifact=_access.open_artifact,
    load_collection=_access.load_collection,
    view_lineage=_view_lineage,
)
_install_related_managers()  # artifact.ulabels.filter(...), label.parents.add(...)
_install_search_index_listeners()  # create_all also creates the search indexes
_install_feature_hooks()  # Feature(name=..., dtype=...) checks both when set
_install_console_handler()  # print catalog messages when the application configured no logging

__all__ = [
    "Artifact",
    "Collection",
    "Curator",
    "DoesNotExist",
    "Feature",
    "FeatureSet",
    "FeatureValue",
    "FieldError",
    "Instance",
    "InstanceError",
    "IntegrityError",
    "LaminError",
    "MultipleResultsFound",
    "NoWriteAccess",
    "Q",
    "QuerySet",
    "Run",
    "Space",
    "Storage",
    "StorageError",
    "Transform",
    "ULabel",
    "User",
    "ValidationError",
    "__version__",
    "connect",
    "errors",
    "finish",
    "get_instance",
    "init",
    "lineage",
    "save",
    "settings",
    "track",
    "view",
]
