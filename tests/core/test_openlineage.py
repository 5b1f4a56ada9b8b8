"""Catalog Runs as OpenLineage RunEvents: valid by the spec, written to a file, posted over HTTP."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import lamin_core as ln
from lamin_core.cli import main
from lamin_core.errors import StorageError, ValidationError
from lamin_core.lineage.openlineage import (
    PRODUCER,
    event_dicts,
    export_events,
    openlineage_run_id,
    run_events,
)
from tests.openlineage_support import Receiver, assert_valid, serve


@pytest.fixture
def pipeline(instance: ln.Instance) -> dict[str, ln.Artifact]:
    """raw (curated, two columns) -> clean.py -> clean -> plot.py (fails) -> plot; a run open."""
    ln.Feature(name="gene", dtype="str").save()
    ln.Feature(name="count", dtype="int").save()
    raw = ln.Curator.from_df(pd.DataFrame({"gene": ["a", "b"], "count": [1, 2]})).save_artifact(
        key="raw/counts.parquet"
    )
    ln.track(key="clean.py", params={"min_count": 1})
    raw.load()
    clean = ln.Artifact.from_df(pd.DataFrame({"gene": ["b"]}), key="clean/counts.parquet").save()
    ln.finish()
    ln.track(key="plot.py")
    clean.load()
    plot = ln.Artifact.from_df(pd.DataFrame({"x": [1]}), key="plots/bar.parquet").save()
    ln.finish(status="errored")
    ln.track(key="still_running.py")
    return {"raw": raw, "clean": clean, "plot": plot}


def by_job(events: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    jobs: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        jobs.setdefault(event["job"]["name"], []).append(event)
    return jobs


def test_run_events_follow_each_runs_status_and_validate(
    pipeline: dict[str, ln.Artifact], instance: ln.Instance
):
    events = event_dicts(run_events(ln.Run.filter().all(), instance=instance))
    assert_valid(events)
    jobs = by_job(events)
    assert [e["eventType"] for e in jobs["clean.py"]] == ["START", "COMPLETE"]
    assert [e["eventType"] for e in jobs["plot.py"]] == ["START", "FAIL"]
    assert [e["eventType"] for e in jobs["still_running.py"]] == ["START"]
    times = [dt.datetime.fromisoformat(e["eventTime"]) for e in events]
    assert times == sorted(times)
    start, complete = jobs["clean.py"]
    assert start["run"]["runId"] == complete["run"]["runId"]  # one OpenLineage run per Run
    assert start["job"]["namespace"] == instance.name and start["producer"] == PRODUCER
    assert complete["run"]["facets"]["lamin_run"]["params"] == {"min_count": 1}


def test_run_events_name_artifacts_by_storage_root_and_key_with_hash_and_columns(
    pipeline: dict[str, ln.Artifact], instance: ln.Instance
):
    clean_run = pipeline["clean"].run
    assert clean_run is not None
    start, complete = event_dicts(run_events([clean_run], instance=instance))
    (source,) = complete["inputs"]
    (output,) = complete["outputs"]
    assert start["inputs"] == complete["inputs"] and start["outputs"] == []
    assert (source["namespace"], source["name"]) == (instance.storage_root, "raw/counts.parquet")
    assert output["name"] == "clean/counts.parquet"
    content = source["facets"]["lamin_content"]
    assert content["hash"] == pipeline["raw"].hash and content["size"] == pipeline["raw"].size
    assert source["facets"]["version"]["datasetVersion"] == pipeline["raw"].uid
    fields = source["facets"]["schema"]["fields"]
    assert [(f["name"], f["type"], f["ordinal_position"]) for f in fields] == [
        ("gene", "str", 1),
        ("count", "int", 2),
    ]
    assert "schema" not in output["facets"]  # the catalog does not know its columns


def test_run_ids_are_the_same_on_every_export(pipeline: dict[str, ln.Artifact], tmp_path: Path):
    export_events(to=tmp_path / "first.jsonl")
    export_events(to=tmp_path / "second.jsonl")
    first = (tmp_path / "first.jsonl").read_text()
    assert first == (tmp_path / "second.jsonl").read_text()
    run = pipeline["clean"].run
    assert run is not None and openlineage_run_id(run) in first


def read_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_cli_lineage_export_writes_json_lines_since_a_date(
    pipeline: dict[str, ln.Artifact],
    instance: ln.Instance,
    db_url: str | None,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
):
    target = tmp_path / "out" / "events.jsonl"
    catalog = ["--storage", instance.storage_root, *(["--db", db_url] if db_url else [])]
    assert main(["lineage", "export", "--to", str(target), *catalog]) == 0
    events = read_lines(target)
    assert_valid(events)
    assert len(events) == 5  # 3 runs started, 2 finished
    assert "exported 5 OpenLineage events to " in capsys.readouterr().out
    tomorrow = (dt.date.today() + dt.timedelta(days=1)).isoformat()
    assert main(["lineage", "export", "--since", tomorrow, "--to", str(target), *catalog]) == 0
    assert target.read_text() == ""  # written afresh: nothing happened since


def test_export_since_keeps_only_later_events(pipeline: dict[str, ln.Artifact], tmp_path: Path):
    plot_run = pipeline["plot"].run
    assert plot_run is not None and plot_run.finished_at is not None
    export_events(plot_run.finished_at, to=tmp_path / "late.jsonl")
    events = read_lines(tmp_path / "late.jsonl")
    assert [(e["job"]["name"], e["eventType"]) for e in events] == [
        ("plot.py", "FAIL"),
        ("still_running.py", "START"),
    ]


def test_cli_lineage_export_without_a_target_says_where_events_can_go(
    instance: ln.Instance, capsys: pytest.CaptureFixture[str]
):
    assert main(["lineage", "export", "--storage", instance.storage_root]) == 2
    assert "--to events.jsonl` and/or --url http://localhost:5000" in capsys.readouterr().err


def test_cli_lineage_export_refuses_a_since_that_is_no_date(
    instance: ln.Instance, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    with pytest.raises(SystemExit):
        main(["lineage", "export", "--since", "last week", "--to", str(tmp_path / "x.jsonl")])
    assert "--since 'last week' is not a date or date-time" in capsys.readouterr().err


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    yield from serve()


def test_export_posts_the_events_to_an_http_receiver(
    pipeline: dict[str, ln.Artifact], receiver: Receiver, tmp_path: Path
):
    assert export_events(url=receiver.url, to=tmp_path / "events.jsonl") == 5
    paths = {path for path, _ in receiver.received}
    assert paths == {"/api/v1/lineage"}
    posted = [event for _, event in receiver.received]
    assert_valid(posted)
    assert posted == read_lines(tmp_path / "events.jsonl")


def test_export_posts_to_the_path_a_url_names(pipeline: dict[str, ln.Artifact], receiver: Receiver):
    export_events(url=f"{receiver.url}/custom/lineage")
    assert {path for path, _ in receiver.received} == {"/custom/lineage"}


def test_export_to_a_receiver_that_refuses_is_a_storage_error(pipeline: dict[str, ln.Artifact]):
    server = Receiver(status=500)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with pytest.raises(StorageError, match=r"Cannot send OpenLineage events to http://127"):
            export_events(url=server.url)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, r"Say where OpenLineage events go"),
        ({"url": "ftp://example/lineage"}, r"'ftp://example/lineage' is not an http\(s\) URL"),
    ],
)
def test_export_needs_a_file_or_an_http_url(instance: ln.Instance, kwargs: Any, message: str):
    with pytest.raises(ValidationError, match=message):
        export_events(**kwargs)


def test_export_without_the_openlineage_client_says_how_to_install_it(
    pipeline: dict[str, ln.Artifact], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setitem(sys.modules, "openlineage.client", None)
    with pytest.raises(ImportError, match=r"pip install 'lamin-core\[lineage\]'"):
        export_events(to=tmp_path / "events.jsonl")


def test_import_lamin_core_does_not_import_the_openlineage_client():
    code = "import sys, lamin_core; print(any(m.startswith('openlineage') for m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr


def test_cli_lineage_export_posts_to_a_url(
    pipeline: dict[str, ln.Artifact],
    instance: ln.Instance,
    db_url: str | None,
    receiver: Receiver,
    capsys: pytest.CaptureFixture[str],
):
    catalog = ["--storage", instance.storage_root, *(["--db", db_url] if db_url else [])]
    assert main(["lineage", "export", "--url", receiver.url, *catalog]) == 0
    posted = [event for _, event in receiver.received]
    assert_valid(posted)
    assert len(posted) == 5
    assert f"exported 5 OpenLineage events to {receiver.url}" in capsys.readouterr().out
