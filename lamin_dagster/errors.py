"""The errors lamin_dagster raises, placed in lamin_core's tree.

Every error is a `lamin_core.LaminError`, so ``except ln.LaminError`` catches catalog and
integration errors alike, and Dagster shows the message (which names the asset, the offending
value and the fix) in the step log::

    LaminError (lamin_core)
    ├── NoHandlerError          (also TypeError) no handler stores or loads this Python type
    ├── ValidationError (lamin_core)
    │   ├── SchemaError         a `lamin/schema` that is malformed or names unknown registries
    │   └── CurationError       an output whose values break its `lamin/schema`
    └── DoesNotExist (lamin_core)
        └── UpstreamArtifactError   an input whose recorded upstream artifact is gone or changed
"""

from __future__ import annotations

from lamin_core import DoesNotExist, LaminError, ValidationError

__all__ = [
    "CurationError",
    "NoHandlerError",
    "SchemaError",
    "UpstreamArtifactError",
]


class NoHandlerError(LaminError, TypeError):
    """No type handler stores (or loads) objects of the given type."""


class SchemaError(ValidationError):
    """A `lamin/schema` is malformed or names a registry, field or column that does not exist."""


class CurationError(ValidationError):
    """An output's values break its `lamin/schema`; nothing was saved.

    Attributes:
        non_validated: The failing columns (or ``var_index``) and their bad values.
        missing: Columns the schema requires that the data does not have.
    """

    def __init__(
        self,
        message: str,
        *,
        non_validated: dict[str, list[str]] | None = None,
        missing: list[str] | None = None,
    ) -> None:
        super().__init__(message)
        self.non_validated = dict(non_validated or {})
        self.missing = list(missing or [])


class UpstreamArtifactError(DoesNotExist):
    """The artifact behind an input cannot be loaded as Dagster recorded it.

    The upstream was never materialized (or not by a LaminIOManager), its artifact was deleted,
    or its uid now names content with another hash than the materialization recorded.
    """
