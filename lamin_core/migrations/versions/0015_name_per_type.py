"""names unique within their type: feature, ulabel and record, as in LaminDB 2.x

A unique index on ``(name, coalesce(type_id, 0))`` on each table: ``sample_name`` under
``ScopeA`` and under ``ScopeB`` are two features, while two records at the root (no type) with
the same name are still refused (NULLs are distinct in a plain UNIQUE, ``coalesce`` makes the
root one value). ``feature.name`` loses its registry-wide UNIQUE constraint; on SQLite the
table is recreated for that (the constraint is part of the table).

A catalog holding two labels or records with the same name at the same level (ulabels and
records had no unique name before) is refused with the names to fix, and left unchanged.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from lamin_core.migrations.sqlite import recreate_sqlite_table

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

TABLES = ("feature", "ulabel", "record")
NAME_PER_TYPE = "coalesce(type_id, 0)"  # as lamin_core.models.record_types.NAME_PER_TYPE


def _index(table: str) -> str:
    return f"uq_{table}_name_type"


def _refuse_duplicates(table: str) -> None:
    rows = (
        op.get_bind()
        .execute(
            sa.text(
                f"SELECT name, {NAME_PER_TYPE} AS level, count(*) FROM {table} "
                f"WHERE name IS NOT NULL GROUP BY name, {NAME_PER_TYPE} HAVING count(*) > 1"
            )
        )
        .all()
    )
    if rows:
        shown = ", ".join(
            f"{name!r} ({'root' if level == 0 else f'type id {level}'}, {count} records)"
            for name, level, count in rows[:10]
        )
        raise RuntimeError(
            f"Cannot make {table} names unique within their type: {len(rows)} names are taken "
            f"more than once at the same level: {shown}. Rename or delete the duplicates (or "
            "give them different types) with the previous version, then migrate again."
        )


def upgrade() -> None:
    for table in TABLES:
        _refuse_duplicates(table)
    if op.get_bind().dialect.name == "sqlite":
        recreate_sqlite_table(
            "feature",
            lambda batch: batch.drop_constraint("uq_feature_name", type_="unique"),
            naming_convention={"uq": "uq_%(table_name)s_%(column_0_name)s"},  # 0001 gave none
        )
    else:
        op.drop_constraint("feature_name_key", "feature", type_="unique")
    for table in TABLES:
        op.create_index(_index(table), table, ["name", sa.text(NAME_PER_TYPE)], unique=True)


def downgrade() -> None:
    for table in TABLES:
        op.drop_index(_index(table), table_name=table)
    # the revision before has one feature name per registry: same-named features of other
    # types must be renamed first, else restoring the constraint fails and nothing changes
    if op.get_bind().dialect.name != "sqlite":
        op.create_unique_constraint("feature_name_key", "feature", ["name"])
        return
    recreate_sqlite_table(
        "feature", lambda batch: batch.create_unique_constraint("uq_feature_name", ["name"])
    )
