"""Rank search candidates: exact name > exact synonym > whole word > prefix > substring > fuzzy.

Candidate retrieval (`retrieval`) only finds plausible records through an index; this module
decides their order, in Python, on a few thousand candidates at most. Each candidate gets a tier
from its best field, and a similarity within the tier (rapidfuzz), so that among prefix matches
of "b cel" the shortest, "B cell", comes first. Matching ignores case and repeated whitespace.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz

__all__ = [
    "EXACT",
    "FUZZY",
    "PREFIX",
    "SUBSTRING",
    "SYNONYM",
    "WORD",
    "Candidate",
    "normalize",
    "rank",
    "score_values",
]

EXACT, SYNONYM, WORD, PREFIX, SUBSTRING, FUZZY = 6, 5, 4, 3, 2, 1
TIER_NAMES = {EXACT: "exact", SYNONYM: "synonym", WORD: "word", PREFIX: "prefix",
              SUBSTRING: "substring", FUZZY: "fuzzy"}  # fmt: skip
# fuzzy matches below this rapidfuzz WRatio are noise
FUZZY_CUTOFF = 72.0
# a match in a secondary field (e.g. description) ranks below the same match in the name
SECONDARY_PENALTY = 60.0
MAX_SCORE = EXACT * 100 + 99


def normalize(text: str) -> str:
    """Lower-case `text` and collapse whitespace, for case-insensitive matching."""
    return " ".join(text.casefold().split())


@dataclass(frozen=True)
class Candidate:
    """A record found by retrieval, with the values of its searchable fields."""

    id: int
    values: dict[str, str | None]


def _tier(query: str, value: str, word: re.Pattern[str]) -> tuple[int, float]:
    if value == query:
        return EXACT, 99.0
    similarity = fuzz.ratio(query, value) * 0.98
    if word.search(value):
        # a whole word at the start ("B cell receptor") beats one inside ("pro-B cell")
        return WORD, (50.0 if value.startswith(query) else 0.0) + similarity * 0.5
    if value.startswith(query):
        return PREFIX, similarity
    if query in value:
        return SUBSTRING, similarity
    fuzzy = fuzz.WRatio(query, value, score_cutoff=FUZZY_CUTOFF)
    if fuzzy:
        return FUZZY, fuzzy * 0.99
    return 0, 0.0


def score_values(
    query: str, values: dict[str, str | None], *, primary: str, synonym_fields: Iterable[str]
) -> float:
    """Return the score of one record (0 when it does not match), from its field values.

    Args:
        query: The normalized query.
        values: Field name -> raw value.
        primary: The name field: an exact match there is the best possible.
        synonym_fields: Fields holding ``|``-separated synonyms.
    """
    word = re.compile(rf"(?<![0-9a-z]){re.escape(query)}(?![0-9a-z])")
    synonyms = set(synonym_fields)
    best = 0.0
    for field, raw in values.items():
        if not raw:
            continue
        if field in synonyms:
            parts = [normalize(part) for part in str(raw).split("|") if part.strip()]
            for part in parts:
                tier, similarity = _tier(query, part, word)
                if tier == EXACT:
                    tier, similarity = SYNONYM, 99.0
                elif tier:
                    tier = max(tier - 1, FUZZY)  # a synonym ranks just below the same name match
                if tier:
                    best = max(best, tier * 100 + similarity)
            continue
        tier, similarity = _tier(query, normalize(str(raw)), word)
        if not tier:
            continue
        score = tier * 100 + similarity
        if field != primary:
            score -= SECONDARY_PENALTY
        best = max(best, score)
    return best


def rank(
    query: str,
    candidates: Iterable[Candidate],
    *,
    primary: str,
    synonym_fields: Sequence[str] = (),
    limit: int | None = None,
) -> list[tuple[int, float]]:
    """Return ``[(id, score)]`` of the matching candidates, best first (ties by id).

    Scores are scaled to 0..100: 100 is an exact match of the name.
    """
    scored: dict[int, float] = {}
    for candidate in candidates:
        if candidate.id in scored:
            continue
        score = score_values(
            query, candidate.values, primary=primary, synonym_fields=synonym_fields
        )
        if score > 0:
            scored[candidate.id] = score
    ordered = sorted(scored.items(), key=lambda item: (-item[1], item[0]))
    if limit is not None:
        ordered = ordered[:limit]
    return [(id_, round(score * 100 / MAX_SCORE, 2)) for id_, score in ordered]
