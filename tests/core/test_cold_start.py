"""A cold start imports what connecting and counting need, not pandas, anndata or dagster."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import lamin_core as ln

HEAVY = ("pandas", "anndata", "dagster", "pyarrow", "alembic", "numpy", "rapidfuzz")


def imported_after(code: str, cwd: Path) -> list[str]:
    """Run `code` in a fresh interpreter; return which HEAVY modules it left in sys.modules."""
    probe = (
        f"{code}\nimport json, sys\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=cwd
    )
    return json.loads(result.stdout.splitlines()[-1])


def test_import_lamin_core_leaves_heavy_libraries_unloaded(tmp_path: Path):
    assert imported_after("import lamin_core", tmp_path) == []


def test_connecting_and_counting_load_no_heavy_library(tmp_path: Path):
    storage = tmp_path / "catalog"
    ln.init(storage=str(storage), activate=False).close()

    code = f"import lamin_core as ln\nln.connect({str(storage)!r})\nln.Artifact.filter().count()"

    assert imported_after(code, tmp_path) == []


def test_the_cli_info_loads_no_heavy_library(tmp_path: Path):
    storage = tmp_path / "catalog"
    ln.init(storage=str(storage), activate=False).close()

    code = f"from lamin_core.cli import main\nmain(['info', '--storage', {str(storage)!r}])"

    assert imported_after(code, tmp_path) == []


@pytest.mark.parametrize(
    ("code", "library"),
    [
        ("ln.ULabel.df()", "pandas"),
        ("ln.Curator", "pandas"),
        ("import lamin_core.bio as bt; bt.PublicOntology", "pandas"),
    ],
)
def test_what_needs_a_library_loads_it_on_first_use(tmp_path: Path, code: str, library: str):
    storage = tmp_path / "catalog"
    ln.init(storage=str(storage), activate=False).close()

    loaded = imported_after(
        f"import lamin_core as ln\nln.connect({str(storage)!r})\n{code}", tmp_path
    )

    assert library in loaded
