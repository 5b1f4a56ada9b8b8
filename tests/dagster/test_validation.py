"""Curation: `lamin/schema` validates outputs; failures save nothing and stop downstream assets."""

import dagster as dg
import pandas as pd
import pytest
from dagster._utils.test.data_versions import get_stale_status_resolver
from dagster_helpers import Catalog, step_error

import lamin_core as ln
from lamin_dagster import VALIDATION_CHECK_NAME, LaminSchema, SchemaError, lamin_asset
from lamin_dagster.schema import resolve_field

SCHEMA = {"categoricals": {"cell_medium": "ULabel.name"}, "required_features": ["sample_note"]}


@pytest.fixture
def media(sqlite_catalog: Catalog) -> Catalog:
    """A catalog with the columns as features and the permissible values of `cell_medium`."""
    with sqlite_catalog.instance.activate():
        ln.Feature(name="cell_medium", dtype="cat[ULabel]").save()
        ln.Feature(name="sample_note", dtype="str").save()
        ln.ULabel.from_values(["DMSO", "IFNG"], create=True).save()
    return sqlite_catalog


def _samples(media: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"cell_medium": media, "sample_note": ["ok"] * len(media)})


def _pipeline(values: list[str]) -> list[dg.AssetsDefinition]:
    @lamin_asset(schema=SCHEMA, code_version="1")
    def samples() -> pd.DataFrame:
        return _samples(values)

    @dg.asset
    def medium_counts(samples: pd.DataFrame) -> pd.DataFrame:
        return samples["cell_medium"].value_counts().rename_axis("medium").reset_index()

    return [samples, medium_counts]


def _check(result: dg.ExecuteInProcessResult) -> dg.AssetCheckEvaluation:
    (evaluation,) = result.get_asset_check_evaluations()
    return evaluation


def test_a_valid_output_passes_its_check_and_is_saved(
    media: Catalog, dagster_instance: dg.DagsterInstance
) -> None:
    result = dg.materialize(
        _pipeline(["DMSO", "IFNG", "DMSO"]), resources=media.resources(), instance=dagster_instance
    )

    evaluation = _check(result)
    assert evaluation.passed and evaluation.check_name == VALIDATION_CHECK_NAME
    assert evaluation.asset_key == dg.AssetKey("samples")
    assert [a.key for a in media.artifacts()] == ["samples.parquet", "medium_counts.parquet"]
    materialization = result.asset_materializations_for_node("samples")[0]
    assert (
        "| validated | cell_medium | ULabel.name |"
        in materialization.metadata["lamin/annotations"].value
    )


def test_an_invalid_output_fails_the_blocking_check_and_stops_downstream(
    media: Catalog, dagster_instance: dg.DagsterInstance
) -> None:
    result = dg.materialize(
        _pipeline(["DMSO", "dmso", "Tcell"]),
        resources=media.resources(),
        instance=dagster_instance,
        raise_on_error=False,
    )

    assert not result.success
    evaluation = _check(result)
    assert not evaluation.passed and evaluation.blocking
    assert sorted(evaluation.metadata["cell_medium"].value.split(", ")) == ["'Tcell'", "'dmso'"]
    message = step_error(result, "samples")
    assert "asset 'samples' fails its lamin/schema" in message
    assert "column 'cell_medium' has values not in ULabel.name: " in message
    assert "'Tcell'" in message and "'dmso'" in message and "'DMSO'" not in message
    assert "ln.ULabel.from_values([" in message and "], create=True).save()" in message
    assert media.artifacts() == [] and media.stored_files() == []
    assert result.asset_materializations_for_node("medium_counts") == []
    assert "medium_counts" not in {run.name for run in media.runs()}
    assert {run.name: run.status for run in media.runs()}["samples"] == "errored"


def test_a_failed_check_shows_the_curators_suggestions_next_to_the_failing_values(
    media: Catalog, dagster_instance: dg.DagsterInstance
) -> None:
    with media.instance.activate():
        ln.Feature(name="cell_type", dtype="cat[bionty.CellType]").save()

    @lamin_asset(schema={"categoricals": {"cell_type": "bionty.CellType.name"}})
    def cells() -> pd.DataFrame:
        return pd.DataFrame({"cell_type": ["B cell", "B cels", "T cell"]})  # a seeded typo

    result = dg.materialize(
        [cells], resources=media.resources(), instance=dagster_instance, raise_on_error=False
    )

    evaluation = _check(result)
    assert not evaluation.passed
    assert evaluation.metadata["cell_type"].value == "'B cels' (did you mean 'B cell'?)"
    assert evaluation.metadata["suggestions"].value == {"cell_type": {"B cels": ["B cell"]}}
    assert "'B cels' (did you mean 'B cell'?)" in step_error(result)
    assert media.artifacts() == []


def _first_sight_asset(schema: dict[str, object], frame: pd.DataFrame) -> dg.AssetsDefinition:
    @lamin_asset(schema=schema)
    def samples() -> pd.DataFrame:
        return frame

    return samples


def test_add_new_from_registers_the_listed_keys_on_first_sight(
    sqlite_catalog: Catalog, dagster_instance: dg.DagsterInstance
) -> None:
    schema = {**SCHEMA, "add_new_from": ["columns", "cell_medium"]}
    asset = _first_sight_asset(schema, _samples(["DMSO", "IFNG"]))

    first = dg.materialize([asset], resources=sqlite_catalog.resources(), instance=dagster_instance)
    second = dg.materialize(
        [asset], resources=sqlite_catalog.resources(), instance=dagster_instance
    )

    assert _check(first).passed and _check(second).passed
    assert _check(first).metadata["added_on_first_sight"].value == {
        "columns": ["cell_medium", "sample_note"],
        "cell_medium": ["DMSO", "IFNG"],
    }
    assert "added_on_first_sight" not in _check(second).metadata
    with sqlite_catalog.instance.activate():
        assert sorted(ln.ULabel.filter().list("name")) == ["DMSO", "IFNG"]
        features = {f.name: f.dtype for f in ln.Feature.filter().all()}
    assert features == {"cell_medium": "cat[ULabel]", "sample_note": "str"}
    assert [a.version for a in sqlite_catalog.artifacts()] == ["1"]


def test_add_new_from_adds_nothing_when_an_unlisted_key_fails(
    sqlite_catalog: Catalog, dagster_instance: dg.DagsterInstance
) -> None:
    schema = {
        "categoricals": {"cell_medium": "ULabel.name", "cell_type": "bionty.CellType.name"},
        "add_new_from": ["columns", "cell_medium"],
    }
    frame = pd.DataFrame({"cell_medium": ["DMSO"], "cell_type": ["B cels"]})

    result = dg.materialize(
        [_first_sight_asset(schema, frame)],
        resources=sqlite_catalog.resources(),
        instance=dagster_instance,
        raise_on_error=False,
    )

    assert not _check(result).passed
    assert "'B cels' (did you mean 'B cell'?)" in _check(result).metadata["cell_type"].value
    with sqlite_catalog.instance.activate():
        assert ln.ULabel.filter().count() == 0 and ln.Feature.filter().count() == 0
    assert sqlite_catalog.artifacts() == []


@pytest.mark.parametrize(
    ("add_new_from", "message"),
    [
        (["cell_medum"], r"Unknown key 'cell_medum' in lamin/schema 'add_new_from'.*'cell_medium'"),
        ("cell_medium", r"'add_new_from' of asset 'x' must be a list of keys or 'all'"),
    ],
)
def test_schema_parse_rejects_a_malformed_add_new_from(add_new_from: object, message: str) -> None:
    with pytest.raises(SchemaError, match=message):
        LaminSchema.parse({**SCHEMA, "add_new_from": add_new_from}, label="asset 'x'")


def test_a_schema_naming_an_absent_column_fails_with_the_columns_there(
    media: Catalog, dagster_instance: dg.DagsterInstance
) -> None:
    @lamin_asset(schema={"categoricals": {"cell_type": "ULabel.name"}})
    def samples() -> pd.DataFrame:
        return _samples(["DMSO"])

    result = dg.materialize(
        [samples], resources=media.resources(), instance=dagster_instance, raise_on_error=False
    )

    evaluation = _check(result)
    assert not evaluation.passed
    assert evaluation.metadata["missing_columns"].value == "cell_type"
    message = step_error(result)
    assert "columns 'cell_type' named by the schema are missing" in message
    assert "The data has columns: cell_medium, sample_note." in message
    assert media.artifacts() == [] and media.stored_files() == []


def test_the_io_manager_validates_assets_with_schema_metadata(
    media: Catalog, dagster_instance: dg.DagsterInstance
) -> None:
    values = {"medium": ["DMSO"]}

    @dg.asset(metadata={"lamin/schema": SCHEMA})
    def samples() -> pd.DataFrame:
        return _samples(values["medium"])

    good = dg.materialize([samples], resources=media.resources(), instance=dagster_instance)
    values["medium"] = ["DMSO", "unknown medium"]
    bad = dg.materialize(
        [samples], resources=media.resources(), instance=dagster_instance, raise_on_error=False
    )

    assert good.success and not bad.success
    assert "'unknown medium'" in step_error(bad) and "Nothing was saved" in step_error(bad)
    assert [a.version for a in media.artifacts()] == ["1"]


def test_the_data_version_is_the_content_hash_so_identical_output_keeps_downstream_fresh(
    media: Catalog, dagster_instance: dg.DagsterInstance
) -> None:
    values = ["DMSO", "IFNG"]
    assets = _pipeline(values)
    resources = media.resources()
    first = dg.materialize(assets, resources=resources, instance=dagster_instance)
    resolver = lambda: get_stale_status_resolver(dagster_instance, assets)  # noqa: E731

    dg.materialize(assets, selection=["samples"], resources=resources, instance=dagster_instance)
    fresh = resolver().get_status(dg.AssetKey("medium_counts"))
    values.append("IFNG")
    changed = dg.materialize(
        assets, selection=["samples"], resources=resources, instance=dagster_instance
    )
    stale = resolver().get_status(dg.AssetKey("medium_counts"))

    (artifact_v1, artifact_v2) = media.artifacts(key="samples.parquet")
    materialization = first.asset_materializations_for_node("samples")[0]
    assert materialization.tags["dagster/data_version"] == artifact_v1.hash
    changed_tags = changed.asset_materializations_for_node("samples")[0].tags
    assert changed_tags["dagster/data_version"] == artifact_v2.hash
    assert (fresh.value, stale.value) == ("FRESH", "STALE")


def test_schema_parse_rejects_unknown_keys_with_the_closest_match() -> None:
    with pytest.raises(
        SchemaError, match=r"Unknown key 'categorical'.*Did you mean 'categoricals'"
    ):
        LaminSchema.parse({"categorical": {}}, label="asset 'x'")


def test_lamin_asset_rejects_a_malformed_schema_at_definition_time() -> None:
    with pytest.raises(SchemaError, match=r"'categoricals' of asset 'x' must map column names"):

        @lamin_asset(schema={"categoricals": ["cell_type"]})
        def x() -> pd.DataFrame:
            return pd.DataFrame()


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("ULabel.nme", r"Unknown field 'nme' of ULabel .*Did you mean 'name'"),
        ("ULable.name", r"Unknown registry 'ULable' .*Did you mean 'ULabel'"),
        ("name", r"Invalid registry field 'name'.*'Registry.field'"),
    ],
)
def test_resolve_field_explains_unknown_registries_and_fields(reference: str, message: str) -> None:
    with pytest.raises(SchemaError, match=message):
        resolve_field(reference)


def test_resolve_field_resolves_core_registry_fields() -> None:
    assert resolve_field("ULabel.name") is ln.ULabel.name
    assert resolve_field("Feature.name") is ln.Feature.name


def test_lamin_asset_needs_a_lamin_io_manager(dagster_instance: dg.DagsterInstance) -> None:
    @lamin_asset
    def table() -> pd.DataFrame:
        return pd.DataFrame({"x": [1]})

    result = dg.materialize(
        [table],
        resources={"io_manager": dg.FilesystemIOManager()},
        instance=dagster_instance,
        raise_on_error=False,
    )

    assert "lamin_asset 'table' needs a LaminIOManager under the resource key 'io_manager'" in (
        step_error(result)
    )
