"""A notebook step between two pipelines: a tracked script run on the catalog, outside Dagster.

It loads the artifact of the seed pipeline's asset ``example_datasets/cell_type_summary`` and
saves the share of each cell type as a new artifact, as a computational biologist would in a
notebook. The catalog records the run with the summary as its input, so
`lamin_external_assets` gives the new artifact's asset that summary asset as upstream, and the
report pipeline (`example_pipelines.report`) that depends on it joins one Dagster graph.
"""

import lamin_core as ln

SUMMARY_KEY = "example_datasets/cell_type_summary.parquet"
SHARES_KEY = "analysis/cell_type_shares.parquet"
SCRIPT_KEY = "cell_type_shares.py"
LABEL = "cell type shares"


def cell_type_shares() -> ln.Artifact:
    """Load the pipeline's summary in a tracked run and save the share of each cell type.

    Runs on the active catalog. Returns the saved artifact (the existing one when the shares
    did not change).

    Raises:
        DoesNotExist: the seed pipeline has not made the summary yet.
    """
    ln.track(key=SCRIPT_KEY, description="share of each cell type across datasets")
    try:
        summary = ln.Artifact.filter(key=SUMMARY_KEY, is_latest=True).one()
        table = summary.load()
        counts = table.groupby("cell_type")["n_cells"].sum()
        shares = (counts / counts.sum()).rename("share").reset_index()
        derived = ln.Artifact.from_df(
            shares, key=SHARES_KEY, description="Share of each cell type across both datasets."
        ).save()
        derived.labels.add(ln.ULabel.from_values([LABEL], create=True).save())
    except BaseException:
        ln.finish(status="errored")
        raise
    ln.finish()
    return derived
