"""Typed records (``is_type`` / ``type``): the one rule for a record's type, and how dtypes name
type records.

ULabel, Feature, Project, Reference and Record share the rule, through `validate_type` in their
``@validates("type")`` hooks. A name identifies a ULabel, Feature or Record within its type
(LaminDB 2.x); for features the catalog enforces it, through `name_per_type_index`. A feature
whose dtype is a type record stores the type's uid (``cat[Record[<uid>]]``: a rename keeps it
valid); `readable_dtype` shows it by name.
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from lamin_core.errors import ValidationError
from lamin_core.models.registry import registry_named

__all__ = ["NAME_PER_TYPE", "name_per_type_index", "readable_dtype", "validate_type"]

# a type record inside a dtype: Record[<uid>], ULabel[<uid>], Feature[<uid>]
_TYPE_IN_DTYPE = re.compile(r"(?P<registry>\b\w+)\[(?P<uid>[A-Za-z0-9]{12,16})\]")
# the expression that makes the root level (no type) one value in a unique index: NULLs are
# distinct in SQL, so a plain UNIQUE (name, type_id) would take two root records named alike
NAME_PER_TYPE = "coalesce(type_id, 0)"


def name_per_type_index(table: str) -> sa.Index:
    """Return the unique index making a name unique within its type (the root is one type).

    Revision 0016 creates it on feature, on SQLite and PostgreSQL alike. Labels and records
    have none, as in LaminDB: their constructors return the record of that name and type, and
    same-named ones at one level (made on purpose) are reported as ambiguous where used.
    """
    return sa.Index(f"uq_{table}_name_type", "name", sa.text(NAME_PER_TYPE), unique=True)


def validate_type(record: Any, value: Any) -> Any:
    """Check that `value` may be the `type` of `record`: a saved-or-new type of its registry."""
    if value is None:
        return value
    registry = type(record)
    name = registry.__name__
    if not isinstance(value, registry):
        raise ValidationError(
            f"The type of a {name} is a {name} with is_type=True, got "
            f"{type(value).__name__} {value!r}."
        )
    if not value.is_type:
        raise ValidationError(
            f"{name} {value.name!r} is not a type; a {name}'s type must have is_type=True. "
            f"Make one with ln.{name}(name={value.name!r}, is_type=True).save()."
        )
    return value


def readable_dtype(session: Any, text: str | None) -> str | None:
    """Return a dtype with each type record's uid replaced by its name, nested in its parents.

    ``cat[Record[<uid>]]`` -> ``cat[Record[Perturbations]]``; a subtype is nested in its type
    (``cat[Record[Samples[Blood]]]``). Other dtypes, and a uid no record has (a deleted type),
    come back unchanged.
    """
    if text is None or "[" not in text:
        return text

    def name_of(match: re.Match[str]) -> str:
        registry = registry_named(match.group("registry"))
        if registry is None or "type_id" not in registry.__table__.c:
            return match.group(0)
        uid = match.group("uid")
        record = session.scalars(sa.select(registry).where(registry.uid == uid)).first()
        if record is None:
            return match.group(0)
        nested = f"[{record.name}]"
        parent, seen = record.type, {record.id}
        while parent is not None and parent.id not in seen:
            nested, seen = f"[{parent.name}{nested}]", seen | {parent.id}
            parent = parent.type
        return f"{match.group('registry')}{nested}"

    return _TYPE_IN_DTYPE.sub(name_of, text)
