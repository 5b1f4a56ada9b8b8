"""A catalog instance: a database, a storage root and a user, and which instance is active.

`init()` creates (or reopens) a catalog; `connect()` opens an existing one. The active instance
lives in a context variable with a process-wide fallback, so a script that calls `ln.init()` once
works everywhere, while two instances can be used side by side (``with instance.activate():``)
and threads or Dagster steps that activate their own do not trample each other.

Settings are resolved from arguments first, then the environment (``LAMIN_CORE_DB``,
``LAMIN_CORE_STORAGE``, ``LAMIN_CORE_USER``), then the settings file written by the last
`init()`/`connect()` (``$LAMIN_CORE_HOME/settings.json``, default ``~/.lamin_core``), which never
holds a password (`lamin_core.instance.settings`). What the database role may change is read
once at connect (`lamin_core.instance.access`), so that writes it may not make fail before
anything is written.

The instance owns the unit of work: `Instance.reading()` brackets reads (the implicit read
transaction ends when the outermost block does, so PostgreSQL connections do not sit idle in a
transaction and SQLite readers see other processes' writes), `Instance.writing()` brackets writes
(committed on leaving, rolled back on an error, optionally under a named lock from
`lamin_core.instance.locks`). Blocks nest: an inner block joins the outermost one. Driver
errors become LaminErrors in the engine's error hook (`lamin_core.errors.database`), whichever
statement or commit raises them. `deactivate()` forgets the active instances (tests start from
nothing).
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import getpass
import hashlib
import os
import shutil
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session, scoped_session, sessionmaker

from lamin_core import console
from lamin_core.binding import above
from lamin_core.errors import InstanceError, StorageError
from lamin_core.errors import database as dberrors
from lamin_core.instance.access import (
    UNRESTRICTED,
    Access,
    check_write,
    detect_access,
    install_write_guard,
    refresh_spaces,
)
from lamin_core.instance.engine import create_engine
from lamin_core.instance.locks import hold_locks
from lamin_core.instance.settings import (
    private_dir,
    read_settings,
    resolve_password,
    settings_dir,
    write_settings,
)
from lamin_core.storage.paths import filesystem, is_local, normalize_root

CATALOG_DIR = ".lamindb"
SQLITE_NAME = "lamin.db"
STAGING_DIR = "_staging"
INSUFFICIENT_PRIVILEGE = "42501"  # PostgreSQL's SQLSTATE for "permission denied"
# session.info keys: how many reading() / writing() blocks of the session are open
_READS = "lamin_core.reads"
_WRITES = "lamin_core.writes"

_active: contextvars.ContextVar[Instance | None] = contextvars.ContextVar(
    "lamin_core_instance", default=None
)
_default: Instance | None = None
_default_lock = threading.Lock()


def staging_root(instance: Instance, *, create: bool = False) -> Path:
    """Return the local folder where content waits before it is stored in `instance`.

    For local storage it is ``<root>/.lamindb/_staging``: moving a staged file into place is then
    a rename on one filesystem. For remote storage it is a folder of the user's own, private
    (mode 0700) inside the settings folder, one per storage root, never a shared temporary
    folder. `lamin-core fsck` looks here for leftovers of interrupted saves.

    Args:
        instance: The catalog.
        create: Create the folder when it does not exist.
    """
    if instance.is_local_storage:
        folder = Path(instance.catalog_path) / STAGING_DIR
        if create:
            folder.mkdir(parents=True, exist_ok=True)
        return folder
    digest = hashlib.sha256(instance.storage_root.encode()).hexdigest()[:16]
    if create:
        return private_dir(STAGING_DIR, digest)
    return settings_dir() / STAGING_DIR / digest


def cache_root() -> Path:
    """Return the user's private folder (mode 0700) for local copies of remote artifacts."""
    return private_dir("cache")


@dataclass(eq=False)
class Instance:
    """An open catalog: engine, storage root and user.

    Examples:
        >>> instance = ln.init(storage="./data")
        >>> with instance.activate():
        ...     ln.Artifact.df()
    """

    engine: Engine
    storage_root: str
    user_handle: str
    storage_options: dict[str, Any] = field(default_factory=dict)
    storage_id: int = 0
    user_id: int = 0
    access: Access = UNRESTRICTED
    _sessions: scoped_session[Session] | None = None
    _closed: bool = False

    def __post_init__(self) -> None:
        factory = sessionmaker[Session](
            bind=self.engine,
            class_=dberrors.CatalogSession,
            expire_on_commit=False,
            autoflush=False,
            info={"instance": self},
        )
        if not self.access.is_unrestricted:
            install_write_guard(factory, lambda: self.access, self.name)
        self._sessions = scoped_session(factory)
        if not self.is_local_storage:
            self._filesystem  # noqa: B018  (an unknown protocol or a missing extra fails here)

    @functools.cached_property
    def _filesystem(self) -> tuple[Any, str]:
        # local storage opens fsspec with the first file: connecting and querying need none
        return filesystem(self.storage_root, **self.storage_options)

    @property
    def fs(self) -> Any:
        """The fsspec filesystem of the storage root."""
        return self._filesystem[0]

    @fs.setter
    def fs(self, filesystem: Any) -> None:  # another filesystem over the same root (a wrapper)
        self._filesystem = (filesystem, self.storage_path)

    @property
    def storage_path(self) -> str:
        """The storage root as a path within `fs`."""
        return self._filesystem[1]

    def check_write(
        self,
        what: str | Callable[[], str],
        writes: Iterable[tuple[str, str]],
        space_ids: Iterable[int | None] = (),
    ) -> None:
        """Raise `NoWriteAccess` before anything is written unless the role may make the writes.

        Args:
            what: The attempt, for the message ("save ULabel(...)"), or a callable making it.
            writes: (table, action) pairs, action one of INSERT, UPDATE, DELETE.
            space_ids: The spaces the rows go into (None: the default space "all").

        Raises:
            NoWriteAccess: the role is read-only, lacks a privilege, or has no access to a space
                (checked again against the database first: the owner may have granted it since).
        """
        if self.access.is_unrestricted:
            return
        writes, space_ids = list(writes), list(space_ids)
        if not all(self.access.may_use_space(space_id) for space_id in space_ids):
            with self.engine.connect() as connection:
                self.access = refresh_spaces(self.access, connection)
        check_write(self.access, self.name, what, writes, space_ids)

    @property
    def session(self) -> Session:
        """The session of the calling thread."""
        if self._closed or self._sessions is None:
            raise InstanceError(
                f"The catalog {self.name!r} is closed. Open it again with "
                f"ln.connect({self.db_url!r}, storage={self.storage_root!r})."
            )
        return dberrors.recovered(self._sessions())

    @contextlib.contextmanager
    def reading(self) -> Iterator[Session]:
        """Read inside a ``with`` block; the read transaction ends when the block does.

        Inside another `reading()` or `writing()` block of the same thread, the block joins the
        outer one and ends nothing. The outermost block ends the implicit transaction of its
        reads (a commit: no statement is sent), unless the session holds unsaved edits, which
        are their owner's to save or drop. A database error rolls back the read (a failed
        statement aborts a PostgreSQL transaction); other errors leave the session as it is.

        Yields:
            The calling thread's session.

        Examples:
            >>> with instance.reading() as session:
            ...     n = session.scalar(sa.select(sa.func.count()).select_from(ln.ULabel))
        """
        session = self.session
        info = session.info
        joined = bool(info.get(_READS) or info.get(_WRITES))
        info[_READS] = info.get(_READS, 0) + 1
        try:
            yield session
        except Exception as error:
            if not joined and self._is_database_error(error):
                session.rollback()
            raise
        finally:
            info[_READS] -= 1
        if not joined:
            _end_read(session)

    @contextlib.contextmanager
    def writing(self, *, lock: str | None = None) -> Iterator[Session]:
        """Write inside a ``with`` block: committed on leaving it, rolled back on an error.

        Inside another `writing()` block of the same thread, the block joins the outer one: the
        outermost block commits or rolls back. Driver errors (a constraint, a lock timeout, no
        privilege) arrive as LaminErrors (`lamin_core.errors.database`); after one, the catalog
        holds nothing of the block.

        Args:
            lock: The name of a lock (`lamin_core.instance.locks`) held from the start of the
                block until the transaction ends, so that writers of the same name run one at a
                time: on PostgreSQL an advisory transaction lock, on SQLite the database's write
                lock.

        Yields:
            The calling thread's session.

        Examples:
            >>> with instance.writing(lock="my-pipeline:runs") as session:
            ...     stale = sa.update(ln.Run).where(ln.Run.status == "started")
            ...     session.execute(stale.values(status="aborted"))
        """
        session = self.session
        info = session.info
        joined = bool(info.get(_WRITES))
        info[_WRITES] = info.get(_WRITES, 0) + 1
        try:
            if lock is not None:
                hold_locks(session, [lock])
            yield session
            if not joined:
                session.commit()
        except BaseException:
            if not joined:
                session.rollback()
            raise
        finally:
            info[_WRITES] -= 1

    def _is_database_error(self, error: BaseException) -> bool:
        """Whether `error` came from the database, directly or as the cause of a LaminError."""
        driver_error = getattr(self.engine.dialect.dbapi, "Error", sa.exc.SQLAlchemyError)
        chain: list[BaseException] = []
        seen: BaseException | None = error
        while seen is not None and seen not in chain:
            if isinstance(seen, (sa.exc.SQLAlchemyError, driver_error)):
                return True
            chain.append(seen)
            seen = seen.__cause__ or seen.__context__
        return False

    @property
    def db_url(self) -> str:
        """The database URL with the password hidden."""
        return self.engine.url.render_as_string(hide_password=True)

    @property
    def name(self) -> str:
        """A short name: the last part of the storage root."""
        return self.storage_root.rstrip("/").rsplit("/", 1)[-1]

    @property
    def is_local_storage(self) -> bool:
        """Whether artifacts are stored on the local filesystem."""
        return is_local(self.storage_root)

    @property
    def catalog_path(self) -> str:
        """The folder that holds stored artifact files: ``<root>/.lamindb``."""
        return f"{self.storage_path.rstrip('/')}/{CATALOG_DIR}"

    @contextlib.contextmanager
    def activate(self) -> Iterator[Instance]:
        """Make this the active instance inside a ``with`` block (this context only)."""
        token = _active.set(self)
        try:
            yield self
        finally:
            _active.reset(token)

    def close(self) -> None:
        """Close the sessions and the engine's connections."""
        global _default
        if self._sessions is not None:
            self._sessions.remove()
        self.engine.dispose()
        self._closed = True
        with _default_lock:
            if _default is self:
                _default = None

    def __repr__(self) -> str:
        return f"Instance(db={self.db_url!r}, storage={self.storage_root!r})"


def _end_read(session: Session) -> None:
    """End the implicit transaction of a read, unless the session holds unsaved user edits."""
    if session.in_transaction() and not (session.new or session.dirty or session.deleted):
        session.commit()


def deactivate() -> None:
    """Close the process-wide active instance and forget the active one of this context.

    Afterwards `get_instance()` connects afresh from the environment or the settings file, as in
    a new process. An instance activated only in a ``with instance.activate():`` block is left
    open: it belongs to that block.
    """
    global _default
    with _default_lock:
        default, _default = _default, None
    if default is not None:
        default.close()
    _active.set(None)


def active_instance() -> Instance | None:
    """Return the active instance, or None when none is open (never connects)."""
    return _active.get() or _default


def get_instance() -> Instance:
    """Return the active instance, connecting from environment or settings when none is.

    Raises:
        InstanceError: no catalog is active or configured.
    """
    instance = _active.get() or _default
    if instance is not None:
        return instance
    db, storage, _ = resolve_location(None, None, None)
    if storage is None and db is None:
        raise InstanceError(
            "No active catalog. Call ln.init(storage='./my-catalog') to create one, or "
            "ln.connect(db_url, storage=...) to open an existing one (or set LAMIN_CORE_STORAGE)."
        )
    return connect(db, storage=storage)


def resolve_location(
    db: str | None, storage: str | os.PathLike[str] | None, user: str | None
) -> tuple[str | None, str | None, str | None]:
    """Return (database URL, storage, user): the arguments, else the environment, else settings."""
    env = os.environ
    settings: dict[str, Any] | None = None

    def from_settings(key: str) -> Any:
        nonlocal settings
        if settings is None:
            settings = read_settings()
        return settings.get(key)

    storage_value = (
        os.fspath(storage)
        if storage is not None
        else env.get("LAMIN_CORE_STORAGE") or (None if db else from_settings("storage"))
    )
    db_value = db or env.get("LAMIN_CORE_DB") or (None if storage else from_settings("db"))
    user_value = user or env.get("LAMIN_CORE_USER") or from_settings("user")
    return db_value, storage_value, user_value


def default_db_url(storage_root: str) -> str:
    """Return the URL of the SQLite file inside a local storage root's ``.lamindb`` folder."""
    if not is_local(storage_root):
        raise InstanceError(
            f"The storage {storage_root!r} is remote, so the SQLite file cannot live in it. "
            "Pass a database URL: ln.connect('postgresql://...', storage=...)."
        )
    return f"sqlite:///{Path(storage_root) / CATALOG_DIR / SQLITE_NAME}"


def _open(
    db: str | None,
    storage: str | os.PathLike[str] | None,
    user: str | None,
    *,
    create: bool,
    auto_migrate: bool,
    activate: bool,
    storage_options: dict[str, Any] | None,
) -> Instance:
    db, storage_value, user = resolve_location(db, storage, user)
    if storage_value is None:
        raise InstanceError(
            "No storage given. Pass storage='./my-catalog' (a local folder) or a URL such as "
            "'s3://bucket/prefix', or set LAMIN_CORE_STORAGE."
        )
    root = normalize_root(storage_value)
    new_folder = _make_catalog_folder(root) if is_local(root) and create else None
    try:
        engine, access = _open_database(db, root, create=create, auto_migrate=auto_migrate)
    except BaseException:
        if new_folder is not None:  # an unreachable database leaves no folder behind
            shutil.rmtree(new_folder, ignore_errors=True)
        raise
    handle = user or system_user()
    instance = Instance(
        engine=engine,
        storage_root=root,
        user_handle=handle,
        storage_options=storage_options or {},
        access=access,
    )
    above.register_storage_and_user(instance)
    if activate:
        _set_default(instance)
        write_settings({"db": db, "storage": root, "user": user})  # without the password
        # as LaminDB; a service opening catalogs without activating them stays quiet
        console.logger.info(f"→ connected lamindb: {instance.user_handle}/{instance.name}")
    return instance


def _open_database(
    db: str | None, root: str, *, create: bool, auto_migrate: bool
) -> tuple[Engine, Access]:
    """Connect to the catalog's database, creating or upgrading its schema as allowed.

    Raises:
        InstanceError: the database cannot be reached or the role may not use it.
    """
    # a URL from the settings file has no password: the environment may hold it (else libpq
    # looks in ~/.pgpass)
    db_url = resolve_password(db) if db else default_db_url(root)
    engine = create_engine(db_url, create=create)
    shown = engine.url.render_as_string(hide_password=True)
    try:
        above.ensure_schema(engine, create=create, auto_migrate=auto_migrate)
        with engine.connect() as connection:
            access = detect_access(connection)
    except ProgrammingError as error:
        engine.dispose()
        if getattr(error.orig, "sqlstate", None) != INSUFFICIENT_PRIVILEGE:
            raise
        raise InstanceError(
            f"The database role of {shown!r} may not use this catalog: {error.orig}. The "
            "catalog's owner grants access with `lamin-core grant --read-only ROLE` (or "
            "--write) and upgrades an older schema with `lamin-core migrate`."
        ) from error
    except OperationalError as error:
        engine.dispose()
        hint = (
            " If the server wants a password, give it in the URL, in LAMIN_CORE_DB, or in "
            "~/.pgpass (lamin-core never stores it)."
            if engine.url.password is None and engine.dialect.name == "postgresql"
            else ""
        )
        raise InstanceError(
            f"Cannot reach the catalog database {shown!r}: {error.orig}. Check that the server "
            f"runs and the URL (host, port, database, user) is right.{hint}"
        ) from error
    except InstanceError:
        engine.dispose()
        raise
    return engine, access


def _make_catalog_folder(root: str) -> Path | None:
    """Create ``<root>/.lamindb`` for a new local catalog.

    Returns:
        The outermost folder this call created (to remove if the database then fails), or
        None when ``.lamindb`` was there already.

    Raises:
        StorageError: the root is a file, or the folder cannot be created there (a read-only
            or virtual filesystem such as /proc, no permission); says what to pass instead.
    """
    folder = Path(root, CATALOG_DIR)
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        blocker = next(
            (p for p in (Path(root), *Path(root).parents) if p.exists() and not p.is_dir()), None
        )
        problem = (
            f"{str(blocker)!r} is a file, not a folder"
            if blocker is not None
            else f"cannot create the folder {str(Path(root, CATALOG_DIR))!r} ({error.strerror})"
        )
        raise StorageError(
            f"Cannot use {root!r} as the storage of a catalog: {problem}. Pass a folder you may "
            "write to (it is created if missing), e.g. ln.init(storage='./my-catalog')."
        ) from error
    return missing[-1] if missing else None


def system_user() -> str:
    """Return the login name of this process's user (\"unknown\" when it has none)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _set_default(instance: Instance) -> None:
    global _default
    with _default_lock:
        _default = instance
    _active.set(None)


def init(
    storage: str | os.PathLike[str] | None = None,
    db: str | None = None,
    *,
    user: str | None = None,
    activate: bool = True,
    storage_options: dict[str, Any] | None = None,
) -> Instance:
    """Create a catalog, or reopen it if it exists, and (by default) make it the active one.

    Args:
        storage: A local folder or a URL (``s3://bucket/prefix``) where artifacts are stored.
        db: A SQLAlchemy database URL; default: a SQLite file under ``<storage>/.lamindb``.
        user: The handle of the user creating records; default: the system user.
        activate: Make this the process-wide active instance and remember it in the settings
            file; False creates the catalog without touching either (as services need).
        storage_options: Options for the fsspec filesystem (credentials, endpoint).

    Returns:
        The open instance.

    Raises:
        InstanceError: the database is unreachable or its schema cannot be brought up to date.

    Examples:
        >>> import lamin_core as ln
        >>> ln.init(storage="./test-registries")
    """
    return _open(
        db,
        storage,
        user,
        create=True,
        auto_migrate=True,
        activate=activate,
        storage_options=storage_options,
    )


def connect(
    db: str | None = None,
    *,
    storage: str | os.PathLike[str] | None = None,
    user: str | None = None,
    auto_migrate: bool = True,
    activate: bool = True,
    storage_options: dict[str, Any] | None = None,
) -> Instance:
    """Open an existing catalog and (by default) make it the active one.

    Args:
        db: A SQLAlchemy database URL such as ``postgresql://user@host/db``; a local folder
            without `storage` (``ln.connect("./my-catalog")``) is taken as the storage of a
            catalog with its SQLite database inside.
        storage: The storage root of the catalog.
        user: The handle of the user creating records.
        auto_migrate: Upgrade an older schema; when False, an older schema raises with the fix.
        activate: Make this the process-wide active instance.
        storage_options: Options for the fsspec filesystem (credentials, endpoint).

    Raises:
        InstanceError: there is no catalog, it is unreachable, or its schema is out of date.
    """
    if db is not None and storage is None and "://" not in str(db):
        db, storage = None, db  # ln.connect("./my-catalog")
    return _open(
        db,
        storage,
        user,
        create=False,
        auto_migrate=auto_migrate,
        activate=activate,
        storage_options=storage_options,
    )
