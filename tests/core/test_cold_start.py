"""A cold start imports what connecting and counting need, not pandas, anndata or dagster.

`import lamin_dagster` (every step process of Dagster's multiprocess executor, every CLI call)
loads no catalog machinery at all: SQLAlchemy and the models come with the first catalog.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import lamin_core as ln

HEAVY = ("pandas", "anndata", "dagster", "pyarrow", "alembic", "numpy", "rapidfuzz")
CATALOG = ("sqlalchemy", "fsspec", "lamin_core.instance", "lamin_core.models", "lamin_core.bio")


def imported_after(code: str, cwd: Path, modules: tuple[str, ...] = HEAVY) -> list[str]:
    """Run `code` in a fresh interpreter; return which of `modules` it left in sys.modules."""
    probe = (
        f"{code}\nimport json, sys\nprint(json.dumps([m for m in {modules!r} if m in sys.modules]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=cwd
    )
    return json.loads(result.stdout.splitlines()[-1])


def test_import_lamin_core_leaves_heavy_libraries_unloaded(tmp_path: Path):
    assert imported_after("import lamin_core", tmp_path) == []


def test_import_lamin_core_loads_no_catalog_machinery(tmp_path: Path):
    assert imported_after("import lamin_core", tmp_path, CATALOG) == []


def test_import_lamin_dagster_loads_no_catalog_machinery(tmp_path: Path):
    code = (
        "import lamin_dagster\nfrom lamin_dagster import LaminIOManager, LaminResource, lamin_asset"
    )

    assert imported_after(code, tmp_path, CATALOG) == []


def test_names_loaded_on_first_use_are_the_registries_and_functions():
    import lamin_core.lineage.hierarchy  # noqa: F401  (the subpackage ln.lineage shares its name with)
    from lamin_core.models import Artifact
    from lamin_core.models.record import Record

    assert ln.Artifact is Artifact
    assert ln.Record is Record
    assert callable(ln.lineage) and ln.lineage.__module__ == "lamin_core.lineage"
    with pytest.raises(AttributeError, match="has no attribute 'Artefact'"):
        ln.Artefact  # noqa: B018


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
