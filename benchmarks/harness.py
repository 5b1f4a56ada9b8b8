"""Timing, memory and output protocol shared by both sides of the side-by-side benchmark.

A side script (`lamindb_side.py`, the lamin_core side) maps workload names to factories that set
up a fresh catalog and return a `Workload`; `main()` parses the common command line

    python <side>.py WORKLOAD --size N --repeat R --workdir DIR [--seed S]

runs one untimed warm-up and R timed repeats, and prints ONE JSON object on stdout:

    {"workload", "size", "side", "times_s", "per_item_s", "peak_mem_mb", "check", ...}

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

from data import DEFAULT_SEED

# Audit events raised when Python code resolves a host name or opens a socket.
NETWORK_AUDIT_EVENTS = frozenset({"socket.getaddrinfo", "socket.connect", "socket.gethostbyname"})


@dataclass
class Workload:
    """One prepared workload.

    Attributes:
        run: Does one repeat; called with the repeat index (0 is the untimed warm-up). May return
            a dict of named sub-timings in seconds, reported as medians under `detail`.
        prepare: Called untimed with the repeat index right before `run`, to build inputs (e.g.
            this repeat's DataFrames) that must not count towards the time.
        check: Returns a small JSON-able value the other side must reproduce.
        items: What `per_item_s` divides the median by, or None when no per-item time makes sense.
        unit: What one item is ("artifact", "query", ...), for the reader.
        notes: Free-form facts about this run worth keeping next to the numbers.
    """

    run: Callable[[int], dict[str, float] | None]
    check: Callable[[], Any]
    prepare: Callable[[int], None] | None = None
    items: int | None = None
    unit: str | None = None
    notes: dict[str, Any] = field(default_factory=dict)


WorkloadFactory = Callable[[Path, int, int], Workload]


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


@dataclass
class Timings:
    """What `time_repeats` measured."""

    wall_s: list[float]
    cpu_s: list[float]
    detail: dict[str, float]
    peak_reset: bool


def time_repeats(workload: Workload, repeat: int) -> Timings:
    """Run the warm-up and `repeat` timed repeats.

    CPU time is kept next to wall time because this machine may be shared: CPU time is less
    disturbed by other processes, wall time also counts waiting for the disk.
    """
    prepare = workload.prepare or (lambda index: None)
    prepare(0)
    gc.collect()
    workload.run(0)
    gc.collect()
    peak_reset = _reset_peak_rss()
    wall: list[float] = []
    cpu: list[float] = []
    parts: dict[str, list[float]] = {}
    for index in range(1, repeat + 1):
        prepare(index)
        gc.collect()
        start, start_cpu = time.perf_counter(), time.process_time()
        sub = workload.run(index)
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        for name, seconds in (sub or {}).items():
            parts.setdefault(name, []).append(seconds)
    detail = {name: statistics.median(values) for name, values in parts.items()}
    return Timings(wall_s=wall, cpu_s=cpu, detail=detail, peak_reset=peak_reset)


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


def parse_args(workloads: list[str], argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line every side accepts."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workload", choices=workloads)
    parser.add_argument("--size", type=int, required=True, help="items in the workload")
    parser.add_argument("--repeat", type=int, default=3, help="timed repeats after one warm-up")
    parser.add_argument("--workdir", type=Path, required=True, help="instances go under here")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="data generator seed")
    args = parser.parse_args(argv)
    if args.size < 1 or args.repeat < 1:
        parser.error("--size and --repeat must be at least 1")
    return args


def _json_default(value: Any) -> Any:
    """Serialise numpy scalars and other stragglers that json does not know."""
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, (set, frozenset, tuple)):
        return sorted(value) if isinstance(value, (set, frozenset)) else list(value)
    return str(value)


def main(
    side: str,
    workloads: dict[str, WorkloadFactory],
    *,
    versions: Callable[[], dict[str, str]] = dict,
    argv: list[str] | None = None,
) -> int:
    """Run one workload of one side and print its JSON result line.

    Args:
        side: "lamindb" or "lamin_core".
        workloads: Workload name -> factory(instance_dir, size, seed).
        versions: Returns library versions to record (called after the workload ran).
        argv: Command line without the program name; defaults to sys.argv[1:].

    Returns:
        The process exit code: 0 on success, 1 when the workload raised (the JSON line then
        carries "error" and the traceback went to stderr).
    """
    args = parse_args(sorted(workloads), argv)
    network = NetworkMonitor().install()
    result: dict[str, Any] = {"workload": args.workload, "size": args.size, "side": side}
    with stdout_to_stderr() as real_stdout:
        try:
            instance_dir = fresh_dir(args.workdir, side, args.workload, args.size)
            start = time.perf_counter()
            workload = workloads[args.workload](instance_dir, args.size, args.seed)
            setup_s = time.perf_counter() - start
            timings = time_repeats(workload, args.repeat)
            median = statistics.median(timings.wall_s)
            result |= {
                "times_s": [round(t, 6) for t in timings.wall_s],
                "cpu_times_s": [round(t, 6) for t in timings.cpu_s],
                "median_s": round(median, 6),
                "per_item_s": round(median / workload.items, 9) if workload.items else None,
                "items": workload.items,
                "unit": workload.unit,
                "peak_mem_mb": round(_read_peak_rss_mb(), 1),
                "peak_mem_scope": "timed repeats" if timings.peak_reset else "whole process",
                "check": workload.check(),
                "detail": {name: round(s, 6) for name, s in timings.detail.items()},
                "setup_s": round(setup_s, 3),
                "repeat": args.repeat,
                "seed": args.seed,
                "network_attempts": network.summary(),
                "versions": versions(),
                "notes": workload.notes,
            }
            code = 0
        except Exception as exc:  # reported in the JSON line and on stderr, not swallowed
            traceback.print_exc()
            result["error"] = f"{type(exc).__name__}: {exc}"
            result["network_attempts"] = network.summary()
            code = 1
        real_stdout.write(json.dumps(result, default=_json_default) + "\n")
    return code
