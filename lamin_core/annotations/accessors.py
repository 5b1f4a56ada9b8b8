"""The ``features`` and ``labels`` attributes of Artifact, resolved on first use.

They are descriptors rather than properties so that ``ln.Artifact.features`` (on the class)
can be a query accessor while ``artifact.features`` (on a record) manages that artifact's values,
and so that the models module does not import the annotation code at import time.
"""

from __future__ import annotations

from typing import Any

__all__ = ["FeaturesDescriptor", "LabelsDescriptor"]


class FeaturesDescriptor:
    """``Artifact.features``: the class-level query accessor, or an artifact's FeatureManager."""

    def __get__(self, obj: Any, owner: type) -> Any:
        from lamin_core.annotations.features import ArtifactFeatures, FeatureManager

        return ArtifactFeatures(owner) if obj is None else FeatureManager(obj)


class LabelsDescriptor:
    """``Artifact.labels``: an artifact's LabelManager (the descriptor itself on the class)."""

    def __get__(self, obj: Any, owner: type) -> Any:
        from lamin_core.annotations.labels import LabelManager

        return self if obj is None else LabelManager(obj)
