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

from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

__all__ = [
    "EXACT",
    "FUZZY",
    "PREFIX",
    "SUBSTRING",
    "SYNONYM",
    "SYNONYM_FIELDS",
    "WORD",
    "Candidate",
    "normalize",
    "rank",
]

EXACT, SYNONYM, WORD, PREFIX, SUBSTRING, FUZZY = 6, 5, 4, 3, 2, 1
TIER_NAMES = {EXACT: "exact", SYNONYM: "synonym", WORD: "word", PREFIX: "prefix",
              SUBSTRING: "substring", FUZZY: "fuzzy"}  # fmt: skip
# fuzzy matches below this rapidfuzz WRatio are noise
FUZZY_CUTOFF = 72.0
# a match in a secondary field (e.g. description) ranks below the same match in the name
SECONDARY_PENALTY = 60.0
MAX_SCORE = EXACT * 100 + 99
# the lowest score of a literal match: a substring of a secondary field
LITERAL_SCORE = SUBSTRING * 100 - SECONDARY_PENALTY
# fields holding a "|"-separated list of alternative names
SYNONYM_FIELDS = ("synonyms",)
# a fuzzy match within this many edits (Damerau-Levenshtein, the whole value) ranks above every
# other fuzzy match, fewer edits first: "tp35" finds TP53 (a transposition) before a value that
# merely shares characters with it
TYPO_EDITS = 2
_WORD_SPLIT = re.compile(r"[\W_]+")


def normalize(text: str) -> str:
    """Lower-case `text` and collapse whitespace, for case-insensitive matching."""
    return " ".join(text.casefold().split())


@dataclass(frozen=True)
class Candidate:
    """A record found by retrieval, with the values of its searchable fields."""

    id: int
    values: dict[str, str | None]


def _literal_tier(query: str, value: str, word: re.Pattern[str]) -> tuple[int, float]:
    """Return (tier, similarity) when `value` contains `query` literally, else (0, 0)."""
    if value == query:
        return EXACT, 99.0
    if query not in value:
        return 0, 0.0
    similarity = fuzz.ratio(query, value) * 0.98
    if word.search(value):
        # a whole word at the start ("B cell receptor") beats one inside ("pro-B cell")
        return WORD, (50.0 if value.startswith(query) else 0.0) + similarity * 0.5
    if value.startswith(query):
        if query[-1].isdigit() and value[len(query)].isdigit():
            # another number, not a member of the family: "CD8" lists CD8A and CD8B before CD80
            return PREFIX, similarity * 0.5
        return PREFIX, similarity
    return SUBSTRING, similarity


def _values(candidate: Candidate, synonyms: set[str]) -> list[tuple[str, bool, str]]:
    """Return (field, is_synonym, normalized value) for every non-empty value of a candidate."""
    result = []
    for field, raw in candidate.values.items():
        if not raw:
            continue
        if field in synonyms:
            result += [(field, True, normalize(p)) for p in str(raw).split("|") if p.strip()]
        else:
            result.append((field, False, normalize(str(raw))))
    return result


def _score(tier: int, similarity: float, *, is_synonym: bool, is_primary: bool) -> float:
    if is_synonym:
        if tier == EXACT:
            return SYNONYM * 100 + 99.0
        tier = max(tier - 1, FUZZY)  # a synonym ranks just below the same match of the name
        return tier * 100 + similarity
    score = tier * 100 + similarity
    return score if is_primary else score - SECONDARY_PENALTY


def typo_budget(query: str) -> int:
    """Return how many edits make a typo of `query`: 1 from 4 characters, 2 from 8."""
    if len(query) < 4:
        return 0
    return 1 if len(query) < 8 else TYPO_EDITS


def typo_similarity(query: str, value: str, similarity: float) -> float:
    """Return the fuzzy similarity (0..99) of `value` to `query`, given their rapidfuzz WRatio.

    Values within `typo_budget` edits of the query take the top of the range, fewer edits first,
    the whole value before one of its words ("oocyte" for "osocyte" before "monocyte", and
    before the key "data/oocyte.parquet"): 1 edit 90-99, 2 edits 80-89, WRatio ordering within.
    The others share 0-79 by WRatio.
    """
    edits = _typo_edits(query, value)
    if edits is None:
        return similarity * 0.79
    return 99.0 - 10.0 * edits - (100.0 - similarity) * 0.045


def _typo_edits(query: str, value: str) -> float | None:
    """Return the edits between `query` and `value` (+0.5 for one word of it), None: too many."""
    allowed = typo_budget(query)
    if not allowed:
        return None
    edits = OSA.distance(query, value, score_cutoff=allowed)
    if edits <= allowed:
        return float(edits)
    if " " in query or abs(len(value) - len(query)) <= allowed:
        return None
    words = [w for w in _WORD_SPLIT.split(value) if abs(len(w) - len(query)) <= allowed]
    best = min((OSA.distance(query, w, score_cutoff=allowed) for w in words), default=allowed + 1)
    return best + 0.5 if best <= allowed else None


def rank(
    query: str,
    candidates: Iterable[Candidate],
    *,
    primary: str,
    synonym_fields: Sequence[str] = (),
    limit: int | None = None,
    literal: set[int] | None = None,
) -> list[tuple[int, float]]:
    """Return ``[(id, score)]`` of the matching candidates, best first (ties by id).

    Scores are scaled to 0..100: 100 is an exact match of the name field. Literal matches are
    classified in Python; the typo similarity of the rest is computed in one rapidfuzz batch.
    A score does not tell a literal match from a typo (a close typo of the name outscores a
    substring of a synonym or a description): pass a set as `literal` to receive the ids of the
    candidates with a literal match.
    """
    word = re.compile(rf"(?<![0-9a-z]){re.escape(query)}(?![0-9a-z])")
    synonyms = set(synonym_fields)
    best: dict[int, float] = {}
    fuzzy_values: list[str] = []
    fuzzy_owners: list[tuple[int, bool, bool]] = []
    for candidate in candidates:
        if candidate.id in best:
            continue
        best[candidate.id] = 0.0
        for field, is_synonym, value in _values(candidate, synonyms):
            tier, similarity = _literal_tier(query, value, word)
            if tier:
                if literal is not None:
                    literal.add(candidate.id)
                score = _score(tier, similarity, is_synonym=is_synonym, is_primary=field == primary)
                best[candidate.id] = max(best[candidate.id], score)
            else:
                fuzzy_values.append(value)
                fuzzy_owners.append((candidate.id, is_synonym, field == primary))
    if fuzzy_values:
        matches = process.extract(query, fuzzy_values, scorer=fuzz.WRatio, limit=None)
        # a record with a literal match keeps it; the others take their best fuzzy value, which
        # need not be the first in WRatio order ("b cetl": the synonym "B lymphocyte" has a
        # higher WRatio than the name "B cell", one edit away)
        settled = {id_ for id_, score in best.items() if score >= LITERAL_SCORE}
        for value, similarity, index in matches:
            id_, is_synonym, is_primary = fuzzy_owners[index]
            if id_ in settled:
                continue
            if similarity < FUZZY_CUTOFF and _typo_edits(query, value) is None:
                continue
            score = _score(
                FUZZY, typo_similarity(query, value, similarity),
                is_synonym=is_synonym, is_primary=is_primary,
            )  # fmt: skip
            best[id_] = max(best[id_], score)
    ordered = sorted(
        ((id_, score) for id_, score in best.items() if score > 0),
        key=lambda item: (-item[1], item[0]),
    )
    if limit is not None:
        ordered = ordered[:limit]
    return [(id_, round(score * 100 / MAX_SCORE, 2)) for id_, score in ordered]
