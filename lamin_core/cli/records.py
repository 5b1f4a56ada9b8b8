"""The data commands of `lamin`: save, load, describe, search, ls, delete (as lamin_cli 2.x).

A record is named on the command line by an artifact's key (its latest version) or by the uid of
any record: in full, its 16-character stem (the latest version), or an unambiguous prefix of at
least `MIN_UID_PREFIX` characters. A registry is named as in Python (``Artifact``,
``bionty.CellType``) or in lower case (``artifact``, ``celltype``). ``lamin ls`` takes Django
lookups (``--filter key__startswith=raw/``), whose text values are converted to the field's type.
Tables are drawn with rich. A catalog error prints its message and exits with code 1.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from lamin_core.errors import (
    DoesNotExist,
    FieldError,
    LaminError,
    MultipleResultsFound,
    ValidationError,
    did_you_mean,
)
from lamin_core.models.branches import has_branch
from lamin_core.models.registry import reference_text, registries, spellings
from lamin_core.query.coercion import python_type
from lamin_core.query.q import LOOKUP_SEP
from lamin_core.query.queryset import QuerySet

if TYPE_CHECKING:
    from lamin_core.instance import Instance

COMMANDS = ("save", "load", "describe", "search", "ls", "delete")
MIN_UID_PREFIX = 4
DEFAULT_ROWS = 20
LONG_TEXT = {"source_code"}  # columns `ls` never shows: they fill a screen per row


def add_parsers(sub: Any, db_help: str) -> None:
    """Add the data commands to the `lamin` parser's subcommands."""
    commands: dict[str, argparse.ArgumentParser] = {}

    def command(name: str, text: str) -> argparse.ArgumentParser:
        parser = sub.add_parser(name, help=text, description=text)
        commands[name] = parser
        return parser

    save = command("save", "save a file or folder as an artifact (a new version if the key exists)")
    save.add_argument("path", help="the file or folder")
    save.add_argument("--key", help="the artifact's key, e.g. raw/sample1.fastq.gz")
    save.add_argument("--description", help="a description of the artifact")
    load = command("load", "print the local path of an artifact's content (downloaded if remote)")
    load.add_argument("target", metavar="KEY|UID", help="the artifact's key or uid")
    describe = command("describe", "show a record with its relations, labels and features")
    describe.add_argument("target", metavar="KEY|UID", help="an artifact's key or any uid")
    search = command("search", "search a registry, best matches first, typo-tolerant")
    search.add_argument("registry", help="the registry: artifact, ulabel, bionty.CellType, ...")
    search.add_argument("query", help="the text to search for")
    search.add_argument("--limit", type=int, default=DEFAULT_ROWS, help="at most this many")
    ls = command("ls", "list the records of a registry that match lookups, as a table")
    ls.add_argument("registry", help="the registry: artifact, transform, run, ulabel, ...")
    ls.add_argument(
        "--filter",
        action="append",
        default=[],
        metavar="LOOKUP=VALUE",
        help="a Django-style lookup such as key__startswith=raw/ or size__gt=1000 (repeatable; "
        "all must match); __in and __range take comma-separated values",
    )
    ls.add_argument("--order-by", default="-id", help="a field, - for descending (default: -id)")
    ls.add_argument("--limit", type=int, default=DEFAULT_ROWS, help="at most this many rows")
    ls.add_argument("--columns", help="comma-separated fields to show (default: a summary)")
    delete = command("delete", "move a record to the trash, or delete it for good with --permanent")
    delete.add_argument("target", metavar="KEY|UID", help="an artifact's key or any uid")
    delete.add_argument(
        "--permanent",
        action="store_true",
        help="delete for good (for an artifact: its file too) instead of moving it to the trash",
    )
    delete.add_argument(
        "--yes", "-y", action="store_true", help="do not ask before a permanent delete"
    )
    for parser in commands.values():
        parser.add_argument("--storage", help="storage root (default: LAMIN_CORE_STORAGE)")
        parser.add_argument("--db", help=db_help)


def run(args: argparse.Namespace, instance: Instance) -> int:
    """Run a data command on the open catalog; return the exit code."""
    handler = {
        "save": _save,
        "load": _load,
        "describe": _describe,
        "search": _search,
        "ls": _ls,
        "delete": _delete,
    }[args.command]
    with instance.activate():
        return handler(args, instance)


# --- naming registries and records ------------------------------------------------------------


def find_registry(name: str) -> Any:
    """Return the registry named `name`: ``Artifact``, ``artifact``, ``bionty.CellType``, ...

    Raises:
        ValidationError: no registry has that name; the message lists them.
    """
    wanted = name.strip()
    for registry in registries():
        spelled = {spelling.lower().replace("_", "") for spelling in spellings(registry)}
        if wanted.lower().replace("_", "") in spelled:
            return registry
    names = [reference_text(registry) for registry in registries()]
    hint = did_you_mean(wanted, [*names, *(n.lower() for n in names)])
    raise ValidationError(f"Unknown registry {wanted!r}.{hint} Registries: {', '.join(names)}.")


def find_record(target: str, *, artifacts_only: bool = False) -> Any:
    """Return the record a command names: an artifact by key, else any record by uid.

    Raises:
        DoesNotExist: nothing has that key or uid (the closest artifact keys are suggested).
        MultipleResultsFound: a uid prefix matches several records.
        ValidationError: the text is empty.
    """
    from lamin_core.models import Artifact

    if not target.strip():
        raise ValidationError("Name a record: an artifact's key (raw/x.csv) or a uid.")
    by_key = Artifact.filter(key=target, is_latest=True).first()
    if by_key is not None:
        return by_key
    candidates = [Artifact] if artifacts_only else [Artifact, *_uid_registries()]
    matches = [record for model in candidates for record in _by_uid(model, target)]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        shown = ", ".join(f"{type(r).__name__}('{r.uid}')" for r in matches[:5])
        raise MultipleResultsFound(
            f"{len(matches)} records have a uid starting with {target!r}: {shown}. Give more "
            "characters of the uid."
        )
    what = "artifact key or uid" if artifacts_only else "artifact key or uid of a record"
    raise DoesNotExist(
        f"No {what} is {target!r}.{_closest_key(target)} List keys with "
        "`lamin ls artifact`, or search with `lamin search artifact TEXT`."
    )


def _closest_key(text: str) -> str:
    """Return " Did you mean 'key'?" for the artifact key the search ranks first, else ""."""
    from lamin_core.models import Artifact

    try:
        best = Artifact.search(text, field="key", limit=1).first()
    except LaminError:  # text the search refuses (too long, control characters): no hint
        return ""
    return f" Did you mean {best.key!r}?" if best is not None and best.key else ""


def _uid_registries() -> list[Any]:
    from lamin_core.models import Artifact

    return [r for r in registries() if r is not Artifact and "uid" in sa.inspect(r).columns]


def _by_uid(model: Any, text: str) -> list[Any]:
    full = model._full_uid_length()
    stem = getattr(model, "_stem_length", None)
    if len(text) > full or len(text) < min(MIN_UID_PREFIX, full):
        return []
    queryset: QuerySet[Any] = QuerySet(model)
    if len(text) == full:
        queryset = queryset.filter(uid=text)
    elif stem == len(text) and "is_latest" in sa.inspect(model).columns:
        queryset = queryset.filter(uid__startswith=text, is_latest=True)
    else:
        queryset = queryset.filter(uid__startswith=text)
    queryset._shows_hidden = True  # a record named by its uid is found (a run's report)
    return list(queryset[:6])


# --- commands ---------------------------------------------------------------------------------


def _save(args: argparse.Namespace, instance: Instance) -> int:
    from lamin_core.models import Artifact

    path = Path(args.path)
    if not path.exists():
        raise ValidationError(f"Nothing to save at {args.path!r}: no such file or folder.")
    artifact = Artifact(path, key=args.key, description=args.description)
    saved = artifact.save()
    if saved is not artifact:
        print(
            f"the same content is already saved: Artifact('{saved.uid}', key={saved.key!r}, "
            f"version={saved.version!r})"
        )
    else:
        print(f"saved Artifact('{saved.uid}', key={saved.key!r}, version={saved.version!r})")
    return 0


def _load(args: argparse.Namespace, instance: Instance) -> int:
    artifact = find_record(args.target, artifacts_only=True)
    print(artifact.cache())
    return 0


def _describe(args: argparse.Namespace, instance: Instance) -> int:
    from lamin_core.display import describe_text

    print(describe_text(find_record(args.target)))
    return 0


def _search(args: argparse.Namespace, instance: Instance) -> int:
    model = find_registry(args.registry)
    _check_limit(args.limit)
    result = model.search(args.query, limit=args.limit)
    records = list(result)
    if not records:
        print(f"no {model.__name__} matches {args.query!r}")
        return 0
    fields = [f for f in ("uid", *model._search_fields) if f in sa.inspect(model).columns]
    rows = [
        [*(_shown(getattr(record, field)) for field in fields), f"{result.scores[record.id]:.0f}"]
        for record in records
    ]
    _print_table(f"{model.__name__} search: {args.query}", [*fields, "score"], rows)
    return 0


def _ls(args: argparse.Namespace, instance: Instance) -> int:
    model = find_registry(args.registry)
    _check_limit(args.limit)
    lookups = dict(parse_filter(model, text) for text in args.filter)
    queryset = model.filter(**lookups).order_by(args.order_by)
    total = queryset.count()
    records = list(queryset[: args.limit])
    columns = _columns(model, args.columns)
    rows = [[_shown(getattr(record, column)) for column in columns] for record in records]
    title = f"{model.__name__}: {len(records)} of {total}"
    if total == 0:
        print(f"no {model.__name__} records match")
        return 0
    _print_table(title, columns, rows)
    return 0


def _delete(args: argparse.Namespace, instance: Instance) -> int:
    """Move a record to the trash, or with ``--permanent`` remove it (after confirmation).

    Registries without a trash (users, storages, bio records) only delete permanently, so
    they need ``--permanent`` too; a record already in the trash is told to use it.
    """
    record = find_record(args.target)
    shown = f"{type(record).__name__}('{record.uid}'" + (
        f", key={record.key!r}, version={record.version!r})"
        if getattr(record, "key", None)
        else ")"
    )
    trash = has_branch(type(record)) and not args.permanent
    if trash:
        record.delete()
        print(f"moved {shown} to the trash; restore it with record.restore() in Python")
        return 0
    if not has_branch(type(record)) and not args.permanent:
        raise ValidationError(
            f"{type(record).__name__} records have no trash: deleting {shown} is permanent. "
            "Pass --permanent to delete it."
        )
    if not args.yes:
        if not sys.stdin.isatty():
            raise ValidationError(
                f"Not deleting {shown} permanently without confirmation: pass --yes, or run "
                "the command in a terminal to be asked."
            )
        answer = input(f"Delete {shown} permanently? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing deleted")
            return 1
    record.delete(permanent=True)
    print(f"deleted {shown} permanently")
    return 0


# --- lookups and tables -----------------------------------------------------------------------


def parse_filter(model: Any, text: str) -> tuple[str, Any]:
    """Return ``(lookup, value)`` of a ``--filter LOOKUP=VALUE``, the value in the field's type.

    ``__in`` takes comma-separated values, ``__range`` two, ``__isnull`` true or false; a
    value for an integer, float or boolean field is converted; other text stays text (the
    query checks dates and datetimes). A name that is not a field is left to the query, which
    also filters by features.

    Raises:
        ValidationError: no ``=``, or a value that does not fit its field.
        FieldError: an unknown field or lookup (with the closest match).
    """
    lookup, has_value, value = text.partition("=")
    lookup = lookup.strip()
    if not has_value or not lookup:
        raise ValidationError(
            f"--filter {text!r}: write LOOKUP=VALUE, e.g. key__startswith=raw/ or size__gt=1000."
        )
    field_type, lookup_name = _field_type(model, lookup)
    if lookup_name == "isnull":
        return lookup, _convert(value, bool, lookup)
    if lookup_name in ("in", "range"):
        items = [_convert(item.strip(), field_type, lookup) for item in value.split(",")]
        if lookup_name == "range" and len(items) != 2:
            raise ValidationError(f"--filter {text!r}: __range takes two values: LOW,HIGH.")
        return lookup, items
    return lookup, _convert(value, field_type, lookup)


def _field_type(model: Any, lookup: str) -> tuple[type | None, str | None]:
    """Return (Python type of the field, lookup name) of a lookup path; (None, None) if unknown."""
    from lamin_core.query.fields import resolve_path

    parts = lookup.split(LOOKUP_SEP)
    for cut in range(len(parts), 0, -1):
        try:
            hops, column = resolve_path(model, LOOKUP_SEP.join(parts[:cut]))
        except FieldError:
            continue
        target = hops[-1].mapper.class_ if hops else model
        sql_type = sa.inspect(target).columns[column].type
        rest = parts[cut:]
        return python_type(sql_type), rest[-1] if rest else None
    return None, None


def _convert(value: str, field_type: type | None, lookup: str) -> Any:
    if field_type is bool:
        lowered = value.strip().lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no"):
            return False
        raise ValidationError(f"--filter {lookup}={value!r}: write true or false.")
    if field_type in (int, float):
        try:
            number = float(value)
        except ValueError:
            raise ValidationError(
                f"--filter {lookup}={value!r}: the field holds numbers; write one, e.g. "
                f"{lookup}=1000."
            ) from None
        return int(number) if field_type is int and number.is_integer() else number
    return value


def _columns(model: Any, chosen: str | None) -> list[str]:
    available = [c for c in model._column_order() if c not in LONG_TEXT]
    if chosen:
        names = [name.strip() for name in chosen.split(",") if name.strip()]
        for name in names:
            if name not in available:
                raise FieldError(
                    f"Unknown column {name!r} of {model.__name__}.{did_you_mean(name, available)} "
                    f"Columns: {', '.join(available)}."
                )
        return names
    summary = ["uid", model._name_field, *getattr(model, "_search_fields", ())]
    summary += ["suffix", "size", "status", "type", "version", "created_at"]
    return [c for c in dict.fromkeys(summary) if c in available and c != "id"]


def _shown(value: Any) -> str:
    if value is None:
        return ""
    if hasattr(value, "strftime"):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    text = str(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _check_limit(limit: int) -> None:
    if limit < 1:
        raise ValidationError(f"--limit {limit}: show at least one row (e.g. --limit 20).")


def _print_table(title: str, columns: list[str], rows: list[list[str]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*row)
    Console(width=max(120, Console().width), soft_wrap=False).print(table)
