"""Ranked, typo-tolerant search over registries, served by an index (see `index`).

``ln.CellType.search("b cel")`` returns B cell first: candidates come from indexes
(`retrieval`: FTS5 trigram on SQLite, pg_trgm on PostgreSQL, and for typos the deletion-
neighbourhood index of `typos`, which finds every word and short value within two edits), their
order from `ranking` (exact name > exact synonym > whole word > prefix > substring > fuzzy, and
among fuzzy matches fewer edits first). The result is a `SearchResult`, a QuerySet in rank
order with a ``score`` column in its DataFrame.

Examples:
    >>> ln.ULabel.search("candidate study").df()
    >>> ln.Artifact.search("iris", field="key").first()
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
import sqlalchemy as sa

from lamin_core.errors import FieldError, ValidationError, did_you_mean
from lamin_core.errors.values import check_text
from lamin_core.models.branches import MAIN_BRANCH, has_branch
from lamin_core.query.queryset import QuerySet
from lamin_core.search.index import (
    create_search_index,
    install_listeners,
    search_index_ddl,
    searchable_registries,
)
from lamin_core.search.ranking import SYNONYM_FIELDS, Candidate, normalize, rank
from lamin_core.search.retrieval import candidates, fuzzy_candidates, index_plans

__all__ = [
    "MAX_QUERY_LENGTH",
    "SearchResult",
    "create_search_index",
    "search",
    "search_index_ddl",
    "searchable_registries",
]

MAX_QUERY_LENGTH = 512

install_listeners()


class SearchResult(QuerySet[Any]):
    """The records found by `search`, best first; a QuerySet whose `df()` has a ``score``.

    Scores are 0..100: 100 is an exact match of the name field. Filtering or ordering the
    result narrows or reorders it like any QuerySet.

    Examples:
        >>> result = ln.ULabel.search("IFNG")
        >>> result.first(), result.scores[result.first().id]
        >>> result.df()[["name", "score"]]
    """

    def __init__(self, model: Any, ranked: list[tuple[int, float]], *, instance: Any = None):
        super().__init__(model, instance=instance)
        self.scores: dict[int, float] = dict(ranked)
        self._ranked_ids = [id_ for id_, _score in ranked]
        self._where = [model.id.in_(self._ranked_ids)] if ranked else [sa.false()]

    def _order_clauses(self, reverse: bool = False) -> list[Any]:
        if self._order or not self._ranked_ids:
            return super()._order_clauses(reverse)
        position = sa.case(
            {id_: index for index, id_ in enumerate(self._ranked_ids)}, value=self.model.id
        )
        return [position.desc() if reverse else position.asc()]

    def df(
        self,
        include: str | Sequence[str] | None = None,
        features: bool | Sequence[str] = False,
        limit: int | None = None,
    ) -> pd.DataFrame:
        """Return the results as a DataFrame in rank order, with a ``score`` column."""
        frame = super().df(include=include, features=features, limit=limit)
        frame["score"] = [self.scores.get(int(id_)) for id_ in frame.index]
        return frame

    to_dataframe = df


def _check_query(model: Any, string: Any) -> str:
    if string is None:
        # LaminDB's wording first, so code matching its message keeps working
        raise ValidationError(
            f"Cannot search for None value! Please pass a valid string: {model.__name__}.search() "
            "needs the text to search for, e.g. search('T cell')."
        )
    if not isinstance(string, str):
        raise ValidationError(
            f"{model.__name__}.search() expects a string to search for, got "
            f"{type(string).__name__} {string!r}."
        )
    if len(string) > MAX_QUERY_LENGTH:
        raise ValidationError(
            f"{model.__name__}.search() got a string of {len(string)} characters; the limit is "
            f"{MAX_QUERY_LENGTH}. Search for a shorter part, or use filter(...__contains=...)."
        )
    check_text(string, f"{model.__name__}.search()")
    query = normalize(string)
    if not query:
        raise ValidationError(
            f"{model.__name__}.search() got an empty string; pass the text to search for."
        )
    return query


def _search_fields(model: Any, field: Any) -> list[str]:
    columns = set(sa.inspect(model).column_attrs.keys())
    if field is not None:
        name = field if isinstance(field, str) else getattr(field, "key", str(field))
        name = getattr(model, "_field_aliases", {}).get(name, name)
        if name not in columns:
            raise FieldError(
                f"Unknown field {name!r} on {model.__name__}.{did_you_mean(name, columns)} "
                f"Search fields: {', '.join(model._search_fields) or 'none'}."
            )
        return [name]
    fields = [name for name in getattr(model, "_search_fields", ()) if name in columns]
    if not fields:
        raise ValidationError(
            f"{model.__name__} has no search fields; use {model.__name__}.filter(...) instead."
        )
    return fields


def search(
    model: Any,
    string: str,
    *,
    field: Any = None,
    limit: int | None = 20,
    case_sensitive: bool = False,
) -> SearchResult:
    """Search a registry for `string`, ranked, case-insensitive and typo-tolerant.

    Args:
        model: The registry.
        string: The text to search for (at most `MAX_QUERY_LENGTH` characters).
        field: Search only this field; default: the registry's `_search_fields`.
        limit: At most this many results (None: every candidate that matches).
        case_sensitive: Keep only records with a field that contains `string` with the same
            case (whitespace runs count as one space); no typo matches. Default: ignore case.

    Returns:
        A `SearchResult`: iterate it, call `.first()`, `.list()`, `.df()` (with ``score``).

    Raises:
        ValidationError: an empty, None or too long search string, or one with a NUL character
            or a lone surrogate; a `case_sensitive` that is not a bool.
        FieldError: an unknown `field`.
    """
    query = _check_query(model, string)
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        raise ValidationError(f"search() limit must be a positive integer or None, got {limit!r}.")
    if not isinstance(case_sensitive, bool):
        raise ValidationError(
            f"search() case_sensitive must be True or False, got {case_sensitive!r}."
        )
    fields = _search_fields(model, field)
    name_field = getattr(model, "_name_field", None)
    primary = fields[0] if field is not None or name_field not in fields else name_field
    synonym_fields = [f for f in fields if f in SYNONYM_FIELDS]
    queryset: QuerySet[Any] = QuerySet(model)
    # a failed statement rolls the read back: it aborts a PostgreSQL transaction
    with queryset._catalog().reading() as session, index_plans(session):
        found = candidates(session, model, query, fields, fields)
        if case_sensitive:
            found = _same_case(found, string)
        literal: set[int] = set()
        ranked = rank(query, found, primary=primary, synonym_fields=synonym_fields, literal=literal)
        if not case_sensitive and (limit is None or len(literal) < limit):
            # typo candidates fill the places that literal matches leave
            seen = {candidate.id for candidate in found}
            more = [
                candidate
                for candidate in fuzzy_candidates(session, model, query, fields, fields)
                if candidate.id not in seen
            ]
            ranked += rank(query, more, primary=primary, synonym_fields=synonym_fields)
            ranked.sort(key=lambda item: (-item[1], item[0]))
        ranked = _on_main_branch(session, model, ranked)
    if limit is not None:
        ranked = ranked[:limit]
    return SearchResult(model, ranked, instance=queryset._instance)


def _same_case(found: list[Candidate], string: str) -> list[Candidate]:
    """Keep the candidates with a value that contains `string` as written (case included)."""
    needle = " ".join(string.split())
    return [
        candidate
        for candidate in found
        if any(
            isinstance(value, str) and needle in " ".join(value.split())
            for value in candidate.values.values()
        )
    ]


def _on_main_branch(
    session: sa.orm.Session, model: Any, ranked: list[tuple[int, float]]
) -> list[tuple[int, float]]:
    """Leave out records in the trash or the archive (one statement over the ranked ids)."""
    if not has_branch(model) or not ranked:
        return ranked
    statement = sa.select(model.id).where(
        model.id.in_([id_ for id_, _score in ranked]), model.branch_id == MAIN_BRANCH
    )
    shown = set(session.scalars(statement))
    return [(id_, score) for id_, score in ranked if id_ in shown]
