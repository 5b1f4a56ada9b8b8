"""Feature values and labels declared in Dagster metadata, put on the stored artifact.

An asset declares dataset-level annotations as JSON in its definition metadata, or adds them
at run time with ``Output(value, metadata=...)``/``context.add_output_metadata``::

    {"lamin/features": {"temperature": 21.6, "study": "Candidate marker study 1"},
     "lamin/labels": ["project A"]}

Features go through ``artifact.features.add_values`` (so their dtypes are validated by the
catalog, exactly as in a notebook); labels are ULabels, created when new.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import lamin_core as ln
from lamin_dagster.errors import SchemaError


def parse_features(raw: Any, *, label: str) -> dict[str, Any]:
    """Return `lamin/features` as a dict of feature name -> value.

    Raises:
        SchemaError: the value is not a JSON object.
    """
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise SchemaError(
            f"lamin/features of {label} must be a JSON object of feature name -> value, e.g. "
            f'{{"temperature": 21.6}}; got {raw!r}.'
        )
    return {str(name): value for name, value in raw.items()}


def parse_labels(raw: Any, *, label: str) -> list[str]:
    """Return `lamin/labels` as a list of label names.

    Raises:
        SchemaError: the value is not a list of strings.
    """
    if raw is None:
        return []
    if isinstance(raw, str) or not isinstance(raw, Sequence):
        raise SchemaError(
            f'lamin/labels of {label} must be a list of label names, e.g. ["project A"]; '
            f"got {raw!r}."
        )
    return [str(name) for name in raw]


def check_features_exist(features: Mapping[str, Any], *, label: str) -> None:
    """Check, before anything is saved, that every feature named in `lamin/features` exists.

    Raises:
        SchemaError: unknown feature names, with the code that creates them.
    """
    import sqlalchemy as sa

    if not features:
        return
    session = ln.get_instance().session
    known = set(session.scalars(sa.select(ln.Feature.name).where(ln.Feature.name.in_(features))))
    unknown = [name for name in features if name not in known]
    if unknown:
        code = "; ".join(f"ln.Feature(name={name!r}, dtype=...).save()" for name in unknown)
        raise SchemaError(
            f"lamin/features of {label} names features the catalog does not have: "
            f"{', '.join(map(repr, unknown))}. Nothing was saved. Create them first: {code}."
        )


def annotate(artifact: ln.Artifact, features: Mapping[str, Any], labels: Sequence[str]) -> None:
    """Add feature values and labels to a saved artifact (inside an active catalog)."""
    if features:
        artifact.features.add_values(dict(features))
    if labels:
        records = ln.ULabel.from_values(labels, create=True).save()
        artifact.labels.add(records)
