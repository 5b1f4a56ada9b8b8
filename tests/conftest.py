"""Fixtures shared by every suite: a fresh catalog per test on SQLite and PostgreSQL, and S3.

PostgreSQL tests get their own schema in the `test` database, dropped afterwards. In CI
(``CI=true``) an unreachable server fails the run; elsewhere those tests skip with the reason.
S3 tests run against a moto server on 127.0.0.1, started once per session.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

import lamin_core as ln
import lamin_core.testing

# Importing example_pipelines.definitions (as `dagster dev` does) opens its catalog; during test
# collection that must be a private folder, not ./demo-catalog shared by the xdist workers.
_EXAMPLES_STORAGE = tempfile.mkdtemp(prefix="lamin-examples-")
os.environ["LAMIN_DAGSTER_STORAGE"] = _EXAMPLES_STORAGE  # one per process: xdist workers too
atexit.register(shutil.rmtree, _EXAMPLES_STORAGE, ignore_errors=True)

POSTGRES_URL = os.environ.get("LAMIN_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(reason: str) -> None:
    """Fail in CI, skip elsewhere: a missing service must not pass silently in CI."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: every service must be there)")
    pytest.skip(reason)


# The upstream ontology and gene snapshots live beside the repository (../shared/data), not in it;
# LAMIN_TEST_SHARED_DATA points the tests elsewhere (or at a missing folder, to check the skips).
SHARED_DATA = Path(
    os.environ.get("LAMIN_TEST_SHARED_DATA")
    or Path(__file__).resolve().parents[2] / "shared" / "data"
)


def shared_data(relative: str = "") -> Path:
    """Return a path in the shared data folder; skip the test (fail in CI) when it is missing."""
    path = SHARED_DATA / relative
    if not path.exists():
        unavailable(
            f"shared test data {path} is missing: put the shared data folder (ontologies, genes) "
            "beside the repository as ../shared/data, or set LAMIN_TEST_SHARED_DATA to it"
        )
    return path


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Clear LAMIN_* variables, point settings to a temp folder, forget active instances."""
    for name in list(os.environ):
        if name.startswith("LAMIN_CORE"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("LAMIN_CORE_HOME", str(tmp_path / "lamin-home"))
    yield
    lamin_core.testing.reset()


_postgres_checked: str | None = None


def _postgres_problem() -> str:
    """Return why PostgreSQL cannot be used ('' when it can), checking once per session."""
    global _postgres_checked
    if _postgres_checked is None:
        try:
            engine = sa.create_engine(
                POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://")
            )
            with engine.connect() as connection:
                connection.execute(sa.text("select 1"))
            engine.dispose()
            _postgres_checked = ""
        except Exception as error:  # any failure means the same: no server to test against
            _postgres_checked = f"PostgreSQL at {POSTGRES_URL} is unreachable: {error}"
    return _postgres_checked


def schema_url(schema: str) -> str:
    """Return the URL of the test database with `schema` first on the search path."""
    return f"{POSTGRES_URL}?options=-csearch_path%3D{schema},public"


@pytest.fixture
def postgres_url_factory() -> Iterator[Callable[[], str]]:
    """Return a function that makes a fresh schema in the test database and returns its URL;
    the schemas are dropped afterwards."""
    problem = _postgres_problem()
    if problem:
        unavailable(problem)
    admin = sa.create_engine(POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://"))
    schemas: list[str] = []

    def make() -> str:
        schema = f"lamin_t_{uuid.uuid4().hex[:12]}"
        with admin.begin() as connection:
            connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        schemas.append(schema)
        return schema_url(schema)

    try:
        yield make
    finally:
        lamin_core.testing.reset()  # close the catalogs before their schemas go
        with admin.begin() as connection:
            for schema in schemas:
                connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def postgres_url(postgres_url_factory: Callable[[], str]) -> str:
    """Return a URL to a fresh schema in the test database; drop the schema afterwards."""
    return postgres_url_factory()


class ReusedCatalogSchema:
    """One PostgreSQL schema holding an empty catalog, put back to that state after each test.

    Creating a catalog's schema on PostgreSQL is some 800 DDL statements (about a second, more on
    a loaded machine), and dropping one as much again; about 1,400 tests run on PostgreSQL. Each
    test process therefore creates one catalog schema and, after every test, deletes the rows the
    test wrote, puts back the rows the new schema had (the default space) and resets the
    sequences: the next test's `ln.init` finds an empty catalog at the head revision, as on a new
    schema. A test that changed the schema itself (DDL: its fingerprint differs) gets its schema
    dropped and the next test a new one; so does every `RECREATE_AFTER`-th test, as the deleted
    rows' dead tuples pile up where autovacuum is off.
    """

    RECREATE_AFTER = 150

    # tables, columns, indexes (with their options), constraints, triggers and functions
    FINGERPRINT = """
        SELECT md5(string_agg(item, ',' ORDER BY item)) FROM (
            SELECT c.relname || ':' || c.relkind::text || ':'
                || coalesce(pg_get_indexdef(c.oid), '')
                || coalesce(array_to_string(c.reloptions, ','), '') AS item
            FROM pg_class c WHERE c.relnamespace = CAST(:schema AS regnamespace)
            UNION ALL
            SELECT c.relname || '.' || a.attname || ':' || format_type(a.atttypid, a.atttypmod)
                || a.attnotnull::text || coalesce(pg_get_expr(d.adbin, d.adrelid), '')
            FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
            LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
            WHERE c.relnamespace = CAST(:schema AS regnamespace) AND a.attnum > 0
                AND NOT a.attisdropped
            UNION ALL
            SELECT t.tgname || ':' || t.tgenabled::text || ':' || pg_get_triggerdef(t.oid)
            FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
            WHERE c.relnamespace = CAST(:schema AS regnamespace)
            UNION ALL
            SELECT conname || ':' || pg_get_constraintdef(oid) FROM pg_constraint
            WHERE connamespace = CAST(:schema AS regnamespace)
            UNION ALL
            SELECT p.proname || ':' || pg_get_functiondef(p.oid) FROM pg_proc p
            WHERE p.pronamespace = CAST(:schema AS regnamespace)
        ) items
    """

    def __init__(self) -> None:
        self.admin = sa.create_engine(
            POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://")
        )
        self.schema: str | None = None
        self.uses = 0
        self.fingerprint = ""
        self.revision = ""
        self.tables: list[str] = []
        self.seed_rows: dict[str, tuple[list[str], list[tuple[object, ...]]]] = {}
        self.sequences: dict[str, tuple[int, bool]] = {}

    def url(self) -> str:
        """Return the URL of the empty catalog schema, creating it when there is none."""
        if self.schema is None:
            self._create()
        assert self.schema is not None
        self.uses += 1
        return schema_url(self.schema)

    def _create(self) -> None:
        from lamin_core.instance import create_engine
        from lamin_core.migrations import ensure_schema

        schema = f"lamin_t_{uuid.uuid4().hex[:12]}"
        with self.admin.begin() as connection:
            connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        engine = create_engine(schema_url(schema))
        try:
            ensure_schema(engine, create=True, auto_migrate=False)
        finally:
            engine.dispose()
        with self.admin.connect() as connection:
            self.fingerprint = self._fingerprint(connection, schema)
            self.tables = list(
                connection.execute(
                    sa.text(
                        "SELECT tablename FROM pg_tables WHERE schemaname = :schema "
                        "AND tablename <> 'alembic_version' ORDER BY tablename"
                    ),
                    {"schema": schema},
                ).scalars()
            )
            self.seed_rows = {}
            for table in self.tables:
                result = connection.execute(sa.text(f'SELECT * FROM "{schema}"."{table}"'))
                rows = [tuple(row) for row in result]
                if rows:
                    self.seed_rows[table] = (list(result.keys()), rows)
            self.sequences = {}
            for sequence in connection.execute(
                sa.text("SELECT sequencename FROM pg_sequences WHERE schemaname = :schema"),
                {"schema": schema},
            ).scalars():
                last_value, is_called = connection.execute(
                    sa.text(f'SELECT last_value, is_called FROM "{schema}"."{sequence}"')
                ).one()
                self.sequences[sequence] = (last_value, is_called)
            self.revision = connection.execute(
                sa.text(f'SELECT version_num FROM "{schema}".alembic_version')
            ).scalar_one()
        self.schema = schema
        self.uses = 0

    def _fingerprint(self, connection: sa.Connection, schema: str) -> str:
        return str(connection.execute(sa.text(self.FINGERPRINT), {"schema": schema}).scalar())

    def restore(self) -> None:
        """Put the schema back to the empty catalog, or drop it when that cannot be done."""
        schema = self.schema
        if schema is None:
            return
        try:
            with self.admin.begin() as connection:
                connection.execute(sa.text("SET LOCAL lock_timeout = '10s'"))
                revision = connection.execute(
                    sa.text(f'SELECT version_num FROM "{schema}".alembic_version')
                ).all()
                if (
                    self.uses >= self.RECREATE_AFTER
                    or revision != [(self.revision,)]
                    or self._fingerprint(connection, schema) != self.fingerprint
                ):
                    raise LookupError("the schema changed")
                # no foreign-key or search-index triggers: every table is emptied anyway
                connection.execute(sa.text("SET LOCAL session_replication_role = replica"))
                connection.exec_driver_sql(
                    "; ".join(f'DELETE FROM "{schema}"."{table}"' for table in self.tables)
                )
                for table, (columns, rows) in self.seed_rows.items():
                    names = ", ".join(f'"{column}"' for column in columns)
                    marks = ", ".join(f":c{index}" for index in range(len(columns)))
                    connection.execute(
                        sa.text(f'INSERT INTO "{schema}"."{table}" ({names}) VALUES ({marks})'),
                        [{f"c{i}": value for i, value in enumerate(row)} for row in rows],
                    )
                for sequence, (last_value, is_called) in self.sequences.items():
                    connection.execute(
                        sa.select(sa.func.setval(f'"{schema}"."{sequence}"', last_value, is_called))
                    )
        except (LookupError, sa.exc.DBAPIError):
            self.drop()

    def drop(self) -> None:
        """Drop the schema (the next test gets a new one)."""
        schema, self.schema = self.schema, None
        if schema is None:
            return
        with self.admin.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


@pytest.fixture(scope="session")
def reused_catalog_schema() -> Iterator[ReusedCatalogSchema]:
    """Return this test process's reused PostgreSQL catalog schema (see ReusedCatalogSchema)."""
    problem = _postgres_problem()
    if problem:
        unavailable(problem)
    reused = ReusedCatalogSchema()
    yield reused
    reused.drop()
    reused.admin.dispose()


@pytest.fixture
def postgres_catalog_url(reused_catalog_schema: ReusedCatalogSchema) -> Iterator[str]:
    """Return a URL to an empty catalog schema on PostgreSQL (at the head revision, no rows)."""
    yield reused_catalog_schema.url()
    lamin_core.testing.reset()  # close the test's catalog before its rows go
    reused_catalog_schema.restore()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """Run a test once per database backend."""
    return str(request.param)


@pytest.fixture
def db_url(backend: str, request: pytest.FixtureRequest) -> str | None:
    """Return the database URL for the backend: None (SQLite under storage) or an empty catalog
    on PostgreSQL. Tests that need a database without a catalog use `postgres_url`."""
    if backend == "sqlite":
        return None
    return str(request.getfixturevalue("postgres_catalog_url"))


@pytest.fixture
def empty_db_url(backend: str, request: pytest.FixtureRequest) -> str | None:
    """Return a database URL without a catalog, for tests that build one revision by revision:
    None (a new SQLite file under storage) or a new, empty PostgreSQL schema."""
    if backend == "sqlite":
        return None
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def instance(tmp_path: Path, db_url: str | None) -> Iterator[ln.Instance]:
    """Return a fresh, active catalog on each backend, with local storage under tmp_path."""
    opened = ln.init(storage=tmp_path / "catalog", db=db_url, user="testuser1")
    yield opened
    opened.close()


@pytest.fixture
def sqlite_instance(tmp_path: Path) -> Iterator[ln.Instance]:
    """Return a fresh, active SQLite catalog, for tests where the backend does not matter."""
    opened = ln.init(storage=tmp_path / "catalog", user="testuser1")
    yield opened
    opened.close()


def free_port() -> int:
    """Return a free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """Start a moto S3 server on 127.0.0.1 for the session and return its URL."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as error:
        unavailable(f"moto is not installed: {error}")
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Create an empty bucket on the local S3 server and return its name."""
    import boto3

    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": s3_endpoint,
    }.items():
        monkeypatch.setenv(name, value)
    bucket = f"lamin-test-{uuid.uuid4().hex[:10]}"
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket=bucket)
    return bucket


@pytest.fixture
def s3_storage_options(s3_endpoint: str) -> dict[str, object]:
    """Return fsspec options that point s3fs at the local server."""
    return {"client_kwargs": {"endpoint_url": s3_endpoint}, "key": "testing", "secret": "testing"}
