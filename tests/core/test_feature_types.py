"""Feature types and feature flags (LaminDB 2.x): is_type/type, nullable, coerce, type dtypes.

The example of LaminDB 2.x's curation guide, end to end on both backends: a record type as a
dtype, a feature type as a schema's itype, flags that reject missing values or convert columns.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import numpy as np
import pandas as pd
import pytest

import lamin_core as ln
import lamin_core.bio as bt
from tests.snapshot import catalog_snapshot


@pytest.fixture
def immuno(instance: ln.Instance) -> dict[str, Any]:
    """The mini immuno example: a record type, a feature type and its features."""
    perturbations = ln.Record(name="Perturbations", is_type=True).save()
    ln.Record(name="DMSO", type=perturbations).save()
    ln.Record(name="IFNG", type=perturbations).save()
    other = ln.Record(name="Compounds", is_type=True).save()
    ln.Record(name="aspirin", type=other).save()
    feature_type = ln.Feature(name="ImmunoSamples", is_type=True).save()
    made = {
        "perturbations": perturbations,
        "type": feature_type,
        "perturbation": ln.Feature(
            name="perturbation", dtype=perturbations, type=feature_type
        ).save(),
        "donor": ln.Feature(name="donor", dtype=str, nullable=True, type=feature_type).save(),
        "treatment_time_h": ln.Feature(
            name="treatment_time_h", dtype="num", coerce=True, type=feature_type
        ).save(),
        "cell_type_by_expert": ln.Feature(
            name="cell_type_by_expert", dtype=bt.CellType, type=feature_type
        ).save(),
    }
    bt.CellType.from_values(["B cell", "T cell"]).save()
    return made


def immuno_df(**columns: Any) -> pd.DataFrame:
    data = {
        "perturbation": ["DMSO", "IFNG", "DMSO"],
        "donor": ["D1", None, "D3"],
        "treatment_time_h": [1, 2.5, 3],
        "cell_type_by_expert": ["B cell", "T cell", "T cell"],
    }
    data.update(columns)
    return pd.DataFrame(data)


# --- the model ---------------------------------------------------------------------------------


def test_feature_type_lists_its_features_and_has_no_dtype(immuno: dict[str, Any]):
    feature_type = ln.Feature.get(name="ImmunoSamples")
    assert feature_type.is_type and feature_type.dtype is None and feature_type.nullable is None
    assert sorted(f.name for f in feature_type.features) == [
        "cell_type_by_expert",
        "donor",
        "perturbation",
        "treatment_time_h",
    ]
    assert ln.Feature.get(name="donor").type == feature_type
    assert ln.Feature.get(name="cell_type_by_expert").nullable is True  # the default
    assert ln.Feature.get(name="treatment_time_h").coerce is True
    assert ln.Feature(name="older_flag", dtype=int, coerce_dtype=True).coerce is True


def test_feature_dtype_of_a_record_type_survives_renaming_the_type(
    immuno: dict[str, Any], capsys: pytest.CaptureFixture[str]
):
    perturbation = ln.Feature.get(name="perturbation")
    uid = immuno["perturbations"].uid
    assert perturbation.dtype == f"cat[Record[{uid}]]"
    immuno["perturbations"].name = "Treatments"
    immuno["perturbations"].save()
    df = immuno_df()
    artifact = ln.Artifact.from_df(
        df, key="renamed.parquet", schema=ln.Schema(itype=immuno["type"])
    )
    artifact.save().features.describe()
    assert "perturbation (cat[Record[Treatments]]): DMSO, IFNG" in capsys.readouterr().out
    # every view shows the type by name: describe(), the feature's own, df(features=True)
    artifact.describe()
    assert "perturbation (cat[Record[Treatments]]): DMSO, IFNG" in capsys.readouterr().out
    perturbation.describe()
    assert "dtype: cat[Record[Treatments]]" in capsys.readouterr().out
    frame = ln.Artifact.filter(key="renamed.parquet").df(features=["perturbation"])
    assert frame.attrs["feature_dtypes"] == {"perturbation": "cat[Record[Treatments]]"}
    # a subtype is shown inside its type
    blood = ln.Record(name="Blood", is_type=True, type=immuno["perturbations"]).save()
    assert "dtype: cat[Record[Treatments[Blood]]]" in describe_of(
        ln.Feature(name="blood_marker", dtype=blood).save(), capsys
    )


def test_a_type_in_the_trash_still_names_its_records_with_a_warning(
    immuno: dict[str, Any], caplog: pytest.LogCaptureFixture
):
    immuno["perturbations"].delete()  # to the trash: its uid still finds it
    with caplog.at_level(logging.WARNING, logger="lamin_core"):
        schema = ln.Schema(itype=immuno["type"]).save()
        curator = ln.curators.DataFrameCurator(immuno_df(), schema)
        assert curator.validate() is None
    assert "'Perturbations', which is in the trash" in caplog.text
    assert f"ln.Record.get({immuno['perturbations'].uid!r}).restore()" in caplog.text


def describe_of(record: Any, capsys: pytest.CaptureFixture[str]) -> str:
    record.describe()
    return capsys.readouterr().out


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: ln.Feature(name="no_dtype").save(), "has no dtype; dtype is required"),
        (
            lambda: ln.Feature(name="typed_type", is_type=True, dtype=str).save(),
            "is a feature type \\(is_type=True\\), which groups features and has no dtype",
        ),
        (
            lambda: ln.Feature(name="bad", dtype=ln.Record.get(name="DMSO")).save(),
            "Record 'DMSO' is not a type \\(is_type=False\\).*Pass its type \\('Perturbations'\\)",
        ),
        (
            lambda: ln.Feature(name="bad", dtype=ln.Record(name="Unsaved", is_type=True)).save(),
            "Record 'Unsaved' is not saved",
        ),
        (
            lambda: ln.Feature(name="bad", dtype=int, type=ln.Feature.get(name="donor")).save(),
            "Feature 'donor' is not a type",
        ),
        (
            lambda: ln.Schema(itype=ln.Feature.get(name="donor")).save(),
            "Invalid itype 'donor'.*not a feature type",
        ),
        (
            lambda: ln.Schema(index=ln.Feature.get(name="ImmunoSamples")).save(),
            "A Schema's index is a saved ln.Feature \\(not a feature type\\)",
        ),
    ],
    ids=[
        "no-dtype",
        "type-with-dtype",
        "non-type-record",
        "unsaved-type",
        "type-not-a-type",
        "itype-not-a-type",
        "index-a-type",
    ],
)
def test_bad_feature_type_input_is_refused_and_leaves_the_catalog(
    instance: ln.Instance, immuno: dict[str, Any], make: Any, message: str
):
    before = catalog_snapshot(instance)
    with pytest.raises(ln.ValidationError, match=message):
        make()
    assert catalog_snapshot(instance) == before


# --- curation against a feature type -------------------------------------------------------------


def test_feature_type_schema_validates_saves_and_annotates(
    instance: ln.Instance, immuno: dict[str, Any]
):
    schema = ln.Schema(
        name="mini_immuno",
        features=[immuno["perturbation"]],
        itype=immuno["type"],
        flexible=True,
    ).save()
    assert schema.itype == f"Feature[{immuno['type'].uid}]" and schema.flexible
    df = immuno_df()
    curator = ln.curators.DataFrameCurator(df, schema)
    curator.validate()
    artifact = curator.save_artifact(key="immuno.parquet")
    loaded = artifact.load()
    assert loaded["treatment_time_h"].tolist() == [1.0, 2.5, 3.0]
    assert loaded["donor"].tolist() == ["D1", None, "D3"]  # donor is nullable
    assert ln.Artifact.filter(perturbation="DMSO").one() == artifact
    assert ln.Artifact.filter(perturbation="aspirin").count() == 0
    linked = {r.name for r in ln.Record.filter(artifacts=artifact)}
    assert linked == {"DMSO", "IFNG"}
    assert schema.validated_artifacts[0] == artifact


def test_record_type_column_rejects_records_of_another_type(
    instance: ln.Instance, immuno: dict[str, Any]
):
    schema = ln.Schema(itype=immuno["type"]).save()
    before = catalog_snapshot(instance)
    df = immuno_df(perturbation=["DMSO", "aspirin", "DMSO"])  # aspirin: a Compounds record
    with pytest.raises(
        ln.ValidationError,
        match=r"1 term not validated in feature 'perturbation': 'aspirin'; not in Record\.name "
        r"of type 'Perturbations'",
    ):
        ln.Artifact.from_df(df, key="bad.parquet", schema=schema)
    assert catalog_snapshot(instance) == before
    curator = ln.curators.DataFrameCurator(df, schema)
    with pytest.raises(ln.ValidationError):
        curator.validate()
    curator.add_new_from("perturbation")  # a new record gets the type of the column
    assert ln.Record.get(name="aspirin", type=immuno["perturbations"]).is_type is False
    curator.validate()


def test_feature_type_schema_ignores_features_of_other_types(
    instance: ln.Instance, immuno: dict[str, Any], capsys: pytest.CaptureFixture[str]
):
    ln.Feature(name="outsider", dtype=int).save()  # registered, but not an ImmunoSamples feature
    schema = ln.Schema(itype=immuno["type"]).save()
    df = immuno_df(outsider=["not", "a", "number"])
    curator = ln.curators.DataFrameCurator(df, schema)
    curator.validate()  # outsider is not validated as the int feature: it is not of the type
    artifact = curator.save_artifact(key="immuno_with_extra.parquet")
    artifact.features.describe()
    described = capsys.readouterr().out
    assert "outsider" not in described and "columns: 4 Feature" in described


def test_subtype_records_validate_for_a_type_dtype(instance: ln.Instance, immuno: dict[str, Any]):
    cytokines = ln.Record(name="Cytokines", is_type=True, type=immuno["perturbations"]).save()
    ln.Record(name="IL2", type=cytokines).save()
    schema = ln.Schema(features=[immuno["perturbation"]]).save()
    ln.curators.DataFrameCurator(pd.DataFrame({"perturbation": ["IL2", "DMSO"]}), schema).validate()


# --- flags ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("missing", [None, np.nan, pd.NA], ids=["None", "NaN", "NA"])
def test_non_nullable_feature_rejects_missing_values(instance: ln.Instance, missing: Any):
    donor = ln.Feature(name="donor_id", dtype=str, nullable=False).save()
    schema = ln.Schema(features=[donor]).save()
    before = catalog_snapshot(instance)
    df = pd.DataFrame({"donor_id": ["D1", missing, missing]}, dtype=object)
    with pytest.raises(ln.ValidationError, match=r"column 'donor_id'.*has 2 missing values"):
        ln.Artifact.from_df(df, key="donors.parquet", schema=schema)
    assert catalog_snapshot(instance) == before
    nullable = ln.Schema(features=[ln.Feature(name="donor_opt", dtype=str).save()]).save()
    ln.curators.DataFrameCurator(pd.DataFrame({"donor_opt": ["D1", missing]}), nullable).validate()


@pytest.mark.parametrize(
    ("values", "expected"),
    [(["1", "2"], [1, 2]), ([1.0, 2.0], [1, 2]), (["3", 4.0], [3, 4])],
    ids=["from-str", "from-float", "mixed"],
)
@pytest.mark.parametrize("level", ["feature", "schema"])
def test_coerce_converts_losslessly_into_the_saved_artifact(
    instance: ln.Instance, level: str, values: list[Any], expected: list[int]
):
    count = ln.Feature(name="n_cells", dtype=int, coerce=level == "feature" or None).save()
    schema = ln.Schema(features=[count], coerce=level == "schema" or None).save()
    assert schema.coerce is (True if level == "schema" else None)
    df = pd.DataFrame({"n_cells": values})
    artifact = ln.Artifact.from_df(df, key=f"{level}.parquet", schema=schema).save()
    assert artifact.load()["n_cells"].tolist() == expected
    assert artifact.load()["n_cells"].dtype.kind == "i"
    assert df["n_cells"].tolist() == values
    curator = ln.curators.DataFrameCurator(df, schema)
    curator.validate()
    assert curator.dataset["n_cells"].tolist() == expected  # the coerced copy
    assert curator.dataset is not df


def test_curator_dataset_is_the_callers_frame_when_nothing_is_coerced(instance: ln.Instance):
    schema = ln.Schema(features=[ln.Feature(name="n_cells", dtype=int).save()]).save()
    df = pd.DataFrame({"n_cells": [1, 2]})
    curator = ln.curators.DataFrameCurator(df, schema)
    curator.validate()
    assert curator.dataset is df


@pytest.mark.parametrize(("dtype", "values"), [("num", ["1", "2"]), (bool, [1, 0]), (str, [1, 2])])
def test_coerce_leaves_num_bool_and_str_columns_to_the_dtype_check(
    instance: ln.Instance, dtype: Any, values: list[Any]
):
    feature = ln.Feature(name="guessed", dtype=dtype, coerce=True).save()
    schema = ln.Schema(features=[feature], coerce=True).save()
    with pytest.raises(ln.ValidationError) as error:
        ln.curators.DataFrameCurator(pd.DataFrame({"guessed": values}), schema).validate()
    message = str(error.value)
    assert "failed dtype check for" in message or "expected series 'guessed'" in message
    assert "coerce=True" not in message  # coerce does not convert to these dtypes


@pytest.mark.parametrize("level", ["feature", "schema"])
def test_coerce_refuses_a_lossy_conversion(instance: ln.Instance, level: str):
    count = ln.Feature(name="n_cells", dtype=int, coerce=level == "feature" or None).save()
    schema = ln.Schema(features=[count], coerce=level == "schema" or None).save()
    before = catalog_snapshot(instance)
    with pytest.raises(ln.ValidationError, match=r"cannot convert 1\.1 to integers without losing"):
        ln.Artifact.from_df(pd.DataFrame({"n_cells": [1, 1.1]}), key="x.parquet", schema=schema)
    assert catalog_snapshot(instance) == before


def test_without_coerce_a_text_number_column_is_refused(instance: ln.Instance):
    schema = ln.Schema(features=[ln.Feature(name="n_cells", dtype=int).save()]).save()
    with pytest.raises(ln.ValidationError) as error:
        ln.curators.DataFrameCurator(pd.DataFrame({"n_cells": ["1"]}), schema).validate()
    assert "Column 'n_cells' failed dtype check for 'int': got object" in str(error.value)
    assert "astype('Int64') or coerce=True" in str(error.value)


def test_a_nullable_int_column_read_as_float_names_the_nullable_dtype(instance: ln.Instance):
    schema = ln.Schema(features=[ln.Feature(name="n_cells", dtype=int, nullable=True).save()])
    schema.save()
    frame = pd.DataFrame({"n_cells": [1, None, 3]})  # pandas reads it as float64
    with pytest.raises(ln.ValidationError) as error:
        ln.curators.DataFrameCurator(frame, schema).validate()
    assert "expected series 'n_cells' to have type int, got float64" in str(error.value)
    frame["n_cells"] = frame["n_cells"].astype("Int64")  # the fix the message gives
    assert ln.curators.DataFrameCurator(frame, schema).validate() is None


def test_schema_index_feature_validates_the_index(instance: ln.Instance):
    sample = ln.Feature(name="sample_number", dtype=int).save()
    value = ln.Feature(name="value", dtype=float).save()
    schema = ln.Schema(features=[value], index=sample).save()
    assert schema.index == sample
    ln.curators.DataFrameCurator(pd.DataFrame({"value": [1.0]}, index=[7]), schema).validate()
    bad = pd.DataFrame({"value": [1.0]}, index=["s7"])
    with pytest.raises(ln.ValidationError, match="Index 'sample_number' failed dtype check"):
        ln.curators.DataFrameCurator(bad, schema).validate()


# --- lists ---------------------------------------------------------------------------------------


def test_list_of_labels_reports_a_synonym_and_standardize_fixes_it(instance: ln.Instance):
    tissue = ln.Feature(name="tissue", dtype=list[bt.Tissue]).save()
    schema = ln.Schema(features=[tissue]).save()
    df = pd.DataFrame({"tissue": [["blood", "pulmo"], ["blood"], ["lung"]]})
    curator = ln.curators.DataFrameCurator(df, schema)
    with pytest.raises(ln.ValidationError, match="pulmo"):
        curator.validate()
    assert curator.cat.non_validated == {"tissue": ["pulmo"]}
    curator.cat.standardize("tissue")
    assert df["tissue"].tolist() == [["blood", "lung"], ["blood"], ["lung"]]
    curator.validate()
    artifact = curator.save_artifact(key="tissues.parquet")
    assert {t.name for t in bt.Tissue.filter(artifacts=artifact)} == {"blood", "lung"}
    scalar = pd.DataFrame({"tissue": ["blood", "lung"]})
    with pytest.raises(ln.ValidationError, match="every cell is a list"):
        ln.curators.DataFrameCurator(scalar, schema).validate()


@pytest.mark.parametrize(
    ("cells", "ok"),
    [
        ([[True, False], [False]], True),
        ([[True, False], True], False),
        ([[True], [1]], False),
        ([[True], None], True),
    ],
    ids=["lists", "a-scalar", "an-int-item", "a-missing-cell"],
)
def test_list_bool_column_holds_only_lists_of_bools(
    instance: ln.Instance, cells: list[Any], ok: bool
):
    schema = ln.Schema(features=[ln.Feature(name="flags", dtype=list[bool]).save()]).save()
    curator = ln.curators.DataFrameCurator(pd.DataFrame({"flags": cells}), schema)
    if ok:
        curator.validate()
    else:
        with pytest.raises(ln.ValidationError, match="'flags'"):
            curator.validate()


def test_coerce_to_date_stores_calendar_dates(instance: ln.Instance):
    day = ln.Feature(name="collected_on", dtype=dt.date, coerce=True).save()
    schema = ln.Schema(features=[day]).save()
    df = pd.DataFrame({"collected_on": ["2024-01-01", None, "2024-01-02"]})
    curator = ln.curators.DataFrameCurator(df, schema)
    curator.validate()
    expected = [dt.date(2024, 1, 1), None, dt.date(2024, 1, 2)]
    assert curator.dataset["collected_on"].tolist() == expected
    artifact = ln.Artifact.from_df(df, key="dates.parquet", schema=schema).save()
    assert artifact.load()["collected_on"].tolist() == expected
    assert df["collected_on"].tolist() == ["2024-01-01", None, "2024-01-02"]
