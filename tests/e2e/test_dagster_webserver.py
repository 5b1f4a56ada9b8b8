"""End to end: `make demo`, then the Dagster UI on its catalog, read through GraphQL and a browser.

The demo runs once, as `make demo` runs it, into a temp folder: its catalog and the Dagster home
it records its runs in (``<catalog>/.dagster``). A dagster-webserver then serves the example
workspace with that home, as `make dagster-ui` does: the demo's runs, materialization metadata,
asset check results (with the curator's suggestions) and dependency edges are read back through
GraphQL, with the catalog's tags and kinds and the notebook step's external asset between the
two pipelines; a run launched through GraphQL `launchRun` joins them, and the asset page and the
lineage graph are rendered in headless Chromium (saved to the paths in ``LAMIN_SCREENSHOT`` and
``LAMIN_LINEAGE_SCREENSHOT`` when set). The server is stopped afterwards.
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
from dataclasses import dataclass
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

DEMO_TIMEOUT = 600
ANNOUNCEMENT = "Next: the job 'failing_validation' is meant to fail."

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


@dataclass
class Demo:
    """What `make demo` left: its output, its catalog and the Dagster home of the catalog."""

    output: str
    storage: Path
    dagster_home: Path


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    """Run the demo as `make demo` does, into a temp folder (with its own settings folder)."""
    folder = tmp_path_factory.mktemp("demo")
    storage = folder / "demo-catalog"
    env = {**os.environ, "LAMIN_CORE_HOME": str(folder / "lamin-home"), "PYTHONPATH": str(ROOT)}
    for name in ("DAGSTER_HOME", "LAMIN_DAGSTER_DB", "LAMIN_DAGSTER_STORAGE"):
        env.pop(name, None)

    result = subprocess.run(
        [sys.executable, "-m", "example_pipelines.demo", "--storage", str(storage)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=DEMO_TIMEOUT,
    )

    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    return Demo(output=output, storage=storage, dagster_home=storage / ".dagster")


@pytest.fixture(scope="module")
def webserver(demo: Demo) -> Iterator[Webserver]:
    """Start dagster-webserver on the demo's catalog and Dagster home; stop it afterwards."""
    if not WEBSERVER.exists():
        unavailable(f"dagster-webserver is not installed next to {sys.executable}")
    folder = demo.storage.parent
    env = {
        **os.environ,
        "DAGSTER_HOME": str(demo.dagster_home),
        "LAMIN_CORE_HOME": str(folder / "lamin-home"),
        "LAMIN_DAGSTER_STORAGE": str(demo.storage),
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


RUNS_QUERY = """
{ runsOrError { ... on Runs { results { runId jobName status } } } }
"""
CHECKS_QUERY = (
    """
    query Checks($key: AssetKeyInput!) {
      assetCheckExecutions(assetKey: $key, checkName: "lamin_validation", limit: 5) {
        runId status evaluation { success metadataEntries { ...Entry } }
      }
    }
    """
    + METADATA_FRAGMENT
)
MATERIALIZATIONS_QUERY = (
    """
    query Asset($key: AssetKeyInput!) {
      assetOrError(assetKey: $key) { ... on Asset {
        assetMaterializations(limit: 5) { runId metadataEntries { ...Entry } }
      } }
    }
    """
    + METADATA_FRAGMENT
)


def _demo_runs(webserver: Webserver) -> dict[str, dict[str, str]]:
    runs = webserver.query(RUNS_QUERY)["runsOrError"]["results"]
    return {run["jobName"]: run for run in reversed(runs)}  # the oldest run of each job


def test_the_demo_output_is_quiet_and_announces_the_job_meant_to_fail(demo: Demo) -> None:
    lines = demo.output.splitlines()

    assert [line for line in lines if "DEBUG" in line] == []
    assert "Traceback" not in demo.output and "Stack Trace" not in demo.output
    announcement = next(i for i, line in enumerate(lines) if ANNOUNCEMENT in line)
    curator_verdict = next(i for i, line in enumerate(lines) if "✗" in line)
    assert announcement < curator_verdict  # said before the failing job runs
    assert "Dagster UI" in demo.output and str(demo.dagster_home) in demo.output
    assert "'B cells' (did you mean 'B cell'" in demo.output


def test_the_demos_runs_are_in_the_ui(webserver: Webserver) -> None:
    runs = _demo_runs(webserver)

    assert runs["seed_guide"]["status"] == "SUCCESS"
    assert runs["failing_validation"]["status"] == "FAILURE"


def test_the_demos_materializations_show_the_catalog_artifact(webserver: Webserver) -> None:
    data = webserver.query(MATERIALIZATIONS_QUERY, {"key": {"path": DATASET1}})

    materializations = data["assetOrError"]["assetMaterializations"]
    assert [m["runId"] for m in materializations][-1] == _demo_runs(webserver)["seed_guide"][
        "runId"
    ]
    entries = _entries(materializations[-1]["metadataEntries"])
    assert len(entries["lamin/uid"]["text"]) == 20
    assert entries["lamin/version"]["text"] == "1"
    assert entries["dagster/row_count"]["intValue"] == 3
    columns = [c["name"] for c in entries["dagster/column_schema"]["schema"]["columns"]]
    assert columns == ["cell_medium", "sample_note", "cell_type_by_expert", "cell_type_by_model"]
    assert entries["lamin/path"]["path"].endswith(".h5ad")
    assert "| feature | temperature | 21.6 |" in entries["lamin/annotations"]["mdStr"]


def test_the_demos_check_results_show_with_the_curators_suggestions(webserver: Webserver) -> None:
    runs = _demo_runs(webserver)

    passed = webserver.query(CHECKS_QUERY, {"key": {"path": DATASET1}})["assetCheckExecutions"]
    (failed,) = webserver.query(
        CHECKS_QUERY, {"key": {"path": ["example_datasets", "dataset_with_typos"]}}
    )["assetCheckExecutions"]

    assert (passed[-1]["status"], passed[-1]["evaluation"]["success"]) == ("SUCCEEDED", True)
    assert passed[-1]["runId"] == runs["seed_guide"]["runId"]
    assert (failed["status"], failed["evaluation"]["success"]) == ("FAILED", False)
    assert failed["runId"] == runs["failing_validation"]["runId"]
    bad = _entries(failed["evaluation"]["metadataEntries"])["cell_type_by_model"]["text"]
    assert bad.startswith("'B cells' (did you mean 'B cell'")
    assert "'Tcell' (did you mean 'T cell'" in bad


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


ASSET_NODES_QUERY = """
{ assetNodes {
    assetKey { path } kinds isExecutable tags { key value } dependencyKeys { path }
    metadataEntries { __typename label ... on TextMetadataEntry { text } }
} }
"""
SHARES = ["analysis", "cell_type_shares"]


def _nodes(webserver: Webserver) -> dict[str, dict[str, Any]]:
    nodes = webserver.query(ASSET_NODES_QUERY)["assetNodes"]
    return {"/".join(node["assetKey"]["path"]): node for node in nodes}


def _tags(node: dict[str, Any]) -> dict[str, str]:
    return {tag["key"]: tag["value"] for tag in node["tags"]}


def test_catalog_labels_and_schema_categories_are_tags_and_formats_are_kinds(
    webserver: Webserver,
) -> None:
    nodes = _nodes(webserver)

    dataset1 = nodes["example_datasets/dataset1"]
    assert set(dataset1["kinds"]) == {"lamin", "h5ad"}
    assert _tags(dataset1)["lamin_column/cell_type_by_model"] == "CellType"
    assert _tags(nodes["example_datasets/cell_type_summary"])["ULabel/derived"] == ""
    assert set(nodes["images/my_image"]["kinds"]) == {"lamin", "jpeg"}
    assert set(nodes["raw/my_fastq"]["kinds"]) == {"lamin", "fastq"}
    table_name = _entries(dataset1["metadataEntries"])["dagster/table_name"]
    assert table_name["text"] == "example_datasets.dataset1"


def test_the_notebook_step_joins_both_pipelines_in_one_graph(webserver: Webserver) -> None:
    nodes = _nodes(webserver)

    shares = nodes["/".join(SHARES)]
    assert shares["isExecutable"] is False  # made outside Dagster, by a tracked script run
    assert [d["path"] for d in shares["dependencyKeys"]] == [
        ["example_datasets", "cell_type_summary"]
    ]
    assert [d["path"] for d in nodes["reports/dominant_cell_type"]["dependencyKeys"]] == [SHARES]
    assert _tags(shares)["ULabel/cell_type_shares"] == ""
    assert set(shares["kinds"]) == {"lamin", "parquet"}
    # the notebook's version, reported as the external asset's materialization
    data = webserver.query(MATERIALIZATIONS_QUERY, {"key": {"path": SHARES}})
    (reported,) = data["assetOrError"]["assetMaterializations"]
    assert len(_entries(reported["metadataEntries"])["lamin/uid"]["text"]) == 20


def test_a_run_launched_from_the_ui_joins_the_demos_history(webserver: Webserver) -> None:
    demo_run = _demo_runs(webserver)["seed_guide"]["runId"]

    status = webserver.wait_for_run(webserver.launch("seed_guide"))

    assert status == "SUCCESS", webserver.log
    data = webserver.query(MATERIALIZATIONS_QUERY, {"key": {"path": DATASET1}})
    latest, *older = data["assetOrError"]["assetMaterializations"]
    assert older[-1]["runId"] == demo_run
    uids = {_entries(m["metadataEntries"])["lamin/uid"]["text"] for m in (latest, older[-1])}
    assert len(uids) == 1  # same content: the same artifact, not a second version


def _chromium_args() -> list[str]:
    if CHROMIUM is None:
        unavailable("headless chromium is not installed (apt-get install chromium)")
    return [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--no-first-run",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--virtual-time-budget=30000",
    ]


def test_the_lineage_graph_shows_the_notebook_step_between_the_pipelines_in_a_browser(
    webserver: Webserver, tmp_path: Path
) -> None:
    url = (
        f"{webserver.url}/assets/{'/'.join(SHARES)}"
        "?view=lineage&lineageScope=neighbors&lineageDepth=3"
    )

    def chromium(name: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*_chromium_args(), f"--user-data-dir={tmp_path / name}", *args, url],
            capture_output=True,
            text=True,
            timeout=180,
        )

    dom = chromium("dom", "--window-size=1600,1000", "--dump-dom")
    target = Path(os.environ.get("LAMIN_LINEAGE_SCREENSHOT") or tmp_path / "lineage.png")
    target.parent.mkdir(parents=True, exist_ok=True)
    shot = chromium("shot", "--window-size=1600,1000", f"--screenshot={target}")

    assert dom.returncode == 0, dom.stderr[-2000:]
    for name in ("cell_type_summary", "cell_type_shares", "dominant_cell_type", "dataset1"):
        assert name in dom.stdout, f"{name} not in the lineage graph"
    assert shot.returncode == 0, shot.stderr[-2000:]
    assert target.stat().st_size > 10_000


def test_the_asset_page_renders_the_lamin_metadata_in_a_browser(
    webserver: Webserver, tmp_path: Path
) -> None:
    url = f"{webserver.url}/assets/{'/'.join(DATASET1)}"
    common = [*_chromium_args(), "--window-size=1600,2400"]

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
    target = os.environ.get("LAMIN_SCREENSHOT")
    if target:  # the asset page as a reviewer sees it, for the change's notes
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        profile = tmp_path / "profile-note"
        saved = subprocess.run(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--no-first-run",
                f"--user-data-dir={profile}",
                "--virtual-time-budget=30000",
                f"--screenshot={target}",
                "--window-size=1400,1000",
                url,
            ],
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert saved.returncode == 0 and Path(target).stat().st_size > 10_000, saved.stderr
