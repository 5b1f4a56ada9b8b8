"""Deterministic benchmark data shared by both sides of the side-by-side runner.

Both `lamindb_side.py` (run in the LaminDB venv) and the lamin_core side import this module, so
the two catalogs are fed byte-identical inputs and their `check` values can be compared. It
therefore imports nothing from `lamindb` or `lamin_core`; the core generators return plain Python
and numpy values, and the few helpers that build pandas/AnnData objects import those lazily (both
venvs have them).

Real vocabularies come from the offline snapshots in `shared/data` (Cell Ontology, UBERON, MONDO
labels and GENCODE human gene symbols), so names look like what users type. Set
`LAMIN_BENCH_DATA` to point elsewhere.
"""

import base64
import csv
import functools
import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

# the PostgreSQL server of `--param db=postgresql` runs (harness.database makes a database per side)
POSTGRES_ADMIN = os.environ.get("BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")


def postgres_unreachable() -> str | None:
    """Return why POSTGRES_ADMIN's server cannot be reached (a TCP connect), or None."""
    import socket
    from urllib.parse import urlsplit

    address = urlsplit(POSTGRES_ADMIN)
    host, port = address.hostname or "127.0.0.1", address.port or 5432
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError as error:
        return f"PostgreSQL at {host}:{port} is not reachable ({error}); set BENCH_POSTGRES"
    return None


DEFAULT_SEED = 0

DATA_DIR = Path(
    os.environ.get("LAMIN_BENCH_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)

ONTOLOGY_FILES = {
    "CL": "CL-ontology-v2026-03-26.json.zst",
    "UBERON": "UBERON-ontology-v2026-04-01.json.zst",
    "MONDO": "MONDO-ontology-v2026-05-05.json.zst",
}
TAXON_FILE = "NCBITaxon-ontology-v2026-05-13.json.zst"
# derived inputs that are slow to compute (the NCBITaxon subsets) are kept here between runs
CACHE_DIR = Path(os.environ.get("LAMIN_BENCH_CACHE", Path(__file__).resolve().parent / ".cache"))
HUMAN_GENES_FILE = "genes/genes_homo_sapiens.csv.gz"

# ---------------------------------------------------------------------------------------------
# raw vocabularies


@dataclass(frozen=True)
class Term:
    """One ontology term: the fields a bio registry row needs."""

    ontology_id: str
    name: str
    synonyms: tuple[str, ...]


def _read_zst_json(path: Path) -> Any:
    """Decompress a zstd JSON file with `zstandard`, or the `zstd` CLI when it is not installed.

    Python 3.11 has no zstd in the standard library and the LaminDB venv need not carry the
    package, so the CLI fallback keeps this module dependency-free.
    """
    try:
        import zstandard
    except ImportError:
        if shutil.which("zstd") is None:
            raise RuntimeError(
                f"Cannot read {path}: install the 'zstandard' package or the 'zstd' program."
            ) from None
        raw = subprocess.run(["zstd", "-dc", str(path)], check=True, capture_output=True).stdout
    else:
        with path.open("rb") as fh:
            raw = zstandard.ZstdDecompressor().stream_reader(fh).read()
    return json.loads(raw)


@functools.cache
def ontology_terms(prefix: str) -> tuple[Term, ...]:
    """Return the non-deprecated terms of an ontology snapshot, sorted by ontology id.

    Sorting makes the order independent of the JSON file's key order.
    """
    raw = _read_zst_json(DATA_DIR / "ontologies" / ONTOLOGY_FILES[prefix])
    terms = [
        Term(ontology_id=key, name=value["label"], synonyms=tuple(value.get("synonyms", ())))
        for key, value in raw.items()
        if not value.get("deprecated") and value.get("label")
    ]
    return tuple(sorted(terms, key=lambda term: term.ontology_id))


@functools.cache
def human_genes() -> tuple[tuple[str, str], ...]:
    """Return (ensembl_gene_id, symbol) for each distinct symbol, first occurrence, file order."""
    seen: set[str] = set()
    genes = []
    with gzip.open(DATA_DIR / HUMAN_GENES_FILE, "rt", newline="") as fh:
        for row in csv.reader(fh):
            ensembl_id, symbol = row[0], row[1]
            if symbol and symbol not in seen:
                seen.add(symbol)
                genes.append((ensembl_id, symbol))
    return tuple(genes)


def cycled_names(names: tuple[str, ...] | list[str], n: int) -> list[str]:
    """Return `n` unique names: the originals, then `"<name> 2"`, `"<name> 3"`, ... per round.

    Duplicates that a suffix happens to produce are skipped, so the result is always unique.
    """
    if not names:
        raise ValueError("cycled_names needs at least one name")
    out: list[str] = []
    seen: set[str] = set()
    round_ = 0
    while len(out) < n:
        for name in names:
            candidate = name if round_ == 0 else f"{name} {round_ + 1}"
            if candidate not in seen:
                seen.add(candidate)
                out.append(candidate)
                if len(out) == n:
                    break
        round_ += 1
    return out


# ---------------------------------------------------------------------------------------------
# register_df


def small_frame_columns(index: int, seed: int = DEFAULT_SEED) -> dict[str, list]:
    """Return the columns of the `index`-th small table: 10 rows x 3 columns, unique per index.

    The integer column embeds `index`, so no two tables share content (and hash).
    """
    rng = np.random.default_rng([seed, index])
    return {
        "sample": [index * 10 + row for row in range(10)],
        "value": [round(float(x), 6) for x in rng.normal(size=10)],
        "group": [f"g{int(x)}" for x in rng.integers(0, 5, size=10)],
    }


def small_dataframe(index: int, seed: int = DEFAULT_SEED):
    """Return the `index`-th small table as a pandas DataFrame."""
    import pandas as pd

    return pd.DataFrame(small_frame_columns(index, seed))


def register_df_key(index: int) -> str:
    """Return the artifact key of the `index`-th DataFrame."""
    return f"bench/df_{index}.parquet"


# ---------------------------------------------------------------------------------------------
# search and lookup

# Exact names, prefixes, a multi-word phrase, case variants and typos (no substring match).
SEARCH_QUERIES = (
    "T cell",
    "neuron",
    "hepatocyte",
    "b cell",
    "lymph",
    "macroph",
    "CD4-positive",
    "regulatory T cell",
    "fibroblst",
    "astrocite",
)


def label_names(n: int) -> list[str]:
    """Return `n` realistic unique label names: Cell Ontology labels, cycled with suffixes."""
    return cycled_names([term.name for term in ontology_terms("CL")], n)


def exact_hits(queries: tuple[str, ...], hits: dict[str, list[str]], names: set[str]) -> dict:
    """Return, per query that names a record exactly (ignoring case), whether search found it.

    This is the part of a search result two correct catalogs must agree on: the record whose
    name is the query is among the hits. Rankings and hit counts legitimately differ (LaminDB
    has no typo tolerance), so they are reported next to the check, not in it.
    """
    lowered = {name.lower() for name in names}
    return {
        query: any(hit.lower() == query.lower() for hit in hits[query])
        for query in queries
        if query.lower() in lowered
    }


def lookup_probe(names: list[str]) -> tuple[str, str]:
    """Return a name and its lookup attribute that both catalogs derive the same way.

    LaminDB and lamin_core differ on odd names (LaminDB keeps a trailing ``_`` and prefixes
    ``bt_`` to a leading digit, lamin_core strips and prefixes ``_``), never on plain words.
    """
    for name in names:
        if re.fullmatch(r"[A-Za-z][A-Za-z0-9]*( [A-Za-z0-9]+)*", name):
            return name, name.lower().replace(" ", "_")
    raise ValueError("no plain name to probe the lookup with")


# ---------------------------------------------------------------------------------------------
# search_taxon: the NCBI Taxonomy, 1.26 million names with synonyms

# Scientific names, common-name synonyms, a genus prefix and typos (the snapshot is Metazoa).
TAXON_QUERIES = (
    "Homo sapiens",
    "human",
    "Mus musculus",
    "mouse",
    "Drosophila melanogaster",
    "zebrafish",
    "Caenorhabditis elegans",
    "Rattus",
    "Homo sapeins",
    "Drosophla melanogaster",
)


def _strip_ancestors(raw: bytes) -> bytes:
    """Drop every ``"ancestors":{...}`` member from the NCBITaxon JSON text.

    The ancestor maps are 90% of the 844 MB and are not needed; parsing without them takes
    ~5 s instead of ~40 s. They hold only ids and integers, so the first ``}`` ends each one;
    if the file ever breaks that assumption, the JSON no longer parses and the caller falls back
    to the full parse.
    """
    parts = raw.split(b'"ancestors":{')
    kept = [parts[0]]
    for part in parts[1:]:
        end = part.index(b"}") + 1
        if part[end : end + 1] == b",":
            end += 1
        kept.append(part[end:])
    return b"".join(kept)


def _read_taxon_file() -> dict[str, dict[str, Any]]:
    """Return the NCBITaxon snapshot as id -> {label, synonyms, deprecated}, without ancestors."""
    path = DATA_DIR / "ontologies" / TAXON_FILE
    try:
        import zstandard
    except ImportError:
        raw = subprocess.run(["zstd", "-dc", str(path)], check=True, capture_output=True).stdout
    else:
        with path.open("rb") as fh:
            raw = zstandard.ZstdDecompressor().stream_reader(fh).read()
    try:
        return json.loads(_strip_ancestors(raw))
    except ValueError:
        return json.loads(raw)


def taxon_subset(n: int, cache_dir: Path | None = CACHE_DIR) -> tuple[Term, ...]:
    """Return the first `n` non-deprecated NCBITaxon terms by numeric taxon id (all when fewer).

    Numeric order puts the long-known model organisms (human 9606, mouse 10090, fly 7227) among
    the first terms, so a subset of 10,000 terms still contains the query targets. Parsing the
    snapshot takes 10-20 s and 2 GB, so the subset is kept in `cache_dir` (None: no cache); the
    runner computes it once before the sides start.
    """
    stem = TAXON_FILE.split(".")[0]
    cache = cache_dir / f"{stem}-first-{n}.json" if cache_dir is not None else None
    if cache is not None and cache.exists():
        return tuple(
            Term(i, name, tuple(synonyms)) for i, name, synonyms in json.loads(cache.read_text())
        )
    raw = _read_taxon_file()
    ids = sorted(
        (int(key.split(":")[1]), key)
        for key, value in raw.items()
        if not value.get("deprecated") and value.get("label")
    )[:n]
    terms = tuple(
        Term(ontology_id=key, name=raw[key]["label"], synonyms=tuple(raw[key].get("synonyms", ())))
        for _, key in ids
    )
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        partial = cache.with_suffix(f".{os.getpid()}.partial")
        partial.write_text(json.dumps([[t.ontology_id, t.name, t.synonyms] for t in terms]))
        partial.replace(cache)
    return terms


# ---------------------------------------------------------------------------------------------
# query_df

N_QUERY_LABELS = 30
LABELS_PER_ARTIFACT = 3
QUERY_SIZE_THRESHOLD = 1024
# (label index, size threshold) pairs of the timed filters
QUERY_FILTERS = ((0, QUERY_SIZE_THRESHOLD), (7, QUERY_SIZE_THRESHOLD), (13, 0), (29, 1536))


def query_label_names() -> list[str]:
    """Return the 30 label names artifacts are annotated with."""
    return [f"study_{j:02d}" for j in range(N_QUERY_LABELS)]


def artifact_payload(index: int) -> bytes:
    """Return the content of the `index`-th tiny file: unique, 32..2079 bytes long."""
    head = f"artifact {index}\n".encode()
    size = 32 + (index * 7919) % 2048
    return (head * (size // len(head) + 1))[:size]


def artifact_key(index: int) -> str:
    """Return the key of the `index`-th artifact of the query_df workload."""
    return f"bench/file_{index}.txt"


def artifact_hash(index: int) -> str:
    """Return the LaminDB-compatible hash of the `index`-th payload (md5, url-safe base64)."""
    digest = hashlib.md5(artifact_payload(index), usedforsecurity=False).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def artifact_label_matrix(n: int, seed: int = DEFAULT_SEED) -> np.ndarray:
    """Return an (n, 3) array: row i holds the sorted indices of artifact i's 3 distinct labels.

    Rows do not depend on `n` (the generator fills row after row), so a small catalog's
    annotations are a prefix of a large one's. Vectorised: one generator, not one per artifact,
    because a million artifacts are set up.
    """
    rng = np.random.default_rng([seed, 1])
    out = np.empty((n, LABELS_PER_ARTIFACT), dtype=np.int64)
    for start in range(0, n, 100_000):
        block = rng.random((min(100_000, n - start), N_QUERY_LABELS))
        picked = np.argsort(block, axis=1)[:, :LABELS_PER_ARTIFACT]
        out[start : start + len(block)] = np.sort(picked, axis=1)
    return out


def expected_filter_counts(size: int, seed: int = DEFAULT_SEED) -> list[int]:
    """Return the row count each QUERY_FILTERS entry must produce (a pure-Python oracle)."""
    labels = artifact_label_matrix(size, seed)
    sizes = np.array([len(artifact_payload(i)) for i in range(size)])
    return [
        int(((labels == label).any(axis=1) & (sizes > threshold)).sum())
        for label, threshold in QUERY_FILTERS
    ]


BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def base62_id(index: int, length: int) -> str:
    """Return `index` in base62 left-padded to `length`: a unique uid for bulk-inserted rows."""
    digits = []
    rest = index
    while rest:
        rest, digit = divmod(rest, 62)
        digits.append(BASE62[digit])
    text = "".join(reversed(digits)) or "0"
    if len(text) > length:
        raise ValueError(f"{index} does not fit in {length} base62 characters")
    return text.rjust(length, "0")


# ---------------------------------------------------------------------------------------------
# validate

N_GENES = 60_000
N_INVALID_GENES = 10
N_CATEGORIES = 1_000
N_INVALID_PER_COLUMN = 5
# obs column -> (ontology prefix, registry the LaminDB side validates against)
VALIDATE_COLUMNS = {
    "cell_type": "CL",
    "tissue": "UBERON",
    "disease": "MONDO",
}


@dataclass(frozen=True)
class ValidateSpec:
    """Everything the validate workload needs: registry contents and the dataset to curate.

    `registry_terms[column]` and `registry_genes` pre-fill the registries; `obs` and
    `var_symbols` make up the AnnData; `expected_non_validated` is the oracle for the check.
    """

    registry_terms: dict[str, tuple[Term, ...]]
    registry_genes: tuple[tuple[str, str], ...]
    obs: dict[str, list[str]]
    obs_names: list[str]
    var_symbols: list[str]
    expected_non_validated: dict[str, int]


def _typo(name: str) -> str:
    """Drop the middle character of a name: a realistic, non-substring misspelling."""
    mid = len(name) // 2
    return name[:mid] + name[mid + 1 :]


def validate_spec(n_obs: int, seed: int = DEFAULT_SEED, n_genes: int = N_GENES) -> ValidateSpec:
    """Build the validate workload's data for `n_obs` observations.

    Each obs column cycles through 1,000 valid terms (all of them appear once n_obs >= 1,000),
    rows are shuffled, then `N_INVALID_PER_COLUMN` rows get misspelled terms. The registries hold
    exactly the 1,000 valid terms per column and `n_genes` genes (60,000 by default; the quick
    run uses fewer); var holds all but 10 of those genes plus 10 made-up symbols.
    """
    rng = np.random.default_rng([seed, 2])
    registry_terms: dict[str, tuple[Term, ...]] = {}
    obs: dict[str, list[str]] = {}
    expected: dict[str, int] = {}
    for column, prefix in VALIDATE_COLUMNS.items():
        all_terms = ontology_terms(prefix)
        vocabulary = all_terms[:N_CATEGORIES]
        registry_terms[column] = vocabulary
        all_names = {term.name for term in all_terms}
        values = [vocabulary[i % N_CATEGORIES].name for i in range(n_obs)]
        values = [values[i] for i in rng.permutation(n_obs)]
        invalid: list[str] = []
        for term in vocabulary[::-1]:  # typos of the last terms: deterministic and distinct
            candidate = _typo(term.name)
            if candidate not in all_names and candidate not in invalid:
                invalid.append(candidate)
            if len(invalid) == N_INVALID_PER_COLUMN:
                break
        n_invalid = min(N_INVALID_PER_COLUMN, n_obs)
        for j in range(n_invalid):
            values[j * n_obs // n_invalid] = invalid[j]
        obs[column] = values
        expected[column] = n_invalid
    genes = human_genes()[:n_genes]
    var_symbols = [symbol for _, symbol in genes[: n_genes - N_INVALID_GENES]]
    var_symbols += [f"NOTAGENE{k}" for k in range(1, N_INVALID_GENES + 1)]
    expected["var_index"] = N_INVALID_GENES
    return ValidateSpec(
        registry_terms=registry_terms,
        registry_genes=genes,
        obs=obs,
        obs_names=[f"cell_{i}" for i in range(n_obs)],
        var_symbols=var_symbols,
        expected_non_validated=expected,
    )


def make_anndata(spec: ValidateSpec):
    """Return the AnnData to validate: categorical obs, gene-symbol var index, no X.

    X stays empty because validation reads only obs and the var index; a dense 60,000-column
    matrix would only measure memory allocation.
    """
    import anndata as ad
    import pandas as pd

    obs = pd.DataFrame(
        {column: pd.Categorical(values) for column, values in spec.obs.items()},
        index=pd.Index(spec.obs_names),
    )
    var = pd.DataFrame(index=pd.Index(spec.var_symbols))
    return ad.AnnData(obs=obs, var=var)


# ---------------------------------------------------------------------------------------------
# hash_file


def random_file(directory: Path, mib: int, seed: int = DEFAULT_SEED) -> Path:
    """Return a file of `mib` MiB of random bytes under `directory`, writing it if missing.

    Both sides of a run share the file (same name, same directory), so it is written once.
    """
    path = directory / f"random-{mib}MiB-seed{seed}.bin"
    if path.exists() and path.stat().st_size == mib * 2**20:
        return path
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([seed, 3])
    partial = path.with_suffix(f".{os.getpid()}.partial")  # both sides may write it at once
    with partial.open("wb") as fh:
        for _ in range(mib):
            fh.write(rng.bytes(2**20))
    partial.replace(path)
    return path
