"""Feature sets (schemas) of artifacts: the columns of a table, the genes of an AnnData.

A feature set is identified by the hash of its members' uids, so two datasets with the same
columns share one set, and a 60,000-gene set is written with two bulk statements instead of
60,000 ORM objects. Links carry the slot the set describes (``columns``, ``obs``, ``var``).

Examples:
    >>> feature_set = features_set(session, [cell_medium, sample_note])
    >>> link_feature_set(session, artifact.id, feature_set.id, slot="obs")
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Session

from lamin_core.storage.hashing import set_hash

if TYPE_CHECKING:
    from lamin_core.models import Feature, FeatureSet

__all__ = ["features_set", "genes_set", "link_feature_set", "set_hash"]

CHUNK = 10_000


def features_set(session: Session, features: Sequence[Feature]) -> FeatureSet:
    """Return the FeatureSet of these features: the existing one, else a new one (flushed)."""
    from lamin_core.models import FeatureSet

    digest = set_hash([f.uid for f in features])
    found = session.scalar(sa.select(FeatureSet).where(FeatureSet.hash == digest))
    if found is not None:
        return found
    feature_set = FeatureSet._create(n=len(features), itype="Feature", hash=digest)
    feature_set._fill_defaults(feature_set._instance())
    session.add(feature_set)
    feature_set.features = list(features)
    session.flush()
    return feature_set


def genes_set(session: Session, gene_ids: Sequence[int], *, dtype: str | None) -> FeatureSet:
    """Return the FeatureSet of these Gene ids (itype ``bionty.Gene``), existing or new."""
    from lamin_core.bio.models import Gene, featureset_gene
    from lamin_core.models import FeatureSet

    ids = list(dict.fromkeys(gene_ids))
    uids: list[str] = []
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        uids += session.scalars(sa.select(Gene.uid).where(Gene.id.in_(chunk))).all()
    digest = set_hash(uids)
    found = session.scalar(sa.select(FeatureSet).where(FeatureSet.hash == digest))
    if found is not None:
        return found
    feature_set = FeatureSet._create(n=len(ids), itype="bionty.Gene", dtype=dtype, hash=digest)
    feature_set._fill_defaults(feature_set._instance())
    session.add(feature_set)
    session.flush()
    session.execute(
        featureset_gene.insert(), [{"featureset_id": feature_set.id, "gene_id": i} for i in ids]
    )
    return feature_set


def link_feature_set(session: Session, artifact_id: int, featureset_id: int, *, slot: str) -> None:
    """Link a feature set to an artifact under `slot` (once)."""
    from lamin_core.models.artifact import artifact_featureset

    link = artifact_featureset.c
    exists = session.scalar(
        sa.select(link.id).where(
            link.artifact_id == artifact_id, link.featureset_id == featureset_id
        )
    )
    if exists is None:
        session.execute(
            artifact_featureset.insert(),
            {"artifact_id": artifact_id, "featureset_id": featureset_id, "slot": slot},
        )
