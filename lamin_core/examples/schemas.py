"""Example schemas under the names LaminDB 2.x's documentation and tests use.

Each function returns the saved schema, saving it (and what it needs) the first time.

Examples:
    >>> schema = ln.examples.schemas.anndata_ensembl_gene_ids_and_valid_features_in_obs()
    >>> ln.curators.AnnDataCurator(adata, schema).validate()
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lamin_core.models import Schema

__all__ = ["anndata_ensembl_gene_ids_and_valid_features_in_obs", "valid_features"]

A_FEATURE_TYPE = "My features"  # the feature type of `_a_feature_type`


def _saved(name: str, **fields: Any) -> Schema:
    """Return the schema named `name`, saving it with `fields` the first time."""
    from lamin_core.models import Schema

    existing = Schema.filter(name=name).one_or_none()
    return existing if existing is not None else Schema(name=name, **fields).save()


def valid_features() -> Schema:
    """A DataFrame schema whose columns must be existing features (``itype=ln.Feature``)."""
    from lamin_core.models import Feature

    return _saved("valid_features", itype=Feature)


def _valid_ensembl_gene_ids() -> Schema:
    from lamin_core import bio as bt

    return _saved("valid_ensembl_gene_ids", itype=bt.Gene.ensembl_gene_id)


def anndata_ensembl_gene_ids_and_valid_features_in_obs() -> Schema:
    """An AnnData schema: ``obs`` columns are existing features, ``var`` indexed by Ensembl ids."""
    return _saved(
        "anndata_ensembl_gene_ids_and_valid_features_in_obs",
        otype="AnnData",
        slots={"obs": valid_features(), "var.T": _valid_ensembl_gene_ids()},
    )


def _feature_type(name: str, features: dict[str, Any]) -> Any:
    """Return the feature type `name`, saving it and its `features` (name -> dtype) if missing."""
    from lamin_core.models import Feature

    feature_type = Feature.filter(name=name, is_type=True).one_or_none()
    if feature_type is None:
        feature_type = Feature(name=name, is_type=True).save()
    for feature, dtype in features.items():
        if not Feature.filter(name=feature).exists():
            Feature(name=feature, dtype=dtype, type=feature_type).save()
    return feature_type


def _anndata_ensembl_gene_ids_and_obs_feature_type() -> Schema:
    """An AnnData schema: ``obs`` columns are features of the type ``Cells`` (the two cell-type
    columns of the mini immuno datasets), ``var`` is indexed by Ensembl ids."""
    from lamin_core import bio as bt
    from lamin_core.models import Schema

    cells = _feature_type(
        "Cells", {"cell_type_by_model": bt.CellType, "cell_type_by_expert": bt.CellType}
    )
    return _saved(
        "anndata_ensembl_gene_ids_and_obs_feature_type",
        otype="AnnData",
        slots={"obs": Schema(itype=cells).save(), "var.T": _valid_ensembl_gene_ids()},
    )


def _a_feature_type() -> Schema:
    """A DataFrame schema validating columns against the feature type ``My features``
    (``cell_type``, a cell type, and ``treatment``, text)."""
    from lamin_core import bio as bt
    from lamin_core.models import Schema

    feature_type = _feature_type(A_FEATURE_TYPE, {"cell_type": bt.CellType, "treatment": str})
    return Schema(itype=feature_type).save()


def _delete_a_feature_type() -> None:
    """Delete what `_a_feature_type` saved: its schemas, the features of the type and the type."""
    from lamin_core.models import Feature, Schema

    feature_type = Feature.filter(name=A_FEATURE_TYPE, is_type=True).one_or_none()
    if feature_type is None:
        return
    for schema in Schema.filter(itype=Schema(itype=feature_type).itype):
        schema.delete(permanent=True)
    for feature in Feature.filter(type=feature_type):
        feature.delete(permanent=True)
    feature_type.delete(permanent=True)
