"""Every lookup, relation hop and Q combination, table-driven over the guide's catalog."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from test_query_guide import Guide, build_guide_catalog

import lamin_core as ln
from lamin_core.models.annotation import ulabel_parent
from lamin_core.models.provenance import run_input_artifact

Q = ln.Q
FASTQ_SIZE = 19  # bytes of the guide's fastq file


@pytest.fixture
def guide(instance: ln.Instance, tmp_path: Path) -> Guide:
    return build_guide_catalog(tmp_path, files=False)


def artifact_ids(queryset: Any) -> list[int]:
    return [record.id for record in queryset.order_by("id")]


TODAY = dt.datetime.now(dt.timezone.utc)

FIELD_LOOKUPS = [
    ({"key": "images/my_image.jpg"}, [1]),
    ({"key__exact": "images/my_image.jpg"}, [1]),
    ({"key__iexact": "IMAGES/MY_IMAGE.JPG"}, [1]),
    ({"key__contains": "dataset"}, [4, 5]),
    ({"key__contains": "DATASET"}, []),
    ({"key__icontains": "DATASET"}, [4, 5]),
    ({"key__startswith": "raw/"}, [2]),
    ({"key__startswith": "RAW/"}, []),
    ({"key__istartswith": "RAW/"}, [2]),
    ({"key__endswith": ".h5ad"}, [4, 5]),
    ({"key__endswith": ".H5AD"}, []),
    ({"key__iendswith": ".H5AD"}, [4, 5]),
    ({"suffix__in": [".jpg", ".parquet"]}, [1, 3]),
    ({"suffix__in": []}, []),
    ({"size__gt": 1e4}, [1, 4, 5]),
    ({"size__gte": FASTQ_SIZE}, [1, 2, 3, 4, 5]),
    ({"size__lt": FASTQ_SIZE}, []),
    ({"size__lte": FASTQ_SIZE}, [2]),
    ({"size__range": (FASTQ_SIZE, FASTQ_SIZE)}, [2]),
    ({"description__isnull": True}, [1, 2, 3, 4, 5]),
    ({"description": None}, [1, 2, 3, 4, 5]),
    ({"key__isnull": False}, [1, 2, 3, 4, 5]),
    ({"key__regex": r"^example_datasets/dataset\d\.h5ad$"}, [4, 5]),
    ({"key__regex": "DATASET"}, []),
    ({"key__iregex": "DATASET[12]"}, [4, 5]),
    ({"created_at__year": TODAY.year}, [1, 2, 3, 4, 5]),
    ({"created_at__year__lt": 2000}, []),
    ({"created_at__month": TODAY.month}, [1, 2, 3, 4, 5]),
    ({"created_at__day__gte": 1}, [1, 2, 3, 4, 5]),
    ({"created_at__date": TODAY.date()}, [1, 2, 3, 4, 5]),
    ({"created_at__date": TODAY.date().isoformat()}, [1, 2, 3, 4, 5]),
    ({"created_at__gt": TODAY + dt.timedelta(days=1)}, []),
    ({"is_latest": True}, [1, 2, 3, 4, 5]),
    ({"n_observations__gte": 2}, [4, 5]),
    ({"id__in": [2, 3, 99]}, [2, 3]),
]


@pytest.mark.parametrize(
    ("lookups", "expected"),
    FIELD_LOOKUPS,
    ids=lambda v: ",".join(v) if isinstance(v, dict) else None,
)
def test_filter_field_lookup(guide: Guide, lookups: dict[str, Any], expected: list[int]):
    assert artifact_ids(ln.Artifact.filter(**lookups)) == expected


@pytest.mark.parametrize(
    ("lookups", "expected"),
    [
        ({"name__contains": "0%"}, ["100%"]),
        ({"name__contains": "a_b"}, ["a_b"]),
        ({"name__startswith": "a_"}, ["a_b"]),
        ({"name__istartswith": "A_"}, ["a_b"]),
        ({"name__endswith": "%"}, ["100%"]),
        ({"name__icontains": "\\"}, ["back\\slash"]),
        ({"name": "'; DROP TABLE ulabel; --"}, ["'; DROP TABLE ulabel; --"]),
        ({"name__contains": '"'}, ['say "hi"']),
    ],
)
def test_filter_values_are_data_not_sql(
    instance: ln.Instance, lookups: dict[str, Any], expected: list[str]
):
    names = ["100%", "1000", "a_b", "axb", "back\\slash", "'; DROP TABLE ulabel; --", 'say "hi"']
    ln.ULabel.from_values(names, create=True).save()
    assert [r.name for r in ln.ULabel.filter(**lookups)] == expected
    assert ln.ULabel.filter().count() == len(names)


RELATION_LOOKUPS = [
    ({"ulabels__name": "DMSO"}, [4, 5]),
    ({"ulabels__name__startswith": "Candidate"}, [4, 5]),
    ({"ulabels__name__in": ["DMSO", "IFNG"]}, [4, 5]),
    ({"ulabels__isnull": True}, [1, 2, 3]),
    ({"ulabels__isnull": False}, [4, 5]),
    ({"ulabels": None}, [1, 2, 3]),
    ({"created_by__name": "Test User1"}, [1, 2, 3, 4, 5]),
    ({"created_by__handle": "nobody"}, []),
    ({"run__transform__key": "registries.ipynb"}, [1, 2, 3, 4, 5]),
    ({"run__transform__key": "other.py"}, []),
    ({"run__isnull": True}, []),
    ({"feature_sets__registry": "bionty.Gene"}, [4, 5]),
    ({"feature_sets__itype": "Feature"}, [4, 5]),
    ({"feature_sets__features__name": "cell_medium"}, [4]),
    ({"input_of_runs__transform__key": "registries.ipynb"}, [3]),
    ({"input_of_runs__isnull": False}, [3]),
    ({"storage__type": "local"}, [1, 2, 3, 4, 5]),
]


@pytest.mark.parametrize(
    ("lookups", "expected"),
    RELATION_LOOKUPS,
    ids=lambda v: ",".join(v) if isinstance(v, dict) else None,
)
def test_filter_relation_hops(guide: Guide, lookups: dict[str, Any], expected: list[int]):
    session = ln.get_instance().session
    session.execute(run_input_artifact.insert(), {"run_id": guide.run.id, "artifact_id": 3})
    session.commit()
    queryset = ln.Artifact.filter(**lookups)
    assert artifact_ids(queryset) == expected
    assert queryset.count() == len(expected)  # to-many filters never duplicate rows


def test_filter_record_values(guide: Guide):
    study1, study2 = (
        guide.labels["Candidate marker study 1"],
        guide.labels["Candidate marker study 2"],
    )
    assert artifact_ids(ln.Artifact.filter(ulabels=study1)) == [4]
    assert artifact_ids(ln.Artifact.filter(ulabels=study1.id)) == [4]
    assert artifact_ids(ln.Artifact.filter(ulabels__in=[study1, study2])) == [4, 5]
    candidates = ln.ULabel.filter(name__startswith="Candidate")
    assert artifact_ids(ln.Artifact.filter(ulabels__in=candidates)) == [4, 5]
    assert artifact_ids(ln.Artifact.filter(run=guide.run)) == [1, 2, 3, 4, 5]
    assert artifact_ids(ln.Artifact.filter(id__in=ln.Artifact.filter(suffix=".h5ad"))) == [4, 5]


def test_filter_reverse_and_self_relations(guide: Guide):
    labels = ln.ULabel.filter(artifacts__key__startswith="example").order_by("name")
    assert [label.name for label in labels] == [
        "Candidate marker study 1", "Candidate marker study 2", "DMSO", "IFNG",
    ]  # fmt: skip
    assert [r.id for r in ln.Run.filter(output_artifacts__suffix=".jpg")] == [guide.run.id]
    assert ln.Transform.filter(runs__output_artifacts__suffix=".h5ad").one() == guide.transform
    session = ln.get_instance().session
    study1, study2 = (
        guide.labels["Candidate marker study 1"],
        guide.labels["Candidate marker study 2"],
    )
    studies = ln.ULabel(name="studies", is_type=True).save()
    session.execute(
        ulabel_parent.insert(),
        [
            {"child_id": study1.id, "parent_id": studies.id},
            {"child_id": study2.id, "parent_id": studies.id},
        ],
    )
    session.commit()
    children = ln.ULabel.filter(parents__name="studies").order_by("name")
    assert [c.name for c in children] == ["Candidate marker study 1", "Candidate marker study 2"]
    assert ln.ULabel.filter(children__name="Candidate marker study 1").one() == studies
    assert artifact_ids(ln.Artifact.filter(ulabels__parents=studies)) == [4, 5]


def q_cases(study1: Any, study2: Any) -> list[tuple[Any, list[int]]]:
    return [
        (Q(suffix=".jpg") | Q(suffix=".fastq.gz"), [1, 2]),
        (Q(suffix=".h5ad") & Q(ulabels=study1), [4]),
        (~Q(suffix=".h5ad"), [1, 2, 3]),
        (~Q(ulabels__name="DMSO"), [1, 2, 3]),
        (Q(suffix=".h5ad") & ~Q(ulabels=study1), [5]),
        ((Q(suffix=".jpg") | Q(ulabels=study2)) & ~Q(size__lt=100), [1, 5]),
        (~~Q(suffix=".jpg"), [1]),
        (~Q(description="anything"), [1, 2, 3, 4, 5]),
        (~Q(run__transform__key="other"), [1, 2, 3, 4, 5]),
        (Q(ulabels=study1) | Q(ulabels=study2) | Q(size__lt=100), [2, 4, 5]),
        (~(Q(suffix=".h5ad") | Q(suffix=".jpg")), [2, 3]),
        (Q(), [1, 2, 3, 4, 5]),
        (Q(ln.Artifact.size < 100), [2]),
    ]


@pytest.mark.parametrize("case", range(13))
def test_filter_q_combinations(guide: Guide, case: int):
    study1, study2 = (
        guide.labels["Candidate marker study 1"],
        guide.labels["Candidate marker study 2"],
    )
    q, expected = q_cases(study1, study2)[case]
    assert artifact_ids(ln.Artifact.filter(q)) == expected


def test_exclude_keeps_rows_whose_field_is_null(guide: Guide):
    assert artifact_ids(ln.Artifact.exclude(description="x")) == [1, 2, 3, 4, 5]
    assert artifact_ids(ln.Artifact.exclude(suffix=".h5ad")) == [1, 2, 3]
    assert artifact_ids(ln.Artifact.exclude(ulabels__name="DMSO")) == [1, 2, 3]


def test_lookups_through_one_relation_in_one_filter_match_the_same_record(guide: Guide):
    same_label = ln.Artifact.filter(ulabels__name="DMSO", ulabels__name__startswith="Cand")
    assert artifact_ids(same_label) == []
    any_labels = ln.Artifact.filter(ulabels__name="DMSO").filter(ulabels__name__startswith="Cand")
    assert artifact_ids(any_labels) == [4, 5]


@pytest.mark.parametrize(
    ("lookups", "error", "message"),
    [
        (
            {"sufix": ".jpg"},
            ln.FieldError,
            r"Unknown field 'sufix' on Artifact\. Did you mean 'suffix'\?.*Fields: id, uid, key",
        ),
        (
            {"key__startwith": "raw"},
            ln.FieldError,
            r"Unknown lookup 'startwith' on Artifact\.key\. Did you mean 'startswith'\?",
        ),
        (
            {"ulabels__nam": "x"},
            ln.FieldError,
            r"Unknown field 'nam' on ULabel\. Did you mean 'name'\?",
        ),
        (
            {"run__transform__kye": "x"},
            ln.FieldError,
            r"Unknown field 'kye' on Transform\. Did you mean 'key'\?",
        ),
        (
            {"size__gt": "big"},
            ln.ValidationError,
            r"size__gt='big': Artifact\.size expects a number, got str",
        ),
        ({"suffix__in": 5}, ln.ValidationError, r"suffix__in=5: the lookup 'in' expects a list"),
        ({"key__contains": 5}, ln.ValidationError, r"'contains' expects a string"),
        (
            {"size__contains": "1"},
            ln.ValidationError,
            r"compares text, but Artifact\.size is not a text field",
        ),
        ({"key__regex": "("}, ln.ValidationError, r"Invalid regular expression '\('"),
        ({"created_at__year": "x"}, ln.ValidationError, r"expects a number"),
        (
            {"created_at__gt": "yesterday"},
            ln.ValidationError,
            r"expects a datetime or an ISO 8601 string",
        ),
        ({"key__isnull": "yes"}, ln.ValidationError, r"isnull expects True or False"),
        (
            {"ulabels": "DMSO"},
            ln.ValidationError,
            r"expects a ULabel record or its integer id.*ulabels__name='DMSO'",
        ),
        ({"size__range": (1,)}, ln.ValidationError, r"'range' expects two values"),
        ({"key__gt": None}, ln.ValidationError, r"cannot compare with None; use key__isnull=True"),
        ({"key__startswith__x": "a"}, ln.FieldError, r"Unknown lookup 'startswith__x'"),
        ({"ulabels__contains": "x"}, ln.ValidationError, r"a relation compares records"),
    ],
)
def test_filter_bad_input_raises_clear_errors(
    guide: Guide, lookups: dict[str, Any], error: type, message: str
):
    with pytest.raises(error, match=message):
        ln.Artifact.filter(**lookups)


def test_filter_record_of_the_wrong_registry(guide: Guide):
    with pytest.raises(ln.ValidationError, match="expects a ULabel record, got a Artifact"):
        ln.Artifact.filter(ulabels=guide.artifacts[0])
    unsaved = ln.ULabel(name="unsaved")
    with pytest.raises(ln.ValidationError, match="not saved"):
        ln.Artifact.filter(ulabels=unsaved)


def test_filter_unknown_name_that_is_no_feature(guide: Guide):
    with pytest.raises(ln.FieldError, match="Unknown field 'temprature' on Artifact"):
        ln.Artifact.filter(temprature__gt=1)


def test_filter_feature_bad_values(guide: Guide):
    with pytest.raises(ln.ValidationError, match="holds values, not records"):
        ln.Artifact.filter(temperature=guide.labels["DMSO"])
    with pytest.raises(ln.FieldError, match="Did you mean 'gt'"):
        ln.Artifact.filter(temperature__gtt=1)


def test_featureset_registry_alias(guide: Guide):
    assert ln.FeatureSet.filter(registry="Feature").count() == 2
    assert [fs.itype for fs in ln.FeatureSet.filter(registry__startswith="bionty")] == [
        "bionty.Gene"
    ] * 2


def test_compiled_sql_uses_subqueries_not_joins(guide: Guide):
    study1 = guide.labels["Candidate marker study 1"]
    engine = ln.get_instance().engine
    by_record = str(ln.Artifact.filter(ulabels=study1).statement.compile(engine))
    assert "artifact.id IN (SELECT" in by_record
    assert "artifact_ulabel" in by_record and "JOIN ulabel" not in by_record
    by_name = str(ln.Artifact.filter(ulabels__name="DMSO").statement.compile(engine))
    assert len(re.findall(r"FROM artifact\b", by_name)) == 1 and "DISTINCT" not in by_name
    assert "JOIN ulabel AS" in by_name
    by_fk = str(ln.Artifact.filter(run=guide.run).statement.compile(engine))
    assert "artifact.run_id = " in by_fk and "SELECT run" not in by_fk


def test_compiled_sql_escapes_like_wildcards(instance: ln.Instance):
    engine = instance.engine
    compiled = ln.ULabel.filter(name__icontains="50%_x").statement.compile(engine)
    if engine.dialect.name == "postgresql":
        assert "ESCAPE" in str(compiled)
        assert "%50\\%\\_x%" in compiled.params.values()
    else:  # instr(): no wildcards at all, and no LIKE pattern length limit
        assert "instr(lower(ulabel.name), lower(" in str(compiled)
        assert "50%_x" in compiled.params.values()


def test_compiled_regex_per_database(instance: ln.Instance):
    sql = str(ln.ULabel.filter(name__iregex="^a").statement.compile(instance.engine))
    if instance.engine.dialect.name == "sqlite":
        assert "lamin_iregexp(" in sql
    else:
        assert "~*" in sql


def test_statement_is_usable_with_sqlalchemy(guide: Guide):
    session = ln.get_instance().session
    statement = ln.Artifact.filter(suffix=".h5ad").statement
    assert [a.id for a in session.scalars(statement)] == [4, 5]
    counted = session.scalar(sa.select(sa.func.count()).select_from(statement.subquery()))
    assert counted == 2


def test_filter_with_a_huge_value_is_just_data(instance: ln.Instance):
    ln.ULabel.from_values(["x" * 10], create=True).save()
    huge = "x" * 100_000
    assert ln.ULabel.filter(name__icontains=huge).count() == 0
    assert ln.ULabel.filter(name__in=[huge, "x" * 10]).count() == 1


def test_filter_json_column_by_its_scalar(guide: Guide):
    assert [v.value for v in ln.FeatureValue.filter(value=21.6)] == [21.6]
    assert [v.value for v in ln.FeatureValue.filter(value__gt=20)] == [21.6]
    assert [v.value for v in ln.FeatureValue.filter(value__startswith="2024")] == ["2024-12-01"]
    assert ln.FeatureValue.filter(value__in=["2024-12-01", "nope"]).count() == 1
    assert ln.Run.filter(params__isnull=True).count() == 1
