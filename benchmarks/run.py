"""Run the benchmark workloads on LaminDB and on lamin_core side by side and compare them.

Each side runs in its own interpreter (LaminDB in `benchmarks/.venv-lamindb`, lamin_core in the
project's `.venv`), one process per workload and size, so the two never share imports, caches or
a database. Every process prints one JSON line (protocol in `harness.py`); this runner collects
those lines, checks that both sides produced the same `check` value, and writes

    <out>/results.json   every result line, plus the comparison
    <out>/results.md     a table for humans

Usage:

    python benchmarks/run.py --sizes 200,2000 --repeat 3
    python benchmarks/run.py --workloads search,lookup --sides lamindb

A side whose interpreter or script is missing is skipped with a note, so the runner works while
one side is still being written.
"""

import argparse
import json
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WORKLOADS = ("register_df", "search", "query_df", "lookup", "validate")
# Checks that may legitimately differ between two correct catalogs: search ranking ties.
SOFT_CHECKS = {"search"}


@dataclass(frozen=True)
class Side:
    """How to start one side: its interpreter and script."""

    name: str
    python: Path
    script: Path

    def missing(self) -> str | None:
        """Return why this side cannot run, or None."""
        if not self.python.exists():
            return f"interpreter {self.python} not found"
        if not self.script.exists():
            return f"script {self.script} not found"
        return None


SIDES = {
    "lamindb": Side("lamindb", HERE / ".venv-lamindb" / "bin" / "python", HERE / "lamindb_side.py"),
    "lamin_core": Side(
        "lamin_core",
        REPO / ".venv" / "bin" / "python"
        if (REPO / ".venv" / "bin" / "python").exists()
        else Path(sys.executable),
        HERE / "lamin_core_side.py",
    ),
}


def run_one(
    side: Side, workload: str, size: int, repeat: int, workdir: Path, logs: Path, timeout: float
) -> dict[str, Any]:
    """Run one side on one workload and size; return its JSON result (or an error record)."""
    cmd = [
        str(side.python),
        str(side.script),
        workload,
        "--size",
        str(size),
        "--repeat",
        str(repeat),
        "--workdir",
        str(workdir / side.name),
    ]
    log = logs / f"{side.name}-{workload}-{size}.log"
    base = {"workload": workload, "size": size, "side": side.name}
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=REPO)
    except subprocess.TimeoutExpired as exc:
        log.write_text(_text(exc.stderr))
        return base | {"error": f"timed out after {timeout:.0f} s"}
    log.write_text(proc.stderr)
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    try:
        result = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        return base | {"error": f"exit code {proc.returncode}, no JSON on stdout; see {log}"}
    result["wall_total_s"] = round(time.perf_counter() - start, 2)
    return result


def _text(value: bytes | str | None) -> str:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return value or ""


def compare(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pair results by workload and size and say whether both sides agree on `check`."""
    rows = []
    by_key: dict[tuple[str, int], dict[str, dict]] = {}
    for result in results:
        by_key.setdefault((result["workload"], result["size"]), {})[result["side"]] = result
    for (workload, size), sides in by_key.items():
        lamindb, core = sides.get("lamindb"), sides.get("lamin_core")
        row: dict[str, Any] = {"workload": workload, "size": size}
        if lamindb and core and "check" in lamindb and "check" in core:
            same = lamindb["check"] == core["check"]
            row["check"] = (
                "match" if same else ("differs" if workload in SOFT_CHECKS else "MISMATCH")
            )
            row["speedup"] = _ratio(lamindb.get("median_s"), core.get("median_s"))
            row["memory_ratio"] = _ratio(lamindb.get("peak_mem_mb"), core.get("peak_mem_mb"))
        else:
            row["check"] = "n/a"
        rows.append(row)
    return rows


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if not numerator or not denominator:
        return None
    return round(numerator / denominator, 2)


def to_markdown(results: list[dict[str, Any]], comparison: list[dict[str, Any]]) -> str:
    """Render the results and the comparison as markdown tables."""
    lines = [
        "| workload | size | side | median s | per item | CPU s | peak MB | check |",
        "|---|---:|---|---:|---:|---:|---:|---|",
    ]
    for r in results:
        if "error" in r:
            lines.append(
                f"| {r['workload']} | {r['size']} | {r['side']} | error: {r['error']} |||||"
            )
            continue
        per_item = f"{r['per_item_s'] * 1e3:.3f} ms/{r['unit']}" if r.get("per_item_s") else ""
        cpu = statistics.median(r["cpu_times_s"]) if r.get("cpu_times_s") else float("nan")
        check = json.dumps(r.get("check"))
        check = check if len(check) <= 80 else check[:77] + "..."
        lines.append(
            f"| {r['workload']} | {r['size']} | {r['side']} | {r['median_s']:.4f} | {per_item} "
            f"| {cpu:.4f} | {r['peak_mem_mb']:.0f} | `{check}` |"
        )
    lines += [
        "",
        "| workload | size | checks | LaminDB time / lamin_core time | memory ratio |",
        "|---|---:|---|---:|---:|",
    ]
    for row in comparison:
        lines.append(
            f"| {row['workload']} | {row['size']} | {row['check']} "
            f"| {row.get('speedup') or ''} | {row.get('memory_ratio') or ''} |"
        )
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the runner's command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--sizes", default="200", help="comma-separated sizes")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sides", default="lamindb,lamin_core")
    parser.add_argument("--workdir", type=Path, help="default: a temporary directory, removed")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per process")
    args = parser.parse_args(argv)
    args.workloads = [w for w in args.workloads.split(",") if w]
    args.sizes = [int(s) for s in args.sizes.split(",") if s]
    args.sides = [s for s in args.sides.split(",") if s]
    for name, known in (("workload", WORKLOADS), ("side", SIDES)):
        unknown = set(getattr(args, f"{name}s")) - set(known)
        if unknown:
            parser.error(f"unknown {name}(s) {sorted(unknown)}; choose from {sorted(known)}")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run every selected side x workload x size and write the results; 1 if a check failed."""
    args = parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="lamin-bench-"))
    logs = args.out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    results: list[dict[str, Any]] = []
    try:
        for workload in args.workloads:
            for size in args.sizes:
                for name in args.sides:
                    side = SIDES[name]
                    if reason := side.missing():
                        print(f"skip {name} {workload} {size}: {reason}", file=sys.stderr)
                        continue
                    print(f"run  {name} {workload} size={size}", file=sys.stderr, flush=True)
                    result = run_one(side, workload, size, args.repeat, workdir, logs, args.timeout)
                    results.append(result)
                    summary = result.get("error") or f"median {result['median_s']:.4f} s"
                    print(f"     {summary}", file=sys.stderr, flush=True)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    comparison = compare(results)
    meta = {
        "machine": platform.platform(),
        "python": platform.python_version(),
        "args": sys.argv[1:] if argv is None else argv,
    }
    payload = {"meta": meta, "results": results, "comparison": comparison}
    (args.out / "results.json").write_text(json.dumps(payload, indent=2) + "\n")
    (args.out / "results.md").write_text(to_markdown(results, comparison))
    print(to_markdown(results, comparison))
    failed = any(r.get("error") for r in results) or any(
        row["check"] == "MISMATCH" for row in comparison
    )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
