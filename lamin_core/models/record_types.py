"""The one rule for typed records (``is_type`` / ``type``): a type of the same registry.

ULabel, Feature, Project, Reference and Record share it, through `validate_type` in their
``@validates("type")`` hooks. A name identifies a ULabel, Feature or Record within its type
(LaminDB 2.x); for features the catalog enforces it, through `name_per_type_index`.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from lamin_core.errors import ValidationError

__all__ = ["NAME_PER_TYPE", "name_per_type_index", "validate_type"]

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
