"""The registries: SQLAlchemy 2 models, one module per family."""

import sqlalchemy as sa
from sqlalchemy.orm import Mapper

from lamin_core.binding import above
from lamin_core.models.annotation import Feature, FeatureValue, ULabel
from lamin_core.models.artifact import Artifact, Collection
from lamin_core.models.base import Base, Record, RecordList
from lamin_core.models.project import Project, Reference
from lamin_core.models.provenance import IsVersioned, Run, Storage, Transform, User
from lamin_core.models.record import Record as GeneralRecord
from lamin_core.models.registry import register, register_alias
from lamin_core.models.schema import FeatureSet, Schema
from lamin_core.models.space import Space
from lamin_core.models.tombstone import tombstone

# the registry map (lamin_core.models.registry): the core registries; lamin_core.bio adds its own
register(User, Storage, Space, Transform, Run, Artifact, Collection)
register(Feature, Schema, FeatureValue)
register_alias("FeatureSet", Schema)  # the name before LaminDB 2.x
register(Project, Reference)
register(ULabel, GeneralRecord, is_label=True)
# the face defines the bio registries (binding): every catalog has their tables and relations
above.models_defined()


@sa.event.listens_for(Mapper, "before_configured", once=True)
def _before_first_configuration() -> None:
    # related managers and Feature checks come from higher layers, which may still be importing
    # now (a module of the query layer imported first imports the models); the registries are
    # configured at their first record or query, before either can be needed
    above.models_configuring()


__all__ = [
    "Artifact",
    "Base",
    "Collection",
    "Feature",
    "FeatureSet",
    "FeatureValue",
    "GeneralRecord",
    "IsVersioned",
    "Project",
    "Record",
    "RecordList",
    "Reference",
    "Run",
    "Schema",
    "Space",
    "Storage",
    "Transform",
    "ULabel",
    "User",
    "tombstone",
]
