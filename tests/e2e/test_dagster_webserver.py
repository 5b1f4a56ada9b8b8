"""End to end: the example pipelines in a dagster-webserver, read through GraphQL and a browser.

One webserver (with its own DAGSTER_HOME and catalog in a temp folder) serves the module: the
seed-guide job and the failing-validation job are launched through GraphQL `launchRun`, then
the materialization metadata, asset check results and dependency edges are read back through
GraphQL, and the asset page is rendered in headless Chromium. The server is stopped afterwards.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import free_port, unavailable

ROOT = Path(__file__).resolve().parents[2]
WEBSERVER = Path(sys.executable).with_name("dagster-webserver")
LOCATION = "lamin_examples"
DATASET1 = ["example_datasets", "dataset1"]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SERVER_START_TIMEOUT = 180
RUN_TIMEOUT = 240

pytestmark = pytest.mark.slow

DAGSTER_YAML = """\
run_coordinator:
  module: dagster._core.run_coordinator
  class: DefaultRunCoordinator
telemetry:
  enabled: false
nux:
  enabled: false
"""

METADATA_FRAGMENT = """
fragment Entry on MetadataEntry {
  __typename label
  ... on TextMetadataEntry { text }
  ... on IntMetadataEntry { intValue }
  ... on PathMetadataEntry { path }
  ... on MarkdownMetadataEntry { mdStr }
  ... on TableSchemaMetadataEntry { schema { columns { name type } } }
}
"""


class Webserver:
    """A running dagster-webserver and a small GraphQL client for it."""

    def __init__(self, url: str, process: subprocess.Popen[bytes], log: Path) -> None:
        self.url = url
        self.process = process
        self.log = log

    def query(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run a GraphQL query and return its data (fail on GraphQL errors)."""
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(
            f"{self.url}/graphql", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            payload = json.loads(response.read())
        assert "errors" not in payload, payload["errors"]
        return payload["data"]

    def launch(self, job: str) -> str:
        """Launch a job of the example location; return the run id."""
        data = self.query(
            """
            mutation Launch($params: ExecutionParams!) {
              launchRun(executionParams: $params) {
                __typename
                ... on LaunchRunSuccess { run { runId } }
                ... on PythonError { message }
                ... on InvalidSubsetError { message }
                ... on RunConfigValidationInvalid { errors { message } }
              }
            }
            """,
            {
                "params": {
                    "selector": {
                        "repositoryLocationName": LOCATION,
                        "repositoryName": "__repository__",
                        "jobName": job,
                    },
                    "runConfigData": {},
                }
            },
        )
        result = data["launchRun"]
        assert result["__typename"] == "LaunchRunSuccess", result
        return str(result["run"]["runId"])

    def wait_for_run(self, run_id: str) -> str:
        """Wait until a run has finished; return its status."""
        deadline = time.monotonic() + RUN_TIMEOUT
        while time.monotonic() < deadline:
            data = self.query(
                "query Run($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }",
                {"id": run_id},
            )
            status = data["runOrError"]["status"]
            if status in ("SUCCESS", "FAILURE", "CANCELED"):
                return str(status)
            time.sleep(1)
        raise AssertionError(f"run {run_id} did not finish in {RUN_TIMEOUT}s; log: {self.log}")


def _wait_until_loaded(server: Webserver) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    last_error: object = None
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError(f"dagster-webserver exited: {server.log.read_text()[-3000:]}")
        try:
            data = server.query(
                """
                { workspaceOrError { ... on Workspace { locationEntries {
                    name loadStatus
                    locationOrLoadError { __typename ... on PythonError { message } }
                } } } }
                """
            )
            entries = data["workspaceOrError"]["locationEntries"]
            if entries and all(entry["loadStatus"] == "LOADED" for entry in entries):
                errors = [
                    e
                    for e in entries
                    if e["locationOrLoadError"]["__typename"] != "RepositoryLocation"
                ]
                assert not errors, errors
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
            last_error = error
        time.sleep(1)
    raise AssertionError(f"dagster-webserver not ready in {SERVER_START_TIMEOUT}s: {last_error}")


@pytest.fixture(scope="module")
def webserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Webserver]:
    """Start dagster-webserver on the example workspace; stop it (and its children) afterwards."""
    if not WEBSERVER.exists():
        unavailable(f"dagster-webserver is not installed next to {sys.executable}")
    folder = tmp_path_factory.mktemp("webserver")
    dagster_home = folder / "dagster-home"
    dagster_home.mkdir()
    (dagster_home / "dagster.yaml").write_text(DAGSTER_YAML)
    env = {
        **os.environ,
        "DAGSTER_HOME": str(dagster_home),
        "LAMIN_CORE_HOME": str(folder / "lamin-home"),
        "LAMIN_DAGSTER_STORAGE": str(folder / "catalog"),
        "PYTHONPATH": str(ROOT),
    }
    env.pop("LAMIN_DAGSTER_DB", None)
    port = free_port()
    log = folder / "webserver.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                str(WEBSERVER),
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-w",
                str(ROOT / "workspace.yaml"),
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so stopping it stops the code server
        )
    server = Webserver(f"http://127.0.0.1:{port}", process, log)
    try:
        _wait_until_loaded(server)
        server.seed_run = server.launch("seed_guide")  # type: ignore[attr-defined]
        server.seed_status = server.wait_for_run(server.seed_run)  # type: ignore[attr-defined]
        server.failing_run = server.launch("failing_validation")  # type: ignore[attr-defined]
        server.failing_status = server.wait_for_run(server.failing_run)  # type: ignore[attr-defined]
        yield server
    finally:
        _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def _entries(entries: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {entry["label"]: entry for entry in entries}


def test_runs_launched_through_graphql_finish_as_expected(webserver: Webserver) -> None:
    assert webserver.seed_status == "SUCCESS", webserver.log  # type: ignore[attr-defined]
    assert webserver.failing_status == "FAILURE"  # type: ignore[attr-defined]


def test_materialization_metadata_shows_the_catalog_artifact(webserver: Webserver) -> None:
    data = webserver.query(
        """
        query Asset($key: AssetKeyInput!) {
          assetOrError(assetKey: $key) { ... on Asset {
            assetMaterializations(limit: 1) { runId metadataEntries { ...Entry } }
          } }
        }
        """
        + METADATA_FRAGMENT,
        {"key": {"path": DATASET1}},
    )

    (materialization,) = data["assetOrError"]["assetMaterializations"]
    assert materialization["runId"] == webserver.seed_run  # type: ignore[attr-defined]
    entries = _entries(materialization["metadataEntries"])
    assert len(entries["lamin/uid"]["text"]) == 20
    assert entries["lamin/version"]["text"] == "1"
    assert entries["dagster/row_count"]["intValue"] == 3
    columns = [c["name"] for c in entries["dagster/column_schema"]["schema"]["columns"]]
    assert columns == ["cell_medium", "sample_note", "cell_type_by_expert", "cell_type_by_model"]
    assert entries["lamin/path"]["path"].endswith(".h5ad")
    assert "| feature | temperature | 21.6 |" in entries["lamin/annotations"]["mdStr"]


def test_asset_check_results_are_reported(webserver: Webserver) -> None:
    query = (
        """
        query Checks($key: AssetKeyInput!) {
          assetCheckExecutions(assetKey: $key, checkName: "lamin_validation", limit: 1) {
            runId status evaluation { success metadataEntries { ...Entry } }
          }
        }
    """
        + METADATA_FRAGMENT
    )

    (passed,) = webserver.query(query, {"key": {"path": DATASET1}})["assetCheckExecutions"]
    (failed,) = webserver.query(
        query, {"key": {"path": ["example_datasets", "dataset_with_typos"]}}
    )["assetCheckExecutions"]

    assert (passed["status"], passed["evaluation"]["success"]) == ("SUCCEEDED", True)
    assert (failed["status"], failed["evaluation"]["success"]) == ("FAILED", False)
    assert failed["runId"] == webserver.failing_run  # type: ignore[attr-defined]
    bad = _entries(failed["evaluation"]["metadataEntries"])["cell_type_by_model"]["text"]
    assert sorted(bad.split(", ")) == ["B cells", "Tcell"]


def test_dependency_edges_are_in_the_asset_graph(webserver: Webserver) -> None:
    data = webserver.query("{ assetNodes { assetKey { path } dependencyKeys { path } } }")

    edges = {
        "/".join(node["assetKey"]["path"]): sorted(
            "/".join(d["path"]) for d in node["dependencyKeys"]
        )
        for node in data["assetNodes"]
    }
    assert edges["example_datasets/cell_type_summary"] == [
        "example_datasets/dataset1",
        "example_datasets/dataset2",
    ]
    assert edges["example_datasets/dataset1"] == ["permissible_values"]
    assert edges["example_datasets/typo_summary"] == ["example_datasets/dataset_with_typos"]


def test_the_asset_page_renders_the_lamin_metadata_in_a_browser(
    webserver: Webserver, tmp_path: Path
) -> None:
    if CHROMIUM is None:
        unavailable("headless chromium is not installed (apt-get install chromium)")
    url = f"{webserver.url}/assets/{'/'.join(DATASET1)}"
    common = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--no-first-run",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--window-size=1600,2400",
        "--virtual-time-budget=30000",
    ]

    def chromium(*args: str) -> subprocess.CompletedProcess[str]:
        profile = tmp_path / f"profile-{len(list(tmp_path.iterdir()))}"
        return subprocess.run(
            [*common, f"--user-data-dir={profile}", *args, url],
            capture_output=True,
            text=True,
            timeout=180,
        )

    dom = chromium("--dump-dom")
    screenshot = tmp_path / "dataset1.png"
    shot = chromium(f"--screenshot={screenshot}")

    assert dom.returncode == 0, dom.stderr[-2000:]
    # dagster/row_count and dagster/column_schema are shown as "Row count" and "Columns"
    for text in ("lamin/uid", "lamin/version", "lamin/hash", "Row count", "cell_type_by_model"):
        assert text in dom.stdout, f"{text} not on the asset page"
    assert "Candidate marker study 1" in dom.stdout  # the feature table (lamin/annotations)
    assert shot.returncode == 0, shot.stderr[-2000:]
    assert screenshot.stat().st_size > 10_000
