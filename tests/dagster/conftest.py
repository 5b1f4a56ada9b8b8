"""Fixtures for the Dagster integration: a catalog on each backend and a fresh Dagster instance.

The catalog is created with `ln.init` (as a user would) and is the test's active instance, used
for assertions; the IO manager and resource open their own connection to it, as in production.
Each test gets its own ephemeral Dagster instance: materialization history is what the IO
manager resolves inputs from, so it must not leak between tests.

Until lamin_core's curators land, `curation` installs a tiny stand-in `ln.Curator` with the
agreed contract (validate, non_validated, save_artifact) that checks ULabel names.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from dagster_helpers import Catalog, StandInCurator

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
def curation(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make `ln.Curator` available: the real one once it lands, else the stand-in."""
    if not hasattr(ln, "Curator"):
        monkeypatch.setattr(ln, "Curator", StandInCurator, raising=False)
