"""Features and labels on artifacts: dtypes, values, labels, queries, and bad input."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

import lamin_core as ln
import lamin_core.bio as bt
from lamin_core.annotations.dtypes import parse_dtype
from lamin_core.models.artifact import artifact_featurevalue, artifact_ulabel


def rows(table_or_model: object) -> int:
    session = ln.get_instance().session
    return session.scalar(sa.select(sa.func.count()).select_from(table_or_model))


def snapshot() -> tuple[int, ...]:
    from lamin_core.models import Feature, FeatureValue, ULabel

    links = [t for name, t in ln.Artifact.metadata.tables.items() if name.startswith("artifact_")]
    return (rows(Feature), rows(FeatureValue), rows(ULabel), *(rows(t) for t in links))


def make_artifact(name: str = "a", *, save: bool = True) -> ln.Artifact:
    df = pd.DataFrame({"x": [1, 2, 3], "name": [name] * 3})
    artifact = ln.Artifact.from_df(df, key=f"tables/{name}.parquet")
    return artifact.save() if save else artifact


# --- dtypes -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("str", "str"), ("int", "int"), ("float", "float"), ("num", "num"), ("bool", "bool"),
        ("date", "date"), ("datetime", "datetime"), ("dict", "dict"),
        ("cat", "cat[ULabel]"), ("cat[ULabel]", "cat[ULabel]"),
        ("cat[bionty.CellType]", "cat[bionty.CellType]"), ("cat[CellType]", "cat[bionty.CellType]"),
        ("cat[bt.Gene]", "cat[bionty.Gene]"),
        ("cat[bionty.CellType.ontology_id]", "cat[bionty.CellType.ontology_id]"),
        ("cat[ULabel|bionty.Tissue]", "cat[ULabel|bionty.Tissue]"),
        ("list[int]", "list[int]"), ("list[cat[ULabel]]", "list[cat[ULabel]]"),
    ],
)  # fmt: skip
def test_feature_dtype_is_parsed_and_stored_canonically(
    sqlite_instance: ln.Instance, given: str, canonical: str
):
    feature = ln.Feature(name="f", dtype=given).save()
    assert ln.Feature.get(feature.id).dtype == canonical


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("flaot", r"Invalid dtype 'flaot'\. Did you mean 'float'\? Valid dtypes: str, int"),
        ("cat[CellTyp]", r"unknown registry 'CellTyp'\. Did you mean 'CellType'\?"),
        ("cat[bionty.CellType.nam]", r"CellType has no field 'nam'\. Did you mean 'name'\?"),
        ("list[list[int]]", "nested lists are not supported"),
        ("cat[]", "empty registry name"),
    ],
)
def test_invalid_dtype_is_refused_with_the_valid_ones(
    sqlite_instance: ln.Instance, given: str, message: str
):
    with pytest.raises(ln.ValidationError, match=message):
        ln.Feature(name="f", dtype=given)
    assert rows(ln.Feature) == 0


@pytest.mark.parametrize("name", ["key", "size", "suffix", "ulabels", "cell_types", "features"])
def test_feature_named_like_an_artifact_field_is_refused(sqlite_instance: ln.Instance, name: str):
    with pytest.raises(ln.ValidationError, match=f"collides with the Artifact field '{name}'"):
        ln.Feature(name=name, dtype="str")
    assert rows(ln.Feature) == 0


def test_feature_name_with_lookup_separator_is_refused(sqlite_instance: ln.Instance):
    with pytest.raises(ln.ValidationError, match=r"contains '__'.*'cell_type'"):
        ln.Feature(name="cell__type", dtype="str")


@pytest.mark.parametrize(
    ("dtype", "value", "stored"),
    [
        ("str", "hello", "hello"),
        ("int", 3, 3),
        ("int", np.int64(4), 4),
        ("float", 21.6, 21.6),
        ("float", 21, 21),
        ("num", np.float32(1.5), 1.5),
        ("bool", True, True),
        ("date", dt.date(2024, 12, 1), "2024-12-01"),
        ("date", "2024-12-01", "2024-12-01"),
        ("datetime", dt.datetime(2024, 12, 1, 9, 30), "2024-12-01T09:30:00"),
        ("datetime", "2024-12-01T09:30:00", "2024-12-01T09:30:00"),
        ("dict", {"a": [1, 2]}, {"a": [1, 2]}),
        ("list[int]", [1, 2], [1, 2]),
        ("list[str]", ("a", "b"), ["a", "b"]),
    ],
)
def test_values_of_each_dtype_round_trip(
    sqlite_instance: ln.Instance, dtype: str, value: object, stored: object
):
    ln.Feature(name="f", dtype=dtype).save()
    artifact = make_artifact()
    artifact.features.add_values({"f": value})
    assert artifact.features.get_values() == {"f": stored}


@pytest.mark.parametrize(
    ("dtype", "value", "message"),
    [
        ("int", 2.5, "expected an integer, got float 2.5"),
        ("int", True, "expected an integer, got bool True"),
        ("float", "21.6", "expected a number, got str '21.6'"),
        ("bool", 1, "expected True or False"),
        ("str", 3, "expected a string"),
        ("date", "12/01/2024", "expected a date or an ISO date string"),
        ("date", dt.datetime(2024, 1, 1), "expected a date"),
        ("datetime", "yesterday", "expected a datetime"),
        ("dict", [1], "expected a dict"),
        ("dict", {"a": object()}, "JSON-serialisable"),
        ("list[int]", 3, "expected a list"),
        ("list[int]", [1, "2"], "expected an integer, got str '2'"),
        ("float", float("nan"), "missing value"),
        ("str", None, "missing value"),
        ("cat[ULabel]", 3, "expected a label name"),
    ],
)
def test_value_of_the_wrong_dtype_is_refused_and_nothing_saved(
    sqlite_instance: ln.Instance, dtype: str, value: object, message: str
):
    ln.Feature(name="f", dtype=dtype).save()
    ln.Feature(name="ok", dtype="float").save()
    artifact = make_artifact()
    before = snapshot()
    with pytest.raises(ln.ValidationError, match=message):
        artifact.features.add_values({"ok": 1.0, "f": value})
    assert snapshot() == before


# --- values and labels ------------------------------------------------------------------------


@pytest.fixture
def annotated(instance: ln.Instance) -> tuple[ln.Artifact, ln.Artifact]:
    for name, dtype in [
        ("temperature", "float"), ("study", "cat[ULabel]"), ("date_of_study", "date"),
        ("cell_type", "cat[bionty.CellType]"), ("n_donors", "int"),
        ("treatments", "list[cat[ULabel]]"),
    ]:  # fmt: skip
        ln.Feature(name=name, dtype=dtype).save()
    ln.ULabel.from_values(["study 1", "study 2", "DMSO", "IFNG"], create=True).save()
    bt.CellType.from_values(["B cell", "T cell"]).save()
    first, second = make_artifact("first"), make_artifact("second")
    first.features.add_values(
        {"temperature": 21.6, "study": "study 1", "date_of_study": "2024-12-01",
         "cell_type": "B cell", "n_donors": 3, "treatments": ["DMSO", "IFNG"]}
    )  # fmt: skip
    second.features.add_values(
        {"temperature": 22.6, "study": ln.ULabel.get(name="study 2"),
         "date_of_study": dt.date(2025, 2, 13), "cell_type": ["B cell", "T cell"], "n_donors": 5}
    )  # fmt: skip
    return first, second


def test_add_and_get_values(annotated: tuple[ln.Artifact, ln.Artifact]):
    first, second = annotated
    assert first.features.get_values() == {
        "temperature": 21.6, "study": "study 1", "date_of_study": "2024-12-01",
        "cell_type": "B cell", "n_donors": 3, "treatments": ["DMSO", "IFNG"],
    }  # fmt: skip
    values = second.features.get_values()
    assert values["study"] == "study 2" and sorted(values["cell_type"]) == ["B cell", "T cell"]
    assert {u.name for u in first.ulabels} == {"study 1", "DMSO", "IFNG"}
    assert {c.name for c in ln.Artifact.get(second.id).cell_types} == {"B cell", "T cell"}


def test_same_value_is_stored_once_and_adding_twice_is_idempotent(
    annotated: tuple[ln.Artifact, ln.Artifact],
):
    first, second = annotated
    before = snapshot()
    first.features.add_values({"temperature": 21.6, "study": "study 1"})
    assert snapshot() == before
    second.features.add_values({"n_donors": 3})  # the value row of `first` is shared
    assert rows(ln.FeatureValue) == before[1]
    assert second.features.get_values()["n_donors"] == [5, 3]


def test_remove_values(annotated: tuple[ln.Artifact, ln.Artifact]):
    first, _ = annotated
    first.features.remove_values("temperature")
    first.features.remove_values("treatments", value="DMSO")
    first.features.remove_values(["study", "cell_type"])
    assert first.features.get_values() == {
        "date_of_study": "2024-12-01", "n_donors": 3, "treatments": "IFNG"
    }  # fmt: skip
    with pytest.raises(ln.DoesNotExist, match=r"No feature named 'temprature'.*'temperature'"):
        first.features.remove_values("temprature")


def test_unknown_feature_names_are_listed_with_the_code_to_create_them(
    annotated: tuple[ln.Artifact, ln.Artifact],
):
    first, _ = annotated
    before = snapshot()
    with pytest.raises(ln.ValidationError) as error:
        first.features.add_values({"temperature": 20.0, "ph": 7.4, "operator": "Jane"})
    message = str(error.value)
    assert "'ph', 'operator'" in message and "Nothing was saved" in message
    assert "ln.Feature(name='ph', dtype='float').save()" in message
    assert snapshot() == before


def test_labels_not_in_the_registry_are_refused_with_the_fix(
    annotated: tuple[ln.Artifact, ln.Artifact],
):
    first, _ = annotated
    before = snapshot()
    with pytest.raises(ln.ValidationError) as error:
        first.features.add_values({"study": "study 3", "cell_type": "unicorn cell"})
    message = str(error.value)
    assert "ln.ULabel.from_values(['study 3'], create=True).save()" in message
    assert "bt.CellType.from_values(['unicorn cell']).save()" in message
    assert snapshot() == before


def test_record_of_the_wrong_registry_is_refused(annotated: tuple[ln.Artifact, ln.Artifact]):
    first, _ = annotated
    with pytest.raises(ln.ValidationError, match="got a CellType record"):
        first.features.add_values({"study": bt.CellType.get(name="B cell")})


def test_unsaved_artifact_cannot_be_annotated(sqlite_instance: ln.Instance):
    ln.Feature(name="temperature", dtype="float").save()
    artifact = ln.Artifact.from_df(pd.DataFrame({"x": [1]}), key="unsaved.parquet")
    with pytest.raises(ln.ValidationError, match="not saved"):
        artifact.features.add_values({"temperature": 1.0})


def test_labels_add_and_get_by_feature(annotated: tuple[ln.Artifact, ln.Artifact]):
    _, second = annotated
    project = ln.ULabel(name="project A").save()
    second.labels.add(project)
    second.labels.add(ln.ULabel.filter(name__in=["DMSO"]), feature="treatments")
    assert second.labels.get("treatments").list("name") == ["DMSO"]
    assert set(second.labels.get(registry=ln.ULabel).list("name")) == {
        "study 2", "project A", "DMSO",
    }  # fmt: skip
    assert sorted(second.labels.get("cell_type").list("name")) == ["B cell", "T cell"]
    with pytest.raises(ln.ValidationError, match="cannot hold CellType records"):
        second.labels.add(bt.CellType.get(name="B cell"), feature="study")
    with pytest.raises(ln.ValidationError, match="holds values, not labels"):
        second.labels.get("temperature")
    with pytest.raises(ln.ValidationError, match="not saved"):
        second.labels.add(ln.ULabel(name="unsaved"))
    assert "project A" in repr(second.labels)


def test_labels_add_takes_names_of_saved_records_of_the_features_registry(
    annotated: tuple[ln.Artifact, ln.Artifact],
):
    first, _ = annotated
    first.labels.add("IFNG", feature="study")  # a saved ULabel, by the feature's dtype
    assert first.labels.get("study").list("name") == ["study 1", "IFNG"]
    # a name no saved record has: refused before anything is linked, with the fix
    with pytest.raises(ln.ValidationError) as error:
        first.labels.add(["T cell", "unknown cell"], feature="cell_type")
    assert "No CellType record with name 'unknown cell'" in str(error.value)
    assert "label = bt.CellType(name='unknown cell').save()" in str(error.value)
    assert first.labels.get("cell_type").list("name") == ["B cell"]
    first.labels.add(["T cell"], feature="cell_type")
    assert sorted(first.labels.get("cell_type").list("name")) == ["B cell", "T cell"]
    with pytest.raises(ln.ValidationError, match=r"ln\.ULabel\(name='project B'\)"):
        first.labels.add("project B")  # no feature: a ULabel name


def test_labels_add_from_copies_every_label_under_its_feature(
    annotated: tuple[ln.Artifact, ln.Artifact],
):
    first, _ = annotated
    first.labels.add(ln.ULabel(name="project A").save())
    first.labels.add(ln.Record(name="sample 1").save())
    copy = make_artifact("copy")
    with pytest.raises(ln.ValidationError, match="copies the labels of a saved artifact"):
        copy.labels.add_from(make_artifact("unsaved", save=False))
    assert copy.labels.get(registry=ln.ULabel).count() == 0  # nothing linked
    copy.labels.add_from(first)
    copy.labels.add_from(first)  # links it has are kept once
    assert copy.labels.get("treatments").list("name") == ["DMSO", "IFNG"]
    assert copy.labels.get("cell_type").list("name") == ["B cell"]
    assert copy.labels.get("study").list("name") == ["study 1"]
    assert set(copy.labels.get(registry=ln.ULabel).list("name")) == {
        "study 1", "DMSO", "IFNG", "project A",
    }  # fmt: skip
    assert copy.records.list("name") == ["sample 1"]
    assert copy.features.get_values()["cell_type"] == "B cell"


def test_describe_shows_values_and_labels(
    annotated: tuple[ln.Artifact, ln.Artifact], capsys: pytest.CaptureFixture[str]
):
    first, _ = annotated
    first.labels.add(ln.ULabel(name="project A").save())
    first.features.describe()
    text = capsys.readouterr().out
    assert "Dataset features" in text and "temperature (float): 21.6" in text
    assert "cell_type (cat[bionty.CellType]): B cell" in text
    assert "ULabel: project A" in text


# --- queries ----------------------------------------------------------------------------------


def keys(queryset: object) -> list[str]:
    return sorted(a.key for a in queryset)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("lookups", "expected"),
    [
        ({"temperature": 21.6}, ["tables/first.parquet"]),
        ({"temperature__gt": 21.7}, ["tables/second.parquet"]),
        ({"temperature__lte": 22.6}, ["tables/first.parquet", "tables/second.parquet"]),
        ({"n_donors__in": [3, 4]}, ["tables/first.parquet"]),
        ({"date_of_study__gte": "2025-01-01"}, ["tables/second.parquet"]),
        ({"study": "study 1"}, ["tables/first.parquet"]),
        ({"study__name__startswith": "study"}, ["tables/first.parquet", "tables/second.parquet"]),
        ({"cell_type": "T cell"}, ["tables/second.parquet"]),
        ({"treatments": "IFNG", "temperature__lt": 22}, ["tables/first.parquet"]),
        ({"temperature__isnull": True}, []),
    ],
)
def test_filter_artifacts_by_features(
    annotated: tuple[ln.Artifact, ln.Artifact], lookups: dict[str, object], expected: list[str]
):
    queryset = ln.Artifact.filter(**lookups)
    assert keys(queryset) == expected
    assert keys(ln.Artifact.features.filter(**lookups)) == expected


def test_filter_by_label_record(annotated: tuple[ln.Artifact, ln.Artifact]):
    study = ln.ULabel.get(name="study 2")
    assert keys(ln.Artifact.filter(study=study)) == ["tables/second.parquet"]
    assert keys(ln.Artifact.filter(ulabels=study)) == ["tables/second.parquet"]


def test_class_level_feature_filter_rejects_fields(annotated: tuple[ln.Artifact, ln.Artifact]):
    with pytest.raises(ln.FieldError, match=r"Unknown feature 'suffix'.*Features: cell_type"):
        ln.Artifact.features.filter(suffix=".parquet")
    with pytest.raises(ln.FieldError, match="Did you mean 'temperature'"):
        ln.Artifact.features.filter(temprature=1)


def test_parse_dtype_checks_categorical_lists():
    dtype = parse_dtype("list[cat[ULabel]]")
    assert dtype.is_list and dtype.is_categorical
    assert dtype.check("t", ["a", "b"]) == ["a", "b"]
    assert parse_dtype("cat[ULabel]").check("t", "a") == ["a"]


def test_link_rows_carry_the_feature(annotated: tuple[ln.Artifact, ln.Artifact]):
    session = ln.get_instance().session
    study = ln.Feature.get(name="study")
    linked = session.execute(
        sa.select(artifact_ulabel.c.feature_id).where(
            artifact_ulabel.c.ulabel_id == ln.ULabel.get(name="study 1").id
        )
    ).scalars()
    assert list(linked) == [study.id]
    assert rows(artifact_featurevalue) == 6


# --- url and path dtypes ------------------------------------------------------------------------

URLS = ["https://bank.example/tx/1", "s3://bucket/key.csv", "http://host:8080/a?b=c"]
NOT_URLS = ["bank.example/tx/1", "https://", "not a url", "https://a b.org"]


@pytest.mark.parametrize("value", URLS)
def test_url_feature_takes_urls(value: str) -> None:
    assert parse_dtype("url").check("receipt", value) == value


@pytest.mark.parametrize("value", [*NOT_URLS, 123, None])
def test_url_feature_refuses_other_values_naming_the_form(value: object) -> None:
    with pytest.raises(ln.ValidationError, match="receipt"):
        parse_dtype("url").check("receipt", value)


def test_path_feature_takes_text_and_pathlike_and_refuses_the_rest() -> None:
    assert parse_dtype("path").check("fastq", Path("data/a.fastq.gz")) == "data/a.fastq.gz"
    assert parse_dtype("list[path]").check("fastq", ["s3://b/k", "x"]) == ["s3://b/k", "x"]
    for value in (1, "  ", b"bytes"):
        with pytest.raises(ln.ValidationError, match="a path or URI"):
            parse_dtype("path").check("fastq", value)


def test_url_column_is_validated_cell_by_cell(instance: ln.Instance) -> None:
    receipt = ln.Feature(name="receipt_url", dtype="url").save()
    fastq = ln.Feature(name="fastq", dtype=Path).save()
    schema = ln.Schema(features=[receipt, fastq]).save()
    good = pd.DataFrame({"receipt_url": URLS, "fastq": ["a.fq", "b.fq", "s3://b/c.fq"]})
    ln.curators.DataFrameCurator(good, schema).validate()
    bad = good.assign(receipt_url=[URLS[0], "bank.example/tx/2", None])
    with pytest.raises(ln.ValidationError, match=r"receipt_url.*1 cells are not: 'bank\.example"):
        ln.curators.DataFrameCurator(bad, schema).validate()
    numbers = good.assign(receipt_url=[1, 2, 3])
    with pytest.raises(ln.ValidationError, match="receipt_url"):
        ln.curators.DataFrameCurator(numbers, schema).validate()
    assert fastq.dtype == "path"
