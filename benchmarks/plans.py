"""What `make bench` (`--full`) and `make bench-quick` (`--quick`) run, and the targets.

A `Case` is one workload at one size; both of its sides run alternately (see `run.py`). The
LaminDB side is capped at the largest sizes (repeats and a time budget), because LaminDB takes
minutes per repeat there; capped results say so in the report. Targets come from the issues;
each applies from a size on (the size the issue names), smaller sizes show no verdict.
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# sides: "lamin_core" (ours) is compared with "lamindb" or, where LaminDB has no counterpart,
# with "reference" (md5sum, Dagster's UPathIOManager)
OURS = "lamin_core"
CURATION = "curation_bench.py"
ALL_TAXA = 10_000_000  # more than the snapshot holds: search_taxon then uses every term


@dataclass(frozen=True)
class Target:
    """A performance target and the sizes it applies to.

    Attributes:
        text: The target in words, for the report.
        from_size: Smallest size (records, when the result says how many) it applies to.
        to_size: Largest size it applies to (None: no limit).
        min_speedup: Reference time / our time must be at least this.
        ours_max_s: Our `metric` must be at most this many seconds.
        max_extra_s: Our median may exceed the reference's by at most this many seconds.
        metric: The result field `ours_max_s` applies to ("median_s" or "item_p50_s").
    """

    text: str
    from_size: int = 1
    to_size: int | None = None
    min_speedup: float | None = None
    ours_max_s: float | None = None
    max_extra_s: float | None = None
    metric: str = "median_s"

    def applies(self, size: int) -> bool:
        """Return whether the target is set for this size."""
        return size >= self.from_size and (self.to_size is None or size <= self.to_size)

    def met(
        self, ours: dict[str, Any], reference: dict[str, Any], speedup: float | None
    ) -> bool | None:
        """Return whether the target is met (None when a needed number is missing)."""
        verdicts = []
        if self.min_speedup is not None:
            verdicts.append(None if speedup is None else speedup >= self.min_speedup)
        if self.ours_max_s is not None:
            value = ours.get(self.metric)
            verdicts.append(None if value is None else value <= self.ours_max_s)
        if self.max_extra_s is not None:
            if ours.get("median_s") is None or reference.get("median_s") is None:
                verdicts.append(None)
            else:
                verdicts.append(ours["median_s"] - reference["median_s"] <= self.max_extra_s)
        if any(v is None for v in verdicts):
            return None
        return all(verdicts)


@dataclass(frozen=True)
class Spec:
    """How a workload is compared: against whom (None: ours only), in what unit, with which
    targets (the first that applies to a size counts)."""

    reference: str | None  # side name
    reference_label: str
    size_unit: str
    targets: tuple[Target, ...] = ()

    def target(self, size: int) -> Target | None:
        """Return the target set for this size, if any."""
        return next((t for t in self.targets if t.applies(size)), None)


SPECS: dict[str, Spec] = {
    # issue 15: whole processes (connect + count; `lamin-core info` beside it), peak memory in
    # the observed values (target <= 90 MB)
    "cold_start": Spec(
        "lamindb",
        "LaminDB",
        "process",
        (Target("≤ 0.35 s and ≥ 3x faster than LaminDB", ours_max_s=0.35, min_speedup=3.0),),
    ),
    "dagster_import": Spec(
        "reference",
        "import dagster, pandas",
        "process",
        (Target("≤ 0.1 s over import dagster, pandas", max_extra_s=0.1),),
    ),
    "register_df": Spec(
        "lamindb",
        "LaminDB",
        "DataFrames per repeat",
        (Target("≥ 4x faster per artifact than LaminDB", min_speedup=4.0),),
    ),
    # issue 3: every workload >= 5x LaminDB at the size it names; p50 <= 30 ms at 1.26 M terms
    "search": Spec(
        "lamindb",
        "LaminDB",
        "labels",
        (Target("≥ 5x faster than LaminDB", from_size=100_000, to_size=100_000, min_speedup=5.0),),
    ),
    "search_taxon": Spec(
        "lamindb",
        "LaminDB",
        "NCBITaxon terms",
        (
            Target(
                "p50 ≤ 30 ms per query (ours, warm, SQLite) and ≥ 5x faster than LaminDB",
                from_size=1_000_000,
                ours_max_s=0.030,
                min_speedup=5.0,
                metric="item_p50_s",
            ),
        ),
    ),
    # issue 15: a vocabulary loaded through the public API, search index included
    "bulk_insert": Spec(
        "lamindb",
        "LaminDB",
        "labels per repeat",
        (Target("≥ 2x faster than LaminDB", min_speedup=2.0),),
    ),
    # issue 15: 60,000 public genes new to the catalog, from_values + ln.save, ours only (LaminDB's
    # bt.Gene.from_values downloads its gene table: not offline)
    "bulk_genes": Spec(
        None,
        "(none: ours only)",
        "genes",
        (Target("≤ 1.5 s for 60,000 new genes", from_size=60_000, ours_max_s=1.5),),
    ),
    "query_df": Spec(
        "lamindb",
        "LaminDB",
        "artifacts x 3 labels",
        (Target("≥ 5x faster than LaminDB", from_size=10_000, to_size=10_000, min_speedup=5.0),),
    ),
    "lookup": Spec(
        "lamindb",
        "LaminDB",
        "records",
        (Target("≥ 5x faster than LaminDB", from_size=100_000, to_size=100_000, min_speedup=5.0),),
    ),
    "validate": Spec(
        "lamindb",
        "LaminDB",
        "obs",
        (
            Target(
                "ours ≤ 1 s and ≥ 10x faster than LaminDB",
                from_size=1_000_000,
                min_speedup=10.0,
                ours_max_s=1.0,
            ),
        ),
    ),
    "hash_file": Spec(
        "reference",
        "md5sum",
        "MiB",
        (Target("ours ≤ 1.3x md5sum's time", from_size=1024, min_speedup=1 / 1.3),),
    ),
    # the curation engineer's benchmark (curation_bench.py): an all-valid dataset, ours only
    "curation": Spec(
        None,
        "(none: ours only)",
        "obs",
        (Target("validate() ≤ 1 s", from_size=1_000_000, ours_max_s=1.0),),
    ),
    # issue 15 (was +15 ms and 1.3x in io_manager_bench.py)
    "io_manager": Spec(
        "reference",
        "Dagster UPathIOManager (parquet)",
        "rows",
        (
            Target("≤ +3 ms per output", to_size=1_000, max_extra_s=0.003),
            Target("≤ 1.1x UPathIOManager's time", from_size=1_000_000, min_speedup=1 / 1.1),
        ),
    ),
    # issue 15: a chain of 20 small DataFrame assets (dagster_pipeline.py), whole Dagster runs;
    # peak memory beside every figure (the largest step process's in observed, multiprocess)
    "dagster_pipeline": Spec(
        "reference",
        "Dagster FilesystemIOManager, in-process",
        "assets in a chain",
        (Target("≤ 1.1x FilesystemIOManager's time", from_size=20, min_speedup=1 / 1.1),),
    ),
    "dagster_pipeline_multiprocess": Spec(
        "reference",
        "Dagster FilesystemIOManager, multiprocess",
        "assets in a chain",
        (Target("≤ 1.1x FilesystemIOManager's time", from_size=20, min_speedup=1 / 1.1),),
    ),
}
WORKLOADS = tuple(SPECS)
# workloads drawn in the scaling plot (full run: 10^3 .. 10^6 records)
SCALING = ("search", "query_df")


@dataclass(frozen=True)
class Case:
    """One workload at one size.

    Attributes:
        repeat: Timed repeats per side (after one warm-up each).
        params: Extra workload options (`--param`), e.g. fewer genes in the quick run.
        cap_repeat: At most this many timed repeats for the reference side.
        cap_s: Stop the reference side's repeats once they took this long in total.
        requires: A file in benchmarks/ the workload imports, written by another engineer; the
            case is reported as not run while it is not in the checkout.
    """

    workload: str
    size: int
    repeat: int
    params: dict[str, str] = field(default_factory=dict)
    cap_repeat: int | None = None
    cap_s: float | None = None
    requires: str | None = None

    @property
    def db(self) -> str:
        """The database both sides run on: "sqlite" (default) or "postgresql"."""
        return self.params.get("db", "sqlite")

    def missing(self) -> str | None:
        """Return why the case cannot run in this checkout, or None."""
        if self.requires and not (Path(__file__).parent / self.requires).exists():
            return f"benchmarks/{self.requires} is not in this checkout"
        if self.db == "postgresql":
            from benchmarks import data

            return data.postgres_unreachable()
        return None

    @property
    def spec(self) -> Spec:
        """How this case is compared."""
        return SPECS[self.workload]


# issue 15: both sides on the PostgreSQL server, each in a new database (harness.database);
# `run --quick --db postgresql` runs the quick ones, `run --full` all of them
PG = {"db": "postgresql"}
POSTGRES_QUICK = (
    Case("register_df", 20, 3, params=PG),
    Case("query_df", 1_000, 3, params=PG),
    Case("search", 1_000, 3, params=PG),
    Case("lookup", 1_000, 3, params=PG),
    Case("validate", 1_000, 2, params={"n_genes": "2000", **PG}),
)
POSTGRES_FULL = (
    Case("register_df", 200, 5, params=PG),
    *(Case("query_df", n, 5, params=PG) for n in (1_000, 10_000, 100_000)),
    Case("query_df", 1_000_000, 3, params=PG, cap_repeat=2, cap_s=150),
    *(Case("search", n, 5, params=PG) for n in (1_000, 10_000, 100_000)),
    Case("search", 1_000_000, 3, params=PG, cap_repeat=2, cap_s=150),
    Case("lookup", 10_000, 5, params=PG),
    Case("validate", 100_000, 3, params=PG, cap_repeat=2, cap_s=200),
)

# CI-friendly: every workload once, small, in under 3 minutes on 2 cores.
QUICK = (
    Case("cold_start", 1, 3),
    Case("dagster_import", 1, 3),
    Case("register_df", 20, 3),
    Case("search", 1_000, 3),
    Case("search_taxon", 10_000, 3),
    Case("query_df", 1_000, 3),
    Case("lookup", 1_000, 3),
    Case("validate", 1_000, 2, params={"n_genes": "2000"}),
    Case("curation", 1_000, 2, {"n_genes": "2000", "n_categories": "100"}, requires=CURATION),
    Case("hash_file", 64, 3),
    Case("io_manager", 1_000, 3),
    Case("bulk_insert", 1_000, 3),
    Case("bulk_genes", 5_000, 2),
    Case("dagster_pipeline", 5, 3),
    # the multiprocess run spawns an interpreter per step (seconds each): full run only
)

# The sizes the issues name, plus 10^3..10^6 for the scaling plot; about an hour on 2 cores,
# half of it setting up the million-record catalogs (both sides at once). LaminDB takes minutes
# per repeat at the largest sizes: capped there.
FULL = (
    Case("cold_start", 1, 7),
    Case("dagster_import", 1, 7),
    Case("register_df", 200, 5),
    *(Case("search", n, 5) for n in (1_000, 10_000, 100_000)),
    Case("search", 1_000_000, 5, cap_repeat=2, cap_s=150),
    Case("search_taxon", ALL_TAXA, 5, cap_repeat=2, cap_s=150),
    *(Case("query_df", n, 5) for n in (1_000, 10_000)),
    Case("query_df", 100_000, 3),
    Case("query_df", 1_000_000, 3, cap_repeat=2, cap_s=150),
    *(Case("lookup", n, 5) for n in (1_000, 10_000)),
    Case("lookup", 100_000, 5, cap_repeat=2, cap_s=150),  # LaminDB: ~2 min per lookup()
    Case("validate", 1_000_000, 3, cap_repeat=2, cap_s=200),
    Case("curation", 1_000_000, 3, requires=CURATION),
    Case("hash_file", 1024, 5),
    Case("io_manager", 1_000, 5),
    Case("io_manager", 1_000_000, 5),
    Case("dagster_pipeline", 20, 5),
    Case("dagster_pipeline_multiprocess", 20, 3),
    Case("bulk_insert", 10_000, 5),
    Case("bulk_insert", 100_000, 3, cap_repeat=2, cap_s=600),
    Case("bulk_genes", 60_000, 3),
    Case("bulk_genes", 60_000, 3, params=PG),
    *POSTGRES_FULL,
)
