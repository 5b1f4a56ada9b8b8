"""The concrete curators, for DataFrames and AnnData objects, and the `ln.Curator` factory.

They differ only in where the keys are: a DataFrame's columns, or an AnnData's ``obs`` columns
and ``var`` index, and in how the dataset becomes an artifact; validation, fixing and saving are
`BaseCurator`'s.

Examples:
    >>> curator = ln.Curator.from_df(df, categoricals={"cell_medium": ln.ULabel.name})
    >>> curator.validate()
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from lamin_core.bio.matching import resolve_field
from lamin_core.curators.base import BaseCurator
from lamin_core.curators.keys import index_key
from lamin_core.curators.schema_rules import (
    SlotCurator,
    add_frame_keys,
    add_var_key,
    check_schema,
)
from lamin_core.errors import ValidationError
from lamin_core.models import Artifact, Schema

if TYPE_CHECKING:
    import anndata as ad

__all__ = ["AnnDataCurator", "Curator", "DataFrameCurator", "curate", "curator_for"]


def _require_saved(schema: Any) -> None:
    """Refuse a schema that is not saved, as LaminDB does (a builtin ValueError, its text)."""
    if isinstance(schema, Schema) and schema.id is None:
        raise ValueError("Schema must be saved before curation. Please save it using '.save()'.")


def _loaded(data: Any, kind: type, name: str) -> tuple[Any, Artifact | None]:
    """Return the object to curate and the saved artifact it was loaded from, if one was given.

    Raises:
        ValidationError: an unsaved artifact, or one that does not hold a `kind`.
    """
    if not isinstance(data, Artifact):
        return data, None
    if data.id is None:
        raise ValidationError(
            f"Artifact {data.key or data.description!r} is not saved; curate the object itself, "
            f"{name}(obj, schema), or save the artifact first."
        )
    loaded = data.load()
    if not isinstance(loaded, kind):
        raise ValidationError(
            f"Artifact {data.key or data.uid!r} holds {type(loaded).__name__}, not "
            f"{kind.__name__}; {name} curates {kind.__name__} artifacts."
        )
    return loaded, data


def _refuse_mixed(schema: Any, **legacy: Any) -> None:
    given = [name for name, value in legacy.items() if value is not None]
    if schema is not None and given:
        raise ValidationError(
            f"Pass either a schema or {', '.join(given)}, not both: a ln.Schema says which "
            "columns are categorical through its features' dtypes."
        )


class DataFrameCurator(BaseCurator):
    """Validates a DataFrame's column names against features and categorical columns.

    Two signatures: LaminDB 2.x's ``DataFrameCurator(df, schema)`` with a saved ``ln.Schema``
    (`validate()` raises a ValidationError when the data fails), and the 1.x one with
    ``categoricals=`` and ``columns=`` (`validate()` returns False). In place of the DataFrame, a
    saved artifact holding one may be given: it is loaded, and `save_artifact()` annotates that
    artifact instead of making a new one.

    Examples:
        >>> schema = ln.Schema(features=[ln.Feature(name="cell_type", dtype=bt.CellType).save()])
        >>> curator = ln.curators.DataFrameCurator(df, schema)
        >>> curator.validate()
        >>> artifact = curator.save_artifact(key="my_datasets/cells.parquet")
    """

    _slot = "columns"

    def __init__(
        self,
        df: pd.DataFrame | Artifact,
        categoricals: dict[str, Any] | Schema | None = None,
        columns: Any = None,
        organism: str | None = None,
        *,
        schema: Schema | None = None,
    ) -> None:
        """Make the curator; the arguments are described in the class docstring.

        Raises:
            ValueError: the schema is not saved (LaminDB's error): save it with ``.save()``.
            ValidationError: not a DataFrame (or an artifact of one), or bad
                arguments.
        """
        if isinstance(categoricals, Schema):  # LaminDB 2.x: DataFrameCurator(df, schema)
            schema, categoricals = categoricals, None
        _require_saved(schema)
        self._setup(df, categoricals, columns, organism, schema)

    def _setup(
        self, df: Any, categoricals: Any, columns: Any, organism: str | None, schema: Any
    ) -> None:
        _refuse_mixed(schema, categoricals=categoricals, columns=columns)
        df, artifact = _loaded(df, pd.DataFrame, "DataFrameCurator")
        if not isinstance(df, pd.DataFrame):
            raise ValidationError(
                f"DataFrameCurator expects a pandas DataFrame or an artifact of one, got "
                f"{type(df).__name__}."
            )
        super().__init__(df, df, organism)
        self._given_artifact = artifact
        if schema is None:
            self._add_columns(columns, categoricals)
        else:
            self._schema = check_schema(schema, otype="DataFrame")
            add_frame_keys(self, schema)

    def _artifact(
        self, key: str | None, description: str | None, revises: Any, run: Any
    ) -> Artifact:
        data = self.saved_data()
        artifact = Artifact.from_df(
            data, key=key, description=description, revises=revises, run=run
        )
        artifact.n_observations = len(data)
        return artifact


class AnnDataCurator(BaseCurator):
    """Validates an AnnData's var index, obs column names and categorical obs columns.

    Two signatures: LaminDB 2.x's ``AnnDataCurator(adata, schema)`` with a saved composite
    ``ln.Schema(otype="AnnData", slots={"obs": ..., "var.T": ...})`` (`validate()` raises when
    the data fails; `slots` gives each slot's keys), and the 1.x one with ``var_index=`` and
    ``categoricals=``. A saved artifact of an AnnData may be given in place of the object: it is
    loaded, and `save_artifact()` annotates that artifact.

    Examples:
        >>> curator = ln.curators.AnnDataCurator(adata, anndata_schema)
        >>> curator.slots["obs"].cat.standardize("cell_type")
        >>> artifact = curator.save_artifact(key="my_datasets/cells.h5ad")
    """

    _slot = "obs"

    def __init__(
        self,
        adata: ad.AnnData | Artifact,
        var_index: Any = None,
        categoricals: dict[str, Any] | None = None,
        obs_columns: Any = None,
        organism: str | None = None,
        *,
        schema: Schema | None = None,
    ) -> None:
        """Make the curator; the arguments are described in the class docstring.

        Raises:
            ValueError: the schema is not saved (LaminDB's error): save it with ``.save()``.
            ValidationError: not an AnnData (or an artifact of one), or bad
                arguments.
        """
        if isinstance(var_index, Schema):  # LaminDB 2.x: AnnDataCurator(adata, schema)
            schema, var_index = var_index, None
        _require_saved(schema)
        self._setup(adata, var_index, categoricals, obs_columns, organism, schema)

    def _setup(
        self,
        adata: Any,
        var_index: Any,
        categoricals: Any,
        obs_columns: Any,
        organism: str | None,
        schema: Any,
    ) -> None:
        import anndata as ad

        _refuse_mixed(
            schema, var_index=var_index, categoricals=categoricals, obs_columns=obs_columns
        )
        adata, artifact = _loaded(adata, ad.AnnData, "AnnDataCurator")
        if not isinstance(adata, ad.AnnData):
            raise ValidationError(
                f"AnnDataCurator expects an AnnData object, got {type(adata).__name__}; "
                "read files first with anndata.read_h5ad(path)."
            )
        super().__init__(adata, adata.obs, organism)
        self._given_artifact = artifact
        self._slot_keys: dict[str, list[str]] = {}
        if schema is not None:
            self._add_slots(check_schema(schema, otype="AnnData"))
            return
        if var_index is not None:
            registry, field = resolve_field(var_index)
            self._check_organism(registry)
            self._keys["var_index"] = index_key(adata, "var_index", registry, field)
        self._add_columns(obs_columns, categoricals)

    def _add_slots(self, schema: Schema) -> None:
        self._schema = schema
        for slot, component in schema.slots.items():
            before = set(self._keys)
            if slot == "obs":
                add_frame_keys(self, component)
            elif slot == "var.T" or component.itype != "Feature":  # "var": the 1.x spelling
                add_var_key(self, self._data, component)
                self._var_slot = slot
            else:
                raise ValidationError(
                    "Slot 'var' with features (validating the columns of adata.var) is not "
                    "supported; validate the var index with slots={'var.T': "
                    "ln.Schema(itype=bt.Gene.ensembl_gene_id)}."
                )
            self._slot_keys[slot] = [name for name in self._keys if name not in before]
            for name in self._slot_keys[slot]:
                self._keys[name].slot = slot

    @property
    def slots(self) -> dict[str, SlotCurator]:
        """The slots of a curator made with a composite schema: ``slots["obs"].cat``."""
        return {slot: SlotCurator(self, slot, keys) for slot, keys in self._slot_keys.items()}

    def _artifact(
        self, key: str | None, description: str | None, revises: Any, run: Any
    ) -> Artifact:
        return Artifact.from_anndata(
            self.saved_data(), key=key, description=description, revises=revises, run=run
        )


class Curator:
    """Build curators: ``ln.Curator.from_df(...)`` and ``ln.Curator.from_anndata(...)``.

    Examples:
        >>> curator = ln.Curator.from_df(df, categoricals={"cell_medium": ln.ULabel.name})
        >>> if not curator.validate():
        ...     curator.add_new_from("cell_medium")
        >>> curator.save_artifact(key="my_datasets/df.parquet")
    """

    @classmethod
    def from_df(
        cls,
        df: pd.DataFrame,
        categoricals: dict[str, Any] | None = None,
        columns: Any = None,
        organism: str | None = None,
    ) -> DataFrameCurator:
        """Return a curator for a DataFrame.

        Args:
            df: The DataFrame.
            categoricals: Column -> registry field its values must be in (``ln.ULabel.name``,
                ``bt.CellType.name``). Columns that are features with a ``cat[...]`` dtype are
                validated against their dtype's registry without being listed.
            columns: The field column names are validated against; default ``ln.Feature.name``.
            organism: For organism-bound registries (genes): ``"human"``, ``"mouse"``, ...

        Raises:
            ValidationError: a categorical names no column, an unknown organism (with the closest
                match), or a gene field without an organism.
        """
        return DataFrameCurator(df, categoricals=categoricals, columns=columns, organism=organism)

    @classmethod
    def from_anndata(
        cls,
        adata: ad.AnnData,
        var_index: Any = None,
        categoricals: dict[str, Any] | None = None,
        obs_columns: Any = None,
        organism: str | None = None,
    ) -> AnnDataCurator:
        """Return a curator for an AnnData object.

        Args:
            adata: The AnnData object.
            var_index: The field the var index is validated against, e.g. ``bt.Gene.symbol``.
            categoricals: obs column -> registry field.
            obs_columns: The field obs column names are validated against (``ln.Feature.name``).
            organism: ``"human"``, ``"mouse"``, ... (needed for genes).
        """
        return AnnDataCurator(
            adata,
            var_index=var_index,
            categoricals=categoricals,
            obs_columns=obs_columns,
            organism=organism,
        )


def curator_for(
    data: Any, schema: Any, *, organism: str | None = None
) -> DataFrameCurator | AnnDataCurator:
    """Return a curator of a DataFrame or AnnData under `schema`, which may be unsaved.

    ``DataFrameCurator(df, schema)`` refuses an unsaved schema, as LaminDB does; this keeps the
    schema out of the catalog until `save_artifact()` saves it with the artifact it validated,
    so a dataset that fails leaves no schema behind (what an IO manager needs).

    Raises:
        InvalidArgument: `schema` is not a Schema.
        ValidationError: `schema` does not fit the kind of `data`.
    """
    curator: DataFrameCurator | AnnDataCurator
    if isinstance(data, (pd.DataFrame, Artifact)) and not _holds_anndata(data):
        curator = DataFrameCurator.__new__(DataFrameCurator)
        curator._setup(data, None, None, organism, check_schema(schema, otype="DataFrame"))
    else:
        curator = AnnDataCurator.__new__(AnnDataCurator)
        curator._setup(data, None, None, None, organism, check_schema(schema, otype="AnnData"))
    return curator


def _holds_anndata(data: Any) -> bool:
    return isinstance(data, Artifact) and data.otype == "AnnData"


def curate(data: Any, schema: Any, *, organism: str | None = None) -> BaseCurator:
    """Return a curator of `data` under `schema` that validated, else raise.

    What ``ln.Artifact.from_df(df, schema=...)`` and ``from_anndata(adata, schema=...)`` call
    (through ``lamin_core.binding``) before the artifact is made; an unsaved schema is saved
    with the artifact.

    Raises:
        ValidationError: `schema` does not fit `data`, or `data` fails it; the message names the
            failing columns and values, and nothing is written.
    """
    curator = curator_for(data, schema, organism=organism)
    curator.validate()
    return curator
