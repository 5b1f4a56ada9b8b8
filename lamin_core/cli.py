"""The `lamin-core` command line: create, inspect, migrate and check catalogs, grant access."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from lamin_core.errors import InstanceError, LaminError
from lamin_core.instance import Instance

DB_HELP = (
    "database URL (default: LAMIN_CORE_DB, else SQLite under the storage); env:VAR reads it from "
    "the environment variable VAR, so that a password stays out of the process list and the "
    "shell history"
)


def database_url(value: str | None) -> str | None:
    """Return the database URL of a ``--db`` value: a URL, or ``env:VAR`` for one in VAR.

    Raises:
        InstanceError: VAR is not set.
    """
    if value is None or not value.startswith("env:"):
        return value
    name = value[len("env:") :]
    url = os.environ.get(name)
    if not url:
        raise InstanceError(
            f"--db {value!r} names the environment variable {name!r}, which is not set. Set it "
            f"first: export {name}='postgresql://user:password@host/db'."
        )
    return url


def _open(args: argparse.Namespace, *, create: bool = False) -> Instance:
    import lamin_core as ln

    db = database_url(args.db)
    if create:
        return ln.init(storage=args.storage, db=db)
    return ln.connect(db, storage=args.storage)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    parser = argparse.ArgumentParser(prog="lamin-core", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in [
        ("init", "create a catalog (or reopen it)"),
        ("info", "show the catalog's database, storage and record counts"),
        ("fsck", "check every row's content and find leftovers of saves; --repair removes them"),
        ("migrate", "upgrade the catalog's schema to this version of lamin-core"),
    ]:
        command = sub.add_parser(name, help=text, description=text)
        command.add_argument("--storage", help="storage root (default: LAMIN_CORE_STORAGE)")
        command.add_argument("--db", help=DB_HELP)
        if name == "fsck":
            _add_fsck_arguments(command)
        if name == "migrate":
            command.add_argument(
                "--stamp",
                action="store_true",
                help="mark existing, checked tables as current without changing them",
            )
    _add_grant_parser(sub)
    args = parser.parse_args(argv)
    try:
        if args.command == "migrate":
            return _migrate(args)
        if args.command == "grant":
            return _grant(args)
        instance = _open(args, create=args.command == "init")
        if args.command == "fsck":
            from lamin_core.storage.fsck import fsck

            report = fsck(
                instance, repair=args.repair, older_than=args.older_than, verify=args.verify
            )
            print(report)
            return 0 if report.is_clean else 1
        if args.command == "info":
            _print_info(instance)
        else:
            print(f"catalog ready: {instance.db_url} with storage {instance.storage_root}")
        return 0
    except LaminError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def _add_fsck_arguments(command: argparse.ArgumentParser) -> None:
    from lamin_core.storage.fsck import DEFAULT_GRACE_SECONDS, format_age, parse_duration

    def duration(text: str) -> float:
        try:
            return parse_duration(text)
        except LaminError as error:
            raise argparse.ArgumentTypeError(str(error)) from error

    command.add_argument(
        "--repair",
        action="store_true",
        help="remove leftovers of saves (files without a row, partial copies, staging files) "
        "that no live save can need; rows whose content is missing are only reported",
    )
    command.add_argument(
        "--older-than",
        type=duration,
        metavar="DURATION",
        help="with --repair, remove only leftovers at least this old, e.g. 30s, 10m, 2h, 1d "
        f"(default: {format_age(DEFAULT_GRACE_SECONDS)}). Files of saves still running on this "
        "machine are never removed; those of other machines only by age, so keep it above "
        "the longest upload",
    )
    command.add_argument(
        "--verify", action="store_true", help="re-hash every row's content and report changes"
    )


GRANT_HELP = """give a database role access to a PostgreSQL catalog; run it as the catalog's owner

--read-only: usage on the catalog's schema and SELECT on every catalog table (write privileges are
revoked). --write: also INSERT, UPDATE and DELETE on every table but spaces and their grants, and
the sequences of their ids. --space NAME (repeatable): the role, or the members of a group role,
may read and write the records of that space. The statements run are printed."""


def _add_grant_parser(sub: Any) -> None:
    command = sub.add_parser(
        "grant",
        help="give a database role read-only or write access, or a space",
        description=GRANT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    command.add_argument("role", help="the database role (or group role)")
    level = command.add_mutually_exclusive_group()
    level.add_argument("--read-only", action="store_true", help="read access only")
    level.add_argument("--write", action="store_true", help="read and write access")
    command.add_argument(
        "--space", action="append", default=[], metavar="NAME", help="grant the space NAME"
    )
    command.add_argument("--db", help=DB_HELP)


def _grant(args: argparse.Namespace) -> int:
    from lamin_core.access import grant
    from lamin_core.instance import _resolve, create_engine
    from lamin_core.models import Base

    level = "read-only" if args.read_only else "write" if args.write else None
    if level is None and not args.space:
        raise InstanceError(
            f"Say what to grant {args.role!r}: --read-only, --write, or --space NAME."
        )
    db, _, _ = _resolve(database_url(args.db), None, None)
    if db is None:
        raise InstanceError(
            "lamin-core grant works on PostgreSQL catalogs: name one with "
            "--db postgresql://owner@host/db (or --db env:VAR)."
        )
    engine = create_engine(db, create=False)
    try:
        with engine.begin() as connection:
            statements = grant(
                connection, args.role, level=level, spaces=args.space, tables=Base.metadata.tables
            )
    finally:
        engine.dispose()
    for statement in statements:
        print(f"{statement};")
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from lamin_core.instance import _default_db_url, _resolve, create_engine
    from lamin_core.migrations import current_revision, ensure_schema, head_revision, stamp
    from lamin_core.storage.paths import normalize_root

    db, storage, _ = _resolve(database_url(args.db), args.storage, None)
    if db is None and storage is None:
        raise InstanceError("Name the catalog: lamin-core migrate --db URL (or --storage PATH).")
    engine = create_engine(db or _default_db_url(normalize_root(str(storage))), create=False)
    try:
        if args.stamp:
            stamp(engine)
        else:
            ensure_schema(engine, create=False, auto_migrate=True)
        print(f"catalog at schema revision {current_revision(engine)} (newest: {head_revision()})")
    finally:
        engine.dispose()
    return 0


def _print_info(instance: Instance) -> None:
    import sqlalchemy as sa

    from lamin_core import models

    print(f"database: {instance.db_url}")
    print(f"storage:  {instance.storage_root}")
    session = instance.session
    for name in ["Artifact", "Collection", "Transform", "Run", "ULabel", "Feature"]:
        model = getattr(models, name)
        count = session.scalar(sa.select(sa.func.count()).select_from(model))
        print(f"{name + ':':12}{count}")


if __name__ == "__main__":
    sys.exit(main())
