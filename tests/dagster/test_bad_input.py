"""Bad configuration fails at start-up with lamin_core's message in the log, changing nothing."""

from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

import lamin_core as ln
from lamin_dagster import LaminIOManager, LaminResource, lamin_resources


@dg.asset
def table() -> pd.DataFrame:
    return pd.DataFrame({"x": [1]})


@dg.asset
def registered(context: dg.AssetExecutionContext, lamin: LaminResource) -> None:
    with lamin.track(context):
        ln.Artifact.from_df(pd.DataFrame({"x": [1]}), key="registered.parquet").save()


def _failure_text(result: dg.ExecuteInProcessResult, instance: dg.DagsterInstance) -> str:
    """Return every error message Dagster logged for the run."""
    texts = []
    for record in instance.all_logs(result.run_id):
        event = record.dagster_event
        error = getattr(getattr(event, "event_specific_data", None), "error", None)
        while error is not None:
            texts.append(error.message)
            error = error.cause
    return "\n".join(texts)


def _materialize(resources: dict[str, object], instance: dg.DagsterInstance):
    return dg.materialize(
        [table, registered], resources=resources, instance=instance, raise_on_error=False
    )


def test_with_create_false_a_missing_catalog_fails_at_start_up_and_creates_nothing(
    tmp_path: Path, dagster_instance: dg.DagsterInstance
) -> None:
    storage = tmp_path / "no-catalog-here"

    result = _materialize(lamin_resources(str(storage), create=False), dagster_instance)

    assert not result.success
    text = _failure_text(result, dagster_instance)
    assert "No catalog at" in text and "ln.init(storage=" in text
    assert "create=True" in text  # the Dagster-side fix
    assert not (storage / ".lamindb" / "lamin.db").exists()


def test_an_unreachable_database_fails_at_start_up_with_the_url(
    tmp_path: Path, dagster_instance: dg.DagsterInstance
) -> None:
    url = "postgresql://postgres@127.0.0.1:1/test"

    result = _materialize(lamin_resources(str(tmp_path / "catalog"), url), dagster_instance)

    assert not result.success
    text = _failure_text(result, dagster_instance)
    assert (
        "Cannot reach the catalog database 'postgresql+psycopg://postgres@127.0.0.1:1/test'" in text
    )
    assert not (tmp_path / "catalog" / ".lamindb").exists()


def test_the_resource_tracks_saves_as_the_steps_run(
    tmp_path: Path, dagster_instance: dg.DagsterInstance
) -> None:
    instance = ln.init(storage=tmp_path / "catalog", user="testuser1")

    result = _materialize(lamin_resources(instance.storage_root), dagster_instance)

    assert result.success
    with instance.activate():
        artifact = ln.Artifact.get(key="registered.parquet")
        assert artifact.run.name == "registered"
        assert artifact.run.transform.key == "registered"
    assert ln.get_instance() is instance
    instance.close()


def test_the_resource_opens_its_catalog_lazily_and_closes_it(tmp_path: Path) -> None:
    instance = ln.init(storage=tmp_path / "catalog", user="testuser1")
    manager = LaminIOManager(storage=instance.storage_root, user="dagster")

    opened = manager.get_instance()

    assert manager.instance is opened and opened.user_handle == "dagster"
    manager.close()
    with pytest.raises(ln.InstanceError, match="is closed"):
        opened.session  # noqa: B018 - the property raises on a closed catalog
    instance.close()
