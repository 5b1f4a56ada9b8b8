"""The `lamin` command line (also installed as `lamin-core`): create, open, inspect, migrate and
check catalogs, grant access; save, load, describe, search, list and delete records (`records`).
It accepts LaminDB's usual spellings (`lamin init --storage DIR --modules bionty`,
`lamin connect DIR`, `lamin settings`, `lamin --version`, `lamin load KEY`)."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from lamin_core.cli import records
from lamin_core.errors import InstanceError, LaminError
from lamin_core.instance import Instance, resolve_location
from lamin_core.instance.settings import strip_password

PROG = "lamin"  # the name commands are given by in messages; `lamin-core` is the same program

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


# LaminDB's `lamin init --modules` adds schema modules. The bio registries (`lamin_core.bio`, which
# replaces `bionty`) are part of every catalog here, so `bionty` is accepted and changes nothing.
BUILT_IN_MODULES = ("bionty",)


def check_modules(value: str | None) -> str | None:
    """Return a note about ``--modules`` (None without it) or raise for a module we lack.

    Raises:
        InstanceError: a module other than ``bionty`` is named.
    """
    if value is None:
        return None
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in BUILT_IN_MODULES]
    if unknown:
        raise InstanceError(
            f"Unknown module {unknown[0]!r} in --modules {value!r}: lamin-core has one module, "
            "'bionty' (the bio registries of lamin_core.bio), and it is built into every "
            "catalog. Drop --modules, or pass --modules bionty."
        )
    return (
        "note: --modules bionty: the bio registries (CellType, Gene, ...) are part of every "
        "lamin-core catalog; use them with `import lamin_core.bio as bt`."
    )


# Messages of the Python API name Python calls; on the command line they name commands.
_PYTHON_CALL = re.compile(r"(?:Call )?ln\.(init|connect)\(([^()]*)\)")
_PLACEHOLDERS = {"storage": "DIR", "db": "URL"}


def cli_message(message: str, known: dict[str, str | None] | None = None) -> str:
    """Return `message` with Python calls (``ln.init(storage=...)``) spelled as commands.

    Args:
        message: The message of a `LaminError`.
        known: Option values the user gave (``{"storage": "./data"}``); they replace the
            placeholders of the Python spelling.
    """
    given = {name: value for name, value in (known or {}).items() if value}

    def command_for(match: re.Match[str]) -> str:
        command, arguments = match.group(1), match.group(2)
        words = [PROG, command]
        for argument in filter(None, (part.strip() for part in arguments.split(","))):
            name, has_name, value = argument.partition("=")
            if not has_name:  # the positional argument of ln.connect
                name, value = "db", argument
            quoted = value.startswith(("'", '"'))
            value = value.strip("'\"")
            if value == "..." or not quoted:
                value = given.get(name) or _PLACEHOLDERS.get(name, name.upper())
            words += [f"--{name}", value]
        text = " ".join(words)
        return f"run `{text}`" if match.group(0).startswith("Call ") else f"`{text}`"

    message = _PYTHON_CALL.sub(command_for, message)
    message = re.sub(r"Pass storage='([^']*)'", r"Pass --storage \1", message)
    return message.replace(
        "set LAMIN_CORE_STORAGE", "set the environment variable LAMIN_CORE_STORAGE"
    )


def _version() -> str:
    try:
        return f"lamin-core {metadata.version('lamin-core')}"
    except metadata.PackageNotFoundError:  # running from a source tree that is not installed
        return "lamin-core (not installed)"


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    """Return the argument parser of the command line (``lamin`` and ``lamin-core``)."""
    parser = argparse.ArgumentParser(prog=prog, description=__doc__)
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, text in [
        ("init", "create a catalog (or reopen it) and make it the default one"),
        ("connect", "open an existing catalog and make it the default one"),
        ("info", "show the catalog's database, storage and record counts"),
        ("fsck", "check every row's content and find leftovers of saves; --repair removes them"),
        ("migrate", "upgrade the catalog's schema to this version of lamin-core"),
    ]:
        command = sub.add_parser(name, help=text, description=text)
        if name == "connect":
            command.add_argument(
                "instance",
                nargs="?",
                help="the catalog: its storage folder, or a database URL (as --db)",
            )
        command.add_argument("--storage", help="storage root (default: LAMIN_CORE_STORAGE)")
        command.add_argument("--db", help=DB_HELP)
        if name == "init":
            command.add_argument(
                "--modules",
                metavar="NAMES",
                help="accepted for LaminDB compatibility: 'bionty' (the bio registries) is "
                "built into every catalog; other modules do not exist here",
            )
        if name == "fsck":
            _add_fsck_arguments(command)
        if name == "migrate":
            command.add_argument(
                "--stamp",
                action="store_true",
                help="mark existing, checked tables as current without changing them",
            )
    sub.add_parser(
        "settings",
        help="show the default catalog, the user and where the settings live",
        description="show the default catalog, the user and where the settings live",
    )
    sub.add_parser(
        "disconnect",
        aliases=["close"],  # LaminDB's older name
        help="forget the default catalog (the catalog itself is left as it is)",
        description="forget the default catalog (the catalog itself is left as it is)",
    )
    _add_grant_parser(sub)
    _add_lineage_parser(sub)
    records.add_parsers(sub, DB_HELP)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    invoked = Path(sys.argv[0]).name if argv is None else PROG
    args = build_parser(invoked if invoked in ("lamin", "lamin-core") else PROG).parse_args(argv)
    # the data commands exit 1 on a catalog error, as lamin_cli; the others 2, as before
    failed = 1 if args.command in records.COMMANDS else 2
    try:
        return _run(args)
    except LaminError as error:
        known = {"storage": getattr(args, "storage", None), "db": getattr(args, "db", None)}
        print(f"error: {cli_message(str(error), known)}", file=sys.stderr)
        return failed
    except OSError as error:  # a folder the system refuses: say which, without a traceback
        print(f"error: {error}. Check the path and its permissions.", file=sys.stderr)
        return failed
    except ImportError as error:  # an optional dependency a command needs (openlineage-python)
        print(f"error: {error}", file=sys.stderr)
        return failed


def _run(args: argparse.Namespace) -> int:
    if args.command == "migrate":
        return _migrate(args)
    if args.command == "grant":
        return _grant(args)
    if args.command == "settings":
        return _print_settings()
    if args.command in ("disconnect", "close"):
        return _disconnect()
    if args.command == "lineage" and args.to is None and args.url is None:
        raise InstanceError(
            f"Say where the events go: `{PROG} lineage export --to events.jsonl` and/or "
            "--url http://localhost:5000."
        )
    if args.command == "init":
        note = check_modules(args.modules)
        if note:
            print(note)
    if args.command == "connect" and args.instance is not None:
        # `lamin connect DIR` or `lamin connect postgresql://...` (LaminDB's spelling)
        is_url = "://" in args.instance or args.instance.startswith("env:")
        slot = "db" if is_url else "storage"
        if getattr(args, slot) is not None:
            raise InstanceError(
                f"Name the catalog once: `{PROG} connect {args.instance}` or "
                f"`{PROG} connect --{slot} {getattr(args, slot)}`, not both."
            )
        setattr(args, slot, args.instance)
    if args.command != "init" and not any(
        resolve_location(database_url(args.db), args.storage, None)[:2]
    ):
        raise InstanceError(
            f"No catalog given and no default one. Run `{PROG} init --storage DIR` to create one, "
            f"`{PROG} connect DIR` to open one, or pass --storage DIR."
        )
    instance = _open(args, create=args.command == "init")
    if args.command in records.COMMANDS:
        return records.run(args, instance)
    if args.command == "lineage":
        return _export_lineage(args, instance)
    if args.command == "fsck":
        from lamin_core.artifacts.fsck import fsck

        report = fsck(instance, repair=args.repair, older_than=args.older_than, verify=args.verify)
        print(report)
        return 0 if report.is_clean else 1
    if args.command == "info":
        _print_info(instance)
    elif args.command == "connect":
        print(f"connected to {instance.db_url} with storage {instance.storage_root}")
    else:
        print(f"catalog ready: {instance.db_url} with storage {instance.storage_root}")
    return 0


def _print_settings() -> int:
    from lamin_core.instance.settings import SETTINGS_FILE, read_settings, settings_dir

    values = read_settings()
    print(f"settings file: {settings_dir() / SETTINGS_FILE}")
    for name in ("storage", "db", "user"):
        variable = f"LAMIN_CORE_{name.upper()}"
        value, source = os.environ.get(variable), f" (from {variable})"
        if not value:
            value, source = values.get(name), ""
        if name == "db" and value:
            value = strip_password(value)
        print(f"{name + ':':9}{value or '-'}{source}")
    if not values.get("storage") and not values.get("db"):
        print(f"no default catalog: run `{PROG} init --storage DIR` or `{PROG} connect DIR`")
    return 0


def _disconnect() -> int:
    from lamin_core.instance.settings import read_settings, write_settings

    values = read_settings()
    if not values.get("storage") and not values.get("db"):
        print("no default catalog to forget")
        return 0
    write_settings({"user": values["user"]} if values.get("user") else {})
    print(f"forgot the default catalog {values.get('storage') or values.get('db')}")
    return 0


def _add_fsck_arguments(command: argparse.ArgumentParser) -> None:
    from lamin_core.artifacts.fsck import DEFAULT_GRACE_SECONDS, format_age, parse_duration

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
    from lamin_core.instance import create_engine
    from lamin_core.instance.access import grant
    from lamin_core.models import Base

    level = "read-only" if args.read_only else "write" if args.write else None
    if level is None and not args.space:
        raise InstanceError(
            f"Say what to grant {args.role!r}: --read-only, --write, or --space NAME."
        )
    db, _, _ = resolve_location(database_url(args.db), None, None)
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


LINEAGE_EXPORT_HELP = """write the catalog's Runs as OpenLineage events (JSON lines), or post them

Each Run gives a START event and, once finished, a COMPLETE, FAIL or ABORT event (by its
status): job = its transform (namespace: the catalog's name), inputs and outputs = its artifacts
(namespace: their storage root, name: their key). Needs openlineage-python:
pip install 'lamin-core[lineage]'."""


def parse_since(text: str) -> dt.datetime:
    """Return the moment of a ``--since`` value: a date or an ISO date-time (naive: UTC).

    Raises:
        argparse.ArgumentTypeError: `text` is neither.
    """
    try:
        moment = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--since {text!r} is not a date or date-time: use 2026-12-01 or "
            "2026-12-01T08:00:00 (UTC unless an offset such as +01:00 is given)"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.timezone.utc)


def _add_lineage_parser(sub: Any) -> None:
    lineage = sub.add_parser(
        "lineage",
        help="export lineage: the catalog's runs as OpenLineage events",
        description="export lineage: the catalog's runs as OpenLineage events",
    )
    actions = lineage.add_subparsers(dest="lineage_command", required=True, metavar="ACTION")
    export = actions.add_parser(
        "export",
        help="write or post the runs' OpenLineage events",
        description=LINEAGE_EXPORT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    export.add_argument(
        "--since",
        type=parse_since,
        metavar="DATE",
        help="only events at or after DATE (2026-12-01 or 2026-12-01T08:00:00, UTC); "
        "default: every run",
    )
    export.add_argument("--to", metavar="FILE", help="write the events to FILE, one a line")
    export.add_argument(
        "--url",
        metavar="URL",
        help="post the events to an OpenLineage receiver, e.g. http://localhost:5000 (posts "
        "to /api/v1/lineage unless the URL names a path)",
    )
    export.add_argument(
        "--append", action="store_true", help="add to FILE instead of writing it afresh"
    )
    export.add_argument("--storage", help="storage root (default: LAMIN_CORE_STORAGE)")
    export.add_argument("--db", help=DB_HELP)


def _export_lineage(args: argparse.Namespace, instance: Instance) -> int:
    from lamin_core.lineage.openlineage import export_events

    count = export_events(
        args.since, to=args.to, url=args.url, append=args.append, instance=instance
    )
    targets = " and ".join(t for t in (args.to, args.url) if t is not None)
    since = f" since {args.since.isoformat()}" if args.since is not None else ""
    print(f"exported {count} OpenLineage events{since} to {targets}")
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from lamin_core.instance import create_engine, default_db_url
    from lamin_core.migrations import current_revision, ensure_schema, head_revision, stamp
    from lamin_core.storage.paths import normalize_root

    db, storage, _ = resolve_location(database_url(args.db), args.storage, None)
    if db is None and storage is None:
        raise InstanceError("Name the catalog: lamin-core migrate --db URL (or --storage PATH).")
    engine = create_engine(db or default_db_url(normalize_root(str(storage))), create=False)
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
