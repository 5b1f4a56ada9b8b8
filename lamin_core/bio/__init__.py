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
    CellType,
    DevelopmentalStage,
    Disease,
    Ethnicity,
    ExperimentalFactor,
    Gene,
    Organism,
    Phenotype,
    Source,
    Tissue,
)
from lamin_core.bio.public import (
    InspectResult,
    PublicGenes,
    PublicOntology,
    add_source,
    get_source,
    list_sources,
    resolve_organism,
)
from lamin_core.bio.registry import settings

__all__ = [
    "BIO_REGISTRIES",
    "BioRecord",
    "CellType",
    "DevelopmentalStage",
    "Disease",
    "Ethnicity",
    "ExperimentalFactor",
    "Gene",
    "InspectResult",
    "Organism",
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
