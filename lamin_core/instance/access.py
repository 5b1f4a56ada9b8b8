"""Who may change what in a catalog: the database role's privileges and spaces, and the guards.

On PostgreSQL a catalog is administered by the role that owns its tables (and by superusers):
both bypass row-level security. Users connect as their own roles, to which the owner grants read
or write access and spaces (`grant_statements`, `lamin-core grant`). What the connected role may
do is detected once at connect (`detect_access`), so that a write it may not make fails early
with a `NoWriteAccess` that names the role, the attempt and the fix, before anything is touched:
no file stored, no row written. `install_write_guard` adds a session-level backstop that refuses
any flush or DML statement that went past the early checks; the database's own privileges and
row-level-security policies (`space_policy_ddl`) stay the last line.

SQLite has no roles: every write is allowed and spaces are labels only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker

from lamin_core.errors import DoesNotExist, InstanceError, NoWriteAccess, ValidationError

__all__ = [
    "ALL_SPACE_ID",
    "ALL_SPACE_NAME",
    "ALL_SPACE_UID",
    "SPACE_POLICY",
    "UNRESTRICTED",
    "Access",
    "check_write",
    "detect_access",
    "drop_space_policy_ddl",
    "grant",
    "grant_statements",
    "install_write_guard",
    "record_space_id",
    "space_policy_ddl",
]

ALL_SPACE_ID = 1
ALL_SPACE_NAME = "all"
ALL_SPACE_UID = "a" * 12
SPACE_POLICY = "lamin_space_access"
# written only by the catalog's owner: spaces and their grants, and the schema revision
ADMIN_TABLES = frozenset({"space", "space_access", "alembic_version"})
WRITE_ACTIONS = ("INSERT", "UPDATE", "DELETE")
LEVELS = ("read-only", "write")


def quote(name: str) -> str:
    """Quote a PostgreSQL identifier (schema, table or role name), whatever it contains."""
    return '"' + name.replace('"', '""') + '"'


# --- spaces: row-level security -----------------------------------------------------------------


def space_policy_ddl(table: str) -> list[str]:
    """Return the PostgreSQL statements that confine `table`'s rows to the role's spaces.

    A role reads and writes the rows of the space "all" and of every space granted (a row of
    ``space_access``) to it or to a group role it is a member of. The subquery does not depend on
    the row, so PostgreSQL runs it once per statement. Roles dropped after their grant are
    skipped (``pg_has_role`` would raise for them).
    """
    allowed = (
        f"space_id = {ALL_SPACE_ID} OR space_id IN (SELECT a.space_id FROM space_access a "
        "JOIN pg_catalog.pg_roles r ON r.rolname = a.role "
        "WHERE pg_catalog.pg_has_role(current_user, r.oid, 'MEMBER'))"
    )
    return [
        f"ALTER TABLE {quote(table)} ENABLE ROW LEVEL SECURITY",
        f"CREATE POLICY {SPACE_POLICY} ON {quote(table)} USING ({allowed}) WITH CHECK ({allowed})",
    ]


def drop_space_policy_ddl(table: str) -> list[str]:
    """Return the statements that undo `space_policy_ddl`."""
    return [
        f"DROP POLICY IF EXISTS {SPACE_POLICY} ON {quote(table)}",
        f"ALTER TABLE {quote(table)} DISABLE ROW LEVEL SECURITY",
    ]


# --- what the connected role may do --------------------------------------------------------------


@dataclass(frozen=True)
class Access:
    """What the connected database role may change in the catalog.

    Attributes:
        role: The database role (PostgreSQL's ``current_user``); None on SQLite.
        is_unrestricted: Every write is allowed and spaces do not confine it (SQLite, a
            superuser, the owner of the catalog's tables).
        privileges: For a restricted role, the write privileges it holds per table.
        spaces: For a restricted role, the ids of the spaces it may read and write.
        space_names: The names of all spaces, by id (for messages).
        bypasses_spaces: Row-level security does not apply to the role (BYPASSRLS).
    """

    role: str | None = None
    is_unrestricted: bool = True
    privileges: Mapping[str, frozenset[str]] = field(default_factory=dict)
    spaces: frozenset[int] = frozenset({ALL_SPACE_ID})
    space_names: Mapping[int, str] = field(default_factory=dict)
    bypasses_spaces: bool = False

    @property
    def is_read_only(self) -> bool:
        """Whether the role may write no table at all."""
        return not self.is_unrestricted and not any(self.privileges.values())

    def may(self, table: str, action: str) -> bool:
        """Return whether the role may `action` (INSERT, UPDATE, DELETE) rows of `table`."""
        return self.is_unrestricted or action in self.privileges.get(table, frozenset())

    def may_use_space(self, space_id: int | None) -> bool:
        """Return whether the role may write rows into the space (None: the default, "all")."""
        if self.is_unrestricted or self.bypasses_spaces or space_id is None:
            return True
        return space_id in self.spaces

    def space_label(self, space_id: int) -> str:
        """Return ``'name'`` of a space for messages, or its id when the name is unknown."""
        name = self.space_names.get(space_id)
        return repr(name) if name is not None else f"with id {space_id}"


UNRESTRICTED = Access()

_ROLE_SQL = """
SELECT current_user AS role, r.rolsuper AS is_superuser, r.rolbypassrls AS bypasses_rls,
       pg_catalog.pg_has_role(c.relowner, 'USAGE') AS is_owner, c.relnamespace AS schema_oid
FROM pg_catalog.pg_roles r, pg_catalog.pg_class c
WHERE r.rolname = current_user AND c.oid = pg_catalog.to_regclass('alembic_version')
"""
_PRIVILEGES_SQL = """
SELECT c.relname AS name,
       pg_catalog.has_table_privilege(c.oid, 'INSERT') AS can_insert,
       pg_catalog.has_table_privilege(c.oid, 'UPDATE') AS can_update,
       pg_catalog.has_table_privilege(c.oid, 'DELETE') AS can_delete
FROM pg_catalog.pg_class c
WHERE c.relnamespace = :schema_oid AND c.relkind IN ('r', 'p')
"""
_SPACES_SQL = """
SELECT s.id, s.name, (s.id = :all_id OR s.id IN (
    SELECT a.space_id FROM space_access a JOIN pg_catalog.pg_roles r ON r.rolname = a.role
    WHERE pg_catalog.pg_has_role(current_user, r.oid, 'MEMBER'))) AS is_granted
FROM space s
"""


def detect_access(connection: Connection) -> Access:
    """Return what the role of `connection` may change in the catalog (a few catalog queries).

    Raises:
        InstanceError: the role cannot see the catalog's tables at all.
    """
    if connection.dialect.name != "postgresql":
        return UNRESTRICTED
    row = connection.execute(sa.text(_ROLE_SQL)).mappings().first()
    if row is None:
        raise InstanceError(
            "The connected database role cannot see the catalog's tables (no USAGE on their "
            "schema). Ask the catalog's owner to run `lamin-core grant --read-only ROLE`."
        )
    if row["is_superuser"] or row["is_owner"]:
        return replace(UNRESTRICTED, role=row["role"])
    privileges = {
        item.name: frozenset(
            action
            for action, allowed in zip(
                WRITE_ACTIONS, (item.can_insert, item.can_update, item.can_delete)
            )
            if allowed
        )
        for item in connection.execute(sa.text(_PRIVILEGES_SQL), {"schema_oid": row["schema_oid"]})
    }
    spaces, names = _granted_spaces(connection)
    return Access(
        role=row["role"],
        is_unrestricted=False,
        privileges=privileges,
        spaces=spaces,
        space_names=names,
        bypasses_spaces=bool(row["bypasses_rls"]),
    )


def _granted_spaces(connection: Connection) -> tuple[frozenset[int], dict[int, str]]:
    rows = connection.execute(sa.text(_SPACES_SQL), {"all_id": ALL_SPACE_ID}).all()
    granted = frozenset(row.id for row in rows if row.is_granted) | {ALL_SPACE_ID}
    return granted, {row.id: row.name for row in rows}


def refresh_spaces(access: Access, connection: Connection) -> Access:
    """Return `access` with the spaces granted now (the owner may have granted one since)."""
    if access.is_unrestricted or connection.dialect.name != "postgresql":
        return access
    spaces, names = _granted_spaces(connection)
    return replace(access, spaces=spaces, space_names=names)


# --- refusing writes ------------------------------------------------------------------------------


def missing_privilege(access: Access, writes: Iterable[tuple[str, str]]) -> tuple[str, str] | None:
    """Return the first (table, action) of `writes` the role may not make, or None."""
    if access.is_unrestricted:
        return None
    return next(((t, a) for t, a in writes if not access.may(t, a)), None)


def read_only_error(
    access: Access, catalog: str, what: str, table: str, action: str
) -> NoWriteAccess:
    """Return the error for a write the role has no privilege for."""
    role = access.role or "?"
    state = "read-only" if access.is_read_only else f"without {action} on table {table!r}"
    return NoWriteAccess(
        f"Cannot {what}: the catalog {catalog!r} is {state} for role {role!r} (no {action} "
        f"privilege on table {table!r}); nothing was written. To get write access, ask the "
        f"catalog's owner to run `lamin-core grant --write {role}`, or connect as a role that "
        "has it."
    )


def space_error(access: Access, catalog: str, what: str, space_id: int) -> NoWriteAccess:
    """Return the error for a write into a space the role has no access to."""
    role = access.role or "?"
    usable = ", ".join(repr(access.space_names.get(i, str(i))) for i in sorted(access.spaces))
    name = access.space_names.get(space_id, str(space_id))
    return NoWriteAccess(
        f"Cannot {what}: role {role!r} has no access to the space {access.space_label(space_id)} "
        f"of the catalog {catalog!r}; nothing was written. It may write into: {usable}. Ask the "
        f"catalog's owner to run `lamin-core grant --space {name} {role}`, or choose one of "
        "those spaces."
    )


def record_space_id(record: Any) -> int | None:
    """Return the space a record goes into: its `space` if set (synced to `space_id` only at
    flush), else its `space_id` (None: the default, "all")."""
    space = record.__dict__.get("space")
    if space is not None:
        return getattr(space, "id", None)
    return getattr(record, "space_id", None)


def check_write(
    access: Access,
    catalog: str,
    what: str | Callable[[], str],
    writes: Iterable[tuple[str, str]],
    space_ids: Iterable[int | None] = (),
) -> None:
    """Raise `NoWriteAccess` unless the role may make every write (table, action) of an attempt.

    Args:
        access: What the role may do.
        catalog: The catalog's name, for the message.
        what: The attempt, for the message ("save ULabel(...)"); a callable is called only when
            the write is refused.
        writes: (table, action) pairs, action one of INSERT, UPDATE, DELETE.
        space_ids: The spaces the written rows go into (None: the default space "all").
    """
    if access.is_unrestricted:
        return
    refused = missing_privilege(access, writes)
    if refused is not None:
        text = what() if callable(what) else what
        raise read_only_error(access, catalog, text, *refused)
    for space_id in space_ids:
        if not access.may_use_space(space_id):
            text = what() if callable(what) else what
            raise space_error(access, catalog, text, int(space_id))  # type: ignore[arg-type]


def install_write_guard(
    factory: sessionmaker[Session], get_access: Callable[[], Access], catalog: str
) -> None:
    """Refuse, in every session of `factory`, writes the role may not make.

    The write paths check early (before a file is stored); this is the backstop for anything
    else: a flush of new, changed or deleted records, and INSERT/UPDATE/DELETE statements run
    through the session. Both raise `NoWriteAccess` before the database is asked.
    """

    def before_flush(session: Session, _context: Any, _instances: Any) -> None:
        access = get_access()
        if access.is_unrestricted:
            return
        for action, records in (
            ("INSERT", session.new),
            ("UPDATE", [r for r in session.dirty if session.is_modified(r)]),
            ("DELETE", session.deleted),
        ):
            for record in records:
                table = getattr(getattr(record, "__table__", None), "name", None)
                if table is None:
                    continue
                what = f"{action.lower()} {type(record).__name__} rows"
                if not access.may(table, action):
                    raise read_only_error(access, catalog, what, table, action)
                space_id = record_space_id(record) if action != "DELETE" else None
                if not access.may_use_space(space_id):
                    raise space_error(access, catalog, what, int(space_id))  # type: ignore[arg-type]

    def do_orm_execute(state: ORMExecuteState) -> None:
        if not (state.is_insert or state.is_update or state.is_delete):
            return
        access = get_access()
        if access.is_unrestricted:
            return
        action = "INSERT" if state.is_insert else "UPDATE" if state.is_update else "DELETE"
        table = getattr(getattr(state.statement, "table", None), "name", "?")
        if not access.may(table, action):
            raise read_only_error(access, catalog, f"{action.lower()} {table} rows", table, action)

    event.listen(factory, "before_flush", before_flush)
    event.listen(factory, "do_orm_execute", do_orm_execute)


# --- granting access ------------------------------------------------------------------------------


def grant_statements(
    role: str,
    level: str,
    *,
    schema: str,
    tables: Sequence[str],
    sequences: Sequence[str] = (),
) -> list[str]:
    """Return the GRANT (and REVOKE) statements that give `role` read-only or write access.

    Args:
        role: The database role.
        level: ``"read-only"``: usage on the schema and SELECT on every catalog table, and the
            write privileges revoked; ``"write"``: also INSERT, UPDATE, DELETE on every table but
            the owner's (spaces, space grants, schema revision) and the sequences of their ids.
        schema: The catalog's schema.
        tables: The catalog's tables.
        sequences: The sequences of the tables' ids (``schema.name``, quoted or not).

    Raises:
        ValidationError: `level` is not one of ``read-only``, ``write``.
    """
    if level not in LEVELS:
        raise ValidationError(f"Unknown access level {level!r}. Levels: {', '.join(LEVELS)}.")
    who = quote(role)
    qualified = [f"{quote(schema)}.{quote(t)}" for t in sorted(tables)]
    writable = [f"{quote(schema)}.{quote(t)}" for t in sorted(tables) if t not in ADMIN_TABLES]
    statements = [
        f"GRANT USAGE ON SCHEMA {quote(schema)} TO {who}",
        f"GRANT SELECT ON TABLE {', '.join(qualified)} TO {who}",
    ]
    if level == "read-only":
        statements.append(
            f"REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON TABLE {', '.join(qualified)} FROM {who}"
        )
        if sequences:
            statements.append(f"REVOKE USAGE, UPDATE ON SEQUENCE {', '.join(sequences)} FROM {who}")
        return statements
    statements.append(f"GRANT INSERT, UPDATE, DELETE ON TABLE {', '.join(writable)} TO {who}")
    if sequences:
        statements.append(f"GRANT USAGE, SELECT ON SEQUENCE {', '.join(sequences)} TO {who}")
    return statements


def grant(
    connection: Connection,
    role: str,
    *,
    level: str | None = None,
    spaces: Sequence[str] = (),
    tables: Iterable[str],
) -> list[str]:
    """Give `role` access to the catalog of `connection` (run as its owner); return the SQL run.

    Args:
        connection: A connection to the catalog's PostgreSQL database, as the catalog's owner.
        role: The database role (or group role) to grant to.
        level: ``"read-only"``, ``"write"``, or None to leave table privileges as they are.
        spaces: Names of spaces whose rows the role may read and write from now on.
        tables: The names of the catalog's tables (those that do not exist are skipped); the
            tables named after one of them (``<table>_...``: search index tables) are included.

    Raises:
        InstanceError: the database is not PostgreSQL or holds no catalog.
        DoesNotExist: the role or a space does not exist.
    """
    if connection.dialect.name != "postgresql":
        raise InstanceError(
            f"Cannot grant access to {role!r}: roles exist on PostgreSQL only; a SQLite catalog "
            "is protected by the file permissions of its folder."
        )
    if (
        connection.execute(
            sa.text("SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = :role"), {"role": role}
        ).first()
        is None
    ):
        raise DoesNotExist(
            f"No database role {role!r} on this server. Create it first (CREATE ROLE "
            f"{quote(role)} LOGIN), then grant it access."
        )
    schema = connection.execute(
        sa.text(
            "SELECT n.nspname FROM pg_catalog.pg_namespace n JOIN pg_catalog.pg_class c "
            "ON c.relnamespace = n.oid WHERE c.oid = pg_catalog.to_regclass('alembic_version')"
        )
    ).scalar()
    if schema is None:
        raise InstanceError("The database holds no catalog. Create one with ln.init(db=...).")
    wanted = set(tables) | {"alembic_version"}
    # tables that belong to a catalog table are named after it: link tables, and the search
    # index's own tables (``ulabel_terms``, ``ulabel_deletes``), which its triggers write
    owners = tuple(f"{name}_" for name in wanted)
    present = [
        name
        for (name,) in connection.execute(
            sa.text(
                "SELECT c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
                "ON c.relnamespace = n.oid WHERE n.nspname = :schema AND c.relkind IN ('r', 'p')"
            ),
            {"schema": schema},
        )
        if name in wanted or name.startswith(owners)
    ]
    executed: list[str] = []
    if level is not None:
        sequences = [
            sequence
            for (sequence,) in connection.execute(
                # the sequences of serial and identity columns belong to their tables
                sa.text(
                    "SELECT quote_ident(n.nspname) || '.' || quote_ident(s.relname) "
                    "FROM pg_catalog.pg_class s "
                    "JOIN pg_catalog.pg_namespace n ON n.oid = s.relnamespace "
                    "JOIN pg_catalog.pg_depend d ON d.objid = s.oid AND d.deptype IN ('a', 'i') "
                    "JOIN pg_catalog.pg_class t ON t.oid = d.refobjid "
                    "WHERE s.relkind = 'S' AND n.nspname = :schema "
                    "AND t.relname = ANY(CAST(:tables AS text[])) ORDER BY 1"
                ),
                {"schema": schema, "tables": [t for t in present if t not in ADMIN_TABLES]},
            )
            if sequence is not None
        ]
        for statement in grant_statements(
            role, level, schema=schema, tables=present, sequences=sequences
        ):
            connection.exec_driver_sql(statement)
            executed.append(statement)
    for name in spaces:
        executed.append(_grant_space(connection, role, name, schema))
    return executed


def _grant_space(connection: Connection, role: str, name: str, schema: str) -> str:
    names = connection.execute(sa.text(f"SELECT name FROM {quote(schema)}.space")).scalars().all()
    if name not in names:
        raise DoesNotExist(
            f"No space {name!r} in the catalog. Spaces: {', '.join(sorted(names))}. Create it "
            f"with ln.Space(name={name!r}).save()."
        )
    statement = sa.text(
        f"INSERT INTO {quote(schema)}.space_access (space_id, role) "
        f"SELECT id, :role FROM {quote(schema)}.space WHERE name = :name "
        "ON CONFLICT (space_id, role) DO NOTHING"
    ).bindparams(role=role, name=name)
    connection.execute(statement)
    return str(statement.compile(connection, compile_kwargs={"literal_binds": True}))
