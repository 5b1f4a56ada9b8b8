"""The output store: the one path by which `handle_output` and `lamin_asset` save an output."""

import dagster as dg
import pandas as pd
import pytest
from dagster_helpers import Catalog

from lamin_dagster import CurationError, LaminIOManager, lamin_asset
from lamin_dagster.context import OutputTarget
from lamin_dagster.store import prepare_output, save_output, store_output


def _target(**metadata: object) -> OutputTarget:
    return OutputTarget(
        key="tables/scores",
        label="asset 'tables/scores'",
        asset_key="tables/scores",
        definition_metadata=metadata,
    )


def test_store_output_saves_versions_under_the_target_key(sqlite_catalog: Catalog) -> None:
    manager = LaminIOManager(storage=sqlite_catalog.storage)
    frame = pd.DataFrame({"score": [1, 2]})

    first = store_output(manager, manager.handlers, _target(), frame, None)
    again = store_output(manager, manager.handlers, _target(), frame.copy(), None)
    changed = store_output(manager, manager.handlers, _target(), frame * 2, None)
    manager.close()

    assert first.artifact.key == "tables/scores.parquet"
    assert again.artifact.uid == first.artifact.uid  # same content: the existing artifact
    assert changed.artifact.uid[:16] == first.artifact.uid[:16]  # new content: next version
    assert changed.artifact.version == "2"
    assert first.metadata["lamin/uid"].value == first.artifact.uid
    assert first.metadata["dagster/row_count"].value == 2


def test_save_output_refuses_a_schema_output_that_was_not_validated(
    sqlite_catalog: Catalog,
) -> None:
    manager = LaminIOManager(storage=sqlite_catalog.storage)
    schema = {"categoricals": {"species": "ULabel.name"}}
    frame = pd.DataFrame({"species": ["a"]})
    prepared = prepare_output(manager.handlers, _target(**{"lamin/schema": schema}), frame)

    with pytest.raises(ValueError, match="validate_output"):
        save_output(manager, prepared, frame, None)
    manager.close()
    assert sqlite_catalog.artifacts() == []


def test_handle_output_and_lamin_asset_store_alike(sqlite_catalog: Catalog) -> None:
    """The same output through the IO manager and through lamin_asset: one artifact."""
    frame = pd.DataFrame({"score": [1, 2]})

    @dg.asset(key=["tables", "scores"])
    def by_io_manager() -> pd.DataFrame:
        return frame

    @lamin_asset(key=["tables", "scores"])
    def by_lamin_asset() -> pd.DataFrame:
        return frame

    for asset in (by_io_manager, by_lamin_asset):
        result = dg.materialize([asset], resources=sqlite_catalog.resources())
        assert result.success

    (artifact,) = sqlite_catalog.artifacts()
    assert artifact.key == "tables/scores.parquet"


def test_store_output_reports_curation_failures_before_saving(sqlite_catalog: Catalog) -> None:
    manager = LaminIOManager(storage=sqlite_catalog.storage)
    schema = {"categoricals": {"species": "ULabel.name"}}
    frame = pd.DataFrame({"species": ["not a label"]})

    with pytest.raises(CurationError):
        store_output(manager, manager.handlers, _target(**{"lamin/schema": schema}), frame, None)
    manager.close()
    assert sqlite_catalog.artifacts() == []
