"""`make bench-quick`: both sides run every quick workload and the report files are written.

The LaminDB side runs in its own venv (`benchmarks/.venv-lamindb`, ~2 min to install). In CI
(``CI=true``) a missing venv is created with `benchmarks/lamindb_setup.sh` (pip from PyPI);
elsewhere the test skips and says how to create it. The quick run itself takes 2-4 minutes on
2 cores, so the test is marked slow. Timings are not asserted (benchmarks measure, tests check):
what is checked is that the run completes, the two sides agree on every check, and the report
parses.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import data, plans
from tests.conftest import IN_CI, shared_data, unavailable

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "benchmarks"
LAMINDB_PYTHON = BENCH / ".venv-lamindb" / "bin" / "python"
SETUP_TIMEOUT_S = 1200
RUN_TIMEOUT_S = 1200
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _lamindb_venv() -> None:
    """Make sure the LaminDB venv exists: install it in CI, skip (with the fix) elsewhere."""
    if LAMINDB_PYTHON.exists():
        return
    if not IN_CI:
        unavailable(
            f"the LaminDB venv {LAMINDB_PYTHON} is missing; create it once with "
            "`bash benchmarks/lamindb_setup.sh` (~2 min, pip from PyPI)"
        )
    try:
        subprocess.run(
            ["bash", str(BENCH / "lamindb_setup.sh")],
            check=True,
            capture_output=True,
            text=True,
            timeout=SETUP_TIMEOUT_S,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
        output = getattr(error, "stderr", "") or ""
        unavailable(f"benchmarks/lamindb_setup.sh failed: {error}\n{output[-2000:]}")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess]:
    """Run `python -m benchmarks.run --quick` once; return its output folder and process."""
    if "LAMIN_BENCH_DATA" in os.environ:
        if not data.DATA_DIR.exists():
            unavailable(f"LAMIN_BENCH_DATA names {data.DATA_DIR}, which is missing")
        data_dir = data.DATA_DIR
    else:
        data_dir = shared_data()
    _lamindb_venv()
    out = tmp_path_factory.mktemp("bench-out")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAMIN_CORE")}
    env["LAMIN_BENCH_DATA"] = str(data_dir)
    work = tmp_path_factory.mktemp("bench-work")
    command = ["-m", "benchmarks.run", "--quick", "--out", str(out), "--workdir", str(work)]
    proc = subprocess.run(
        [sys.executable, *command],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
    )
    return out, proc


def _planned() -> list[plans.Case]:
    return [case for case in plans.QUICK if not case.missing()]


@pytest.mark.slow
def test_bench_quick_runs_every_workload_on_both_sides(quick_run):
    out, proc = quick_run
    report = json.loads((out / "latest.json").read_text())

    failed = {f"{r['workload']}/{r['side']}": r["error"] for r in report["results"] if "error" in r}
    assert not failed, f"sides failed: {failed}\n{proc.stderr[-3000:]}"
    ran = {(r["workload"], r["size"], r["db"], r["side"]) for r in report["results"]}
    for case in _planned():
        assert (case.workload, case.size, case.db, plans.OURS) in ran
        if case.spec.reference is not None:
            assert (case.workload, case.size, case.db, case.spec.reference) in ran
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.mark.slow
def test_bench_quick_sides_agree_on_every_check(quick_run):
    out, _ = quick_run
    report = json.loads((out / "latest.json").read_text())
    by_side = {(r["workload"], r["db"], r["side"]): r for r in report["results"]}

    for row in report["comparison"]:
        reference = plans.SPECS[row["workload"]].reference
        if reference is None:
            assert row["check"] == "ours only"
            continue
        ours = by_side[(row["workload"], row["db"], plans.OURS)]["check"]
        theirs = by_side[(row["workload"], row["db"], reference)]["check"]
        where = f"{row['workload']} on {row['db']}"
        assert row["check"] == "match", f"{where}: ours {ours} vs {reference} {theirs}"
        assert ours == theirs and ours  # an empty check would agree vacuously


@pytest.mark.slow
def test_bench_quick_writes_a_readable_report(quick_run):
    out, _ = quick_run
    markdown = (out / "latest.md").read_text()
    report = json.loads((out / "latest.json").read_text())

    lines = markdown.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("| workload | size |"))
    table = []
    for line in lines[header + 2 :]:  # after the header and its |---| line
        if not line.startswith("|"):
            break
        table.append([cell.strip() for cell in line.strip("|").split("|")])
    assert [cells[0] for cells in table] == [case.workload for case in _planned()]
    assert all(len(cells) == len(lines[header].strip("|").split("|")) for cells in table)
    assert report["meta"]["machine"]["cores"] == os.cpu_count()
    assert report["meta"]["mode"] == "quick"
    assert all(row["speedup"] > 0 for row in report["comparison"] if row["speedup"] is not None)
    assert (out / "ratios.png").read_bytes().startswith(PNG_SIGNATURE)
    assert not (out / "scaling.png").exists()  # the scaling plot needs the full run's sizes


@pytest.mark.slow
def test_bench_quick_checks_match_what_the_data_implies(quick_run):
    out, _ = quick_run
    report = json.loads((out / "latest.json").read_text())
    for db in ("sqlite", "postgresql"):
        ours = {
            r["workload"]: r for r in report["results"] if r["side"] == plans.OURS and r["db"] == db
        }
        if ours:
            _check_ours(ours)


def _check_ours(ours: dict[str, dict]) -> None:
    register = ours["register_df"]
    saved = register["size"] * (1 + len(register["times_s"]))  # warm-up + timed repeats
    assert register["check"] == {"artifacts": saved}
    query = ours["query_df"]
    assert query["check"] == {
        "filter_rows": data.expected_filter_counts(query["size"]),
        "include_rows": query["size"],
        "include_label_links": data.LABELS_PER_ARTIFACT * query["size"],
    }
    assert ours["validate"]["check"] == ours["validate"]["notes"]["expected_non_validated"]
    assert ours["lookup"]["check"]["records"] == ours["lookup"]["size"]


@pytest.mark.slow
def test_a_workload_run_again_replaces_its_rows_in_the_report(quick_run, tmp_path: Path):
    from benchmarks import report

    out, _ = quick_run
    merged = tmp_path / "merged"
    merged.mkdir()
    (merged / "latest.json").write_text((out / "latest.json").read_text())
    again = tmp_path / "again"
    command = ["-m", "benchmarks.run", "--quick", "--workloads", "hash_file", "--repeat", "2"]
    proc = subprocess.run(
        [sys.executable, *command, "--out", str(again), "--workdir", str(tmp_path / "work")],
        cwd=REPO,
        env={**os.environ, "LAMIN_BENCH_DATA": str(data.DATA_DIR)},
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]

    report.merge(merged, again)

    before = json.loads((out / "latest.json").read_text())
    after = json.loads((merged / "latest.json").read_text())
    rerun = json.loads((again / "latest.json").read_text())
    assert [(r["workload"], r["db"]) for r in after["comparison"]] == [
        (r["workload"], r["db"]) for r in before["comparison"]
    ]  # same rows, in the plan's order
    hashed = [r for r in after["results"] if r["workload"] == "hash_file"]
    assert hashed == rerun["results"]  # both sides' figures are the second run's
    assert all(len(r["times_s"]) == 2 for r in hashed)
    others = [r for r in after["results"] if r["workload"] != "hash_file"]
    assert others == [r for r in before["results"] if r["workload"] != "hash_file"]
    markdown = (merged / "latest.md").read_text()
    assert f"- hash_file: from the run of {rerun['meta']['date']}" in markdown
