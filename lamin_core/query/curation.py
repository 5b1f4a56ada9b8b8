"""What ``validate``, ``inspect``, ``standardize`` and ``from_values`` do, for every registry.

The models declare the API (`lamin_core.models.can_curate.CanCurate`); this module implements it
once for all registries, on DISTINCT values with a query per chunk (`lamin_core.query.values`).
What differs between registries comes from the registry's hooks: the conditions restricting
matches (an organism, a source) and the public vocabulary behind a field (bio registries), an
object with the methods of `PublicVocabulary`.

Examples:
    >>> validate(ln.ULabel, ["DMSO", "dmso"]).tolist()
    [True, False]
    >>> standardize(ln.ULabel, ["dmso"], return_mapper=True)
    {'dmso': 'DMSO'}
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session

from lamin_core.errors import ValidationError, quoted
from lamin_core.instance import get_instance
from lamin_core.query.values import (
    CHUNK,
    match_key,
    registry_mapper,
    resolve_field,
    values_in_registry,
)

__all__ = [
    "InspectResult",
    "PublicVocabulary",
    "from_values",
    "inspect",
    "standardize",
    "validate",
]

logger = logging.getLogger("lamin_core.curation")


class PublicVocabulary(Protocol):
    """The public source behind a registry field, as a registry's ``_curation_public`` gives it."""

    def validate(self, values: Sequence[Any], field: str) -> np.ndarray:
        """Return which values exactly equal a public value of `field`."""

    def mapper(self, values: Sequence[Any], field: str) -> dict[Any, Any]:
        """Return {value: canonical public value} for synonyms and case variants."""

    def translate(self, values: Sequence[Any], field: str, to: str) -> dict[Any, Any]:
        """Return {value of `field`: value of `to`} for public rows."""

    def records(self, values: Sequence[Any], field: str) -> list[Any]:
        """Return new unsaved records for values that exactly equal a public value."""


class InspectResult:
    """What `inspect` found, as LaminDB's InspectResult.

    Attributes:
        validated: Distinct values in the registry.
        non_validated: Distinct values not in it (including those only the public source has).
        synonyms_mapper: Non-validated values -> the canonical value they are a synonym or case
            variant of.
        n_empty: How many values were empty (None, NaN, "").
        n_unique: How many distinct non-empty values there were.
    """

    def __init__(
        self,
        validated: list[Any],
        non_validated: list[Any],
        synonyms_mapper: dict[Any, Any] | None = None,
        *,
        n_empty: int = 0,
    ) -> None:
        self.validated = validated
        self.non_validated = non_validated
        self.synonyms_mapper = synonyms_mapper or {}
        self.n_empty = n_empty
        self.n_unique = len(validated) + len(non_validated)

    @property
    def frac_validated(self) -> float:
        """Return the fraction of distinct values that validate (1.0 for no values)."""
        return len(self.validated) / self.n_unique if self.n_unique else 1.0

    @property
    def df(self) -> pd.DataFrame:
        """Return a DataFrame indexed by the distinct values with a ``__validated__`` column."""
        values = [*self.validated, *self.non_validated]
        flags = [True] * len(self.validated) + [False] * len(self.non_validated)
        return pd.DataFrame({"__validated__": flags}, index=pd.Index(values, dtype=object))

    def __getitem__(self, key: str) -> list[Any]:
        if key in ("validated", "mapped"):
            return self.validated
        if key in ("non_validated", "not_mapped"):
            return self.non_validated
        raise KeyError(f"InspectResult has 'validated' and 'non_validated', not {key!r}.")

    def __repr__(self) -> str:
        return (
            f"InspectResult(validated={self.validated!r}, non_validated={self.non_validated!r}, "
            f"synonyms_mapper={self.synonyms_mapper!r})"
        )


# --- helpers ---------------------------------------------------------------------------------


def _field(registry: Any, field: Any) -> tuple[Any, str]:
    """Return (registry, field name), refusing a field of another registry."""
    resolved, name = resolve_field(field, registry)
    if resolved is not registry and not issubclass(registry, resolved):
        raise ValidationError(
            f"{registry.__name__} cannot check values of {resolved.__name__}.{name}; pass a "
            f"field of {registry.__name__}, e.g. {registry.__name__}.{registry._name_field}."
        )
    return registry, name


def _is_empty(value: Any) -> bool:
    if value is None or (isinstance(value, str) and value == ""):
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # lists, arrays: not a missing scalar
        return False


def _series(values: Iterable[Any] | str) -> pd.Series:
    if isinstance(values, str):
        values = [values]
    return pd.Series(list(values), dtype=object)


def _distinct(series: pd.Series) -> tuple[pd.Index, int]:
    """Return the distinct non-empty values (first-seen order) and the number of empty ones."""
    empty = series.map(_is_empty).astype(bool)
    return pd.Index(pd.unique(series[~empty]), dtype=object), int(empty.sum())


def _n(count: int, registry: Any) -> str:
    return f"{count} {registry.__name__} record{'s' if count != 1 else ''}"


def _log(mute: bool, message: str, *, warning: bool = False) -> None:
    if mute:
        return
    if warning:
        logger.warning("! %s", message)
    else:
        logger.info("✓ %s", message)


def _conditions(
    session: Session,
    registry: Any,
    organism: Any,
    source: Any,
    strict_source: bool,
    *,
    organism_required: bool = False,
) -> list[Any] | None:
    return registry._curation_conditions(
        session,
        organism=organism,
        source=source,
        strict_source=strict_source,
        organism_required=organism_required,
    )


def _public(registry: Any, name: str, organism: Any, source: Any) -> PublicVocabulary | None:
    return registry._curation_public(name, organism=organism, source=source)


def _registry_synonyms(
    session: Session,
    registry: Any,
    name: str,
    conditions: list[Any] | None,
    values: Sequence[Any],
    *,
    synonyms_field: str | None = "synonyms",
    case_sensitive: bool = False,
) -> dict[Any, Any]:
    """Return {value: canonical registry value} for synonyms and case variants of `values`."""
    if not values:
        return {}
    known = registry_mapper(
        session,
        registry,
        name,
        conditions,
        values,
        synonyms_field=synonyms_field,
        case_sensitive=case_sensitive,
    )
    mapper = {}
    for value in values:
        canonical = known.get(match_key(value, case_sensitive=case_sensitive))
        if canonical is not None and canonical != value:
            mapper[value] = canonical
    return mapper


def _translate(
    session: Session, registry: Any, name: str, to: str, conditions: list[Any], values: list[Any]
) -> dict[Any, Any]:
    """Return {value of `name`: value of `to`} for registry records (first record wins)."""
    source_column, target_column = getattr(registry, name), getattr(registry, to)
    found: dict[Any, Any] = {}
    for start in range(0, len(values), CHUNK):
        chunk = values[start : start + CHUNK]
        statement = (
            sa.select(source_column, target_column)
            .where(source_column.in_(chunk), *conditions)
            .order_by(registry.id)
        )
        for value, target in session.execute(statement):
            found.setdefault(value, target)
    return found


# --- the API ---------------------------------------------------------------------------------


def validate(
    registry: Any,
    values: Iterable[Any] | str,
    field: Any = None,
    *,
    mute: bool = False,
    organism: Any = None,
    source: Any = None,
    strict_source: bool = False,
) -> np.ndarray:
    """Return a boolean array: which values exactly equal a value of the field (see CanCurate)."""
    registry, name = _field(registry, field)
    series = _series(values)
    uniques, _ = _distinct(series)
    with get_instance().reading() as session:
        conditions = _conditions(session, registry, organism, source, strict_source)
        found = values_in_registry(session, registry, name, uniques, conditions)
    valid, invalid = uniques[found], uniques[~found]
    if len(valid):
        _log(mute, f"{len(valid)} unique value(s) validated for {registry.__name__}.{name}")
    if len(invalid):
        _log(
            mute,
            f"{len(invalid)} unique value(s) not validated for {registry.__name__}.{name}: "
            f"{quoted(invalid)}",
            warning=True,
        )
    return np.asarray(series.isin(list(valid)), dtype=bool)


def inspect(
    registry: Any,
    values: Iterable[Any] | str,
    field: Any = None,
    *,
    mute: bool = False,
    organism: Any = None,
    source: Any = None,
    from_source: bool = True,
    strict_source: bool = False,
) -> InspectResult:
    """Split distinct values into validated and not, with synonym fixes (see CanCurate)."""
    registry, name = _field(registry, field)
    uniques, n_empty = _distinct(_series(values))
    with get_instance().reading() as session:
        conditions = _conditions(session, registry, organism, source, strict_source)
        found = values_in_registry(session, registry, name, uniques, conditions)
        rest = uniques[~found].tolist()
        mapper = _registry_synonyms(session, registry, name, conditions, rest)
    public = _public(registry, name, organism, source) if from_source else None
    if public is not None and rest:
        in_public = [v for v, ok in zip(rest, public.validate(rest, name)) if ok]
        if in_public:
            _log(
                mute,
                f"{len(in_public)} value(s) not in the registry but in the public source: "
                f"{quoted(in_public)}; add them with "
                f"{registry.__name__}.from_values([...]).save()",
                warning=True,
            )
        left = [v for v in rest if v not in mapper and v not in in_public]
        if left:
            mapper.update(public.mapper(left, name))
    result = InspectResult(uniques[found].tolist(), rest, mapper, n_empty=n_empty)
    if rest and not mute:
        hint = f"; {len(mapper)} fixable with .standardize()" if mapper else ""
        _log(
            mute,
            f"{len(rest)} unique value(s) not validated for {registry.__name__}.{name}: "
            f"{quoted(rest)}{hint}",
            warning=True,
        )
    return result


def standardize(
    registry: Any,
    values: Iterable[Any] | str,
    field: Any = None,
    *,
    return_field: Any = None,
    return_mapper: bool = False,
    case_sensitive: bool = False,
    mute: bool = False,
    from_source: bool = True,
    synonyms_field: str | None = "synonyms",
    organism: Any = None,
    source: Any = None,
    strict_source: bool = False,
) -> Any:
    """Map synonyms and case variants to canonical values (see CanCurate.standardize)."""
    registry, name = _field(registry, field)
    target = name if return_field is None else _field(registry, return_field)[1]
    if synonyms_field is not None and synonyms_field not in registry._field_names():
        synonyms_field = None  # LaminDB maps case variants only, then
    single = isinstance(values, str)
    series = _series(values)
    uniques, _ = _distinct(series)
    public = _public(registry, name, organism, source) if from_source else None
    with get_instance().reading() as session:
        conditions = _conditions(session, registry, organism, source, strict_source)
        found = values_in_registry(session, registry, name, uniques, conditions)
        rest = uniques[~found].tolist()
        mapper = _registry_synonyms(
            session,
            registry,
            name,
            conditions,
            rest,
            synonyms_field=synonyms_field,
            case_sensitive=case_sensitive,
        )
        left = [v for v in rest if v not in mapper]
        if public is not None and left:
            left = [v for v, ok in zip(left, public.validate(left, name)) if not ok]
            from_public = public.mapper(left, name) if left else {}
            if from_public:
                _log(
                    mute,
                    f"found {len(from_public)} synonym(s) in the public source: "
                    f"{quoted(from_public)}; add the records with "
                    f"{registry.__name__}.from_values({quoted(from_public.values())})",
                    warning=True,
                )
            mapper.update(from_public)
        if target != name:
            canonical = {v: mapper.get(v, v) for v in uniques}
            wanted = list(dict.fromkeys(canonical.values()))
            translated = _translate(session, registry, name, target, conditions or [], wanted)
            missing = [v for v in wanted if v not in translated]
            if public is not None and missing:
                translated.update(public.translate(missing, name, target))
            mapper = {v: translated[c] for v, c in canonical.items() if c in translated}
    if mapper and not mute and target == name:
        _log(mute, f"standardized {len(mapper)} value(s): {quoted(mapper)}")
    if return_mapper:
        return mapper
    result = [mapper.get(v, v) if not _is_empty(v) else v for v in series]
    return result[0] if single and len(result) == 1 else result


def from_values(
    registry: Any,
    values: Iterable[Any],
    field: Any = None,
    *,
    create: bool = False,
    organism: Any = None,
    source: Any = None,
    standardize: bool = True,
    from_source: bool = True,
    mute: bool = False,
) -> Any:
    """Return records for values: existing, via synonyms, from the public source, or new."""
    registry, name = _field(registry, field)
    uniques = _distinct(_series(values))[0].tolist()
    public = _public(registry, name, organism, source) if from_source else None
    with get_instance().reading() as session:
        # records made for an organism-bound registry need their organism
        conditions = _conditions(session, registry, organism, source, False, organism_required=True)

        def existing(wanted: list[Any]) -> dict[Any, Any]:
            found: dict[Any, Any] = {}
            if conditions is None:
                return found
            column = getattr(registry, name)
            for start in range(0, len(wanted), CHUNK):
                chunk = wanted[start : start + CHUNK]
                statement = sa.select(registry).where(column.in_(chunk), *conditions)
                for record in session.scalars(statement.order_by(registry.id)):
                    found.setdefault(getattr(record, name), record)
            return found

        def existing_or_public(wanted: list[Any]) -> dict[Any, Any]:
            found = existing(wanted)
            missing = [v for v in wanted if v not in found]
            if public is not None and missing:
                made = public.records(missing, name)
                found.update({getattr(r, name): r for r in made})
            return found

        by_value = existing_or_public(uniques)
        new = [r for r in by_value.values() if r.id is None]
        if new:
            _log(
                mute,
                f"created {_n(len(new), registry)} from public with {registry.__name__}."
                f"{name}: {quoted(getattr(r, name) for r in new)}",
            )
        missing = [v for v in uniques if v not in by_value]
        if standardize and missing:
            mapper = _registry_synonyms(session, registry, name, conditions, missing)
            rest = [v for v in missing if v not in mapper]
            if public is not None and rest and name == registry._name_field:
                mapper.update(public.mapper(rest, name))
            targets = list(dict.fromkeys(mapper.values()))
            known = {v: by_value[v] for v in targets if v in by_value}
            known.update(existing_or_public([v for v in targets if v not in known]))
            matched = [v for v in missing if mapper.get(v) in known]
            for value in matched:
                by_value[value] = known[mapper[value]]
            if matched:
                _log(
                    mute,
                    f"found {_n(len(matched), registry)} matching synonyms: {quoted(matched)}",
                )
            missing = [v for v in missing if v not in by_value]
        if missing and create:
            for value in missing:
                by_value[value] = registry._curation_new(session, name, value, organism=organism)
            missing = []
        if missing:
            _log(
                mute,
                f"did not create {registry.__name__} records for {quoted(missing)}: found "
                "neither in the registry nor in a public source; pass create=True to make "
                "new records",
                warning=True,
            )
    return registry._curation_list(dict.fromkeys(by_value[v] for v in uniques if v in by_value))
