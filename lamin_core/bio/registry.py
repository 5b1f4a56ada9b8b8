"""What bio registries do with their public source: fill records, validate, standardize, save.

A record made from a public source carries its ontology id, synonyms, description and a link to a
`bt.Source` row naming the file's version (registered on first use); saving it also saves its
ancestors and the parent links between them (`settings.auto_save_parents`), so ``record.parents``
answers from the catalog. Everything a save writes is written in one transaction.

Examples:
    >>> records = bt.CellType.from_values(["B cell", "B lymphocyte", "unicorn"])
    >>> [r.name for r in records]   # the synonym maps to "B cell"; "unicorn" is left out
    ['B cell']
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session

from lamin_core.bio.matching import (
    CHUNK,
    match_values,
    organism_condition,
    registry_mapper,
    resolve_field,
    values_in_registry,
)
from lamin_core.bio.public import InspectResult, PublicGenes, PublicOntology
from lamin_core.bio.sources import Source as PublicSource
from lamin_core.bio.sources import get_source, resolve_organism
from lamin_core.errors import ValidationError
from lamin_core.instance import get_instance
from lamin_core.models.base import RecordList

if TYPE_CHECKING:
    from lamin_core.bio.models import BioRecord, Organism, Source

__all__ = [
    "BioRecordList",
    "PublicRows",
    "from_source",
    "from_values",
    "inspect",
    "organism_record",
    "public_rows",
    "public_table",
    "records_from_public",
    "settings",
    "source_record",
    "standardize",
    "validate",
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
        records = []
        for index, row in enumerate(self.rows):
            record = self.registry._create(**row, source=self.source)
            if self.organism is not None:
                record.organism = self.organism
            if self.parents is not None:
                record._public_parents = self.parents[index]
            records.append(record)
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


def from_values(
    registry: type[BioRecord],
    values: Iterable[Any],
    field_ref: Any = None,
    *,
    create: bool = False,
    organism: Any = None,
    source: Any = None,
    mute: bool = False,
) -> BioRecordList:
    """Return records for values: existing, from the public source (also via synonyms), or new."""
    registry, name = resolve_field(field_ref, registry)
    with get_instance().reading() as session:
        organism_name = _organism_name(registry, organism)
        uniques = list(dict.fromkeys(v for v in values if v is not None and not _is_nan(v)))
        conditions = organism_condition(session, registry, organism_name)
        public_fields = _public_fields(registry, organism_name, source)

        def existing_or_public(wanted: list[Any]) -> dict[Any, Any]:
            found: dict[Any, Any] = {}
            column = getattr(registry, name)
            for start in range(0, len(wanted) if conditions is not None else 0, CHUNK):
                chunk = wanted[start : start + CHUNK]
                statement = sa.select(registry).where(column.in_(chunk), *(conditions or []))
                for record in session.scalars(statement.order_by(registry.id)):
                    found.setdefault(getattr(record, name), record)
            missing = [v for v in wanted if v not in found]
            if missing and name in public_fields:
                created = records_from_public(
                    registry, name, missing, organism=organism_name, source=source, session=session
                )
                found.update({getattr(r, name): r for r in created})
            return found

        by_value = existing_or_public(uniques)
        new = [r for r in by_value.values() if r.id is None]
        if new:
            _log(
                mute,
                f"created {_n(len(new), registry)} from public with {registry.__name__}."
                f"{name}: {_quoted([getattr(r, name) for r in new])}",
            )
        missing = [v for v in uniques if v not in by_value]
        if missing and name == registry._name_field and name in public_fields:
            mapper = public_table(registry, organism=organism_name, source=source).standardize(
                missing, field=name, return_mapper=True
            )
            canonical = list(dict.fromkeys(mapper.values()))  # type: ignore[union-attr]
            known = {v: by_value[v] for v in canonical if v in by_value}
            known.update(existing_or_public([v for v in canonical if v not in known]))
            for synonym, target in mapper.items():  # type: ignore[union-attr]
                if target in known:
                    by_value[synonym] = known[target]
            matched = [v for v in missing if v in by_value]
            if matched:
                _log(
                    mute,
                    f"found {_n(len(matched), registry)} matching synonyms: {_quoted(matched)}",
                )
            missing = [v for v in missing if v not in by_value]
        if missing and create:
            extra = (
                {"organism": organism_record(session, organism_name)}
                if registry._has_organism
                else {}
            )
            for value in missing:
                by_value[value] = registry._create(**{name: value}, **extra)
            missing = []
        if missing:
            _log(
                mute,
                f"did not create {registry.__name__} records for {_quoted(missing)}: in "
                "neither the registry nor the public source; pass create=True to make plain "
                "records",
                True,
            )
    return BioRecordList(dict.fromkeys(by_value[v] for v in uniques if v in by_value))


def _public_fields(registry: type[BioRecord], organism: str | None, source: Any) -> set[str]:
    if registry._entity == "Gene" and organism is None:
        return set()
    table = public_table(registry, organism=organism, source=source)._table
    return {table.key, *table.df.columns} - {"parents", "synonyms"}


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and np.isnan(value)


def _n(count: int, registry: type) -> str:
    return f"{count} {registry.__name__} record{'s' if count != 1 else ''}"


def _values(count: int) -> str:
    return f"{count} value is" if count == 1 else f"{count} values are"


def _quoted(values: Iterable[Any], limit: int = 20) -> str:
    values = list(values)
    shown = ", ".join(repr(v) for v in values[:limit])
    return shown + (f", ... ({len(values)} in total)" if len(values) > limit else "")


def _log(mute: bool, message: str, warning: bool = False) -> None:
    if mute:
        return
    if warning:
        logger.warning("! %s", message)
    else:
        logger.info("✓ %s", message)


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
    records = from_values(registry, [value], name, organism=organism, source=source, mute=True)
    return records[0] if records else None


def inspect(
    registry: type[BioRecord],
    values: Iterable[Any],
    field_ref: Any = None,
    *,
    organism: Any = None,
    mute: bool = False,
) -> InspectResult:
    """Split distinct values into those in the registry and the rest, with synonym fixes."""
    registry, name = resolve_field(field_ref, registry)
    organism_name = _organism_name(registry, organism)
    with get_instance().reading() as session:
        result = match_values(session, registry, name, list(values), organism=organism_name)
    non_validated = result.from_public + result.non_validated
    if result.from_public:
        _log(
            mute,
            f"{_values(len(result.from_public))} not in the registry but in the public "
            f"source: {_quoted(result.from_public)}; add them with "
            f"{registry.__name__}.from_values([...]).save()",
            True,
        )
    return InspectResult(result.validated, non_validated, result.synonyms)


def validate(
    registry: type[BioRecord], values: Iterable[Any], field_ref: Any = None, *, organism: Any = None
) -> np.ndarray:
    """Return a boolean array: which values are in the registry (exact match)."""
    registry, name = resolve_field(field_ref, registry)
    series = pd.Series(list(values), dtype=object)
    uniques = pd.Index(series.dropna().unique(), dtype=object)
    with get_instance().reading() as session:
        conditions = organism_condition(session, registry, _organism_name(registry, organism))
        valid = uniques[values_in_registry(session, registry, name, uniques, conditions)]
    return np.asarray(series.isin(valid))


def standardize(
    registry: type[BioRecord],
    values: Iterable[Any],
    field_ref: Any = None,
    *,
    organism: Any = None,
    return_mapper: bool = False,
    public_aware: bool = True,
) -> list[Any] | dict[Any, Any]:
    """Map synonyms and case variants to the registry's values, then to the public source's."""
    registry, name = resolve_field(field_ref, registry)
    organism_name = _organism_name(registry, organism)
    series = pd.Series(list(values), dtype=object)
    with get_instance().reading() as session:
        conditions = organism_condition(session, registry, organism_name)
        uniques = pd.Index(series.dropna().unique(), dtype=object)
        rest = uniques[~values_in_registry(session, registry, name, uniques, conditions)]
        known = registry_mapper(session, registry, name, conditions, rest)
    mapper = {v: known[str(v).strip().lower()] for v in rest if str(v).strip().lower() in known}
    mapper = {k: v for k, v in mapper.items() if k != v}
    left = [v for v in rest if v not in mapper]
    if public_aware and left and name in _public_fields(registry, organism_name, None):
        public = public_table(registry, organism=organism_name)
        mapper.update(public.standardize(left, field=name, return_mapper=True))
    if return_mapper:
        return mapper
    return series.map(lambda v: mapper.get(v, v)).tolist()
