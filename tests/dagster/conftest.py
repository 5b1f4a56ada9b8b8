"""Fixtures for the Dagster integration: a catalog on each backend and a fresh Dagster instance.

The catalog is created with `ln.init` (as a user would) and is the test's active instance, used
for assertions; the IO manager and resource open their own connection to it, as in production.
Each test gets its own ephemeral Dagster instance: materialization history is what the IO
manager resolves inputs from, so it must not leak between tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from dagster_helpers import Catalog

import lamin_core as ln


@pytest.fixture
def catalog(tmp_path: Path, db_url: str | None) -> Iterator[Catalog]:
    """Return a fresh catalog on each backend (SQLite under tmp_path, PostgreSQL schema)."""
    instance = ln.init(storage=tmp_path / "catalog", db=db_url, user="testuser1")
    yield Catalog(storage=instance.storage_root, db=db_url, instance=instance)
    instance.close()


@pytest.fixture
def sqlite_catalog(tmp_path: Path) -> Iterator[Catalog]:
    """Return a fresh SQLite catalog, for tests where the backend does not matter."""
    instance = ln.init(storage=tmp_path / "catalog", user="testuser1")
    yield Catalog(storage=instance.storage_root, db=None, instance=instance)
    instance.close()


@pytest.fixture
def dagster_instance() -> Iterator[dg.DagsterInstance]:
    """Return a fresh in-memory Dagster instance."""
    with dg.DagsterInstance.ephemeral() as instance:
        yield instance


@pytest.fixture
def persistent_dagster_instance(tmp_path: Path) -> Iterator[dg.DagsterInstance]:
    """Return a Dagster instance on disk under tmp_path, as subprocesses and re-execution need."""
    folder = tmp_path / "dagster"
    folder.mkdir()
    with dg.instance_for_test(temp_dir=str(folder)) as instance:
        yield instance
