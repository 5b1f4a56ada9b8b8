"""`make demo`: build a fresh catalog with the example Dagster pipeline, then query it.

1. Dagster materializes the seed guide's pipeline (raw image, fastq and iris -> two curated AnnData
   datasets -> a per-cell-type summary) and the failing-validation job into the catalog. The runs,
   materializations and checks are recorded in the catalog's Dagster home (<storage>/.dagster),
   which `make dagster-ui` shows. Dagster's log is quiet (warnings only) unless --verbose.
2. Between two pipelines, a tracked script step (as in a notebook) loads the summary and saves
   the share of each cell type; the report pipeline depends on that artifact through
   `lamin_external_assets`, so lineage runs from Dagster assets through ordinary code into
   Dagster again, and the Dagster UI shows it as one graph.
3. The catalog is queried as LaminDB's guide does: tables, includes, features, filters, search,
   transforms, runs and lineage.
4. The lineage is written out: the graph of the derived table as <storage>/lineage.svg, and
   every Run as OpenLineage events in <storage>/openlineage.jsonl.

Usage: python -m example_pipelines.demo --storage demo-catalog [--verbose]
"""

import argparse
import shutil
import sys
from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.rule import Rule

console = Console(width=160)
REPORT_KEY = "reports/dominant_cell_type.parquet"


def show(title: str, value: object) -> None:
    """Print a titled section."""
    console.print(Rule(f"[bold]{title}"))
    if isinstance(value, pd.DataFrame):
        with pd.option_context("display.width", 160, "display.max_columns", 12):
            console.print(value.to_string(max_colwidth=40), highlight=False, soft_wrap=True)
    else:
        console.print(value, highlight=False)


def main(argv: list[str] | None = None) -> int:
    """Run the demo; return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--storage", default="demo-catalog", help="catalog folder (recreated)")
    parser.add_argument(
        "--verbose", action="store_true", help="show Dagster's DEBUG log and stack traces"
    )
    args = parser.parse_args(argv)
    storage = Path(args.storage).resolve()
    shutil.rmtree(storage, ignore_errors=True)

    import dagster as dg

    import lamin_core as ln
    from example_pipelines import materialize_demo
    from example_pipelines.catalog import dagster_home
    from lamin_core.artifacts.fsck import fsck
    from lamin_core.lineage import describe_lineage
    from lamin_core.lineage.openlineage import export_events

    home = dagster_home(storage)
    ui = ui_command(storage)
    console.print(f"[bold]Materializing the example pipelines into {storage}[/bold]")
    console.print(f"Dagster records the runs in {home}", highlight=False)

    def announce_failing_job() -> None:
        console.print(
            "\n[bold]Next: the job 'failing_validation' is meant to fail.[/bold] Its dataset has "
            "misspelled cell types, so the blocking check lamin_validation of "
            "example_datasets/dataset_with_typos fails, nothing is saved and typo_summary is "
            "skipped. Look at the failed check below ('failed blocking checks') and in the "
            f"Dagster UI ({ui}: Assets > example_datasets/dataset_with_typos > Checks).\n",
            highlight=False,
        )

    with dg.DagsterInstance.from_config(str(home)) as dagster_instance:
        result = materialize_demo(
            str(storage),
            dagster_instance=dagster_instance,
            quiet=not args.verbose,
            before_failing_job=announce_failing_job,
        )
    instance = ln.init(storage=storage)
    report = ln.Artifact.filter(key=REPORT_KEY, is_latest=True).one()

    show("ln.Artifact.df()", ln.Artifact.df())
    show(
        'ln.Artifact.df(include=["created_by__name", "ulabels__name", "feature_sets__registry"])',
        ln.Artifact.df(include=["created_by__name", "ulabels__name", "feature_sets__registry"])[
            ["key", "created_by__name", "ulabels__name", "feature_sets__registry"]
        ],
    )
    show("ln.Artifact.df(features=True)", ln.Artifact.df(features=True).drop(columns=["uid"]))
    study1 = ln.ULabel.get(name="Candidate marker study 1")
    show(
        'ln.Artifact.filter(suffix=".h5ad", ulabels=study1).df()',
        ln.Artifact.filter(suffix=".h5ad", ulabels=study1).df()[["key", "size", "hash"]],
    )
    show(
        'ln.Artifact.filter(ln.Q(suffix=".jpg") | ln.Q(suffix=".fastq.gz")).df()',
        ln.Artifact.filter(ln.Q(suffix=".jpg") | ln.Q(suffix=".fastq.gz")).df()[["key", "size"]],
    )
    show('ln.Artifact.search("iris").df()', ln.Artifact.search("iris").df()[["key", "score"]])
    show(
        'bt.CellType.search("lymphocite")  (typo)',
        _public_cell_type_search("lymphocite"),
    )
    show(
        "ln.Transform.df()",
        ln.Transform.df()[["key", "type", "version", "is_latest", "reference"]],
    )
    run_columns = ["transform__key", "status", "reference_type", "reference", "initiated_by_run_id"]
    show(f"ln.Run.df(include={run_columns})", ln.Run.df(include=run_columns)[run_columns])
    show(
        f"lineage of {report.key} (Dagster -> notebook step -> Dagster)",
        describe_lineage(report),
    )
    report.view_lineage()  # draws it and prints where
    show(
        "failed blocking checks (failing_validation job, meant to fail)",
        "\n".join(f"{name}: {text}" for name, text in result.check_descriptions.items()),
    )
    show("lamin-core fsck", str(fsck(instance)))
    raw = ln.Artifact.filter(key__startswith="example_datasets/dataset1").first()
    if raw is not None:
        derived_from_raw = ln.lineage(raw, upstream=False).artifacts
        show(
            f"ln.lineage({raw.key!r}, upstream=False).artifacts  (derived from it)",
            "\n".join(artifact.key or artifact.uid for artifact in derived_from_raw),
        )
    drawing = ln.lineage(report).to_svg(storage / "lineage.svg")
    events_file = storage / "openlineage.jsonl"
    n_events = export_events(to=events_file, instance=instance)
    console.print(f"\nLineage of {report.key} drawn to {drawing}", highlight=False, soft_wrap=True)
    console.print(
        f"{n_events} OpenLineage events of {ln.Run.filter().count()} runs written to {events_file}",
        highlight=False,
        soft_wrap=True,
    )
    console.print(
        f"\nCatalog in {storage}, its Dagster runs in {home}.\nBrowse both in the Dagster UI: {ui}",
        highlight=False,
        soft_wrap=True,
    )
    return 0


def ui_command(storage: Path) -> str:
    """Return the command that opens the Dagster UI on the demo's catalog and Dagster home."""
    if storage == (Path.cwd() / "demo-catalog").resolve():
        return "make dagster-ui"
    return (
        f"DAGSTER_HOME={storage / '.dagster'} LAMIN_DAGSTER_STORAGE={storage} "
        ".venv/bin/dagster dev -w workspace.yaml"
    )


def _public_cell_type_search(text: str) -> pd.DataFrame:
    import lamin_core.bio as bt

    return bt.CellType.public().search(text, limit=3)[["name", "score"]]


if __name__ == "__main__":
    sys.exit(main())
