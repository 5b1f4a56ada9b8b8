"""Helpers shared by the Dagster tests: a catalog handle for assertions, step error messages.

(A separate module, not conftest.py, so that test modules can import the types.)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

import lamin_core as ln
from lamin_dagster import lamin_resources


def step_error(result: Any, step_key: str | None = None) -> str:
    """Return the message and causes of the (only) failed step of a result, as one string."""
    failures = [
        event
        for event in result.all_events
        if event.event_type_value == "STEP_FAILURE"
        and (step_key is None or event.step_key == step_key)
    ]
    assert len(failures) == 1, [f.step_key for f in failures]
    error = failures[0].step_failure_data.error
    parts = []
    while error is not None:
        parts.append(error.message)
        error = error.cause
    return "\n".join(parts)


@dataclass
class Catalog:
    """A catalog under test: its configuration and the test's own open instance."""

    storage: str
    db: str | None
    instance: ln.Instance

    def resources(self) -> dict[str, Any]:
        """Return the IO manager and resource configured for this catalog."""
        return lamin_resources(self.storage, self.db)

    def artifacts(self, **where: Any) -> list[ln.Artifact]:
        """Return the artifacts (fresh from the database), oldest first."""
        session = self.instance.session
        session.expire_all()
        statement = sa.select(ln.Artifact).order_by(ln.Artifact.id)
        for name, value in where.items():
            statement = statement.where(getattr(ln.Artifact, name) == value)
        return list(session.scalars(statement))

    def runs(self, **where: Any) -> list[ln.Run]:
        """Return the runs (fresh from the database), oldest first."""
        session = self.instance.session
        session.expire_all()
        statement = sa.select(ln.Run).order_by(ln.Run.id)
        for name, value in where.items():
            statement = statement.where(getattr(ln.Run, name) == value)
        return list(session.scalars(statement))

    def transforms(self) -> list[ln.Transform]:
        """Return the transforms, oldest first."""
        session = self.instance.session
        session.expire_all()
        return list(session.scalars(sa.select(ln.Transform).order_by(ln.Transform.id)))

    def stored_files(self) -> list[str]:
        """Return the names of the files in the catalog's storage folder."""
        folder = Path(self.instance.catalog_path)
        return sorted(
            p.name for p in folder.iterdir() if p.is_file() and not p.name.startswith("lamin.db")
        )
