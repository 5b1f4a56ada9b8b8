"""The io_manager workload in the runner's protocol, measured by `io_manager_bench`.

`io_manager_bench.py` (the Dagster integration's own benchmark) holds the measurement: one round
is `handle_output` of a new frame, the materialization reported to Dagster untimed, then
`load_input` through an input context that finds it, with wall and CPU time of the two calls.
This module wraps one of its `Side`s as a `harness.Workload`, so that the runner can put
LaminIOManager (lamin_core side) and the UPathIOManager parquet manager (reference side) in two
processes and alternate them repeat by repeat like every other workload.
"""

from typing import Any

import harness

TIMED = "io_s"  # handle_output + load_input: the repeat's time


def io_workload(manager: Any, name: str, size: int) -> harness.Workload:
    """Return the workload that stores and loads `size`-row frames through `manager`."""
    import dagster as dg
    import io_manager_bench as bench

    key = dg.AssetKey(["bench", f"table_{size}"])
    side = bench.Side(name, manager, key, dg.DagsterInstance.ephemeral())
    base = bench.make_frame(size)
    frames: dict[str, Any] = {}
    result: dict[str, Any] = {}

    def prepare(index: int) -> None:
        frame = base.copy()
        frame.loc[0, "value"] = float(index)  # new content each round, as io_manager_bench does
        frames["current"] = frame

    def run(index: int) -> dict[str, float]:
        loaded = side.round(frames["current"], timed=True)
        result["rows"] = len(loaded)
        result["roundtrip_equal"] = bool(loaded.equals(frames["current"]))
        store, load, cpu = side.store_s[-1], side.load_s[-1], side.cpu_s[-1]
        return {
            TIMED: store + load,
            f"{TIMED}_cpu": cpu,
            "handle_output_s": store,
            "load_input_s": load,
        }

    return harness.Workload(
        run=run,
        prepare=prepare,
        check=lambda: dict(result),
        items=size,
        unit="row",
        measure=TIMED,
        notes={
            "measured by": "benchmarks/io_manager_bench.py (Side.round)",
            "timed": "handle_output + load_input",
            "io_manager": name,
        },
    )
