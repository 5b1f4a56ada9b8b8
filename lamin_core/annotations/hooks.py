"""Checks that run when a Feature is created: a valid dtype and a name queries can use.

A Feature redeclared with the name of a saved one (a notebook re-run) is the saved one, unless
the dtype differs: then the declaration contradicts the catalog, and the error says so. A Feature
saved without a dtype is refused with the choices, before the database would.

They are SQLAlchemy attribute events rather than code in the model, so the Feature registry
stays a plain table definition while every way of setting ``name`` or ``dtype`` (constructor,
assignment) is checked. A feature named like an Artifact field (``key``, ``size``) would be
shadowed by the field in ``ln.Artifact.filter(key=...)``, so such names are refused.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from lamin_core.errors import ValidationError

__all__ = [
    "artifact_field_names",
    "check_dtype_given",
    "check_feature_name",
    "check_redeclared_dtype",
    "install_hooks",
]


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


def _on_dtype(target: Any, value: Any, oldvalue: Any, initiator: Any) -> str | None:
    from lamin_core.annotations.dtypes import parse_dtype

    return None if value is None else parse_dtype(value).text


def _on_cat_filters(target: Any, value: Any, oldvalue: Any, initiator: Any) -> Any:
    from lamin_core.annotations.cat_filters import normalize_cat_filters  # numpy: on first use

    return normalize_cat_filters(value)


def check_redeclared_dtype(existing: Any, kwargs: dict[str, Any]) -> None:
    """Refuse ``Feature(name=..., dtype=...)`` whose dtype (or cat_filters) differs from the
    saved feature's.

    Raises:
        ValidationError: the dtypes differ; names both and what to do.
    """
    from lamin_core.annotations.cat_filters import normalize_cat_filters
    from lamin_core.annotations.dtypes import parse_dtype

    if "cat_filters" in kwargs:
        filters = normalize_cat_filters(kwargs["cat_filters"])
        if filters != existing.cat_filters:
            raise ValidationError(
                f"Feature {existing.name!r} exists with cat_filters {existing.cat_filters!r}, "
                f"not {filters!r}. Declare it with the saved filters to use it, or choose "
                "another name."
            )
    dtype = kwargs.get("dtype")
    if dtype is None:
        return
    declared = parse_dtype(dtype).text
    if declared != existing.dtype:
        raise ValidationError(
            f"Feature {existing.name!r} exists with dtype {existing.dtype!r}, not {declared!r}. "
            f"Declare it with dtype={existing.dtype!r} (or without dtype) to use it, or choose "
            "another name for a feature of the new dtype."
        )


def check_dtype_given(mapper: Any, connection: Any, target: Any) -> None:
    """Refuse to write a Feature without a dtype (or a feature type with one), with the fix.

    Raises:
        ValidationError: a feature has no dtype, or a feature type has one; nothing is
            written.
    """
    from lamin_core.annotations.cat_filters import check_cat_filters
    from lamin_core.annotations.dtypes import valid_dtypes_text

    if target.is_type:
        if target.dtype is not None:
            raise ValidationError(
                f"Feature {target.name!r} is a feature type (is_type=True), which groups "
                f"features and has no dtype, got dtype={target.dtype!r}. Leave dtype out, or "
                f"make a feature of that type: ln.Feature(name=..., dtype={target.dtype!r}, "
                f"type=<the type>)."
            )
        return
    if target.dtype is None:
        raise ValidationError(
            f"Feature {target.name!r} has no dtype; dtype is required. Pass one of: "
            f"{valid_dtypes_text()}, e.g. ln.Feature(name={target.name!r}, dtype='str')."
        )
    check_cat_filters(target)


def install_hooks() -> None:
    """Check Feature names and dtypes whenever they are set (idempotent)."""
    from lamin_core.models import Feature
    from lamin_core.models.base import add_reuse_check

    hooks = ((Feature.name, _on_name), (Feature.dtype, _on_dtype))
    for attribute, hook in (*hooks, (Feature.cat_filters, _on_cat_filters)):
        if not sa.event.contains(attribute, "set", hook):
            sa.event.listen(attribute, "set", hook, retval=True)
    for event in ("before_insert", "before_update"):
        if not sa.event.contains(Feature, event, check_dtype_given):
            sa.event.listen(Feature, event, check_dtype_given)
    add_reuse_check(Feature, check_redeclared_dtype)
