"""Run a LaminDB 2.x guide (fetched into upstream/docs/ by fetch.py) the way its notebook runs.

A guide is a Markdown file that jupytext turns into the notebook LaminDB executes: its ``python``
and ``bash`` code blocks are the cells, except those inside ``<!-- #region -->`` ...
``<!-- #endregion -->`` (shown as text, not run). Python cells run in order in one namespace, as a
notebook's do; a cell's last expression is its value, as a notebook displays it. A bash cell
``python scripts/<name>.py`` runs that script as its own program (fetch.py extracts the scripts
the source distribution ships into upstream/docs/scripts/).
"""

from __future__ import annotations

import ast
import contextlib
import io
import re
import runpy
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import UPSTREAM

GUIDES = UPSTREAM / "docs"
CELL = re.compile(r"^```(?P<language>python|bash)\n(?P<code>.*?)^```$", re.MULTILINE | re.DOTALL)
REGION = re.compile(r"^<!-- #region -->$.*?^<!-- #endregion -->$", re.MULTILINE | re.DOTALL)
SCRIPT = re.compile(r"^python scripts/(?P<script>[\w.]+)(?P<args>.*)$")


@dataclass(frozen=True)
class Cell:
    """One cell of a guide: its number (from 1, in reading order), language and code."""

    number: int
    language: str  # "python" or "bash"
    code: str

    @property
    def first_line(self) -> str:
        """The cell's first non-empty line."""
        lines = [line for line in self.code.splitlines() if line.strip()]
        return lines[0].strip() if lines else ""

    def script(self, folder: Path = GUIDES) -> tuple[Path, list[str]] | None:
        """For a bash cell ``python scripts/<name>.py ARGS``: the fetched script and its
        arguments, or None (another command, or a script the distribution does not ship)."""
        match = SCRIPT.match(self.code.strip())
        path = folder / "scripts" / match.group("script") if match else None
        if match is None or path is None or not path.exists():
            return None
        return path, match.group("args").split()


@dataclass
class Outcome:
    """What running a cell gave: the value of its last expression and what it printed."""

    value: Any
    output: str


def read_cells(guide: str, folder: Path = GUIDES) -> list[Cell]:
    """Return the cells of a fetched guide (``"tutorial.md"``) in reading order."""
    text = REGION.sub("", (folder / guide).read_text())
    return [
        Cell(number, match.group("language"), match.group("code"))
        for number, match in enumerate(CELL.finditer(text), start=1)
    ]


def run_cell(cell: Cell, namespace: dict[str, Any], *, filename: str) -> Outcome:
    """Run `cell` in `namespace`; return its last expression's value and its printed output.

    Args:
        cell: A python cell, or a bash cell that runs a fetched script.
        namespace: The guide's namespace, shared by its python cells.
        filename: The file name the code runs as (the guide's notebook name, so that
            ``ln.track()`` names the transform after the notebook as in the guide).
    """
    if cell.language == "bash":
        return _run_script(cell)
    tree = ast.parse(cell.code)
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(tree, filename, "exec"), namespace)
        value = None
        if last is not None:
            value = eval(compile(ast.Expression(last.value), filename, "eval"), namespace)
    return Outcome(value, printed.getvalue())


def _run_script(cell: Cell) -> Outcome:
    """Run the script of a bash cell as ``python scripts/<name>.py ARGS`` would: as __main__,
    with its own namespace and sys.argv (in this process, so on the test's catalog)."""
    found = cell.script()
    assert found is not None, f"cell {cell.number} ({cell.first_line!r}) runs no fetched script"
    path, args = found
    printed = io.StringIO()
    argv = sys.argv
    sys.argv = [str(path), *args]
    try:
        with contextlib.redirect_stdout(printed):
            runpy.run_path(str(path), run_name="__main__")
    finally:
        sys.argv = argv
    return Outcome(None, printed.getvalue())
