"""What ``Artifact.features`` and ``artifact.labels`` return (bound to the model by the face).

The model declares them as `lamin_core.binding.Accessor` attributes, so that the models do not
import the annotation layer: ``ln.Artifact.features`` (on the class) is a query accessor while
``artifact.features`` (on a record) manages that artifact's values.
"""

from __future__ import annotations

from typing import Any

from lamin_core.annotations.feature_values import ArtifactFeatures, FeatureManager
from lamin_core.annotations.labels import LabelManager

__all__ = ["features", "labels"]


def features(artifact: Any, registry: type) -> ArtifactFeatures | FeatureManager:
    """``Artifact.features``: the class-level query accessor, or an artifact's FeatureManager."""
    return ArtifactFeatures(registry) if artifact is None else FeatureManager(artifact)


def labels(artifact: Any, registry: type) -> LabelManager | None:
    """``artifact.labels``: its LabelManager (None on the class: the accessor itself)."""
    return None if artifact is None else LabelManager(artifact)
