"""The harness that runs LaminDB's tests on lamin_core: the import table, the rewriting, the list.

These run in `make test` (no download needed); the check of expected_failures.txt against the
fetched files skips when they are absent (and fails in CI, where .ci/run fetches them first).
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import fetch
import pytest
from harness import is_named, read_expected_failures
from hypothesis import given
from hypothesis import strategies as st

MAPPED = sorted((key, value) for key, value in fetch.IMPORTS.items() if value is not None)
ABSENT = sorted(key for key, value in fetch.IMPORTS.items() if value is None)


def _resolve(dotted: str) -> object:
    """Import a module, or a module's attribute, by its dotted name."""
    try:
        return importlib.import_module(dotted)
    except ModuleNotFoundError:
        module, _, name = dotted.rpartition(".")
        return getattr(importlib.import_module(module), name)


def _is_module_key(key: str) -> bool:
    return key in {"lamindb", "bionty", "lamindb_setup", "laminci.db"}


def _statements(key: str) -> list[str]:
    """Every way LaminDB's tests import `key`."""
    if _is_module_key(key):
        return [f"import {key} as alias"] + ([f"import {key}"] if "." not in key else [])
    module, _, name = key.rpartition(".")
    return [
        f"from {module} import {name}",
        f"from {module} import {name} as alias",
        f"from {module} import (  # noqa\n    {name},\n)",
        f"def test_inside():\n    from {module} import {name}\n    return {name}",
    ]


def _names_bound(source: str) -> set[str]:
    tree = ast.parse(source)
    return {
        (alias.asname or alias.name).split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    } | {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}


def _run(source: str) -> dict[str, object]:
    namespace: dict[str, object] = {}
    exec(compile(source, "<rewritten>", "exec"), namespace)
    return namespace


@pytest.fixture
def absent_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Make the stand-in module importable as `_absent`, as fetch.py writes it."""
    (tmp_path / "_absent.py").write_text(fetch.ABSENT_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


@pytest.mark.parametrize(("lamindb_name", "lamin_core_name"), MAPPED)
def test_import_table_targets_exist(lamindb_name: str, lamin_core_name: str) -> None:
    assert _resolve(lamin_core_name) is not None, f"{lamindb_name} maps to a missing name"


@pytest.mark.parametrize(
    ("key", "statement"),
    [(key, statement) for key in sorted(fetch.IMPORTS) for statement in _statements(key)],
)
def test_rewrite_binds_the_same_names_to_lamin_core(
    key: str, statement: str, absent_module: Path
) -> None:
    rewritten, rewrites = fetch.rewrite_imports(statement + "\n")
    assert len(rewrites) == 1
    tree = ast.parse(rewritten)
    left = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        and any(
            (alias.name if isinstance(node, ast.Import) else node.module or "").split(".")[0]
            in fetch.REWRITTEN_PACKAGES
            for alias in node.names
        )
    ]
    assert not left, rewritten
    namespace = _run(rewritten)
    bound = _names_bound(statement)
    if "test_inside" in bound:
        namespace = {"alias": namespace["test_inside"]()}  # type: ignore[operator]
        bound = {"alias"}
    for name in bound:
        value = namespace[name]
        if fetch.IMPORTS[key] is None:
            with pytest.raises(NotImplementedError, match=key.replace(".", r"\.")):
                value()  # type: ignore[operator]
        elif not (_is_module_key(key) and "." not in key and "as" not in statement):
            assert value is _resolve(fetch.IMPORTS[key])  # type: ignore[arg-type]


OTHER_LINES = st.sampled_from(
    [
        "import pandas as pd",
        "from pathlib import Path",
        "x = 1  # import lamindb as ln, in a comment",
        'text = "from lamindb import Artifact"',
        "",
        "def f():\n    return 2",
    ]
)
LAMINDB_PREFIXES = ("import lamin", "import bionty", "from lamin", "from bionty")
LAMINDB_LINES = st.sampled_from(
    [statement for key in sorted(fetch.IMPORTS) for statement in _statements(key)[:3]]
)


@given(st.lists(st.one_of(OTHER_LINES, LAMINDB_LINES), max_size=8))
def test_rewrite_changes_only_lamindb_imports(lines: list[str]) -> None:
    source = "".join(f"{line}\n" for line in lines)
    rewritten, rewrites = fetch.rewrite_imports(source)
    assert len(rewrites) == sum(line.startswith(LAMINDB_PREFIXES) for line in lines)
    kept = [line for line in lines if not line.startswith(LAMINDB_PREFIXES)]
    out = rewritten.splitlines()
    position = 0
    for line in kept:  # every other line is still there, unchanged and in order
        for part in line.splitlines() or [""]:
            position = out.index(part, position) + 1
    ast.parse(rewritten)


def test_lamindb_version_is_the_benchmarks_version() -> None:
    script = fetch.SETUP_SCRIPT.read_text()
    assert f'LAMINDB_VERSION="{fetch.lamindb_version()}"' in script


def test_expected_failures_have_reasons() -> None:
    entries = read_expected_failures()
    assert entries, "expected_failures.txt lists no test"
    assert all(entry.reason and "::" in entry.test for entry in entries)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("test_a.py::test_b\n", "has no reason"),
        ("test_a.py::test_b |  \n", "has no reason"),
        ("test_a.py::test_b @mysql | why\n", "unknown backend"),
        ("test_a.py::test_b | why\ntest_a.py::test_b | again\n", "listed twice"),
    ],
)
def test_expected_failures_refuse_bad_lines(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "expected_failures.txt"
    path.write_text(text)
    with pytest.raises(ValueError, match=problem):
        read_expected_failures(path)


def test_fetched_tests_exist_for_every_expected_failure(fetched: None) -> None:
    tests_by_file: dict[str, set[str]] = {}
    for name in fetch.SELECTED:
        path = fetch.UPSTREAM / Path(name).name
        tree = ast.parse(path.read_text())
        tests_by_file[path.name] = {"<import>"} | {
            node.name
            for node in tree.body
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test")
        }
    for entry in read_expected_failures():
        file, _, test = entry.test.partition("::")
        assert file in tests_by_file, f"line {entry.line}: {file} is not fetched (SELECTED)"
        assert test.split("[")[0] in tests_by_file[file], f"line {entry.line}: no {entry.test}"


@pytest.mark.parametrize(
    ("args", "collected"),
    [
        ([], False),
        (["tests"], False),
        (["tests/lamindb_compat"], False),
        (["tests/lamindb_compat/upstream"], True),
        (["tests/lamindb_compat/upstream/test_search.py::test_search_None"], True),
    ],
)
def test_upstream_is_collected_only_when_named(args: list[str], collected: bool) -> None:
    assert is_named(fetch.UPSTREAM, [str(fetch.REPO / arg) for arg in args]) is collected
