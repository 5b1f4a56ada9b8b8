"""df(include=...) through to-many relations: the same frames whatever the plan of the statement.

On PostgreSQL a to-many include is a grouped subquery joined to the rows (a LATERAL join for a
page); on SQLite a correlated subquery per row. Both must show the same values for the rows the
query returns, whatever its filters, order, limit and offset.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

import lamin_core as ln

NONE = {None}  # how a record without related records shows


@pytest.fixture
def labelled(instance: ln.Instance, tmp_path: Path) -> list[ln.Artifact]:
    """Six artifacts (files/f0..f5.txt, growing in size) and their labels.

    f0: a, b; f1: a, c, and a again under the feature 'medium'; f2: none; f3: 'gone', which is
    in the trash; f4: b, c; f5: a. The labels a and b have the parent P and the type Kind.
    Collection c1 holds f0 and f1.
    """
    kind = ln.ULabel(name="Kind", is_type=True).save()
    a = ln.ULabel(name="a", type=kind).save()
    b = ln.ULabel(name="b", type=kind).save()
    c = ln.ULabel(name="c").save()
    gone = ln.ULabel(name="gone").save()
    parent = ln.ULabel(name="P").save()
    a.parents.add(parent)
    b.parents.add(parent)
    ln.Feature(name="medium", dtype="cat[ULabel]").save()
    artifacts = []
    for i in range(6):
        path = tmp_path / f"f{i}.txt"
        path.write_text(f"content {i} " * (i + 1))
        artifacts.append(ln.Artifact(path, key=f"files/f{i}.txt").save())
    artifacts[0].ulabels.add(a, b)
    artifacts[1].ulabels.add(a, c)
    artifacts[1].labels.add(a, feature="medium")  # a second link to the same label
    artifacts[3].ulabels.add(gone)
    artifacts[4].ulabels.add(b, c)
    artifacts[5].ulabels.add(a)
    gone.delete()
    ln.Collection([artifacts[0], artifacts[1]], key="c1").save()
    return artifacts


def by_key(frame: Any, column: str) -> dict[str, Any]:
    return dict(zip(frame["key"], frame[column]))


LABELS = {
    "files/f0.txt": {"a", "b"},
    "files/f1.txt": {"a", "c"},
    "files/f2.txt": NONE,
    "files/f3.txt": {"gone"},  # a related record in the trash still shows, as before
    "files/f4.txt": {"b", "c"},
    "files/f5.txt": {"a"},
}


@pytest.mark.parametrize("filtered", [False, True])
def test_df_to_many_include_keeps_order_filters_limit_and_offset(
    labelled: list[ln.Artifact], filtered: bool
):
    queryset = ln.Artifact.filter(key__startswith="files/") if filtered else ln.Artifact.filter()
    queryset = queryset.order_by("-size")
    frame = queryset.df(include=["ulabels__name"])
    assert list(frame["key"]) == [f"files/f{i}.txt" for i in range(5, -1, -1)]
    assert by_key(frame, "ulabels__name") == LABELS
    page = queryset[1:4].df(include=["ulabels__name"])
    assert list(page["key"]) == ["files/f4.txt", "files/f3.txt", "files/f2.txt"]
    assert by_key(page, "ulabels__name") == {key: LABELS[key] for key in page["key"]}
    rest = queryset[2:].df(include=["ulabels__name"])  # an offset without a limit
    assert list(rest["key"]) == [f"files/f{i}.txt" for i in range(3, -1, -1)]
    assert by_key(rest, "ulabels__name") == {key: LABELS[key] for key in rest["key"]}
    filtered_out = ln.Artifact.filter(ulabels__name="c").exclude(key="files/f4.txt")
    assert by_key(filtered_out.df(include=["ulabels__name"]), "ulabels__name") == {
        "files/f1.txt": {"a", "c"}
    }
    assert list(ln.Artifact.filter(key="nothing").df(include=["ulabels__name"]).columns) == [
        "uid", "key", "description", "ulabels__name",
    ]  # fmt: skip


def test_df_to_many_include_hides_trashed_records_it_lists(labelled: list[ln.Artifact]):
    labelled[0].delete()  # the artifact goes to the trash: its row and its labels go
    frame = ln.Artifact.filter().df(include=["ulabels__name"])
    assert "files/f0.txt" not in set(frame["key"])
    assert by_key(frame, "ulabels__name") == {
        k: v for k, v in LABELS.items() if k != "files/f0.txt"
    }
    assert len(ln.Artifact.filter()[:2].df(include=["ulabels__name"])) == 2


def test_df_two_to_many_includes_and_two_hop_paths(labelled: list[ln.Artifact]):
    frame = ln.Artifact.filter().df(
        include=[
            "ulabels__name",
            "ulabels__parents__name",
            "collections__key",
            "created_by__handle",
        ]
    )
    assert list(frame.columns) == [
        "uid", "key", "description", "ulabels__name", "ulabels__parents__name",
        "collections__key", "created_by__handle",
    ]  # fmt: skip
    assert by_key(frame, "ulabels__name") == LABELS
    parents = {key: {"P"} if LABELS[key] & {"a", "b"} else NONE for key in LABELS}
    assert by_key(frame, "ulabels__parents__name") == parents
    collections = {
        key: {"c1"} if key in ("files/f0.txt", "files/f1.txt") else NONE for key in LABELS
    }
    assert by_key(frame, "collections__key") == collections
    assert set(frame["created_by__handle"]) == {"testuser1"}
    # through two artifacts sharing label a: each name once
    collection = ln.Collection.filter().df(include=["artifacts__ulabels__name"])
    assert collection["artifacts__ulabels__name"].tolist() == [{"a", "b", "c"}]


def test_df_to_many_include_after_a_many_to_one_hop(labelled: list[ln.Artifact]):
    # type__ulabels: the labels of the same type; ulabels: the labels a type holds
    frame = ln.ULabel.filter().order_by("name").df(include=["type__ulabels__name", "ulabels__name"])
    names = dict(zip(frame["name"], zip(frame["type__ulabels__name"], frame["ulabels__name"])))
    assert names == {
        "Kind": (NONE, {"a", "b"}),
        "P": (NONE, NONE),
        "a": ({"a", "b"}, NONE),
        "b": ({"a", "b"}, NONE),
        "c": (NONE, NONE),
    }
    page = ln.ULabel.filter().order_by("name")[1:3].df(include=["type__ulabels__name"])
    assert list(page["name"]) == ["P", "a"]
    assert page["type__ulabels__name"].tolist() == [NONE, {"a", "b"}]


def test_df_to_many_include_with_features_keeps_feature_dtypes(labelled: list[ln.Artifact]):
    frame = ln.Artifact.filter().df(include=["ulabels__name"], features=True)
    assert by_key(frame, "ulabels__name") == LABELS
    assert frame.loc[labelled[1].id, "medium"] == {"a"}
    assert frame.attrs["feature_dtypes"] == {"medium": "cat[ULabel]"}


def explain(engine: sa.Engine, frame: Callable[[], Any]) -> list[str]:
    """Return PostgreSQL's plan of the statement that `frame()` sends."""
    sent: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        sent.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        frame()
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    statement, parameters = sent[-1]
    with engine.connect() as connection:
        return list(connection.exec_driver_sql(f"EXPLAIN {statement}", parameters).scalars())


def test_df_to_many_include_is_joined_not_a_subplan_per_row_on_postgresql(
    labelled: list[ln.Artifact], backend: str
):
    if backend != "postgresql":
        pytest.skip("the plan of the statement is PostgreSQL's")
    engine = ln.get_instance().engine
    includes = ["ulabels__name", "ulabels__parents__name"]
    for frame in [
        lambda: ln.Artifact.filter().df(include=includes),  # grouped subqueries
        lambda: ln.Artifact.filter(size__gt=0).df(include=includes),
        lambda: ln.Artifact.filter().order_by("-size")[:2].df(include=includes),  # LATERAL
    ]:
        lines = explain(engine, frame)
        assert not [line for line in lines if "SubPlan" in line], "\n".join(lines)
        assert any("Left Join" in line or "Nested Loop Left" in line for line in lines)
