"""Consistency check between the catalog's rows and its stored files, and safe repair.

Saves are ordered so that a row never points to a missing file, but a process killed mid-save
leaves a staging file, a partial copy or a file without a row, and files can be deleted or
changed by hand. `fsck` checks every row's content in every storage the catalog can reach
(managed files and files registered in place; with ``verify`` it re-hashes them), and lists the
leftovers of saves with their age.

Repair removes leftovers only when no live save can still need them:

- a file without a row is removed under the repair lock, which saves hold (shared) from before
  they place a file until their row commits: repair waits for such saves, then sees their rows;
- a staging file or partial copy whose name says it belongs to a process that still runs on this
  machine is never removed; those of other (or older) processes are removed once older than the
  grace period (`older_than`, default `DEFAULT_GRACE_SECONDS`), and so are files without a row.

Rows whose content is missing or changed are reported, never "repaired": only the user knows
where the right content is.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from lamin_core.artifacts.access import managed_path
from lamin_core.errors import StorageError, ValidationError
from lamin_core.instance import SQLITE_NAME, Instance, staging_root
from lamin_core.instance.locks import REPAIR_LOCK, hold_locks
from lamin_core.models import Artifact, Storage
from lamin_core.storage.hashing import HASH_TYPE_FILE, HASH_TYPE_FOLDER, hash_file, hash_folder
from lamin_core.storage.inflight import is_partial, owner_is_alive
from lamin_core.storage.paths import filesystem, is_local, join_within

DEFAULT_GRACE_SECONDS = 3600.0
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhd]?)", re.IGNORECASE)
# what a managed artifact's file is called: a 20-character uid and its suffix
_ARTIFACT_FILE = re.compile(r"^[0-9A-Za-z]{20}(\.[^/]*)?$")

KINDS = {
    "orphan": "files without a row",
    "partial": "partial copies of interrupted saves",
    "staging": "staging files of artifacts never saved",
    "unknown": "files lamin-core did not write (never removed)",
}


def parse_duration(text: str) -> float:
    """Return the seconds of a duration such as ``30s``, ``10m``, ``2h``, ``1d`` or ``90``.

    Raises:
        ValidationError: the text is not a non-negative number with an optional unit.
    """
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise ValidationError(
            f"Invalid duration {text!r}: write a number and a unit, as in 30s, 10m, 2h, 1d "
            "(a plain number means seconds)."
        )
    return float(match[1]) * _UNITS[match[2].lower()]


def format_age(seconds: float) -> str:
    """Return an age as the largest whole unit: ``45s``, ``20m``, ``3h``, ``2d``."""
    for unit in ("d", "h", "m"):
        if seconds >= _UNITS[unit]:
            return f"{int(seconds // _UNITS[unit])}{unit}"
    return f"{int(max(seconds, 0))}s"


@dataclass(frozen=True)
class Leftover:
    """A file fsck found that no row accounts for."""

    path: str
    kind: str  # a key of KINDS
    age: float  # seconds since it was last written
    owner_alive: bool | None = None  # on this machine: whether its process runs; else None

    @property
    def in_use(self) -> bool:
        """Whether a process that still runs on this machine owns it (a save in progress)."""
        return self.owner_alive is True


@dataclass
class FsckReport:
    """What `fsck` found and, with repair, removed."""

    leftovers: list[Leftover] = field(default_factory=list)
    missing_content: list[str] = field(default_factory=list)
    mismatched_content: list[str] = field(default_factory=list)
    unreachable: list[str] = field(default_factory=list)
    repaired_paths: list[str] = field(default_factory=list)
    locations: dict[str, str] = field(default_factory=dict)
    repaired: bool = False
    older_than: float = DEFAULT_GRACE_SECONDS

    def _paths(self, kind: str) -> list[str]:
        return [leftover.path for leftover in self.leftovers if leftover.kind == kind]

    @property
    def orphaned_files(self) -> list[str]:
        """Stored files without a row."""
        return self._paths("orphan")

    @property
    def partial_files(self) -> list[str]:
        """Partial copies of saves."""
        return self._paths("partial")

    @property
    def staging_files(self) -> list[str]:
        """Staging files of artifacts not (yet) saved."""
        return self._paths("staging")

    @property
    def kept(self) -> list[Leftover]:
        """Leftovers still there: all of them without repair, the protected ones with it."""
        removed = set(self.repaired_paths)
        return [leftover for leftover in self.leftovers if leftover.path not in removed]

    @property
    def is_clean(self) -> bool:
        """Whether nothing needs attention (files of saves still running are no problem)."""
        return not (
            [leftover for leftover in self.kept if not leftover.in_use]
            or self.missing_content
            or self.mismatched_content
            or self.unreachable
        )

    def _status(self, leftover: Leftover) -> str:
        if leftover.path in self.repaired_paths:
            return "removed"
        if leftover.in_use:
            return "kept: in use by a process that still runs"
        if leftover.kind == "unknown":
            return "kept"
        if self.repaired:
            return f"kept: younger than {format_age(self.older_than)}"
        return "found"

    def __str__(self) -> str:
        if not self.leftovers and self.is_clean:
            return "catalog is consistent: every row has its content and every stored file a row"
        lines = []
        problems = [
            ("rows whose content is missing (not repairable)", self.missing_content),
            (
                "rows whose content does not match its hash (not repairable)",
                self.mismatched_content,
            ),
        ]
        for title, uids in problems:
            if uids:
                lines.append(f"{title}: {len(uids)}")
                lines.extend(f"  {uid}  {self.locations.get(uid, '')}".rstrip() for uid in uids)
        if self.unreachable:
            lines.append(f"storages that could not be checked: {len(self.unreachable)}")
            lines.extend(f"  {problem}" for problem in self.unreachable)
        for kind, title in KINDS.items():
            found = [leftover for leftover in self.leftovers if leftover.kind == kind]
            if found:
                lines.append(f"{title}: {len(found)}")
                lines.extend(
                    f"  {leftover.path}  ({format_age(leftover.age)} old, {self._status(leftover)})"
                    for leftover in found
                )
        if self.is_clean:
            lines.append("catalog is consistent apart from saves in progress")
        return "\n".join(lines)


def fsck(
    instance: Instance,
    *,
    repair: bool = False,
    older_than: float | None = None,
    verify: bool = False,
) -> FsckReport:
    """Check every artifact row's content and find the leftovers of saves; optionally repair.

    Args:
        instance: The catalog; it need not be the active one.
        repair: Remove leftovers no live save can need (see the module docstring).
        older_than: Seconds a leftover must be old to be removed (default: one hour). Saves in
            progress on other machines are protected by this alone: keep it above the
            duration of the longest upload.
        verify: Re-hash every row's content and report those that differ from the row's hash.

    Returns:
        The report; `is_clean` tells whether anything needs attention.

    Raises:
        ValidationError: `older_than` is negative.
    """
    grace = DEFAULT_GRACE_SECONDS if older_than is None else float(older_than)
    if grace < 0:
        raise ValidationError(f"older_than must be 0 or more seconds, got {older_than!r}.")
    report = FsckReport(repaired=repair, older_than=grace)
    rows = _artifact_rows(instance)
    _check_rows(instance, rows, report, verify=verify)
    managed = {
        f"{row.uid}{row.suffix}"
        for row in rows
        if row.key_is_virtual and row.storage_id == instance.storage_id
    }
    _find_leftovers(instance, managed, report)
    if repair:
        _repair(instance, report, grace)
    return report


def _artifact_rows(instance: Instance) -> list[Any]:
    session = instance.session
    try:
        return list(
            session.execute(
                sa.select(
                    Artifact.id,
                    Artifact.uid,
                    Artifact.suffix,
                    Artifact.key,
                    Artifact.key_is_virtual,
                    Artifact.storage_id,
                    Artifact.hash,
                    Artifact.hash_type,
                    Storage.root,
                ).join(Storage, Storage.id == Artifact.storage_id)
            ).all()
        )
    finally:
        session.commit()


def _location(root_path: str, row: Any, *, local: bool) -> str:
    """Return where a row's content is: ``.lamindb/<uid><suffix>``, or its key if in place.

    Raises:
        StorageError: the row's uid, suffix or key would lead outside its storage root (a row
            edited behind the catalog's back).
    """
    if row.key_is_virtual:
        return managed_path(root_path, row.uid, row.suffix, is_local=local)
    return join_within(root_path, row.key or "", is_local=local)


def _check_rows(instance: Instance, rows: list[Any], report: FsckReport, *, verify: bool) -> None:
    """Report rows whose content is missing (or, with `verify`, changed), storage by storage."""
    by_root: dict[str, list[Any]] = defaultdict(list)
    for row in rows:
        by_root[row.root].append(row)
    for root, root_rows in by_root.items():
        try:
            if root == instance.storage_root:
                fs, root_path = instance.fs, instance.storage_path
            else:
                fs, root_path = filesystem(root, **instance.storage_options)
            local = is_local(root)
            located = {}
            for row in root_rows:
                try:
                    located[row.id] = _location(root_path, row, local=local)
                except StorageError:  # a tampered row names no place in the storage
                    report.missing_content.append(row.uid)
            missing = _missing(
                fs, [(row, located[row.id]) for row in root_rows if row.id in located]
            )
        except Exception as error:  # any failure to reach a storage is reported, not fatal
            report.unreachable.append(f"{root}: {type(error).__name__}: {error}")
            continue
        for row in root_rows:
            if row.id not in located:
                continue
            location = located[row.id]
            report.locations[row.uid] = location
            if row.id in missing:
                report.missing_content.append(row.uid)
            elif verify and not _content_matches(fs, location, row, local=local):
                report.mismatched_content.append(row.uid)
    if report.missing_content:
        # a row deleted since it was read is not missing content
        still = _existing_uids(instance, report.missing_content)
        report.missing_content = sorted(uid for uid in report.missing_content if uid in still)
    report.mismatched_content.sort()


def _missing(fs: Any, located: list[tuple[Any, str]]) -> set[int]:
    """Return the ids of rows whose location does not exist, listing each folder once."""
    by_parent: dict[str, list[tuple[Any, str]]] = defaultdict(list)
    for row, location in located:
        by_parent[location.rsplit("/", 1)[0]].append((row, location))
    missing = set()
    for parent, entries in by_parent.items():
        fs.invalidate_cache(parent)  # object stores' listings are cached: read them afresh
        try:
            names = {
                str(name).rstrip("/").rsplit("/", 1)[-1] for name in fs.ls(parent, detail=False)
            }
        except FileNotFoundError:
            names = set()
        for row, location in entries:
            if location.rsplit("/", 1)[-1] not in names:
                missing.add(row.id)
    return missing


def _content_matches(fs: Any, location: str, row: Any, *, local: bool) -> bool:
    """Re-hash stored content and compare it with the row's hash."""
    try:
        if row.hash_type == HASH_TYPE_FILE:
            return bool(hash_file(location, None if local else fs) == row.hash)
        if row.hash_type == HASH_TYPE_FOLDER:
            prefix = location.rstrip("/") + "/"
            entries = [
                (path[len(prefix) :], hash_file(path, None if local else fs))
                for path in fs.find(location)
            ]
            return bool(hash_folder(entries) == row.hash)
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return False
    return True  # a hash this version cannot recompute is taken as it is


def _existing_uids(instance: Instance, uids: Iterable[str]) -> set[str]:
    wanted = list(uids)
    if not wanted:
        return set()
    session = instance.session
    try:
        return set(session.scalars(sa.select(Artifact.uid).where(Artifact.uid.in_(wanted))))
    finally:
        session.commit()


def _find_leftovers(instance: Instance, managed: set[str], report: FsckReport) -> None:
    """List the catalog folder and the staging folder for files no row accounts for."""
    now = time.time()
    fs, folder = instance.fs, instance.catalog_path
    staging = staging_root(instance)
    orphans = []
    for entry in _entries(fs, folder):
        path = entry["name"].rstrip("/")
        name = path.rsplit("/", 1)[-1]
        if name.startswith(SQLITE_NAME) or (instance.is_local_storage and name == staging.name):
            continue
        age = now - _mtime(entry, now)
        if is_partial(name):
            report.leftovers.append(Leftover(path, "partial", age, owner_is_alive(name)))
        elif name in managed:
            continue
        elif _ARTIFACT_FILE.match(name):
            orphans.append(Leftover(path, "orphan", age))
        else:
            report.leftovers.append(Leftover(path, "unknown", age))
    if orphans:
        # a save that committed while the folder was listed is no orphan
        uids = _existing_uids(instance, [o.path.rsplit("/", 1)[-1][:20] for o in orphans])
        report.leftovers.extend(o for o in orphans if o.path.rsplit("/", 1)[-1][:20] not in uids)
    local, _ = filesystem("file://")
    for entry in _entries(local, staging.as_posix()):
        path = entry["name"].rstrip("/")
        name = path.rsplit("/", 1)[-1]
        age = now - _mtime(entry, now)
        report.leftovers.append(Leftover(path, "staging", age, owner_is_alive(name)))
    report.leftovers.sort(key=lambda leftover: (leftover.kind, leftover.path))


def _entries(fs: Any, folder: str) -> list[dict[str, Any]]:
    fs.invalidate_cache(folder)
    try:
        return list(fs.ls(folder, detail=True))
    except FileNotFoundError:
        return []


def _mtime(entry: dict[str, Any], default: float) -> float:
    """Return when a listed file was last written, as a timestamp (`default` if unknown)."""
    for name in ("mtime", "LastModified", "last_modified", "created", "updated"):
        value = entry.get(name)
        if isinstance(value, dt.datetime):
            if value.tzinfo is None:
                value = value.replace(tzinfo=dt.timezone.utc)
            return value.timestamp()
        if isinstance(value, (int, float)):
            return float(value)
    return default


def _repair(instance: Instance, report: FsckReport, grace: float) -> None:
    """Remove the leftovers no live save can need; files without a row under the repair lock."""
    removable = [
        leftover
        for leftover in report.leftovers
        if leftover.kind != "unknown" and not leftover.in_use and leftover.age >= grace
    ]
    local, _ = filesystem("file://")
    for leftover in removable:
        if leftover.kind == "staging":
            _rm(local, leftover.path, report)
        elif leftover.kind == "partial":
            _rm(instance.fs, leftover.path, report)
    orphans = [leftover for leftover in removable if leftover.kind == "orphan"]
    if not orphans:
        return
    session = instance.session
    try:
        # saves hold this lock shared from placing a file until their row commits
        hold_locks(session, [REPAIR_LOCK])
        names = {leftover.path.rsplit("/", 1)[-1][:20]: leftover for leftover in orphans}
        saved = set(session.scalars(sa.select(Artifact.uid).where(Artifact.uid.in_(names))))
        for uid, leftover in names.items():
            if uid in saved:
                report.leftovers.remove(leftover)  # its save committed meanwhile
            else:
                _rm(instance.fs, leftover.path, report)
        session.commit()
    except BaseException:
        session.rollback()
        raise


def _rm(fs: Any, path: str, report: FsckReport) -> None:
    # gone meanwhile: removed by the save that left it, or by a concurrent repair
    with contextlib.suppress(FileNotFoundError):
        fs.rm(path, recursive=True)
    report.repaired_paths.append(path)
