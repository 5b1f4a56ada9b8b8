"""Run the benchmark workloads on lamin_core and on LaminDB (or a reference tool), alternately.

Each side runs in its own interpreter (LaminDB in `benchmarks/.venv-lamindb`, lamin_core and the
reference tools in the project's `.venv`), one process per side and case, so the two never share
imports, caches or a database. Both processes set up at the same time (untimed), then the runner
asks them for one repeat at a time, alternately: warm-up A, warm-up B, repeat 1 A, repeat 1 B,
... so that whatever else the machine does hits both sides alike (protocol in `harness.py`).

    python -m benchmarks.run --quick              # CI-sized, < 3 min; writes results/quick/
    python -m benchmarks.run --full               # the sizes the issues name; writes results/
    python -m benchmarks.run --quick --workloads search,lookup --out /tmp/bench
    python -m benchmarks.run --quick --db postgresql  # both sides on the PostgreSQL server

Writes `latest.json` (every result and the comparison), `latest.md` (tables), `ratios.png` and,
with --full, `scaling.png`; per-process logs go to `logs/`. Exits 1 when a side failed or the
two sides disagree on a check. A side whose interpreter is missing (no LaminDB venv) is reported
as skipped and fails the run, so a missing side is never mistaken for a result.
"""

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any

from benchmarks import data, plans, report, search_quality

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SETUP_TIMEOUT_S = 3600.0  # the million-row setups take minutes on LaminDB
FINISH_TIMEOUT_S = 600.0  # `check` may load every record (lookup)


@dataclass(frozen=True)
class Side:
    """How to start one side: its interpreter and script."""

    name: str
    python: Path
    script: Path

    def missing(self) -> str | None:
        """Return why this side cannot run, or None."""
        if not self.python.exists():
            hint = " (run: bash benchmarks/lamindb_setup.sh)" if self.name == "lamindb" else ""
            return f"interpreter {self.python} not found{hint}"
        if not self.script.exists():
            return f"script {self.script} not found"
        return None


_OUR_PYTHON = REPO / ".venv" / "bin" / "python"
OUR_PYTHON = _OUR_PYTHON if _OUR_PYTHON.exists() else Path(sys.executable)
SIDES = {
    "lamindb": Side("lamindb", HERE / ".venv-lamindb" / "bin" / "python", HERE / "lamindb_side.py"),
    "lamin_core": Side("lamin_core", OUR_PYTHON, HERE / "lamin_core_side.py"),
    "reference": Side("reference", OUR_PYTHON, HERE / "reference_side.py"),
}


class SideProcess:
    """One side's process in `--serve` mode: send requests, receive JSON lines with a timeout."""

    def __init__(self, side: Side, case: plans.Case, workdir: Path, log: Path) -> None:
        cmd = [str(side.python), str(side.script), case.workload, "--size", str(case.size)]
        cmd += ["--repeat", str(case.repeat), "--workdir", str(workdir), "--serve"]
        for name, value in case.params.items():
            cmd += ["--param", f"{name}={value}"]
        self.name = side.name
        self._log: IO[str] = log.open("w")
        self._proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            cwd=REPO,
            bufsize=1,
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.log = log

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            if line.strip():
                self._lines.put(line)
        self._lines.put(None)

    def send(self, request: dict[str, Any]) -> None:
        """Send one request line (ignored when the process is gone)."""
        assert self._proc.stdin is not None
        with contextlib.suppress(BrokenPipeError, OSError):
            self._proc.stdin.write(json.dumps(request) + "\n")
            self._proc.stdin.flush()

    def receive(self, timeout: float) -> dict[str, Any]:
        """Return the next JSON line; an error result when the process ended without one.

        Raises:
            TimeoutError: nothing arrived within `timeout` seconds.
        """
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError from None
        if line is None:
            code = self._proc.wait()
            error = f"exit code {code} without a result; see {self.log}"
            return {"event": "result", "error": error}
        try:
            return json.loads(line)
        except json.JSONDecodeError:
            return {"event": "result", "error": f"not a JSON line: {line[:200]!r}; see {self.log}"}

    def stop(self) -> None:
        """Kill the process if it still runs, and close its log."""
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
        self._log.close()


def run_case(
    case: plans.Case, sides: list[str], workdir: Path, logs: Path, timeout: float
) -> list[dict[str, Any]]:
    """Run both sides of one case alternately; return their results (reference side first)."""
    order = [name for name in (case.spec.reference, plans.OURS) if name in sides]
    base = {"workload": case.workload, "size": case.size, "db": case.db}
    results: dict[str, dict[str, Any]] = {}
    procs: dict[str, SideProcess] = {}
    for name in order:
        if reason := SIDES[name].missing():
            results[name] = base | {"side": name, "error": f"skipped: {reason}", "skipped": True}
            continue
        log = logs / f"{name}-{case.workload}-{case.size}-{case.db}.log"
        procs[name] = SideProcess(SIDES[name], case, workdir, log)
    times: dict[str, list[float]] = {name: [] for name in procs}
    capped: dict[str, str] = {}

    def finish(name: str, event: dict[str, Any]) -> None:
        event.pop("event", None)
        results[name] = {"side": name, **base, **event}
        if times[name] and "error" in event:
            results[name]["times_s"] = times[name]  # what was measured before it failed
        procs.pop(name).stop()

    for name, proc in list(procs.items()):
        try:
            event = proc.receive(SETUP_TIMEOUT_S)
        except TimeoutError:
            event = {"error": f"setup took longer than {SETUP_TIMEOUT_S:.0f} s; stopped"}
        if event.get("event") != "ready":
            finish(name, event)
        else:
            _progress(f"     {name} ready after {event['setup_s']:.1f} s setup")
    for index in range(case.repeat + 1):
        for name in order:
            if name not in procs or name in capped:
                continue
            procs[name].send({"op": "run", "index": index})
            try:
                event = procs[name].receive(timeout)
            except TimeoutError:
                finish(name, {"error": f"repeat {index} took longer than {timeout:.0f} s; stopped"})
                continue
            if event.get("event") != "done":
                finish(name, event)
                continue
            if index > 0:
                times[name].append(event["wall_s"])
            is_reference = name == case.spec.reference
            if is_reference and index < case.repeat and (reason := _cap(case, times[name])):
                capped[name] = reason
    for name, proc in list(procs.items()):
        proc.send({"op": "finish"})
        try:
            event = proc.receive(FINISH_TIMEOUT_S)
        except TimeoutError:
            event = {"error": f"no result {FINISH_TIMEOUT_S:.0f} s after the last repeat"}
        finish(name, event)
        if name in capped:
            results[name]["capped"] = capped[name]
    return [results[name] for name in order]


def _cap(case: plans.Case, times: list[float]) -> str | None:
    """Return why the reference side stops early (after `times`), or None to go on."""
    if not times:
        return None
    if case.cap_repeat is not None and len(times) >= case.cap_repeat:
        return f"{len(times)} of {case.repeat} repeats (capped at {case.cap_repeat})"
    if case.cap_s is not None and sum(times) >= case.cap_s:
        return f"{len(times)} of {case.repeat} repeats (time budget {case.cap_s:.0f} s spent)"
    return None


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def machine() -> dict[str, Any]:
    """Describe the machine: cores, memory, CPU, OS, load."""
    info: dict[str, Any] = {
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "runner_python": platform.python_version(),
    }
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                info["memory_gib"] = round(int(line.split()[1]) / 2**20, 1)
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    with contextlib.suppress(OSError):
        info["load_average"] = [round(x, 2) for x in os.getloadavg()]
    return info


def revision() -> str:
    """Return the code measured: the git commit, and whether files differ from it.

    A run from a copy of the tree (no .git) takes it from `LAMIN_BENCH_REVISION`.
    """
    if "LAMIN_BENCH_REVISION" in os.environ:
        return os.environ["LAMIN_BENCH_REVISION"]
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return commit + (" with uncommitted changes" if changed.strip() else "")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the runner's command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="small sizes (default)")
    mode.add_argument("--full", action="store_true", help="the sizes the issues name (~45 min)")
    parser.add_argument("--workloads", help=f"subset of {','.join(plans.WORKLOADS)}")
    parser.add_argument("--sizes", help="comma-separated sizes replacing the plan's")
    parser.add_argument("--repeat", type=int, help="timed repeats replacing the plan's")
    parser.add_argument("--sides", default=",".join(SIDES), help="comma-separated sides to run")
    parser.add_argument("--out", type=Path, help="default: results/ (full) or results/quick/")
    parser.add_argument("--workdir", type=Path, help="default: a temporary directory, removed")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per repeat")
    parser.add_argument(
        "--db",
        choices=("sqlite", "postgresql", "both"),
        help="where both sides' catalogs live; default: sqlite (quick), both (full). LaminDB "
        "takes 1-3 min to set up each PostgreSQL catalog",
    )
    args = parser.parse_args(argv)
    args.mode = "full" if args.full else "quick"
    cases = list(plans.FULL if args.full else plans.QUICK)
    if not args.full:
        cases += plans.POSTGRES_QUICK
    db = args.db or ("both" if args.full else "sqlite")
    if db != "both":
        cases = [case for case in cases if case.db == db]
    # search_quality runs on its own (benchmarks/search_quality.py): one table, not cases
    args.search_quality = args.full and not args.workloads
    if args.workloads:
        wanted = [w for w in args.workloads.split(",") if w]
        args.search_quality = "search_quality" in wanted
        wanted = [w for w in wanted if w != "search_quality"]
        choices = (*plans.WORKLOADS, "search_quality")
        if unknown := set(wanted) - set(plans.WORKLOADS):
            parser.error(f"unknown workload(s) {sorted(unknown)}; choose from {choices}")
        cases = [case for case in cases if case.workload in wanted]
    if args.sizes:
        sizes = [int(s) for s in args.sizes.split(",") if s]
        firsts: dict[str, plans.Case] = {}
        for case in cases:
            firsts.setdefault(case.workload, case)
        cases = [replace(case, size=n) for case in firsts.values() for n in sizes]
    if args.repeat:
        cases = [replace(case, repeat=args.repeat) for case in cases]
    args.cases = cases
    args.sides = [s for s in args.sides.split(",") if s]
    if unknown := set(args.sides) - set(SIDES):
        parser.error(f"unknown side(s) {sorted(unknown)}; choose from {sorted(SIDES)}")
    if args.out is None:
        args.out = HERE / "results" if args.full else HERE / "results" / "quick"
    return args


def main(argv: list[str] | None = None) -> int:
    """Run every case and write the report; return 1 if a side failed or a check differs."""
    args = parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="lamin-bench-"))
    logs = args.out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    started = dt.datetime.now(dt.timezone.utc)
    command = ["python -m benchmarks.run", *(sys.argv[1:] if argv is None else argv)]
    meta = {
        "date": started.isoformat(timespec="seconds"),
        "mode": args.mode,
        "command": " ".join(command),
        "revision": revision(),
        "machine": machine(),
    }
    results: list[dict[str, Any]] = []
    cases = [case for case in args.cases if not case.missing()]
    meta["not_run"] = [
        f"{case.workload} size {case.size:,}: {case.missing()}"
        for case in args.cases
        if case.missing()
    ]
    for case in cases:
        if case.workload == "search_taxon":  # parse the snapshot once, not in both sides
            data.taxon_subset(case.size)
    try:
        for number, case in enumerate(cases, start=1):
            _progress(f"[{number}/{len(cases)}] {case.workload} size={case.size} db={case.db}")
            for result in run_case(case, args.sides, workdir, logs, args.timeout):
                results.append(result)
                summary = result.get("error") or f"median {result['median_s']:.4f} s"
                _progress(f"     {result['side']}: {summary}")
            for path in workdir.glob(f"*-{case.workload}-{case.size}"):
                shutil.rmtree(path, ignore_errors=True)  # catalogs of a million rows add up
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    stale = args.out / "search_quality.md"
    if not args.search_quality and stale.exists():
        stale.unlink()  # from an earlier run: latest.md shows this run only
    if args.search_quality:
        _progress("[search_quality] seeded typos of five vocabularies")
        vocabularies = search_quality.VOCABULARIES if args.mode == "full" else ("CL", "genes")
        sides = [] if "lamindb" in args.sides else ["--no-lamindb"]
        code = search_quality.main(
            ["--out", str(args.out), "--vocabularies", ",".join(vocabularies), *sides]
        )
        if code:
            results.append({"workload": "search_quality", "side": plans.OURS, "error": code})
    meta["duration_s"] = round((dt.datetime.now(dt.timezone.utc) - started).total_seconds(), 1)
    meta["machine"]["load_average_end"] = machine().get("load_average")
    rows = report.compare(cases, results)
    report.write(args.out, meta, results, rows, scaling=args.mode == "full")
    _progress((args.out / "latest.md").read_text())
    failed = [r for r in results if r.get("error")] + [r for r in rows if r["check"] == "MISMATCH"]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
