"""The members of a schema: their declared order and which of them a dataset may lack.

LaminDB 2.x declares an optional member as ``feature.with_config(optional=True)`` inside
``ln.Schema(features=[...])`` and edits them later through ``schema.optionals``. Both facts live
on the link row of the member (``featureset_feature.optional`` and ``.position``), so they survive
a reload, show in ``schema.describe()`` and are part of the schema's hash: two schemas that differ
only in which features are optional are two schemas.

Examples:
    >>> schema = ln.Schema(features=[sample_id, sample_name.with_config(optional=True)]).save()
    >>> schema.optionals.get().to_list("name")
    ['sample_name']
    >>> schema.optionals.add(sample_id)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from lamin_core.binding import above
from lamin_core.errors import InvalidArgument, ValidationError
from lamin_core.models.annotation import Feature, featureset_feature

if TYPE_CHECKING:
    from lamin_core.models.schema import Schema
    from lamin_core.query.queryset import QuerySet

__all__ = [
    "CONFIG_KEYS",
    "SchemaOptionals",
    "member_order",
    "member_rows",
    "members_queryset",
    "split_configs",
]

CONFIG_KEYS = ("optional",)  # what feature.with_config() may set on a schema member


def member_order() -> list[Any]:
    """Return the SQL order of members: declared position (links without one last), then id."""
    position = featureset_feature.c.position
    return [position.is_(None), position, featureset_feature.c.feature_id]


def member_rows(session: sa.orm.Session, schema_id: int | None) -> list[Any]:
    """Return (uid, name, dtype, optional) of a schema's member features, in the declared order."""
    link = featureset_feature.c
    return list(
        session.execute(
            sa.select(Feature.uid, Feature.name, Feature.dtype, link.optional)
            .join(featureset_feature, link.feature_id == Feature.id)
            .where(link.featureset_id == schema_id)
            .order_by(*member_order())
        ).all()
    )


def members_queryset(schema: Schema, *, optional_only: bool = False) -> QuerySet[Feature]:
    """Return a schema's member features (or its optional ones) as a QuerySet, in order."""
    link = featureset_feature.c
    ids = sa.select(link.feature_id).where(link.featureset_id == schema.id)
    if optional_only:
        ids = ids.where(link.optional.is_(True))
    position = (
        sa.select(link.position)
        .where(link.featureset_id == schema.id, link.feature_id == Feature.id)
        .scalar_subquery()
    )
    queryset: QuerySet[Feature] = above.queryset(Feature, instance=schema._instance())
    return queryset.filter(Feature.id.in_(ids)).in_default_order(position.is_(None), position)


def split_configs(items: list[Any]) -> tuple[list[Any], list[Any]]:
    """Return the features of `items` and those configured optional.

    An item is a Feature or a ``(feature, config)`` pair from ``feature.with_config(...)``.

    Raises:
        ValidationError: a config names a key other than ``optional``.
    """
    features, optionals = [], []
    for item in items:
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], dict):
            feature, config = item
            unknown = sorted(set(config) - set(CONFIG_KEYS))
            if unknown:
                raise ValidationError(
                    f"Unknown schema member config {unknown[0]!r} for feature "
                    f"{getattr(feature, 'name', feature)!r}; feature.with_config() takes: "
                    f"{', '.join(CONFIG_KEYS)}."
                )
            if config.get("optional"):
                optionals.append(feature)
            item = feature
        features.append(item)
    return features, optionals


def _features_arg(features: Any, method: str) -> list[Feature]:
    is_list = isinstance(features, list)
    items = features if is_list else [features]
    if (method == "set" and not is_list) or not all(isinstance(f, Feature) for f in items):
        raise InvalidArgument(
            f"features must be a list of Feature records! schema.optionals.{method}() got "
            f"{type(features).__name__} {features!r}; pass e.g. "
            "[ln.Feature.get(name='sample_name')]."
        )
    return items


class SchemaOptionals:
    """The optional members of a schema: ``schema.optionals.get() / set() / add() / remove()``.

    An optional member may be missing from a dataset; when its column is present, it is
    validated like any other. Changes are written at once (for a saved schema) and the schema's
    hash follows them.

    Examples:
        >>> schema.optionals.set([ln.Feature.get(name="sample_type")])
        >>> schema.optionals.get().to_list("name")
        ['sample_type']
    """

    def __init__(self, schema: Schema) -> None:
        self._schema = schema

    def get(self) -> QuerySet[Feature]:
        """Return the optional members as a QuerySet, in the schema's order.

        Raises:
            ValidationError: the schema is not saved.
        """
        return members_queryset(self._require_saved("get"), optional_only=True)

    def set(self, features: list[Feature]) -> None:
        """Make exactly `features` optional (the other members become required).

        Raises:
            InvalidArgument: `features` is not a list of Feature records.
            ValidationError: a feature is not a member of the schema.
        """
        self._write(_features_arg(features, "set"), replace=True)

    def add(self, features: Feature | list[Feature]) -> None:
        """Make `features` optional too.

        Raises:
            InvalidArgument: not a Feature or a list of Feature records.
            ValidationError: a feature is not a member of the schema.
        """
        self._write(_features_arg(features, "add"), replace=False)

    def remove(self, features: Feature | list[Feature]) -> None:
        """Make `features` required again.

        Raises:
            InvalidArgument: not a Feature or a list of Feature records.
            ValidationError: a feature is not a member of the schema.
        """
        self._write(_features_arg(features, "remove"), replace=False, optional=False)

    def _require_saved(self, method: str) -> Schema:
        schema = self._schema
        if schema.id is None:
            raise ValidationError(
                f"Schema {schema.name!r} is not saved; save it before schema.optionals.{method}(),"
                " or declare optional members with feature.with_config(optional=True)."
            )
        return schema

    def _write(self, features: list[Feature], *, replace: bool, optional: bool = True) -> None:
        schema = self._require_saved("set" if replace else "add" if optional else "remove")
        link = featureset_feature.c
        with schema._instance().writing() as session:
            members = set(
                session.scalars(sa.select(link.feature_id).where(link.featureset_id == schema.id))
            )
            strangers = [f for f in features if f.id not in members]
            if strangers:
                raise ValidationError(
                    "Feature not part of the schema, please use schema.add() instead. "
                    f"Feature {strangers[0].name!r} is not a member of Schema "
                    f"{schema.name or schema.uid!r}: add it first with schema.add(feature); "
                    "nothing was changed."
                )
            ours = link.featureset_id == schema.id
            if replace:
                session.execute(featureset_feature.update().where(ours).values(optional=False))
            session.execute(
                featureset_feature.update()
                .where(ours, link.feature_id.in_([f.id for f in features]))
                .values(optional=optional)
            )
            schema._after_links_changed(session)
            session.add(schema)
