"""Match distinct values against a registry field, then against its public source.

Curation asks about each categorical column: which values are in the registry, which only in the
public source, which are synonyms or case variants of known values, and what is close to the
rest. The registry questions are answered by `lamin_core.query.values` on DISTINCT values, never
per observation, so a million-row AnnData costs what its categories cost.

Examples:
    >>> result = match_values(session, ln.ULabel, "name", ["DMSO", "IFNG", "dmso"])
    >>> result.validated, result.synonyms
    (['DMSO', 'IFNG'], {'dmso': 'DMSO'})
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import sqlalchemy as sa
from rapidfuzz import fuzz, process
from sqlalchemy.orm import Session

from lamin_core.bio.models import Organism
from lamin_core.bio.sources import resolve_organism
from lamin_core.errors import ValidationError
from lamin_core.query.values import (
    CHUNK,
    load_values,
    registry_mapper,
    resolve_field,
    values_in_registry,
)

__all__ = [
    "CHUNK",
    "MatchResult",
    "field_label",
    "load_values",
    "match_values",
    "organism_condition",
    "public_for",
    "registry_mapper",
    "resolve_field",
    "values_in_registry",
]

SUGGEST_AT_MOST = 20  # values to find close matches for (the report shows no more)
SIMILAR = 80  # least similarity (0-100) of a suggested close match


def field_label(registry: Any, name: str) -> str:
    """Return ``"Gene.symbol"``: how reports name a registry field."""
    return f"{registry.__name__}.{name}"


def organism_condition(
    session: Session, registry: Any, organism: Any, *, required: bool = True
) -> list[sa.ColumnElement[bool]] | None:
    """Return the conditions that restrict `registry` to `organism` ([] when not organism-bound).

    Without `organism`, an organism-bound registry raises unless not `required`: then records of
    every organism match (``bt.Gene.validate(values)`` asks the catalog only).

    Returns None when the organism is not in the catalog yet: then no record can match.
    """
    if not getattr(registry, "_has_organism", False):
        return []
    if organism is None and not required:
        return []
    if organism is None:
        raise ValidationError(
            f"{registry.__name__} records belong to an organism: pass organism='human' (or "
            "'mouse', ...)."
        )
    organism_id: int | None
    if isinstance(organism, Organism):
        organism_id = organism.id
    else:
        name = resolve_organism(organism)
        organism_id = session.scalar(sa.select(Organism.id).where(Organism.name == name))
    if organism_id is None:
        return None
    return [registry.__table__.c.organism_id == organism_id]


def public_for(registry: Any, organism: Any) -> Any:
    """Return the public source of a bio registry, or None for registries without one."""
    if not hasattr(registry, "public"):
        return None
    organism_name = getattr(organism, "name", organism)
    return registry.public(organism=organism_name)


def _public_fields(public: Any) -> set[str]:
    table = public._table
    return {table.key, *table.df.columns} - {"parents", "synonyms"}


@dataclass
class MatchResult:
    """How distinct values of one column match a registry field and its public source.

    Attributes:
        label: The field, e.g. ``"Gene.symbol"``.
        validated: Values in the registry.
        from_public: Values not in the registry but exactly in its public source.
        non_validated: The other values.
        synonyms: Non-validated values -> the canonical value they are a synonym or case
            variant of (in the registry, else in the public source).
        suggestions: Non-validated values -> close matches (typos), best first.
    """

    label: str
    validated: list[Any] = field(default_factory=list)
    from_public: list[Any] = field(default_factory=list)
    non_validated: list[Any] = field(default_factory=list)
    synonyms: dict[Any, Any] = field(default_factory=dict)
    suggestions: dict[Any, list[str]] = field(default_factory=dict)


def match_values(
    session: Session,
    registry: Any,
    name: str,
    values: Iterable[Any],
    *,
    organism: Any = None,
    use_public: bool = True,
    suggest: bool = True,
    conditions: list[Any] | None = None,
) -> MatchResult:
    """Match distinct `values` against ``registry.name``, then its public source.

    Args:
        session: The catalog session.
        registry: The registry, e.g. ``ln.ULabel`` or ``bt.Gene``.
        name: The field, e.g. ``"name"`` or ``"symbol"``.
        values: Distinct values (duplicates are dropped, order kept).
        organism: For organism-bound registries (Gene): a name or an Organism record.
        use_public: Also look values up in the public source of bio registries.
        suggest: Find close matches for non-validated values.
        conditions: SQL conditions the matching records must also meet, e.g. that they are
            records of a type (a feature whose dtype is a type record).
    """
    uniques = pd.Index(pd.unique(pd.Series(list(values), dtype=object)), dtype=object)
    extra = list(conditions or [])
    conditions = organism_condition(session, registry, organism)
    if conditions is not None:
        conditions = conditions + extra
    in_registry = values_in_registry(session, registry, name, uniques, conditions)
    result = MatchResult(field_label(registry, name), validated=uniques[in_registry].tolist())
    rest = uniques[~in_registry]
    if len(rest) == 0:
        return result
    public = public_for(registry, organism) if use_public else None
    if public is not None and name not in _public_fields(public):
        public = None
    if public is not None:
        in_public = public.validate(rest, field=name)
        result.from_public = rest[in_public].tolist()
        rest = rest[~in_public]
    result.non_validated = rest.tolist()
    if len(rest) == 0:
        return result
    mapper = registry_mapper(session, registry, name, conditions, result.non_validated)
    for value in result.non_validated:
        canonical = mapper.get(str(value).strip().lower())
        if canonical is not None and canonical != value:
            result.synonyms[value] = canonical
    if public is not None:
        left = pd.Series(
            [v for v in result.non_validated if v not in result.synonyms], dtype=object
        )
        result.synonyms.update(public.standardize(left, field=name, return_mapper=True))
    if suggest:
        result.suggestions = _suggestions(session, registry, name, conditions, public, result)
    return result


def _suggestions(
    session: Session,
    registry: Any,
    name: str,
    conditions: list[Any] | None,
    public: Any,
    result: MatchResult,
) -> dict[Any, list[str]]:
    """Return close matches for up to `SUGGEST_AT_MOST` non-validated values without synonyms."""
    wanted = [v for v in result.non_validated if v not in result.synonyms][:SUGGEST_AT_MOST]
    if not wanted:
        return {}
    choices = []
    if conditions is not None:
        choices = [str(v) for v in load_values(session, registry, name, conditions)]
    if public is not None:
        choices += [str(v) for v in public._table.valid(name)]
    choices = list(dict.fromkeys(choices))
    # Typos: normalized edit distance on lower-case text. (A composite scorer such as WRatio
    # also matches substrings, which suggests 'C2CD4A' for 'CD4A', and is ~20x slower: 76 ms
    # per value against 77,000 gene symbols.)
    lowered = [choice.lower() for choice in choices]
    found = {}
    for value in wanted:
        hits = process.extract(
            str(value).lower(), lowered, scorer=fuzz.ratio, limit=3, score_cutoff=SIMILAR
        )
        if hits:
            found[value] = [choices[index] for _, _, index in hits]
    return found
