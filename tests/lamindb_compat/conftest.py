"""Run LaminDB's own tests (fetched into upstream/ by fetch.py) against lamin_core.

This gives the fetched tests what LaminDB's ``tests/pydata/conftest.py`` gives them, and no more:
a fresh catalog whose storage is ``./default_storage_unit_core`` in the working directory, shared
by the tests of one file (LaminDB shares one per session; a catalog per file keeps each file's
result independent of the others), and the ``ccaplog`` fixture. The backend is SQLite, or
PostgreSQL with ``LAMIN_COMPAT_DB=postgresql``.

``expected_failures.txt`` lists the tests known to fail, each with its reason; they run as
``xfail(strict=True)``, so a test that starts passing fails the run until its line is removed.

upstream/ is collected only when named on the command line (``make lamindb-tests``), not by a
bare ``pytest``: the compatibility suite is not part of ``make test``.
"""

from __future__ import annotations

import logging
import os
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fetch
import pytest
import sqlalchemy as sa
from harness import (
    BACKENDS,
    UPSTREAM,
    ExpectedFailure,
    is_named,
    is_upstream,
    read_expected_failures,
    upstream_id,
)

import lamin_core as ln
import lamin_core.testing

HERE = Path(__file__).resolve().parent
_STALE = pytest.StashKey[list[ExpectedFailure]]()  # listed failures that matched no test
_outcomes: dict[str, str] = {}  # fetched test id -> its outcome, for the summary
_RANK = ("passed", "skipped", "xfailed", "xpassed", "failed", "error")  # the worst phase wins


@pytest.fixture
def fetched(request: pytest.FixtureRequest) -> None:
    """Skip unless LaminDB's tests and guides are fetched and current (fail in CI, where
    .ci/run fetches them first: tests/conftest.py's rule)."""
    problem = fetch.is_current(fetch.lamindb_version())
    if problem:
        root = request.config.pluginmanager.get_plugin(str(fetch.REPO / "tests" / "conftest.py"))
        assert root is not None, "tests/conftest.py is not loaded"
        root.unavailable(problem)


def compat_backend() -> str:
    """Return the database the fetched tests run on, from LAMIN_COMPAT_DB (default sqlite)."""
    backend = os.environ.get("LAMIN_COMPAT_DB", "sqlite")
    if backend not in BACKENDS:
        raise pytest.UsageError(f"LAMIN_COMPAT_DB={backend!r}: use one of {BACKENDS}")
    return backend


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Leave upstream/ out unless a command-line argument names it (or a path inside it)."""
    if is_upstream(collection_path) and not is_named(collection_path, config.args):
        return True
    return None


class ImportFailure(pytest.Item):
    """Stands for a fetched file whose import failed, so that expected_failures.txt can list it.

    Its id is ``<file>::<import>``; it fails with the import's error. Once the file imports, the
    item is gone and the file's own tests run (and the line shows as matching nothing).
    """

    def __init__(self, *, error: BaseException, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.error = error

    def runtest(self) -> None:
        raise self.error

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException]) -> str:  # type: ignore[override]
        return f"importing {self.path.name} failed: {self.error!r}"

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"import {self.path.name}"


class FetchedModule(pytest.Module):
    """A fetched test file; a failed import becomes one ImportFailure item, not a collect error."""

    def collect(self) -> list[pytest.Item | pytest.Collector]:
        try:
            return list(super().collect())
        except Exception as error:  # ImportError arrives as CollectError; others as they are
            cause = error.__cause__ if isinstance(error, self.CollectError) else error
            return [ImportFailure.from_parent(self, name="<import>", error=cause or error)]


def pytest_pycollect_makemodule(
    module_path: Path, parent: pytest.Collector
) -> pytest.Module | None:
    if is_upstream(module_path):
        return FetchedModule.from_parent(parent, path=module_path)
    return None


def pytest_configure(config: pytest.Config) -> None:
    # the fetched tests import their helpers (_dataset_fixtures, _absent) as top-level modules,
    # as they do in LaminDB's tests/pydata folder
    if str(UPSTREAM) not in sys.path:
        sys.path.insert(0, str(UPSTREAM))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the tests listed in expected_failures.txt as xfail(strict=True)."""
    upstream = [item for item in items if is_upstream(item.path)]
    if not upstream:
        return
    backend = compat_backend()
    entries = [e for e in read_expected_failures() if e.backend in (None, backend)]
    by_test = {e.test: e for e in entries if e.backend is None}
    by_test.update({e.test: e for e in entries if e.backend is not None})  # specific wins
    used: set[str] = set()
    for item in upstream:
        test = upstream_id(item.nodeid)
        entry = by_test.get(test) or by_test.get(test.split("[", 1)[0])
        if entry is not None:
            used.add(entry.test)
            item.add_marker(pytest.mark.xfail(strict=True, reason=entry.reason))
    files = {item.path.name for item in upstream}
    config.stash[_STALE] = [
        e for e in entries if e.test not in used and e.test.split("::")[0] in files
    ]


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Keep one outcome per fetched test: its worst phase (an xfail counts as xfailed)."""
    if "upstream/" not in report.nodeid:
        return
    if hasattr(report, "wasxfail"):
        outcome = "xpassed" if report.passed else "xfailed"
    elif report.failed:
        outcome = "failed" if report.when == "call" else "error"
    elif report.when != "call" and not report.skipped:
        return  # a passing setup or teardown says nothing yet
    else:
        outcome = report.outcome
    test = upstream_id(report.nodeid)
    previous = _outcomes.get(test)
    if previous is None or _RANK.index(outcome) > _RANK.index(previous):
        _outcomes[test] = outcome


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    """Print passed / xfailed / failed per fetched file, and expected failures that never ran."""
    if not _outcomes:
        return
    write = terminalreporter.write_line
    terminalreporter.section(f"LaminDB's tests on lamin_core ({compat_backend()})")
    columns = ("passed", "xfailed", "failed", "xpassed", "error", "skipped")
    by_file: dict[str, Counter[str]] = {}
    for test, outcome in _outcomes.items():
        by_file.setdefault(test.split("::")[0], Counter())[outcome] += 1
    write(f"{'file':28}" + "".join(f"{name:>9}" for name in columns))
    total: Counter[str] = Counter()
    for file, counts in sorted(by_file.items()):
        total.update(counts)
        write(f"{file:28}" + "".join(f"{counts[name]:>9}" for name in columns))
    write(f"{'total':28}" + "".join(f"{total[name]:>9}" for name in columns))
    for entry in config.stash.get(_STALE, []):
        write(
            f"expected_failures.txt:{entry.line}: {entry.test!r} matched no collected test; "
            "remove or correct the line"
        )


@pytest.fixture(autouse=True)
def clean_environment() -> Iterator[None]:
    """Replace tests/conftest.py's per-test reset: the fetched tests share their file's catalog.

    (The harness's own tests, test_fetch.py, open no catalog.)
    """
    yield


def _root_conftest(config: pytest.Config) -> Any:
    """Return tests/conftest.py as pytest loaded it (its PostgreSQL helpers)."""
    return config.pluginmanager.get_plugin(str(HERE.parent / "conftest.py"))


@pytest.fixture(scope="module")
def _postgres_schema_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """Return a URL to a fresh PostgreSQL schema for one fetched file; drop it afterwards."""
    root = _root_conftest(request.config)
    problem = root._postgres_problem()
    if problem:
        root.unavailable(problem)
    base = root.POSTGRES_URL
    schema = f"lamin_compat_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base.replace("postgresql://", "postgresql+psycopg://"))
    with admin.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{base}?options=-csearch_path%3D{schema},public"
    finally:
        lamin_core.testing.reset()
        with admin.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="session")
def _lamindb_session_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Work in a temporary folder for the session: LaminDB's session fixtures write to ./."""
    folder = tmp_path_factory.mktemp("lamindb-session")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        yield folder


@pytest.fixture(scope="module", autouse=True)
def lamindb_instance(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ln.Instance | None]:
    """Give each fetched test file a fresh active catalog, as LaminDB's session fixture does."""
    if not is_upstream(request.path):
        yield None
        return
    request.getfixturevalue("_lamindb_session_folder")
    folder = tmp_path_factory.mktemp(request.path.stem)
    db = (
        request.getfixturevalue("_postgres_schema_url")
        if compat_backend() == "postgresql"
        else None
    )
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith("LAMIN_CORE"):
                patch.delenv(name)
        patch.setenv("LAMIN_CORE_HOME", str(folder / "lamin-home"))
        patch.chdir(folder)  # LaminDB's tests write files to ./ and ./default_storage_unit_core
        instance = ln.init(storage=folder / "default_storage_unit_core", db=db, user="testuser1")
        try:
            yield instance
        finally:
            instance.close()
            lamin_core.testing.reset()


@pytest.fixture
def ccaplog(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Capture the catalog's log messages, as LaminDB's fixture of the same name does."""
    target = logging.getLogger("lamin_core")
    target.addHandler(caplog.handler)
    try:
        yield caplog
    finally:
        target.removeHandler(caplog.handler)
