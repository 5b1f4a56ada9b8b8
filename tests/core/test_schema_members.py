"""Schema members (LaminDB 2.x): optional and ordered features, record schemas, curating an
artifact, and what a schema curator refuses."""

from __future__ import annotations

import pandas as pd
import pytest

import lamin_core as ln
from tests.snapshot import catalog_snapshot


@pytest.fixture
def samples(instance: ln.Instance) -> dict[str, ln.Feature]:
    return {
        name: ln.Feature(name=name, dtype=str).save()
        for name in ("sample_id", "sample_name", "sample_type")
    }


def sample_df(*columns: str) -> pd.DataFrame:
    data = {
        "sample_id": ["s1", "s2"],
        "sample_name": ["Sample 1", "Sample 2"],
        "sample_type": ["A", "B"],
    }
    return pd.DataFrame({c: data[c] for c in columns or data})


def test_optional_member_may_be_missing_and_is_validated_when_present(
    samples: dict[str, ln.Feature],
):
    schema = ln.Schema(
        name="optional name",
        features=[
            samples["sample_id"],
            samples["sample_name"].with_config(optional=True),
            samples["sample_type"],
        ],
    ).save()
    reloaded = ln.Schema.get(name="optional name")
    assert reloaded.optionals.get().to_list("name") == ["sample_name"]
    ln.curators.DataFrameCurator(sample_df("sample_id", "sample_type"), reloaded).validate()
    with pytest.raises(ln.ValidationError, match="column 'sample_type' not in dataframe"):
        ln.curators.DataFrameCurator(sample_df("sample_id", "sample_name"), schema).validate()
    wrong = sample_df().assign(sample_name=[1, 2])
    with pytest.raises(ln.ValidationError, match="series 'sample_name' to have type str, got int"):
        ln.curators.DataFrameCurator(wrong, schema).validate()


def test_optionals_are_part_of_the_schema_identity_and_shown_by_describe(
    samples: dict[str, ln.Feature], capsys: pytest.CaptureFixture[str]
):
    features = list(samples.values())
    required = ln.Schema(features=features).save()
    optional = ln.Schema(features=[features[0], features[1].with_config(optional=True)]).save()
    same_members = ln.Schema(features=[features[0], features[1]]).save()
    assert len({required.id, optional.id, same_members.id}) == 3
    again = ln.Schema(features=[features[0], features[1].with_config(optional=True)])
    assert again == optional
    optional.describe()
    assert "sample_name (str, optional)" in capsys.readouterr().out


def test_optionals_set_add_remove_write_at_once_and_refuse_strangers(
    samples: dict[str, ln.Feature],
):
    schema = ln.Schema(name="s", features=list(samples.values())).save()
    hash_before = schema.hash
    schema.optionals.set([samples["sample_type"]])
    assert ln.Schema.get(name="s").optionals.get().to_list("name") == ["sample_type"]
    assert schema.hash != hash_before  # another requirement, another identity
    schema.optionals.add(samples["sample_name"])
    assert schema.optionals.get().to_list("name") == ["sample_name", "sample_type"]
    schema.optionals.remove(samples["sample_type"])
    assert schema.optionals.get().to_list("name") == ["sample_name"]
    with pytest.raises(TypeError, match="features must be a list of Feature records!"):
        schema.optionals.set("sample_name")  # type: ignore[arg-type]
    extra = ln.Feature(name="sample_extra", dtype=int).save()
    with pytest.raises(ValueError, match=r"use schema.add\(\) instead.*'sample_extra'"):
        schema.optionals.add(extra)
    assert schema.optionals.get().to_list("name") == ["sample_name"]
    schema.add(extra)
    schema.optionals.add(extra)
    assert schema.members.to_list("name")[-1] == "sample_extra" and schema.n == 4
    with pytest.raises(ln.ValidationError, match="Unknown schema member config 'default'"):
        ln.Schema(features=[(extra, {"default": 1})])


def test_members_keep_the_declared_order_and_ordered_set_checks_it(
    samples: dict[str, ln.Feature],
):
    order = [samples["sample_type"], samples["sample_id"], samples["sample_name"]]
    plain = ln.Schema(name="plain", features=order).save()
    assert ln.Schema.get(name="plain").members.to_list("name") == [f.name for f in order]
    ordered = ln.Schema(name="ordered", features=order, ordered_set=True).save()
    assert ordered != plain and ordered.ordered_set
    ln.curators.DataFrameCurator(sample_df("sample_type", "sample_id", "sample_name"), ordered)
    with pytest.raises(ln.ValidationError, match=r"out of order.*df = df\["):
        ln.curators.DataFrameCurator(sample_df(), ordered).validate()
    assert ln.curators.DataFrameCurator(sample_df(), plain).validate() is None


def test_maximal_set_allows_lamindb_internal_columns(samples: dict[str, ln.Feature]):
    schema = ln.Schema(features=list(samples.values()), maximal_set=True).save()
    df = sample_df().assign(__lamindb_record_uid__="x")
    assert ln.curators.DataFrameCurator(df, schema).validate() is None
    with pytest.raises(ln.ValidationError, match="'extra' is not in the schema"):
        ln.curators.DataFrameCurator(sample_df().assign(extra=1), schema).validate()


def test_record_type_schema_is_saved_queried_and_refuses_unsaved(
    samples: dict[str, ln.Feature],
):
    schema = ln.Schema(name="sheet", features=[samples["sample_id"]]).save()
    sheet = ln.Record(name="Sheet", is_type=True, schema=schema).save()
    assert ln.Record.get(name="Sheet").schema == schema
    assert ln.Record.filter(schema=schema).to_list("name") == ["Sheet"]
    with pytest.raises(ln.ValidationError, match=r"must be a saved ln\.Schema"):
        ln.Record(name="Other", is_type=True, schema=ln.Schema(features=[samples["sample_name"]]))
    schema.delete(permanent=True)
    assert ln.Record.get(name="Sheet").schema is None and sheet.id is not None


def test_curator_refuses_an_unsaved_schema_but_curator_for_saves_it_with_the_artifact(
    samples: dict[str, ln.Feature],
):
    unsaved = ln.Schema(features=[samples["sample_id"]])
    with pytest.raises(ValueError, match=r"Schema must be saved before curation.*\.save\(\)"):
        ln.curators.DataFrameCurator(sample_df(), unsaved)
    curator = ln.curators.curator_for(sample_df("sample_name"), unsaved)  # an IO manager's way
    with pytest.raises(ln.ValidationError, match="column 'sample_id' not in dataframe"):
        curator.validate()
    assert unsaved.id is None and ln.Schema.filter().count() == 0
    artifact = ln.curators.curator_for(sample_df(), unsaved).save_artifact(key="t.parquet")
    assert artifact.schema == unsaved and unsaved.id is not None


def test_curating_a_saved_artifact_annotates_it_without_a_new_one(
    samples: dict[str, ln.Feature],
):
    artifact = ln.Artifact.from_df(sample_df(), key="samples.parquet").save()
    schema = ln.Schema(name="samples", features=[samples["sample_id"]]).save()
    curator = ln.curators.DataFrameCurator(artifact, schema)
    assert repr(curator) == "DataFrameCurator(Schema: samples, unvalidated)"
    curator.validate()
    assert repr(curator) == "DataFrameCurator(Schema: samples, validated)"
    with pytest.raises(ln.ValidationError, match="without key= or revises="):
        curator.save_artifact(key="other.parquet")
    assert curator.save_artifact() == artifact
    assert ln.Artifact.filter(key="samples.parquet").one().schema == schema
    assert ln.Artifact.filter().count() == 1


def test_curating_an_artifact_that_fails_leaves_it_as_it_was(
    instance: ln.Instance, samples: dict[str, ln.Feature]
):
    artifact = ln.Artifact.from_df(sample_df("sample_name"), key="names.parquet").save()
    schema = ln.Schema(features=[samples["sample_id"]]).save()
    before = catalog_snapshot(instance)
    curator = ln.curators.DataFrameCurator(artifact, schema)
    with pytest.raises(ln.ValidationError, match="column 'sample_id' not in dataframe"):
        curator.save_artifact()
    assert catalog_snapshot(instance) == before


def test_schema_curator_needs_coerce_for_ints_in_a_float_column(instance: ln.Instance):
    ratio = ln.Feature(name="ratio", dtype=float).save()
    df = pd.DataFrame({"ratio": [1, 2]})
    plain = ln.Schema(features=[ratio]).save()
    with pytest.raises(ln.ValidationError, match=r"holds int64.*coerce = True"):
        ln.curators.DataFrameCurator(df, plain).validate()
    coercing = ln.Schema(features=[ratio], coerce=True).save()
    curator = ln.curators.DataFrameCurator(df, coercing)
    curator.validate()
    assert curator.dataset["ratio"].dtype.kind == "f"
    # the 1.x curators take ints for a float feature, as they always did
    assert ln.Curator.from_df(df).validate() is True


def test_schema_curator_messages_name_terms_and_nulls_as_lamindb(instance: ln.Instance):
    disease = ln.Feature(name="disease", dtype=ln.ULabel, nullable=False).save()
    schema = ln.Schema(features=[disease]).save()
    df = pd.DataFrame({"disease": pd.Categorical([None, "asthma"])})
    with pytest.raises(ln.ValidationError) as error:
        ln.curators.DataFrameCurator(df, schema).validate()
    message = str(error.value)
    assert "non-nullable series 'disease' contains null values" in message
    assert "feature.nullable = True" in message
    assert "1 term not validated in feature 'disease': 'asthma'" in message
    assert 'curator.add_new_from("disease")' in message


@pytest.fixture
def sheets(samples: dict[str, ln.Feature]) -> dict[str, object]:
    sheet_schema = ln.Schema(name="sheet", features=[samples["sample_id"]]).save()
    other_schema = ln.Schema(name="other", features=[samples["sample_name"]]).save()
    kind = ln.Record(name="Samplesheets", is_type=True).save()
    return {
        "schema": sheet_schema,
        "kind": kind,
        "valid": ln.Record(name="valid", type=kind, is_type=True, schema=sheet_schema).save(),
        "other": ln.Record(name="other", type=kind, is_type=True, schema=other_schema).save(),
    }


def test_cat_filters_admit_only_the_matching_records(sheets: dict[str, object]):
    schema, kind = sheets["schema"], sheets["kind"]
    feature = ln.Feature(
        name="samplesheet",
        dtype=kind,
        cat_filters={"type": kind, "is_type": True, "schema": schema},
    ).save()
    stored = ln.Feature.get(name="samplesheet").cat_filters
    assert stored == {"type__uid": kind.uid, "is_type": True, "schema__uid": schema.uid}  # type: ignore[attr-defined]
    checked = ln.Schema(features=[feature]).save()
    df = pd.DataFrame({"samplesheet": pd.Categorical(["valid", "other"])})
    with pytest.raises(ln.ValidationError, match="1 term not validated in feature 'samplesheet'"):
        ln.curators.DataFrameCurator(df, checked).validate()
    good = pd.DataFrame({"samplesheet": pd.Categorical(["valid"])})
    artifact = ln.Artifact.from_df(good, key="sheets.parquet", schema=checked).save()
    assert artifact.records.list("name") == ["valid"]  # type: ignore[attr-defined]
    # the 1.x curators apply the feature's filters too
    curator = ln.Curator.from_df(df, categoricals={"samplesheet": ln.Record.name})
    assert curator.validate() is False and curator.non_validated == {"samplesheet": ["other"]}


def test_cat_filters_that_cannot_apply_are_refused_before_saving(
    instance: ln.Instance, sheets: dict[str, object]
):
    before = catalog_snapshot(instance)
    with pytest.raises(ln.ValidationError, match="filters apply to the labels of one registry"):
        ln.Feature(name="plain", dtype=str, cat_filters={"is_type": True}).save()
    with pytest.raises(ln.ValidationError, match="Record cannot apply"):
        ln.Feature(name="typo", dtype=ln.Record, cat_filters={"is_typo": True}).save()
    with pytest.raises(ln.ValidationError, match="must be text, a number"):
        ln.Feature(name="listed", dtype=ln.Record, cat_filters={"name": ["a"]})
    assert catalog_snapshot(instance) == before
    ln.Feature(name="kinds", dtype=ln.Record, cat_filters={"is_type": True}).save()
    with pytest.raises(ln.ValidationError, match="exists with cat_filters"):
        ln.Feature(name="kinds", dtype=ln.Record, cat_filters={"is_type": False})


def test_queryset_update_sets_fields_and_relations_with_the_registry_rules(
    sheets: dict[str, object],
):
    kind = sheets["kind"]
    assert ln.Record.filter(type=kind).update(type=None) == 2
    assert ln.Record.filter(type=kind).count() == 0
    assert ln.Record.filter(name="valid").update(description="checked") == 1
    assert ln.Record.get(name="valid").description == "checked"
    with pytest.raises(ln.ValidationError, match="is not a type"):
        ln.Record.filter(name="valid").update(type=ln.Record(name="plain").save())
    assert ln.Record.get(name="valid").type is None  # nothing changed
    with pytest.raises(ln.errors.FieldError, match=r"Cannot update 'nam'.*'name'"):
        ln.Record.filter().update(nam="x")
