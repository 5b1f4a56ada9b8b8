"""Parents and children of Record and ULabel: query_parents/query_children and view_parents."""

from __future__ import annotations

import itertools
import sys
import types
from pathlib import Path
from typing import Any

import pytest

import lamin_core as ln
from lamin_core.errors import FieldError, ValidationError

HIERARCHICAL = [ln.Record, ln.ULabel]


def chain(registry: Any, *names: str) -> list[Any]:
    """Save records named `names`, each the parent of the next."""
    records = [registry(name=name).save() for name in names]
    for parent, child in itertools.pairwise(records):
        parent.children.add(child)
    return records


@pytest.mark.parametrize("registry", HIERARCHICAL, ids=lambda r: r.__name__)
def test_query_parents_and_children_are_transitive(instance: ln.Instance, registry: Any):
    top, middle, leaf = chain(registry, "top", "middle", "leaf")
    other = registry(name="unrelated").save()
    parents = leaf.query_parents()
    assert sorted(parents.list("name")) == ["middle", "top"]
    assert top in parents and other not in parents
    assert sorted(top.query_children().list("name")) == ["leaf", "middle"]
    assert middle.query_parents().list("name") == ["top"]
    assert top.query_parents().count() == 0 and leaf.query_children().count() == 0
    # a QuerySet: it filters further
    assert leaf.query_parents().filter(name="top").one() == top


@pytest.mark.parametrize("registry", HIERARCHICAL, ids=lambda r: r.__name__)
def test_query_parents_survives_a_cycle_and_a_diamond(instance: ln.Instance, registry: Any):
    a, _b, c = chain(registry, "a", "b", "c")
    d = registry(name="d").save()
    a.children.add(d)
    d.children.add(c)  # a -> b -> c and a -> d -> c
    c.children.add(a)  # and a cycle back to a
    assert sorted(c.query_parents().list("name")) == ["a", "b", "d"]
    assert sorted(a.query_children().list("name")) == ["b", "c", "d"]


def test_query_parents_leaves_out_the_trash(instance: ln.Instance):
    _top, middle, leaf = chain(ln.Record, "top", "middle", "leaf")
    middle.delete()
    assert leaf.query_parents().list("name") == ["top"]


def test_query_parents_of_an_unsaved_record_says_save_it(instance: ln.Instance):
    with pytest.raises(ValidationError, match="unsaved Record: save\\(\\) it first"):
        ln.Record(name="draft").query_parents()


def test_view_parents_draws_ancestors_above_the_record(instance: ln.Instance, tmp_path: Path):
    chain(ln.Record, "grandparent", "parent", "label")
    label = ln.Record.get(name="label")
    target = label.view_parents(ln.Record.name, distance=1, path=tmp_path / "parents.dot")
    assert target == tmp_path / "parents.dot"
    source = target.read_text()
    assert '[label="label"' in source and '[label="parent"' in source
    assert "grandparent" not in source  # distance=1: one level
    everything = label.view_parents("name", path=tmp_path / "all.dot").read_text()
    assert "grandparent" in everything


def test_view_parents_with_children_draws_both_directions(instance: ln.Instance, tmp_path: Path):
    middle = chain(ln.ULabel, "top", "middle", "leaf")[1]
    only_up = middle.view_parents(path=tmp_path / "up.dot").read_text()
    assert "top" in only_up and "leaf" not in only_up
    both = middle.view_parents(with_children=True, path=tmp_path / "both.dot").read_text()
    assert "top" in both and "leaf" in both
    edges = [line for line in both.splitlines() if "->" in line]
    assert len(edges) == 2  # top -> middle, middle -> leaf


def test_view_parents_in_a_script_saves_an_svg_and_prints_where(
    instance: ln.Instance, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setitem(sys.modules, "IPython", None)  # no notebook, no graphviz needed
    monkeypatch.setenv("PATH", "")
    label = chain(ln.Record, "parent", "label")[1]
    target = label.view_parents()
    assert target is not None and target.suffix == ".svg"
    assert ">parent</text>" in target.read_text()
    assert f"drawn to {target}" in capsys.readouterr().out


def test_view_parents_in_a_notebook_shows_it_inline(
    instance: ln.Instance, monkeypatch: pytest.MonkeyPatch
):
    shown: list[Any] = []
    ipython = types.ModuleType("IPython")
    display = types.ModuleType("IPython.display")
    ipython.get_ipython = lambda: types.SimpleNamespace(config={"IPKernelApp": {}})  # type: ignore[attr-defined]
    display.display = shown.append  # type: ignore[attr-defined]
    display.SVG = lambda data: data  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    monkeypatch.setitem(sys.modules, "IPython.display", display)
    label = chain(ln.Record, "parent", "label")[1]
    assert label.view_parents() is None
    assert len(shown) == 1 and ">parent</text>" in shown[0]


@pytest.mark.parametrize("distance", [0, -1, 1.5, True, "2"])
def test_view_parents_rejects_a_bad_distance(instance: ln.Instance, distance: Any):
    label = ln.Record(name="label").save()
    with pytest.raises(ValidationError, match=f"distance must be a positive integer.*{distance!r}"):
        label.view_parents(distance=distance)


def test_view_parents_unknown_field_names_the_fields(instance: ln.Instance):
    label = ln.Record(name="label").save()
    with pytest.raises(FieldError, match=r"Unknown field 'nam' on Record\. Did you mean 'name'"):
        label.view_parents("nam")
