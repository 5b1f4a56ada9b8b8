"""Feature values on artifacts: ``artifact.features.add_values(adata.uns)`` and friends.

Dataset-level values (``temperature=21.6``) are `FeatureValue` rows shared between artifacts
(one row per feature and value, found again by the value's hash); categorical values become
links to ULabel or bio records qualified by the feature. `add_values` checks every name and
value first and writes everything in one transaction, so a bad value never leaves an artifact
half-annotated. The class-level ``ln.Artifact.features.filter(...)`` queries by features only.

Examples:
    >>> artifact.features.add_values({"temperature": 21.6, "study": "Candidate marker study 1"})
    >>> artifact.features.get_values()
    {'temperature': 21.6, 'study': 'Candidate marker study 1'}
    >>> ln.Artifact.features.filter(temperature__gt=21).df()
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from lamin_core.annotations.dtypes import DType, parse_dtype
from lamin_core.annotations.labels import ArtifactAnnotations, get_feature, insert_links
from lamin_core.errors import FieldError, ValidationError, did_you_mean
from lamin_core.errors.values import check_text, is_valid_text, json_value
from lamin_core.models.artifact import artifact_featureset
from lamin_core.models.registry import label_link, label_registries
from lamin_core.models.schema import Schema

if TYPE_CHECKING:
    from lamin_core.instance import Instance
    from lamin_core.models import Feature
    from lamin_core.query import QuerySet

__all__ = ["ArtifactFeatures", "FeatureManager", "feature_values", "infer_dtype", "value_hash"]


def value_hash(value: Any) -> str:
    """Return the hash identifying a stored value of a feature (its canonical JSON's md5)."""
    return hashlib.md5(json.dumps(value, sort_keys=True).encode()).hexdigest()


def infer_dtype(value: Any) -> str:
    """Return the dtype a feature for `value` would most likely have (for error messages)."""
    import datetime as dt

    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, dt.datetime):
        return "datetime"
    if isinstance(value, dt.date):
        return "date"
    if isinstance(value, dict):
        return "dict"
    if isinstance(value, str):
        try:
            dt.date.fromisoformat(value)
            return "date"
        except ValueError:
            return "cat[ULabel]" if len(value) < 50 else "str"
    if isinstance(value, (list, tuple)) and value:
        return f"list[{infer_dtype(value[0])}]"
    return "str"


def _label_ids(
    session: Session, name: str, dtype: DType, labels: list[Any], problems: list[str]
) -> list[tuple[type, int]]:
    """Resolve label names and records of a categorical value to (registry, id) pairs."""
    from lamin_core.models.base import Record

    found: list[tuple[type, int]] = []
    names = [label for label in labels if not isinstance(label, Record)]
    for label in labels:
        if isinstance(label, Record):
            if label.id is None:
                problems.append(f"{name!r}: the record {label!r} is not saved")
            else:
                found.append((type(label), label.id))
    missing = list(dict.fromkeys(names))
    for registry, field in dtype.registries:
        if not missing:
            break
        column = getattr(registry, field)
        rows = session.execute(sa.select(column, registry.id).where(column.in_(missing))).all()  # type: ignore[attr-defined]
        ids = dict(rows)
        found += [(registry, ids[value]) for value in missing if value in ids]
        missing = [value for value in missing if value not in ids]
    if missing:
        registry, field = dtype.registries[0]
        module = "bt" if registry.__module__.startswith("lamin_core.bio") else "ln"
        create = ", create=True" if module == "ln" else ""
        problems.append(
            f"{name!r} ({dtype.text}): {', '.join(map(repr, missing))} not in "
            f"{registry.__name__}.{field}; create with {module}.{registry.__name__}"
            f".from_values({missing!r}{create}).save()"
        )
    return found


def _storable(dtype: DType, name: str, checked: Any) -> Any:
    """Return a checked value as it is stored: JSON (finite numbers, valid text) or label names.

    ``inf`` and ``NaN``, also as numpy scalars or nested in a dict, would be written as JSON no
    database reads back; they are refused here, with the feature's name.
    """
    what = f"Feature {name!r}"
    if not dtype.is_categorical:
        return json_value(checked, what)
    return [check_text(label, what) if isinstance(label, str) else label for label in checked]


class FeatureManager(ArtifactAnnotations):
    """The features of one artifact: add, get and remove values, describe.

    Examples:
        >>> artifact.features.add_values(adata.uns)
        >>> artifact.features.remove_values("temperature")
        >>> artifact.features.describe()
    """

    def add_values(self, values: Mapping[Any, Any]) -> None:
        """Add dataset-level values of features, e.g. ``adata.uns``, in one transaction.

        Args:
            values: Feature (or its name) -> value. Categorical features take label names or
                records (or lists of them); lists need a ``list[...]`` dtype.

        Raises:
            ValidationError: unknown feature names (with the code to create them), values of the
                wrong dtype, or labels not in their registry; nothing is written.
        """
        from lamin_core.models import Feature, FeatureValue
        from lamin_core.models.artifact import artifact_featurevalue

        artifact_id = self._artifact_id()
        self._check_write("add feature values to", ["featurevalue", "artifact_featurevalue"])
        values = _by_name(values, "add_values")
        instance = self._artifact._instance()
        session = instance.session
        names = list(values)
        valid = [name for name in names if is_valid_text(name)]  # others cannot be features
        features = {
            f.name: f for f in session.scalars(sa.select(Feature).where(Feature.name.in_(valid)))
        }
        unknown = [name for name in names if name not in features]
        if unknown:
            code = "; ".join(
                f"ln.Feature(name={n!r}, dtype={infer_dtype(values[n])!r}).save()" for n in unknown
            )
            raise ValidationError(
                f"These keys are not features: {', '.join(map(repr, unknown))}. Nothing was "
                f"saved. Create the features first: {code}."
            )
        problems: list[str] = []
        plain: list[tuple[Feature, Any]] = []
        labels: list[tuple[Feature, type, int]] = []
        for name, value in values.items():
            feature = features[str(name)]
            dtype = parse_dtype(feature.dtype)
            try:
                checked = _storable(dtype, feature.name, dtype.check(feature.name, value))
            except ValidationError as error:
                problems.append(str(error))
                continue
            if dtype.is_categorical:
                for registry, id_ in _label_ids(session, feature.name, dtype, checked, problems):
                    labels.append((feature, registry, id_))
            else:
                plain.append((feature, checked))
        if problems:
            raise ValidationError(
                f"Cannot annotate {self._artifact!r}; nothing was saved: " + "; ".join(problems)
            )
        with instance.writing():
            for feature, value in plain:
                digest = value_hash(value)
                record = session.scalar(
                    sa.select(FeatureValue).where(
                        FeatureValue.feature_id == feature.id, FeatureValue.hash == digest
                    )
                )
                if record is None:
                    record = FeatureValue(feature_id=feature.id, value=value, hash=digest)
                    record._fill_defaults(instance)
                    session.add(record)
                    session.flush()
                link = artifact_featurevalue.c
                exists = session.scalar(
                    sa.select(link.id).where(
                        link.artifact_id == artifact_id, link.featurevalue_id == record.id
                    )
                )
                if exists is None:
                    session.execute(
                        artifact_featurevalue.insert(),
                        {"artifact_id": artifact_id, "featurevalue_id": record.id},
                    )
            for feature, registry, id_ in labels:
                insert_links(session, artifact_id, registry, [id_], feature.id)

    def update_values(self, values: Mapping[Any, Any]) -> None:
        """Replace the values of the given features (others stay), in one transaction.

        Args:
            values: Feature (or its name) -> new value, as for `add_values`.

        Raises:
            ValidationError: as `add_values`; the old values then stay.

        Examples:
            >>> artifact.features.update_values({"temperature": 22.0})
        """
        values = _by_name(values, "update_values")
        stored = feature_values(self._artifact._instance(), self._artifact_id())
        self._replace(values, [name for name in values if name in stored])

    def set_values(self, values: Mapping[Any, Any]) -> None:
        """Make `values` the artifact's dataset-level feature values, in one transaction.

        Values of other features added with `add_values` are removed; labels that curation
        linked from the dataset's columns stay.

        Raises:
            ValidationError: as `add_values`; the old values then stay.

        Examples:
            >>> artifact.features.set_values({temperature: 21.6, experiment: "My experiment"})
        """
        values = _by_name(values, "set_values")
        stored = feature_values(self._artifact._instance(), self._artifact_id())
        dataset_level = [
            name for name, (dtype, _) in stored.items() if not parse_dtype(dtype).is_categorical
        ]
        self._replace(values, [*(name for name in values if name in stored), *dataset_level])

    def _replace(self, values: dict[str, Any], old: list[str]) -> None:
        """Remove the values of the features `old`, then add `values`, in one transaction."""
        with self._artifact._instance().writing():
            if old:
                self.remove_values(sorted(set(old)))
            self.add_values(values)

    @property
    def slots(self) -> dict[str, Schema]:
        """The schemas of the artifact by slot (``"columns"``, ``"obs"``, ``"var.T"``, ...).

        An artifact saved with a composite schema (``ln.Schema(otype="AnnData", slots=...)``)
        has one per slot it was validated against; a DataFrame's is under ``"columns"``.

        Examples:
            >>> artifact.features.slots["obs"].features.list("name")
            ['cell_type_by_expert', 'perturbation']
        """
        link = artifact_featureset.c
        with self._artifact._instance().reading() as session:
            rows = session.execute(
                sa.select(link.slot, Schema)
                .join(Schema, Schema.id == link.featureset_id)
                .where(link.artifact_id == self._artifact_id())
                .order_by(link.id)
            ).all()
        return {slot: schema for slot, schema in rows}

    def get_values(self) -> dict[str, Any]:
        """Return feature name -> value (a list when a feature has several values or labels)."""
        return {
            name: values[0] if len(values) == 1 else values
            for name, (_dtype, values) in feature_values(
                self._artifact._instance(), self._artifact_id()
            ).items()
        }

    def remove_values(self, feature: str | Feature | list[Any], *, value: Any = None) -> None:
        """Remove the values (or one `value`) of features from the artifact.

        Raises:
            DoesNotExist: a feature does not exist.
        """
        from lamin_core.models import FeatureValue
        from lamin_core.models.artifact import artifact_featurevalue
        from lamin_core.models.base import Record

        artifact_id = self._artifact_id()
        self._check_write("remove feature values from", ["artifact_featurevalue"], "DELETE")
        instance = self._artifact._instance()
        session = instance.session
        features = [
            get_feature(session, f) for f in (feature if isinstance(feature, list) else [feature])
        ]
        with instance.writing():
            for record in features:
                dtype = parse_dtype(record.dtype)
                if not dtype.is_categorical:
                    selected = sa.select(FeatureValue.id).where(
                        FeatureValue.feature_id == record.id
                    )
                    if value is not None:
                        stored = dtype.check(record.name, value)
                        selected = selected.where(FeatureValue.hash == value_hash(stored))
                    link = artifact_featurevalue.c
                    session.execute(
                        sa.delete(artifact_featurevalue).where(
                            link.artifact_id == artifact_id, link.featurevalue_id.in_(selected)
                        )
                    )
                    continue
                for registry, field in dtype.registries:
                    table, artifact_col, label_col, feature_col = label_link(registry)
                    condition = [artifact_col == artifact_id, feature_col == record.id]
                    if value is not None:
                        target = value.id if isinstance(value, Record) else None
                        column = getattr(registry, field)
                        ids = (
                            [target]
                            if target is not None
                            else sa.select(registry.id).where(column == value)  # type: ignore[attr-defined]
                        )
                        condition.append(label_col.in_(ids))
                    session.execute(sa.delete(table).where(*condition))

    def describe(self) -> None:
        """Print the artifact's feature values, feature sets and labels by feature."""
        print(self)

    def __repr__(self) -> str:
        from lamin_core.annotations.describe import describe_features

        return describe_features(self._artifact)


def _by_name(values: Mapping[Any, Any], method: str) -> dict[str, Any]:
    """Key `values` by feature name: a Feature key becomes its name, anything else its text."""
    if not isinstance(values, Mapping):
        raise ValidationError(
            f"{method}() expects a mapping of feature (or feature name) -> value, got "
            f"{type(values).__name__}."
        )
    return {getattr(key, "name", None) or str(key): value for key, value in values.items()}


def feature_values(instance: Instance, artifact_id: int) -> dict[str, tuple[str, list[Any]]]:
    """Return feature name -> (dtype, values) for an artifact: stored values and labels.

    Costs one query for values plus one per label registry.
    """
    with instance.reading() as session:
        return _feature_values(session, artifact_id)


def _feature_values(session: Session, artifact_id: int) -> dict[str, tuple[str, list[Any]]]:
    from lamin_core.models import Feature, FeatureValue
    from lamin_core.models.artifact import artifact_featurevalue

    link = artifact_featurevalue.c
    rows = session.execute(
        sa.select(Feature.id, Feature.name, Feature.dtype, FeatureValue.value)
        .join(FeatureValue, FeatureValue.feature_id == Feature.id)
        .join(artifact_featurevalue, link.featurevalue_id == FeatureValue.id)
        .where(link.artifact_id == artifact_id)
        .order_by(Feature.id, link.id)
    ).all()
    found: dict[int, tuple[str, str, list[Any]]] = {}
    for feature_id, name, dtype, value in rows:
        found.setdefault(feature_id, (name, dtype, []))[2].append(value)
    for registry in label_registries():
        table, artifact_col, label_col, feature_col = label_link(registry)
        label = getattr(registry, registry._name_field)
        rows = session.execute(
            sa.select(Feature.id, Feature.name, Feature.dtype, label)
            .select_from(table)
            .join(Feature, Feature.id == feature_col)
            .join(registry, registry.id == label_col)
            .where(artifact_col == artifact_id)
            .order_by(Feature.id, table.c.id)
        ).all()
        for feature_id, name, dtype, value in rows:
            found.setdefault(feature_id, (name, dtype, []))[2].append(value)
    return {name: (dtype, values) for _id, (name, dtype, values) in sorted(found.items())}


class ArtifactFeatures:
    """``ln.Artifact.features``: query artifacts by feature values and labels only.

    Examples:
        >>> ln.Artifact.features.filter(temperature__gt=21, study="Candidate marker study 1")
    """

    def __init__(self, model: Any) -> None:
        self._model = model

    def filter(self, **lookups: Any) -> QuerySet[Any]:
        """Return the artifacts whose features match every lookup (``name__lookup=value``).

        Raises:
            FieldError: a name is not a feature (the message lists the features).
        """
        from lamin_core.instance import get_instance
        from lamin_core.models import Feature

        instance = get_instance()
        names = {key.split("__")[0] for key in lookups}
        valid = [name for name in names if is_valid_text(name)]  # others cannot be features
        with instance.reading() as session:
            known = set(session.scalars(sa.select(Feature.name).where(Feature.name.in_(valid))))
        unknown = sorted(names - known)
        if unknown:
            every = list(instance.session.scalars(sa.select(Feature.name).order_by(Feature.name)))
            raise FieldError(
                f"Unknown feature {unknown[0]!r}.{did_you_mean(unknown[0], every)} Features: "
                f"{', '.join(every) or 'none'}."
            )
        return self._model.filter(**lookups)

    def __repr__(self) -> str:
        return f"<features of {self._model.__name__}: use .filter(name__lookup=value)>"
