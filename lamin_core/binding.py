"""How a lower layer calls what a higher layer implements: one table, filled once by the face.

The layer rule (ARCHITECTURE.md) forbids a module to import a higher layer, even inside a
function. The active-record API needs the opposite direction: ``ln.Artifact.filter()`` is a
method of a model whose work the query layer does, ``artifact.save()`` is done by the artifacts
layer, ``record.search()`` by search; and opening a catalog (the instance layer) brings its schema
up to date with the migrations and registers its storage and user with the models.

Every such call goes through one attribute of `above`, the table declared here. The public face
(``lamin_core/__init__.py``) fills every attribute once, at import, with `install`; a model
calls ``above.save_artifact(self)``. Importing any module of lamin_core imports the face first,
so the table is full before a model method can run. The face imports no higher layer itself:
each slot imports its module on first call. `lamin_core.models` calls ``models_defined`` once its
registries exist (the face adds the bio registries) and ``models_configuring`` before they are
first configured (the face installs the related managers and the Feature checks). An attribute
still empty raises `UnboundError` naming it, and `install` refuses names the table does not
declare.

Examples:
    >>> from lamin_core.binding import above
    >>> above.queryset(ln.ULabel).count()
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["Above", "Accessor", "UnboundError", "above", "install"]


class UnboundError(RuntimeError):
    """A lower layer called behaviour the face has not installed (lamin_core was not imported)."""


class Above:
    """The behaviour of higher layers that lower layers call, one attribute each.

    Attributes are grouped by the layer that calls them; the comment names the implementation.
    """

    # --- called by the instance layer ----------------------------------------------------------
    ensure_schema: Callable[..., None]  # migrations.ensure_schema(engine, create=, auto_migrate=)
    register_storage_and_user: Callable[..., None]  # models.provenance.register_storage_and_user

    # --- called by the models ------------------------------------------------------------------
    models_defined: Callable[[], None]  # the face: defines the bio registries
    models_configuring: Callable[[], None]  # the face: related managers, Feature checks
    queryset: Callable[..., Any]  # query.QuerySet(registry)
    registry_df: Callable[..., Any]  # query.dataframe.registry_df
    lookup: Callable[..., Any]  # query.record_lookup.lookup
    validate: Callable[..., Any]  # query.curation.validate
    inspect: Callable[..., Any]  # query.curation.inspect
    standardize: Callable[..., Any]  # query.curation.standardize
    from_values: Callable[..., Any]  # query.curation.from_values
    search: Callable[..., Any]  # search.search
    insert_rows: Callable[..., list[int]]  # search.bulk.insert_rows
    describe: Callable[..., None]  # display.describe
    current_run: Callable[..., Any]  # tracking.current_run
    features: Callable[..., Any]  # annotations.accessors.features
    labels: Callable[..., Any]  # annotations.accessors.labels
    stage: Callable[..., Any]  # artifacts.staging.stage
    save_artifact: Callable[..., Any]  # artifacts.saving.save_artifact
    delete_artifact: Callable[..., None]  # artifacts.saving.delete_artifact
    collection_hash: Callable[..., str]  # artifacts.saving.collection_hash
    save_collection: Callable[..., Any]  # artifacts.saving.save_collection
    artifact_path: Callable[..., Any]  # artifacts.access.artifact_path
    cache: Callable[..., Any]  # artifacts.access.cache
    load: Callable[..., Any]  # artifacts.access.load
    open_artifact: Callable[..., Any]  # artifacts.access.open_artifact
    open_backed: Callable[..., Any]  # artifacts.backed.open_artifact_backed
    open_collection: Callable[..., Any]  # artifacts.backed.open_collection
    mapped_collection: Callable[..., Any]  # artifacts.mapped.mapped_collection
    load_collection: Callable[..., Any]  # artifacts.access.load_collection
    view_lineage: Callable[..., Any]  # lineage.view_lineage
    view_parents: Callable[..., Any]  # lineage.hierarchy.view_parents
    curate: Callable[..., Any]  # curators.formats.curate
    save_with_curator: Callable[..., Any]  # curators.annotate.save_with_curator

    def __getattr__(self, name: str) -> Any:
        # only reached for a declared attribute that was never installed
        if name in _declared():
            raise UnboundError(
                f"lamin_core.binding: {name!r} is not installed. Import lamin_core (the package "
                "installs every binding at import) before calling the catalog."
            )
        raise AttributeError(name)


def _declared() -> frozenset[str]:
    return frozenset(Above.__annotations__)


above = Above()


class Accessor:
    """A class attribute whose value a higher layer makes, named after its attribute of `above`.

    ``features = Accessor()`` in a model makes ``artifact.features`` the value of
    ``above.features(artifact, Artifact)`` and ``Artifact.features`` that of
    ``above.features(None, Artifact)`` (the accessor itself when that is None).
    """

    name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, owner: type) -> Any:
        value = getattr(above, self.name)(obj, owner)
        return self if value is None else value


def install(**behaviour: Callable[..., Any]) -> None:
    """Fill the table: each keyword names a declared attribute, its value implements it.

    Raises:
        TypeError: a name the table does not declare, or a value that is not callable.
    """
    declared = _declared()
    for name, implementation in behaviour.items():
        if name not in declared:
            raise TypeError(
                f"lamin_core.binding declares no {name!r}; declared: {', '.join(sorted(declared))}."
            )
        if not callable(implementation):
            raise TypeError(
                f"lamin_core.binding: {name!r} must be callable, got {implementation!r}."
            )
        setattr(above, name, implementation)


def missing() -> list[str]:
    """Return the declared attributes not installed yet (empty once lamin_core is imported)."""
    return sorted(name for name in _declared() if name not in vars(above))
