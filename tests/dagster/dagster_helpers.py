"""Helpers shared by the Dagster tests: a catalog handle for assertions, a stand-in curator.

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


class StandInCurator:
    """The agreed curator contract, checking categoricals against registry fields."""

    def __init__(self, data: Any, categoricals: dict[str, Any], columns: Any) -> None:
        self.data = data
        self.categoricals = categoricals
        self.non_validated: dict[str, list[str]] = {}

    @classmethod
    def from_df(cls, df: Any, categoricals: Any = None, columns: Any = None, organism: Any = None):
        return cls(df, dict(categoricals or {}), columns)

    @classmethod
    def from_anndata(
        cls, adata: Any, var_index: Any = None, categoricals: Any = None, organism: Any = None
    ):
        return cls(adata, dict(categoricals or {}), None)

    def _frame(self) -> Any:
        return getattr(self.data, "obs", self.data)

    def validate(self) -> bool:
        session = ln.get_instance().session
        self.non_validated = {}
        for column, field in self.categoricals.items():
            values = sorted({str(v) for v in self._frame()[column]})
            known = set(session.scalars(sa.select(field).where(field.in_(values))))
            bad = [v for v in values if v not in known]
            if bad:
                self.non_validated[column] = bad
        return not self.non_validated

    def save_artifact(
        self, *, key: str, description: str | None = None, revises: Any = None, run: Any = None
    ) -> ln.Artifact:
        if not self.validate():
            raise ln.ValidationError(f"not validated: {self.non_validated}")
        return ln.Artifact(
            self.data, key=key, description=description, revises=revises, run=run
        ).save()
