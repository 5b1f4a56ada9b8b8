"""Search quality: recall of seeded typos of real names, latency, and the exhaustive ceiling.

For each vocabulary (Cell Ontology, UBERON, MONDO, NCBITaxon, human gene symbols) the catalog
holds every term (name and synonyms) in its bio registry; 150 names of 5-9 and 150 of 10-30
characters are drawn with a seeded RNG and misspelled: one edit each (deletion, insertion,
substitution, transposition in turn, at a random position), and a second query with two edits
for names of 12+ characters. Each query is searched with ``Registry.search(q, limit=5)``; the
report gives recall@1 and recall@5 (the intended record first / among the first five), and the
p50 and p95 latency, per vocabulary, length and number of edits. Beside them:

- the ceiling: our ranking (`lamin_core.search.ranking.rank`) over every record of the
  vocabulary, not only the candidates the index gives (records prefiltered exhaustively with
  rapidfuzz: the 200 best by WRatio and every one within two edits);
- LaminDB 2.12's ``search`` on the same queries and data (``lamindb_side.py search_quality``),
  when its venv exists (``bash benchmarks/lamindb_setup.sh``).

    python -m benchmarks.search_quality --out /tmp/sq --vocabularies CL,genes
    python -m benchmarks.run --workloads search_quality      # the same, into latest.md

Prints JSON lines to stderr while it runs and writes ``search_quality.json`` and
``search_quality.md`` into --out.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import data  # noqa: E402

VOCABULARIES = ("CL", "UBERON", "MONDO", "NCBITaxon", "genes")
REGISTRY = {
    "CL": "CellType",
    "UBERON": "Tissue",
    "MONDO": "Disease",
    "NCBITaxon": "Organism",
    "genes": "Gene",
}
# NCBITaxon terms loaded (the first by taxon id); --taxon-records measures on a subset, as a
# full load takes minutes
TAXON_RECORDS = 10_000_000
PER_BIN = 150
BINS = ((5, 9), (10, 30))
EDITS = ("deletion", "insertion", "substitution", "transposition")
TWO_EDITS_FROM = 12
SEED = 11
LETTERS = "abcdefghijklmnopqrstuvwxyz"


def records(vocabulary: str) -> list[tuple[str, str, tuple[str, ...]]]:
    """Return (id, name, synonyms) of every term of a vocabulary."""
    if vocabulary == "genes":
        return [(ensembl, symbol, ()) for ensembl, symbol in data.human_genes()]
    if vocabulary == "NCBITaxon":
        terms = data.taxon_subset(TAXON_RECORDS)
    else:
        terms = data.ontology_terms(vocabulary)
    return [(t.ontology_id, t.name, t.synonyms) for t in terms]


def misspell(name: str, kind: str, rng: random.Random) -> str:
    """Return `name` with one edit of `kind` at a random position (never a no-op)."""
    i = rng.randrange(0, len(name))
    if kind == "deletion":
        return name[:i] + name[i + 1 :]
    if kind == "insertion":
        return name[:i] + rng.choice(LETTERS) + name[i:]
    if kind == "substitution":
        current = name[i].lower()
        return name[:i] + rng.choice(LETTERS.replace(current, "")) + name[i + 1 :]
    i = min(i, len(name) - 2)
    for j in [*range(i, len(name) - 1), *range(0, i)]:
        if name[j].lower() != name[j + 1].lower():
            return name[:j] + name[j + 1] + name[j] + name[j + 2 :]
    return name[:i] + name[i + 1 :]  # all letters alike: a deletion


def queries(vocabulary: str, seed: int = SEED) -> list[dict[str, Any]]:
    """Return the seeded queries of a vocabulary: intended name, query, bin, edits, kinds."""
    rng = random.Random(f"{seed}-{vocabulary}")
    names = sorted({name for _id, name, _syn in records(vocabulary)})
    counts: dict[str, int] = {}
    for name in names:
        counts[name.casefold()] = counts.get(name.casefold(), 0) + 1
    result = []
    for low, high in BINS:
        pool = [n for n in names if low <= len(n) <= high and counts[n.casefold()] == 1]
        chosen = rng.sample(pool, min(PER_BIN, len(pool)))
        for index, name in enumerate(chosen):
            kind = EDITS[index % len(EDITS)]
            one = misspell(name, kind, rng)
            bin_name = f"{low}-{high}"
            result.append(
                {"name": name, "query": one, "bin": bin_name, "edits": 1, "kinds": [kind]}
            )
            if len(name) >= TWO_EDITS_FROM:
                second = EDITS[(index + 1) % len(EDITS)]
                two = misspell(one, second, rng)
                result.append(
                    {
                        "name": name,
                        "query": two,
                        "bin": bin_name,
                        "edits": 2,
                        "kinds": [kind, second],
                    }
                )
    return result


def mark_rivals(vocabulary: str, cases: list[dict[str, Any]]) -> None:
    """Add to each case ``rivals``: the other records as close to its query as the intended name.

    A record is a rival when its name or a synonym is within the query's Damerau-Levenshtein
    (OSA) distance of the intended name, ignoring case: "RNA5SP59", a typo of RNA5SP509, is
    another gene; "ENSG0000029v080" is one substitution away from ENSG00000297080 and from nine
    other Ensembl ids (genes without a symbol carry their id as symbol). No ranking can put the
    intended record first when it has a rival, nor among the first five with five of them:
    `summarize` reports recall over the cases without (``clear``) beside the raw figure.
    """
    from rapidfuzz import process
    from rapidfuzz.distance import OSA

    from lamin_core.search.ranking import normalize

    values: list[str] = []
    owners: list[int] = []
    own: dict[str, int] = {}
    for index, (_id, name, synonyms) in enumerate(records(vocabulary)):
        own.setdefault(normalize(name), index)
        for value in (name, *synonyms):
            values.append(normalize(value))
            owners.append(index)
    for case in cases:
        query, intended = normalize(case["query"]), normalize(case["name"])
        distance = OSA.distance(query, intended)
        near = process.extract(
            query, values, scorer=OSA.distance, score_cutoff=distance, limit=None
        )
        case["rivals"] = len({owners[i] for _v, _d, i in near} - {own[intended]})


def summarize(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return recall@1, recall@5, p50 and p95 (ms) per bin and number of edits.

    With `mark_rivals` run, also the recall over the cases a ranking can get right: @1 over the
    cases without a rival, @5 over those with fewer than five (``clear_*``).
    """
    groups: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for row in results:
        groups.setdefault((row["bin"], row["edits"]), []).append(row)
    summary = []
    for (bin_name, edits), rows in sorted(groups.items()):
        times = sorted(row["seconds"] for row in rows if row.get("seconds") is not None)
        entry: dict[str, Any] = {
            "bin": bin_name,
            "edits": edits,
            "n": len(rows),
            "recall@1": sum(row["rank"] == 1 for row in rows) / len(rows),
            "recall@5": sum(row["rank"] is not None and row["rank"] <= 5 for row in rows)
            / len(rows),
        }
        if all("rivals" in row for row in rows):
            clear1 = [row for row in rows if row["rivals"] == 0]
            clear5 = [row for row in rows if row["rivals"] < 5]
            entry["clear_n@1"], entry["clear_n@5"] = len(clear1), len(clear5)
            entry["clear_recall@1"] = (
                sum(row["rank"] == 1 for row in clear1) / len(clear1) if clear1 else None
            )
            entry["clear_recall@5"] = (
                sum(row["rank"] is not None and row["rank"] <= 5 for row in clear5) / len(clear5)
                if clear5
                else None
            )
        if times:
            entry["p50_ms"] = 1000 * statistics.median(times)
            entry["p95_ms"] = 1000 * times[min(len(times) - 1, int(0.95 * len(times)))]
            # CPU time: what a query costs when the shared machine makes it wait
            entry["cpu_p50_ms"] = 1000 * statistics.median(row["cpu"] for row in rows)
        summary.append(entry)
    return summary


def position(found: list[str], name: str) -> int | None:
    """Return the 1-based position of `name` among the names found (case-insensitive)."""
    wanted = name.casefold()
    for index, other in enumerate(found, start=1):
        if other.casefold() == wanted:
            return index
    return None


def evaluate(search: Callable[[str], list[str]], cases: list[dict[str, Any]]) -> list[dict]:
    """Run every query once through `search` (warm: one untimed pass first); return results."""
    for case in cases[:20]:
        search(case["query"])
    results = []
    for case in cases:
        start, start_cpu = time.perf_counter(), time.process_time()
        found = search(case["query"])
        seconds, cpu = time.perf_counter() - start, time.process_time() - start_cpu
        results.append(
            case | {"rank": position(found, case["name"]), "seconds": seconds, "cpu": cpu}
        )
    return results


def ceiling(vocabulary: str, cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rank every record of the vocabulary with our ranking (see module docstring)."""
    from rapidfuzz import fuzz, process
    from rapidfuzz.distance import OSA

    from lamin_core.search.ranking import Candidate, normalize, rank

    rows = records(vocabulary)
    values = [normalize(name) for _id, name, _syn in rows]
    synonyms = ["|".join(syn) for _id, _name, syn in rows]
    results = []
    for case in cases:
        query = normalize(case["query"])
        chosen = {i for _v, _s, i in process.extract(query, values, scorer=fuzz.WRatio, limit=200)}
        chosen.update(
            i
            for _v, _s, i in process.extract(
                query, values, scorer=OSA.distance, score_cutoff=2, limit=None
            )
        )
        chosen.update(i for i, value in enumerate(values) if query in value)
        candidates = [
            Candidate(i, {"name": rows[i][1], "synonyms": synonyms[i] or None}) for i in chosen
        ]
        ranked = rank(query, candidates, primary="name", synonym_fields=["synonyms"], limit=5)
        found = [rows[i][1] for i, _score in ranked]
        results.append(case | {"rank": position(found, case["name"]), "seconds": None})
    return results


def load_lamin_core(
    vocabulary: str, workdir: Path, db: str | None = None
) -> Callable[[str], list[str]]:
    """Fill a fresh catalog (SQLite, or `db`) with the vocabulary; return a search of names."""
    import lamin_core_side as side

    if db is None:
        side.open_instance(workdir)
    else:
        os.environ["LAMIN_CORE_HOME"] = str(workdir / "home")
        import lamin_core as ln

        ln.init(storage=workdir / "storage", db=db)
    import lamin_core.bio as bt

    registry = getattr(bt, REGISTRY[vocabulary])
    if vocabulary == "genes":
        human = bt.Organism(name="human", ontology_id="NCBITaxon:9606").save()
        values = [
            {"symbol": symbol, "ensembl_gene_id": ensembl, "organism_id": human.id}
            for ensembl, symbol, _syn in records(vocabulary)
        ]
        field = "symbol"
    else:
        values = [
            {"name": name, "ontology_id": term_id, "synonyms": "|".join(syn) or None}
            for term_id, name, syn in records(vocabulary)
        ]
        field = "name"
    start = time.perf_counter()
    side.insert_named(registry, values, uid_length=registry._uid_length)
    _log({"vocabulary": vocabulary, "records": len(values), "load_s": time.perf_counter() - start})
    return lambda q: [getattr(r, field) for r in registry.search(q, limit=5)]


def index_size(workdir: Path, table: str) -> dict[str, Any]:
    """Return the rows and bytes of a registry's typo index (SQLite dbstat when available)."""
    import sqlalchemy as sa

    import lamin_core as ln

    session = ln.get_instance().session
    result: dict[str, Any] = {}
    tables = set(sa.inspect(session.connection()).get_table_names())
    for suffix in ("terms", "deletes", "tail_deletes"):
        name = f"{table}_{suffix}"
        if name not in tables:
            continue  # a catalog of an earlier revision (a "before" measurement)
        result[f"{suffix}_rows"] = session.execute(
            sa.text(f'SELECT count(*) FROM "{name}"')
        ).scalar()
        try:
            size = session.execute(
                sa.text("SELECT sum(pgsize) FROM dbstat WHERE name = :n"), {"n": name}
            ).scalar()
        except sa.exc.SQLAlchemyError:
            size = None
        result[f"{suffix}_mb"] = None if size is None else round(size / 2**20, 1)
    return result


def rebuild_time(table: str, fields: list[str]) -> float:
    """Drop and rebuild the typo index of `table` from its rows; return the seconds."""
    import lamin_core as ln
    from lamin_core.search.typos import drop_typo_index_ddl, typo_index_ddl

    engine = ln.get_instance().engine
    with engine.begin() as connection:
        for statement in drop_typo_index_ddl(table, dialect="sqlite"):
            connection.exec_driver_sql(statement)
    start = time.perf_counter()
    with engine.begin() as connection:
        for statement in typo_index_ddl(table, fields, dialect="sqlite", populate=True):
            connection.exec_driver_sql(statement)
    return time.perf_counter() - start


def run_lamindb(vocabulary: str, cases: list[dict[str, Any]], workdir: Path) -> list[dict] | str:
    """Run LaminDB 2.12's search on the same data and queries; results, or why not."""
    python = HERE / ".venv-lamindb" / "bin" / "python"
    if not python.exists():
        return f"no LaminDB venv at {python} (run: bash benchmarks/lamindb_setup.sh)"
    spec = workdir / f"lamindb-{vocabulary}.json"
    spec.write_text(json.dumps({"vocabulary": vocabulary, "cases": cases}))
    proc = subprocess.run(
        [str(python), str(HERE / "lamindb_side.py"), "search_quality", "--spec", str(spec)],
        capture_output=True,
        text=True,
        cwd=HERE.parent,
        check=False,
    )
    if proc.returncode != 0:
        return f"LaminDB side failed: {proc.stderr[-500:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1])["results"]


@contextlib.contextmanager
def postgres_schema(url: str, name: str) -> Any:
    """Yield a URL to a fresh schema `name` of the PostgreSQL database `url`; drop it after."""
    import sqlalchemy as sa

    admin = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with admin.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{name}"'))
    try:
        yield f"{url}?options=-csearch_path%3D{name},public"
    finally:
        with admin.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{name}" CASCADE'))
        admin.dispose()


def _log(event: dict[str, Any]) -> None:
    print(json.dumps(event, default=str), file=sys.stderr, flush=True)


def render(report: dict[str, Any]) -> str:
    """Return the markdown tables of a search-quality report."""
    lines = [
        "## Search quality: seeded typos (recall@1, recall@5, latency)",
        "",
        "lamin_core: `Registry.search(q, limit=5)` on SQLite, warm. Ceiling: our ranking over "
        "every record (exhaustive). LaminDB 2.12: its `search` on the same data and queries.",
        "",
        "Clear: the queries a ranking can get right (`mark_rivals`): r@1 over those without "
        "another record as close to the query as the intended one (n1 of n), r@5 over those "
        "with fewer than five (n5); the raw r@1 / r@5 count every query.",
        "",
        "| vocabulary | records | length | edits | n | r@1 | r@5 | clear r@1 (n1) | "
        "clear r@5 (n5) | p50 | p95 | CPU p50 | ceiling r@1 | ceiling r@5 | "
        "ceiling clear r@1 | ceiling clear r@5 | LaminDB r@1 | LaminDB r@5 | LaminDB p50 |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for vocabulary, entry in report["vocabularies"].items():
        ceil = {(r["bin"], r["edits"]): r for r in entry.get("ceiling", [])}
        other = {(r["bin"], r["edits"]): r for r in entry.get("lamindb", []) or []}
        for row in entry["lamin_core"]:
            key = (row["bin"], row["edits"])
            c, o = ceil.get(key, {}), other.get(key, {})

            def f(value: Any, pattern: str = "{:.3f}") -> str:
                return "" if value is None else pattern.format(value)

            lines.append(
                f"| {vocabulary} | {entry['records']:,} | {row['bin']} | {row['edits']} | "
                f"{row['n']} | {f(row['recall@1'])} | {f(row['recall@5'])} | "
                f"{f(row.get('clear_recall@1'))} ({row.get('clear_n@1', '')}) | "
                f"{f(row.get('clear_recall@5'))} ({row.get('clear_n@5', '')}) | "
                f"{f(row.get('p50_ms'), '{:.1f} ms')} | {f(row.get('p95_ms'), '{:.1f} ms')} | "
                f"{f(row.get('cpu_p50_ms'), '{:.1f} ms')} | "
                f"{f(c.get('recall@1'))} | {f(c.get('recall@5'))} | "
                f"{f(c.get('clear_recall@1'))} | {f(c.get('clear_recall@5'))} | "
                f"{f(o.get('recall@1'))} | "
                f"{f(o.get('recall@5'))} | {f(o.get('p50_ms'), '{:.0f} ms')} |"
            )
    postgres = {v: e["postgresql"] for v, e in report["vocabularies"].items() if "postgresql" in e}
    if postgres:
        lines += [
            "",
            "PostgreSQL (same data and queries, lamin_core):",
            "",
            "| vocabulary | length | edits | n | r@1 | r@5 | clear r@1 | clear r@5 | p50 | p95 | "
            "CPU p50 |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for vocabulary, rows in postgres.items():
            for row in rows:
                clear = [row.get("clear_recall@1"), row.get("clear_recall@5")]
                lines.append(
                    f"| {vocabulary} | {row['bin']} | {row['edits']} | {row['n']} | "
                    f"{row['recall@1']:.3f} | {row['recall@5']:.3f} | "
                    + " | ".join("" if v is None else f"{v:.3f}" for v in clear)
                    + f" | {row['p50_ms']:.1f} ms | "
                    f"{row['p95_ms']:.1f} ms | {row['cpu_p50_ms']:.1f} ms |"
                )
    lines.append("")
    for vocabulary, entry in report["vocabularies"].items():
        if "index" in entry:
            lines.append(f"- {vocabulary}: typo index {json.dumps(entry['index'])}")
        if isinstance(entry.get("lamindb_error"), str):
            lines.append(f"- {vocabulary}: LaminDB not run: {entry['lamindb_error']}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Run the search-quality workload; write search_quality.{json,md} into --out."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--vocabularies", default=",".join(VOCABULARIES))
    parser.add_argument("--no-lamindb", action="store_true")
    parser.add_argument("--no-ceiling", action="store_true")
    parser.add_argument("--rebuild", action="store_true", help="also time an index rebuild")
    parser.add_argument("--postgres", help="also run on this PostgreSQL database (a new schema)")
    parser.add_argument(
        "--taxon-records", type=int, help="NCBITaxon: load only its first N terms by taxon id"
    )
    args = parser.parse_args(argv)
    if args.taxon_records:
        global TAXON_RECORDS
        TAXON_RECORDS = args.taxon_records
    args.out.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"vocabularies": {}}
    for vocabulary in [v for v in args.vocabularies.split(",") if v]:
        cases = queries(vocabulary)
        mark_rivals(vocabulary, cases)
        entry: dict[str, Any] = {"records": len(records(vocabulary)), "queries": len(cases)}
        workdir = Path(tempfile.mkdtemp(prefix=f"sq-{vocabulary}-"))
        entry |= _one(vocabulary, cases, workdir, rebuild=args.rebuild)
        if args.postgres:
            schema = f"search_quality_{vocabulary.lower()}_{os.getpid()}"
            with postgres_schema(args.postgres, schema) as url:
                postgres = _one(vocabulary, cases, workdir / "postgres", rebuild=False, db=url)
            entry["postgresql"] = postgres["lamin_core"]
        if not args.no_ceiling:
            entry["ceiling"] = summarize(ceiling(vocabulary, cases))
        if not args.no_lamindb:
            other = run_lamindb(vocabulary, cases, workdir)
            if isinstance(other, str):
                entry["lamindb_error"] = other
            else:
                entry["lamindb"] = summarize(other)
        report["vocabularies"][vocabulary] = entry
        _log({"vocabulary": vocabulary, "done": True})
        (args.out / "search_quality.json").write_text(json.dumps(report, indent=1, default=str))
        (args.out / "search_quality.md").write_text(render(report))
    print(render(report))
    return 0


def _one(vocabulary: str, cases: list[dict[str, Any]], workdir: Path, *, rebuild: bool,
         db: str | None = None) -> dict:  # fmt: skip
    """Load one vocabulary into a fresh catalog and run its queries."""
    search = load_lamin_core(vocabulary, workdir, db)
    results = evaluate(search, cases)
    entry: dict[str, Any] = {"lamin_core": summarize(results)}
    table = REGISTRY[vocabulary].lower()
    entry["missed"] = [
        {k: r[k] for k in ("name", "query", "edits", "rank", "rivals")}
        for r in results
        if r["rank"] is None or r["rank"] > 5
    ][:20]
    if db is not None:
        import lamin_core as ln

        ln.get_instance().close()
        return entry
    info = index_size(workdir, table)
    if rebuild:
        import lamin_core.bio as bt

        fields = list(getattr(bt, REGISTRY[vocabulary])._search_fields)
        info["rebuild_s"] = round(rebuild_time(table, fields), 1)
    entry["index"] = info
    import lamin_core as ln

    ln.get_instance().close()
    return entry


if __name__ == "__main__":
    raise SystemExit(main())
