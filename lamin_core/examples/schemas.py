"""Example schemas under the names LaminDB 2.x's documentation and tests use.

Each function returns the saved schema, saving it (and what it needs) the first time.

Examples:
    >>> schema = ln.examples.schemas.anndata_ensembl_gene_ids_and_valid_features_in_obs()
    >>> ln.curators.AnnDataCurator(adata, schema).validate()
"""

from __future__ import annotations

from typing import Any

from lamin_core import bio as bt
from lamin_core.examples._records import saved
from lamin_core.models import Feature, Schema

__all__ = ["anndata_ensembl_gene_ids_and_valid_features_in_obs", "valid_features"]

A_FEATURE_TYPE = "My features"  # the feature type of `_a_feature_type`


def valid_features() -> Schema:
    """A DataFrame schema whose columns must be existing features (``itype=ln.Feature``)."""
    return saved(Schema, {"name": "valid_features"}, itype=Feature)


def _valid_ensembl_gene_ids() -> Schema:
    return saved(Schema, {"name": "valid_ensembl_gene_ids"}, itype=bt.Gene.ensembl_gene_id)


def anndata_ensembl_gene_ids_and_valid_features_in_obs() -> Schema:
    """An AnnData schema: ``obs`` columns are existing features, ``var`` indexed by Ensembl ids."""
    return saved(
        Schema,
        {"name": "anndata_ensembl_gene_ids_and_valid_features_in_obs"},
        otype="AnnData",
        slots={"obs": valid_features(), "var.T": _valid_ensembl_gene_ids()},
    )


def _feature_type(name: str, features: dict[str, Any]) -> Any:
    """Return the feature type `name`, saving it and its `features` (name -> dtype) if missing."""
    feature_type = saved(Feature, {"name": name, "is_type": True})
    for feature, dtype in features.items():
        saved(Feature, {"name": feature}, dtype=dtype, type=feature_type)
    return feature_type


def _anndata_ensembl_gene_ids_and_obs_feature_type() -> Schema:
    """An AnnData schema: ``obs`` columns are features of the type ``Cells`` (the two cell-type
    columns of the mini immuno datasets), ``var`` is indexed by Ensembl ids."""
    cells = _feature_type(
        "Cells", {"cell_type_by_model": bt.CellType, "cell_type_by_expert": bt.CellType}
    )
    return saved(
        Schema,
        {"name": "anndata_ensembl_gene_ids_and_obs_feature_type"},
        otype="AnnData",
        slots={"obs": Schema(itype=cells).save(), "var.T": _valid_ensembl_gene_ids()},
    )


def _a_feature_type() -> Schema:
    """A DataFrame schema validating columns against the feature type ``My features``
    (``cell_type``, a cell type, and ``treatment``, text)."""
    feature_type = _feature_type(A_FEATURE_TYPE, {"cell_type": bt.CellType, "treatment": str})
    return Schema(itype=feature_type).save()


def _delete_a_feature_type() -> None:
    """Delete what `_a_feature_type` saved: its schemas, the features of the type and the type."""
    feature_type = Feature.filter(name=A_FEATURE_TYPE, is_type=True).one_or_none()
    if feature_type is None:
        return
    for schema in Schema.filter(itype=Schema(itype=feature_type).itype):
        schema.delete(permanent=True)
    for feature in Feature.filter(type=feature_type):
        feature.delete(permanent=True)
    feature_type.delete(permanent=True)
