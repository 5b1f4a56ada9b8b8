"""Feature values and labels from Dagster metadata, and bad annotations leaving nothing behind."""

import dagster as dg
import pandas as pd
import pytest
from dagster_helpers import Catalog, step_error

import lamin_core as ln


@pytest.fixture
def features(sqlite_catalog: Catalog) -> Catalog:
    """A catalog with the features the assets below annotate."""
    with sqlite_catalog.instance.activate():
        ln.Feature(name="temperature", dtype="float").save()
        ln.Feature(name="study", dtype="cat[ULabel]").save()
        ln.ULabel.from_values(["Candidate marker study 1"], create=True).save()
    return sqlite_catalog


def _asset(metadata: dict[str, object], runtime: dict[str, object] | None = None):
    @dg.asset(metadata=metadata)
    def measured() -> dg.Output:
        extra = {key: dg.MetadataValue.json(value) for key, value in (runtime or {}).items()}
        return dg.Output(pd.DataFrame({"x": [1.0, 2.0]}), metadata=extra)

    return measured


def test_features_and_labels_from_metadata_annotate_the_artifact(
    features: Catalog, dagster_instance: dg.DagsterInstance
) -> None:
    asset = _asset(
        {"lamin/features": {"temperature": 20.0}, "lamin/labels": ["project A"]},
        runtime={"lamin/features": {"temperature": 21.6, "study": "Candidate marker study 1"}},
    )

    result = dg.materialize([asset], resources=features.resources(), instance=dagster_instance)

    (artifact,) = features.artifacts()
    with features.instance.activate():
        assert artifact.features.get_values() == {
            "temperature": 21.6,
            "study": "Candidate marker study 1",
        }
        assert sorted(label.name for label in artifact.ulabels) == [
            "Candidate marker study 1",
            "project A",
        ]
    table = result.asset_materializations_for_node("measured")[0].metadata["lamin/annotations"]
    assert "| feature | temperature | 21.6 |" in table.value
    assert "| label | ULabel | project A |" in table.value


def test_an_unknown_feature_fails_before_anything_is_saved(
    features: Catalog, dagster_instance: dg.DagsterInstance
) -> None:
    asset = _asset({"lamin/features": {"temprature": 21.6}})

    result = dg.materialize(
        [asset], resources=features.resources(), instance=dagster_instance, raise_on_error=False
    )

    message = step_error(result)
    assert "names features the catalog does not have: 'temprature'" in message
    assert "ln.Feature(name='temprature', dtype=...).save()" in message
    assert features.artifacts() == [] and features.stored_files() == []


def test_a_value_of_the_wrong_dtype_leaves_the_catalog_as_it_was(
    features: Catalog, dagster_instance: dg.DagsterInstance
) -> None:
    asset = _asset({"lamin/features": {"temperature": "warm"}})

    result = dg.materialize(
        [asset], resources=features.resources(), instance=dagster_instance, raise_on_error=False
    )

    assert "temperature" in step_error(result)
    assert features.artifacts() == [] and features.stored_files() == []
