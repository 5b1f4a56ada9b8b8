"""The settings file and the user's private folders: what lamin-core keeps on disk, and for whom.

A catalog's database URL may carry a password. It never reaches the disk: the settings file keeps
the URL without it, and at connect time the password comes from the URL passed in, from
``LAMIN_CORE_DB``, or from ``~/.pgpass`` (``PGPASSFILE``), which libpq reads as psql does.

As a module attribute of the package, ``ln.settings`` (also ``ln.setup.settings``) holds LaminDB's
run-time settings: ``ln.settings.verbosity = "warning"`` quiets the catalog's messages
(`lamin_core.console`); ``ln.settings.user.handle``, ``ln.settings.instance`` and
``ln.settings.storage`` describe the active catalog.

The settings folder (``$LAMIN_CORE_HOME``, default ``~/.lamin_core``) is private to its user:
mode 0700, files 0600, as OpenSSH and libpq want their files. A folder or file with looser modes
is tightened (as ``chmod go-rwx`` would); a folder that belongs to another user is refused, since
tightening it would lock its owner out. The folders for staging uploads to remote storage and for
local copies of remote artifacts live inside it: they hold catalog content.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import stat
import sys
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from lamin_core import console
from lamin_core.errors import InstanceError

__all__ = [
    "SETTINGS_FILE",
    "private_dir",
    "read_settings",
    "resolve_password",
    "settings_dir",
    "strip_password",
    "verbosity",
    "write_settings",
]

# ln.settings.verbosity, .user, .instance, .storage: properties of this module (below), so that
# they follow the active catalog and setting verbosity takes effect
verbosity: str


@dataclass(frozen=True)
class UserSettings:
    """The user records are created by: ``ln.settings.user.handle``.

    Attributes:
        handle: The handle given to `ln.init` / `ln.connect` (``user=``), else the system user.
        id: The user's id in the active catalog; None without one.
    """

    handle: str
    id: int | None = None


class _SettingsModule(types.ModuleType):
    @property
    def verbosity(self) -> str:
        """How much the catalog prints: error, warning, success, info (default), hint, debug."""
        return console.get_verbosity()

    @verbosity.setter
    def verbosity(self, value: str | int) -> None:
        console.set_verbosity(value)

    @property
    def user(self) -> UserSettings:
        """The user of the active catalog, or the system user when none is active."""
        from lamin_core.instance.catalog import active_instance, system_user

        instance = active_instance()
        if instance is None:
            return UserSettings(handle=system_user())
        return UserSettings(handle=instance.user_handle, id=instance.user_id or None)

    @property
    def instance(self) -> Any:
        """The active catalog (`lamin_core.Instance`), connecting as `ln.connect()` would.

        Raises:
            InstanceError: no catalog is active or configured; the message says how to make one.
        """
        from lamin_core.instance.catalog import get_instance

        return get_instance()

    @property
    def storage(self) -> str:
        """The storage root of the active catalog (a folder or ``s3://bucket/prefix``)."""
        return str(self.instance.storage_root)


sys.modules[__name__].__class__ = _SettingsModule

logger = logging.getLogger("lamin_core")

SETTINGS_FILE = "settings.json"
PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def settings_dir() -> Path:
    """Return the folder of the settings file (it may not exist yet)."""
    return Path(os.environ.get("LAMIN_CORE_HOME", "~/.lamin_core")).expanduser()


def _owner_uid() -> int:
    return os.getuid()


def _make_private(path: Path, private_mode: int) -> None:
    """Give `path` (ours) `private_mode` when others may access it; refuse someone else's."""
    info = path.stat()
    if info.st_uid != _owner_uid():
        raise InstanceError(
            f"The folder {str(path)!r} belongs to another user (uid {info.st_uid}), so "
            "lamin-core cannot keep its settings, staging files and cache private there. Set "
            "LAMIN_CORE_HOME to a folder of your own."
        )
    if stat.S_IMODE(info.st_mode) & 0o077:
        path.chmod(private_mode)


def private_dir(*parts: str) -> Path:
    """Return a folder inside the settings folder, created (and tightened) to mode 0700.

    Every level from the settings folder down is private, so nothing inside it is readable by
    other users whatever the modes of the files.

    Raises:
        InstanceError: the settings folder or a folder inside it belongs to another user.
    """
    folders = [settings_dir()]
    for part in parts:
        folders.append(folders[-1] / part)
    for folder in folders:
        folder.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
        _make_private(folder, PRIVATE_DIR_MODE)
    return folders[-1]


# libpq also takes passwords as URL parameters (?password=...)
QUERY_PASSWORDS = ("password", "sslpassword")


def strip_password(url: str) -> str:
    """Return the database URL without its password, also one given as a parameter."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return url  # not a URL at all: nothing that could hold a password
    secret_params = [name for name in QUERY_PASSWORDS if name in parsed.query]
    if parsed.password is None and not secret_params:
        return url
    # URL.set() ignores None, so the named tuple is replaced directly
    stripped = parsed._replace(password=None).difference_update_query(secret_params)
    return stripped.render_as_string(hide_password=False)


def resolve_password(url: str) -> str:
    """Return `url` with its password where lamin-core can hide it, or from the environment.

    A ``?password=`` parameter moves into the URL's password (which messages and
    `Instance.db_url` hide). A URL without a password gets the one of ``LAMIN_CORE_DB`` when
    both name the same server login: the settings file holds URLs without passwords, and a
    password kept in the environment (out of files and out of ``ps``) completes them. Otherwise
    the URL is returned unchanged, and libpq may still find a password in ``~/.pgpass``.
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        return url
    if parsed.password is None and "password" in parsed.query:
        given = parsed.query["password"]
        password = given if isinstance(given, str) else given[0]
        parsed = parsed.set(password=password).difference_update_query(["password"])
        url = parsed.render_as_string(hide_password=False)
    environment = os.environ.get("LAMIN_CORE_DB")
    if not environment or parsed.password is not None:
        return url
    try:
        source = make_url(environment)
    except ArgumentError:
        return url
    same = ("username", "host", "port", "database")
    if source.password is None or parsed.get_backend_name() != source.get_backend_name():
        return url
    if any(getattr(parsed, name) != getattr(source, name) for name in same):
        return url
    return parsed.set(password=source.password).render_as_string(hide_password=False)


def _private_file(path: Path) -> None:
    if path.exists():
        _make_private(path, PRIVATE_FILE_MODE)


def read_settings() -> dict[str, Any]:
    """Return the values of the settings file ({} when there is none).

    A file written by an older lamin-core may hold a database password: the password is used for
    this connection, removed from the file, and a warning says where to keep it instead.

    Raises:
        InstanceError: the file is not valid JSON, or the folder belongs to another user.
    """
    path = settings_dir() / SETTINGS_FILE
    if not path.exists():
        return {}
    try:
        values = dict(json.loads(path.read_text()))
    except (OSError, ValueError) as error:
        raise InstanceError(
            f"Cannot read the settings file {path}: {error}. Fix or delete it, then call "
            "ln.init(storage=...) again."
        ) from error
    db = values.get("db")
    if isinstance(db, str) and strip_password(db) != db:
        write_settings(values)
        logger.warning(
            "removed the password of the database %s from the settings file %s (lamin-core "
            "never keeps passwords in files). Give it with the URL, in the LAMIN_CORE_DB "
            "environment variable, or in ~/.pgpass; until then this session uses it.",
            make_url(db).render_as_string(hide_password=True),
            path,
        )
    else:
        # a read-only home, or a folder of another user: reading still works, and the file
        # holds no secret to protect
        with contextlib.suppress(OSError, InstanceError):
            private_dir()
            _private_file(path)
    return values


def write_settings(values: dict[str, Any]) -> None:
    """Write the settings file (mode 0600 in a 0700 folder), never with a password in it.

    A read-only home does not stop work: the settings file is only a convenience, so an
    unwritable one is skipped with a debug message.

    Raises:
        InstanceError: the settings folder belongs to another user.
    """
    stored = dict(values)
    if isinstance(stored.get("db"), str):
        stored["db"] = strip_password(stored["db"])
    try:
        folder = private_dir()
        target = folder / SETTINGS_FILE
        tmp = folder / f"{SETTINGS_FILE}.{os.getpid()}.tmp"
        tmp.unlink(missing_ok=True)
        # created private from the start: no moment where others could read it
        descriptor = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(json.dumps(stored, indent=2))
        tmp.replace(target)
    except OSError as error:
        logger.debug("settings file not written: %s", error)
