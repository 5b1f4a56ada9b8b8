"""The conftest's decisions as plain functions: which tests are LaminDB's, which fail.

expected_failures.txt lists the fetched tests known to fail on lamin_core, one per line with the
reason; `read_expected_failures` parses it. upstream/ (the fetched tests) is collected only when
a command-line argument names it: `is_named` decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
UPSTREAM = HERE / "upstream"  # where fetch.py writes the rewritten tests
EXPECTED_FAILURES = HERE / "expected_failures.txt"
BACKENDS = ("sqlite", "postgresql")
SEPARATOR = " | "


@dataclass(frozen=True)
class ExpectedFailure:
    """One line of expected_failures.txt: a test id (or its name without parameters), a reason."""

    test: str
    reason: str
    backend: str | None  # None: on every backend
    line: int


def read_expected_failures(path: Path = EXPECTED_FAILURES) -> list[ExpectedFailure]:
    """Parse expected_failures.txt: ``<file>::<test>[ @<backend>] | <reason>`` per line.

    Raises:
        ValueError: a line without a reason, with an unknown backend, or listed twice.
    """
    entries: list[ExpectedFailure] = []
    seen: set[tuple[str, str | None]] = set()
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        test, separator, reason = text.partition(SEPARATOR)
        if not separator or not reason.strip():
            raise ValueError(
                f"{path.name}:{number}: {text!r} has no reason; write '<test id> | <why>'"
            )
        test, _, backend = test.strip().partition(" @")
        if backend and backend not in BACKENDS:
            raise ValueError(
                f"{path.name}:{number}: unknown backend {backend!r}; use one of {BACKENDS}"
            )
        key = (test, backend or None)
        if key in seen:
            raise ValueError(f"{path.name}:{number}: {test!r} is listed twice")
        seen.add(key)
        entries.append(ExpectedFailure(test, reason.strip(), backend or None, number))
    return entries


def is_upstream(path: Path) -> bool:
    """Return whether `path` is upstream/ or inside it."""
    return path == UPSTREAM or UPSTREAM in path.parents


def upstream_id(nodeid: str) -> str:
    """Return a fetched test's id relative to upstream/: ``test_search.py::test_search_None``."""
    return nodeid.split("upstream/", 1)[1]


def is_named(path: Path, args: list[str]) -> bool:
    """Return whether a command-line argument names upstream/ or a path inside it, or `path`."""
    for arg in args:
        named = Path(arg.split("::")[0]).resolve()
        if is_upstream(named) or named == path:
            return True
    return False
