"""Parse public source files once per process and index them for matching and search.

Ontology snapshots are (zstd) JSON, gene tables CSV or parquet. A parsed file becomes a `Table`:
the terms as a DataFrame plus lazily built indexes (valid values, case- and synonym-tolerant
mappers, search texts, children) that every accessor shares, so validating 60,000 gene symbols
is a vectorised hash lookup. `rank` scores search hits in bands that match the catalog's own
search: exact > synonym > whole word > prefix > substring > fuzzy.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import zstandard
from rapidfuzz import fuzz, process, utils

from lamin_core.errors import ValidationError, did_you_mean

__all__ = [
    "GENE_COLUMNS",
    "Table",
    "match_key",
    "parents_from_ancestors",
    "rank",
    "read_genes",
    "read_ontology",
    "records",
]

GENE_COLUMNS = {
    3: ["ensembl_gene_id", "symbol", "biotype"],
    5: ["ensembl_gene_id", "symbol", "version", "length", "biotype"],  # upstream genes_*.csv.gz
}


def parents_from_ancestors(terms: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    """Return the direct parents of each term from its ``ancestors {id: distance}`` map.

    Parents are the ancestors at distance 1 plus the nearest ancestors those do not reach: some
    releases (EFO, a few CL terms) drop intermediate terms, which would cut the lineage.
    """
    closure = {t: set(v.get("ancestors") or ()) for t, v in terms.items()}
    parents: dict[str, list[str]] = {}
    for term, ancestors in closure.items():
        direct = [a for a, d in terms[term]["ancestors"].items() if d == 1] if ancestors else []
        rest = ancestors - set(direct).union(*(closure.get(p, ()) for p in direct))
        below = set().union(*(closure.get(a, ()) for a in rest))
        parents[term] = direct + sorted(rest - below)
    return parents


@functools.lru_cache(maxsize=32)
def read_ontology(path: str, mtime_ns: int) -> Table:
    """Parse an ontology file into a `Table` keyed by ontology_id (cached per path and mtime)."""
    try:
        raw = Path(path).read_bytes()
        if path.endswith(".zst"):
            raw = zstandard.ZstdDecompressor().stream_reader(raw).read()
        terms: dict[str, dict[str, Any]] = json.loads(raw)
    except (ValueError, zstandard.ZstdError) as e:
        raise ValidationError(f"{path!r} is not a (zstd) JSON ontology file: {e}") from e
    if any("ancestors" in v for v in terms.values()):  # the upstream format
        parents = parents_from_ancestors(terms)
    else:
        parents = {t: v.get("parents", []) for t, v in terms.items()}
    values = terms.values()
    columns: dict[str, list[Any]] = {
        "name": [v.get("label") or None for v in values],
        "synonyms": ["|".join(v["synonyms"]) if v.get("synonyms") else None for v in values],
        "description": [v.get("description") for v in values],
        "parents": list(parents.values()),
        "deprecated": [bool(v.get("deprecated")) for v in values],
        "replaced_by": [v.get("replaced_by") for v in values],
    }
    if any("scientific_name" in v for v in values):
        columns["scientific_name"] = [v.get("scientific_name") for v in values]
    df = pd.DataFrame(columns, index=pd.Index(list(terms), name="ontology_id"))
    return Table(df, "ontology_id", "name", case_sensitive=False)


@functools.lru_cache(maxsize=32)
def read_genes(path: str, mtime_ns: int) -> Table:
    """Parse a gene table into a `Table` keyed by ensembl_gene_id (cached per path and mtime)."""
    if path.endswith(".parquet"):
        df = pd.read_parquet(path)
    else:  # pyarrow decompresses and parses 5x faster than pandas; header detected below
        options = pacsv.ReadOptions(autogenerate_column_names=True)
        types = pacsv.ConvertOptions(column_types={f"f{i}": pa.string() for i in range(5)})
        df = pacsv.read_csv(path, read_options=options, convert_options=types).to_pandas()
        if df.iloc[0, 0] == "ensembl_gene_id":
            df = df.iloc[1:].set_axis(df.iloc[0].tolist(), axis=1).reset_index(drop=True)
        elif df.shape[1] in GENE_COLUMNS:
            df.columns = GENE_COLUMNS[df.shape[1]]
    if not {"ensembl_gene_id", "symbol"} <= set(df.columns):
        raise ValidationError(
            f"Gene table {path!r} has columns {list(df.columns)}; expected ensembl_gene_id, "
            "symbol, biotype (header optional) or the 5 columns of upstream genes_<species>.csv.gz."
        )
    df = df[[c for c in GENE_COLUMNS[3] if c in df.columns]]
    return Table(df, "ensembl_gene_id", "symbol", case_sensitive=True)


def match_key(values: pd.Series, field: str) -> pd.Series:
    """Return the case-insensitive, id-format-tolerant form under which values match."""
    keys = pd.Series([str(v).strip().lower() for v in values], index=values.index, dtype=object)
    if field == "ontology_id":
        return keys.str.replace("_", ":", n=1, regex=False)  # CL_0000236 as in OWL IRIs
    if field == "ensembl_gene_id":
        return keys.str.replace(r"\.\d+$", "", regex=True)  # ENSG00000010610.10
    return keys


def records(df: pd.DataFrame) -> pd.DataFrame:
    """Return `df` with a named index (ontology_id) turned into the first column."""
    return df.reset_index() if df.index.name else df


class Table:
    """A parsed source and its indexes, built on first use and shared by all accessors."""

    def __init__(self, df: pd.DataFrame, key: str, name_field: str, case_sensitive: bool) -> None:
        self.all, self.key, self.name_field = df, key, name_field
        self.case_sensitive = case_sensitive
        active = ~df["deprecated"] if "deprecated" in df else slice(None)
        self.df = df.loc[active].drop(columns=["deprecated", "replaced_by"], errors="ignore")
        self.cache: dict[tuple[str, str], Any] = {}

    def column(self, field: str) -> pd.Series:
        """Return the values of `field` (the index for ontology_id), or raise listing fields."""
        if field == self.df.index.name:  # ontology_id
            return self.df.index.to_series()
        fields = [f for f in [self.key, *self.df] if f not in ("parents", "synonyms")]
        if field not in fields:
            hint = did_you_mean(str(field), fields)
            raise ValidationError(f"Unknown field {field!r}.{hint} Fields: {', '.join(fields)}.")
        return self.df[field]

    def cached(self, kind: str, field: str, build: Any) -> Any:
        """Return the index `kind` of `field`, building it with `build(field)` the first time."""
        if (kind, field) not in self.cache:
            self.cache[kind, field] = build(field)
        return self.cache[kind, field]

    def valid(self, field: str) -> pd.Index:
        """Return the distinct non-empty values of `field`."""

        def build(field: str) -> pd.Index:
            values = self.column(field).dropna()
            return pd.Index(values[values != ""].unique())

        return self.cached("valid", field, build)

    def mapper(self, field: str) -> dict[str, str]:
        """Return {case-insensitive key: canonical value}, plus unambiguous synonyms of names."""

        def build(field: str) -> dict[str, str]:
            canonical = self.column(field).dropna()
            pairs = pd.Series(canonical.to_numpy(), index=match_key(canonical, field))
            if self.case_sensitive:  # CD4 next to Cd4 in one table: no case-insensitive guess
                distinct = pairs.reset_index().drop_duplicates()
                ambiguous = distinct.iloc[:, 0][distinct.iloc[:, 0].duplicated()]
                pairs = pairs[~pairs.index.isin(ambiguous)]
            if field == self.name_field and "synonyms" in self.df:
                synonyms = self.df[["synonyms", field]].dropna()
                synonyms = synonyms.assign(synonyms=synonyms.synonyms.str.split("|"))
                synonyms = synonyms.explode("synonyms")
                syn = pd.Series(
                    synonyms[field].to_numpy(), index=match_key(synonyms.synonyms, field)
                )
                pairs = pd.concat([pairs, syn[~syn.index.duplicated(keep=False)]])
            pairs = pairs[~pairs.index.duplicated(keep="first")]
            return dict(zip(pairs.index, pairs.to_numpy()))  # 10x faster than Series.to_dict

        return self.cached("mapper", field, build)

    def search_index(self, field: str) -> tuple[list[str], pa.Array, np.ndarray, np.ndarray]:
        """Return (processed texts as list and arrow array, row of each text, is-synonym)."""

        def build(field: str) -> tuple[list[str], pa.Array, np.ndarray, np.ndarray]:
            texts = self.column(field).fillna("").astype(str).reset_index(drop=True)
            if field == self.name_field and "synonyms" in self.df:
                syn = self.df["synonyms"].reset_index(drop=True).dropna().str.split("|").explode()
                texts = pd.concat([texts, syn.astype(str)])
            processed = [utils.default_process(t) for t in texts]
            is_syn = np.arange(len(texts)) >= len(self.df)
            return processed, pa.array(processed), texts.index.to_numpy(), is_syn

        return self.cached("search", field, build)

    @functools.cached_property
    def children(self) -> dict[str, list[str]]:
        """Return {ontology_id: ids of the terms whose direct parent it is}."""
        edges = self.df["parents"].explode().dropna()
        return edges.index.to_series().groupby(edges.to_numpy()).agg(list).to_dict()


def rank(query: str, texts: list[str], arrow: pa.Array, is_syn: np.ndarray) -> np.ndarray:
    """Score texts: exact name 100 > exact synonym 95 > whole word > prefix > substring > fuzzy.

    Within a band the score grows with the share of the text the query covers, so "b cel" puts
    "B cell" above "B cell, CD19-positive"; typo matches (fuzzy) stay below 60.
    """
    q = utils.default_process(query)
    if not q:
        return np.zeros(len(texts))
    scores = 0.6 * process.cdist([q], texts, scorer=fuzz.ratio, score_cutoff=50)[0]
    hits = np.flatnonzero(pc.match_substring(arrow, q).to_numpy(zero_copy_only=False))
    sub = arrow.take(hits)
    band = np.where(pc.starts_with(sub, q).to_numpy(zero_copy_only=False), 70.0, 60.0)
    whole_word = pc.match_substring_regex(sub, rf"(?:^|\s){re.escape(q)}(?:\s|$)")
    band[whole_word.to_numpy(zero_copy_only=False)] = 80.0
    coverage = 10 * len(q) / np.maximum(pc.utf8_length(sub).to_numpy(), 1)
    scores[hits] = band + coverage - is_syn[hits]
    exact = hits[pc.equal(sub, q).to_numpy(zero_copy_only=False)]
    scores[exact] = np.where(is_syn[exact], 95.0, 100.0)
    return scores
