"""Ask a registry field about many distinct values at once: which exist, which map to what.

Curation (`lamin_core.curators`), the bio registries and every registry's ``validate``,
``inspect``, ``standardize`` and ``from_values`` (`lamin_core.query.curation`) ask the same
questions of a field. They are answered here once, on DISTINCT values, with one query per chunk of
values (or one query loading the column when there are many), never per value.

Examples:
    >>> values_in_registry(session, ln.ULabel, "name", pd.Index(["DMSO", "x"]), []).tolist()
    [True, False]
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session

from lamin_core.errors import (
    FieldError,
    InvalidArgument,
    RegistryReferenceError,
    ValidationError,
    did_you_mean,
)
from lamin_core.models.base import Record
from lamin_core.models.registry import ACCEPTED_FORMS, parse_reference
from lamin_core.query.sql import escape_like

__all__ = [
    "CHUNK",
    "load_values",
    "match_key",
    "registry_mapper",
    "resolve_field",
    "values_in_registry",
]

CHUNK = 10_000  # bound parameters per IN query: far below SQLite's 32766 and psycopg's 65535
LOAD_ALL_ABOVE = 10_000  # above this many values, reading the whole column is cheaper
MAP_FEW = 200  # up to this many values, synonyms are looked up for them, not for the table


def resolve_field(field_ref: Any, registry: Any = None) -> tuple[Any, str]:
    """Return (registry, field name) from ``bt.Gene.symbol``, or a name with `registry`.

    Text without `registry` is a registry reference (``"bionty.CellType.name"``,
    ``"ln.ULabel"``: see `lamin_core.models.registry.parse_reference`).

    Raises:
        InvalidArgument: `field_ref` is neither a registry column nor a field name (e.g. a
            registry such as ``bt.CellType``).
        ValidationError: text naming no registry, or a field of no catalog registry.
        FieldError: the registry has no such field.
    """
    if isinstance(field_ref, str) and registry is None:
        try:
            registry, name = parse_reference(field_ref)
        except RegistryReferenceError as error:
            if error.registry is None:
                raise ValidationError(
                    f"Cannot resolve the field {field_ref!r}: {error.reason}.{error.hint} Write "
                    f"{ACCEPTED_FORMS}, or pass the column itself (ln.ULabel.name)."
                ) from error
            registry, name = error.registry, error.name  # an unknown field: reported below
    elif isinstance(field_ref, str):
        name = field_ref
    elif hasattr(field_ref, "class_") and hasattr(field_ref, "key"):
        registry, name = field_ref.class_, field_ref.key
    elif field_ref is None and registry is not None:
        name = registry._name_field
    else:
        raise InvalidArgument(
            f"Expected a registry field such as ln.ULabel.name or bt.CellType.name, got "
            f"{field_ref!r} ({type(field_ref).__name__})."
        )
    if registry is None or not issubclass(registry, Record):
        raise ValidationError(f"{field_ref!r} is not a field of a catalog registry.")
    fields = registry._field_names()
    if name not in fields:
        raise FieldError(
            f"Unknown field {name!r} for {registry.__name__}.{did_you_mean(name, fields)} "
            f"Fields: {', '.join(sorted(fields))}."
        )
    return registry, name


def _chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def load_values(session: Session, registry: Any, name: str, conditions: list[Any]) -> pd.Index:
    """Return every value of a field (restricted by `conditions`) in one query.

    This is the hot path of validating a 60,000-gene var index, so the rows are fetched from the
    DBAPI cursor: building 60,000 SQLAlchemy Row objects costs 3-5x the query itself, and the text
    and number columns matched here need no result processing.
    """
    column = registry.__table__.c[name]
    result = session.execute(sa.select(column).where(column.is_not(None), *conditions))
    try:
        rows = result.cursor.fetchall()  # type: ignore[attr-defined]
    finally:
        result.close()
    return pd.Index([row[0] for row in rows], dtype=object)


def values_in_registry(
    session: Session, registry: Any, name: str, values: pd.Index, conditions: list[Any] | None
) -> np.ndarray:
    """Return a boolean array: which `values` (distinct) equal a value of the field."""
    if conditions is None or len(values) == 0:
        return np.zeros(len(values), dtype=bool)
    if len(values) > LOAD_ALL_ABOVE:
        return np.asarray(values.isin(load_values(session, registry, name, conditions)))
    column = registry.__table__.c[name]
    found: set[Any] = set()
    for chunk in _chunks(list(values)):
        statement = sa.select(column).where(column.in_(chunk), *conditions)
        found.update(session.execute(statement).scalars())
    return np.asarray(values.isin(list(found)))


def registry_mapper(
    session: Session,
    registry: Any,
    name: str,
    conditions: list[Any] | None,
    values: Sequence[Any] | None = None,
    *,
    synonyms_field: str | None = "synonyms",
    case_sensitive: bool = False,
) -> dict[str, Any]:
    """Return {match key of a value or synonym: canonical value} for a field of the registry.

    The match key is the stripped value, lower-cased unless `case_sensitive`. Synonyms (the
    pipe-separated `synonyms_field`) count only for the registry's name field; a key shared by two
    canonical values is ambiguous and left out. With a few `values`, only the records that can map
    them are read (a case-insensitive match on the field or a synonym containing the value).
    """
    if conditions is None:
        return {}
    column = getattr(registry, name)
    has_synonyms = (
        synonyms_field is not None
        and name == registry._name_field
        and synonyms_field in registry._field_names()
    )
    synonyms = getattr(registry, synonyms_field) if has_synonyms else None  # type: ignore[arg-type]
    columns = [column, synonyms] if synonyms is not None else [column]
    statement = sa.select(*columns).where(column.is_not(None), *conditions)
    if values is not None and len(values) <= MAP_FEW and isinstance(column.type, sa.String):
        keys = sorted({str(v).strip().lower() for v in values})
        if not keys:
            return {}
        matches = [sa.func.lower(column).in_(keys)]
        if synonyms is not None:
            matches += [synonyms.ilike(f"%{escape_like(k)}%", escape="\\") for k in keys]
        statement = statement.where(sa.or_(*matches))

    def key(text: Any) -> str:
        return str(text).strip() if case_sensitive else str(text).strip().lower()

    pairs: dict[str, set[Any]] = {}
    for row in session.execute(statement):
        canonical = row[0]
        pairs.setdefault(key(canonical), set()).add(canonical)
        if synonyms is not None and row[1]:
            for synonym in str(row[1]).split("|"):
                if synonym.strip():
                    pairs.setdefault(key(synonym), set()).add(canonical)
    return {k: next(iter(found)) for k, found in pairs.items() if len(found) == 1}


def match_key(value: Any, *, case_sensitive: bool = False) -> str:
    """Return how `registry_mapper` keys a value: stripped, lower-cased unless case-sensitive."""
    return str(value).strip() if case_sensitive else str(value).strip().lower()
