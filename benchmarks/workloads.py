"""Workload bodies both catalogs share: what is timed, what is checked, what is reported.

LaminDB and lamin_core spell a few calls differently (`to_dataframe(limit=None)` vs `df()`,
Django vs SQLAlchemy setup), but a workload must do the same thing on both sides, so its timed
loop, its `check` and its `observed` values are written once here; each side passes the calls in
its own API as small functions. Imports neither catalog.
"""

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import data
import harness


def timed(
    timings: dict[str, float], name: str, fn: Callable[..., Any], *args: Any, **kwargs: Any
) -> Any:
    """Return `fn(*args, **kwargs)`; store its wall seconds as `name`, CPU as ``cpu:<name>``.

    CPU time is kept because the machine is shared: it shows what a call costs when the wall
    time also counts waiting for other processes.
    """
    start, start_cpu = time.perf_counter(), time.process_time()
    value = fn(*args, **kwargs)
    timings[name] = time.perf_counter() - start
    timings[f"cpu:{name}"] = time.process_time() - start_cpu
    return value


def count_names(value: Any) -> int:
    """Count the names in an include column cell (a set, a list, one string, or empty)."""
    if isinstance(value, (set, list, tuple)):
        return len([name for name in value if name is not None])
    return 0 if value is None or value != value else 1


def register_df(
    save: Callable[[str, Any], None],
    count: Callable[[], int],
    size: int,
    seed: int,
    call: str,
    statements: Callable[[], int] | None = None,
) -> harness.Workload:
    """Register `size` new small DataFrames per repeat, one `save(key, df)` each.

    Each repeat uses fresh tables (indices continue across repeats) so nothing is deduplicated
    by hash; building them is not timed. `statements` returns how many SQL statements the side
    has sent so far: their number per save (round trips, beside BEGIN/COMMIT) is reported.
    """
    frames: list[tuple[str, Any]] = []
    per_save: list[float] = []

    def prepare(index: int) -> None:
        frames[:] = [
            (data.register_df_key(i), data.small_dataframe(i, seed))
            for i in range(index * size, (index + 1) * size)
        ]

    def run(index: int) -> None:
        before = statements() if statements else 0
        for key, df in frames:
            save(key, df)
        if statements and index > 0:  # the warm-up's first save creates the storage record
            per_save.append((statements() - before) / size)

    def observed() -> dict[str, float] | None:
        return {"sql_statements_per_save": statistics.median(per_save)} if per_save else None

    return harness.Workload(
        run=run,
        check=lambda: {"artifacts": count()},
        prepare=prepare,
        items=size,
        unit="artifact",
        observed=observed,
        notes={"call": call},
    )


def bulk_insert(ln: Any, size: int) -> harness.Workload:
    """Build `size` new ULabels and save them with one `ln.save` per repeat, as a user loading a
    vocabulary does (search index included); `ln` is either side's module, whose API is the
    same here. Names continue across repeats, so every repeat inserts new rows; generating them
    is not timed.
    """
    names: list[str] = []

    def prepare(index: int) -> None:
        names[:] = data.label_names(size * (index + 1))[size * index :]

    def run(index: int) -> None:
        ln.save([ln.ULabel(name=name) for name in names])

    return harness.Workload(
        run=run,
        check=lambda: {"labels": ln.ULabel.filter().count()},
        prepare=prepare,
        items=size,
        unit="label",
        notes={"call": "ln.save([ln.ULabel(name=name) for name in names])"},
    )


def bulk_genes(fresh_catalog: Callable[[int], Any], ids: list[str], call: str) -> harness.Workload:
    """Save `ids` (Ensembl ids) as new genes: ``from_values`` then ``ln.save``, timed apart.

    `fresh_catalog(index)` opens a new, empty catalog for each repeat (untimed) and returns
    the side's (ln, bt) modules: the genes are new every time, as when a team loads its first
    gene table.
    """
    modules: list[Any] = []

    def prepare(index: int) -> None:
        modules[:] = fresh_catalog(index)

    def run(index: int) -> dict[str, float]:
        ln, bt = modules
        timings: dict[str, float] = {}
        genes = timed(
            timings, "from_values", bt.Gene.from_values, ids, field="ensembl_gene_id",
            organism="human",
        )  # fmt: skip
        timed(timings, "save", ln.save, genes)
        return timings

    return harness.Workload(
        run=run,
        check=lambda: {"genes": modules[1].Gene.filter().count()},
        prepare=prepare,
        items=len(ids),
        unit="gene",
        notes={"call": call},
    )


def search(
    search_df: Callable[[str], Any], names: list[str], queries: tuple[str, ...], call: str
) -> harness.Workload:
    """Time `search_df(query)` (a search to a DataFrame with a ``name`` column) per query.

    The check is whether the record named exactly like the query is found; rankings and hit
    counts differ legitimately (typo tolerance) and are reported under `observed`.
    """
    hits: dict[str, list[str]] = {}

    def run(index: int) -> dict[str, float]:
        timings: dict[str, float] = {}
        for query in queries:
            df = timed(timings, f"search:{query}", search_df, query)
            hits[query] = df["name"].tolist() if "name" in df else []
        return timings

    return harness.Workload(
        run=run,
        check=lambda: data.exact_hits(queries, hits, set(names)),
        observed=lambda: {
            "top_hit": [hits[q][0] if hits[q] else None for q in queries],
            "n_hits": [len(hits[q]) for q in queries],
        },
        items=len(queries),
        unit="query",
        records=len(names),
        item_timings="search:",
        notes={"call": call, "queries": queries},
    )


def query_df(
    filter_df: Callable[[Any, int], Any],
    include_df: Callable[[], Any],
    labels: list[Any],
    notes: dict[str, str],
) -> harness.Workload:
    """Time the QUERY_FILTERS (`filter_df(label, size threshold)`) and the include table.

    `labels` are the 30 label records in `data.query_label_names()` order; `include_df()` must
    return every artifact with a ``ulabels__name`` column.
    """
    result: dict[str, Any] = {}

    def run(index: int) -> dict[str, float]:
        timings: dict[str, float] = {}
        rows = []
        for k, (j, threshold) in enumerate(data.QUERY_FILTERS):
            df = timed(timings, f"query:filter_{k}", filter_df, labels[j], threshold)
            rows.append(len(df))
        result["filter_rows"] = rows
        result["include"] = timed(timings, "query:include", include_df)
        return timings

    def check() -> dict[str, Any]:
        # counted here, not in run(): counting is not the API under test
        include = result["include"]
        return {
            "filter_rows": result["filter_rows"],
            "include_rows": len(include),
            "include_label_links": int(include["ulabels__name"].map(count_names).sum()),
        }

    return harness.Workload(
        run=run,
        check=check,
        items=len(data.QUERY_FILTERS) + 1,
        unit="query",
        item_timings="query:",
        notes=notes,
    )


def lookup(make_lookup: Callable[[], Any], names: list[str], call: str) -> harness.Workload:
    """Time `make_lookup()` (``Registry.lookup()``) plus one attribute access on the result.

    The check counts the records reachable through the lookup's ``dict()`` (a name several
    records share maps to a list) and the record the probe attribute returns. The number of
    distinct attributes is reported, not checked: the two catalogs derive attribute names from
    odd names differently.
    """
    _, probe_key = data.lookup_probe(names)
    result: dict[str, Any] = {}

    def run(index: int) -> None:
        entries = make_lookup()
        result["probe"] = getattr(entries, probe_key).name
        result["entries"] = entries

    def by_attribute() -> dict[str, Any]:
        return result["entries"].dict()

    def check() -> dict[str, Any]:
        values = by_attribute().values()
        reachable = sum(len(v) if isinstance(v, list) else 1 for v in values)
        return {"records": reachable, "probe": result["probe"]}

    return harness.Workload(
        run=run,
        check=check,
        observed=lambda: {"attributes": len(by_attribute())},
        items=len(names),
        unit="record",
        notes={"call": f"{call}.{probe_key}"},
    )


# Starts the measured process from a small interpreter: Linux counts the memory a process had
# before exec() in its peak, so a child forked by the (large) benchmark process itself would
# report the benchmark's own memory. Times fork to exit, so its own start-up is not counted.
LAUNCHER = """
import os, sys, time
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
elapsed = time.perf_counter() - start
cpu = usage.ru_utime + usage.ru_stime
with open(sys.argv[1], "w") as out:
    out.write(f"{elapsed} {cpu} {usage.ru_maxrss} {os.waitstatus_to_exitcode(status)}")
"""


def run_process(argv: list[str], cwd: Path) -> tuple[float, float, float]:
    """Run `argv` (argv[0] a full path) as a new process; return its wall and CPU seconds and
    its peak MiB.

    Output goes to a temporary file, shown when the process fails.
    """
    import subprocess
    import sys

    with tempfile.TemporaryDirectory() as scratch, tempfile.TemporaryFile() as output:
        report = Path(scratch) / "report"
        launcher = [sys.executable, "-S", "-c", LAUNCHER, str(report), *argv]
        subprocess.run(launcher, cwd=cwd, stdout=output, stderr=subprocess.STDOUT, check=False)
        elapsed, cpu, peak_kb, code = report.read_text().split()
        if int(code) != 0:
            output.seek(0)
            tail = output.read().decode(errors="replace")[-2000:]
            raise RuntimeError(f"{argv[:3]} exited with {code}:\n{tail}")
    return float(elapsed), float(cpu), int(peak_kb) / 1024


def whole_processes(commands: dict[str, list[str]], cwd: Path, measure: str) -> harness.Workload:
    """Time each command as a new process per repeat (cold start), with its peak memory.

    Every command runs once per repeat; the repeat's time is the `measure` command's, the others
    are reported beside it. Peak memory per command is the median over the timed repeats.
    """
    peaks: dict[str, list[float]] = {name: [] for name in commands}

    def run(index: int) -> dict[str, float]:
        timings: dict[str, float] = {}
        for name, argv in commands.items():
            timings[name], timings[f"{name}_cpu"], peak = run_process(argv, cwd)
            if index > 0:
                peaks[name].append(peak)
        return timings

    def observed() -> dict[str, Any]:
        return {
            f"{name}_peak_mb": round(sorted(values)[len(values) // 2], 1)
            for name, values in peaks.items()
            if values
        }

    return harness.Workload(
        run=run,
        check=lambda: {"commands": sorted(commands)},
        items=None,
        unit="process",
        measure=measure,
        observed=observed,
        notes={name: " ".join(argv[1:]) for name, argv in commands.items()},
    )
