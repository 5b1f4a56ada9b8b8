"""Type handlers: how each kind of Python object becomes a catalog artifact and comes back.

The IO manager looks a handler up by the type of the output (or, on input, by the annotated
type, else by what the artifact holds). Adding a type means writing one `TypeHandler` and
returning it from `LaminIOManager.type_handlers()` in a subclass, as with dagster-duckdb's
``DbTypeHandler``. Handlers test types without importing pandas or anndata: an object cannot be
a DataFrame unless pandas is already imported, so unused libraries are never loaded.
"""

from __future__ import annotations

import os
import pathlib
import sys
import typing
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import dagster as dg

import lamin_core as ln
from lamin_core.storage import suffix_of
from lamin_dagster.errors import NoHandlerError


def _class_from(module: str, name: str) -> type | None:
    """Return `module.name` if the module is already imported, else None."""
    loaded = sys.modules.get(module)
    return getattr(loaded, name, None) if loaded is not None else None


class TypeHandler(ABC):
    """Store objects of some Python types as artifacts and load artifacts back as them.

    Examples:
        >>> class PolarsHandler(TypeHandler):
        ...     type_names = ("polars.DataFrame",)
        ...     def to_artifact(self, obj, *, key, description):
        ...         return ln.Artifact.from_df(obj.to_pandas(), key=key + ".parquet")
        ...     def load(self, artifact):
        ...         return polars.from_pandas(artifact.load())
    """

    #: The handled types as importable ``module.Name`` strings, so that checking needs no import.
    type_names: tuple[str, ...] = ()
    #: The artifact `otype` this handler loads when the input is not annotated (None: any).
    otype: str | None = None
    #: The file suffix of stored objects ("" when it depends on the object, as for paths).
    suffix: str = ""

    def _classes(self) -> list[type]:
        classes = []
        for name in self.type_names:
            module, _, attribute = name.rpartition(".")
            cls = _class_from(module, attribute)
            if cls is not None:
                classes.append(cls)
        return classes

    def handles(self, obj: Any) -> bool:
        """Return whether `obj` is of a handled type."""
        return any(isinstance(obj, cls) for cls in self._classes())

    def handles_type(self, requested: type) -> bool:
        """Return whether an input annotated with `requested` can be loaded by this handler."""
        return any(issubclass(requested, cls) for cls in self._classes())

    @abstractmethod
    def to_artifact(self, obj: Any, *, key: str, description: str | None) -> ln.Artifact:
        """Return an unsaved artifact for `obj`; `key` has no suffix yet."""

    @abstractmethod
    def load(self, artifact: ln.Artifact) -> Any:
        """Load the artifact's content as an object of a handled type."""

    def row_count(self, obj: Any) -> int | None:
        """Return the number of rows (observations) of `obj`, if it has rows."""
        return None

    def column_schema(self, obj: Any) -> dg.TableSchema | None:
        """Return the columns of `obj` as a Dagster table schema, if it has columns."""
        return None

    def columns(self, obj: Any) -> list[str]:
        """Return the column names a `lamin/schema` may refer to."""
        return []

    def curator(self, obj: Any, schema: Any) -> Any:
        """Return a curator validating `obj` against a resolved `lamin/schema`.

        Raises:
            SchemaError: the handled type cannot be curated.
        """
        from lamin_dagster.errors import SchemaError

        raise SchemaError(
            f"A lamin/schema applies to DataFrame and AnnData outputs, not to "
            f"{type(obj).__name__}: remove the schema or return one of those."
        )

    def __repr__(self) -> str:
        return type(self).__name__


class TableHandler(TypeHandler):
    """Objects with a table of rows and named columns: rows, column schema, curation, load."""

    def table(self, obj: Any) -> Any:
        """Return the DataFrame whose rows and columns describe `obj`."""
        return obj

    def load(self, artifact: ln.Artifact) -> Any:
        return artifact.load()

    def row_count(self, obj: Any) -> int:
        return len(self.table(obj))

    def column_schema(self, obj: Any) -> dg.TableSchema:
        return dg.TableSchema(
            columns=[
                dg.TableColumn(name=str(name), type=str(dtype))
                for name, dtype in self.table(obj).dtypes.items()
            ]
        )

    def columns(self, obj: Any) -> list[str]:
        return [str(column) for column in self.table(obj).columns]


class DataFrameHandler(TableHandler):
    """pandas DataFrames, stored as parquet (the index is kept)."""

    type_names = ("pandas.DataFrame",)
    otype = "DataFrame"
    suffix = ".parquet"

    def to_artifact(self, obj: Any, *, key: str, description: str | None) -> ln.Artifact:
        return ln.Artifact.from_df(obj, key=f"{key}{self.suffix}", description=description)

    def curator(self, obj: Any, schema: Any) -> Any:
        if schema.schema is not None:
            return ln.curators.curator_for(obj, schema.build(), organism=schema.organism)
        return ln.Curator.from_df(
            obj,
            categoricals=schema.categorical_fields(),
            columns=schema.columns_field(),
            organism=schema.organism,
        )


class AnnDataHandler(TableHandler):
    """AnnData objects, stored as h5ad; `obs` gives the rows and columns."""

    type_names = ("anndata.AnnData",)
    otype = "AnnData"
    suffix = ".h5ad"

    def table(self, obj: Any) -> Any:
        return obj.obs

    def to_artifact(self, obj: Any, *, key: str, description: str | None) -> ln.Artifact:
        return ln.Artifact.from_anndata(obj, key=f"{key}{self.suffix}", description=description)

    def curator(self, obj: Any, schema: Any) -> Any:
        if schema.schema is not None:
            return ln.curators.curator_for(obj, schema.build(), organism=schema.organism)
        return ln.Curator.from_anndata(
            obj,
            var_index=schema.var_index_field(),
            categoricals=schema.categorical_fields(),
            organism=schema.organism,
        )


class PathHandler(TypeHandler):
    """Files and folders given as `pathlib.Path`, `UPath` or `str`; loaded as a local `Path`."""

    type_names = ("pathlib.Path", "upath.UPath", "builtins.str")

    def _classes(self) -> list[type]:
        # PurePath rather than Path, so that PurePosixPath and friends count as paths too
        return [pathlib.PurePath, str, *super()._classes()]

    def to_artifact(self, obj: Any, *, key: str, description: str | None) -> ln.Artifact:
        text = str(obj) if not isinstance(obj, (str, os.PathLike)) else os.fspath(obj)
        suffix = suffix_of(text)
        return ln.Artifact(text, key=f"{key}{suffix}", description=description)

    def load(self, artifact: ln.Artifact) -> pathlib.Path:
        return artifact.cache()


DEFAULT_HANDLERS: tuple[TypeHandler, ...] = (DataFrameHandler(), AnnDataHandler(), PathHandler())


class HandlerRegistry:
    """The handlers of one IO manager, looked up by object, by annotated type or by artifact."""

    def __init__(self, handlers: Sequence[TypeHandler]) -> None:
        self.handlers = tuple(handlers)

    def describe(self) -> str:
        """Return the handled types, for error messages."""
        names = [name for handler in self.handlers for name in handler.type_names]
        return ", ".join(name.removeprefix("builtins.") for name in names)

    def for_object(self, obj: Any, *, label: str) -> TypeHandler:
        """Return the handler that stores `obj`.

        Raises:
            NoHandlerError: no handler stores the object's type.
        """
        for handler in self.handlers:
            if handler.handles(obj):
                return handler
        kind = type(obj)
        raise NoHandlerError(
            f"No handler for type {kind.__module__}.{kind.__qualname__} returned by {label}; "
            f"handlers exist for {self.describe()}. Return one of those, or subclass "
            "LaminIOManager and add a TypeHandler in type_handlers()."
        )

    def for_load(self, artifact: ln.Artifact, requested: Any, *, label: str) -> TypeHandler:
        """Return the handler that loads `artifact` as the `requested` (annotated) type.

        Without an annotation (``Any``), DataFrame and AnnData artifacts load as such and every
        other artifact as a local path.

        Raises:
            NoHandlerError: the annotation names a type no handler loads.
        """
        if isinstance(requested, type) and requested not in (object, typing.Any):
            for handler in self.handlers:
                if handler.handles_type(requested):
                    return handler
            raise NoHandlerError(
                f"No handler loads type {requested.__module__}.{requested.__qualname__} for "
                f"{label}; handlers exist for {self.describe()}. Annotate the input with one of "
                "those, or leave it unannotated."
            )
        fallback = None
        for handler in self.handlers:
            if handler.otype is not None and handler.otype == artifact.otype:
                return handler
            if handler.otype is None and fallback is None:
                fallback = handler
        if fallback is None:
            raise NoHandlerError(
                f"No handler loads the {artifact.otype or artifact.suffix!r} artifact "
                f"{artifact.uid!r} for {label}; handlers exist for {self.describe()}."
            )
        return fallback
