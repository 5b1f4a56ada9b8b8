"""Text descriptions of an artifact's annotations: what ``artifact.features`` prints.

Three parts, as a reader of a dataset wants them: the dataset-level feature values, the feature
sets (schemas) by slot with their members, and the labels of each feature measured in the data
(the categories of ``obs`` columns), then labels attached without a feature.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from lamin_core.models.record_types import readable_dtype
from lamin_core.models.registry import label_link, label_registries

if TYPE_CHECKING:
    from lamin_core.models import Artifact

__all__ = [
    "describe_features",
    "describe_labels",
    "feature_set_lines",
    "labels_by_feature_lines",
    "labels_lines",
]

SHOW = 10  # members and labels shown per line


def _join(values: list[Any]) -> str:
    shown = ", ".join(str(v) for v in values[:SHOW])
    return shown + (f", ... ({len(values)} in total)" if len(values) > SHOW else "")


def feature_set_lines(artifact: Artifact) -> tuple[list[str], set[str]]:
    """Return lines describing the artifact's feature sets and the names of member features."""
    from lamin_core.bio.models import Gene, featureset_gene
    from lamin_core.models import Feature, FeatureSet
    from lamin_core.models.annotation import featureset_feature
    from lamin_core.models.artifact import artifact_featureset

    session = artifact._instance().session
    rows = session.execute(
        sa.select(artifact_featureset.c.slot, FeatureSet)
        .join(FeatureSet, FeatureSet.id == artifact_featureset.c.featureset_id)
        .where(artifact_featureset.c.artifact_id == artifact.id)
        .order_by(artifact_featureset.c.id)
    ).all()
    lines, members = [], set()
    for slot, feature_set in rows:
        if feature_set.itype == "Feature":
            names = list(
                session.scalars(
                    sa.select(Feature.name)
                    .join(featureset_feature, featureset_feature.c.feature_id == Feature.id)
                    .where(featureset_feature.c.featureset_id == feature_set.id)
                    .order_by(Feature.id)
                )
            )
            members.update(names)
        else:
            names = list(
                session.scalars(
                    sa.select(Gene.symbol)
                    .join(featureset_gene, featureset_gene.c.gene_id == Gene.id)
                    .where(featureset_gene.c.featureset_id == feature_set.id)
                    .order_by(Gene.id)
                    .limit(SHOW + 1)
                )
            )
        lines.append(f"    {slot}: {feature_set.n} {feature_set.itype} ({_join(names)})")
    return lines, members


def labels_lines(artifact: Artifact) -> list[str]:
    """Return lines listing the labels attached without a feature, by registry."""
    session = artifact._instance().session
    lines = []
    for registry in label_registries():
        table, artifact_col, label_col, feature_col = label_link(registry)
        label = getattr(registry, registry._name_field)
        names = list(
            session.scalars(
                sa.select(label)
                .join(table, label_col == registry.id)
                .where(artifact_col == artifact.id, feature_col.is_(None))
                .order_by(table.c.id)
            )
        )
        if names:
            lines.append(f"    {registry.__name__}: {_join(names)}")
    return lines


def labels_by_feature_lines(artifact: Artifact) -> list[str]:
    """Return lines listing the labels attached with a feature, by feature (link tables)."""
    from lamin_core.models import Feature

    session = artifact._instance().session
    by_feature: dict[tuple[int, str, str], list[Any]] = {}
    for registry in label_registries():
        table, artifact_col, label_col, feature_col = label_link(registry)
        label = getattr(registry, registry._name_field)
        rows = session.execute(
            sa.select(Feature.id, Feature.name, Feature.dtype, label)
            .join(table, label_col == registry.id)
            .join(Feature, Feature.id == feature_col)
            .where(artifact_col == artifact.id)
            .order_by(table.c.id)
        )
        for feature_id, name, dtype, value in rows:
            by_feature.setdefault((feature_id, name, dtype), []).append(value)
    return [
        f"    {name} ({readable_dtype(session, dtype)}): {_join(values)}"
        for (_, name, dtype), values in sorted(by_feature.items())
    ]


def describe_labels(artifact: Artifact) -> str:
    """Return the labels of an artifact as ``describe()`` shows them (``artifact.labels``)."""
    if artifact.id is None:
        return "no labels (the artifact is not saved)"
    lines = []
    with artifact._instance().reading():
        by_feature = labels_by_feature_lines(artifact)
        other = labels_lines(artifact)
    if by_feature:
        lines += ["Labels by feature", *by_feature]
    if other:
        lines += ["Labels", *other]
    return "\n".join(lines) if lines else "no labels"


def describe_features(artifact: Artifact) -> str:
    """Return the description of an artifact's feature values, feature sets and labels."""
    from lamin_core.annotations.feature_values import feature_values

    if artifact.id is None:
        return f"{artifact!r} (not saved: no annotations yet)"
    instance = artifact._instance()
    with instance.reading():
        values = feature_values(instance, artifact.id)
        set_lines, members = feature_set_lines(artifact)
        other = labels_lines(artifact)
    lines = [f"Artifact {artifact.key or artifact.uid!r}"]
    dataset = [(n, d, v) for n, (d, v) in values.items() if n not in members]
    measured = [(n, d, v) for n, (d, v) in values.items() if n in members]
    if dataset:
        lines.append("  Dataset features")
        lines += [
            f"    {name} ({readable_dtype(instance.session, dtype)}): {_join(vals)}"
            for name, dtype, vals in dataset
        ]
    if set_lines:
        lines.append("  Feature sets")
        lines += set_lines
    if measured:
        lines.append("  Labels by feature")
        lines += [
            f"    {name} ({readable_dtype(instance.session, dtype)}): {_join(vals)}"
            for name, dtype, vals in measured
        ]
    if other:
        lines.append("  Labels")
        lines += other
    if len(lines) == 1:
        lines.append("  no features or labels")
    return "\n".join(lines)
