"""Django-style queries on the catalog's registries, compiled to SQLAlchemy.

`QuerySet` is lazy and runs one statement per evaluation; `Q` combines lookups with ``& | ~``;
`lookups` holds one class per comparison; `compiler` turns resolved lookups into SQL; `features`
lets artifacts be filtered by feature values and labels; `dataframe` builds `df()`.

Examples:
    >>> import lamin_core as ln
    >>> ln.Artifact.filter(ln.Q(suffix=".jpg") | ln.Q(suffix=".fastq.gz"), size__gt=1e4).df()
    >>> ln.Artifact.filter(ulabels__name="DMSO", run__transform__key="qc.py").count()
"""

from lamin_core.query.compiler import compile_filter
from lamin_core.query.feature_filters import FeatureRef, feature_condition, feature_refs
from lamin_core.query.field_lookups import LOOKUPS, Lookup, register_lookup
from lamin_core.query.q import Q
from lamin_core.query.queryset import QuerySet
from lamin_core.query.related import RelatedManager, install_related_managers

__all__ = [
    "LOOKUPS",
    "FeatureRef",
    "Lookup",
    "Q",
    "QuerySet",
    "RelatedManager",
    "compile_filter",
    "feature_condition",
    "feature_refs",
    "install_related_managers",
    "register_lookup",
]
