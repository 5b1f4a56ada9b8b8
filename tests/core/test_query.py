"""QuerySet: laziness, one statement per evaluation, the evaluation methods, sessions, df()."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from test_query_guide import Guide, build_guide_catalog

import lamin_core as ln


@pytest.fixture
def guide(instance: ln.Instance, tmp_path: Path) -> Guide:
    return build_guide_catalog(tmp_path, files=False)


@contextmanager
def count_statements(engine: sa.Engine) -> Iterator[list[str]]:
    """Collect the SQL statements sent to the database inside the block."""
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "WITH", "DELETE", "UPDATE", "INSERT")):
            statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


def test_filter_is_lazy_and_each_evaluation_is_one_statement(guide: Guide):
    engine = ln.get_instance().engine
    with count_statements(engine) as statements:
        queryset = ln.Artifact.filter(suffix=".h5ad").exclude(key__contains="1").order_by("-id")
    assert statements == []
    evaluations: list[Callable[[Any], Any]] = [
        list,
        lambda qs: qs.count(),
        lambda qs: qs.exists(),
        lambda qs: qs.first(),
        lambda qs: qs.last(),
        lambda qs: qs.one(),
        lambda qs: qs.df(include=["ulabels__name", "created_by__name", "run__transform__key"]),
        lambda qs: qs.list("key"),
    ]
    for evaluate in evaluations:
        with count_statements(engine) as statements:
            evaluate(queryset.all())  # a fresh copy, not evaluated yet
        assert len(statements) == 1, statements


def test_iteration_len_bool_and_cache(guide: Guide):
    queryset = ln.Artifact.filter(suffix=".h5ad")
    assert len(queryset) == 2 and bool(queryset)
    with count_statements(ln.get_instance().engine) as statements:
        assert [a.id for a in queryset] == [4, 5]
        assert queryset.count() == 2 and queryset.exists()
    assert statements == []  # an evaluated QuerySet answers from its results
    assert not ln.Artifact.filter(suffix=".none")


def test_slicing_and_indexing(guide: Guide):
    queryset = ln.Artifact.filter().order_by("id")
    assert [a.id for a in queryset[1:3]] == [2, 3]
    assert [a.id for a in queryset[1:][:2]] == [2, 3]
    assert [a.id for a in queryset[3:]] == [4, 5]
    assert queryset[3].id == 4
    with pytest.raises(IndexError):
        queryset[10]
    with pytest.raises(ln.ValidationError, match="Negative indexing"):
        queryset[-1]
    with pytest.raises(ln.ValidationError, match="Cannot filter a sliced QuerySet"):
        queryset[:2].filter(suffix=".jpg")
    assert queryset[:2].count() == 2


def test_first_last_follow_the_ordering(guide: Guide):
    assert ln.Artifact.filter().first().id == 1
    assert ln.Artifact.filter().last().id == 5
    assert ln.Artifact.filter().order_by("-size").first().key == "images/my_image.jpg"
    assert ln.Artifact.filter().order_by("-size").last().key == "raw/my_fastq.fastq.gz"
    assert ln.Artifact.filter(suffix=".none").first() is None


def test_order_by_relations_and_nulls(guide: Guide):
    keys = [a.key for a in ln.Artifact.filter().order_by("-ulabels__name", "id")]
    # dataset2's labels include "IFNG", the largest name; artifacts without labels come first
    # when descending, as NULLs sort first in descending order on every database
    assert keys[:3] == [
        "images/my_image.jpg",
        "raw/my_fastq.fastq.gz",
        "iris/iris_collection.parquet",
    ]
    assert [a.id for a in ln.Artifact.filter().order_by("run__transform__key", "id")] == [
        1,
        2,
        3,
        4,
        5,
    ]
    with pytest.raises(ln.FieldError, match="Did you mean 'key'"):
        ln.Artifact.filter().order_by("kye")


def test_one_and_one_or_none(guide: Guide):
    assert ln.Artifact.filter(suffix=".jpg").one().id == 1
    assert ln.Artifact.filter(suffix=".none").one_or_none() is None
    with pytest.raises(ln.DoesNotExist, match="No Artifact record matches"):
        ln.Artifact.filter(suffix=".none").one()
    with pytest.raises(ln.MultipleResultsFound, match="2 Artifact records match"):
        ln.Artifact.filter(suffix=".h5ad").one()
    with pytest.raises(ln.MultipleResultsFound, match="5 Artifact records match"):
        ln.Artifact.filter().one_or_none()


def test_get_by_id_uid_prefix_and_lookups(guide: Guide):
    artifact = guide.artifacts[3]
    assert ln.Artifact.get(artifact.id) == artifact
    assert ln.Artifact.get(artifact.uid) == artifact
    assert ln.Artifact.get(artifact.uid[:16]) == artifact  # the stem: the latest version
    assert ln.Artifact.get(key="example_datasets/dataset1.h5ad") == artifact
    label = guide.labels["IFNG"]
    assert (
        ln.ULabel.get(label.uid[:5]) == label
        or ln.ULabel.filter(uid__startswith=label.uid[:5]).count() > 1
    )
    with pytest.raises(ln.DoesNotExist, match=r"get\('nouid'\)"):
        ln.ULabel.get("nouid")
    with pytest.raises(
        ln.MultipleResultsFound, match=r"2 Artifact records match the get\(suffix='.h5ad'\)"
    ):
        ln.Artifact.get(suffix=".h5ad")
    with pytest.raises(ln.ValidationError, match="expects an integer id or a uid"):
        ln.Artifact.get(1.5)
    with pytest.raises(ln.ValidationError, match="needs an id"):
        ln.Artifact.get()


def test_delete_in_bulk_and_record_by_record(guide: Guide):
    ln.ULabel.from_values(["tmp1", "tmp2", "keep"], create=True).save()
    assert ln.ULabel.filter(name__startswith="tmp").delete(permanent=True) == 2
    assert ln.ULabel.filter(name__startswith="tmp").count() == 0
    assert ln.ULabel.filter(name="keep").exists()
    deleted = ln.Artifact.filter(suffix=".h5ad").delete(
        permanent=True
    )  # Artifact.delete runs for each
    assert deleted == 2 and ln.Artifact.filter().count() == 3


def test_distinct_all_and_list(guide: Guide):
    assert ln.Artifact.filter(ulabels__name__in=["DMSO", "IFNG"]).distinct().count() == 2
    assert ln.Artifact.filter(suffix=".h5ad").all().list("key") == [
        "example_datasets/dataset1.h5ad", "example_datasets/dataset2.h5ad",
    ]  # fmt: skip
    assert [a.id for a in ln.Artifact.all().list()] == [1, 2, 3, 4, 5]


def test_requery_shows_fresh_values(guide: Guide):
    label = ln.ULabel.get(name="DMSO")
    other = sa.create_engine(ln.get_instance().engine.url)
    with other.begin() as connection:
        connection.execute(
            sa.text("UPDATE ulabel SET description = 'changed elsewhere' WHERE name = 'DMSO'")
        )
    other.dispose()
    assert ln.ULabel.get(name="DMSO").description == "changed elsewhere"
    assert label.description == "changed elsewhere"  # the same object, refreshed


def test_reads_end_the_transaction_but_keep_unsaved_edits(guide: Guide):
    session = ln.get_instance().session
    ln.Artifact.filter().count()
    assert not session.in_transaction()  # no idle-in-transaction connection
    label = ln.ULabel.get(name="IFNG")
    label.description = "unsaved edit"
    ln.Artifact.filter(suffix=".jpg").list()
    assert label in session.dirty  # not flushed, not committed, not lost
    other = sa.create_engine(ln.get_instance().engine.url)
    with other.connect() as connection:
        stored = connection.execute(
            sa.text("SELECT description FROM ulabel WHERE name = 'IFNG'")
        ).scalar()
    other.dispose()
    assert stored is None
    session.rollback()


def test_registry_df_shows_latest_versions_and_filter_shows_all(
    instance: ln.Instance, tmp_path: Path
):
    path = tmp_path / "table.csv"
    path.write_text("a\n1\n")
    first = ln.Artifact(path, key="tables/table.csv").save()
    path.write_text("a\n2\n")
    second = ln.Artifact(path, key="tables/table.csv").save()
    assert second.stem_uid == first.stem_uid and second.is_latest
    assert list(ln.Artifact.df().index) == [second.id]
    assert list(ln.Artifact.filter().df().index) == [first.id, second.id]
    assert list(ln.Artifact.filter(is_latest=False).df().index) == [first.id]


def test_registry_df_limit_and_queryset_df_everything(guide: Guide):
    assert list(ln.Artifact.df(limit=2).index) == [5, 4]
    assert len(ln.Artifact.filter().df()) == 5
    assert len(ln.Artifact.filter().df(limit=3)) == 3
    frame = ln.Artifact.filter().to_dataframe()
    assert frame.equals(ln.Artifact.filter().df())


def test_df_of_nothing_has_the_columns(guide: Guide):
    frame = ln.Artifact.filter(suffix=".none").df(include=["ulabels__name"])
    assert frame.empty and frame.index.name == "id"
    assert list(frame.columns) == ["uid", "key", "description", "ulabels__name"]


def test_df_include_errors(guide: Guide):
    with pytest.raises(ln.FieldError, match="Unknown field 'nme' on ULabel"):
        ln.Artifact.df(include=["ulabels__nme"])
    with pytest.raises(ln.ValidationError, match="No feature named 'nope'"):
        ln.Artifact.df(features=["nope"])


def test_df_features_by_name_keeps_requested_columns(guide: Guide):
    frame = ln.Artifact.filter().df(features=["temperature", "sample_note"])
    assert list(frame.columns) == ["uid", "key", "description", "temperature", "sample_note"]
    assert frame.loc[5, "temperature"] == {21.6} and frame["sample_note"].isna().all()


def test_df_includes_cost_one_statement_for_many_rows(instance: ln.Instance):
    session = instance.session
    labels = ln.ULabel.from_values([f"label{i}" for i in range(6)], create=True).save()
    rows = [
        {
            "uid": f"bulk{i:012d}0000", "key": f"bulk/{i}.csv", "suffix": ".csv", "size": i,
            "hash": f"h{i}", "storage_id": instance.storage_id, "created_by_id": instance.user_id,
            "is_latest": True, "key_is_virtual": True,
        }
        for i in range(300)
    ]  # fmt: skip
    session.execute(sa.insert(ln.Artifact), rows)
    ids = session.scalars(sa.select(ln.Artifact.id).order_by(ln.Artifact.id)).all()
    from lamin_core.models.artifact import artifact_ulabel

    session.execute(
        artifact_ulabel.insert(),
        [{"artifact_id": a, "ulabel_id": labels[(a + k) % 6].id} for a in ids for k in range(3)],
    )
    session.commit()
    with count_statements(instance.engine) as statements:
        frame = ln.Artifact.filter(ulabels=labels[0], size__gt=10).df(
            include=["ulabels__name", "created_by__name", "storage__root"]
        )
    assert len(statements) == 1
    assert len(frame) == 145 and all(len(s) == 3 for s in frame["ulabels__name"])
    assert all("label0" in s for s in frame["ulabels__name"])


def test_repr_shows_records(guide: Guide):
    text = repr(ln.Artifact.filter(suffix=".jpg"))
    assert text.startswith("<QuerySet [Artifact(") and "images/my_image.jpg" in text


def test_df_types(guide: Guide):
    frame = ln.Artifact.df()
    assert pd.api.types.is_integer_dtype(frame["size"])
    assert str(frame["created_at"].dtype) == "datetime64[ns, UTC]"
    assert frame["is_latest"].dtype == bool
    assert frame["storage_id"].dtype == "int64"  # NOT NULL: converted without a NULL check
    dataset1 = ln.Artifact.get(key="example_datasets/dataset1.h5ad")
    assert frame.loc[dataset1.id, "created_at"] == pd.Timestamp(dataset1.created_at)
    # a nullable integer column shows NaN where the value is missing, as pandas reads it
    assert frame["n_observations"].dtype == float
    assert frame.loc[dataset1.id, "n_observations"] == 3
    assert frame["n_observations"].isna().sum() == 3


def test_df_values_of_json_and_to_one_includes(guide: Guide):
    for run in ln.Run.filter():
        run.params = {"alpha": [1, 2], "name": 'quote " and \\ slash'}
        run.save()
    runs = ln.Run.filter().df(include=["params", "transform__key", "created_by__handle"])
    assert all(p == {"alpha": [1, 2], "name": 'quote " and \\ slash'} for p in runs["params"])
    assert set(runs["transform__key"]) == {run.transform.key for run in ln.Run.filter()}
    # a missing many-to-one record gives None, and the join never duplicates rows
    frame = ln.Artifact.filter().df(include=["run__transform__key", "ulabels__name"])
    assert len(frame) == 5 and frame.index.is_unique
    keys = {row.id: row.run.transform.key if row.run else None for row in ln.Artifact.filter()}
    assert frame["run__transform__key"].to_dict() == keys


def test_nested_filters_through_the_same_link_table(guide: Guide):
    # both subqueries read artifact_ulabel: each must keep its own scope
    dataset1 = ln.Artifact.get(key="example_datasets/dataset1.h5ad")
    names = {label.name for label in dataset1.ulabels}
    sharing = ln.Artifact.filter(ulabels__in=ln.ULabel.filter(artifacts__key=dataset1.key))
    expected = {a.id for a in ln.Artifact.filter() if names & {x.name for x in a.ulabels}}
    assert names and {a.id for a in sharing} == expected
    assert set(ln.Artifact.filter(ulabels__artifacts__key=dataset1.key).df().index) == expected


def test_reads_pause_cycle_collection_and_restore_it(guide: Guide, monkeypatch: pytest.MonkeyPatch):
    import gc

    from lamin_core.query.queryset import QuerySet

    execute = QuerySet._execute_raw
    enabled_during: list[bool] = []

    def spy(self: QuerySet[Any], statement: Any) -> Any:
        enabled_during.append(gc.isenabled())
        return execute(self, statement)

    monkeypatch.setattr(QuerySet, "_execute_raw", spy)
    assert len(ln.Artifact.df(include="ulabels__name")) == 5
    assert enabled_during == [False] and gc.isenabled()
    gc.disable()  # a caller that turned collection off keeps it off
    try:
        ln.Artifact.df()
        assert not gc.isenabled()
    finally:
        gc.enable()

    def fail(self: QuerySet[Any], statement: Any) -> Any:
        raise sa.exc.OperationalError("SELECT ...", {}, Exception("disk I/O error"))

    monkeypatch.setattr(QuerySet, "_execute_raw", fail)
    with pytest.raises(sa.exc.OperationalError):
        ln.Artifact.df()
    assert gc.isenabled()
    # loading records: the same
    session = ln.get_instance().session
    execute = session.execute
    enabled_during.clear()

    def spy_session(*args: Any, **kwargs: Any) -> Any:
        enabled_during.append(gc.isenabled())
        return execute(*args, **kwargs)

    monkeypatch.setattr(session, "execute", spy_session)
    assert len(ln.Artifact.filter().list()) == 5
    assert enabled_during == [False] and gc.isenabled()


def test_saving_many_records_batches_inserts_and_gives_each_record_its_id(
    instance: ln.Instance,
):
    names = [f"label {i:03d}" for i in range(120)]
    labels = ln.ULabel.from_values(names, create=True)
    with count_statements(instance.engine) as statements:
        labels.save()
    inserts = [s for s in statements if s.lstrip().upper().startswith("INSERT INTO ULABEL")]
    assert len(inserts) == 1  # one multi-row INSERT, not one per record
    stored = dict(instance.session.execute(sa.select(ln.ULabel.name, ln.ULabel.id)).all())
    assert {label.name: label.id for label in labels} == {name: stored[name] for name in names}
