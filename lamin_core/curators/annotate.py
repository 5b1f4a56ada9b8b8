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
from lamin_core.models.schema import artifact_schema
from lamin_core.query.levels import has_levels, resolve_by_level

if TYPE_CHECKING:
    from lamin_core.curators.base import BaseCurator
    from lamin_core.models import Artifact, Schema

__all__ = ["link_schema", "save_curated", "save_with_curator"]

CHUNK = 10_000


def _ids_by_value(
    session: Any, registry: type, field: str, values: list[Any], conditions: list[Any]
) -> dict[Any, int]:
    """Return value -> id, chunked: the oldest record when several share a value, or, in a
    registry with types, the record at the shallowest level (`resolve_by_level`)."""
    if has_levels(registry):
        records = resolve_by_level(session, registry, field, values, conditions).records
        return {value: record.id for value, record in records.items()}
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
    if curator._schema is not None and curator._schema.id is None:
        # first: the columns' feature set may be the schema itself (same features, same hash)
        curator._schema.save()
    columns = [str(c) for c in curator._frame.columns]
    features = [curator._features[c] for c in columns if c in curator._features]
    if features:
        feature_set = features_set(session, features)
        link_feature_set(session, artifact.id, feature_set.id, slot=curator._slot)
    for name, key in curator._keys.items():
        if name == "columns":
            continue
        conditions = organism_condition(session, key.registry, curator._organism) or []
        conditions = [*conditions, *key.conditions]  # e.g. only the records of a type
        values = key.read().values.tolist()
        ids = _ids_by_value(session, key.registry, key.field, values, conditions)
        if name == "var_index":
            gene_ids = [ids[v] for v in values if v in ids]
            gene_set = genes_set(session, gene_ids, dtype=_x_dtype(curator._data))
            link_feature_set(session, artifact.id, gene_set.id, slot=curator._var_slot)
            continue
        feature = key.feature
        if feature is None or not parse_dtype(feature.dtype).is_categorical:
            continue
        label_ids = [ids[v] for v in values if v in ids]
        insert_links(session, artifact.id, key.registry, label_ids, feature.id)
    if curator._schema is not None:
        link_schema(session, artifact.id, curator._schema)


def link_schema(session: Any, artifact_id: int, schema: Schema) -> None:
    """Record the schema an artifact was validated against."""
    link = artifact_schema.c
    session.execute(artifact_schema.delete().where(link.artifact_id == artifact_id))
    session.execute(artifact_schema.insert(), {"artifact_id": artifact_id, "schema_id": schema.id})


def save_curated(curator: BaseCurator, artifact: Artifact) -> Artifact:
    """Save `artifact` and annotate it from `curator`; undo a new artifact if annotating fails."""
    was_saved = artifact.id is not None  # a curated artifact: annotated, never deleted here
    saved = artifact.save()
    is_new = saved is artifact and not was_saved
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


def save_with_curator(artifact: Artifact) -> Artifact:
    """Save an artifact made with ``schema=`` and annotate it from the curator that validated it.

    ``ln.Artifact.from_df(df, key=..., schema=schema)`` validated the data when the artifact was
    made; its ``save()`` comes here (through ``lamin_core.binding``).
    """
    curator = artifact.__dict__.pop("_curator")
    return save_curated(curator, artifact)
