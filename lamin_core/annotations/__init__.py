"""Annotations of artifacts: typed feature values, labels and feature sets.

``artifact.features`` (`FeatureManager`) and ``artifact.labels`` (`LabelManager`) are the user
API; `parse_dtype` checks feature dtypes; `feature_sets` writes the schemas curators attach.

Examples:
    >>> ln.Feature(name="temperature", dtype="float").save()
    >>> artifact.features.add_values({"temperature": 21.6})
    >>> artifact.labels.add(ln.ULabel.get(name="DMSO"), feature="cell_medium")
"""

from lamin_core.annotations.dtypes import DType, parse_dtype
from lamin_core.annotations.feature_values import ArtifactFeatures, FeatureManager
from lamin_core.annotations.labels import LabelManager

__all__ = ["ArtifactFeatures", "DType", "FeatureManager", "LabelManager", "parse_dtype"]
