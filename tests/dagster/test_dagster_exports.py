"""lamin_dagster's public face: what users write, and only lamin_core's public API underneath."""

import ast
import importlib
from pathlib import Path

import pytest

import lamin_dagster

PUBLIC = {
    "VALIDATION_CHECK_NAME",
    "CurationError",
    "LaminIOManager",
    "LaminResource",
    "LaminSchema",
    "NoHandlerError",
    "SchemaError",
    "TableHandler",
    "TypeHandler",
    "UpstreamArtifactError",
    "asset_key_for",
    "lamin_asset",
    "lamin_external_asset_sensor",
    "lamin_external_assets",
    "lamin_hooks",
    "lamin_resources",
    "lamin_run_sensors",
}
PACKAGE_DIR = Path(lamin_dagster.__file__).parent


def test_lamin_dagster_all_is_what_users_write() -> None:
    assert set(lamin_dagster.__all__) == PUBLIC
    assert len(lamin_dagster.__all__) == len(PUBLIC)  # no name listed twice
    assert all(hasattr(lamin_dagster, name) for name in PUBLIC)


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("lamin_dagster.handlers", "DataFrameHandler"),
        ("lamin_dagster.handlers", "AnnDataHandler"),
        ("lamin_dagster.handlers", "PathHandler"),
        ("lamin_dagster.mapping", "job_run_spec"),
        ("lamin_dagster.mapping", "step_transform_spec"),
        ("lamin_dagster.run_status", "record_run_end"),
        ("lamin_dagster.run_status", "close_finished_runs"),
        ("lamin_dagster.store", "store_output"),
        ("lamin_dagster.upstream", "resolve_upstreams"),
    ],
)
def test_lamin_dagster_the_rest_is_importable_from_its_module(module: str, name: str) -> None:
    assert hasattr(importlib.import_module(module), name)
    assert name not in lamin_dagster.__all__


def private_lamin_core_imports(source: str) -> list[str]:
    """Return the imports in `source` of a private lamin_core module or name, as written."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
            names: list[str] = []
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module]
            names = [alias.name for alias in node.names]
        else:
            continue
        for module in modules:
            parts = module.split(".")
            if parts[0] != "lamin_core":
                continue
            private = [part for part in parts if part.startswith("_")]
            # a private name, or a private submodule imported by name (`from lamin_core import _x`)
            private += [name for name in names if name.startswith("_")]
            if private:
                found.append(ast.unparse(node))
    return found


@pytest.mark.parametrize(
    ("source", "private"),
    [
        ("import lamin_core as ln", False),
        ("from lamin_core.tracking import get_or_create_transform", False),
        ("from lamin_core.storage import suffix_of", False),
        ("from lamin_dagster._x import _y", False),
        ("from lamin_core.tracking import _get_or_create_transform", True),
        ("from lamin_core import _version", True),
        ("from lamin_core._private import thing", True),
        ("import lamin_core.models._base", True),
        ("def f():\n    from lamin_core.models.versioning import _lock\n", True),
    ],
)
def test_private_lamin_core_imports_finds_private_modules_and_names(
    source: str, private: bool
) -> None:
    assert bool(private_lamin_core_imports(source)) is private


def test_lamin_dagster_imports_no_private_lamin_core_module_or_name() -> None:
    offending = {
        str(path.relative_to(PACKAGE_DIR.parent)): found
        for path in sorted(PACKAGE_DIR.rglob("*.py"))
        if (found := private_lamin_core_imports(path.read_text()))
    }

    assert not offending
