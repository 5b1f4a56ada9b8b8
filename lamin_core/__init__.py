"""lamin_core: a data-asset catalog with registries, queries, search, curation and lineage.

Examples:
    >>> import lamin_core as ln
    >>> ln.init(storage="./test-registries")
    >>> ln.Artifact.from_df(df, key="iris/iris.parquet").save()
    >>> ln.Artifact.filter(suffix=".parquet").df()
"""

from lamin_core import bio as _bio  # noqa: F401  (defines the biological registries' tables)
from lamin_core import errors, settings
from lamin_core.annotations.hooks import install_hooks as _install_feature_hooks
from lamin_core.bulk import save
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
from lamin_core.instance import Instance, connect, get_instance, init
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
from lamin_core.query import Q, QuerySet
from lamin_core.search import install_listeners as _install_search_index_listeners
from lamin_core.tracking import finish, track
from lamin_core.view import view

__version__ = "0.1.0"

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
    "save",
    "settings",
    "track",
    "view",
]
