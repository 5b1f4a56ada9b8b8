"""Annotations of artifacts: typed feature values, labels and feature sets.

``artifact.features`` (`feature_values.FeatureManager`) and ``artifact.labels``
(`labels.LabelManager`) are the user API; `dtypes.parse_dtype` checks feature dtypes;
`feature_sets` writes the schemas curators attach. The package imports none of its modules, so
that ``import lamin_core`` (which installs the Feature checks of `hooks`) does not load numpy.

Examples:
    >>> ln.Feature(name="temperature", dtype="float").save()
    >>> artifact.features.add_values({"temperature": 21.6})
    >>> artifact.labels.add(ln.ULabel.get(name="DMSO"), feature="cell_medium")
"""
