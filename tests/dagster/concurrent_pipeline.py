"""A job whose steps write one catalog at once, for the multiprocess-executor test.

It lives in its own module because the multiprocess executor re-imports the job in each step's
process (`dg.build_reconstructable_job`). Four independent assets run at the same time; each
stores its output and saves one more artifact through `LaminResource`; a fifth loads all four.
"""

from pathlib import Path

import dagster as dg
import pandas as pd

import lamin_core as ln
from lamin_dagster import LaminIOManager, LaminResource, lamin_asset

N_WRITERS = 4
PRELOAD = ["dagster", "pandas", "pyarrow", "sqlalchemy", "lamin_core", "lamin_dagster"]


def _writer(index: int) -> dg.AssetsDefinition:
    @lamin_asset(name=f"writer_{index}", code_version="1")
    def writer(context: dg.AssetExecutionContext, lamin: LaminResource) -> pd.DataFrame:
        with lamin.track(context):
            log = pd.DataFrame({"writer": [index], "note": ["side output"]})
            ln.Artifact.from_df(log, key=f"logs/writer_{index}.parquet").save()
        return pd.DataFrame({"writer": [index] * (index + 1)})

    return writer


WRITERS = [_writer(index) for index in range(N_WRITERS)]


@lamin_asset(ins={f"writer_{i}": dg.AssetIn(key=f"writer_{i}") for i in range(N_WRITERS)})
def gathered(**frames: pd.DataFrame) -> pd.DataFrame:
    return pd.concat(frames.values(), ignore_index=True)


def concurrent_job() -> dg.JobDefinition:
    """Return the job, executed by the multiprocess executor with four processes at once."""
    job = dg.define_asset_job(
        "concurrent_writers",
        executor_def=dg.multiprocess_executor.configured(
            {
                "max_concurrent": N_WRITERS,
                # fork step processes from one that imported the libraries already: spawning
                # four fresh interpreters costs ~20 s on a two-core machine
                "start_method": {"forkserver": {"preload_modules": PRELOAD}},
            }
        ),
    )
    defs = dg.Definitions(
        assets=[*WRITERS, gathered],
        jobs=[job],
        resources={
            "io_manager": LaminIOManager.configure_at_launch(),
            "lamin": LaminResource.configure_at_launch(),
        },
    )
    return defs.resolve_job_def("concurrent_writers")


def run_concurrent_job(config: dict, dagster_dir: Path) -> str:
    """Run `concurrent_job` on the multiprocess executor with `config` for both resources.

    Returns the Dagster run id; fails with the failure messages when the run did not succeed.
    """
    dagster_dir.mkdir()
    with dg.instance_for_test(temp_dir=str(dagster_dir)) as instance:
        result = dg.execute_job(
            dg.build_reconstructable_job(
                "concurrent_pipeline",
                concurrent_job.__name__,
                reconstructor_working_directory=str(Path(__file__).parent),
            ),
            instance=instance,
            run_config={
                "resources": {"io_manager": {"config": config}, "lamin": {"config": config}}
            },
        )
        assert result.success, [e.message for e in result.all_events if e.is_failure]
        return result.run_id
