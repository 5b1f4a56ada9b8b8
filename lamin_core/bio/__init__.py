"""Biological registries backed by offline public ontologies: ``import lamin_core.bio as bt``.

The registries (`CellType`, `Gene`, ...) live in the catalog like any other; their public
sources (Cell Ontology, Ensembl genes, ...) ship with the package, so records are filled,
validated and standardized without network access.

Examples:
    >>> import lamin_core.bio as bt
    >>> bt.CellType.from_values(["B cell", "T cell"]).save()
    >>> bt.Gene.from_values(["CD8A", "CD4"], field=bt.Gene.symbol, organism="human").save()
    >>> bt.CellType.public().search("b cel").name.iloc[0]
    'B cell'
"""

from lamin_core.bio.models import (
    BIO_REGISTRIES,
    BioRecord,
    CellLine,
    CellType,
    DevelopmentalStage,
    Disease,
    Ethnicity,
    ExperimentalFactor,
    Gene,
    Organism,
    Pathway,
    Phenotype,
    Source,
    Tissue,
)
from lamin_core.lazy import first_use_getattr

__all__ = [
    "BIO_REGISTRIES",
    "BioRecord",
    "CellLine",
    "CellType",
    "DevelopmentalStage",
    "Disease",
    "Ethnicity",
    "ExperimentalFactor",
    "Gene",
    "InspectResult",
    "Organism",
    "Pathway",
    "Phenotype",
    "PublicGenes",
    "PublicOntology",
    "Source",
    "Tissue",
    "add_source",
    "get_source",
    "list_sources",
    "resolve_organism",
    "settings",
]

# the public sources need pandas: their names load on first use (PEP 562), so that importing the
# registries (which every catalog does, for its tables) stays light
_ON_FIRST_USE = {
    "InspectResult": "lamin_core.bio.public",
    "PublicGenes": "lamin_core.bio.public",
    "PublicOntology": "lamin_core.bio.public",
    "add_source": "lamin_core.bio.public",
    "get_source": "lamin_core.bio.public",
    "list_sources": "lamin_core.bio.public",
    "resolve_organism": "lamin_core.bio.public",
    "settings": "lamin_core.bio.registry",
}


__getattr__ = first_use_getattr(__name__, globals(), _ON_FIRST_USE)
