"""Save a validated dataset: the artifact, then its feature sets and labels in one transaction.

The file and the artifact row are saved first (atomically, by the artifact layer); the
annotations follow in one transaction. If that transaction fails, a newly created artifact is
deleted again, so a failed `save_artifact` leaves neither a half-annotated artifact nor a file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from lamin_core.annotations.dtypes import parse_dtype
from lamin_core.annotations.feature_sets import features_set, genes_set, link_feature_set
from lamin_core.annotations.labels import insert_links
from lamin_core.bio.matching import organism_condition

if TYPE_CHECKING:
    from lamin_core.curators.base import BaseCurator
    from lamin_core.models import Artifact

__all__ = ["save_curated"]

CHUNK = 10_000


def _ids_by_value(
    session: Any, registry: type, field: str, values: list[Any], conditions: list[Any]
) -> dict[Any, int]:
    """Return value -> id (the oldest record when several share a value), chunked."""
    column = getattr(registry, field)
    found: dict[Any, int] = {}
    for start in range(0, len(values), CHUNK):
        chunk = values[start : start + CHUNK]
        rows = session.execute(
            sa.select(column, registry.id)  # type: ignore[attr-defined]
            .where(column.in_(chunk), *conditions)
            .order_by(registry.id.desc())  # type: ignore[attr-defined]
        ).all()
        found.update(dict(rows))
    return found


def _x_dtype(data: Any) -> str | None:
    x = getattr(data, "X", None)
    kind = getattr(getattr(x, "dtype", None), "kind", None)
    if kind in ("i", "u"):
        return "int"
    if kind == "f":
        return "float"
    return None


def annotate(curator: BaseCurator, artifact: Artifact) -> None:
    """Write the feature sets and labels of a validated dataset (caller commits)."""
    session = artifact._instance().session
    columns = [str(c) for c in curator._frame.columns]
    features = [curator._features[c] for c in columns if c in curator._features]
    if features:
        feature_set = features_set(session, features)
        link_feature_set(session, artifact.id, feature_set.id, slot=curator._slot)
    for name, key in curator._keys.items():
        if name == "columns":
            continue
        conditions = organism_condition(session, key.registry, curator._organism) or []
        values = key.read().values.tolist()
        ids = _ids_by_value(session, key.registry, key.field, values, conditions)
        if name == "var_index":
            gene_ids = [ids[v] for v in values if v in ids]
            gene_set = genes_set(session, gene_ids, dtype=_x_dtype(curator._data))
            link_feature_set(session, artifact.id, gene_set.id, slot="var")
            continue
        feature = key.feature
        if feature is None or not parse_dtype(feature.dtype).is_categorical:
            continue
        label_ids = [ids[v] for v in values if v in ids]
        insert_links(session, artifact.id, key.registry, label_ids, feature.id)


def save_curated(curator: BaseCurator, artifact: Artifact) -> Artifact:
    """Save `artifact` and annotate it from `curator`; undo a new artifact if annotating fails."""
    saved = artifact.save()
    is_new = saved is artifact
    try:
        with saved._instance().writing():
            annotate(curator, saved)
            if saved.n_observations is None and artifact.n_observations is not None:
                saved.n_observations = int(artifact.n_observations)
    except BaseException:
        if is_new:
            saved.delete(permanent=True)
        raise
    return saved
