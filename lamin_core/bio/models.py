"""The biological registries: ontology terms, genes, organisms and the sources they come from.

They are ordinary catalog registries (SQLAlchemy models on `Record`), so they are queried,
searched and linked like ULabels; what they add is a public source behind them (`bt.CellType.
public()`), from which records are filled (`from_values`, `from_source`), validated and
standardized. Each registry gets, next to its table, a ``<table>_parent`` table for the ontology
hierarchy and an ``artifact_<table>`` link table with a ``feature_id`` column, the convention
through which the query layer finds categorical feature values (``cat[bionty.CellType]``).

Examples:
    >>> import lamin_core.bio as bt
    >>> bt.CellType.from_values(["B cell", "T cell"]).save()
    >>> bt.CellType.get(name="B cell").parents[0].name
    'lymphocyte of B lineage'
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, cast

import sqlalchemy as sa
from sqlalchemy import Boolean, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lamin_core.models.annotation import run_column
from lamin_core.models.artifact import Artifact, link_table
from lamin_core.models.base import Record, RecordList, created_at_column, created_by_column
from lamin_core.models.can_curate import CanCurate, HasSynonyms
from lamin_core.models.hierarchy import HasParents
from lamin_core.models.registry import BIO, register
from lamin_core.models.schema import Schema

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from lamin_core.bio.public import PublicGenes, PublicOntology

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
    "Organism",
    "Pathway",
    "Phenotype",
    "Source",
    "Tissue",
]

B = TypeVar("B", bound="BioRecord")


class Source(Record):
    """A versioned public source of a registry, registered when first used.

    Examples:
        >>> bt.Source.get(entity="bionty.CellType").version
        'v2026-03-26'
    """

    __tablename__ = "source"
    __table_args__ = (sa.UniqueConstraint("entity", "organism", "name", "version"),)
    _natural_keys = (("entity", "organism", "name", "version"),)
    _uid_length = 4
    _search_fields = ("name", "entity", "description")

    entity: Mapped[str] = mapped_column(String(64), index=True)
    organism: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(String(64))
    in_db: Mapped[bool] = mapped_column(Boolean, default=False)
    currently_used: Mapped[bool] = mapped_column(Boolean, default=False)
    description: Mapped[str | None] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(Text)
    md5: Mapped[str | None] = mapped_column(String(64))
    source_website: Mapped[str | None] = mapped_column(Text)
    run_id: Mapped[int | None] = run_column()
    created_at: Mapped[dt.datetime] = created_at_column()
    created_by_id: Mapped[int | None] = created_by_column()


class BioRecord(CanCurate, HasSynonyms, Record):
    """A registry with a public source behind it: the behaviour every bio registry shares.

    ``validate``, ``inspect``, ``standardize`` and ``from_values`` are every curatable
    registry's (`CanCurate`); the hooks below add organisms and the public source to them.

    Subclasses set `_entity` (the public source's entity, e.g. ``"CellType"``) and `_plural`
    (the name of the relation on Artifact, e.g. ``"cell_types"``).
    """

    __abstract__ = True

    _entity: ClassVar[str] = ""
    _plural: ClassVar[str] = ""
    _id_field: ClassVar[str] = "ontology_id"
    _has_organism: ClassVar[bool] = False

    source_id: Mapped[int | None] = mapped_column(
        ForeignKey("source.id", ondelete="SET NULL"), index=True, sort_order=88
    )
    run_id: Mapped[int | None] = run_column()
    created_at: Mapped[dt.datetime] = created_at_column()
    created_by_id: Mapped[int | None] = created_by_column()

    @classmethod
    def public(
        cls, organism: str | None = None, source: Any = None
    ) -> PublicOntology | PublicGenes:
        """Return the public source of the registry (offline), with search/lookup/validate.

        Args:
            organism: The organism, for registries whose source depends on it (Gene, stages).
            source: A `bt.Source` record or a public `Source` to pin the version.

        Examples:
            >>> bt.CellType.public().search("b cel").name.iloc[0]
            'B cell'
        """
        from lamin_core.bio.registry import public_table

        return public_table(cls, organism=organism, source=source)

    @classmethod
    def from_source(
        cls: type[B], *, organism: str | None = None, source: Any = None, **fields: Any
    ) -> B | None:
        """Return one record from the public source (existing records are reused), or None.

        Examples:
            >>> bt.CellType.from_source(ontology_id="CL:0000236").name
            'B cell'
        """
        from lamin_core.bio.registry import from_source

        return cast("B | None", from_source(cls, organism=organism, source=source, **fields))

    # --- curation hooks (lamin_core.models.can_curate): organisms and the public source -----

    @classmethod
    def _curation_conditions(
        cls,
        session: Session,
        *,
        organism: Any,
        source: Any,
        strict_source: bool,
        organism_required: bool = False,
    ) -> list[sa.ColumnElement[bool]] | None:
        from lamin_core.bio.registry import curation_conditions

        return curation_conditions(
            cls,
            session,
            organism=organism,
            source=source,
            strict_source=strict_source,
            organism_required=organism_required,
        )

    @classmethod
    def _curation_public(cls, field: str, *, organism: Any, source: Any) -> Any:
        from lamin_core.bio.registry import curation_public

        return curation_public(cls, field, organism=organism, source=source)

    @classmethod
    def _curation_new(cls, session: Session, field: str, value: Any, *, organism: Any) -> Any:
        from lamin_core.bio.registry import curation_new

        return curation_new(cls, session, field, value, organism=organism)

    @classmethod
    def _curation_list(cls, records: Iterable[Any]) -> RecordList[Any]:
        from lamin_core.bio.registry import BioRecordList

        return BioRecordList(records)

    def save(self: B) -> B:
        """Save the record and, for ontology terms from a public source, their ancestors."""
        from lamin_core.bio.ancestors import save_records

        save_records([self])
        return self

    @classmethod
    def _save_many(cls, records: Sequence[Record]) -> None:
        """Save bio records with their ontology ancestors and parent links, in one transaction."""
        from lamin_core.bio.ancestors import save_records

        save_records(records)


class OntologyRecord(BioRecord, HasParents):
    """Columns of an ontology term registry (bionty's CellType, Tissue, Disease, ...)."""

    __abstract__ = True
    _uid_length = 8
    _search_fields = ("name", "synonyms", "ontology_id", "description")
    _natural_keys = (("ontology_id",), ("name",))

    name: Mapped[str] = mapped_column(String(256), index=True, sort_order=1)
    ontology_id: Mapped[str | None] = mapped_column(String(32), unique=True, sort_order=2)
    abbr: Mapped[str | None] = mapped_column(String(32), index=True, sort_order=3)
    synonyms: Mapped[str | None] = mapped_column(Text, sort_order=4)
    description: Mapped[str | None] = mapped_column(Text, sort_order=5)


class CellType(OntologyRecord):
    """Cell types of the Cell Ontology (CL).

    Examples:
        >>> bt.CellType.from_values(["B cell", "T cell"], create=True).save()
    """

    __tablename__ = "celltype"
    _entity = "CellType"
    _plural = "cell_types"


class Tissue(OntologyRecord):
    """Tissues of UBERON."""

    __tablename__ = "tissue"
    _entity = "Tissue"
    _plural = "tissues"


class Disease(OntologyRecord):
    """Diseases of MONDO."""

    __tablename__ = "disease"
    _entity = "Disease"
    _plural = "diseases"


class ExperimentalFactor(OntologyRecord):
    """Experimental factors (assays, treatments, ...) of EFO."""

    __tablename__ = "experimentalfactor"
    _entity = "ExperimentalFactor"
    _plural = "experimental_factors"


class DevelopmentalStage(OntologyRecord):
    """Developmental stages of HsapDv (human) and MmusDv (mouse)."""

    __tablename__ = "developmentalstage"
    _entity = "DevelopmentalStage"
    _plural = "developmental_stages"


class Phenotype(OntologyRecord):
    """Phenotypic qualities of PATO."""

    __tablename__ = "phenotype"
    _entity = "Phenotype"
    _plural = "phenotypes"


class Ethnicity(OntologyRecord):
    """Human ancestry categories of HANCESTRO."""

    __tablename__ = "ethnicity"
    _entity = "Ethnicity"
    _plural = "ethnicities"


class CellLine(OntologyRecord):
    """Cell lines of the Cell Line Ontology (CLO).

    No CLO snapshot ships with lamin-core: records are made by hand, or from a CLO file
    registered with ``bt.add_source(path, entity="CellLine", name="clo", version=...)``.

    Examples:
        >>> ln.save([bt.CellLine(name="HEK293"), bt.CellLine(name="K562")])
    """

    __tablename__ = "cellline"
    _entity = "CellLine"
    _plural = "cell_lines"


class Pathway(OntologyRecord):
    """Pathways and biological processes of the Gene Ontology (GO).

    No GO snapshot ships with lamin-core: records are made by hand, or from a GO file
    registered with ``bt.add_source(path, entity="Pathway", name="go", version=...)``.
    """

    __tablename__ = "pathway"
    _entity = "Pathway"
    _plural = "pathways"


class Organism(BioRecord):
    """Organisms of the NCBI Taxonomy, by common name.

    Examples:
        >>> bt.Organism.from_source(name="human").ontology_id
        'NCBITaxon:9606'
    """

    __tablename__ = "organism"
    _entity = "Organism"
    _plural = "organisms"
    _uid_length = 8
    _search_fields = ("name", "synonyms", "scientific_name", "ontology_id")
    _natural_keys = (("name",), ("ontology_id",))

    name: Mapped[str] = mapped_column(String(64), unique=True, sort_order=1)
    ontology_id: Mapped[str | None] = mapped_column(String(32), unique=True, sort_order=2)
    scientific_name: Mapped[str | None] = mapped_column(String(64), unique=True, sort_order=3)
    synonyms: Mapped[str | None] = mapped_column(Text, sort_order=4)
    description: Mapped[str | None] = mapped_column(Text, sort_order=5)


class Gene(BioRecord):
    """Genes of Ensembl, per organism.

    Examples:
        >>> bt.Gene.from_values(["CD8A", "CD4"], field=bt.Gene.symbol, organism="human").save()
    """

    __tablename__ = "gene"
    _entity = "Gene"
    _plural = "genes"
    _name_field = "symbol"
    _id_field = "ensembl_gene_id"
    _has_organism = True
    _uid_length = 12
    _search_fields = ("symbol", "synonyms", "ensembl_gene_id", "description")
    _natural_keys = (("ensembl_gene_id",), ("symbol", "organism"))

    symbol: Mapped[str | None] = mapped_column(String(64), index=True, sort_order=1)
    stable_id: Mapped[str | None] = mapped_column(String(64), index=True, sort_order=2)
    ensembl_gene_id: Mapped[str | None] = mapped_column(String(64), unique=True, sort_order=3)
    ncbi_gene_ids: Mapped[str | None] = mapped_column(Text, sort_order=4)
    biotype: Mapped[str | None] = mapped_column(String(64), sort_order=5)
    synonyms: Mapped[str | None] = mapped_column(Text, sort_order=6)
    description: Mapped[str | None] = mapped_column(Text, sort_order=7)
    organism_id: Mapped[int | None] = mapped_column(
        ForeignKey("organism.id", ondelete="SET NULL"), index=True, sort_order=87
    )

    organism: Mapped[Organism | None] = relationship()


ONTOLOGY_REGISTRIES: tuple[type[OntologyRecord], ...] = (
    CellType, Tissue, Disease, ExperimentalFactor, DevelopmentalStage, Phenotype, Ethnicity,
    CellLine, Pathway,
)  # fmt: skip
BIO_REGISTRIES: tuple[type[BioRecord], ...] = (*ONTOLOGY_REGISTRIES, Organism, Gene)


def _add_hierarchy(registry: type[OntologyRecord]) -> None:
    """Give an ontology registry its ``<table>_parent`` table and parents/children relations."""
    name = registry.__tablename__
    table = sa.Table(
        f"{name}_parent",
        Record.metadata,
        sa.Column("child_id", ForeignKey(f"{name}.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("parent_id", ForeignKey(f"{name}.id", ondelete="CASCADE"), primary_key=True),
    )
    registry.parents = relationship(
        registry,
        secondary=table,
        primaryjoin=registry.id == table.c.child_id,
        secondaryjoin=registry.id == table.c.parent_id,
        back_populates="children",
    )
    registry.children = relationship(
        registry,
        secondary=table,
        primaryjoin=registry.id == table.c.parent_id,
        secondaryjoin=registry.id == table.c.child_id,
        back_populates="parents",
    )


def _add_artifact_links(registry: type[BioRecord]) -> None:
    """Create ``artifact_<table>`` (with feature_id) and the relations on both sides."""
    table = link_table("artifact", registry.__tablename__, with_feature=True)
    setattr(Artifact, registry._plural, relationship(registry, secondary=table, viewonly=True))
    registry.artifacts = relationship(Artifact, secondary=table, viewonly=True)


for _registry in ONTOLOGY_REGISTRIES:
    _add_hierarchy(_registry)
for _bio_registry in BIO_REGISTRIES:
    _add_artifact_links(_bio_registry)
    _bio_registry.source = relationship(Source)

featureset_gene = sa.Table(
    "featureset_gene",
    Record.metadata,
    sa.Column("featureset_id", ForeignKey("featureset.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("gene_id", ForeignKey("gene.id", ondelete="CASCADE"), primary_key=True),
)
Schema.genes = relationship(Gene, secondary=featureset_gene)
register(Source, namespace=BIO)
register(*BIO_REGISTRIES, namespace=BIO, is_label=True)
Gene.feature_sets = relationship(Schema, secondary=featureset_gene, viewonly=True)
