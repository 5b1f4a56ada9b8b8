"""Names unique within their type (LaminDB 2.x): same-named records at different levels."""

from __future__ import annotations

import pandas as pd
import pytest

import lamin_core as ln


@pytest.mark.parametrize("registry", [ln.ULabel, ln.Record])
def test_same_name_under_another_type_is_another_record(instance: ln.Instance, registry):
    root = registry(name="Sample", is_type=True).save()
    lab_a = registry(name="LabA", is_type=True).save()
    under_a = registry(name="Sample", is_type=True, type=lab_a).save()
    assert under_a.id != root.id and under_a.type == lab_a
    # the constructor finds the existing record by name and type (none: the root)
    assert registry(name="Sample", is_type=True).id == root.id
    assert registry(name="Sample", is_type=True, type=lab_a).id == under_a.id
    # as in LaminDB, a second root record of one name is made only on purpose; then a
    # get() by name names both and says how to pick one
    registry(name="Sample", is_type=True, _skip_validation=True).save()
    with pytest.raises(ln.MultipleResultsFound, match=r"Candidates: .*at the root.*type="):
        registry.get(name="Sample", type=None)


def test_two_root_features_of_one_name_are_refused(instance: ln.Instance):
    ln.Feature(name="sample_name", dtype="str").save()
    duplicate = ln.Feature(name="sample_name", dtype="str", _skip_validation=True)
    with pytest.raises(ln.IntegrityError):
        duplicate.save()
    assert ln.Feature.filter(name="sample_name").count() == 1  # nothing written


def test_feature_of_another_feature_type_is_another_feature(instance: ln.Instance):
    scope_a = ln.Feature(name="ScopeA", is_type=True).save()
    scope_b = ln.Feature(name="ScopeB", is_type=True).save()
    in_a = ln.Feature(name="sample_name", dtype="str", type=scope_a).save()
    in_b = ln.Feature(name="sample_name", dtype="str", type=scope_b).save()
    assert in_a.id != in_b.id and in_a.type == scope_a and in_b.type == scope_b
    assert ln.Feature(name="sample_name", dtype="str", type=scope_b).id == in_b.id
    with pytest.raises(ln.MultipleResultsFound, match=r"Candidates: .*'ScopeA'.*type=") as error:
        ln.Feature.get(name="sample_name")
    assert "'ScopeB'" in str(error.value)
    assert ln.Feature.get(name="sample_name", type=scope_b).id == in_b.id


def test_flexible_feature_type_schema_validates_against_its_features(instance: ln.Instance):
    scope_a = ln.Feature(name="ScopeA", is_type=True).save()
    scope_b = ln.Feature(name="ScopeB", is_type=True).save()
    in_a = ln.Feature(name="sample_name", dtype="str", type=scope_a).save()
    ln.Feature(name="sample_name", dtype="int", type=scope_b).save()
    df = pd.DataFrame({"sample_name": ["s1", "s2"]})
    curator = ln.curators.DataFrameCurator(df, ln.Schema(itype=scope_a).save())
    assert curator.validate() is None
    assert curator._atomic_curator.cat._cat_vectors["columns"].records == [in_a]
    # without a scope, two features named alike at one level are ambiguous
    unscoped = ln.curators.DataFrameCurator(df, ln.Schema(itype=ln.Feature).save())
    with pytest.raises(ln.ValidationError, match=r"Ambiguous match for Feature 'sample_name'"):
        unscoped.validate()


def test_categorical_values_resolve_to_the_closest_level(instance: ln.Instance):
    s1_root = ln.Record(name="s1").save()
    lab_a = ln.Record(name="LabA", is_type=True).save()
    s1_lab_a = ln.Record(name="s1", type=lab_a).save()
    lab_b = ln.Record(name="LabB", is_type=True).save()
    ln.Record(name="s2", type=lab_a).save()
    ln.Record(name="s2", type=lab_b).save()
    df = pd.DataFrame({"biosample": pd.Categorical(["s1"])})
    by_type = ln.Feature(name="biosample", dtype=lab_a).save()
    curator = ln.curators.DataFrameCurator(df, ln.Schema([by_type]).save())
    curator.validate()
    assert curator.cat._cat_vectors["biosample"].records == [s1_lab_a]
    artifact = curator.save_artifact(key="by_type.parquet")
    assert artifact.records.list("id") == [s1_lab_a.id]
    by_type.delete(permanent=True)
    anywhere = ln.Feature(name="biosample", dtype=ln.Record).save()
    schema = ln.Schema([anywhere]).save()
    curator = ln.curators.DataFrameCurator(df, schema)
    curator.validate()
    assert curator.cat._cat_vectors["biosample"].records == [s1_root]  # the root wins
    ambiguous = pd.DataFrame({"biosample": pd.Categorical(["s2"])})
    with pytest.raises(
        ln.ValidationError,
        match=r"Ambiguous match for Record 's2': found 2 records at depth 1 "
        r"\(under types: \['LabA', 'LabB'\]\)",
    ):
        ln.curators.DataFrameCurator(ambiguous, schema).validate()


def test_cat_vectors_view_reports_validated_and_synonyms(instance: ln.Instance):
    ln.ULabel(name="DMSO").save()
    feature = ln.Feature(name="medium", dtype=ln.ULabel).save()
    df = pd.DataFrame({"medium": ["DMSO", "dmso", "IFNG"]})
    curator = ln.curators.DataFrameCurator(df, ln.Schema([feature]).save())
    with pytest.raises(ln.ValidationError, match="2 terms not validated in feature 'medium'"):
        curator.validate()
    vectors = curator.cat._cat_vectors
    assert set(vectors) == {"columns", "medium"}
    assert vectors["medium"]._validated == ["DMSO"]
    assert vectors["medium"]._non_validated == ["dmso", "IFNG"]
    assert vectors["medium"]._synonyms == {"dmso": "DMSO"}
    assert vectors["columns"].records == [feature]
