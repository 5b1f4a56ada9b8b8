"""The one rule for typed records (``is_type`` / ``type``): a type of the same registry.

ULabel, Feature, Project, Reference and Record share it, through `validate_type` in their
``@validates("type")`` hooks.
"""

from __future__ import annotations

from typing import Any

from lamin_core.errors import ValidationError

__all__ = ["validate_type"]


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
