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

Setup (not timed) inserts registry rows with Django's `bulk_create` on objects built by Django's
own constructor: LaminDB's `SQLRecord.__init__` costs 2-6 ms per record in 2.12 (it re-resolves
settings paths for space and branch on every call), i.e. minutes for 60,000 genes. The rows are
identical to those `ln.save()` writes (same defaults for uid, branch, space, created_by).
"""

import contextlib
import os
import time
from pathlib import Path
from typing import Any

import data
import harness

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

    ln_setup.init(storage=str(instance_dir / "storage"), name="bench", modules="bionty")
    import bionty as bt
    import lamindb as ln

    ln_setup.settings.instance._is_on_hub = False
    # Per-record "tip" and "no run linked" lines go to stderr anyway; muting them keeps the
    # logs readable. Their cost is negligible next to the work they describe.
    ln.settings.verbosity = "error"
    return ln, bt


def bulk_insert(model: type, rows: list[dict[str, Any]]) -> None:
    """Insert rows into a LaminDB registry as fast as its ORM allows (setup only; see module)."""
    from django.db import models

    objects = []
    for row in rows:
        obj = model.__new__(model)
        models.Model.__init__(obj, **row)
        objects.append(obj)
    model.objects.bulk_create(objects, batch_size=BULK_BATCH_SIZE)


def _timed(fn, *args, **kwargs) -> tuple[Any, float]:
    start = time.perf_counter()
    value = fn(*args, **kwargs)
    return value, time.perf_counter() - start


# ---------------------------------------------------------------------------------------------
# workloads


def register_df(instance_dir: Path, size: int, seed: int) -> harness.Workload:
    """Register `size` new small DataFrames per repeat, one `save()` each.

    Each repeat uses fresh tables (indices continue across repeats) so nothing is deduplicated
    by hash.
    """
    ln, _ = open_instance(instance_dir)
    frames: list[tuple[str, Any]] = []

    def prepare(index: int) -> None:
        frames[:] = [
            (data.register_df_key(i), data.small_dataframe(i, seed))
            for i in range(index * size, (index + 1) * size)
        ]

    def run(index: int) -> None:
        for key, df in frames:
            ln.Artifact.from_dataframe(df, key=key).save()

    def check() -> dict[str, int]:
        return {"artifacts": ln.Artifact.filter(key__startswith="bench/df_").count()}

    return harness.Workload(run=run, check=check, prepare=prepare, items=size, unit="artifact")


def search(instance_dir: Path, size: int, seed: int) -> harness.Workload:
    """Search `size` ULabels with realistic names for a fixed list of queries."""
    ln, _ = open_instance(instance_dir)
    bulk_insert(ln.ULabel, [{"name": name} for name in data.label_names(size)])
    hits: dict[str, list[str]] = {}

    def run(index: int) -> dict[str, float]:
        timings = {}
        for query in data.SEARCH_QUERIES:
            start = time.perf_counter()
            df = ln.ULabel.search(query).to_dataframe()
            timings[f"search:{query}"] = time.perf_counter() - start
            hits[query] = df["name"].tolist() if "name" in df else []
        return timings

    def check() -> dict[str, list]:
        return {
            "top_hit": [hits[q][0] if hits[q] else None for q in data.SEARCH_QUERIES],
            "n_hits": [len(hits[q]) for q in data.SEARCH_QUERIES],
        }

    return harness.Workload(
        run=run,
        check=check,
        items=len(data.SEARCH_QUERIES),
        unit="query",
        notes={"call": "ln.ULabel.search(q).to_dataframe()", "queries": data.SEARCH_QUERIES},
    )


def query_df(instance_dir: Path, size: int, seed: int) -> harness.Workload:
    """Filter `size` labelled artifacts and build the artifact table with related names."""
    ln, _ = open_instance(instance_dir)
    label_names = data.query_label_names()
    bulk_insert(ln.ULabel, [{"name": name} for name in label_names])
    labels = {label.name: label for label in ln.ULabel.filter(name__in=label_names)}
    files = instance_dir / "files"
    files.mkdir()
    artifacts = []
    for i in range(size):
        path = files / f"file_{i}.txt"
        path.write_bytes(data.artifact_payload(i))
        artifacts.append(ln.Artifact(path, key=f"bench/file_{i}.txt"))
    ln.save(artifacts)
    link = ln.Artifact.ulabels.through
    link.objects.bulk_create(
        [
            link(artifact_id=artifact.id, ulabel_id=labels[label_names[j]].id)
            for i, artifact in enumerate(artifacts)
            for j in data.artifact_labels(i, seed)
        ],
        batch_size=BULK_BATCH_SIZE,
    )
    result: dict[str, Any] = {}

    def run(index: int) -> dict[str, float]:
        start = time.perf_counter()
        # limit=None: LaminDB's to_dataframe() returns at most 20 rows by default.
        result["filter_rows"] = [
            len(
                ln.Artifact.filter(ulabels=labels[label_names[j]], size__gt=threshold).to_dataframe(
                    limit=None
                )
            )
            for j, threshold in data.QUERY_FILTERS
        ]
        filter_s = time.perf_counter() - start
        df, include_s = _timed(
            ln.Artifact.to_dataframe, include=["ulabels__name", "created_by__name"], limit=None
        )
        result["include_rows"] = len(df)
        result["include_label_links"] = int(df["ulabels__name"].map(_n_names).sum())
        return {"filter_s": filter_s, "include_df_s": include_s}

    return harness.Workload(
        run=run,
        check=lambda: dict(result),
        items=len(data.QUERY_FILTERS) + 1,
        unit="query",
        notes={
            "filter": "ln.Artifact.filter(ulabels=label, size__gt=t).to_dataframe(limit=None)",
            "include": 'ln.Artifact.to_dataframe(include=["ulabels__name", "created_by__name"], '
            "limit=None)",
        },
    )


def _n_names(value: Any) -> int:
    """Count the names in an include column cell (a set, a list, one string, or empty)."""
    if isinstance(value, (set, list, tuple)):
        return len(value)
    return 0 if value is None or value != value else 1


def lookup(instance_dir: Path, size: int, seed: int) -> harness.Workload:
    """Build the dot-access lookup object over `size` ULabels."""
    ln, _ = open_instance(instance_dir)
    bulk_insert(ln.ULabel, [{"name": name} for name in data.label_names(size)])
    result: dict[str, int] = {}

    def run(index: int) -> None:
        entries = ln.ULabel.lookup()
        # the namedtuple's last field is the `dict` accessor, not an entry
        result["entries"] = len(entries._fields) - 1

    return harness.Workload(
        run=run, check=lambda: dict(result), items=size, unit="record", notes={"call": "lookup()"}
    )


def validate(instance_dir: Path, size: int, seed: int) -> harness.Workload:
    """Validate an AnnData (`size` obs x 60,000 genes, 3 categorical obs columns).

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
    spec = data.validate_spec(size, seed)
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
            {"symbol": symbol, "ensembl_gene_id": ensembl_id, "organism": human}
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
        curator, timings = _timed(ln.curators.AnnDataCurator, adata, schema)
        timings = {"curator_init_s": timings}
        for slot, slot_curator in curator.slots.items():
            start = time.perf_counter()
            # a slot with invalid values raises; they are counted below
            with contextlib.suppress(ln.errors.ValidationError):
                slot_curator.validate()
            timings[f"validate_{slot}_s"] = time.perf_counter() - start
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


WORKLOADS: dict[str, harness.WorkloadFactory] = {
    "register_df": register_df,
    "search": search,
    "query_df": query_df,
    "lookup": lookup,
    "validate": validate,
}


def versions() -> dict[str, str]:
    """Return the versions of the libraries measured."""
    from importlib.metadata import version

    return {name: version(name) for name in ("lamindb", "lamindb_setup", "bionty", "django")}


if __name__ == "__main__":
    raise SystemExit(harness.main(SIDE, WORKLOADS, versions=versions))
