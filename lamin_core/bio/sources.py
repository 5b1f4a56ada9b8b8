"""The registry of public sources: which ontology or gene file answers for an entity and organism.

A source is one versioned file: a snapshot shipped in ``lamin_core/bio/data`` (listed in
``sources.json``) or a newer file registered at run time with `add_source`, which then takes
precedence. Keeping this apart from the readers means "which file?" can be answered (and tested)
without parsing any file, and the catalog's ``bt.Source`` records can mirror these rows.

Examples:
    >>> get_source("CellType").name, get_source("Gene", organism="mouse").organism
    ('cl', 'mouse')
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from lamin_core.errors import StorageError, ValidationError, did_you_mean

__all__ = [
    "DATA_DIR",
    "ENTITIES",
    "Source",
    "add_source",
    "check_entity",
    "existing_file",
    "get_source",
    "has_source",
    "list_sources",
    "resolve_organism",
]

DATA_DIR = Path(__file__).parent / "data"
ENTITIES = (
    "CellType", "Tissue", "Disease", "ExperimentalFactor", "DevelopmentalStage",
    "Phenotype", "Ethnicity", "CellLine", "Pathway", "Organism", "Gene",
)  # fmt: skip


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


def check_entity(entity: str) -> str:
    """Return the canonical spelling of an entity (``"cell_type"`` -> ``"CellType"``).

    Raises:
        ValidationError: Unknown entity; the message names the closest one and lists all.
    """
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
    from lamin_core.bio.readers import read_ontology

    source = next(s for s in _all_sources() if s.entity == "Organism")
    table = read_ontology(str(source.path), source.path.stat().st_mtime_ns)
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


def has_source(entity: str) -> bool:
    """Return whether any source (shipped or added) covers an entity, e.g. ``"CellLine"``."""
    return any(s.entity == entity for s in _all_sources())


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
    entity = check_entity(entity)
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


def existing_file(path: str | Path) -> Path:
    """Return `path` resolved, or raise StorageError when it is not a file."""
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
    file, entity = existing_file(path), check_entity(entity)
    try:
        organism = resolve_organism(organism)
    except ValidationError:
        organism = organism.strip().lower()  # a species outside the curated Organism table
    md5 = hashlib.md5(file.read_bytes()).hexdigest()
    source = Source(entity, organism, name.lower(), version, str(file), file.as_uri(), md5)
    _ADDED.append(source)
    return source
