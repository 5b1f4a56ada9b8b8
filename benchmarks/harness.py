"""Timing, memory and output protocol shared by both sides of the side-by-side benchmark.

A side script (`lamindb_side.py`, `lamin_core_side.py`, `reference_side.py`) maps workload names
to factories that set up a fresh catalog and return a `Workload`; `main()` parses the common
command line

    python <side>.py WORKLOAD --size N --repeat R --workdir DIR [--seed S] [--param K=V]

runs one untimed warm-up and R timed repeats, and prints ONE JSON object on stdout:

    {"workload", "size", "side", "times_s", "per_item_s", "peak_mem_mb", "check", ...}

With `--serve` the process sets up, prints `{"event": "ready"}` and then runs one repeat per
`{"op": "run", "index": i}` line read from stdin (index 0 is the warm-up), answering each with
`{"event": "done", ...}`, until `{"op": "finish"}` makes it print the result line. The runner
uses this to alternate two sides repeat by repeat (A B A B ...), so that whatever else the
machine is doing hits both alike, while each side sets up only once.

Keeping this in one module means both sides time, count memory and report the same way. It
imports nothing from lamindb or lamin_core.

Libraries may log to stdout (LaminDB does), which would corrupt the JSON line, so file descriptor 1
is pointed at stderr for the whole run and the result is written to the saved original.
"""

import argparse
import contextlib
import gc
import json
import os
import platform
import resource
import shutil
import statistics
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from data import DEFAULT_SEED, POSTGRES_ADMIN

# Audit events raised when Python code resolves a host name or opens a socket.
NETWORK_AUDIT_EVENTS = frozenset({"socket.getaddrinfo", "socket.connect", "socket.gethostbyname"})


@dataclass
class Workload:
    """One prepared workload.

    Attributes:
        run: Does one repeat; called with the repeat index (0 is the untimed warm-up). May return
            a dict of named sub-timings in seconds, reported as medians under `detail`.
        check: Returns a small JSON-able value the other side must reproduce.
        prepare: Called untimed with the repeat index right before `run`, to build inputs (e.g.
            this repeat's DataFrames) that must not count towards the time.
        items: What `per_item_s` divides the median by, or None when no per-item time makes sense.
        unit: What one item is ("artifact", "query", ...), for the reader.
        records: How many records the catalog holds for this workload, when that is not `size`
            (e.g. all NCBITaxon terms when `size` asked for more).
        item_timings: Prefix of the sub-timings that time one item each (e.g. "search:"): their
            p50 and maximum over all timed repeats are reported as `item_p50_s`/`item_max_s`,
            and the p50 of their CPU times (``cpu:<prefix>...``) as `item_cpu_p50_s`.
        observed: Returns values worth reporting that the sides need not agree on (rankings).
        measure: Name of the sub-timing that IS the repeat's time (with `<name>_cpu` its CPU
            time), when `run` does more than what is measured (e.g. a whole Dagster run around
            the IO manager calls).
        notes: Free-form facts about this run worth keeping next to the numbers.
    """

    run: Callable[[int], dict[str, float] | None]
    check: Callable[[], Any]
    prepare: Callable[[int], None] | None = None
    items: int | None = None
    unit: str | None = None
    records: int | None = None
    item_timings: str | None = None
    observed: Callable[[], Any] | None = None
    measure: str | None = None
    notes: dict[str, Any] = field(default_factory=dict)


# factory(instance_dir, size, seed, **params) -> Workload; params come from --param K=V
WorkloadFactory = Callable[..., Workload]


class NetworkMonitor:
    """Count name look-ups and socket connects made by Python code in this process.

    The benchmark must run offline; a non-zero count in the output shows that a library tried the
    network anyway (and its time was spent failing).
    """

    def __init__(self) -> None:
        self.events: list[str] = []

    def install(self) -> "NetworkMonitor":
        """Register the audit hook (hooks cannot be removed; install once per process)."""
        sys.addaudithook(self._hook)
        return self

    def _hook(self, event: str, args: tuple) -> None:
        if event in NETWORK_AUDIT_EVENTS:
            self.events.append(f"{event} {args[0]!r}")

    def summary(self) -> dict[str, Any]:
        """Return the count and the first few distinct targets."""
        return {"count": len(self.events), "first": sorted(set(self.events))[:5]}


def _read_peak_rss_mb() -> float:
    """Return the peak resident set size in MiB (VmHWM, or ru_maxrss where /proc is absent)."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark so the peak covers only the timed repeats.

    Writing "5" to /proc/self/clear_refs (Linux >= 4.0) sets VmHWM to the current RSS. Returns
    False where that is not possible; the peak then covers the whole process.
    """
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


class Repeats:
    """The warm-up and timed repeats of one workload in this process, and what they measured.

    CPU time is kept next to wall time because this machine may be shared: CPU time is less
    disturbed by other processes, wall time also counts waiting for the disk.
    """

    def __init__(self, workload: Workload) -> None:
        self.workload = workload
        self.wall_s: list[float] = []
        self.cpu_s: list[float] = []
        self.parts: dict[str, list[float]] = {}
        self.peak_reset = False

    def run(self, index: int) -> dict[str, Any]:
        """Run repeat `index` (0: the warm-up, not recorded) and return its times."""
        if self.workload.prepare is not None:
            self.workload.prepare(index)
        gc.collect()
        start, start_cpu = time.perf_counter(), time.process_time()
        sub = self.workload.run(index) or {}
        wall, cpu = time.perf_counter() - start, time.process_time() - start_cpu
        if self.workload.measure is not None:
            wall = sub[self.workload.measure]
            cpu = sub.get(f"{self.workload.measure}_cpu", cpu)
        if index == 0:
            gc.collect()
            self.peak_reset = _reset_peak_rss()
        else:
            self.wall_s.append(wall)
            self.cpu_s.append(cpu)
            for name, seconds in sub.items():
                self.parts.setdefault(name, []).append(seconds)
        return {"index": index, "wall_s": round(wall, 6), "cpu_s": round(cpu, 6)}

    def summary(self) -> dict[str, Any]:
        """Return the result fields measured by the timed repeats (at least one must have run)."""
        if not self.wall_s:
            raise ValueError("no timed repeat ran; send at least one run with index >= 1")
        workload = self.workload
        median = statistics.median(self.wall_s)
        result: dict[str, Any] = {
            "times_s": [round(t, 6) for t in self.wall_s],
            "cpu_times_s": [round(t, 6) for t in self.cpu_s],
            "median_s": round(median, 6),
            "per_item_s": round(median / workload.items, 9) if workload.items else None,
            "items": workload.items,
            "unit": workload.unit,
            "peak_mem_mb": round(_read_peak_rss_mb(), 1),
            "peak_mem_scope": "timed repeats" if self.peak_reset else "whole process",
            "detail": {
                name: round(statistics.median(values), 6) for name, values in self.parts.items()
            },
        }
        if workload.records is not None:
            result["records"] = workload.records
        if workload.item_timings is not None:
            walls = self._samples(workload.item_timings)
            cpus = self._samples(f"cpu:{workload.item_timings}")
            if walls:
                result["item_p50_s"] = round(statistics.median(walls), 6)
                result["item_max_s"] = round(max(walls), 6)
            if cpus:
                result["item_cpu_p50_s"] = round(statistics.median(cpus), 6)
        return result

    def _samples(self, prefix: str) -> list[float]:
        """Return every timed repeat's sub-timings whose name starts with `prefix`."""
        return [s for name, values in self.parts.items() if name.startswith(prefix) for s in values]


def time_repeats(workload: Workload, repeat: int) -> Repeats:
    """Run the warm-up and `repeat` timed repeats in a row."""
    repeats = Repeats(workload)
    for index in range(repeat + 1):
        repeats.run(index)
    return repeats


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[TextIO]:
    """Point fd 1 and sys.stdout at stderr; yield a stream writing to the original stdout."""
    sys.stdout.flush()
    saved_fd = os.dup(1)
    os.dup2(2, 1)
    saved_stdout = sys.stdout
    sys.stdout = sys.stderr
    real = os.fdopen(saved_fd, "w", closefd=True)
    try:
        yield real
    finally:
        sys.stdout.flush()
        sys.stdout = saved_stdout
        real.flush()
        os.dup2(saved_fd, 1)
        real.close()


def fresh_dir(workdir: Path, side: str, workload: str, size: int) -> Path:
    """Return an empty directory for this run's catalog instance, removing any leftover."""
    path = workdir.resolve() / f"{side}-{workload}-{size}"
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def shared_dir(instance_dir: Path) -> Path:
    """Return the directory both sides of a run share for inputs too big to write twice."""
    return instance_dir.parent / "shared"


def _param(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"--param expects NAME=VALUE, got {text!r}")
    return name, value


def parse_args(workloads: list[str], argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line every side accepts."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workload", choices=workloads)
    parser.add_argument("--size", type=int, required=True, help="items in the workload")
    parser.add_argument("--repeat", type=int, default=3, help="timed repeats after one warm-up")
    parser.add_argument("--workdir", type=Path, required=True, help="instances go under here")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="data generator seed")
    parser.add_argument(
        "--param", type=_param, action="append", default=[], help="workload option NAME=VALUE"
    )
    parser.add_argument(
        "--serve", action="store_true", help="run repeats on request from stdin (see module)"
    )
    args = parser.parse_args(argv)
    if args.size < 1 or args.repeat < 1:
        parser.error("--size and --repeat must be at least 1")
    args.params = dict(args.param)
    return args


# `--param db=postgresql`: the side's catalog lives in a new database of its own on this server
# (made before the setup, ANALYZEd after it, dropped at the end); the side reads its URL from
# DB_ENV. Without it, each side uses SQLite in its instance directory.
DB_ENV = "BENCH_DB_URL"


def _run_sql(url: str, statement: str) -> None:
    """Run one statement outside a transaction, with whichever PostgreSQL driver this venv has."""
    try:
        import psycopg

        connection = psycopg.connect(url, autocommit=True)
    except ImportError:  # LaminDB's venv has psycopg2
        import psycopg2

        connection = psycopg2.connect(url)
        connection.autocommit = True
    with contextlib.closing(connection):
        connection.cursor().execute(statement)


@contextlib.contextmanager
def database(kind: str | None, side: str, workload: str) -> Iterator[str | None]:
    """Yield the URL of a new PostgreSQL database for one side's run (None for SQLite)."""
    if kind in (None, "sqlite"):
        yield None
        return
    if kind != "postgresql":
        raise ValueError(f"--param db={kind!r}: expected 'sqlite' or 'postgresql'")
    name = f"bench_{side}_{workload}_{os.getpid()}_{time.time_ns() % 10**8}"
    _run_sql(POSTGRES_ADMIN, f'CREATE DATABASE "{name}"')
    os.environ[DB_ENV] = f"{POSTGRES_ADMIN.rsplit('/', 1)[0]}/{name}"
    try:
        yield os.environ[DB_ENV]
    finally:
        del os.environ[DB_ENV]
        _run_sql(POSTGRES_ADMIN, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _json_default(value: Any) -> Any:
    """Serialise numpy scalars and other stragglers that json does not know."""
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, (set, frozenset, tuple)):
        return sorted(value) if isinstance(value, (set, frozenset)) else list(value)
    return str(value)


def _emit(stream: TextIO, payload: dict[str, Any]) -> None:
    stream.write(json.dumps(payload, default=_json_default) + "\n")
    stream.flush()


def _serve(repeats: Repeats, stream: TextIO) -> None:
    """Answer run requests from stdin until "finish" (or end of input)."""
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        if request.get("op") == "finish":
            return
        if request.get("op") != "run":
            raise ValueError(f"unknown request {request!r}; expected op 'run' or 'finish'")
        _emit(stream, {"event": "done", **repeats.run(int(request["index"]))})


def main(
    side: str,
    workloads: dict[str, WorkloadFactory],
    *,
    versions: Callable[[], dict[str, str]] = dict,
    argv: list[str] | None = None,
) -> int:
    """Run one workload of one side and print its JSON result line.

    Args:
        side: "lamindb", "lamin_core" or "reference".
        workloads: Workload name -> factory(instance_dir, size, seed, **params).
        versions: Returns library versions to record (called after the workload ran).
        argv: Command line without the program name; defaults to sys.argv[1:].

    Returns:
        The process exit code: 0 on success, 1 when the workload raised (the JSON line then
        carries "error" and the traceback went to stderr).
    """
    args = parse_args(sorted(workloads), argv)
    network = NetworkMonitor().install()
    result: dict[str, Any] = {"workload": args.workload, "size": args.size, "side": side}
    if args.params:
        result["params"] = args.params
    params = dict(args.params)
    db = params.pop("db", None)
    with stdout_to_stderr() as real_stdout, contextlib.ExitStack() as stack:
        try:
            instance_dir = fresh_dir(args.workdir, side, args.workload, args.size)
            db_url = stack.enter_context(database(db, side, args.workload))
            start = time.perf_counter()
            workload = workloads[args.workload](instance_dir, args.size, args.seed, **params)
            if db_url is not None:
                _run_sql(db_url, "ANALYZE")  # autovacuum may be off: plans need statistics
            setup_s = time.perf_counter() - start
            if args.serve:
                _emit(real_stdout, {"event": "ready", "setup_s": round(setup_s, 3)})
                repeats = Repeats(workload)
                _serve(repeats, real_stdout)
            else:
                repeats = time_repeats(workload, args.repeat)
            result |= repeats.summary()
            result |= {
                "check": workload.check(),
                "observed": workload.observed() if workload.observed else None,
                "setup_s": round(setup_s, 3),
                "repeat": len(repeats.wall_s),
                "seed": args.seed,
                "network_attempts": network.summary(),
                "versions": {"python": platform.python_version(), **versions()},
                "notes": workload.notes,
            }
            code = 0
        except Exception as exc:  # reported in the JSON line and on stderr, not swallowed
            traceback.print_exc()
            result["error"] = f"{type(exc).__name__}: {exc}"
            result["network_attempts"] = network.summary()
            code = 1
        _emit(real_stdout, {"event": "result", **result})
    return code
