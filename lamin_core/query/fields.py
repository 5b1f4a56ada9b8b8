"""Resolve ``relation__field__lookup`` names against registries and validate their values.

This is where user input meets the schema: every name in a filter is checked against the
registry's columns and relationships (SQLAlchemy mapper metadata, so registries added later work
unchanged), every value against the column's type. Mistakes become `FieldError` or
`ValidationError` messages that name the registry, the offending name or value, and the choices.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import RelationshipProperty

from lamin_core.errors import FieldError, ValidationError, closest_match
from lamin_core.errors.values import as_python, check_text, integer_range
from lamin_core.query.coercion import (
    coerce,
    expected_type,
    fit_integer,
    python_type,
    transform_range,
)
from lamin_core.query.field_lookups import (
    LOOKUPS,
    TRANSFORMS,
    Lookup,
    check_regex,
    get_lookup,
    is_many,
)
from lamin_core.query.q import LOOKUP_SEP

if TYPE_CHECKING:
    from lamin_core.query.feature_filters import FeatureRef

__all__ = ["Leaf", "field_choices", "resolve_leaf", "unknown_field_error"]


@dataclass(frozen=True)
class Leaf:
    """One resolved lookup: the relation hops, the column at the end, the lookup and value.

    `column` is None for a feature lookup (then `feature` is set); when the name ends on a
    relation (``ulabels=study1``), `column` is the target's primary key.
    """

    key: str
    hops: tuple[RelationshipProperty[Any], ...]
    column: str | None
    transform: str | None
    lookup: type[Lookup]
    value: Any
    feature: FeatureRef | None = None

    def shifted(self) -> Leaf:
        """Return the same leaf seen from the target of the first hop."""
        return Leaf(
            self.key,
            self.hops[1:],
            self.column,
            self.transform,
            self.lookup,
            self.value,
            self.feature,
        )


def _mapper(model: Any) -> sa.orm.Mapper[Any]:
    return sa.inspect(model).mapper if not isinstance(model, sa.orm.Mapper) else model


def field_choices(model: Any) -> list[str]:
    """Return the names usable in a query on `model`: columns, relations and aliases."""
    mapper = _mapper(model)
    names = [attr.key for attr in mapper.column_attrs]
    names += [rel.key for rel in mapper.relationships]
    names += list(getattr(mapper.class_, "_field_aliases", {}))
    return names


def unknown_field_error(
    model: Any, name: str, *, extra: str = "", features: Sequence[str] = ()
) -> FieldError:
    """Return the FieldError for an unknown field `name` on `model`, with the closest match.

    Args:
        model: The registry queried.
        name: The unknown name.
        extra: A sentence to append.
        features: The names of the catalog's Features, for a registry queried by features
            (``ln.Artifact.filter(temperatur__gt=21)`` suggests the feature 'temperature').
    """
    choices = field_choices(model)
    match = closest_match(name, [*choices, *features])
    if match is None:
        hint = ""
    elif match in choices:
        hint = f" Did you mean {match!r}?"
    else:
        hint = f" Did you mean the feature {match!r}?"
    registry = _mapper(model).class_.__name__
    shown = f" Features: {', '.join(features)}." if features else ""
    return FieldError(
        f"Unknown field {name!r} on {registry}.{hint} Fields: {', '.join(choices)}.{shown}{extra}"
    )


def resolve_leaf(
    model: Any,
    key: str,
    value: Any,
    *,
    feature_for: Callable[[str], FeatureRef | None] | None = None,
) -> Leaf:
    """Resolve the lookup ``key=value`` on `model` into a `Leaf` with a validated value.

    Args:
        model: The registry (or an aliased registry) the lookup starts from.
        key: A name like ``"ulabels__name__startswith"``.
        value: The value to compare with.
        feature_for: Returns the Feature of a name that is not a field, or None; used for
            ``ln.Artifact.filter(temperature__gt=21)``.

    Raises:
        FieldError: an unknown field, relation or lookup.
        ValidationError: a value of the wrong type for the field and lookup.
    """
    parts = key.split(LOOKUP_SEP)
    mapper = _mapper(model)
    hops: list[RelationshipProperty[Any]] = []
    column: str | None = None
    index = 0
    while index < len(parts):
        name = getattr(mapper.class_, "_field_aliases", {}).get(parts[index], parts[index])
        if name in mapper.column_attrs:
            column = name
            index += 1
            break
        if name in mapper.relationships:
            relation = mapper.relationships[name]
            hops.append(relation)
            mapper = relation.mapper
            index += 1
            continue
        if index == 0 and feature_for is not None:
            feature = feature_for(name)
            if feature is not None:
                return _resolve_feature_leaf(model, key, feature, parts[1:], value)
        if hops and name in LOOKUPS:
            break  # ulabels__in=[...]: a lookup on the relation itself
        raise unknown_field_error(mapper, name)
    rest = parts[index:]
    terminal_relation = column is None
    if column is None:
        column = str(mapper.primary_key[0].key)
    column_attr = mapper.column_attrs[column]
    sql_type = column_attr.columns[0].type
    transform = None
    if rest and rest[0] in TRANSFORMS and python_type(sql_type) is dt.datetime:
        transform = rest.pop(0)
    if len(rest) > 1:
        raise _unknown_lookup_error(mapper, column, LOOKUP_SEP.join(rest))
    lookup = get_lookup_for(mapper, column, rest[0]) if rest else LOOKUPS["exact"]
    where = f"{mapper.class_.__name__}.{column}" if not terminal_relation else hops[-1].key
    if terminal_relation:
        value, lookup = _relation_value(hops[-1], lookup, value, where)
        bounds = integer_range(sql_type)
    else:
        expected = expected_type(sql_type, transform)
        value, lookup = _validated(value, lookup, expected, where, key)
        bounds = integer_range(sql_type) if transform is None else transform_range(transform)
    if bounds is not None:
        value, lookup = fit_integer(value, lookup, bounds)
    return Leaf(key, tuple(hops), column, transform, lookup, value)


def get_lookup_for(mapper: sa.orm.Mapper[Any], column: str, name: str) -> type[Lookup]:
    """Return the lookup `name` for a column, or raise a FieldError suggesting a close one."""
    if name not in LOOKUPS:
        raise _unknown_lookup_error(mapper, column, name)
    return get_lookup(name)


def _unknown_lookup_error(mapper: sa.orm.Mapper[Any], column: str, name: str) -> FieldError:
    match = closest_match(name, [*LOOKUPS, *TRANSFORMS])
    hint = f" Did you mean {match!r}?" if match else ""
    return FieldError(
        f"Unknown lookup {name!r} on {mapper.class_.__name__}.{column}.{hint} "
        f"Lookups: {', '.join(LOOKUPS)}; on datetimes also {', '.join(TRANSFORMS)}."
    )


def _validated(
    value: Any, lookup: type[Lookup], expected: type | None, where: str, key: str
) -> tuple[Any, type[Lookup]]:
    from lamin_core.query.queryset import QuerySet

    shape = lookup.value_shape
    if lookup.text_only and expected not in (str, dict, None):
        raise ValidationError(
            f"{key}: the lookup {lookup.lookup_name!r} compares text, but {where} is not a text "
            "field. Use exact, in, gt, gte, lt, lte, range or isnull."
        )
    if shape == "bool":
        if not isinstance(value, bool):
            raise ValidationError(f"{key}={value!r}: isnull expects True or False.")
        return value, lookup
    if shape == "text" or lookup.text_only:
        if value is None and lookup.lookup_name == "iexact":
            return None, lookup
        if not isinstance(value, str):
            raise ValidationError(
                f"{key}={value!r}: the lookup {lookup.lookup_name!r} expects a string, "
                f"got {type(value).__name__}."
            )
        if shape == "text":
            check_regex(value, key)
        return check_text(value, key), lookup
    if shape == "many":
        if isinstance(value, QuerySet):
            return value._id_subquery(), lookup
        if not is_many(value):
            raise ValidationError(
                f"{key}={value!r}: the lookup 'in' expects a list, tuple or set of values "
                f"(or a QuerySet), got {type(value).__name__}."
            )
        return [coerce(item, expected, where, key) for item in value], lookup
    if shape == "pair":
        if not is_many(value) or len(list(value)) != 2:
            raise ValidationError(
                f"{key}={value!r}: the lookup 'range' expects two values (low, high)."
            )
        low, high = list(value)
        return (coerce(low, expected, where, key), coerce(high, expected, where, key)), lookup
    if value is None and lookup.lookup_name != "exact":
        raise ValidationError(
            f"{key}=None: the lookup {lookup.lookup_name!r} cannot compare with None; "
            f"use {key.rsplit(LOOKUP_SEP, 1)[0]}__isnull=True."
        )
    return coerce(value, expected, where, key), lookup


def record_id(value: Any, target: type, where: str) -> int:
    """Return the id of a record (or an integer id) used as a value for a relation."""
    from lamin_core.models.base import Record

    value = as_python(value)
    if isinstance(value, Record):
        if not isinstance(value, target):
            raise ValidationError(
                f"{where}={value!r}: expects a {target.__name__} record, "
                f"got a {type(value).__name__}."
            )
        if value.id is None:
            raise ValidationError(
                f"{where}={value!r}: the {target.__name__} record is not saved; save it first."
            )
        return value.id
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise ValidationError(
        f"{where}={value!r}: expects a {target.__name__} record or its integer id, got "
        f"{type(value).__name__}. To match a field, name it, e.g. {where}__name={value!r}."
    )


def _relation_value(
    relation: RelationshipProperty[Any], lookup: type[Lookup], value: Any, where: str
) -> tuple[Any, type[Lookup]]:
    from lamin_core.query.queryset import QuerySet

    target = relation.mapper.class_
    name = lookup.lookup_name
    if name == "isnull":
        if not isinstance(value, bool):
            raise ValidationError(f"{where}__isnull={value!r}: expects True or False.")
        return value, lookup
    if name == "exact" and value is None:
        return True, LOOKUPS["isnull"]
    if name == "in":
        if isinstance(value, QuerySet):
            if value.model is not target:
                raise ValidationError(
                    f"{where}__in: expects a QuerySet of {target.__name__}, got one of "
                    f"{value.model.__name__}."
                )
            return value._id_subquery(), lookup
        if not is_many(value):
            raise ValidationError(
                f"{where}__in={value!r}: expects a list of {target.__name__} records or ids "
                "(or a QuerySet)."
            )
        return [record_id(item, target, where) for item in value], lookup
    if name in ("exact", "gt", "gte", "lt", "lte"):
        return record_id(value, target, where), lookup
    raise ValidationError(
        f"{where}__{name}: a relation compares records; use {where}=record, {where}__in=[...], "
        f"{where}__isnull=True, or a field such as {where}__name__{name}."
    )


def _resolve_feature_leaf(
    model: Any, key: str, feature: FeatureRef, rest: list[str], value: Any
) -> Leaf:
    from lamin_core.query.feature_filters import validate_feature_value

    label_field = None
    if feature.registries and rest and rest[0] not in LOOKUPS:
        label_field = rest.pop(0)
    if len(rest) > 1 or (rest and rest[0] not in LOOKUPS):
        name = LOOKUP_SEP.join(rest)
        match = closest_match(name, list(LOOKUPS))
        hint = f" Did you mean {match!r}?" if match else ""
        raise FieldError(
            f"Unknown lookup {name!r} on the feature {feature.name!r}.{hint} "
            f"Lookups: {', '.join(LOOKUPS)}."
        )
    lookup = LOOKUPS[rest[0]] if rest else LOOKUPS["exact"]
    value, lookup = validate_feature_value(feature, label_field, lookup, value, key)
    if feature.registries and lookup.lookup_name != "isnull":
        value, lookup = _label_value(feature, label_field, lookup, value, key)
    return Leaf(key, (), label_field, None, lookup, value, feature)


def _label_value(
    feature: FeatureRef, label_field: str | None, lookup: type[Lookup], value: Any, key: str
) -> tuple[Any, type[Lookup]]:
    """Check a value compared with the labels of a categorical feature, by the label field's type.

    ``study="IFNG"`` compares ULabel names; ``study=5`` is refused (a name is text), while
    ``study__id=5`` compares ids.
    """
    from lamin_core.models.base import Record

    items = value if isinstance(value, (list, tuple)) else [value]
    if any(isinstance(item, Record) for item in items):
        return value, lookup
    for link in feature.registries:
        field = label_field or link.label_field
        mapper = _mapper(link.registry)
        if field not in mapper.column_attrs:
            continue  # compiling says which fields the registry has
        sql_type = mapper.column_attrs[field].columns[0].type
        where = f"{link.registry.__name__}.{field}"
        try:
            value, lookup = _validated(value, lookup, python_type(sql_type), where, key)
        except ValidationError as error:
            raise ValidationError(
                f"{error} The feature {feature.name!r} has dtype {feature.dtype!r}: compare it "
                f"with {where} values or {link.registry.__name__} records, or name another "
                f"field, e.g. {feature.name}__id=..."
            ) from None
        bounds = integer_range(sql_type)
        if bounds is not None:
            value, lookup = fit_integer(value, lookup, bounds)
    return value, lookup


def resolve_path(model: Any, path: str) -> tuple[tuple[RelationshipProperty[Any], ...], str]:
    """Resolve a field path without a lookup (``"run__transform__key"``) into (hops, column).

    A path ending on a relation (``"ulabels"``) resolves to the target's name field if it has
    one, else its id.

    Raises:
        FieldError: a name on the path is neither a column nor a relation.
    """
    mapper = _mapper(model)
    hops: list[RelationshipProperty[Any]] = []
    parts = path.split(LOOKUP_SEP)
    for index, part in enumerate(parts):
        name = getattr(mapper.class_, "_field_aliases", {}).get(part, part)
        if name in mapper.column_attrs:
            if index != len(parts) - 1:
                raise FieldError(
                    f"{path!r}: {mapper.class_.__name__}.{name} is a field, not a relation, so "
                    f"{LOOKUP_SEP.join(parts[index + 1 :])!r} cannot follow it."
                )
            return tuple(hops), name
        if name in mapper.relationships:
            relation = mapper.relationships[name]
            hops.append(relation)
            mapper = relation.mapper
            continue
        raise unknown_field_error(mapper, part)
    name_field = str(getattr(mapper.class_, "_name_field", ""))
    column = name_field if name_field in mapper.column_attrs else mapper.primary_key[0].key
    return tuple(hops), str(column)
