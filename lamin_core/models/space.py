"""Spaces: which records a database role may see and change.

Every record of every registry (but `User` and `Space`) belongs to one space, ``record.space``
(default: the built-in space "all", id 1). On PostgreSQL, row-level-security policies make the
spaces real: a role reads and writes the rows of "all" and of the spaces granted to it or to a
group role it belongs to (a row of ``space_access``, added by ``lamin-core grant --space NAME
ROLE``), and no others; the owner of the catalog's tables and superusers bypass the policies, so
the catalog is administered by its owner while users connect as their own roles. On SQLite there
are no roles: spaces are labels only.

The policies and the space "all" are created with the tables, by migration ``0007`` for older
catalogs and by the listeners below for new ones.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lamin_core.errors import ValidationError
from lamin_core.instance.access import ALL_SPACE_ID, ALL_SPACE_NAME, ALL_SPACE_UID, space_policy_ddl
from lamin_core.models.base import Record, created_at_column, created_by_column
from lamin_core.models.provenance import User

__all__ = ["Space", "space_access"]


class Space(Record):
    """A named part of the catalog whose records only roles granted it can see and change.

    Records belong to the space "all" unless given another one (``space=``). On PostgreSQL the
    catalog's owner creates spaces and grants them to roles (``lamin-core grant --space NAME
    ROLE``); row-level security then hides other spaces' records from a role and refuses writes
    into them. On SQLite spaces are labels only: there are no roles to keep apart.

    Examples:
        >>> team = ln.Space(name="team-a", description="Lab A's unpublished data").save()
        >>> ln.ULabel(name="perturbation screen", space=team).save()
        >>> ln.ULabel.filter(space__name="team-a").df()
    """

    __tablename__ = "space"
    _natural_keys = (("name",),)
    _uid_length = 12
    _has_space = False
    _search_fields = ("name", "description")

    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = created_at_column()
    created_by_id: Mapped[int | None] = created_by_column()

    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])

    def delete(self, permanent: bool | None = None) -> None:
        """Delete the space; it must hold no records, and "all" cannot be deleted.

        Spaces have no trash: the space is removed whatever `permanent` says.

        Raises:
            ValidationError: the space is "all".
            IntegrityError: records still belong to the space.
        """
        if self.id == ALL_SPACE_ID:
            raise ValidationError(
                f"Cannot delete the space {ALL_SPACE_NAME!r}: every catalog has it, and records "
                "without another space belong to it."
            )
        super().delete(permanent)


# a grant: the role (or group role) may read and write the space's rows
space_access = sa.Table(
    "space_access",
    Record.metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("space_id", ForeignKey("space.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("role", String(63), nullable=False),  # PostgreSQL role names have <= 63 bytes
    sa.UniqueConstraint("space_id", "role"),
)


def insert_all_space(connection: Connection) -> None:
    """Insert the built-in space "all" (id 1) into a new ``space`` table."""
    table = Record.metadata.tables["space"]
    connection.execute(
        table.insert().values(
            id=ALL_SPACE_ID,
            uid=ALL_SPACE_UID,
            name=ALL_SPACE_NAME,
            description="Records everyone with access to the catalog can see.",
            created_at=dt.datetime.now(dt.timezone.utc),
        )
    )
    if connection.dialect.name == "postgresql":  # the id was given: move the sequence past it
        connection.execute(
            sa.text("SELECT setval(pg_get_serial_sequence('space', 'id'), :id)"),
            {"id": ALL_SPACE_ID},
        )


def _after_create_space(target: Any, connection: Connection, **_kw: Any) -> None:
    insert_all_space(connection)


def _after_create_all(target: Any, connection: Connection, **kw: Any) -> None:
    # row-level security on every table with a space_id column that create_all just made
    if connection.dialect.name != "postgresql":
        return
    for table in kw.get("tables") or []:
        if "space_id" in table.c and "uid" in table.c:  # registries, not space_access
            for statement in space_policy_ddl(table.name):
                connection.exec_driver_sql(statement)


sa.event.listen(Space.__table__, "after_create", _after_create_space)
sa.event.listen(Record.metadata, "after_create", _after_create_all)
