"""A LaminDB 2.x `ln.Schema` as an asset's `lamin/schema`: validation, annotation, failures."""

import anndata as ad
import dagster as dg
import numpy as np
import pandas as pd
import pytest
from dagster_helpers import Catalog, step_error

import lamin_core as ln
import lamin_core.bio as bt
from lamin_dagster import LaminSchema, SchemaError, lamin_asset


@pytest.fixture
def features(sqlite_catalog: Catalog) -> dict[str, ln.Feature]:
    """Features and the permissible media, saved in the catalog the assets write to."""
    with sqlite_catalog.instance.activate():
        made = {
            "cell_medium": ln.Feature(name="cell_medium", dtype=ln.ULabel).save(),
            "temperature": ln.Feature(name="temperature", dtype=float).save(),
        }
        ln.ULabel.from_values(["DMSO", "IFNG"], create=True).save()
    return made


def _samples(media: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {"cell_medium": media, "temperature": [21.0 + i for i in range(len(media))]}
    )


def test_lamin_asset_with_a_saved_schema_validates_and_annotates(
    sqlite_catalog: Catalog, features: dict[str, ln.Feature], dagster_instance: dg.DagsterInstance
) -> None:
    with sqlite_catalog.instance.activate():
        schema = ln.Schema(list(features.values()), name="samples").save()

    @lamin_asset(schema=schema, code_version="1")
    def samples() -> pd.DataFrame:
        return _samples(["DMSO", "IFNG"])

    for _ in range(2):  # a second run finds the same content and the same schema
        result = dg.materialize(
            [samples], resources=sqlite_catalog.resources(), instance=dagster_instance
        )
        assert result.success
    (evaluation,) = result.get_asset_check_evaluations()
    assert evaluation.passed
    (artifact,) = sqlite_catalog.artifacts()
    with sqlite_catalog.instance.activate():
        assert artifact.schema == schema
        assert artifact.labels.get("cell_medium").list("name") == ["DMSO", "IFNG"]
        assert ln.Schema.filter(name="samples").count() == 1
    assert samples.specs_by_key[dg.AssetKey("samples")].tags["lamin_column/cell_medium"] == "ULabel"


def test_io_manager_with_an_unsaved_schema_refuses_bad_values_then_saves_good_ones(
    sqlite_catalog: Catalog, features: dict[str, ln.Feature], dagster_instance: dg.DagsterInstance
) -> None:
    with sqlite_catalog.instance.activate():
        schema = ln.Schema(list(features.values()), maximal_set=True)  # unsaved
    assert schema.id is None
    values = ["DMSO", "IFNGG"]

    @dg.asset(metadata={"lamin/schema": schema})
    def samples() -> pd.DataFrame:
        return _samples(values)

    result = dg.materialize(
        [samples], resources=sqlite_catalog.resources(), instance=dagster_instance,
        raise_on_error=False,
    )  # fmt: skip
    assert not result.success
    message = step_error(result, "samples")
    assert "cell_medium" in message and "'IFNGG'" in message and "Nothing was saved" in message
    assert sqlite_catalog.artifacts() == []
    with sqlite_catalog.instance.activate():
        assert ln.Schema.filter(maximal_set=True).count() == 0

    values[1] = "IFNG"
    result = dg.materialize(
        [samples], resources=sqlite_catalog.resources(), instance=dagster_instance
    )
    (artifact,) = sqlite_catalog.artifacts()
    with sqlite_catalog.instance.activate():
        saved = ln.Schema.filter(maximal_set=True).one()  # saved with the artifact it validated
        assert artifact.schema == saved
        assert sorted(saved.features.list("name")) == ["cell_medium", "temperature"]


def test_anndata_asset_with_a_composite_schema(
    sqlite_catalog: Catalog, features: dict[str, ln.Feature], dagster_instance: dg.DagsterInstance
) -> None:
    with sqlite_catalog.instance.activate():
        obs = ln.Schema([features["cell_medium"]])
        composite = ln.Schema(
            otype="AnnData", slots={"obs": obs, "var.T": ln.Schema(itype=bt.Gene.ensembl_gene_id)}
        )

    @lamin_asset(schema={"schema": composite, "organism": "human"}, code_version="1")
    def cells() -> ad.AnnData:
        return ad.AnnData(
            X=np.ones((2, 2), dtype="float32"),
            obs=pd.DataFrame({"cell_medium": ["DMSO", "IFNG"]}, index=["a", "b"]),
            var=pd.DataFrame(index=["ENSG00000139618", "ENSG00000141510"]),
        )

    result = dg.materialize(
        [cells], resources=sqlite_catalog.resources(), instance=dagster_instance
    )
    assert result.success
    (artifact,) = sqlite_catalog.artifacts()
    with sqlite_catalog.instance.activate():
        assert artifact.schema is not None and artifact.schema.is_composite
        assert sorted(fs.itype for fs in artifact.feature_sets) == ["Feature", "bionty.Gene"]


def test_a_schema_beside_categoricals_is_refused_at_definition(
    sqlite_catalog: Catalog, features: dict[str, ln.Feature]
) -> None:
    with sqlite_catalog.instance.activate():
        schema = ln.Schema([features["cell_medium"]])
    with pytest.raises(SchemaError, match=r"gives a ln\.Schema and 'categoricals'"):
        LaminSchema.parse({"schema": schema, "categoricals": {"cell_medium": "ULabel"}})
    with pytest.raises(SchemaError, match=r"must be a ln\.Schema"):
        LaminSchema.parse({"schema": ["cell_medium"]})
    parsed = LaminSchema.parse(schema)
    assert LaminSchema.parse(parsed.to_json()) == parsed  # the JSON Dagster stores round-trips


def test_add_new_from_with_a_schema_registers_new_labels_on_first_sight(
    sqlite_catalog: Catalog, features: dict[str, ln.Feature], dagster_instance: dg.DagsterInstance
) -> None:
    with sqlite_catalog.instance.activate():
        schema = ln.Schema([features["cell_medium"]])
    with pytest.raises(SchemaError, match="Unknown key 'cell_mediun'"):
        LaminSchema.parse({"schema": schema, "add_new_from": ["cell_mediun"]})

    @lamin_asset(schema={"schema": schema, "add_new_from": ["cell_medium"]}, code_version="1")
    def samples() -> pd.DataFrame:
        return _samples(["DMSO", "Lipid"])

    result = dg.materialize(
        [samples], resources=sqlite_catalog.resources(), instance=dagster_instance
    )
    assert result.success
    (artifact,) = sqlite_catalog.artifacts()
    with sqlite_catalog.instance.activate():
        assert artifact.labels.get("cell_medium").list("name") == ["DMSO", "Lipid"]
