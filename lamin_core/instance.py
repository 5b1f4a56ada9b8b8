"""A catalog instance: a database, a storage root and a user, and which instance is active.

`init()` creates (or reopens) a catalog; `connect()` opens an existing one. The active instance
lives in a context variable with a process-wide fallback, so a script that calls `ln.init()` once
works everywhere, while two instances can be used side by side (``with instance.activate():``)
and threads or Dagster steps that activate their own do not trample each other.

Settings are resolved from arguments first, then the environment (``LAMIN_CORE_DB``,
``LAMIN_CORE_STORAGE``, ``LAMIN_CORE_USER``), then the settings file written by the last
`init()`/`connect()` (``$LAMIN_CORE_HOME/settings.json``, default ``~/.lamin_core``).
"""

from __future__ import annotations

import contextlib
import contextvars
import getpass
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import Session, scoped_session, sessionmaker

from lamin_core import dberrors
from lamin_core.errors import InstanceError
from lamin_core.storage.paths import filesystem, is_local, normalize_root, storage_type

CATALOG_DIR = ".lamindb"
SQLITE_NAME = "lamin.db"

_active: contextvars.ContextVar[Instance | None] = contextvars.ContextVar(
    "lamin_core_instance", default=None
)
_default: Instance | None = None
_default_lock = threading.Lock()


def settings_dir() -> Path:
    """Return the folder of the settings file."""
    return Path(os.environ.get("LAMIN_CORE_HOME", "~/.lamin_core")).expanduser()


def _read_settings() -> dict[str, Any]:
    path = settings_dir() / "settings.json"
    if not path.exists():
        return {}
    try:
        return dict(json.loads(path.read_text()))
    except (OSError, ValueError) as error:
        raise InstanceError(
            f"Cannot read the settings file {path}: {error}. Fix or delete it, then call "
            "ln.init(storage=...) again."
        ) from error


def _write_settings(values: dict[str, Any]) -> None:
    folder = settings_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f"settings.json.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(values, indent=2))
        tmp.replace(folder / "settings.json")
    except OSError:
        pass  # a read-only home must not stop work; the settings file is only a convenience


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
        self._sessions = scoped_session(factory)
        self.fs, self.storage_path = filesystem(self.storage_root, **self.storage_options)

    @property
    def session(self) -> Session:
        """The session of the calling thread."""
        if self._closed or self._sessions is None:
            raise InstanceError(
                f"The catalog {self.name!r} is closed. Open it again with "
                f"ln.connect({self.db_url!r}, storage={self.storage_root!r})."
            )
        return dberrors.recovered(self._sessions())

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


def get_instance() -> Instance:
    """Return the active instance, connecting from environment or settings when none is.

    Raises:
        InstanceError: no catalog is active or configured.
    """
    instance = _active.get() or _default
    if instance is not None:
        return instance
    db, storage, _ = _resolve(None, None, None)
    if storage is None and db is None:
        raise InstanceError(
            "No active catalog. Call ln.init(storage='./my-catalog') to create one, or "
            "ln.connect(db_url, storage=...) to open an existing one (or set LAMIN_CORE_STORAGE)."
        )
    return connect(db, storage=storage)


def _resolve(
    db: str | None, storage: str | os.PathLike[str] | None, user: str | None
) -> tuple[str | None, str | None, str | None]:
    env = os.environ
    settings: dict[str, Any] | None = None

    def from_settings(key: str) -> Any:
        nonlocal settings
        if settings is None:
            settings = _read_settings()
        return settings.get(key)

    storage_value = (
        os.fspath(storage)
        if storage is not None
        else env.get("LAMIN_CORE_STORAGE") or (None if db else from_settings("storage"))
    )
    db_value = db or env.get("LAMIN_CORE_DB") or (None if storage else from_settings("db"))
    user_value = user or env.get("LAMIN_CORE_USER") or from_settings("user")
    return db_value, storage_value, user_value


def _default_db_url(storage_root: str) -> str:
    if not is_local(storage_root):
        raise InstanceError(
            f"The storage {storage_root!r} is remote, so the SQLite file cannot live in it. "
            "Pass a database URL: ln.connect('postgresql://...', storage=...)."
        )
    return f"sqlite:///{Path(storage_root) / CATALOG_DIR / SQLITE_NAME}"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run while one process writes; the busy timeout makes concurrent writers
    # (Dagster's multiprocess executor) wait for the lock instead of failing at once.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=60000")
    cursor.close()


def create_engine(db_url: str | URL, *, create: bool = True) -> Engine:
    """Create an engine for a catalog database: SQLite tuned for concurrency, or PostgreSQL.

    Raises:
        InstanceError: the URL is malformed or names an unsupported database.
    """
    try:
        url = make_url(db_url)
    except ArgumentError as error:
        raise InstanceError(
            f"Invalid database URL {str(db_url)!r}: {error}. Use 'sqlite:///path/lamin.db' or "
            "'postgresql://user@host:5432/dbname'."
        ) from error
    backend = url.get_backend_name()
    if backend == "sqlite":
        if url.database and url.database != ":memory:":
            if not create and not Path(url.database).exists():
                raise InstanceError(
                    f"No catalog at {url.database!r}. Create one with ln.init(storage=...)."
                )
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            url, connect_args={"timeout": 60}, json_serializer=dberrors.json_dumps
        )
        dberrors.install(engine)
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        from lamin_core.query.sql import install_sqlite_functions

        install_sqlite_functions(engine)  # REGEXP for the regex/iregex lookups
        return engine
    if backend == "postgresql":
        if url.drivername in ("postgresql", "postgres"):
            url = url.set(drivername="postgresql+psycopg")
        try:
            engine = sa.create_engine(url, pool_pre_ping=True, json_serializer=dberrors.json_dumps)
        except (NoSuchModuleError, ImportError) as error:
            raise InstanceError(
                "PostgreSQL needs the psycopg driver: pip install 'lamin-core[postgres]'."
            ) from error
        dberrors.install(engine)  # driver errors become LaminErrors
        return engine
    raise InstanceError(
        f"Unsupported database {backend!r} in {url.render_as_string(hide_password=True)!r}: "
        "lamin-core runs on SQLite and PostgreSQL."
    )


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
    from lamin_core.migrations import ensure_schema

    db, storage_value, user = _resolve(db, storage, user)
    if storage_value is None:
        raise InstanceError(
            "No storage given. Pass storage='./my-catalog' (a local folder) or a URL such as "
            "'s3://bucket/prefix', or set LAMIN_CORE_STORAGE."
        )
    root = normalize_root(storage_value)
    if is_local(root) and create:
        Path(root, CATALOG_DIR).mkdir(parents=True, exist_ok=True)
    db_url = db or _default_db_url(root)
    engine = create_engine(db_url, create=create)
    shown = engine.url.render_as_string(hide_password=True)
    try:
        ensure_schema(engine, create=create, auto_migrate=auto_migrate)
    except OperationalError as error:
        engine.dispose()
        raise InstanceError(
            f"Cannot reach the catalog database {shown!r}: {error.orig}. Check that the server "
            "runs and the URL (host, port, database, user) is right."
        ) from error
    except InstanceError:
        engine.dispose()
        raise
    handle = user or _system_user()
    instance = Instance(
        engine=engine, storage_root=root, user_handle=handle, storage_options=storage_options or {}
    )
    _register_storage_and_user(instance)
    if activate:
        _set_default(instance)
        _write_settings({"db": db, "storage": root, "user": user})
    return instance


def _system_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _register_storage_and_user(instance: Instance) -> None:
    from lamin_core.models import Storage, User

    session = instance.session
    try:
        user = session.scalar(sa.select(User).where(User.handle == instance.user_handle))
        if user is None:
            user = User(handle=instance.user_handle, name=instance.user_handle)
            session.add(user)
            session.flush()
        storage = session.scalar(sa.select(Storage).where(Storage.root == instance.storage_root))
        if storage is None:
            storage = Storage(
                root=instance.storage_root,
                type=storage_type(instance.storage_root),
                created_by_id=user.id,
            )
            session.add(storage)
        session.commit()
    except sa.exc.IntegrityError:
        # another process registered the same storage or user at the same moment: use theirs
        session.rollback()
        return _register_storage_and_user(instance)
    instance.user_id = user.id
    instance.storage_id = storage.id


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
