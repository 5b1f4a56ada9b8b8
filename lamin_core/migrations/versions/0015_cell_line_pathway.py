"""bio registries CellLine and Pathway: bionty's cell lines (CLO) and pathways (GO)

Two ontology registries shaped as the seven of revision 0003 (with the ``space_id`` of revision
0007): ``cellline`` and ``pathway``, each with its ``<table>_parent`` hierarchy table, an
``artifact_<table>`` link table with ``feature_id`` (indexed as revision 0005 left the others),
its search and typo indexes and, on PostgreSQL, its row-level-security policies. The tables and
fields are spelled out here (not read from the models) so this revision means the same forever.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import lamin_core.models.base
from lamin_core.instance.access import drop_space_policy_ddl, space_policy_ddl
from lamin_core.search.index import create_search_index, drop_search_index

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

TABLES = ("cellline", "pathway")
SEARCH_FIELDS = ("name", "synonyms", "ontology_id", "description")
PREFIX = ("name", "ontology_id")


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
        sa.Column("space_id", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", lamin_core.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["space_id"], ["space.id"]),
        sa.ForeignKeyConstraint(["source_id"], ["source.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["run_id"], ["run.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["created_by_id"], ["user.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("uid"),
        sa.UniqueConstraint("ontology_id"),
    )
    for column in ("abbr", "created_at", "created_by_id", "name", "run_id", "source_id"):
        op.create_index(f"ix_{table}_{column}", table, [column])
    op.create_table(
        f"{table}_parent",
        sa.Column("child_id", sa.Integer(), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["child_id"], [f"{table}.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["parent_id"], [f"{table}.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("child_id", "parent_id"),
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
        sa.ForeignKeyConstraint([f"{table}_id"], [f"{table}.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["feature_id"], ["feature.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("artifact_id", f"{table}_id", "feature_id"),
    )
    op.create_index(f"ix_{name}_feature_id", name, ["feature_id"])
    op.create_index(f"ix_{name}_{table}_id", name, [f"{table}_id", "artifact_id"])


def upgrade() -> None:
    bind = op.get_bind()
    for table in TABLES:
        _create_ontology(table)
        _create_artifact_link(table)
        create_search_index(bind, table, SEARCH_FIELDS, prefix=PREFIX, populate=False)
        if bind.dialect.name == "postgresql":
            for statement in space_policy_ddl(table):
                op.execute(statement)


def downgrade() -> None:
    bind = op.get_bind()
    for table in reversed(TABLES):
        drop_search_index(bind, table)
        if bind.dialect.name == "postgresql":
            for statement in drop_space_policy_ddl(table):
                op.execute(statement)
        op.drop_table(f"artifact_{table}")
        op.drop_table(f"{table}_parent")
        op.drop_table(table)
