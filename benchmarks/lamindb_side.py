"""LaminDB 2.12 side of the side-by-side benchmark.

Run it with the LaminDB venv's interpreter (see `lamindb_setup.sh`):

    benchmarks/.venv-lamindb/bin/python benchmarks/lamindb_side.py search --size 200 \
        --repeat 3 --workdir /tmp/bench

It prints one JSON line (protocol in `harness.py`). Every run creates a fresh local instance
(SQLite + local storage) under --workdir and never contacts LaminHub:

- `LAMIN_SETTINGS_DIR` and `LAMIN_CACHE_DIR` point inside the instance directory, set before
  `lamindb_setup` is imported (it reads them at import). With no settings file for the instance
  name, `init()` on a local storage + SQLite skips the hub entirely.
- The process works in the instance directory: `init()` writes a `.lamin/current_instance`
  marker into the working directory.
- `settings.instance._is_on_hub = False`: otherwise registering a file from outside the storage
  root asks the hub whether the instance is registered, and, offline, that raises.
- The validate workload deletes the `bionty.Source` rows that `init` seeds, so validation does
  not try to download public ontologies (each failed download costs seconds of retries).

Setup (not timed) inserts registry rows in bulk, bypassing LaminDB's `SQLRecord.__init__`
(2-6 ms per record in 2.12: it re-resolves settings paths for space and branch on every call)
and Django's `bulk_create` (~1 ms per row to build and compile): the column values Django
gives a record (from a template record, or the fields' defaults) are prepared once and
inserted with one `executemany`. The rows are identical to those `ln.save()` writes (same
defaults for uid, branch, space, created_by). Artifacts are set up the same way: one is
registered from a real file, the others are rows copied from it with their own uid, key, size
and hash (registering a million files one by one would take hours and is not what query_df
measures).
"""

import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Any

import data
import harness
import workloads

SIDE = "lamindb"
BULK_BATCH_SIZE = 5_000


def open_instance(instance_dir: Path) -> tuple[Any, Any]:
    """Create and connect a fresh offline LaminDB instance with the bionty module.

    Returns:
        The imported `lamindb` and `bionty` modules, bound to the new instance.
    """
    os.environ["LAMIN_SETTINGS_DIR"] = str(instance_dir / "settings")
    os.environ["LAMIN_CACHE_DIR"] = str(instance_dir / "cache")
    # init() marks the working directory as the instance's "dev dir" (.lamin/current_instance)
    # and every record constructor looks that marker up from the working directory upwards.
    os.chdir(instance_dir)
    import lamindb_setup as ln_setup

    db = os.environ.get(harness.DB_ENV)  # a PostgreSQL database of its own, or SQLite
    ln_setup.init(storage=str(instance_dir / "storage"), name="bench", modules="bionty", db=db)
    import bionty as bt
    import lamindb as ln

    ln_setup.settings.instance._is_on_hub = False
    # Per-record "tip" and "no run linked" lines go to stderr anyway; muting them keeps the
    # logs readable. Their cost is negligible next to the work they describe.
    ln.settings.verbosity = "error"
    return ln, bt


def bulk_insert(model: type, rows: list[dict[str, Any]], template: Any = None) -> None:
    """Insert rows into a LaminDB table in one `executemany` (setup only; see module).

    Every column a row does not set takes the value Django gives it: from `template` when
    given, else the field's default (a callable default such as the uid generator is called
    per row; a database default is left to the database). Rows set columns by attribute name
    (``organism_id``, not ``organism``) with plain values. Django's `bulk_create` would build
    and compile every row (~1 ms each here: half an hour for a million artifacts); the column
    values are prepared once instead.
    """
    from django.db import connection, models, transaction
    from django.db.models.expressions import DatabaseDefault

    if template is None:
        template = model.__new__(model)
        models.Model.__init__(template)
    fields = [
        f
        for f in model._meta.concrete_fields
        # a `db_default` column is filled by the database, as on save()
        if not f.primary_key and not isinstance(getattr(template, f.attname), DatabaseDefault)
    ]
    base = [f.get_db_prep_save(getattr(template, f.attname), connection) for f in fields]
    per_row = {f.attname: f.default for f in fields if f.unique and callable(f.default)}
    names = [f.attname for f in fields]
    unknown = {name for row in rows[:1] for name in row} - set(names)
    if unknown:
        raise ValueError(f"{model.__name__} has no columns {sorted(unknown)}; use attnames")
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    sql = (
        f"INSERT INTO {connection.ops.quote_name(model._meta.db_table)} ({columns}) "
        f"VALUES ({', '.join(['%s'] * len(fields))})"
    )
    values = [
        [
            row[name] if name in row else per_row[name]() if name in per_row else value
            for name, value in zip(names, base)
        ]
        for row in rows
    ]
    with transaction.atomic(), connection.cursor() as cursor:
        for start in range(0, len(values), BULK_BATCH_SIZE):
            cursor.executemany(sql, values[start : start + BULK_BATCH_SIZE])


# ---------------------------------------------------------------------------------------------
# workloads


def register_df(instance_dir: Path, size: int, seed: int) -> harness.Workload:
    """Register `size` new small DataFrames per repeat, one `save()` each."""
    from django.db import connection

    ln, _ = open_instance(instance_dir)
    sent = [0]

    def count_statement(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        sent[0] += 1
        return execute(sql, params, many, context)

    connection.execute_wrappers.append(count_statement)
    return workloads.register_df(
        lambda key, df: ln.Artifact.from_dataframe(df, key=key).save(),
        lambda: ln.Artifact.filter(key__startswith="bench/df_").count(),
        size,
        seed,
        call="ln.Artifact.from_dataframe(df, key=key).save()",
        statements=lambda: sent[0],
    )


def bulk_save(instance_dir: Path, size: int, seed: int) -> harness.Workload:
    """Save `size` new ULabels per repeat with one `ln.save(...)`."""
    ln, _ = open_instance(instance_dir)
    return workloads.bulk_insert(ln, size)


def search(instance_dir: Path, size: int, seed: int) -> harness.Workload:
    """Search `size` ULabels with realistic names for a fixed list of queries."""
    ln, _ = open_instance(instance_dir)
    names = data.label_names(size)
    bulk_insert(ln.ULabel, [{"name": name} for name in names])
    return workloads.search(
        lambda query: ln.ULabel.search(query).to_dataframe(),
        names,
        data.SEARCH_QUERIES,
        call="ln.ULabel.search(q).to_dataframe()",
    )


def search_taxon(instance_dir: Path, size: int, seed: int) -> harness.Workload:
    """Search the first `size` NCBITaxon terms (all 1.26 million at most), with synonyms."""
    _, bt = open_instance(instance_dir)
    terms = data.taxon_subset(size)
    bulk_insert(
        bt.Organism,
        [
            {
                "name": term.name,
                "ontology_id": term.ontology_id,
                "synonyms": "|".join(term.synonyms) or None,
            }
            for term in terms
        ],
    )
    return workloads.search(
        lambda query: bt.Organism.search(query).to_dataframe(),
        [term.name for term in terms],
        data.TAXON_QUERIES,
        call="bt.Organism.search(q).to_dataframe()",
    )


def query_df(instance_dir: Path, size: int, seed: int) -> harness.Workload:
    """Filter `size` labelled artifacts and build the artifact table with related names."""
    ln, _ = open_instance(instance_dir)
    label_names = data.query_label_names()
    bulk_insert(ln.ULabel, [{"name": name} for name in label_names])
    by_name = {label.name: label for label in ln.ULabel.filter(name__in=label_names)}
    labels = [by_name[name] for name in label_names]
    first = instance_dir / "file_0.txt"
    first.write_bytes(data.artifact_payload(0))
    template = ln.Artifact(first, key=data.artifact_key(0)).save()
    bulk_insert(
        ln.Artifact,
        [
            {
                "uid": template.uid[:4] + data.base62_id(i, 12) + "0000",
                "key": data.artifact_key(i),
                "size": len(data.artifact_payload(i)),
                "hash": data.artifact_hash(i),
            }
            for i in range(1, size)
        ],
        template=template,
    )
    ids = dict(ln.Artifact.filter(key__startswith="bench/file_").values_list("key", "id"))
    bulk_insert(
        ln.Artifact.ulabels.through,
        [
            {"artifact_id": ids[data.artifact_key(i)], "ulabel_id": labels[j].id}
            for i, row in enumerate(data.artifact_label_matrix(size, seed))
            for j in row
        ],
    )
    # limit=None: LaminDB's to_dataframe() returns at most 20 rows by default.
    return workloads.query_df(
        lambda label, threshold: ln.Artifact.filter(ulabels=label, size__gt=threshold).to_dataframe(
            limit=None
        ),
        lambda: ln.Artifact.to_dataframe(include=["ulabels__name", "created_by__name"], limit=None),
        labels,
        notes={
            "filter": "ln.Artifact.filter(ulabels=label, size__gt=t).to_dataframe(limit=None)",
            "include": 'ln.Artifact.to_dataframe(include=["ulabels__name", "created_by__name"], '
            "limit=None)",
        },
    )


def lookup(instance_dir: Path, size: int, seed: int) -> harness.Workload:
    """Build the dot-access lookup object over `size` ULabels and use one attribute."""
    ln, _ = open_instance(instance_dir)
    names = data.label_names(size)
    bulk_insert(ln.ULabel, [{"name": name} for name in names])
    return workloads.lookup(ln.ULabel.lookup, names, call="ln.ULabel.lookup()")


def validate(
    instance_dir: Path, size: int, seed: int, n_genes: str = str(data.N_GENES)
) -> harness.Workload:
    """Validate an AnnData (`size` obs x `n_genes` genes, 3 categorical obs columns).

    The timed part is what `curator.validate()` does: build the `AnnDataCurator` and validate
    each slot. Slots are validated one by one because `curator.validate()` stops at the first
    slot that raises, and the check needs the non-validated values of every column.
    """
    ln, bt = open_instance(instance_dir)
    bt.Source.filter().delete(permanent=True)
    human = bt.Organism(
        name="human", ontology_id="NCBITaxon:9606", scientific_name="homo_sapiens"
    ).save()
    bt.settings.organism = human
    spec = data.validate_spec(size, seed, n_genes=int(n_genes))
    registries = {"cell_type": bt.CellType, "tissue": bt.Tissue, "disease": bt.Disease}
    for column, registry in registries.items():
        bulk_insert(
            registry,
            [
                {
                    "name": term.name,
                    "ontology_id": term.ontology_id,
                    "synonyms": "|".join(term.synonyms) or None,
                }
                for term in spec.registry_terms[column]
            ],
        )
    bulk_insert(
        bt.Gene,
        [
            {"symbol": symbol, "ensembl_gene_id": ensembl_id, "organism_id": human.id}
            for ensembl_id, symbol in spec.registry_genes
        ],
    )
    features = [
        ln.Feature(name=column, dtype=registry).save() for column, registry in registries.items()
    ]
    schema = ln.Schema(
        otype="AnnData",
        slots={
            "obs": ln.Schema(features=features).save(),
            "var.T": ln.Schema(itype=bt.Gene.symbol).save(),
        },
    ).save()
    adata = data.make_anndata(spec)
    result: dict[str, int] = {}

    def run(index: int) -> dict[str, float]:
        timings: dict[str, float] = {}
        curator = workloads.timed(
            timings, "curator_init_s", ln.curators.AnnDataCurator, adata, schema
        )
        for slot, slot_curator in curator.slots.items():
            # a slot with invalid values raises; they are counted below
            with contextlib.suppress(ln.errors.ValidationError):
                workloads.timed(timings, f"validate_{slot}_s", slot_curator.validate)
            for key, vector in slot_curator.cat._cat_vectors.items():
                # `cat.non_validated` hides the "columns" vector, which for var.T is the genes
                if key != "columns":
                    result[key] = len(vector._non_validated or [])
                elif slot == "var.T":
                    result["var_index"] = len(vector._non_validated or [])
        return timings

    return harness.Workload(
        run=run,
        check=lambda: dict(sorted(result.items())),
        items=None,
        unit="dataset",
        notes={
            "call": "ln.curators.AnnDataCurator(adata, schema) + validate() per slot",
            "n_vars": len(spec.var_symbols),
            "expected_non_validated": spec.expected_non_validated,
        },
    )


def cold_start(instance_dir: Path, size: int, seed: int) -> harness.Workload:
    """LaminDB's equivalent of lamin_core's cold start: count artifacts, and `lamin info`.

    The child processes inherit LAMIN_SETTINGS_DIR and the working directory that
    `open_instance` set, so they find the benchmark's instance as a user's shell would.
    """
    import sys

    open_instance(instance_dir)
    count = "import lamindb as ln; print(ln.Artifact.filter().count())"
    commands = {
        "count": [sys.executable, "-c", count],
        "info": [str(Path(sys.executable).parent / "lamin"), "info"],
    }
    return workloads.whole_processes(commands, instance_dir, measure="count")


WORKLOADS: dict[str, harness.WorkloadFactory] = {
    "cold_start": cold_start,
    "register_df": register_df,
    "bulk_insert": bulk_save,
    "search": search,
    "search_taxon": search_taxon,
    "query_df": query_df,
    "lookup": lookup,
    "validate": validate,
}


def versions() -> dict[str, str]:
    """Return the versions of the libraries measured."""
    from importlib.metadata import version

    return {name: version(name) for name in ("lamindb", "lamindb_setup", "bionty", "django")}


def search_quality(spec_path: Path) -> int:
    """Run the search-quality queries (`search_quality.py` writes the spec); print one JSON line.

    The vocabulary's terms are inserted as in the other workloads; each query is
    ``Registry.search(q, limit=5)``, timed, and the names found are compared with the intended
    one by `search_quality.evaluate` (imported from the benchmarks folder, which imports
    neither catalog at module level).
    """
    import search_quality as quality

    spec = json.loads(spec_path.read_text())
    vocabulary = spec["vocabulary"]
    instance_dir = spec_path.parent / f"lamindb-{vocabulary}"
    instance_dir.mkdir(parents=True, exist_ok=True)
    _, bt = open_instance(instance_dir)
    registry = getattr(bt, quality.REGISTRY[vocabulary])
    if vocabulary == "genes":
        human = bt.Organism(name="human", ontology_id="NCBITaxon:9606").save()
        rows = [
            {"symbol": name, "ensembl_gene_id": term_id, "organism_id": human.id}
            for term_id, name, _syn in quality.records(vocabulary)
        ]
        field = "symbol"
    else:
        rows = [
            {"name": name, "ontology_id": term_id, "synonyms": "|".join(syn) or None}
            for term_id, name, syn in quality.records(vocabulary)
        ]
        field = "name"
    bulk_insert(registry, rows)

    def search(query: str) -> list[str]:
        df = registry.search(query, limit=5).to_dataframe()
        return df[field].tolist() if field in df else []

    results = quality.evaluate(search, spec["cases"])
    print(json.dumps({"results": results}))
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["search_quality"]:
        raise SystemExit(search_quality(Path(sys.argv[sys.argv.index("--spec") + 1])))
    raise SystemExit(harness.main(SIDE, WORKLOADS, versions=versions))
