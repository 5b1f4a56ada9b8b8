"""bio registries: Source, ontology terms, Organism, Gene; hierarchy and artifact link tables

Adds the tables of ``lamin_core.bio``: ``source``; seven ontology registries (``celltype``,
``tissue``, ``disease``, ``experimentalfactor``, ``developmentalstage``, ``phenotype``,
``ethnicity``) with a ``<table>_parent`` hierarchy table each; ``organism``; ``gene``; an
``artifact_<table>`` link table with ``feature_id`` per registry (categorical feature values);
``featureset_gene`` (gene feature sets); and the search indexes of the new registries.

The seven ontology tables share one shape, so they are built by one function; the tables and
fields are spelled out here (not read from the models) so this revision means the same forever.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import lamin_core.models.base
from lamin_core.search.index import drop_search_index, ensure_trigram_extension, search_index_ddl

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ONTOLOGIES = (
    "celltype", "tissue", "disease", "experimentalfactor", "developmentalstage", "phenotype",
    "ethnicity",
)  # fmt: skip
LINKED = (*ONTOLOGIES, "organism", "gene")
# table -> (search fields, fields with an exact/prefix B-tree index)
SEARCH_FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    **{t: (("name", "synonyms", "ontology_id", "description"), ("name", "ontology_id"))
       for t in ONTOLOGIES},
    "organism": (("name", "synonyms", "scientific_name", "ontology_id"),
                 ("name", "scientific_name", "ontology_id")),
    "gene": (("symbol", "synonyms", "ensembl_gene_id", "description"),
             ("symbol", "ensembl_gene_id")),
    "source": (("name", "entity", "description"), ("name", "entity")),
}  # fmt: skip


def _provenance() -> list[sa.Column]:
    """Return source_id, run_id, created_by_id, created_at (as on every bio registry)."""
    return [
        sa.Column("source_id", sa.Integer(), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", lamin_core.models.base.UTCDateTime(timezone=True), nullable=False),
    ]


def _provenance_constraints() -> list[sa.Constraint]:
    return [
        sa.ForeignKeyConstraint(["created_by_id"], ["user.id"]),
        sa.ForeignKeyConstraint(["run_id"], ["run.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["source_id"], ["source.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("uid"),
    ]


def _indexes(table: str, columns: list[str]) -> None:
    with op.batch_alter_table(table, schema=None) as batch_op:
        for column in columns:
            batch_op.create_index(batch_op.f(f"ix_{table}_{column}"), [column], unique=False)


def _create_source() -> None:
    op.create_table(
        "source",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(length=4), nullable=False),
        sa.Column("entity", sa.String(length=64), nullable=False),
        sa.Column("organism", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("in_db", sa.Boolean(), nullable=False),
        sa.Column("currently_used", sa.Boolean(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("md5", sa.String(length=64), nullable=True),
        sa.Column("source_website", sa.Text(), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", lamin_core.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["created_by_id"], ["user.id"]),
        sa.ForeignKeyConstraint(["run_id"], ["run.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("entity", "organism", "name", "version"),
        sa.UniqueConstraint("uid"),
    )
    _indexes("source", ["created_at", "created_by_id", "entity", "run_id"])


def _create_ontology(table: str) -> None:
    op.create_table(
        table,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("ontology_id", sa.String(length=32), nullable=True),
        sa.Column("abbr", sa.String(length=32), nullable=True),
        sa.Column("synonyms", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        *_provenance(),
        *_provenance_constraints(),
        sa.UniqueConstraint("ontology_id"),
    )
    _indexes(table, ["abbr", "created_at", "created_by_id", "name", "run_id", "source_id"])
    op.create_table(
        f"{table}_parent",
        sa.Column("child_id", sa.Integer(), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["child_id"], [f"{table}.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["parent_id"], [f"{table}.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("child_id", "parent_id"),
    )


def _create_organism_and_gene() -> None:
    op.create_table(
        "organism",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("ontology_id", sa.String(length=32), nullable=True),
        sa.Column("scientific_name", sa.String(length=64), nullable=True),
        sa.Column("synonyms", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        *_provenance(),
        *_provenance_constraints(),
        sa.UniqueConstraint("name"),
        sa.UniqueConstraint("ontology_id"),
        sa.UniqueConstraint("scientific_name"),
    )
    _indexes("organism", ["created_at", "created_by_id", "run_id", "source_id"])
    op.create_table(
        "gene",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(length=12), nullable=False),
        sa.Column("symbol", sa.String(length=64), nullable=True),
        sa.Column("stable_id", sa.String(length=64), nullable=True),
        sa.Column("ensembl_gene_id", sa.String(length=64), nullable=True),
        sa.Column("ncbi_gene_ids", sa.Text(), nullable=True),
        sa.Column("biotype", sa.String(length=64), nullable=True),
        sa.Column("synonyms", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("organism_id", sa.Integer(), nullable=True),
        *_provenance(),
        *_provenance_constraints(),
        sa.ForeignKeyConstraint(["organism_id"], ["organism.id"], ondelete="SET NULL"),
        sa.UniqueConstraint("ensembl_gene_id"),
    )
    _indexes(
        "gene",
        [
            "created_at",
            "created_by_id",
            "organism_id",
            "run_id",
            "source_id",
            "stable_id",
            "symbol",
        ],
    )


def _create_artifact_link(table: str) -> None:
    name = f"artifact_{table}"
    op.create_table(
        name,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("artifact_id", sa.Integer(), nullable=False),
        sa.Column(f"{table}_id", sa.Integer(), nullable=False),
        sa.Column("feature_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["artifact_id"], ["artifact.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["feature_id"], ["feature.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint([f"{table}_id"], [f"{table}.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("artifact_id", f"{table}_id", "feature_id"),
    )
    _indexes(name, ["artifact_id", "feature_id", f"{table}_id"])


def upgrade() -> None:
    _create_source()
    for table in ONTOLOGIES:
        _create_ontology(table)
    _create_organism_and_gene()
    for table in LINKED:
        _create_artifact_link(table)
    op.create_table(
        "featureset_gene",
        sa.Column("featureset_id", sa.Integer(), nullable=False),
        sa.Column("gene_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["featureset_id"], ["featureset.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["gene_id"], ["gene.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("featureset_id", "gene_id"),
    )
    bind = op.get_bind()
    dialect = bind.dialect.name
    schema = ensure_trigram_extension(bind) if dialect == "postgresql" else None
    for table, (fields, prefix) in SEARCH_FIELDS.items():
        for statement in search_index_ddl(
            table, fields, dialect=dialect, prefix=prefix, trgm_schema=schema, populate=False
        ):
            op.execute(statement)


def downgrade() -> None:
    bind = op.get_bind()
    for table in SEARCH_FIELDS:
        drop_search_index(bind, table)  # PostgreSQL's indexes go with their tables
    op.drop_table("featureset_gene")
    for table in LINKED:
        op.drop_table(f"artifact_{table}")
    op.drop_table("gene")
    op.drop_table("organism")
    for table in ONTOLOGIES:
        op.drop_table(f"{table}_parent")
        op.drop_table(table)
    op.drop_table("source")
