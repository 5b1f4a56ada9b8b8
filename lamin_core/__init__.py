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
from lamin_core.annotations.hooks import install_hooks as _install_feature_hooks
from lamin_core.console import install_console_handler as _install_console_handler
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
from lamin_core.instance import Instance, connect, get_instance, init, settings, setup
from lamin_core.lazy import first_use_getattr as _first_use_getattr
from lamin_core.lazy import on_first_call as _on_first_call
from lamin_core.lineage import lineage
from lamin_core.models import (
    Artifact,
    Collection,
    Feature,
    FeatureSet,
    FeatureValue,
    GeneralRecord,
    Project,
    Reference,
    Run,
    Schema,
    Space,
    Storage,
    Transform,
    ULabel,
    User,
)
from lamin_core.models.bulk import save
from lamin_core.models.provenance import register_storage_and_user as _register_storage_and_user
from lamin_core.query import Q, QuerySet
from lamin_core.query.related import install_related_managers as _install_related_managers
from lamin_core.tracking import current_run as _current_run
from lamin_core.tracking import finish, flow, step, track, tracked

__version__ = "0.1.0"

Record = GeneralRecord  # LaminDB 2.x's ln.Record (the registries' base class is models.Record)


# The face binds the higher layers' behaviour to the lower ones, once (lamin_core.binding;
# ARCHITECTURE.md): the models' queries, saves and accessors, the instance's schema and first rows.
_binding.install(
    ensure_schema=_on_first_call("lamin_core.migrations", "ensure_schema"),
    register_storage_and_user=_register_storage_and_user,
    queryset=QuerySet,
    registry_df=_on_first_call("lamin_core.query.dataframe", "registry_df"),
    lookup=_on_first_call("lamin_core.query.record_lookup", "lookup"),
    validate=_on_first_call("lamin_core.query.curation", "validate"),
    inspect=_on_first_call("lamin_core.query.curation", "inspect"),
    standardize=_on_first_call("lamin_core.query.curation", "standardize"),
    from_values=_on_first_call("lamin_core.query.curation", "from_values"),
    search=_on_first_call("lamin_core.search", "search"),
    describe=_on_first_call("lamin_core.display", "describe"),
    current_run=_current_run,
    features=_on_first_call("lamin_core.annotations.accessors", "features"),
    labels=_on_first_call("lamin_core.annotations.accessors", "labels"),
    stage=_on_first_call("lamin_core.artifacts.staging", "stage"),
    save_artifact=_on_first_call("lamin_core.artifacts.saving", "save_artifact"),
    delete_artifact=_on_first_call("lamin_core.artifacts.saving", "delete_artifact"),
    collection_hash=_on_first_call("lamin_core.artifacts.saving", "collection_hash"),
    save_collection=_on_first_call("lamin_core.artifacts.saving", "save_collection"),
    artifact_path=_on_first_call("lamin_core.artifacts.access", "artifact_path"),
    cache=_on_first_call("lamin_core.artifacts.access", "cache"),
    load=_on_first_call("lamin_core.artifacts.access", "load"),
    open_artifact=_on_first_call("lamin_core.artifacts.access", "open_artifact"),
    open_backed=_on_first_call("lamin_core.artifacts.backed", "open_artifact_backed"),
    open_collection=_on_first_call("lamin_core.artifacts.backed", "open_collection"),
    mapped_collection=_on_first_call("lamin_core.artifacts.mapped", "mapped_collection"),
    load_collection=_on_first_call("lamin_core.artifacts.access", "load_collection"),
    view_lineage=_on_first_call("lamin_core.lineage", "view_lineage"),
    view_parents=_on_first_call("lamin_core.lineage.hierarchy", "view_parents"),
    curate=_on_first_call("lamin_core.curators.formats", "curate"),
    save_with_curator=_on_first_call("lamin_core.curators.annotate", "save_with_curator"),
)
_install_related_managers()  # artifact.ulabels.filter(...), label.parents.add(...)
_install_feature_hooks()  # Feature(name=..., dtype=...) checks both when set
_install_console_handler()  # print catalog messages when the application configured no logging

# names whose modules need pandas: imported when first used (PEP 562)
__getattr__ = _first_use_getattr(
    __name__,
    globals(),
    {
        "Curator": "lamin_core.curators",
        "curators": "lamin_core.curators",
        "examples": "lamin_core.examples",
        "view": "lamin_core.display",
    },
)


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
    "Project",
    "Q",
    "QuerySet",
    "Record",
    "Reference",
    "Run",
    "Schema",
    "Space",
    "Storage",
    "StorageError",
    "Transform",
    "ULabel",
    "User",
    "ValidationError",
    "__version__",
    "connect",
    "curators",
    "errors",
    "examples",
    "finish",
    "flow",
    "get_instance",
    "init",
    "lineage",
    "save",
    "settings",
    "setup",
    "step",
    "track",
    "tracked",
    "view",
]
