"""Checks that run when a Feature is created: a valid dtype and a name queries can use.

They are SQLAlchemy attribute events rather than code in the model, so the Feature registry
stays a plain table definition while every way of setting ``name`` or ``dtype`` (constructor,
assignment) is checked. A feature named like an Artifact field (``key``, ``size``) would be
shadowed by the field in ``ln.Artifact.filter(key=...)``, so such names are refused.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from lamin_core.errors import ValidationError

__all__ = ["artifact_field_names", "check_feature_name", "install_hooks"]


def artifact_field_names() -> set[str]:
    """Return the names ``ln.Artifact.filter()`` resolves as fields, not as features."""
    from lamin_core.models import Artifact

    mapper = sa.inspect(Artifact)
    names = {*mapper.column_attrs.keys(), *mapper.relationships.keys()}
    return names | set(getattr(Artifact, "_field_aliases", {})) | {"features", "labels"}


def check_feature_name(name: Any) -> str:
    """Return `name` if it can name a feature, else raise a ValidationError with the fix.

    Raises:
        ValidationError: not a non-empty string, contains ``__`` (the lookup separator), or
            collides with an Artifact field or relation.
    """
    if not isinstance(name, str) or not name.strip():
        raise ValidationError(f"A feature name must be a non-empty string, got {name!r}.")
    if "__" in name:
        raise ValidationError(
            f"Feature name {name!r} contains '__', which separates lookups in queries "
            f"(temperature__gt=21). Use single underscores, e.g. {name.replace('__', '_')!r}."
        )
    if name in artifact_field_names():
        raise ValidationError(
            f"Feature name {name!r} collides with the Artifact field {name!r}: "
            f"ln.Artifact.filter({name}=...) would query the field, not the feature. Choose "
            f"another name, e.g. {name + '_value'!r} or 'sample_{name}'."
        )
    return name


def _on_name(target: Any, value: Any, oldvalue: Any, initiator: Any) -> str:
    return check_feature_name(value)


def _on_dtype(target: Any, value: Any, oldvalue: Any, initiator: Any) -> str:
    from lamin_core.annotations.dtypes import parse_dtype

    return parse_dtype(value).text


def install_hooks() -> None:
    """Check Feature names and dtypes whenever they are set (idempotent)."""
    from lamin_core.models import Feature

    for attribute, hook in ((Feature.name, _on_name), (Feature.dtype, _on_dtype)):
        if not sa.event.contains(attribute, "set", hook):
            sa.event.listen(attribute, "set", hook, retval=True)
