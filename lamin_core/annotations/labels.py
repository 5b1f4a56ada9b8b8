"""Labels on artifacts: ``artifact.labels.add(records, feature=...)`` and ``.get(feature)``.

A label is a record of ULabel or of a bio registry linked to an artifact through the link table
``artifact_<table>`` (found by the registry map, `lamin_core.models.registry`),
optionally qualified by the feature it is a value of (``feature_id``): "DMSO is a value of
cell_medium". One function writes links for features, curators and this accessor, so they agree
on de-duplication (a link is written once per artifact, label and feature).

Examples:
    >>> artifact.labels.add(ln.ULabel.get(name="DMSO"), feature="cell_medium")
    >>> artifact.labels.get("cell_medium").list("name")
    ['DMSO']
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from lamin_core.errors import DoesNotExist, ValidationError, did_you_mean, quoted
from lamin_core.models.registry import label_link, label_registries, namespace_of

if TYPE_CHECKING:
    from lamin_core.models import Artifact, Feature
    from lamin_core.query import QuerySet

__all__ = ["LabelManager", "get_feature", "insert_links"]

CHUNK = 10_000


def get_feature(session: Session, feature: Any) -> Feature:
    """Return a Feature from a record or a name.

    Raises:
        DoesNotExist: no feature has that name; the message lists the features.
    """
    from lamin_core.models import Feature

    if isinstance(feature, Feature):
        if feature.id is None:
            raise ValidationError(f"{feature!r} is not saved; call .save() first.")
        return feature
    if not isinstance(feature, str):
        raise ValidationError(
            f"Expected a Feature or a feature name, got {type(feature).__name__} {feature!r}."
        )
    found = session.scalar(sa.select(Feature).where(Feature.name == feature))
    if found is None:
        names = list(session.scalars(sa.select(Feature.name).order_by(Feature.name)))
        raise DoesNotExist(
            f"No feature named {feature!r}.{did_you_mean(feature, names)} Features: "
            f"{', '.join(names) or 'none'}. Create it with ln.Feature(name={feature!r}, "
            "dtype=...).save()."
        )
    return found


def insert_links(
    session: Session,
    artifact_id: int,
    registry: type,
    label_ids: Iterable[int],
    feature_id: int | None,
) -> int:
    """Link labels to an artifact (skipping links that exist); return how many were added.

    Runs inside the caller's transaction: the caller commits or rolls back.
    """
    table, artifact_col, label_col, feature_col = label_link(registry)
    wanted = list(dict.fromkeys(label_ids))
    if not wanted:
        return 0
    same_feature = feature_col.is_(None) if feature_id is None else feature_col == feature_id
    existing: set[int] = set()
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start : start + CHUNK]
        statement = sa.select(label_col).where(
            artifact_col == artifact_id, same_feature, label_col.in_(chunk)
        )
        existing.update(session.execute(statement).scalars())
    rows = [
        {artifact_col.key: artifact_id, label_col.key: label_id, feature_col.key: feature_id}
        for label_id in wanted
        if label_id not in existing
    ]
    if rows:
        session.execute(table.insert(), rows)
    return len(rows)


def _as_records(session: Session, records: Any, feature: Feature | None) -> list[Any]:
    """Return the records to link: records as given, names as the saved records they name.

    A name (``"DMSO"``) names a saved record of the feature's registry, by the field its dtype
    names (``cat[bionty.CellType.ontology_id]``); without a feature, a ULabel by name.
    """
    from lamin_core.annotations.dtypes import parse_dtype, type_condition
    from lamin_core.models import ULabel
    from lamin_core.models.base import Record

    items = [records] if isinstance(records, (Record, str)) else list(records)
    names = [item for item in items if isinstance(item, str)]
    for item in items:
        if not isinstance(item, (Record, str)):
            raise ValidationError(
                f"labels.add() expects records (e.g. ln.ULabel.get(name='DMSO')) or names of "
                f"saved ones, got {type(item).__name__} {item!r}. Make records with "
                "ln.ULabel.from_values([...], create=True).save()."
            )
        if isinstance(item, Record) and item.id is None:
            raise ValidationError(f"{item!r} is not saved; call .save() first.")
    if not names:
        return items
    dtype = parse_dtype(feature.dtype) if feature is not None else None
    registry: Any
    registry, field = dtype.registries[0] if dtype and dtype.registries else (ULabel, "name")
    column = getattr(registry, field or registry._name_field)
    conditions = type_condition(session, dtype) if dtype and dtype.registries else []
    found: dict[str, Any] = {}
    for record in session.scalars(sa.select(registry).where(column.in_(names), *conditions)):
        found.setdefault(getattr(record, column.key), record)
    missing = [name for name in names if name not in found]
    if missing:
        alias = namespace_of(registry).alias
        example = f"{alias}.{registry.__name__}({column.key}={missing[0]!r}).save()"
        raise ValidationError(
            f"No {registry.__name__} record with {column.key} {quoted(missing)}: labels.add() "
            f"takes records or the names of saved ones. Make one with label = {example}, then "
            "add it."
        )
    return [found[item] if isinstance(item, str) else item for item in items]


class ArtifactAnnotations:
    """What `artifact.labels` and `artifact.features` share: the artifact, its session, its id."""

    _needs_saved_to = "annotating"  # the error for an unsaved artifact: "save it before ..."

    def __init__(self, artifact: Artifact) -> None:
        self._artifact = artifact

    def _check_write(self, what: str, tables: list[str], action: str = "INSERT") -> None:
        """Refuse, before anything is written, annotations the database role may not write."""
        self._artifact._instance().check_write(
            lambda: f"{what} {self._artifact!r}", [(table, action) for table in tables]
        )

    def _artifact_id(self) -> int:
        if self._artifact.id is None:
            raise ValidationError(
                f"{self._artifact!r} is not saved; save it before {self._needs_saved_to}."
            )
        return self._artifact.id


class LabelManager(ArtifactAnnotations):
    """The labels of one artifact, grouped by the feature they are values of.

    Examples:
        >>> artifact.labels.add(ln.ULabel.from_values(["project A"], create=True).save())
        >>> artifact.labels.get(registry=ln.ULabel).list("name")
        ['project A']
    """

    _needs_saved_to = "adding labels"

    def add(self, records: Any, feature: str | Feature | None = None) -> None:
        """Link records (ULabels or bio records) to the artifact, optionally for a feature.

        Args:
            records: A saved record, the name of one (``"DMSO"``: a record of the feature's
                registry, by the field its dtype names; without a feature, a ULabel), or a
                list or QuerySet of them.
            feature: The feature the labels are values of; its dtype must admit their registry.

        Raises:
            ValidationError: unsaved records, names no saved record has, or records of a
                registry the feature's dtype does not name; nothing is linked.
        """
        from lamin_core.annotations.dtypes import parse_dtype

        artifact_id = self._artifact_id()
        instance = self._artifact._instance()
        session = instance.session
        feature_record = get_feature(session, feature) if feature is not None else None
        items = _as_records(session, records, feature_record)
        by_registry: dict[type, list[int]] = {}
        for item in items:
            by_registry.setdefault(type(item), []).append(item.id)
        if feature_record is not None:
            dtype = parse_dtype(feature_record.dtype)
            allowed = {registry for registry, _ in dtype.registries}
            wrong = [r.__name__ for r in by_registry if r not in allowed]
            if wrong:
                raise ValidationError(
                    f"Feature {feature_record.name!r} has dtype {feature_record.dtype!r}; it "
                    f"cannot hold {', '.join(wrong)} records."
                )
        tables = [label_link(registry).table.name for registry in by_registry]  # clear errors first
        self._check_write("add labels to", tables)
        with instance.writing():
            for registry, ids in by_registry.items():
                insert_links(
                    session, artifact_id, registry, ids, getattr(feature_record, "id", None)
                )

    def get(self, feature: str | Feature | None = None, *, registry: Any = None) -> QuerySet[Any]:
        """Return the labels of a feature (or all labels of a registry) as a QuerySet.

        Args:
            feature: A feature name or record; its dtype's registry is queried.
            registry: Without `feature`: all labels of this registry; with it: pick one
                registry of a union dtype such as ``cat[ULabel|bionty.CellType]``.
        """
        from lamin_core.annotations.dtypes import parse_dtype
        from lamin_core.models import ULabel

        artifact_id = self._artifact_id()
        feature_record = None
        if feature is not None:
            with self._artifact._instance().reading() as session:
                feature_record = get_feature(session, feature)
            dtype = parse_dtype(feature_record.dtype)
            choices = [r for r, _ in dtype.registries]
            if not choices:
                raise ValidationError(
                    f"Feature {feature_record.name!r} has dtype {feature_record.dtype!r} and "
                    "holds values, not labels; use artifact.features.get_values()."
                )
            registry = registry or choices[0]
            if registry not in choices:
                raise ValidationError(
                    f"Feature {feature_record.name!r} has dtype {feature_record.dtype!r}; it "
                    f"holds no {registry.__name__} records."
                )
        registry = registry or ULabel
        _table, artifact_col, label_col, feature_col = label_link(registry)
        ids = sa.select(label_col).where(artifact_col == artifact_id)
        if feature_record is not None:
            ids = ids.where(feature_col == feature_record.id)
        return registry.filter(registry.id.in_(ids))

    def add_from(self, data: Artifact) -> None:
        """Link every label of another artifact to this one, under the same features.

        Labels of every registry (ULabels, records, bio records) are copied with the feature
        they are values of; links the artifact already has are kept once.

        Raises:
            ValidationError: `data` is not a saved artifact of this catalog; nothing is linked.
        """
        from lamin_core.models import Artifact

        artifact_id = self._artifact_id()
        if not isinstance(data, Artifact) or data.id is None:
            raise ValidationError(
                f"labels.add_from() copies the labels of a saved artifact, got "
                f"{type(data).__name__} {data!r}; pass ln.Artifact.get(...)."
            )
        instance = self._artifact._instance()
        registries = label_registries()
        self._check_write("add labels to", [label_link(r).table.name for r in registries])
        with instance.writing() as session:
            for registry in registries:
                _table, artifact_col, label_col, feature_col = label_link(registry)
                rows = session.execute(
                    sa.select(label_col, feature_col).where(artifact_col == data.id)
                )
                by_feature: dict[int | None, list[int]] = {}
                for label_id, feature_id in rows:
                    by_feature.setdefault(feature_id, []).append(label_id)
                for feature_id, ids in by_feature.items():
                    insert_links(session, artifact_id, registry, ids, feature_id)

    def __repr__(self) -> str:
        from lamin_core.annotations.describe import describe_labels

        return describe_labels(self._artifact)
