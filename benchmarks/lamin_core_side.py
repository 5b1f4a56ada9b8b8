"""lamin_core side of the side-by-side benchmark: the LaminDB workloads through our public API.

Run it with the project's venv:

    .venv/bin/python benchmarks/lamin_core_side.py search --size 200 --repeat 3 \
        --workdir /tmp/bench

It prints one JSON line (protocol in `harness.py`). Every run creates a fresh catalog (SQLite +
local storage) under --workdir with `ln.init`; `LAMIN_CORE_HOME` points inside it so the
user's settings file is never touched.

What is timed is the public API a user calls (`ln.Artifact.from_df(...).save()`,
`ln.ULabel.search(q).df()`, `ln.Artifact.filter(...).df()`, `ln.ULabel.lookup()`,
`ln.Curator.from_anndata(...).validate()`, `hash_file`, `LaminIOManager`). Setup is not timed:
one record per registry is saved through the public API, and the rest are copies of its row
inserted with SQLAlchemy core (own uid and the fields that differ), which is what `save()` would
write, minutes faster. LaminDB's side does the same (see `lamindb_side.bulk_insert`).
"""

import logging
import os
from pathlib import Path
from typing import Any

import data
import harness
import workloads

SIDE = "lamin_core"
INSERT_BATCH = 10_000


def open_instance(instance_dir: Path) -> Any:
    """Create a fresh catalog in `instance_dir` and return the `lamin_core` module bound to it.

    Logging below errors is muted, as LaminDB's side sets `verbosity = "error"`: log lines are
    not what is measured.
    """
    os.environ["LAMIN_CORE_HOME"] = str(instance_dir / "home")
    logging.getLogger("lamin_core").setLevel(logging.ERROR)
    import lamin_core as ln

    ln.init(storage=instance_dir / "storage", db=os.environ.get(harness.DB_ENV))
    return ln


def insert_like(template: Any, rows: list[dict[str, Any]]) -> None:
    """Insert `rows` into `template`'s table, every unset column copied from `template`'s row."""
    import sqlalchemy as sa

    import lamin_core as ln

    table = type(template).__table__
    session = ln.get_instance().session
    base = dict(session.execute(sa.select(table).where(table.c.id == template.id)).mappings().one())
    del base["id"]
    for start in range(0, len(rows), INSERT_BATCH):
        batch = [base | row for row in rows[start : start + INSERT_BATCH]]
        session.execute(sa.insert(table), batch)
    session.commit()


def insert_named(registry: Any, values: list[dict[str, Any]], uid_length: int) -> Any:
    """Save the first record through the public API and insert the others like it.

    Returns:
        The first (saved) record.
    """
    first = registry(**values[0]).save()
    rows = [{"uid": data.base62_id(i, uid_length)} | row for i, row in enumerate(values)]
    insert_like(first, rows[1:])
    return first


# ---------------------------------------------------------------------------------------------
# workloads


def register_df(instance_dir: Path, size: int, seed: int) -> harness.Workload:
    """Register `size` new small DataFrames per repeat, one `save()` each."""
    import sqlalchemy as sa

    ln = open_instance(instance_dir)
    sent = [0]

    def count_statement(*args: Any) -> None:
        sent[0] += 1

    sa.event.listen(ln.get_instance().engine, "before_cursor_execute", count_statement)
    return workloads.register_df(
        lambda key, df: ln.Artifact.from_df(df, key=key).save(),
        lambda: ln.Artifact.filter(key__startswith="bench/df_").count(),
        size,
        seed,
        call="ln.Artifact.from_df(df, key=key).save()",
        statements=lambda: sent[0],
    )


def bulk_save(instance_dir: Path, size: int, seed: int) -> harness.Workload:
    """Save `size` new ULabels per repeat with one `ln.save(...)`."""
    ln = open_instance(instance_dir)
    return workloads.bulk_insert(ln, size)


def bulk_genes(instance_dir: Path, size: int, seed: int) -> harness.Workload:
    """Save `size` public human genes, new to the catalog, with from_values + ln.save."""
    ids = [ensembl_id for ensembl_id, _ in data.human_genes()[:size]]

    def fresh_catalog(index: int) -> Any:
        ln = open_instance(instance_dir / f"repeat_{index}")
        import lamin_core.bio as bt

        return ln, bt

    return workloads.bulk_genes(
        fresh_catalog,
        ids,
        call="ln.save(bt.Gene.from_values(ids, field='ensembl_gene_id', organism='human'))",
    )


def search(instance_dir: Path, size: int, seed: int) -> harness.Workload:
    """Search `size` ULabels with realistic names for a fixed list of queries."""
    ln = open_instance(instance_dir)
    names = data.label_names(size)
    insert_named(ln.ULabel, [{"name": name} for name in names], uid_length=8)
    return workloads.search(
        lambda query: ln.ULabel.search(query).df(),
        names,
        data.SEARCH_QUERIES,
        call="ln.ULabel.search(q).df()",
    )


def search_taxon(instance_dir: Path, size: int, seed: int) -> harness.Workload:
    """Search the first `size` NCBITaxon terms (all 1.26 million at most), with synonyms."""
    open_instance(instance_dir)
    import lamin_core.bio as bt

    terms = data.taxon_subset(size)
    insert_named(
        bt.Organism,
        [
            {
                "name": term.name,
                "ontology_id": term.ontology_id,
                "synonyms": "|".join(term.synonyms) or None,
            }
            for term in terms
        ],
        uid_length=8,
    )
    return workloads.search(
        lambda query: bt.Organism.search(query).df(),
        [term.name for term in terms],
        data.TAXON_QUERIES,
        call="bt.Organism.search(q).df()",
    )


def query_df(instance_dir: Path, size: int, seed: int) -> harness.Workload:
    """Filter `size` labelled artifacts and build the artifact table with related names."""
    import sqlalchemy as sa

    ln = open_instance(instance_dir)
    label_names = data.query_label_names()
    by_name = {r.name: r for r in ln.ULabel.from_values(label_names, create=True).save()}
    labels = [by_name[name] for name in label_names]
    first = instance_dir / "file_0.txt"
    first.write_bytes(data.artifact_payload(0))
    template = ln.Artifact(first, key=data.artifact_key(0)).save()
    insert_like(
        template,
        [
            {
                "uid": template.uid[:4] + data.base62_id(i, 12) + "0000",
                "key": data.artifact_key(i),
                "size": len(data.artifact_payload(i)),
                "hash": data.artifact_hash(i),
            }
            for i in range(1, size)
        ],
    )
    session = ln.get_instance().session
    ids = dict(
        session.execute(
            sa.select(ln.Artifact.key, ln.Artifact.id).where(
                ln.Artifact.key.startswith("bench/file_")
            )
        ).all()
    )
    link = sa.inspect(ln.Artifact).relationships["ulabels"].secondary
    links = [
        {"artifact_id": ids[data.artifact_key(i)], "ulabel_id": labels[j].id}
        for i, row in enumerate(data.artifact_label_matrix(size, seed))
        for j in row
    ]
    for start in range(0, len(links), INSERT_BATCH):
        session.execute(sa.insert(link), links[start : start + INSERT_BATCH])
    session.commit()
    # limit=None: the registry overview (Artifact.df) shows the newest 100 by default
    return workloads.query_df(
        lambda label, threshold: ln.Artifact.filter(ulabels=label, size__gt=threshold).df(),
        lambda: ln.Artifact.df(include=["ulabels__name", "created_by__name"], limit=None),
        labels,
        notes={
            "filter": "ln.Artifact.filter(ulabels=label, size__gt=t).df()",
            "include": 'ln.Artifact.df(include=["ulabels__name", "created_by__name"], limit=None)',
        },
    )


def lookup(instance_dir: Path, size: int, seed: int) -> harness.Workload:
    """Build the dot-access lookup object over `size` ULabels and use one attribute."""
    ln = open_instance(instance_dir)
    names = data.label_names(size)
    insert_named(ln.ULabel, [{"name": name} for name in names], uid_length=8)
    return workloads.lookup(ln.ULabel.lookup, names, call="ln.ULabel.lookup()")


def validate(
    instance_dir: Path, size: int, seed: int, n_genes: str = str(data.N_GENES)
) -> harness.Workload:
    """Validate an AnnData (`size` obs x `n_genes` genes, 3 categorical obs columns)."""
    ln = open_instance(instance_dir)
    import lamin_core.bio as bt

    spec = data.validate_spec(size, seed, n_genes=int(n_genes))
    human = bt.Organism(
        name="human", ontology_id="NCBITaxon:9606", scientific_name="homo_sapiens"
    ).save()
    registries = {"cell_type": bt.CellType, "tissue": bt.Tissue, "disease": bt.Disease}
    for column, registry in registries.items():
        terms = spec.registry_terms[column]
        insert_named(
            registry,
            [
                {
                    "name": term.name,
                    "ontology_id": term.ontology_id,
                    "synonyms": "|".join(term.synonyms) or None,
                }
                for term in terms
            ],
            uid_length=8,
        )
        ln.Feature(name=column, dtype=f"cat[bionty.{registry.__name__}]").save()
    insert_named(
        bt.Gene,
        [
            {"symbol": symbol, "ensembl_gene_id": ensembl_id, "organism_id": human.id}
            for ensembl_id, symbol in spec.registry_genes
        ],
        uid_length=12,
    )
    adata = data.make_anndata(spec)
    categoricals = {column: registry.name for column, registry in registries.items()}
    result: dict[str, int] = {}

    def run(index: int) -> dict[str, float]:
        timings: dict[str, float] = {}
        curator = workloads.timed(
            timings,
            "curator_init_s",
            ln.Curator.from_anndata,
            adata,
            var_index=bt.Gene.symbol,
            categoricals=categoricals,
            organism="human",
        )
        workloads.timed(timings, "validate_s", curator.validate)
        result.clear()
        result.update({key: len(values) for key, values in curator.non_validated.items()})
        return timings

    return harness.Workload(
        run=run,
        check=lambda: dict(sorted(result.items())),
        items=None,
        unit="dataset",
        notes={
            "call": "ln.Curator.from_anndata(adata, var_index=bt.Gene.symbol, "
            "categoricals={...}, organism='human').validate()",
            "n_vars": len(spec.var_symbols),
            "expected_non_validated": spec.expected_non_validated,
        },
    )


def curation(
    instance_dir: Path,
    size: int,
    seed: int,
    n_genes: str = str(data.N_GENES),
    n_categories: str = str(data.N_CATEGORIES),
) -> harness.Workload:
    """`validate()` of an all-valid AnnData, measured by `benchmarks/curation_bench.py`.

    The curation engineer's benchmark: `size` obs with 3 categorical columns of `n_categories`
    values (cell types from the public Cell Ontology, two ULabel columns), `n_genes` public human
    gene symbols; the registries are filled by its `fill_registries`, each repeat is one timed
    `time_validate(adata, 1)` (it runs its own warm-up first). The selection of symbols and
    values repeats its `main()`, which has no function for it.
    """
    import curation_bench as bench

    open_instance(instance_dir)
    import lamin_core.bio as bt

    symbols = bt.Gene.public(organism="human").df().symbol.drop_duplicates()
    symbols = symbols.iloc[: int(n_genes)].tolist()
    cell_types = bt.CellType.public().df().name.dropna().drop_duplicates()
    n = int(n_categories)
    columns = {
        "cell_type": cell_types.iloc[:n].tolist(),
        "cell_medium": [f"medium {i}" for i in range(n)],
        "donor": [f"donor {i}" for i in range(n)],
    }
    setup = bench.fill_registries(symbols, columns)
    adata = bench.build_adata(symbols, columns, size)
    result: dict[str, Any] = {}

    def run(index: int) -> dict[str, float]:
        validate_only, end_to_end = bench.time_validate(adata, 1)  # asserts it validates
        result["validated"] = True
        return {"validate_s": validate_only[0], "from_anndata_validate_s": end_to_end[0]}

    return harness.Workload(
        run=run,
        check=lambda: {"validated": result["validated"], "n_vars": adata.n_vars},
        items=None,
        unit="dataset",
        measure="validate_s",
        notes={
            "measured by": "benchmarks/curation_bench.py (time_validate)",
            "timed": "curator.validate(); detail: from_anndata() + validate()",
            "setup_s": {name: round(seconds, 2) for name, seconds in setup.items()},
        },
    )


def hash_file(instance_dir: Path, size: int, seed: int) -> harness.Workload:
    """Hash a file of `size` MiB of random bytes (the reference side runs md5sum on it)."""
    from lamin_core.storage.hashing import hash_file as hash_path

    path = data.random_file(harness.shared_dir(instance_dir), size, seed)
    result: dict[str, str] = {}

    def run(index: int) -> None:
        result["md5_b64"] = hash_path(path)

    return harness.Workload(
        run=run,
        check=lambda: dict(result),
        items=size,
        unit="MiB",
        notes={"call": "lamin_core.storage.hashing.hash_file(path)", "file": path.name},
    )


def io_manager(instance_dir: Path, size: int, seed: int) -> harness.Workload:
    """Store and load a `size`-row DataFrame through LaminIOManager (see dagster_io)."""
    import dagster_io

    from lamin_dagster import LaminIOManager

    open_instance(instance_dir).get_instance().close()  # the IO manager opens it on its own
    manager = LaminIOManager(storage=str(instance_dir / "storage"))
    return dagster_io.io_workload(manager, "LaminIOManager", size)


def dagster_pipeline(
    instance_dir: Path, size: int, seed: int, rows: str = "1000", executor: str = "in_process"
) -> harness.Workload:
    """Run a chain of `size` DataFrame assets with LaminIOManager (see dagster_pipeline)."""
    import dagster_pipeline

    open_instance(instance_dir).get_instance().close()  # the IO manager opens it on its own
    folder = instance_dir / "storage"
    return dagster_pipeline.pipeline_workload(
        "lamin", folder, instance_dir, size, rows=int(rows), executor=executor
    )


def dagster_pipeline_multiprocess(
    instance_dir: Path, size: int, seed: int, rows: str = "1000"
) -> harness.Workload:
    """`dagster_pipeline` on the multiprocess executor: one new process per step."""
    return dagster_pipeline(instance_dir, size, seed, rows=rows, executor="multiprocess")


def cold_start(instance_dir: Path, size: int, seed: int) -> harness.Workload:
    """Open a catalog and count its artifacts, and `lamin-core info`, each as a new process."""
    import sys

    ln = open_instance(instance_dir)
    ln.get_instance().close()
    storage = str(instance_dir / "storage")
    count = f"import lamin_core as ln; ln.connect({storage!r}); print(ln.Artifact.filter().count())"
    commands = {
        "count": [sys.executable, "-c", count],
        "info": [str(Path(sys.executable).parent / "lamin-core"), "info", "--storage", storage],
    }
    return workloads.whole_processes(commands, instance_dir, measure="count")


def dagster_import(instance_dir: Path, size: int, seed: int) -> harness.Workload:
    """`import lamin_dagster` in a new process (what each multiprocess step pays)."""
    import sys

    commands = {"import": [sys.executable, "-c", "import lamin_dagster"]}
    return workloads.whole_processes(commands, instance_dir, measure="import")


WORKLOADS: dict[str, harness.WorkloadFactory] = {
    "cold_start": cold_start,
    "dagster_import": dagster_import,
    "register_df": register_df,
    "bulk_insert": bulk_save,
    "bulk_genes": bulk_genes,
    "search": search,
    "search_taxon": search_taxon,
    "query_df": query_df,
    "lookup": lookup,
    "validate": validate,
    "curation": curation,
    "hash_file": hash_file,
    "io_manager": io_manager,
    "dagster_pipeline": dagster_pipeline,
    "dagster_pipeline_multiprocess": dagster_pipeline_multiprocess,
}


def versions() -> dict[str, str]:
    """Return the versions of the libraries measured."""
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in ("lamin-core", "sqlalchemy", "pandas", "pyarrow", "anndata", "dagster"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


if __name__ == "__main__":
    raise SystemExit(harness.main(SIDE, WORKLOADS, versions=versions))
