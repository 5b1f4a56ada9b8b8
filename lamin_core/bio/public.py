"""Offline public ontologies and gene tables: search, validate and standardize without a database.

Curating a dataset needs the reference vocabulary (Cell Ontology, UBERON, Ensembl genes, ...)
before anything is saved to a catalog, often on a laptop or a CI runner without network. This
module reads the compact snapshots shipped in ``lamin_core/bio/data`` (built by
``scripts/build_bio_data.py``, listed in ``sources.json``), or any newer file of the same format
registered with `add_source`. Each file is parsed once per process and its indexes are built once,
so validating 60,000 gene symbols is a vectorised hash lookup of a few milliseconds.

Examples:
    >>> from lamin_core.bio.public import PublicGenes, PublicOntology
    >>> cell_types = PublicOntology("CellType")
    >>> cell_types.search("b cel").name.iloc[0]
    'B cell'
    >>> cell_types.standardize(["B lymphocyte", "T cell"])
    ['B cell', 'T cell']
    >>> PublicGenes("human").validate(["CD8A", "CD4", "XYZ"]).tolist()
    [True, True, False]
"""

from __future__ import annotations

import functools
import hashlib
import json
import keyword
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import zstandard
from rapidfuzz import fuzz, process, utils

from lamin_core.errors import DoesNotExist, StorageError, ValidationError, did_you_mean

__all__ = [
    "ENTITIES",
    "InspectResult",
    "Lookup",
    "PublicGenes",
    "PublicOntology",
    "Source",
    "add_source",
    "get_source",
    "list_sources",
    "parents_from_ancestors",
    "resolve_organism",
]

DATA_DIR = Path(__file__).parent / "data"
ENTITIES = (
    "CellType", "Tissue", "Disease", "ExperimentalFactor", "DevelopmentalStage",
    "Phenotype", "Ethnicity", "Organism", "Gene",
)  # fmt: skip
GENE_COLUMNS = {
    3: ["ensembl_gene_id", "symbol", "biotype"],
    5: ["ensembl_gene_id", "symbol", "version", "length", "biotype"],  # upstream genes_*.csv.gz
}


@dataclass(frozen=True)
class Source:
    """One versioned public source: a row of ``sources.json`` or a file added with `add_source`.

    ``organism`` is ``"all"`` or a common name (``"human"``); ``file`` is absolute or relative to
    the shipped data folder; ``md5`` tells two files of one version apart.
    """

    entity: str
    organism: str
    name: str
    version: str
    file: str
    url: str | None = None
    md5: str | None = None

    @property
    def path(self) -> Path:
        """Return the absolute path of the file."""
        return Path(self.file) if Path(self.file).is_absolute() else DATA_DIR / self.file


_ADDED: list[Source] = []  # registered in this process with add_source; the newest wins


@functools.lru_cache(maxsize=1)
def _shipped_sources() -> tuple[Source, ...]:
    manifest = DATA_DIR / "sources.json"
    if not manifest.is_file():
        raise StorageError(f"Missing {manifest}. Build it with `python scripts/build_bio_data.py`.")
    return tuple(Source(**row) for row in json.loads(manifest.read_text()))


def _all_sources() -> list[Source]:
    return [*reversed(_ADDED), *_shipped_sources()]


def list_sources() -> pd.DataFrame:
    """Return every known source as a DataFrame; added ones come first as they take precedence."""
    return pd.DataFrame([asdict(s) for s in _all_sources()], columns=list(Source.__annotations__))


def _check_entity(entity: str) -> str:
    canonical = {e.lower(): e for e in ENTITIES}.get(str(entity).replace("_", "").lower())
    if canonical is None:
        hint = did_you_mean(str(entity), ENTITIES)
        raise ValidationError(f"Unknown entity {entity!r}.{hint} Entities: {', '.join(ENTITIES)}.")
    return canonical


def resolve_organism(organism: str) -> str:
    """Return the common name of an organism from any of its names, synonyms or taxon id.

    Args:
        organism: ``"human"``, ``"Homo sapiens"``, ``"homo_sapiens"``, ``"NCBITaxon:9606"``,
            ``"9606"`` or ``"all"``; case-insensitive.

    Raises:
        ValidationError: Unknown organism; the message names the closest one and lists all.
    """
    table = PublicOntology("Organism")._table
    names = table.df["name"]
    aliases = {"all": "all", **table.mapper("name"), **{s.organism: s.organism for s in _ADDED}}
    aliases.update({i.lower(): n for i, n in names.items()})
    aliases.update({i.split(":")[-1]: n for i, n in names.items()})
    key = str(organism).strip().lower()
    for candidate in (key, key.replace("_", " ")):
        if candidate in aliases:
            return aliases[candidate]
    hint = did_you_mean(key, names)
    raise ValidationError(f"Unknown organism {organism!r}.{hint} Organisms: {', '.join(names)}.")


def get_source(
    entity: str, organism: str | None = None, name: str | None = None, version: str | None = None
) -> Source:
    """Return the source of an entity: the newest added one, else the shipped default.

    Args:
        entity: One of `ENTITIES`, e.g. ``"CellType"``.
        organism: Restrict to sources for this organism or for ``"all"`` organisms.
        name: Restrict to a source name, e.g. ``"mondo"``.
        version: Restrict to a version.

    Raises:
        ValidationError: Unknown entity or organism, or no source matches.
    """
    entity = _check_entity(entity)
    organism = None if organism is None else resolve_organism(organism)
    candidates = [s for s in _all_sources() if s.entity == entity]
    for s in candidates:
        if (
            (organism is None or s.organism in (organism, "all"))
            and (name is None or s.name == name.lower())
            and (version is None or s.version == version)
        ):
            return s
    known = ", ".join(f"{s.name} {s.version} ({s.organism})" for s in candidates) or "none"
    raise ValidationError(
        f"No {entity} source for organism={organism!r}, name={name!r}, version={version!r}. "
        f"{entity} sources: {known}. Register a file with "
        f"add_source(path, entity={entity!r}, name=..., version=..., organism=...)."
    )


def _existing_file(path: str | Path) -> Path:
    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise StorageError(f"No such source file: {str(path)!r}.")
    return path


def add_source(
    path: str | Path, entity: str, name: str, version: str, organism: str = "all"
) -> Source:
    """Register a newer file for this process; it takes precedence over the shipped snapshot.

    Ontology files are zstd-compressed (``.zst``) or plain JSON objects mapping term ids to
    ``{label, synonyms?, description?, ancestors {id: distance} | parents [ids], deprecated}``.
    Gene files are CSV (optionally ``.gz``/``.zst``; header optional) with the columns
    ensembl_gene_id, symbol, biotype or the 5 columns of upstream ``genes_<species>.csv.gz``,
    or parquet.

    Args:
        path: The file.
        entity: One of `ENTITIES`.
        name: Source name, e.g. ``"mondo"``.
        version: Upstream version, e.g. ``"v2026-05-05"``.
        organism: ``"all"`` or the organism the file is for (a common name such as ``"rat"``).

    Returns:
        The registered `Source`.

    Examples:
        Register the upstream rat gene table, then use it like a shipped one::

            add_source("genes_rattus_norvegicus.csv.gz", "Gene", "ensembl", "release-114", "rat")
            PublicGenes("rat").validate(["Cd8a"])
    """
    file, entity = _existing_file(path), _check_entity(entity)
    try:
        organism = resolve_organism(organism)
    except ValidationError:
        organism = organism.strip().lower()  # a species outside the curated Organism table
    md5 = hashlib.md5(file.read_bytes()).hexdigest()
    source = Source(entity, organism, name.lower(), version, str(file), file.as_uri(), md5)
    _ADDED.append(source)
    return source


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
def _read_ontology(path: str, mtime_ns: int) -> _Table:
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
    return _Table(df, "ontology_id", "name", case_sensitive=False)


@functools.lru_cache(maxsize=32)
def _read_genes(path: str, mtime_ns: int) -> _Table:
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
    return _Table(df, "ensembl_gene_id", "symbol", case_sensitive=True)


def _key(values: pd.Series, field: str) -> pd.Series:
    """Return the case-insensitive, id-format-tolerant form under which values match."""
    keys = pd.Series([str(v).strip().lower() for v in values], index=values.index, dtype=object)
    if field == "ontology_id":
        return keys.str.replace("_", ":", n=1, regex=False)  # CL_0000236 as in OWL IRIs
    if field == "ensembl_gene_id":
        return keys.str.replace(r"\.\d+$", "", regex=True)  # ENSG00000010610.10
    return keys


def _records(df: pd.DataFrame) -> pd.DataFrame:
    return df.reset_index() if df.index.name else df


class _Table:
    """A parsed source and its indexes, built on first use and shared by all accessors."""

    def __init__(self, df: pd.DataFrame, key: str, name_field: str, case_sensitive: bool) -> None:
        self.all, self.key, self.name_field = df, key, name_field
        self.case_sensitive = case_sensitive
        active = ~df["deprecated"] if "deprecated" in df else slice(None)
        self.df = df.loc[active].drop(columns=["deprecated", "replaced_by"], errors="ignore")
        self.cache: dict[tuple[str, str], Any] = {}

    def column(self, field: str) -> pd.Series:
        if field == self.df.index.name:  # ontology_id
            return self.df.index.to_series()
        fields = [f for f in [self.key, *self.df] if f not in ("parents", "synonyms")]
        if field not in fields:
            hint = did_you_mean(str(field), fields)
            raise ValidationError(f"Unknown field {field!r}.{hint} Fields: {', '.join(fields)}.")
        return self.df[field]

    def cached(self, kind: str, field: str, build: Any) -> Any:
        if (kind, field) not in self.cache:
            self.cache[kind, field] = build(field)
        return self.cache[kind, field]

    def valid(self, field: str) -> pd.Index:
        def build(field: str) -> pd.Index:
            values = self.column(field).dropna()
            return pd.Index(values[values != ""].unique())

        return self.cached("valid", field, build)

    def mapper(self, field: str) -> dict[str, str]:
        """Return {case-insensitive key: canonical value}, plus unambiguous synonyms of names."""

        def build(field: str) -> dict[str, str]:
            canonical = self.column(field).dropna()
            pairs = pd.Series(canonical.to_numpy(), index=_key(canonical, field))
            if self.case_sensitive:  # CD4 next to Cd4 in one table: no case-insensitive guess
                distinct = pairs.reset_index().drop_duplicates()
                ambiguous = distinct.iloc[:, 0][distinct.iloc[:, 0].duplicated()]
                pairs = pairs[~pairs.index.isin(ambiguous)]
            if field == self.name_field and "synonyms" in self.df:
                synonyms = self.df[["synonyms", field]].dropna()
                synonyms = synonyms.assign(synonyms=synonyms.synonyms.str.split("|"))
                synonyms = synonyms.explode("synonyms")
                syn = pd.Series(synonyms[field].to_numpy(), index=_key(synonyms.synonyms, field))
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
        edges = self.df["parents"].explode().dropna()
        return edges.index.to_series().groupby(edges.to_numpy()).agg(list).to_dict()


def _rank(query: str, texts: list[str], arrow: pa.Array, is_syn: np.ndarray) -> np.ndarray:
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


@dataclass
class InspectResult:
    """What `inspect` found: validated values, the others, and synonyms that fix some of them."""

    validated: list[Any]
    non_validated: list[Any]
    synonyms_mapper: dict[Any, Any]

    @property
    def frac_validated(self) -> float:
        """Return the fraction of distinct values that validate."""
        n = len(self.validated) + len(self.non_validated)
        return len(self.validated) / n if n else 1.0


def _attribute_name(value: str) -> str:
    name = re.sub(r"[^0-9a-zA-Z_]+", "_", value).lower()
    name = name if name[:1].isalpha() else f"bt_{name}"
    return f"{name}_" if keyword.iskeyword(name) else name


class Lookup:
    """Records by attribute-friendly name (``lookup.b_cell``); `dict` gives them by exact value.

    Names are lower case with runs of non-alphanumerics replaced by ``_``, a leading non-letter
    prefixed with ``bt_`` and Python keywords suffixed with ``_``; a name shared by several
    values (``B cell`` and ``B-cell``) holds the list of their records.
    """

    def __init__(self, df: pd.DataFrame, field: str, record_name: str) -> None:
        records = _records(df).itertuples(index=False, name=record_name)
        self._by_value: dict[str, Any] = {}
        self._by_name: dict[str, Any] = {}
        for value, record in zip(df.index if field == df.index.name else df[field], records):
            if not isinstance(value, str) or not value or value in self._by_value:
                continue
            self._by_value[value] = record
            name = _attribute_name(value)
            if name in self._by_name:  # e.g. "B cell" and "B-cell"
                shared = self._by_name[name]
                self._by_name[name] = [*(shared if isinstance(shared, list) else [shared]), record]
            else:
                self._by_name[name] = record

    def __getattr__(self, name: str) -> Any:
        by_name = self.__dict__.get("_by_name", {})
        if name not in by_name:
            raise AttributeError(f"No record named {name!r}.{did_you_mean(name, by_name)}")
        return by_name[name]

    def __getitem__(self, name: str) -> Any:
        return self.__getattr__(name)

    def __dir__(self) -> list[str]:
        return [*self._by_name, "dict"]

    def __len__(self) -> int:
        return len(self._by_value)

    def dict(self) -> dict[str, Any]:
        """Return {exact value: record}."""
        return dict(self._by_value)


def _as_series(values: Iterable[Any]) -> pd.Series:
    return pd.Series([values] if isinstance(values, str) else list(values), dtype=object)


class _PublicTable:
    """What ontologies and gene tables share: df, get, search, lookup, validate, standardize."""

    _reader: ClassVar[Any] = staticmethod(_read_ontology)

    def __init__(self, source: Source) -> None:
        self.source = source

    @classmethod
    def _from_source(cls, source: Source) -> Any:
        self = cls.__new__(cls)  # bypass the subclass __init__, which looks the source up
        self.source = source
        return self

    @property
    def _table(self) -> _Table:
        path = self.source.path
        if not path.is_file():
            raise StorageError(f"Missing file {str(path)!r} of source {self.source.name!r}.")
        return self._reader(str(path), path.stat().st_mtime_ns)

    def __repr__(self) -> str:
        s = self.source
        return (
            f"{type(self).__name__}\nEntity: {s.entity}\nOrganism: {s.organism}\n"
            f"Source: {s.name}, {s.version}\n#terms: {len(self._table.df)}"
        )

    def df(self) -> pd.DataFrame:
        """Return the records (deprecated ones excluded) as a DataFrame."""
        return self._table.df.copy()

    def get(self, value: str, field: str | None = None) -> Any:
        """Return the record whose `field` equals `value`; by default the id, else the name.

        Raises:
            DoesNotExist: No such record; the message names the replacement or closest value.
        """
        table = self._table
        fields = [field] if field else [table.key, table.name_field]
        for f in fields:
            hits = np.flatnonzero(table.column(f).to_numpy() == value)
            if len(hits):
                rows = _records(table.df.iloc[hits[:1]])
                return next(rows.itertuples(index=False, name=self.source.entity))
        message = f"No record {value!r} in {self.source.name} {self.source.version}."
        if "replaced_by" in table.all and value in table.all.index:
            message += f" It is deprecated; replaced by {table.all.replaced_by[value]!r}."
        else:
            hints = [process.extractOne(value, table.valid(f), scorer=fuzz.ratio) for f in fields]
            hint = max((h for h in hints if h), key=lambda h: h[1], default=None)
            message += f" Did you mean {hint[0]!r}?" if hint and hint[1] >= 80 else ""
        raise DoesNotExist(message)

    def search(self, string: str, *, field: str | None = None, limit: int = 20) -> pd.DataFrame:
        """Return the best matches for `string`, case-insensitive and typo tolerant.

        Ranking: exact name > exact synonym > whole word > prefix > substring > fuzzy; the
        ``score`` column (0-100) shows the band.

        Args:
            string: What to look for.
            field: Column to search; default the name (or symbol) and its synonyms.
            limit: Maximum number of rows.
        """
        table = self._table
        texts, arrow, rows, is_syn = table.search_index(field or table.name_field)
        best = np.zeros(len(table.df))
        np.maximum.at(best, rows, _rank(string, texts, arrow, is_syn))
        order = np.argsort(-best, kind="stable")[:limit]
        order = order[best[order] > 0]
        return table.df.iloc[order].assign(score=best[order].round(1))

    def lookup(self, field: str | None = None) -> Lookup:
        """Return records by attribute-friendly name, e.g. ``lookup().b_cell``."""
        table = self._table
        field = field or table.name_field
        table.column(field)  # a clear error for an unknown field
        return table.cached("lookup", field, lambda f: Lookup(table.df, f, self.source.entity))

    def validate(self, values: Iterable[Any], field: str | None = None) -> np.ndarray:
        """Return a boolean array: which values exactly equal a value of `field` (vectorised)."""
        valid = self._table.valid(field or self._table.name_field)
        return valid.get_indexer(pd.Index(_as_series(values), dtype=object)) >= 0

    def standardize(
        self, values: Iterable[Any], field: str | None = None, *, return_mapper: bool = False
    ) -> list[Any] | dict[Any, Any]:
        """Map synonyms and case variants to canonical values; keep unmapped values unchanged.

        Args:
            values: Values to standardize.
            field: ``name`` (or ``symbol``) by default; id fields also accept ``CL_0000236`` and
                Ensembl ids with a ``.version`` suffix.
            return_mapper: Return only {value: standardized value} for the values that change.
        """
        series = _as_series(values)
        uniques = pd.Series(series.dropna().unique(), dtype=object)
        mapper = self._mapper(uniques[~self.validate(uniques, field)], field)
        if return_mapper:
            return mapper
        return series.map(mapper).fillna(series).tolist() if mapper else series.tolist()

    def inspect(self, values: Iterable[Any], field: str | None = None) -> InspectResult:
        """Split distinct values into validated and not, and say which synonyms would fix some."""
        uniques = pd.Series(_as_series(values).dropna().unique(), dtype=object)
        ok = self.validate(uniques, field)
        mapper = self._mapper(uniques[~ok], field)
        return InspectResult(uniques[ok].tolist(), uniques[~ok].tolist(), mapper)

    def _mapper(self, invalid: pd.Series, field: str | None) -> dict[Any, Any]:
        field = field or self._table.name_field
        mapped = _key(invalid, field).map(self._table.mapper(field))
        return dict(zip(invalid[mapped.notna()], mapped.dropna()))


class PublicOntology(_PublicTable):
    """An offline public ontology, such as the Cell Ontology, without a database.

    Args:
        entity: One of `ENTITIES` except ``"Gene"`` (see `PublicGenes`).
        organism: Pick the source for an organism, e.g. ``DevelopmentalStage`` of ``"mouse"``.
        name: Pick a source by name, e.g. ``"mondo"``.
        version: Pick a source version.

    Examples:
        >>> cl = PublicOntology("CellType")
        >>> cl.get("CL:0000236").name
        'B cell'
        >>> cl.lookup().b_cell.ontology_id
        'CL:0000236'
        >>> cl.parents("CL:0000236").name.tolist()
        ['lymphocyte of B lineage']
    """

    def __init__(
        self,
        entity: str,
        *,
        organism: str | None = None,
        name: str | None = None,
        version: str | None = None,
    ) -> None:
        if _check_entity(entity) == "Gene":
            raise ValidationError("Entity 'Gene' is a gene table: use PublicGenes(organism=...).")
        super().__init__(get_source(entity, organism, name, version))

    @classmethod
    def from_path(
        cls, path: str | Path, *, entity: str, name: str, version: str, organism: str = "all"
    ) -> PublicOntology:
        """Read an ontology file of the shipped or upstream format without registering it."""
        file = _existing_file(path)
        return cls._from_source(Source(_check_entity(entity), organism, name, version, str(file)))

    def df(self, *, include_deprecated: bool = False) -> pd.DataFrame:
        """Return terms indexed by ontology_id: name, synonyms ("|"-joined), description, parents.

        Args:
            include_deprecated: Also return deprecated terms, with columns deprecated and
                replaced_by.
        """
        return self._table.all.copy() if include_deprecated else super().df()

    def _term(self, ontology_id: str) -> str:
        if ontology_id not in self._table.df.index:
            self.get(ontology_id, field="ontology_id")  # raises DoesNotExist with a hint
        return ontology_id

    def parents(self, ontology_id: str) -> pd.DataFrame:
        """Return the direct parents of a term."""
        ids = self._table.df.at[self._term(ontology_id), "parents"]
        return self._table.df.loc[self._table.df.index.intersection(ids, sort=False)]

    def children(self, ontology_id: str) -> pd.DataFrame:
        """Return the terms whose direct parent is this term."""
        return self._table.df.loc[self._table.children.get(self._term(ontology_id), [])]

    def ancestors(self, ontology_id: str) -> pd.DataFrame:
        """Return all ancestors of a term, nearest first, with their ``distance`` (1 = parent)."""
        parents, distance = self._table.df["parents"], {}
        frontier, step = [self._term(ontology_id)], 0
        while frontier:
            step += 1
            frontier = [p for t in frontier for p in parents.get(t, []) if p not in distance]
            frontier = [p for p in dict.fromkeys(frontier) if p in parents.index]
            distance.update(dict.fromkeys(frontier, step))
        return self._table.df.loc[list(distance)].assign(distance=list(distance.values()))


class PublicGenes(_PublicTable):
    """An offline Ensembl gene table with fields ensembl_gene_id, symbol and biotype.

    Symbols validate case-sensitively (``CD4`` in human, ``Cd4`` in mouse); `standardize` and
    `inspect` map case variants and versioned Ensembl ids when that is unambiguous.

    Args:
        organism: ``"human"`` (default), ``"mouse"``, or any organism whose table was added with
            ``add_source(path, entity="Gene", ...)``.
        version: Pick a source version.

    Examples:
        >>> genes = PublicGenes("human")
        >>> genes.inspect(["CD8A", "cd4", "FOO"]).synonyms_mapper
        {'cd4': 'CD4'}
    """

    _reader = staticmethod(_read_genes)

    def __init__(self, organism: str = "human", *, version: str | None = None) -> None:
        super().__init__(get_source("Gene", organism=organism, version=version))

    @classmethod
    def from_path(cls, path: str | Path, *, organism: str, version: str) -> PublicGenes:
        """Read a gene table (CSV, optionally compressed, or parquet) without registering it."""
        file = _existing_file(path)
        return cls._from_source(Source("Gene", organism, "ensembl", version, str(file)))
