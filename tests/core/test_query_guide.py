"""Every query of LaminDB's "Query & search registries" guide, on SQLite and PostgreSQL.

The catalog is the guide's: three raw artifacts and two curated AnnData datasets with labels,
features, feature values and feature sets. Rows are created directly (no curators), link rows
inserted into the link tables, so these tests depend only on the registries and the query layer.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

import lamin_core as ln
from lamin_core.models import Base
from lamin_core.models.annotation import featureset_feature
from lamin_core.models.artifact import artifact_featureset, artifact_featurevalue, artifact_ulabel

try:  # the biological registries; without them, cell types are left out of the catalog
    from lamin_core.bio import CellType
except ImportError:  # pragma: no cover - only while lamin_core.bio is not installed
    CellType = None

STUDY_NOTE = "We had a great time performing this study and the results look compelling."
CELL_TYPE_DTYPE = "cat[bionty.CellType]" if CellType is not None else "cat[ULabel]"


@dataclass
class Guide:
    """The guide's catalog: artifacts 1..5 in the guide's order, labels and features by name."""

    artifacts: list[ln.Artifact]
    labels: dict[str, ln.ULabel]
    features: dict[str, ln.Feature]
    transform: ln.Transform
    run: ln.Run


def _anndata(n_obs: int) -> Any:
    import anndata as ad

    rng = np.random.default_rng(n_obs)
    obs = pd.DataFrame(
        {"cell_medium": ["DMSO", "IFNG", "DMSO"][:n_obs]}, index=[f"obs{i}" for i in range(n_obs)]
    )
    x = rng.integers(0, 100, size=(n_obs, 3)).astype(np.float32)
    # padding in .uns keeps each file above 10 kB, like the guide's datasets
    uns = {"padding": rng.random(2000 + 500 * n_obs)}
    return ad.AnnData(x, obs=obs, var=pd.DataFrame(index=["CD8A", "CD4", "CD14"]), uns=uns)


def _feature_value(session: Any, feature: ln.Feature, value: Any) -> ln.FeatureValue:
    digest = hashlib.md5(json.dumps(value).encode()).hexdigest()
    record = ln.FeatureValue(feature_id=feature.id, value=value, hash=digest)
    session.add(record)
    session.flush()
    return record


GUIDE_ROWS = [  # key, suffix, size, otype, kind, n_observations: the guide's artifacts
    ("images/my_image.jpg", ".jpg", 29443, None, None, None),
    ("raw/my_fastq.fastq.gz", ".fastq.gz", 19, None, None, None),
    ("iris/iris_collection.parquet", ".parquet", 2312, "DataFrame", "dataset", None),
    ("example_datasets/dataset1.h5ad", ".h5ad", 25088, "AnnData", "dataset", 3),
    ("example_datasets/dataset2.h5ad", ".h5ad", 22384, "AnnData", "dataset", 2),
]


def _insert_artifact_rows(instance: ln.Instance, run: ln.Run) -> list[ln.Artifact]:
    """Insert the guide's artifact rows without content, for tests that only query."""
    rows = [
        {
            "uid": f"guide{index:011d}0000", "key": key, "suffix": suffix, "size": size,
            "otype": otype, "kind": kind, "n_observations": n_obs, "hash": f"hash{index}",
            "hash_type": "md5", "storage_id": instance.storage_id, "run_id": run.id,
            "created_by_id": instance.user_id, "version": "1", "is_latest": True,
            "key_is_virtual": True,
        }
        for index, (key, suffix, size, otype, kind, n_obs) in enumerate(GUIDE_ROWS, start=1)
    ]  # fmt: skip
    session = instance.session
    for row in rows:
        session.execute(sa.insert(ln.Artifact), row)
    session.commit()
    return list(ln.Artifact.filter().order_by("id"))


def build_guide_catalog(tmp_path: Path, *, files: bool = True) -> Guide:
    """Create the guide's artifacts, labels, features and links in the active catalog.

    With `files`, artifacts are saved from real files, a DataFrame and AnnData objects; without,
    their rows are inserted directly (faster, for tests that only query).
    """
    instance = ln.get_instance()
    session = instance.session
    user = ln.User.get(handle=instance.user_handle)
    user.name = "Test User1"
    user.save()
    transform = ln.Transform(
        key="registries.ipynb", description="Query & search registries", type="notebook"
    ).save()
    run = ln.Run(transform=transform).save()

    artifacts = _make_artifacts(tmp_path, run) if files else _insert_artifact_rows(instance, run)
    return _annotate(session, artifacts, transform, run)


def _make_artifacts(tmp_path: Path, run: ln.Run) -> list[ln.Artifact]:
    image = tmp_path / "my_image.jpg"
    image.write_bytes(b"\xff\xd8\xff" + bytes(range(256)) * 115)
    fastq = tmp_path / "my_fastq.fastq.gz"
    fastq.write_bytes(b"@read1\nACGT\n+\nIIII\n")
    iris = pd.DataFrame(
        {"sepal_length": [5.1, 4.9, 6.3], "species": ["setosa", "setosa", "virginica"]}
    )
    artifacts = [
        ln.Artifact(image, key="images/my_image.jpg", run=run).save(),
        ln.Artifact(fastq, key="raw/my_fastq.fastq.gz", run=run).save(),
        ln.Artifact.from_df(iris, key="iris/iris_collection.parquet", run=run).save(),
        ln.Artifact.from_anndata(_anndata(3), key="example_datasets/dataset1.h5ad", run=run).save(),
        ln.Artifact.from_anndata(_anndata(2), key="example_datasets/dataset2.h5ad", run=run).save(),
    ]
    return artifacts


def _annotate(
    session: Any, artifacts: list[ln.Artifact], transform: ln.Transform, run: ln.Run
) -> Guide:
    features = {}
    for name, dtype in [
        ("cell_medium", "cat[ULabel]"),
        ("sample_note", "str"),
        ("cell_type_by_expert", CELL_TYPE_DTYPE),
        ("cell_type_by_model", CELL_TYPE_DTYPE),
        ("temperature", "float"),
        ("study", "cat[ULabel]"),
        ("date_of_study", "date"),
        ("study_note", "str"),
    ]:
        features[name] = ln.Feature(name=name, dtype=dtype).save()
    names = ["DMSO", "IFNG", "Candidate marker study 1", "Candidate marker study 2"]
    labels = {label.name: label for label in ln.ULabel.from_values(names, create=True).save()}
    dataset1, dataset2 = artifacts[3], artifacts[4]
    links = [
        (dataset1, "DMSO", "cell_medium"),
        (dataset1, "IFNG", "cell_medium"),
        (dataset1, "Candidate marker study 1", "study"),
        (dataset2, "DMSO", "cell_medium"),
        (dataset2, "IFNG", "cell_medium"),
        (dataset2, "Candidate marker study 2", "study"),
    ]
    session.execute(
        artifact_ulabel.insert(),
        [
            {"artifact_id": a.id, "ulabel_id": labels[label].id, "feature_id": features[f].id}
            for a, label, f in links
        ],
    )
    if CellType is not None:
        cells = [CellType(name="B cell"), CellType(name="T cell")]
        session.add_all(cells)
        session.flush()
        session.execute(
            Base.metadata.tables["artifact_celltype"].insert(),
            [
                {"artifact_id": a.id, "celltype_id": c.id, "feature_id": features[f].id}
                for a, f in [
                    (dataset1, "cell_type_by_expert"),
                    (dataset1, "cell_type_by_model"),
                    (dataset2, "cell_type_by_model"),
                ]
                for c in cells
            ],
        )
    values = [
        _feature_value(session, features["temperature"], 21.6),
        _feature_value(session, features["date_of_study"], "2024-12-01"),
        _feature_value(session, features["study_note"], STUDY_NOTE),
    ]
    session.execute(
        artifact_featurevalue.insert(),
        [{"artifact_id": dataset2.id, "featurevalue_id": v.id} for v in values],
    )
    feature_sets = []
    for index, (itype, n) in enumerate(
        [("bionty.Gene", 3), ("Feature", 4), ("bionty.Gene", 3), ("Feature", 2)]
    ):
        feature_set = ln.FeatureSet(itype=itype, n=n, hash=f"fs{index}")
        session.add(feature_set)
        feature_sets.append(feature_set)
    session.flush()
    session.execute(
        featureset_feature.insert(),
        [
            {"featureset_id": feature_sets[1].id, "feature_id": features[f].id}
            for f in ("cell_medium", "cell_type_by_expert")
        ],
    )
    session.execute(
        artifact_featureset.insert(),
        [
            {"artifact_id": dataset1.id, "featureset_id": feature_sets[0].id, "slot": "var"},
            {"artifact_id": dataset1.id, "featureset_id": feature_sets[1].id, "slot": "obs"},
            {"artifact_id": dataset2.id, "featureset_id": feature_sets[2].id, "slot": "var"},
            {"artifact_id": dataset2.id, "featureset_id": feature_sets[3].id, "slot": "obs"},
        ],
    )
    session.commit()
    return Guide(artifacts, labels, features, transform, run)


@pytest.fixture
def guide(instance: ln.Instance, tmp_path: Path) -> Guide:
    return build_guide_catalog(tmp_path)


def ids(df: pd.DataFrame) -> list[int]:
    return [int(i) for i in df.index]


def test_guide_artifacts_are_as_in_the_guide(guide: Guide):
    sizes = [a.size for a in guide.artifacts]
    assert sizes[0] > 1e4 and sizes[1] < 1e4 and sizes[3] > 1e4 and sizes[4] > 1e4
    assert [a.id for a in guide.artifacts] == [1, 2, 3, 4, 5]


def test_df_overview_shows_latest_records_newest_first(guide: Guide):
    df = ln.Artifact.df()
    assert ids(df) == [5, 4, 3, 2, 1]
    assert df.index.name == "id"
    assert list(df.columns[:8]) == [
        "uid",
        "key",
        "description",
        "suffix",
        "kind",
        "otype",
        "size",
        "hash",
    ]
    assert df.loc[3, "key"] == "iris/iris_collection.parquet"
    assert df.loc[4, "otype"] == "AnnData" and df.loc[4, "kind"] == "dataset"


def test_df_include_relations_as_in_the_guide(guide: Guide):
    df = ln.Artifact.df(
        include=["created_by__name", "ulabels__name", "feature_sets__registry", "suffix"]
    )
    assert list(df.columns) == [
        "uid", "key", "description", "created_by__name", "ulabels__name",
        "feature_sets__registry", "suffix",
    ]  # fmt: skip
    assert ids(df) == [5, 4, 3, 2, 1]
    assert df.loc[5, "ulabels__name"] == {"Candidate marker study 2", "DMSO", "IFNG"}
    assert df.loc[4, "ulabels__name"] == {"Candidate marker study 1", "DMSO", "IFNG"}
    assert df.loc[3, "ulabels__name"] == {None}
    assert df.loc[4, "feature_sets__registry"] == {"bionty.Gene", "Feature"}
    assert df.loc[1, "feature_sets__registry"] == {None}
    assert set(df["created_by__name"]) == {"Test User1"}
    assert df.loc[1, "suffix"] == ".jpg"


def test_df_features_one_column_per_feature_with_values(guide: Guide):
    df = ln.Artifact.df(features=True)
    assert list(df.columns[:3]) == ["uid", "key", "description"]
    cell_types = {"cell_type_by_expert", "cell_type_by_model"} if CellType is not None else set()
    assert set(df.columns[3:]) == {
        "cell_medium", "study", "temperature", "date_of_study", "study_note", *cell_types,
    }  # fmt: skip
    assert df.loc[5, "temperature"] == {21.6}
    assert df.loc[5, "study"] == {"Candidate marker study 2"}
    assert df.loc[4, "cell_medium"] == {"DMSO", "IFNG"}
    assert df.loc[5, "date_of_study"] == {"2024-12-01"}
    assert df.loc[5, "study_note"] == {STUDY_NOTE}
    assert pd.isna(df.loc[4, "temperature"]) and pd.isna(df.loc[1, "study"])
    assert df.attrs["feature_dtypes"]["temperature"] == "float"


needs_cell_types = pytest.mark.skipif(CellType is None, reason="lamin_core.bio is not installed")


@needs_cell_types
def test_df_include_cell_types_as_in_the_guide(guide: Guide):
    df = ln.Artifact.df(include=["ulabels__name", "cell_types__name", "feature_sets__registry"])
    assert df.loc[5, "cell_types__name"] == {"B cell", "T cell"}
    assert df.loc[4, "cell_types__name"] == {"B cell", "T cell"}
    assert df.loc[3, "cell_types__name"] == {None}


@needs_cell_types
def test_df_features_with_cell_types_as_in_the_guide(guide: Guide):
    df = ln.Artifact.df(features=True)
    assert df.loc[4, "cell_type_by_expert"] == {"B cell", "T cell"}
    assert pd.isna(df.loc[5, "cell_type_by_expert"])
    assert df.loc[5, "cell_type_by_model"] == {"B cell", "T cell"}
    assert df.attrs["feature_dtypes"]["cell_type_by_model"] == "cat[bionty.CellType]"


@needs_cell_types
def test_filter_by_cell_type_feature_and_relation(guide: Guide):
    assert ids(ln.Artifact.filter(cell_type_by_expert="B cell").df()) == [4]
    assert ids(ln.Artifact.filter(cell_type_by_model__in=["T cell"]).df()) == [4, 5]
    assert ids(ln.Artifact.filter(cell_types__name="T cell").df()) == [4, 5]
    b_cell = CellType.get(name="B cell")
    assert ids(ln.Artifact.filter(cell_type_by_expert=b_cell).df()) == [4]


def test_lookup_then_get_by_uid_and_by_name(guide: Guide):
    ulabels = ln.ULabel.lookup()
    study1 = ulabels.candidate_marker_study_1
    assert study1.name == "Candidate marker study 1"
    assert ln.ULabel.get(study1.uid) == study1
    assert ln.ULabel.get(name="Candidate marker study 1") == study1


def test_filter_by_label_record(guide: Guide):
    study1 = guide.labels["Candidate marker study 1"]
    assert ids(ln.Artifact.filter(ulabels=study1).df()) == [4]


def test_search_iris_finds_the_iris_artifact(guide: Guide):
    assert ids(ln.Artifact.search("iris").df()) == [3]


def test_filter_and_of_field_and_label(guide: Guide):
    study1 = guide.labels["Candidate marker study 1"]
    assert ids(ln.Artifact.filter(suffix=".h5ad", ulabels=study1).df()) == [4]


def test_filter_label_and_size_greater_than(guide: Guide):
    study1 = guide.labels["Candidate marker study 1"]
    assert ids(ln.Artifact.filter(ulabels=study1, size__gt=1e4).df()) == [4]


def test_filter_suffix_in(guide: Guide):
    assert ids(ln.Artifact.filter(suffix__in=[".jpg", ".fastq.gz"]).df()) == [1, 2]


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        ("created_at", [1, 2, 3, 4, 5]),
        ("-created_at", [5, 4, 3, 2, 1]),
        ("key", [4, 5, 1, 3, 2]),
        ("-key", [2, 3, 1, 5, 4]),
    ],
)
def test_order_by_as_in_the_guide(guide: Guide, order: str, expected: list[int]):
    assert ids(ln.Artifact.filter().order_by(order).df()) == expected


def test_transform_contains_icontains_startswith(guide: Guide):
    # the guide's own spelling: `name` is the transform's description
    assert ids(ln.Transform.filter(name__contains="search").df()) == [guide.transform.id]
    assert ids(ln.Transform.filter(name__icontains="Search").df()) == [guide.transform.id]
    assert ids(ln.Transform.filter(name__startswith="Research").df()) == []
    assert ids(ln.Transform.filter(description__contains="search").df()) == [guide.transform.id]
    assert ids(ln.Transform.filter(description__contains="Search").df()) == []
    assert ids(ln.Transform.filter(description__icontains="Search").df()) == [guide.transform.id]
    assert ids(ln.Transform.filter(description__startswith="Research").df()) == []
    assert ids(ln.Transform.filter(description__startswith="Query").df()) == [guide.transform.id]


def test_filter_or_of_q_objects(guide: Guide):
    df = ln.Artifact.filter(ln.Q(suffix=".jpg") | ln.Q(suffix=".fastq.gz")).df()
    assert ids(df) == [1, 2]


def test_filter_negated_q(guide: Guide):
    assert ids(ln.Artifact.filter(~ln.Q(suffix=".jpg")).df()) == [2, 3, 4, 5]


def test_filter_by_feature_values_and_labels(guide: Guide):
    assert ids(ln.Artifact.filter(temperature__gt=21).df()) == [5]
    assert ids(ln.Artifact.filter(temperature__gt=22).df()) == []
    assert ids(ln.Artifact.filter(study="Candidate marker study 1").df()) == [4]
    assert ids(ln.Artifact.filter(temperature__gt=21, study="Candidate marker study 1").df()) == []
    assert ids(ln.Artifact.filter(temperature__gt=21, study="Candidate marker study 2").df()) == [5]
    assert ids(ln.Artifact.filter(study__contains="marker").df()) == [4, 5]
    assert ids(ln.Artifact.filter(cell_medium=guide.labels["IFNG"]).df()) == [4, 5]
    assert ids(ln.Artifact.filter(date_of_study="2024-12-01").df()) == [5]
    assert ids(ln.Artifact.filter(study_note__icontains="GREAT TIME").df()) == [5]
    assert ids(ln.Artifact.filter(temperature__isnull=True).df()) == [1, 2, 3, 4]
    assert ids(ln.Artifact.exclude(study="Candidate marker study 1").df()) == [1, 2, 3, 5]


def test_filter_on_label_of_another_feature_does_not_match(guide: Guide):
    # DMSO is linked as a cell_medium, not as a study
    assert ids(ln.Artifact.filter(study="DMSO").df()) == []


def test_view_prints_each_registry(guide: Guide, capsys: pytest.CaptureFixture[str]):
    ln.view()
    out = capsys.readouterr().out
    for registry in (
        "Artifact",
        "Feature",
        "Schema",  # the FeatureSet registry, named as in LaminDB 2.x
        "FeatureValue",
        "Run",
        "Storage",
        "Transform",
        "ULabel",
    ):
        assert f"\n{registry}\n" in f"\n{out}"
    assert "example_datasets/dataset2.h5ad" in out and "Candidate marker study 2" in out


def test_df_statement_count_does_not_grow_with_rows(guide: Guide):
    engine = ln.get_instance().engine
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        ln.Artifact.df(
            include=[
                "created_by__name",
                "ulabels__name",
                "feature_sets__registry",
                "run__transform__key",
            ]
        )
        with_includes = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
        statements.clear()
        ln.Artifact.df(features=True)
        with_features = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    assert len(with_includes) == 1
    assert len(with_features) == 2  # the list of features, then the rows
