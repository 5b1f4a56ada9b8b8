"""An op job whose second op fails on demand, for tests that re-execute a failed run.

Re-execution needs a reconstructable job, so the job lives in its own module. In a re-executed
run, the second op loads the first op's output from the parent run: the one place where an op
input comes from an earlier run.
"""

import dagster as dg
import pandas as pd

from lamin_dagster import LaminIOManager


@dg.op
def make_table() -> pd.DataFrame:
    return pd.DataFrame({"x": [1, 2]})


@dg.op(config_schema={"fail": bool})
def add_one(context: dg.OpExecutionContext, table: pd.DataFrame) -> pd.DataFrame:
    if context.op_config["fail"]:
        raise RuntimeError("failing on purpose, to be re-executed")
    return table + 1


def tables_job() -> dg.JobDefinition:
    """Return the job, executed in process, with a LaminIOManager configured at launch."""

    @dg.job(
        executor_def=dg.in_process_executor,
        resource_defs={"io_manager": LaminIOManager.configure_at_launch()},
    )
    def tables() -> None:
        add_one(make_table())

    return tables
