"""A job whose step kills its own process after saving an artifact, on every attempt.

The multiprocess executor runs each attempt in its own process, re-importing the job from this
module (`dg.build_reconstructable_job`). `doomed` saves a log artifact through `LaminResource`
and then dies by SIGKILL, as under the OOM killer: no hook, no `finally`, no sensor in the
process gets to close its catalog Run. Dagster retries it once, then marks the step failed.
"""

import os
import signal

import dagster as dg
import pandas as pd

import lamin_core as ln
from lamin_dagster import LaminIOManager, LaminResource, lamin_asset

MAX_RETRIES = 1
PRELOAD = ["dagster", "pandas", "pyarrow", "sqlalchemy", "lamin_core", "lamin_dagster"]


@dg.asset
def source() -> pd.DataFrame:
    return pd.DataFrame({"x": [1, 2, 3]})


@lamin_asset(retry_policy=dg.RetryPolicy(max_retries=MAX_RETRIES))
def doomed(
    context: dg.AssetExecutionContext, source: pd.DataFrame, lamin: LaminResource
) -> pd.DataFrame:
    attempt = context.retry_number + 1
    with lamin.track(context):
        log = pd.DataFrame({"attempt": [attempt]})
        ln.Artifact.from_df(log, key="logs/doomed.parquet").save()
    os.kill(os.getpid(), signal.SIGKILL)
    return source


def crash_job() -> dg.JobDefinition:
    """Return the job, run by the multiprocess executor."""
    job = dg.define_asset_job(
        "crashing",
        executor_def=dg.multiprocess_executor.configured(
            {"max_concurrent": 1, "start_method": {"forkserver": {"preload_modules": PRELOAD}}}
        ),
    )
    defs = dg.Definitions(
        assets=[source, doomed],
        jobs=[job],
        resources={
            "io_manager": LaminIOManager.configure_at_launch(),
            "lamin": LaminResource.configure_at_launch(),
        },
    )
    return defs.resolve_job_def("crashing")
