"""Get-or-save for the example set-ups, so that running one twice changes nothing."""

from __future__ import annotations

from typing import Any

__all__ = ["saved"]


def saved(registry: Any, lookup: dict[str, Any], **fields: Any) -> Any:
    """Return the record matching `lookup`, saving ``registry(**lookup, **fields)`` if none does."""
    existing = registry.filter(**lookup).one_or_none()
    return existing if existing is not None else registry(**lookup, **fields).save()
