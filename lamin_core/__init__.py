"""lamin_core: a data-asset catalog with registries, queries, search, curation and lineage.

Examples:
    >>> import lamin_core as ln
    >>> ln.init(storage="./test-registries")
    >>> ln.Artifact.from_df(df, key="iris/iris.parquet").save()
    >>> ln.Artifact.filter(suffix=".parquet").df()
"""

import importlib as _importlib
import sys as _sys
import types as _types
from typing import TYPE_CHECKING

from lamin_core import binding as _binding
from lamin_core import errors
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
from lamin_core.lazy import first_use_getattr as _first_use_getattr
from lamin_core.lazy import on_first_call as _on_first_call

if TYPE_CHECKING:
    from lamin_core.curators import Curator
    from lamin_core.display import view
    from lamin_core.instance import Instance, connect, get_instance, init, settings, setup
    from lamin_core.lineage import lineage
    from lamin_core.models import (
        Artifact,
        Collection,
        Feature,
        FeatureSet,
        FeatureValue,
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
    from lamin_core.models.record import Record
    from lamin_core.query import Q, QuerySet
    from lamin_core.tracking import finish, flow, step, track, tracked

__version__ = "0.1.0"


def _define_bio_registries() -> None:
    """Define the bio registries: a catalog always has their tables and relations.

    `lamin_core.models` calls it (binding slot ``models_defined``) once its registries exist.
    """
    _importlib.import_module("lamin_core.bio")


def _install_model_behaviour() -> None:
    """Install the related managers (``artifact.ulabels``) and the Feature checks.

    `lamin_core.models` calls it (binding slot ``models_configuring``) before the registries are
    first configured, when the higher layers have finished importing.
    """
    _on_first_call("lamin_core.query.related", "install_related_managers")()
    _on_first_call("lamin_core.annotations.hooks", "install_hooks")()


# The face binds the higher layers' behaviour to the lower ones, once (lamin_core.binding;
# ARCHITECTURE.md): the models' queries, saves and accessors, the instance's schema and first rows.
# Every slot imports its module on first call: `import lamin_core` loads neither SQLAlchemy nor
# the models, which come with the first name that needs them (`ln.connect`, `ln.Artifact`).
_binding.install(
    models_defined=_define_bio_registries,
    models_configuring=_install_model_behaviour,
    ensure_schema=_on_first_call("lamin_core.migrations", "ensure_schema"),
    register_storage_and_user=_on_first_call(
        "lamin_core.models.provenance", "register_storage_and_user"
    ),
    queryset=_on_first_call("lamin_core.query", "QuerySet"),
    registry_df=_on_first_call("lamin_core.query.dataframe", "registry_df"),
    lookup=_on_first_call("lamin_core.query.record_lookup", "lookup"),
    validate=_on_first_call("lamin_core.query.curation", "validate"),
    inspect=_on_first_call("lamin_core.query.curation", "inspect"),
    standardize=_on_first_call("lamin_core.query.curation", "standardize"),
    from_values=_on_first_call("lamin_core.query.curation", "from_values"),
    search=_on_first_call("lamin_core.search", "search"),
    insert_rows=_on_first_call("lamin_core.search.bulk", "insert_rows"),
    describe=_on_first_call("lamin_core.display", "describe"),
    current_run=_on_first_call("lamin_core.tracking", "current_run"),
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
_install_console_handler()  # print catalog messages when the application configured no logging

# every other public name loads its module when first read (PEP 562): the registries and the
# instance need SQLAlchemy, curators and view need pandas
__getattr__ = _first_use_getattr(
    __name__,
    globals(),
    {
        **dict.fromkeys(
            ("Instance", "connect", "get_instance", "init", "settings", "setup"),
            "lamin_core.instance",
        ),
        **dict.fromkeys(
            (
                "Artifact",
                "Collection",
                "Feature",
                "FeatureSet",
                "FeatureValue",
                "GeneralRecord",
                "Project",
                "Reference",
                "Run",
                "Schema",
                "Space",
                "Storage",
                "Transform",
                "ULabel",
                "User",
            ),
            "lamin_core.models",
        ),
        # LaminDB 2.x's ln.Record (the registries' base class is models.Record)
        "Record": "lamin_core.models.record:Record",
        "save": "lamin_core.models.bulk",
        "Q": "lamin_core.query",
        "QuerySet": "lamin_core.query",
        **dict.fromkeys(("finish", "flow", "step", "track", "tracked"), "lamin_core.tracking"),
        "lineage": "lamin_core.lineage:lineage",
        "Curator": "lamin_core.curators",
        "curators": "lamin_core.curators",
        "examples": "lamin_core.examples",
        "view": "lamin_core.display",
    },
)


class _Face(_types.ModuleType):
    """The package module, keeping ``ln.lineage`` the function when its subpackage loads.

    Importing ``lamin_core.lineage`` makes Python set the subpackage as the attribute
    ``lineage`` of this module; ``ln.lineage(artifact)`` must stay the function.
    """

    def __setattr__(self, name: str, value: object) -> None:
        if name == "lineage" and isinstance(value, _types.ModuleType):
            value = value.lineage
        super().__setattr__(name, value)


_sys.modules[__name__].__class__ = _Face


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
