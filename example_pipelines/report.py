"""The second pipeline: a report on the notebook step's artifact, an external asset in the graph.

The shares of each cell type are made outside Dagster (`example_pipelines.analysis`, a tracked
script run). `lamin_external_assets` turns that catalog artifact into an asset whose upstream
is the seed pipeline's ``example_datasets/cell_type_summary`` (from catalog lineage: the run that
made the shares loaded the summary), so Dagster shows one graph: summary -> shares (made in a
notebook) -> ``reports/dominant_cell_type``. Before the script has run, the shares asset is a
plain placeholder spec, and the report cannot run yet.
"""

import dagster as dg
import pandas as pd

import lamin_core as ln
from example_pipelines.analysis import SHARES_KEY
from lamin_dagster import asset_key_for, lamin_asset, lamin_external_asset_sensor
from lamin_dagster import lamin_external_assets as external_specs

GROUP = "analysis"
SHARES_ASSET = asset_key_for(SHARES_KEY)
SHARES_SENSOR = "cell_type_shares_sensor"


def shares_specs(instance: ln.Instance) -> tuple[list[dg.AssetSpec], list[dg.SensorDefinition]]:
    """Return the external asset of the shares artifact, and the sensor reporting new versions.

    Without the artifact in the catalog yet: a placeholder spec that says how to make it.
    """
    with instance.activate():
        specs = external_specs(ln.Artifact.filter(key=SHARES_KEY, is_latest=True), group_name=GROUP)
    if specs:
        return specs, [lamin_external_asset_sensor(specs, name=SHARES_SENSOR)]
    placeholder = dg.AssetSpec(
        key=SHARES_ASSET,
        group_name=GROUP,
        kinds={"lamin", "parquet"},
        description=(
            f"Made outside Dagster by the tracked script example_pipelines.analysis ({SHARES_KEY})"
            "; not in the catalog yet: run `make demo`, then reload the code location."
        ),
    )
    return [placeholder], []


@lamin_asset(
    key=["reports", "dominant_cell_type"],
    ins={"shares": dg.AssetIn(key=SHARES_ASSET)},
    group_name="reports",
    code_version="1",
    labels=["report"],
    column_lineage={"cell_type": [("shares", "cell_type")], "share": [("shares", "share")]},
)
def dominant_cell_type(shares: pd.DataFrame) -> pd.DataFrame:
    """The cell type with the largest share across both datasets."""
    return shares.nlargest(1, "share").reset_index(drop=True)


REPORT_ASSETS = [dominant_cell_type]

report_job = dg.define_asset_job(
    "cell_type_report",
    selection=dg.AssetSelection.assets(dominant_cell_type),
    description="A report on the cell type shares that a tracked notebook step made.",
)
