"""Offline public ontologies and gene tables: search, validate and standardize without a database.

Curating a dataset needs the reference vocabulary (Cell Ontology, UBERON, Ensembl genes, ...)
before anything is saved to a catalog, often on a laptop or a CI runner without network. This
module reads the compact snapshots shipped in ``lamin_core/bio/data`` (built by
``scripts/build_bio_data.py``, listed in ``sources.json``), or any newer file of the same format
registered with `add_source`. Each file is parsed once per process and its indexes are built once
(`lamin_core.bio.readers`), so validating 60,000 gene symbols is a vectorised hash lookup of a few
milliseconds. Which file answers for an entity is decided in `lamin_core.bio.sources`.

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

import keyword
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process

from lamin_core.bio.readers import (
    Table,
    match_key,
    parents_from_ancestors,
    rank,
    read_genes,
    read_ontology,
    records,
)
from lamin_core.bio.sources import (
    DATA_DIR,
    ENTITIES,
    Source,
    add_source,
    check_entity,
    existing_file,
    get_source,
    list_sources,
    resolve_organism,
)
from lamin_core.errors import DoesNotExist, StorageError, ValidationError, did_you_mean
from lamin_core.query.curation import InspectResult

__all__ = [
    "DATA_DIR",
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
        rows = records(df).itertuples(index=False, name=record_name)
        self._by_value: dict[str, Any] = {}
        self._by_name: dict[str, Any] = {}
        for value, record in zip(df.index if field == df.index.name else df[field], rows):
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

    _reader: ClassVar[Any] = staticmethod(read_ontology)

    def __init__(self, source: Source) -> None:
        self.source = source

    @classmethod
    def _from_source(cls, source: Source) -> Any:
        self = cls.__new__(cls)  # bypass the subclass __init__, which looks the source up
        self.source = source
        return self

    @property
    def _table(self) -> Table:
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
                rows = records(table.df.iloc[hits[:1]])
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
        np.maximum.at(best, rows, rank(string, texts, arrow, is_syn))
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
        mapped = match_key(invalid, field).map(self._table.mapper(field))
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
        if check_entity(entity) == "Gene":
            raise ValidationError("Entity 'Gene' is a gene table: use PublicGenes(organism=...).")
        super().__init__(get_source(entity, organism, name, version))

    @classmethod
    def from_path(
        cls, path: str | Path, *, entity: str, name: str, version: str, organism: str = "all"
    ) -> PublicOntology:
        """Read an ontology file of the shipped or upstream format without registering it."""
        file = existing_file(path)
        return cls._from_source(Source(check_entity(entity), organism, name, version, str(file)))

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

    _reader = staticmethod(read_genes)

    def __init__(self, organism: str = "human", *, version: str | None = None) -> None:
        super().__init__(get_source("Gene", organism=organism, version=version))

    @classmethod
    def from_path(cls, path: str | Path, *, organism: str, version: str) -> PublicGenes:
        """Read a gene table (CSV, optionally compressed, or parquet) without registering it."""
        file = existing_file(path)
        return cls._from_source(Source("Gene", organism, "ensembl", version, str(file)))
