"""The dagster_pipeline workloads: a chain of small DataFrame assets, run by Dagster end to end.

`io_manager` times the two IO manager calls alone; here Dagster runs the whole job, so what is
measured is what a user waits for: resource set-up (the catalog opened), every step, every
`handle_output` and `load_input`, the event log writes. The chain is `size` assets
(``asset_00 -> asset_01 -> ...``), each a DataFrame of `rows` rows (1,000 by default) computed
from its upstream; the first asset's config takes the repeat index, so every repeat makes new
content (no artifact is deduplicated). The same assets run on both sides; only the IO manager
differs: `LaminIOManager` on a fresh local SQLite catalog (lamin_core side) against Dagster's
`FilesystemIOManager` (reference side, pickles).

- `dagster_pipeline`: ``dg.materialize`` in-process, on one ephemeral Dagster instance per side
  (kept across repeats, as a deployment keeps its instance).
- `dagster_pipeline_multiprocess`: ``dg.execute_job`` with the multiprocess executor (its
  defaults: `spawn`, so each step is a new interpreter that imports the job's module and opens
  the IO manager's storage; that is the per-step cost this measures). The multiprocess executor
  needs a persistent instance: a `DagsterInstance` in a temporary ``DAGSTER_HOME`` (telemetry
  off). The step processes rebuild the job from `chain_job`, configured by environment
  variables, so that the reference side's steps never import lamin_core.

Besides the wall time of the run, each result reports the largest step process's peak memory
(multiprocess: the largest child's ``ru_maxrss``).
"""

import json
import os
import resource
import time
from pathlib import Path
from typing import Any

import dagster as dg
import harness
import numpy as np
import pandas as pd

# the step processes of the multiprocess executor rebuild the job from these (`chain_job`)
CONFIG_ENV = "BENCH_PIPELINE"
FIRST = "asset_00"
SUM_KEY = "bench/value_sum"  # output metadata of the last asset: the content both sides agree on
DEFAULT_ROWS = 1_000
MANAGERS = ("lamin", "filesystem")


def asset_name(index: int) -> str:
    """Return the name of the chain's asset at `index`."""
    return f"asset_{index:02d}"


class FirstConfig(dg.Config):
    """The repeat index: new content every run."""

    repeat: int = 0


def chain_assets(size: int, rows: int) -> list[dg.AssetsDefinition]:
    """Return `size` assets, each computing a `rows`-row DataFrame from its upstream."""

    @dg.asset(name=FIRST)
    def first(config: FirstConfig) -> pd.DataFrame:
        rng = np.random.default_rng(0)
        return pd.DataFrame(
            {
                "id": np.arange(rows, dtype=np.int64),
                "value": rng.normal(size=rows) + config.repeat,
                "group": pd.Categorical(rng.choice(["a", "b", "c", "d"], size=rows)),
                "label": rng.choice(["alpha", "beta", "gamma", "delta"], size=rows),
            }
        )

    assets = [first]
    for index in range(1, size):
        assets.append(_next_asset(index, is_last=index == size - 1))
    return assets


def _next_asset(index: int, *, is_last: bool) -> dg.AssetsDefinition:
    @dg.asset(name=asset_name(index), ins={"upstream": dg.AssetIn(key=asset_name(index - 1))})
    def step(context: dg.AssetExecutionContext, upstream: pd.DataFrame) -> pd.DataFrame:
        frame = upstream.assign(value=upstream["value"] * 1.01 + index)
        if is_last:
            context.add_output_metadata({SUM_KEY: round(float(frame["value"].sum()), 6)})
        return frame

    return step


def io_manager(kind: str, folder: str) -> Any:
    """Return the IO manager of a side: LaminIOManager on `folder`, or FilesystemIOManager."""
    if kind == "filesystem":
        return dg.FilesystemIOManager(base_dir=folder)
    if kind == "lamin":
        # imported here so that the reference side's step processes never load lamin_core
        from lamin_dagster import LaminIOManager

        return LaminIOManager(storage=folder)
    raise ValueError(f"{CONFIG_ENV}: unknown IO manager {kind!r}; choose from {MANAGERS}")


def chain_job() -> dg.JobDefinition:
    """Return the chain as a job on the multiprocess executor, configured by `CONFIG_ENV`.

    The multiprocess executor calls this in every step process (`dg.build_reconstructable_job`).
    """
    config = json.loads(os.environ[CONFIG_ENV])
    assets = chain_assets(config["size"], config["rows"])
    job = dg.define_asset_job("chain", executor_def=dg.multiprocess_executor)
    defs = dg.Definitions(
        assets=assets,
        jobs=[job],
        resources={"io_manager": io_manager(config["manager"], config["folder"])},
    )
    return defs.resolve_job_def("chain")


def _dagster_home(folder: Path) -> Path:
    """Create a DAGSTER_HOME with telemetry off (the benchmark runs offline)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return folder


def _value_sum(result: Any) -> float | None:
    """Return the last asset's `SUM_KEY` from the run's materializations."""
    sums = [
        event.materialization.metadata[SUM_KEY].value
        for event in result.get_asset_materialization_events()
        if SUM_KEY in event.materialization.metadata
    ]
    return sums[-1] if sums else None


def pipeline_workload(
    kind: str, folder: Path, instance_dir: Path, size: int, *, rows: int, executor: str
) -> harness.Workload:
    """Return the workload that runs the `size`-asset chain through IO manager `kind`.

    Args:
        kind: "lamin" (LaminIOManager) or "filesystem" (FilesystemIOManager).
        folder: The IO manager's storage folder (for "lamin", a catalog made by the caller).
        instance_dir: The side's fresh folder; the Dagster home goes under it.
        size: Assets in the chain (at least 2).
        rows: Rows of every asset's DataFrame.
        executor: "in_process" (``dg.materialize``) or "multiprocess" (``dg.execute_job``).
    """
    if size < 2:
        raise ValueError(f"dagster_pipeline needs a chain of at least 2 assets, got --size {size}")
    if executor not in ("in_process", "multiprocess"):
        raise ValueError(f"executor {executor!r}: choose 'in_process' or 'multiprocess'")
    config = {"size": size, "rows": rows, "manager": kind, "folder": str(folder)}
    os.environ[CONFIG_ENV] = json.dumps(config)  # inherited by the step processes
    result: dict[str, Any] = {}
    child_peaks: list[float] = []
    if executor == "in_process":
        instance = dg.DagsterInstance.ephemeral()
        assets = chain_assets(size, rows)
        manager = io_manager(kind, str(folder))
    else:
        home = _dagster_home(instance_dir / "dagster_home")
        os.environ["DAGSTER_HOME"] = str(home)
        instance = dg.DagsterInstance.get()
        job = dg.build_reconstructable_job(
            "dagster_pipeline",
            chain_job.__name__,
            reconstructor_working_directory=str(Path(__file__).resolve().parent),
        )

    def run(index: int) -> dict[str, float]:
        run_config = {"ops": {FIRST: {"config": {"repeat": index}}}}
        start, start_cpu = time.perf_counter(), time.process_time()
        if executor == "in_process":
            outcome = dg.materialize(
                assets, instance=instance, resources={"io_manager": manager}, run_config=run_config
            )
        else:
            outcome = dg.execute_job(job, instance=instance, run_config=run_config)
        timings = {
            "run_s": time.perf_counter() - start,
            "run_s_cpu": time.process_time() - start_cpu,
        }
        if not outcome.success:
            failures = [e.message for e in outcome.all_events if e.is_failure]
            raise RuntimeError(f"the {kind} run of repeat {index} failed: {failures[:3]}")
        result["materialized"] = len(outcome.get_asset_materialization_events())
        result["value_sum"] = _value_sum(outcome)
        result["rows"] = rows
        if executor == "multiprocess" and index > 0:
            child_peaks.append(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
        return timings

    def observed() -> dict[str, Any]:
        if not child_peaks:
            return {}
        return {"largest_step_process_peak_mb": round(max(child_peaks), 1)}

    return harness.Workload(
        run=run,
        check=lambda: dict(result),
        items=size,
        unit="asset",
        measure="run_s",
        observed=observed,
        notes={
            "executor": executor,
            "io_manager": "LaminIOManager" if kind == "lamin" else "dg.FilesystemIOManager",
            "rows per asset": rows,
            "timed": "dg.materialize" if executor == "in_process" else "dg.execute_job",
        },
    )
