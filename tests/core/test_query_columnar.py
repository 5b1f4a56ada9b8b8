"""Registry overviews read as Arrow columns from SQLite files: same frames, same visibility."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from test_query_guide import Guide, build_guide_catalog

import lamin_core as ln
from lamin_core.query import columnar, dataframe


@pytest.fixture
def guide(instance: ln.Instance, tmp_path: Path) -> Guide:
    return build_guide_catalog(tmp_path, files=False)


@pytest.fixture
def columnar_reads(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Record, for each columnar read tried, whether the rows came as Arrow columns."""
    read = dataframe.read_columns
    used: list[bool] = []

    def spy(session: Any, statement: Any) -> Any:
        columns = read(session, statement)
        used.append(columns is not None)
        return columns

    monkeypatch.setattr(dataframe, "read_columns", spy)
    return used


def both_ways(monkeypatch: pytest.MonkeyPatch, frame: Callable[[], pd.DataFrame]) -> pd.DataFrame:
    """Return `frame()` read as columns, after checking it equals the row-by-row read."""
    monkeypatch.setenv(columnar.ENV_SWITCH, "0")
    by_rows = frame()
    monkeypatch.setenv(columnar.ENV_SWITCH, "1")
    by_columns = frame()
    pd.testing.assert_frame_equal(by_columns, by_rows)
    return by_columns


def test_whole_registry_frames_are_the_same_read_as_columns(
    guide: Guide, backend: str, monkeypatch: pytest.MonkeyPatch, columnar_reads: list[bool]
):
    for run in ln.Run.filter():
        run.params = {"alpha": [1, 2], "name": 'quote " and \\ slash'}
        run.save()
    artifacts = both_ways(monkeypatch, lambda: ln.Artifact.df(limit=None))
    assert len(artifacts) == 5 and artifacts["description"].isna().any()
    assert artifacts["n_observations"].isna().sum() == 3 and artifacts["is_latest"].dtype == bool
    assert str(artifacts["created_at"].dtype) == "datetime64[ns, UTC]"
    included = both_ways(
        monkeypatch,
        lambda: ln.Artifact.df(
            include=["ulabels__name", "created_by__name", "run__transform__key"], limit=None
        ),
    )
    assert included["ulabels__name"].map(len).sum() >= 5
    both_ways(monkeypatch, lambda: ln.Artifact.df(features=True, limit=None))
    runs = both_ways(monkeypatch, lambda: ln.Run.df(include=["params"], limit=None))
    assert all(p["name"] == 'quote " and \\ slash' for p in runs["params"])
    both_ways(monkeypatch, lambda: ln.ULabel.df(include=["artifacts__key"], limit=None))
    # columns on SQLite files (the second read of each pair), rows on PostgreSQL
    assert columnar_reads[1::2] == [backend == "sqlite"] * 5
    assert not any(columnar_reads[::2])  # the switch turns columnar reads off


def test_small_overviews_and_filters_read_rows(guide: Guide, columnar_reads: list[bool]):
    ln.Artifact.df()  # the 100 newest: a few rows, read faster row by row
    ln.Artifact.filter(suffix=".jpg").df(include="ulabels__name")
    assert columnar_reads == []  # not even tried


def test_reads_inside_an_open_transaction_see_its_writes(guide: Guide, columnar_reads: list[bool]):
    session = ln.get_instance().session
    session.add(ln.ULabel(name="not committed yet"))
    session.flush()  # written in the session's transaction only
    assert "not committed yet" in set(ln.ULabel.df(limit=None)["name"])
    assert columnar_reads == [False]  # another connection would not have seen the row


def test_a_failing_columnar_read_falls_back_to_rows(
    instance: ln.Instance, monkeypatch: pytest.MonkeyPatch, columnar_reads: list[bool]
):
    ln.ULabel.from_values(["a", "b"], create=True).save()

    def busy(self: Any) -> Any:
        raise OSError("database is locked")

    monkeypatch.setattr(columnar._Connections, "get", busy)
    assert sorted(ln.ULabel.df(limit=None)["name"]) == ["a", "b"]
    assert columnar_reads == [False]


def test_closing_the_catalog_closes_its_columnar_connections(tmp_path: Path):
    instance = ln.init(storage=tmp_path / "catalog")
    ln.ULabel.from_values(["a"], create=True).save()
    assert list(ln.ULabel.df(limit=None)["name"]) == ["a"]
    connections = columnar._connections(instance.engine)
    assert connections is not None and connections.open_count == 1
    instance.close()
    assert connections.open_count == 0


def test_threads_and_forked_processes_read_with_their_own_connections(tmp_path: Path):
    import multiprocessing
    from concurrent.futures import ThreadPoolExecutor

    instance = ln.init(storage=tmp_path / "catalog")
    names = [f"label {i:03d}" for i in range(300)]
    ln.ULabel.from_values(names, create=True).save()

    def read(_: int) -> list[str]:
        with instance.activate():
            return sorted(ln.ULabel.df(limit=None)["name"])

    with ThreadPoolExecutor(4) as pool:
        assert all(result == names for result in pool.map(read, range(12)))
    connections = columnar._connections(instance.engine)
    assert connections is not None and connections.open_count == 0  # closed with their threads
    # a forked child must not use the parent's connection (SQLite forbids it): it opens its own
    assert _overview_names(0) == names  # this thread holds a connection when the child forks
    context = multiprocessing.get_context("fork")
    with context.Pool(1) as pool:
        assert pool.map(_overview_names, [0]) == [names]
    instance.close()


def _overview_names(_: int) -> list[str]:
    return sorted(ln.ULabel.df(limit=None)["name"])
