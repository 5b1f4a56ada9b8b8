"""Reference side for the workloads LaminDB has no counterpart for: md5sum and Dagster's IO manager.

- `hash_file`: GNU `md5sum` on the same file lamin_core hashes (the target: lamin_core within
  1.3x of md5sum). The hex digest is re-encoded as url-safe base64 so the check compares equal.
- `io_manager`: Dagster's `UPathIOManager` storing DataFrames as parquet (its documented
  pattern, from `io_manager_bench.py`), timed exactly like LaminIOManager (see `dagster_io`).
- `dagster_pipeline`, `dagster_pipeline_multiprocess`: the same chain of assets as the lamin_core
  side, with Dagster's `FilesystemIOManager` (see `dagster_pipeline`).

Run it with the project's venv:

    .venv/bin/python benchmarks/reference_side.py hash_file --size 64 --repeat 3 --workdir /tmp/b
"""

import base64
import shutil
import subprocess
from importlib.metadata import version
from pathlib import Path

import data
import harness

SIDE = "reference"


def hash_file(instance_dir: Path, size: int, seed: int) -> harness.Workload:
    """Run `md5sum` on a file of `size` MiB of random bytes (shared with the lamin_core side)."""
    md5sum = shutil.which("md5sum")
    if md5sum is None:
        raise FileNotFoundError("md5sum is not installed (GNU coreutils)")
    path = data.random_file(harness.shared_dir(instance_dir), size, seed)
    result: dict[str, str] = {}

    def run(index: int) -> None:
        hex_digest = subprocess.run([md5sum, str(path)], check=True, capture_output=True, text=True)
        digest = bytes.fromhex(hex_digest.stdout.split()[0])
        result["md5_b64"] = base64.urlsafe_b64encode(digest).decode().rstrip("=")

    return harness.Workload(
        run=run,
        check=lambda: dict(result),
        items=size,
        unit="MiB",
        notes={"reference": "md5sum", "call": f"{md5sum} <file>", "file": path.name},
    )


def io_manager(instance_dir: Path, size: int, seed: int) -> harness.Workload:
    """Store and load a `size`-row DataFrame through Dagster's UPathIOManager (parquet)."""
    import dagster_io
    import io_manager_bench
    from upath import UPath

    manager = io_manager_bench.ParquetUPathIOManager(base_path=UPath(instance_dir / "upath"))
    return dagster_io.io_workload(manager, "UPathIOManager (parquet)", size)


def dagster_pipeline(
    instance_dir: Path, size: int, seed: int, rows: str = "1000", executor: str = "in_process"
) -> harness.Workload:
    """Run a chain of `size` DataFrame assets with Dagster's FilesystemIOManager."""
    import dagster_pipeline

    folder = instance_dir / "filesystem"
    return dagster_pipeline.pipeline_workload(
        "filesystem", folder, instance_dir, size, rows=int(rows), executor=executor
    )


def dagster_pipeline_multiprocess(
    instance_dir: Path, size: int, seed: int, rows: str = "1000"
) -> harness.Workload:
    """`dagster_pipeline` on the multiprocess executor: one new process per step."""
    return dagster_pipeline(instance_dir, size, seed, rows=rows, executor="multiprocess")


def dagster_import(instance_dir: Path, size: int, seed: int) -> harness.Workload:
    """`import dagster, pandas` in a new process: the floor under `import lamin_dagster`."""
    import sys

    import workloads

    commands = {"import": [sys.executable, "-c", "import dagster, pandas"]}
    return workloads.whole_processes(commands, instance_dir, measure="import")


WORKLOADS: dict[str, harness.WorkloadFactory] = {
    "dagster_import": dagster_import,
    "hash_file": hash_file,
    "io_manager": io_manager,
    "dagster_pipeline": dagster_pipeline,
    "dagster_pipeline_multiprocess": dagster_pipeline_multiprocess,
}


def versions() -> dict[str, str]:
    """Return the versions of the tools measured."""
    found = {"dagster": version("dagster"), "pandas": version("pandas")}
    with_version = subprocess.run(["md5sum", "--version"], capture_output=True, text=True)
    if with_version.returncode == 0:
        found["md5sum"] = with_version.stdout.splitlines()[0]
    return found


if __name__ == "__main__":
    raise SystemExit(harness.main(SIDE, WORKLOADS, versions=versions))
