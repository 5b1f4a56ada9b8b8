"""Filters on the labels of a categorical feature: ``Feature(dtype=bt.Disease, cat_filters=...)``.

LaminDB 2.x lets a feature admit only some records of its registry: those of one ontology
source (``{"source__uid": "..."}``), or the record types of one schema (``{"type": samples,
"is_type": True, "schema": sheet_schema}``). The filters are field lookups of the label registry,
as ``Registry.filter(**cat_filters)`` takes them; a record given as a value is stored by its uid,
so the filter reads the same in every instance. A curator validates a column of the feature
against the filtered records only, and annotates with them only.

Examples:
    >>> ln.Feature(name="sheet", dtype=samples, cat_filters={"schema": sheet_schema}).save()
"""

from __future__ import annotations

from typing import Any

from lamin_core.annotations.dtypes import parse_dtype
from lamin_core.errors import FieldError, ValidationError
from lamin_core.models.base import Record
from lamin_core.query.queryset import QuerySet

__all__ = ["cat_filter_condition", "check_cat_filters", "normalize_cat_filters"]

_SCALARS = (str, int, float, bool)


def normalize_cat_filters(filters: Any) -> dict[str, Any] | None:
    """Return `filters` as stored: records replaced by their uids (``type`` -> ``type__uid``).

    Raises:
        ValidationError: not a dict of field lookups to text, numbers, booleans or saved
            records.
    """
    if filters is None or filters == {}:
        return None
    if not isinstance(filters, dict):
        raise ValidationError(
            f"cat_filters must be a dict of field lookups of the label registry, got "
            f"{type(filters).__name__} {filters!r}; e.g. cat_filters={{'source__uid': '...'}}."
        )
    stored: dict[str, Any] = {}
    for key, value in filters.items():
        if not isinstance(key, str):
            raise ValidationError(
                f"cat_filters keys are field lookups of the label registry (text), got "
                f"{type(key).__name__} {key!r}; e.g. cat_filters={{'source__uid': '...'}}."
            )
        if isinstance(value, Record):
            if value.id is None:
                raise ValidationError(
                    f"cat_filters[{key!r}] is an unsaved {type(value).__name__}; save it first."
                )
            key, value = f"{key}__uid", value.uid
        elif not isinstance(value, _SCALARS):
            raise ValidationError(
                f"cat_filters[{key!r}] must be text, a number, a boolean or a saved record, got "
                f"{type(value).__name__} {value!r}."
            )
        stored[key] = value
    return stored


def _registry(feature: Any) -> type:
    dtype = parse_dtype(feature.dtype)
    if not dtype.is_categorical or len(dtype.registries) != 1:
        raise ValidationError(
            f"Feature {feature.name!r} has cat_filters but dtype {dtype.text!r}; filters apply to "
            "the labels of one registry: give it a dtype such as bt.Disease or ln.Record, or "
            "leave cat_filters out."
        )
    registry: type = dtype.registries[0][0]
    return registry


def check_cat_filters(feature: Any) -> None:
    """Refuse filters that a categorical feature's registry cannot apply, before writing.

    Raises:
        ValidationError: the dtype is not one label registry, or a lookup names no field
            (with the registry's fields).
    """
    if not feature.cat_filters:
        return
    registry = _registry(feature)
    try:
        QuerySet(registry).filter(**feature.cat_filters).statement  # noqa: B018 (compiles it)
    except FieldError as error:
        raise ValidationError(
            f"Feature {feature.name!r} has cat_filters {feature.cat_filters!r} that "
            f"{registry.__name__} cannot apply: {error}"
        ) from error


def cat_filter_condition(session: Any, feature: Any) -> list[Any]:
    """Return the SQL conditions restricting a feature's label registry to its filters ([]).

    The matching ids are read once, here: the values are matched by a Core select of table
    columns (as `type_condition`'s), which an ORM subquery of the filters would turn into an ORM
    query.
    """
    if feature is None or not getattr(feature, "cat_filters", None):
        return []
    registry: Any = _registry(feature)
    matching = QuerySet(registry).filter(**feature.cat_filters)._id_subquery()
    return [registry.__table__.c.id.in_(list(session.scalars(matching)))]
