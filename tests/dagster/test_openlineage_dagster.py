"""OpenLineage from Dagster: with openlineage_file / openlineage_url set on the IO manager or the
resource, each catalog Run is sent as events as soon as it is closed (step hooks, run end)."""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import pytest
from dagster_helpers import Catalog

from lamin_dagster import LaminIOManager, LaminResource, lamin_asset
from lamin_dagster.sensors import record_run_end
from tests.openlineage_support import VALIDATOR, Receiver, serve


@lamin_asset
def counts() -> pd.DataFrame:
    return pd.DataFrame({"gene": ["a", "b"], "count": [1, 2]})


@lamin_asset
def top_gene(counts: pd.DataFrame) -> pd.DataFrame:
    return counts.nlargest(1, "count")


@lamin_asset
def broken(counts: pd.DataFrame) -> pd.DataFrame:
    raise ValueError("this step fails on purpose")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    yield from serve()


def read_events(path: Path) -> list[dict[str, Any]]:
    events = [json.loads(line) for line in path.read_text().splitlines()]
    for event in events:
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in VALIDATOR.iter_errors(event)]
        assert not errors, errors
    return events


def summary(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(e["job"]["name"], e["eventType"]) for e in events]


def test_io_manager_emits_each_step_run_as_it_finishes(
    catalog: Catalog, dagster_instance: dg.DagsterInstance, receiver: Receiver, tmp_path: Path
) -> None:
    events_file = tmp_path / "lineage" / "events.jsonl"
    io_manager = LaminIOManager(
        storage=catalog.storage,
        db=catalog.db,
        openlineage_file=str(events_file),
        openlineage_url=receiver.url,
    )
    result = dg.materialize(
        [counts, top_gene], resources={"io_manager": io_manager}, instance=dagster_instance
    )
    assert result.success
    events = read_events(events_file)
    assert summary(events) == [
        ("counts", "START"),
        ("counts", "COMPLETE"),
        ("top_gene", "START"),
        ("top_gene", "COMPLETE"),
    ]
    assert receiver.events == events  # the same events, posted as they were written
    counts_done, top_start, top_done = events[1], events[2], events[3]
    assert [o["name"] for o in counts_done["outputs"]] == ["counts.parquet"]
    assert [i["name"] for i in top_done["inputs"]] == ["counts.parquet"]
    assert top_done["inputs"][0]["facets"]["lamin_content"]["hash"] == (
        catalog.artifacts(key="counts.parquet")[0].hash
    )
    assert top_done["job"]["facets"]["jobType"]["integration"] == "DAGSTER"
    assert top_done["job"]["namespace"] == catalog.instance.name
    # both steps are children of the Dagster run's catalog Run
    (job_run,) = catalog.runs(reference=result.run_id)
    parent = top_start["run"]["facets"]["parent"]
    assert parent["job"]["name"] == job_run.transform.key
    assert parent["run"]["runId"] == counts_done["run"]["facets"]["parent"]["run"]["runId"]

    # the run's end (sensor, or the next set-up) closes the Dagster run's Run: its events follow
    record_run_end(io_manager.get_instance(), dagster_instance, result.run_id)
    closing = read_events(events_file)[4:]
    assert summary(closing) == [
        (job_run.transform.key, "START"),
        (job_run.transform.key, "COMPLETE"),
    ]
    assert closing[0]["run"]["runId"] == parent["run"]["runId"]
    io_manager.close()


def test_a_failed_step_is_a_fail_event(
    sqlite_catalog: Catalog, dagster_instance: dg.DagsterInstance, tmp_path: Path
) -> None:
    events_file = tmp_path / "events.jsonl"
    io_manager = LaminIOManager(storage=sqlite_catalog.storage, openlineage_file=str(events_file))
    result = dg.materialize(
        [counts, broken],
        resources={"io_manager": io_manager},
        instance=dagster_instance,
        raise_on_error=False,
    )
    assert not result.success
    assert ("broken", "FAIL") in summary(read_events(events_file))


def test_without_openlineage_settings_nothing_is_emitted(
    sqlite_catalog: Catalog, dagster_instance: dg.DagsterInstance, tmp_path: Path
) -> None:
    io_manager = LaminIOManager(storage=sqlite_catalog.storage)
    assert io_manager.openlineage_file is None and io_manager.openlineage_url is None
    result = dg.materialize(
        [counts], resources={"io_manager": io_manager}, instance=dagster_instance
    )
    assert result.success
    assert not list(tmp_path.rglob("*.jsonl"))


def test_an_unreachable_receiver_costs_a_warning_not_the_step(
    sqlite_catalog: Catalog,
    dagster_instance: dg.DagsterInstance,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = Receiver()
    url = server.url
    server.server_close()  # nothing listens there any more
    resources = {
        "io_manager": LaminIOManager(storage=sqlite_catalog.storage, openlineage_url=url),
        "lamin": LaminResource(storage=sqlite_catalog.storage, openlineage_url=url),
    }
    result = dg.materialize([counts], resources=resources, instance=dagster_instance)
    assert result.success
    assert "Could not send the OpenLineage events" in caplog.text
    (run,) = sqlite_catalog.runs(name="counts")
    assert run.status == "completed"
