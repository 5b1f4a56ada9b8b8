"""The installed `lamin` and `lamin-core` commands, run as a user runs them: in a shell."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

import lamin_core as ln

BIN = Path(sys.executable).parent


def run(
    *args: str, cwd: Path, program: str = "lamin", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run an installed command (LAMIN_CORE_HOME is the test's own, from conftest)."""
    command = BIN / program
    assert command.exists(), f"{command} is not installed: pip install -e ."
    return subprocess.run(
        [str(command), *args],
        cwd=cwd,
        env=env or dict(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
    )


def db_options(db_url: str | None) -> list[str]:
    return ["--db", db_url] if db_url else []


@pytest.mark.parametrize("program", ["lamin", "lamin-core"])
def test_version_names_the_installed_release(tmp_path: Path, program: str):
    result = run("--version", cwd=tmp_path, program=program)
    assert result.returncode == 0
    assert result.stdout.strip() == f"lamin-core {metadata.version('lamin-core')}"


def test_lamindb_init_line_creates_the_catalog_with_the_bio_registries(
    tmp_path: Path, db_url: str | None
):
    # the first line of the LaminDB guide, as written (plus --db on PostgreSQL)
    result = run(
        "init", "--storage", "./test-registries", "--modules", "bionty", *db_options(db_url),
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "--modules bionty" in result.stdout and "import lamin_core.bio as bt" in result.stdout
    assert f"with storage {tmp_path / 'test-registries'}" in result.stdout
    # the catalog is the default one now: Python code opens it without arguments
    import lamin_core.bio as bt

    bt.CellType.from_values(["B cell"], create=True)[0].save()
    assert ln.get_instance().storage_root == str(tmp_path / "test-registries")
    assert bt.CellType.get(name="B cell").ontology_id == "CL:0000236"
    info = run("info", cwd=tmp_path)
    assert info.returncode == 0, info.stderr
    assert f"storage:  {tmp_path / 'test-registries'}" in info.stdout


@pytest.mark.parametrize(
    ("modules", "message"),
    [
        ("wetlab", "Unknown module 'wetlab' in --modules 'wetlab'"),
        ("bionty,clinicore", "Unknown module 'clinicore' in --modules 'bionty,clinicore'"),
    ],
)
def test_init_unknown_module_is_an_error_and_creates_nothing(
    tmp_path: Path, modules: str, message: str
):
    result = run("init", "--storage", "./catalog", "--modules", modules, cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr
    assert "'bionty' (the bio registries of lamin_core.bio)" in result.stderr
    assert not (tmp_path / "catalog").exists()


def test_connect_settings_and_disconnect(tmp_path: Path, db_url: str | None):
    assert run("init", "--storage", "cat", *db_options(db_url), cwd=tmp_path).returncode == 0
    assert run("disconnect", cwd=tmp_path).stdout.startswith("forgot the default catalog")
    forgotten = run("settings", cwd=tmp_path)
    assert "no default catalog: run `lamin init --storage DIR` or `lamin connect DIR`" in (
        forgotten.stdout
    )
    # a SQLite catalog is named by its folder, a PostgreSQL one by its URL (and its storage)
    named = [db_url, "--storage", "cat"] if db_url else ["cat"]
    connected = run("connect", *named, cwd=tmp_path)
    assert connected.returncode == 0, connected.stderr
    assert connected.stdout.startswith("connected to ")
    settings = run("settings", cwd=tmp_path)
    assert f"storage: {tmp_path / 'cat'}" in settings.stdout
    assert "settings file: " in settings.stdout


# Errors a user meets on the command line: each names commands and options, never a Python call.
CLI_ERRORS = [
    (["connect", "./missing"], "No catalog at", "`lamin init --storage ./missing`"),
    (["info"], "No catalog given and no default one", "`lamin init --storage DIR`"),
    (["fsck"], "No catalog given and no default one", "`lamin connect DIR`"),
    (["connect", "--db", "sqlite:///x/lamin.db"], "No storage given", "Pass --storage "),
    (["connect", "cat", "--storage", "cat"], "Name the catalog once", "`lamin connect cat`"),
    (["init", "--modules", "wetlab"], "Unknown module 'wetlab'", "pass --modules bionty"),
    (["grant", "bob", "--read-only"], "works on PostgreSQL catalogs", "--db postgresql://"),
    (["migrate"], "Name the catalog", "migrate --db URL"),
    (["init", "--storage", "/proc/no/catalog"], "/proc/no", "error: "),  # the system refuses
]


@pytest.mark.parametrize(("args", "problem", "fix"), CLI_ERRORS, ids=lambda v: str(v)[:30])
def test_cli_errors_name_commands_not_python_calls(
    tmp_path: Path, args: list[str], problem: str, fix: str
):
    result = run(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and problem in result.stderr
    assert fix in result.stderr
    assert "ln." not in result.stderr and "storage=" not in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "missing").exists()


def test_lamin_and_lamin_core_are_the_same_program(tmp_path: Path):
    assert run("init", "--storage", "cat", cwd=tmp_path, program="lamin-core").returncode == 0
    by_lamin = run("info", cwd=tmp_path)
    by_lamin_core = run("info", cwd=tmp_path, program="lamin-core")
    assert by_lamin.returncode == by_lamin_core.returncode == 0
    assert by_lamin.stdout == by_lamin_core.stdout
    assert run("close", cwd=tmp_path).stdout.startswith("forgot the default catalog")  # LaminDB
    usage = run("nonsense", cwd=tmp_path)
    assert usage.returncode == 2 and usage.stderr.startswith("usage: lamin ")
