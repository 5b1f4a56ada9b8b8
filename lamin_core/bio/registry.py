"""What bio registries do with their public source: fill records, curate against it, save.

A record made from a public source carries its ontology id, synonyms, description and a link to a
`bt.Source` row naming the file's version (registered on first use); saving it also saves its
ancestors and the parent links between them (`settings.auto_save_parents`), so ``record.parents``
answers from the catalog. Everything a save writes is written in one transaction.

``validate``/``inspect``/``standardize``/``from_values`` are every curatable registry's
(`lamin_core.query.curation`); the ``curation_*`` functions here are the bio registries' hooks
into them: the organism and source conditions, and the public source as a `PublicVocabulary`.

Examples:
    >>> records = bt.CellType.from_values(["B cell", "B lymphocyte", "unicorn"])
    >>> [r.name for r in records]   # the synonym maps to "B cell"; "unicorn" is left out
    ['B cell']
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session

from lamin_core.bio.matching import organism_condition
from lamin_core.bio.public import PublicGenes, PublicOntology
from lamin_core.bio.sources import Source as PublicSource
from lamin_core.bio.sources import get_source, has_source, resolve_organism
from lamin_core.errors import ValidationError
from lamin_core.instance import get_instance
from lamin_core.models.base import RecordList
from lamin_core.models.insert import new_records

if TYPE_CHECKING:
    from lamin_core.bio.models import BioRecord, Organism, Source

__all__ = [
    "BioRecordList",
    "PublicRows",
    "PublicVocabulary",
    "curation_conditions",
    "curation_new",
    "curation_public",
    "from_source",
    "organism_record",
    "public_rows",
    "public_table",
    "records_from_public",
    "settings",
    "source_record",
]

logger = logging.getLogger("lamin_core.bio")
PENDING = "lamin_core.bio.pending"  # session.info key: unsaved Source/Organism records by key


@dataclass
class BioSettings:
    """Behaviour switches of the bio registries.

    Attributes:
        auto_save_parents: Saving an ontology term from a public source also saves its ancestors
            and the parent links (as bionty does), so ``record.parents`` works.
    """

    auto_save_parents: bool = True


settings = BioSettings()


def _public_source(registry: type[BioRecord], organism: str | None, source: Any) -> PublicSource:
    """Return the public source for a registry, an organism and an optional pinned source."""
    if isinstance(source, PublicSource):
        return source
    name = getattr(source, "name", None)
    version = getattr(source, "version", None)
    if registry._entity == "Gene" and organism is None:
        raise ValidationError(
            "Gene records belong to an organism: pass organism='human' (or 'mouse', or any "
            "organism whose gene table was added with bt.add_source)."
        )
    return get_source(registry._entity, organism=organism, name=name, version=version)


def public_table(
    registry: type[BioRecord], *, organism: Any = None, source: Any = None
) -> PublicOntology | PublicGenes:
    """Return the public ontology or gene table behind a registry."""
    organism = getattr(organism, "name", organism)
    public_source = _public_source(registry, organism, source)
    if registry._entity == "Gene":
        return PublicGenes._from_source(public_source)
    return PublicOntology._from_source(public_source)


def _pending(session: Session) -> dict[tuple[str, ...], Any]:
    return session.info.setdefault(PENDING, {})


def source_record(session: Session, public_source: PublicSource) -> Source:
    """Return the `bt.Source` row of a public source, making an unsaved one on first use."""
    from lamin_core.bio.models import Source

    entity = f"bionty.{public_source.entity}"
    key = ("source", entity, public_source.organism, public_source.name, public_source.version)
    found = session.scalar(
        sa.select(Source).where(
            Source.entity == entity,
            Source.organism == public_source.organism,
            Source.name == public_source.name,
            Source.version == public_source.version,
        )
    )
    if found is None:
        found = _pending(session).get(key)
    if found is None:
        found = Source._create(
            entity=entity,
            organism=public_source.organism,
            name=public_source.name,
            version=public_source.version,
            url=public_source.url,
            md5=public_source.md5,
            in_db=False,
            currently_used=True,
        )
        _pending(session)[key] = found
    return found


def organism_record(session: Session, organism: Any) -> Organism:
    """Return the Organism record for a name, id or record; an unsaved one on first use.

    Raises:
        ValidationError: unknown organism, with the closest match.
    """
    from lamin_core.bio.models import Organism

    if isinstance(organism, Organism):
        return organism
    name = resolve_organism(organism)
    found = session.scalar(sa.select(Organism).where(Organism.name == name))
    if found is None:
        found = _pending(session).get(("organism", name))
    if found is None:
        public = public_table(Organism)
        row = public.df().reset_index().set_index("name").loc[name]
        found = Organism._create(
            name=name,
            ontology_id=row["ontology_id"],
            scientific_name=row.get("scientific_name"),
            synonyms=row["synonyms"],
            description=row["description"],
            source=source_record(session, public.source),
        )
        _pending(session)[("organism", name)] = found
    return found


def _organism_name(registry: type[BioRecord], organism: Any) -> str | None:
    if organism is None:
        return None
    name = getattr(organism, "name", None) or resolve_organism(organism)
    return str(name)


@dataclass
class PublicRows:
    """Field values of new records from a public source, with their Source and Organism rows.

    Kept as plain dicts so that 60,000 genes can be inserted in one statement without building
    60,000 ORM objects; `records` turns them into records when ORM objects are wanted.
    """

    registry: Any
    rows: list[dict[str, Any]]
    source: Source
    organism: Organism | None
    parents: list[list[str]] | None

    def records(self) -> list[BioRecord]:
        """Return the rows as new unsaved records (linked to their Source and Organism)."""
        related: dict[str, Any] = {"source": self.source}
        if self.organism is not None:
            related["organism"] = self.organism
        records = new_records(self.registry, self.rows, **related)
        if self.parents is not None:
            for record, parents in zip(records, self.parents):
                record._public_parents = parents
        return records


def public_rows(
    registry: type[BioRecord],
    name: str,
    values: Iterable[Any],
    *,
    organism: Any = None,
    source: Any = None,
    session: Session | None = None,
) -> PublicRows:
    """Return the public source's fields for values that exactly equal a public field value.

    Each value gives one row (the first public row with that value), in the order of `values`;
    values the public source does not have are skipped.
    """
    session = session or get_instance().session
    organism_name = _organism_name(registry, organism)
    public = public_table(registry, organism=organism_name, source=source)
    df = public._table.df.reset_index()
    wanted = list(dict.fromkeys(values))
    found = df[df[name].isin(wanted)].drop_duplicates(name).set_index(name, drop=False)
    found = found.loc[[v for v in wanted if v in found.index]]
    fields = [c for c in found.columns if c in set(registry._field_names()) and c != "id"]
    table = found[fields].astype(object).where(found[fields].notna(), None)
    parents = None
    if "parents" in found.columns and hasattr(registry, "parents"):
        parents = [list(p) for p in found["parents"]]
    return PublicRows(
        registry,
        table.to_dict("records"),
        source_record(session, public.source),
        organism_record(session, organism_name) if registry._has_organism else None,
        parents,
    )


def records_from_public(
    registry: type[BioRecord],
    name: str,
    values: Iterable[Any],
    *,
    organism: Any = None,
    source: Any = None,
    session: Session | None = None,
) -> list[BioRecord]:
    """Return new unsaved records for values that exactly equal a public field value."""
    found = public_rows(registry, name, values, organism=organism, source=source, session=session)
    return found.records()


class BioRecordList(RecordList[Any]):
    """A list of bio records whose `save()` also saves ancestors, in one transaction."""

    def save(self) -> BioRecordList:
        """Save the records (and their ontology ancestors) and return the list."""
        from lamin_core.bio.ancestors import save_records

        save_records(list(self))
        return self


def _public_fields(registry: type[BioRecord], organism: str | None, source: Any) -> set[str]:
    if registry._entity == "Gene" and organism is None:
        return set()
    table = public_table(registry, organism=organism, source=source)._table
    return {table.key, *table.df.columns} - {"parents", "synonyms"}


def from_source(
    registry: type[BioRecord], *, organism: Any = None, source: Any = None, **fields: Any
) -> BioRecord | None:
    """Return the one record matching `fields` (existing, else from the public source)."""
    if len(fields) != 1:
        raise ValidationError(
            f"{registry.__name__}.from_source() takes one field, e.g. ontology_id='CL:0000236' "
            f"or name='B cell'; got {sorted(fields) or 'none'}."
        )
    ((name, value),) = fields.items()
    records = registry.from_values([value], name, organism=organism, source=source, mute=True)
    return records[0] if records else None


def curation_conditions(
    registry: type[BioRecord],
    session: Session,
    *,
    organism: Any,
    source: Any,
    strict_source: bool,
    organism_required: bool = False,
) -> list[sa.ColumnElement[bool]] | None:
    """Return the conditions restricting a bio registry to an organism (and a pinned source).

    Without `organism`, records of every organism match: the catalog needs none to be asked
    (its public source does, see `public_table`), unless `organism_required` (records will be
    made, and need one).

    Returns None when the organism is not in the catalog yet: then no record can match.

    Raises:
        ValidationError: an unknown organism, or none where one is required.
    """
    name = _organism_name(registry, organism)
    conditions = organism_condition(session, registry, name, required=organism_required)
    if conditions is not None and strict_source and source is not None:
        source_id = getattr(source, "id", None)
        if source_id is None:
            raise ValidationError(
                f"strict_source=True needs a saved bt.Source record, got {source!r}; pass "
                f"bt.Source.get(entity='bionty.{registry._entity}', ...)."
            )
        conditions = [*conditions, registry.source_id == source_id]
    return conditions


class PublicVocabulary:
    """The public source behind one bio registry (and organism), as curation asks it.

    Implements `lamin_core.query.curation.PublicVocabulary`.
    """

    def __init__(self, registry: type[BioRecord], organism: str | None, source: Any) -> None:
        self.registry = registry
        self.organism = organism
        self.source = source
        self.table = public_table(registry, organism=organism, source=source)

    def validate(self, values: Sequence[Any], field: str) -> np.ndarray:
        """Return which values exactly equal a public value of `field`."""
        return self.table.validate(values, field=field)

    def mapper(self, values: Sequence[Any], field: str) -> dict[Any, Any]:
        """Return {value: canonical public value} for synonyms and case variants."""
        series = pd.Series(list(values), dtype=object)
        return dict(self.table.standardize(series, field=field, return_mapper=True))

    def translate(self, values: Sequence[Any], field: str, to: str) -> dict[Any, Any]:
        """Return {value of `field`: value of `to`} for the public rows with those values."""
        df = self.table._table.df.reset_index()
        if to not in df.columns:
            return {}
        rows = df[df[field].isin(list(values))].drop_duplicates(field)
        return {k: v for k, v in zip(rows[field], rows[to]) if not pd.isna(v)}

    def records(self, values: Sequence[Any], field: str) -> list[Any]:
        """Return new unsaved records for values that exactly equal a public value."""
        return records_from_public(
            self.registry,
            field,
            values,
            organism=self.organism,
            source=self.source,
            session=get_instance().session,
        )


def curation_public(
    registry: type[BioRecord], field: str, *, organism: Any, source: Any
) -> PublicVocabulary | None:
    """Return the public vocabulary of `field`, or None when the public source lacks it.

    Genes without an organism have none (the gene tables are per organism): the catalog alone
    answers, and a hint says how to ask the public table too.
    """
    organism_name = _organism_name(registry, organism)
    if registry._entity == "Gene" and organism_name is None:
        logger.info(
            "• no organism given: only the catalog's genes were asked; pass organism='human' "
            "(or 'mouse', ...) to also ask that organism's public gene table"
        )
        return None
    if not has_source(registry._entity):
        logger.info(
            f"• no public {registry._entity} source ships with lamin-core: only the catalog was "
            f"asked; register one with bt.add_source(path, entity={registry._entity!r}, "
            "name=..., version=...)"
        )
        return None
    if field not in _public_fields(registry, organism_name, source):
        return None
    return PublicVocabulary(registry, organism_name, source)


def curation_new(
    registry: type[BioRecord], session: Session, field: str, value: Any, *, organism: Any
) -> BioRecord:
    """Return a new plain record (of `organism` for organism-bound registries)."""
    extra = (
        {"organism": organism_record(session, _organism_name(registry, organism))}
        if registry._has_organism
        else {}
    )
    return registry._create(**{field: value}, **extra)
