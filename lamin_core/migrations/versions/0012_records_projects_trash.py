"""records, projects, references, and the trash: LaminDB 2.x's Record, Project, Reference, branch_id

- ``branch_id`` (1 main, 0 archive, -1 trash; default 1, indexed) on the registries that have a
  trash: artifact, collection, transform, run, ulabel, feature, featureset. Existing records are
  on the main branch.
- ``project``, ``reference`` and ``record`` (each with a space, a branch, a type and, for
  projects and records, parents), and their links to artifacts, transforms, collections and
  runs (``artifact_record`` with a feature, as records label artifacts like ulabels do).
- Their search indexes, and on PostgreSQL their row-level-security policies (revision 0007).

SQLite adds a column with a default but no foreign key in place; dropping it needs the table
recreated, after which the search index's triggers and the indexes the copy lost are restored
(as revision 0007 does).

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import lamin_core.models.base
from lamin_core.instance.access import drop_space_policy_ddl, space_policy_ddl
from lamin_core.search.index import create_search_index, drop_search_index

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

BRANCHED = ("artifact", "collection", "transform", "run", "ulabel", "feature", "featureset")
OWNERS = ("artifact", "transform", "collection", "run")
SEARCH_FIELDS = {
    "project": ("name", "abbr", "description"),
    "reference": ("name", "abbr", "doi", "description", "text"),
    "record": ("name", "description"),
}


def _own_columns(table: str) -> tuple[int, list[sa.Column], list[str], bool]:
    if table == "project":
        return (
            12,
            [
                sa.Column("name", sa.String(length=255), nullable=False),
                sa.Column("abbr", sa.String(length=32), nullable=True),
                sa.Column("url", sa.String(length=255), nullable=True),
                sa.Column("description", sa.Text(), nullable=True),
                sa.Column("start_date", sa.Date(), nullable=True),
                sa.Column("end_date", sa.Date(), nullable=True),
            ],
            ["name", "abbr"],
            True,
        )
    if table == "reference":
        return (
            12,
            [
                sa.Column("name", sa.String(length=255), nullable=False),
                sa.Column("abbr", sa.String(length=32), nullable=True),
                sa.Column("url", sa.String(length=255), nullable=True),
                sa.Column("pubmed_id", sa.Integer(), nullable=True),
                sa.Column("doi", sa.String(length=255), nullable=True),
                sa.Column("description", sa.Text(), nullable=True),
                sa.Column("text", sa.Text(), nullable=True),
                sa.Column("date", sa.Date(), nullable=True),
            ],
            ["name", "abbr", "pubmed_id", "doi"],
            False,
        )
    return (
        16,
        [
            sa.Column("name", sa.String(length=255), nullable=True),
            sa.Column("description", sa.Text(), nullable=True),
            sa.Column("reference", sa.String(length=255), nullable=True),
            sa.Column("reference_type", sa.String(length=64), nullable=True),
        ],
        ["name"],
        True,
    )


def _create_registry(table: str) -> None:
    uid_length, own, indexed, has_parents = _own_columns(table)
    op.create_table(
        table,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(length=uid_length), nullable=False),
        *own,
        sa.Column("is_type", sa.Boolean(), nullable=False),
        sa.Column("type_id", sa.Integer(), nullable=True),
        sa.Column("space_id", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("branch_id", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("created_at", lamin_core.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["type_id"], [f"{table}.id"]),
        sa.ForeignKeyConstraint(["space_id"], ["space.id"]),
        sa.ForeignKeyConstraint(["run_id"], ["run.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["created_by_id"], ["user.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("uid"),
    )
    for column in [*indexed, "type_id", "branch_id", "run_id", "created_at", "created_by_id"]:
        op.create_index(f"ix_{table}_{column}", table, [column])
    if has_parents:
        op.create_table(
            f"{table}_parent",
            sa.Column("child_id", sa.Integer(), nullable=False),
            sa.Column("parent_id", sa.Integer(), nullable=False),
            sa.ForeignKeyConstraint(["child_id"], [f"{table}.id"], ondelete="CASCADE"),
            sa.ForeignKeyConstraint(["parent_id"], [f"{table}.id"], ondelete="CASCADE"),
            sa.PrimaryKeyConstraint("child_id", "parent_id"),
        )
        op.create_index(f"ix_{table}_parent_parent_id", f"{table}_parent", ["parent_id"])


def _create_link(owner: str, target: str) -> None:
    name = f"{owner}_{target}"
    with_feature = owner == "artifact" and target == "record"
    columns = [
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(f"{owner}_id", sa.Integer(), nullable=False),
        sa.Column(f"{target}_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint([f"{owner}_id"], [f"{owner}.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint([f"{target}_id"], [f"{target}.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    ]
    unique = [f"{owner}_id", f"{target}_id"]
    if with_feature:
        columns.append(sa.Column("feature_id", sa.Integer(), nullable=True))
        columns.append(sa.ForeignKeyConstraint(["feature_id"], ["feature.id"], ondelete="CASCADE"))
        unique.append("feature_id")
    op.create_table(name, *columns, sa.UniqueConstraint(*unique))
    op.create_index(f"ix_{name}_{target}_id", name, [f"{target}_id", f"{owner}_id"])
    if with_feature:
        op.create_index(f"ix_{name}_feature_id", name, ["feature_id"])


def upgrade() -> None:
    bind = op.get_bind()
    for table in BRANCHED:
        if bind.dialect.name == "sqlite":
            op.execute(f'ALTER TABLE "{table}" ADD COLUMN branch_id INTEGER DEFAULT 1 NOT NULL')
        else:
            op.add_column(
                table,
                sa.Column("branch_id", sa.Integer(), server_default=sa.text("1"), nullable=False),
            )
        op.create_index(f"ix_{table}_branch_id", table, ["branch_id"])
    for table in SEARCH_FIELDS:
        _create_registry(table)
        for owner in OWNERS:
            _create_link(owner, table)
        create_search_index(bind, table, SEARCH_FIELDS[table], populate=False)
        if bind.dialect.name == "postgresql":
            for statement in space_policy_ddl(table):
                op.execute(statement)


def _sqlite_schema_objects(bind: sa.Connection, table: str) -> dict[str, str]:
    rows = bind.exec_driver_sql(
        "SELECT name, sql FROM sqlite_master WHERE tbl_name = ? AND type IN ('index', 'trigger') "
        "AND sql IS NOT NULL",
        (table,),
    ).all()
    return {name: sql for name, sql in rows}


def downgrade() -> None:
    bind = op.get_bind()
    for table in reversed(list(SEARCH_FIELDS)):
        drop_search_index(bind, table)
        if bind.dialect.name == "postgresql":
            for statement in drop_space_policy_ddl(table):
                op.execute(statement)
        for owner in OWNERS:
            op.drop_table(f"{owner}_{table}")
        if table != "reference":
            op.drop_table(f"{table}_parent")
        op.drop_table(table)
    for table in BRANCHED:
        op.drop_index(f"ix_{table}_branch_id", table_name=table)
        if bind.dialect.name != "sqlite":
            op.drop_column(table, "branch_id")
            continue
        raw = bind.connection.dbapi_connection
        assert raw is not None
        before = _sqlite_schema_objects(bind, table)
        raw.commit()
        raw.execute("PRAGMA foreign_keys=OFF")  # recreating the table must not cascade
        try:
            raw.execute("BEGIN")
            with op.batch_alter_table(table, recreate="always") as batch:
                batch.drop_column("branch_id")
            after = _sqlite_schema_objects(bind, table)
            for name, sql in before.items():
                if name not in after and "branch_id" not in sql:
                    op.execute(sql)  # the search index's triggers, expression indexes
            raw.commit()
        finally:
            raw.execute("PRAGMA foreign_keys=ON")
