"""LaminIOManager against Dagster's own UPathIOManager-based parquet IO manager, side by side.

Both IO managers get the same DataFrames and write parquet with pyarrow (snappy); one repeat is
`handle_output` of a new frame (every repeat changes one value, so the catalog cannot skip the
write as a duplicate) followed by `load_input` of it. The sides alternate (A B A B ...), the
first round is an untimed warm-up, and the table reports medians. The lamin side does what it
does in a run: serialise, hash, save the artifact row, build the catalog metadata; and on load
read `lamin/uid` from the latest materialization (Dagster records that event for both sides; it
is reported here untimed) and record the load as a run input when a step is tracked.

    .venv/bin/python benchmarks/io_manager_bench.py                 # 1,000 and 1,000,000 rows
    .venv/bin/python benchmarks/io_manager_bench.py --rows 1000 --repeat 50 --profile

Targets (issue 15): at most 1.1x the UPath manager's time at 1,000,000 rows and at most +3 ms
per output at 1,000 rows. Whole Dagster runs are measured by `dagster_pipeline.py`.
"""

import argparse
import cProfile
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import dagster as dg
import numpy as np
import pandas as pd
from upath import UPath

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import lamin_core as ln  # noqa: E402
from lamin_dagster import LaminIOManager  # noqa: E402


class ParquetUPathIOManager(dg.UPathIOManager):
    """Dagster's documented pattern: a UPathIOManager that stores DataFrames as parquet."""

    extension = ".parquet"

    def dump_to_path(self, context: dg.OutputContext, obj: pd.DataFrame, path: UPath) -> None:
        obj.to_parquet(path, engine="pyarrow", compression="snappy")

    def load_from_path(self, context: dg.InputContext, path: UPath) -> pd.DataFrame:
        return pd.read_parquet(path)


def make_frame(rows: int, seed: int = 0) -> pd.DataFrame:
    """Return a frame of `rows` rows: ids, two float columns, a categorical and a text column."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "id": np.arange(rows, dtype=np.int64),
            "value": rng.normal(size=rows),
            "score": rng.random(rows),
            "group": pd.Categorical(rng.choice(["a", "b", "c", "d"], size=rows)),
            "label": rng.choice(["alpha", "beta", "gamma", "delta", "epsilon"], size=rows),
        }
    )


class Side:
    """One IO manager with its contexts; `round` stores then loads one frame and times both."""

    def __init__(self, name: str, manager: Any, asset_key: dg.AssetKey, dagster: Any) -> None:
        self.name = name
        self.manager = manager
        self.asset_key = asset_key
        self.dagster = dagster
        self.store_s: list[float] = []
        self.load_s: list[float] = []
        self.cpu_s: list[float] = []  # process CPU time of both calls: steadier on a busy machine

    def round(self, frame: pd.DataFrame, *, timed: bool, profiler: Any = None) -> pd.DataFrame:
        output = dg.build_output_context(asset_key=self.asset_key, name="result")
        profiler = profiler if timed else None
        if profiler is not None:
            profiler.enable()
        cpu_start = time.process_time()
        start = time.perf_counter()
        self.manager.handle_output(output, frame)
        stored = time.perf_counter()
        cpu_stored = time.process_time()
        if profiler is not None:
            profiler.disable()
        metadata = output.get_logged_metadata()
        if metadata:  # what Dagster records after handle_output: not the IO manager's time
            self.dagster.report_runless_asset_event(
                dg.AssetMaterialization(asset_key=self.asset_key, metadata=metadata)
            )
        upstream = dg.build_output_context(asset_key=self.asset_key, name="result")
        input_context = dg.build_input_context(
            asset_key=self.asset_key, upstream_output=upstream, instance=self.dagster
        )
        if profiler is not None:
            profiler.enable()
        cpu_before_load = time.process_time()
        before_load = time.perf_counter()
        loaded = self.manager.load_input(input_context)
        loaded_at = time.perf_counter()
        cpu_loaded = time.process_time()
        if profiler is not None:
            profiler.disable()
        if timed:
            self.store_s.append(stored - start)
            self.load_s.append(loaded_at - before_load)
            self.cpu_s.append(cpu_stored - cpu_start + cpu_loaded - cpu_before_load)
        return loaded


def run(rows: int, repeat: int, workdir: Path, profile: bool) -> dict[str, Any]:
    """Alternate the two sides `repeat` times (plus one warm-up) on frames of `rows` rows."""
    base = make_frame(rows)
    dagster = dg.DagsterInstance.ephemeral()
    catalog = ln.init(storage=workdir / "catalog", user="bench")
    catalog.close()
    lamin = Side(
        "LaminIOManager",
        LaminIOManager(storage=str(workdir / "catalog")),
        dg.AssetKey(["bench", f"lamin_{rows}"]),
        dagster,
    )
    upath = Side(
        "UPathIOManager (parquet)",
        ParquetUPathIOManager(base_path=UPath(workdir / "upath")),
        dg.AssetKey(["bench", f"upath_{rows}"]),
        dagster,
    )
    profiler = cProfile.Profile() if profile else None
    for index in range(repeat + 1):
        frame = base.copy()
        frame.loc[0, "value"] = float(index)  # new content each round: no duplicate shortcut
        timed = index > 0
        for side in (lamin, upath) if index % 2 else (upath, lamin):
            loaded = side.round(frame, timed=timed, profiler=profiler if side is lamin else None)
            assert len(loaded) == rows and loaded["value"].iloc[0] == float(index)
    lamin.manager.close()
    if profiler is not None:
        stats = pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative")
        stats.print_stats(35)
    return {"rows": rows, "repeat": repeat, "sides": [lamin, upath]}


def median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


def table(results: list[dict[str, Any]]) -> str:
    """Return the side-by-side table with the ratio and the difference per output."""
    lines = [
        "| rows | IO manager | handle_output ms | load_input ms | total ms | ratio | + ms/output "
        "| CPU ms | CPU ratio |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for result in results:
        lamin, upath = result["sides"]
        reference = median_ms([s + lo for s, lo in zip(upath.store_s, upath.load_s)])
        cpu_reference = median_ms(upath.cpu_s)
        for side in (upath, lamin):
            total = median_ms([s + lo for s, lo in zip(side.store_s, side.load_s)])
            cpu = median_ms(side.cpu_s)
            lines.append(
                f"| {result['rows']:,} | {side.name} | {median_ms(side.store_s):.1f} | "
                f"{median_ms(side.load_s):.1f} | {total:.1f} | {total / reference:.2f}x | "
                f"{total - reference:+.1f} | {cpu:.1f} | {cpu / cpu_reference:.2f}x |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000, 1_000_000])
    parser.add_argument(
        "--repeat", type=int, default=None, help="timed rounds (default: 30 small, 7 large)"
    )
    parser.add_argument("--profile", action="store_true", help="cProfile the lamin side")
    args = parser.parse_args(argv)
    results = []
    for rows in args.rows:
        repeat = args.repeat or (30 if rows <= 10_000 else 7)
        with tempfile.TemporaryDirectory(prefix="io-bench-") as folder:
            results.append(run(rows, repeat, Path(folder), args.profile))
    print(table(results))


if __name__ == "__main__":
    main()
