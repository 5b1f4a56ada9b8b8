"""Secrets: no password on disk, private settings folders, per-user staging and cache.

The PostgreSQL tests use a real role with a password on the local server. The server trusts
connections from 127.0.0.1, so it never asks for the password; what these tests prove is where
the password travels: into the connection (libpq reports the password it used), never into a
file.
"""

from __future__ import annotations

import json
import os
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pandas as pd
import psycopg
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql as psql

import lamin_core as ln
from lamin_core.cli import main as cli
from lamin_core.instance import cache_root, get_instance, staging_root
from lamin_core.instance.settings import settings_dir, strip_password
from tests.conftest import POSTGRES_URL

# passwords a URL must carry through percent-encoding: every character class that breaks naive
# parsing (":" "@" "/" "%" "?" "#"), quotes, spaces and non-ASCII
HOSTILE_PASSWORDS = ["s3cr:et@host/db", "100%?#&=", 'it\'s "quoted" ', "naïve-ünïcode-密码"]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def files_containing(root: Path, secret: str) -> list[Path]:
    """Return every file under `root` whose bytes contain `secret` (plain or URL-encoded)."""
    needles = {secret.encode(), quote(secret, safe="").encode(), quote(secret).encode()}
    found = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            if any(needle in data for needle in needles):
                found.append(path)
    return found


def admin_engine() -> sa.Engine:
    return sa.create_engine(POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://"))


@pytest.fixture
def password_role(postgres_url: str) -> Iterator[tuple[str, str]]:
    """Create a login role with a password and write access to the test schema; drop it after."""
    role = f"lamin_pw_{uuid.uuid4().hex[:10]}"
    password = f"pw-{uuid.uuid4().hex}"
    schema = postgres_url.split("search_path%3D", 1)[1].split(",", 1)[0]
    admin = admin_engine()
    with admin.begin() as connection:
        connection.execute(sa.text(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'"))
        connection.execute(sa.text(f'GRANT ALL ON SCHEMA "{schema}" TO {role}'))
    try:
        yield role, password
    finally:
        with admin.begin() as connection:
            connection.execute(sa.text(f"DROP OWNED BY {role}"))
            connection.execute(sa.text(f"DROP ROLE {role}"))
        admin.dispose()


def role_url(postgres_url: str, role: str, password: str | None = None) -> str:
    credentials = role if password is None else f"{role}:{quote(password, safe='')}"
    return postgres_url.replace("postgresql://postgres@", f"postgresql://{credentials}@")


def used_password(instance: ln.Instance) -> str | None:
    """Return the password libpq used for the instance's connection (from the URL or ~/.pgpass)."""
    connection = instance.engine.raw_connection()
    try:
        return connection.driver_connection.info.password  # type: ignore[union-attr]
    finally:
        connection.close()


# --- the password never reaches the disk ---------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://alice:secret@db.example.org:5432/lab", "postgresql://alice@db.example.org:5432/lab"),
        ("postgresql+psycopg://alice:s%40c%3Aret@host/lab?sslmode=require", "postgresql+psycopg://alice@host/lab?sslmode=require"),
        ("postgresql://alice@host/lab", "postgresql://alice@host/lab"),
        ("postgresql://alice@host/lab?password=secret&sslmode=require", "postgresql://alice@host/lab?sslmode=require"),
        ("postgresql://alice@host/lab?sslpassword=secret", "postgresql://alice@host/lab"),
        ("sqlite:////tmp/x/lamin.db", "sqlite:////tmp/x/lamin.db"),
    ],
)  # fmt: skip
def test_strip_password_keeps_everything_but_the_password(url: str, expected: str):
    assert strip_password(url) == expected


@settings(max_examples=60, deadline=None)
@given(password=st.text(min_size=1, max_size=30).filter(lambda text: "\x00" not in text))
def test_strip_password_removes_any_password(password: str):
    url = f"postgresql://alice:{quote(password, safe='')}@host:5432/lab"
    stripped = strip_password(url)
    assert sa.make_url(stripped).password is None
    assert sa.make_url(stripped).username == "alice"
    assert stripped == "postgresql://alice@host:5432/lab"


@pytest.mark.parametrize("password", HOSTILE_PASSWORDS)
def test_connect_with_a_password_writes_it_nowhere(
    tmp_path: Path, postgres_url: str, password_role: tuple[str, str], password: str
):
    role, _ = password_role
    with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:  # the hostile password
        connection.execute(
            psql.SQL("ALTER ROLE {} PASSWORD {}").format(
                psql.Identifier(role), psql.Literal(password)
            )
        )
    url = role_url(postgres_url, role, password)
    instance = ln.init(storage=tmp_path / "catalog", db=url, user="alice")
    assert used_password(instance) == password  # the password did reach the connection
    ln.ULabel(name="written with a password").save()
    instance.close()
    home = settings_dir()
    settings_file = json.loads((home / "settings.json").read_text())
    assert sa.make_url(settings_file["db"]).username == role
    assert sa.make_url(settings_file["db"]).password is None
    assert files_containing(tmp_path, password) == []
    # the catalog opens again from the settings file, with the password from the environment
    os.environ["LAMIN_CORE_DB"] = url
    try:
        again = get_instance()
        assert used_password(again) == password
        assert ln.ULabel.get(name="written with a password").name == "written with a password"
    finally:
        del os.environ["LAMIN_CORE_DB"]
    assert files_containing(tmp_path, password) == []


def test_password_given_as_url_parameter_is_hidden_and_not_stored(
    tmp_path: Path, postgres_url: str, password_role: tuple[str, str]
):
    role, password = password_role
    url = f"{role_url(postgres_url, role)}&password={quote(password, safe='')}"
    instance = ln.init(storage=tmp_path / "catalog", db=url)
    assert used_password(instance) == password
    assert password not in instance.db_url and password not in repr(instance)
    assert files_containing(tmp_path, password) == []


def test_password_for_a_url_without_one_comes_from_the_environment(
    tmp_path: Path, postgres_url: str, password_role: tuple[str, str], monkeypatch
):
    role, password = password_role
    monkeypatch.setenv("LAMIN_CORE_DB", role_url(postgres_url, role, password))
    instance = ln.init(storage=tmp_path / "catalog", db=role_url(postgres_url, role))
    assert used_password(instance) == password
    assert files_containing(tmp_path, password) == []


def test_password_for_a_url_without_one_comes_from_pgpass(
    tmp_path: Path, postgres_url: str, password_role: tuple[str, str], monkeypatch
):
    role, password = password_role
    pgpass = tmp_path / "pgpass"
    pgpass.write_text(f"127.0.0.1:5432:test:{role}:{password}\n")
    pgpass.chmod(0o600)  # libpq ignores a password file that others can read
    monkeypatch.setenv("PGPASSFILE", str(pgpass))
    instance = ln.init(storage=tmp_path / "catalog", db=role_url(postgres_url, role))
    assert used_password(instance) == password  # libpq read it from the file
    ln.ULabel(name="via pgpass").save()
    assert [path.name for path in files_containing(tmp_path, password)] == ["pgpass"]


def test_settings_file_with_a_password_from_an_older_version_is_rewritten(
    tmp_path: Path, postgres_url: str, caplog
):
    ln.init(storage=tmp_path / "catalog", db=postgres_url).close()
    home = settings_dir()
    path = home / "settings.json"
    with_password = postgres_url.replace(
        "postgresql://postgres@", "postgresql://postgres:old-secret@"
    )
    path.write_text(json.dumps({"db": with_password, "storage": str(tmp_path / "catalog")}))
    path.chmod(0o644)  # as older versions wrote it
    home.chmod(0o755)
    with caplog.at_level("WARNING", logger="lamin_core"):
        instance = get_instance()  # opens from the settings file
    assert instance.storage_root.endswith("catalog")
    assert "old-secret" not in path.read_text()
    assert sa.make_url(json.loads(path.read_text())["db"]).username == "postgres"
    assert mode(path) == 0o600 and mode(home) == 0o700
    assert "removed the password" in caplog.text and "old-secret" not in caplog.text
    assert "LAMIN_CORE_DB" in caplog.text and ".pgpass" in caplog.text


# --- private folders ---------------------------------------------------------------------------


def test_settings_folder_and_file_are_private(tmp_path: Path):
    ln.init(storage=tmp_path / "catalog").close()
    home = settings_dir()
    assert mode(home) == 0o700
    assert mode(home / "settings.json") == 0o600


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(folder_mode=st.integers(0o700, 0o777), file_mode=st.integers(0o600, 0o777))
def test_loose_settings_folder_and_file_are_tightened(
    tmp_path: Path, folder_mode: int, file_mode: int
):
    home = tmp_path / f"home-{uuid.uuid4().hex[:8]}"
    home.mkdir()
    (home / "settings.json").write_text("{}")
    (home / "settings.json").chmod(file_mode)
    home.chmod(folder_mode)
    os.environ["LAMIN_CORE_HOME"] = str(home)
    storage = tmp_path / f"catalog-{uuid.uuid4().hex[:8]}"
    ln.init(storage=storage).close()
    assert mode(home) == 0o700
    assert mode(home / "settings.json") == 0o600
    assert json.loads((home / "settings.json").read_text())["storage"] == str(storage)


def test_settings_folder_of_another_user_is_refused(tmp_path: Path, monkeypatch):
    import lamin_core.instance.settings as settings_module

    home = tmp_path / "shared-home"
    home.mkdir(mode=0o755)
    monkeypatch.setenv("LAMIN_CORE_HOME", str(home))
    monkeypatch.setattr(settings_module, "_owner_uid", lambda: os.getuid() + 1)
    with pytest.raises(ln.InstanceError, match=r"belongs to another user.*LAMIN_CORE_HOME"):
        settings_module.private_dir("cache")
    assert mode(home) == 0o755  # someone else's folder is left as it was


def test_remote_staging_and_cache_are_private_per_user_folders(tmp_path: Path):
    instance = ln.init(
        storage=f"memory://secrets-{uuid.uuid4().hex[:8]}/catalog",
        db=f"sqlite:///{tmp_path / 'catalog.db'}",
    )
    artifact = ln.Artifact.from_df(pd.DataFrame({"x": [1, 2]}), key="x.parquet")
    staged = Path(artifact._staged.source)
    root = staging_root(instance)
    assert staged.parent == root
    assert root.is_relative_to(settings_dir())
    assert not str(staged).startswith("/tmp/lamin_core_staging")
    for folder in [root, *[p for p in root.parents if p.is_relative_to(settings_dir())]]:
        assert mode(folder) == 0o700, folder
    artifact.save()
    assert not staged.exists()
    cached = artifact.cache()
    assert cached.is_relative_to(cache_root())  # nobody else can pass through a 0700 folder
    assert mode(cache_root()) == 0o700 and mode(settings_dir()) == 0o700
    assert pd.read_parquet(cached)["x"].tolist() == [1, 2]


def test_staging_roots_of_two_remote_catalogs_differ(tmp_path: Path):
    first = ln.init(storage="memory://bucket-one/catalog", db=f"sqlite:///{tmp_path / 'a.db'}")
    second = ln.init(storage="memory://bucket-two/catalog", db=f"sqlite:///{tmp_path / 'b.db'}")
    assert staging_root(first) != staging_root(second)
    assert staging_root(first).parent == staging_root(second).parent


def test_local_staging_stays_next_to_the_stored_files(sqlite_instance: ln.Instance):
    # inside the storage, moving a staged file into place is a rename on one filesystem
    root = staging_root(sqlite_instance)
    assert root.parent == Path(sqlite_instance.catalog_path)


# --- the command line --------------------------------------------------------------------------


def test_cli_db_from_an_environment_variable(
    tmp_path: Path, postgres_url: str, monkeypatch, capsys
):
    url = postgres_url.replace("postgresql://postgres@", "postgresql://postgres:cli-secret@")
    monkeypatch.setenv("MY_CATALOG_DB", url)
    assert cli(["init", "--storage", str(tmp_path / "catalog"), "--db", "env:MY_CATALOG_DB"]) == 0
    out = capsys.readouterr().out
    assert "catalog ready" in out and "cli-secret" not in out
    assert cli(["info", "--storage", str(tmp_path / "catalog"), "--db", "env:MY_CATALOG_DB"]) == 0
    assert "cli-secret" not in capsys.readouterr().out
    assert files_containing(tmp_path, "cli-secret") == []


def test_cli_db_from_a_missing_environment_variable_names_it(tmp_path: Path, capsys):
    assert (
        cli(["info", "--storage", str(tmp_path / "catalog"), "--db", "env:NOT_SET_ANYWHERE"]) == 2
    )
    err = capsys.readouterr().err
    assert "NOT_SET_ANYWHERE" in err and "export NOT_SET_ANYWHERE=" in err


def test_cli_help_explains_env_form(capsys):
    with pytest.raises(SystemExit):
        cli(["info", "--help"])
    assert "env:VAR" in capsys.readouterr().out
