"""The data commands of `lamin` (lamin_cli 2.x): save, load, describe, search, ls, delete.

Each test runs the installed command in a subprocess, on the test's catalog (SQLite and
PostgreSQL), with this source tree on PYTHONPATH.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import lamin_core as ln
from lamin_core.cli import main as cli
from lamin_core.cli.records import find_registry
from lamin_core.models.registry import reference_text, registries
from tests.snapshot import catalog_snapshot

BIN = Path(sys.executable).parent
SOURCE_TREE = str(Path(__file__).resolve().parents[2])


def lamin(instance: ln.Instance, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``lamin ARGS --storage ... [--db ...]`` on `instance`, with no terminal attached."""
    options = ["--storage", instance.storage_root]
    if not instance.db_url.startswith("sqlite"):
        options += ["--db", instance.engine.url.render_as_string(hide_password=False)]
    env = {**os.environ, "PYTHONPATH": SOURCE_TREE}
    return subprocess.run(
        [str(BIN / "lamin"), *args, *options],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )


def succeeded(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def latest(key: str) -> ln.Artifact:
    ln.get_instance().session.commit()  # see what the command wrote
    return ln.Artifact.get(key=key, is_latest=True)


def test_save_load_and_describe_a_file(instance: ln.Instance, tmp_path: Path):
    data = tmp_path / "sample.csv"
    data.write_text("gene,count\nCD4,3\n")
    saved = succeeded(
        lamin(instance, "save", str(data), "--key", "raw/sample.csv", "--description", "counts",
              cwd=tmp_path)
    )  # fmt: skip
    first = latest("raw/sample.csv")
    assert saved.strip() == f"saved Artifact('{first.uid}', key='raw/sample.csv', version='1')"
    assert first.description == "counts" and first.suffix == ".csv"
    again = succeeded(lamin(instance, "save", str(data), "--key", "raw/sample.csv", cwd=tmp_path))
    assert again.startswith("the same content is already saved") and first.uid in again
    data.write_text("gene,count\nCD4,5\n")
    succeeded(lamin(instance, "save", str(data), "--key", "raw/sample.csv", cwd=tmp_path))
    second = latest("raw/sample.csv")
    assert second.version == "2" and second.uid[:16] == first.uid[:16]

    by_key = succeeded(lamin(instance, "load", "raw/sample.csv", cwd=tmp_path)).strip()
    assert Path(by_key).read_text() == "gene,count\nCD4,5\n"
    by_uid = succeeded(lamin(instance, "load", first.uid, cwd=tmp_path)).strip()
    assert Path(by_uid).read_text() == "gene,count\nCD4,3\n"
    described = succeeded(lamin(instance, "describe", "raw/sample.csv", cwd=tmp_path))
    assert described.startswith(f"Artifact 'raw/sample.csv' (uid {second.uid}")
    assert "  version: 2" in described and "  suffix: .csv" in described


def test_ls_filters_with_django_lookups_and_draws_a_table(instance: ln.Instance, tmp_path: Path):
    for key, rows in [("raw/a.parquet", 1), ("raw/b.parquet", 50), ("processed/c.parquet", 2)]:
        ln.Artifact.from_df(pd.DataFrame({"x": range(rows)}), key=key).save()
    big = ln.Artifact.get(key="raw/b.parquet")
    listed = succeeded(
        lamin(instance, "ls", "artifact", "--filter", "key__startswith=raw/", cwd=tmp_path)
    )
    assert "Artifact: 2 of 2" in listed
    assert "raw/a.parquet" in listed and "raw/b.parquet" in listed
    assert "processed" not in listed
    assert listed.index("raw/b.parquet") < listed.index("raw/a.parquet")  # newest first
    assert "│ uid" in listed or "┃ uid" in listed  # a rich table
    bigger = succeeded(
        lamin(instance, "ls", "Artifact", "--filter", f"size__gte={big.size}",
              "--filter", "key__in=raw/a.parquet,raw/b.parquet", "--columns", "key,size",
              cwd=tmp_path)
    )  # fmt: skip
    assert "Artifact: 1 of 1" in bigger and "raw/b.parquet" in bigger and str(big.size) in bigger
    assert "uid" not in bigger  # only the chosen columns
    limited = succeeded(lamin(instance, "ls", "artifact", "--limit", "1", cwd=tmp_path))
    assert "Artifact: 1 of 3" in limited and "processed/c.parquet" in limited


def test_search_ranks_and_ls_names_registries_in_lower_case(instance: ln.Instance, tmp_path: Path):
    ln.ULabel.from_values(["IFNG", "DMSO", "IFNG receptor"], create=True).save()
    found = succeeded(lamin(instance, "search", "ulabel", "IFNG", "--limit", "2", cwd=tmp_path))
    lines = [line for line in found.splitlines() if "IFNG" in line and "│" in line]
    assert "ULabel search: IFNG" in found
    assert "IFNG " in lines[0] and "100" in lines[0]  # the exact match first, scored 100
    assert "DMSO" not in found
    typo = succeeded(lamin(instance, "search", "ULabel", "DSMO", cwd=tmp_path))
    assert "DMSO" in typo
    labels = succeeded(lamin(instance, "ls", "ulabel", "--filter", "name__icontains=ifng",
                             cwd=tmp_path))  # fmt: skip
    assert "ULabel: 2 of 2" in labels


def test_delete_trashes_and_asks_before_a_permanent_delete(instance: ln.Instance, tmp_path: Path):
    first = ln.Artifact.from_df(pd.DataFrame({"v": [1]}), key="t.parquet").save()
    second = ln.Artifact.from_df(pd.DataFrame({"v": [2]}), key="t.parquet").save()
    trashed = succeeded(lamin(instance, "delete", "t.parquet", cwd=tmp_path))
    assert f"moved Artifact('{second.uid}', key='t.parquet', version='2') to the trash" in trashed
    ln.get_instance().session.expire_all()
    assert latest("t.parquet").uid == first.uid  # the previous version is the latest again
    assert ln.Artifact.get(second.uid).branch_id == -1 and second.path.exists()
    before = catalog_snapshot(instance)
    refused = lamin(instance, "delete", second.uid, "--permanent", cwd=tmp_path)  # no terminal
    assert refused.returncode == 1 and "--yes" in refused.stderr
    assert catalog_snapshot(instance) == before
    deleted = succeeded(lamin(instance, "delete", second.uid, "--permanent", "--yes", cwd=tmp_path))
    assert deleted.strip() == (
        f"deleted Artifact('{second.uid}', key='t.parquet', version='2') permanently"
    )
    succeeded(lamin(instance, "delete", first.uid, "--permanent", "--yes", cwd=tmp_path))
    ln.get_instance().session.commit()
    assert ln.Artifact.filter(key="t.parquet", branch_id=None).count() == 0


def test_delete_of_a_registry_without_trash_needs_permanent(instance: ln.Instance, tmp_path: Path):
    import lamin_core.bio as bt

    cell_type = bt.CellType(name="my cell").save()
    before = catalog_snapshot(instance)
    refused = lamin(instance, "delete", cell_type.uid, "--yes", cwd=tmp_path)
    assert refused.returncode == 1 and "have no trash" in refused.stderr
    assert catalog_snapshot(instance) == before
    succeeded(lamin(instance, "delete", cell_type.uid, "--permanent", "--yes", cwd=tmp_path))
    assert bt.CellType.filter(name="my cell").count() == 0


def test_run_files_are_listed_by_kind_and_protected_from_delete(
    instance: ln.Instance, tmp_path: Path
):
    report = tmp_path / "report.html"
    report.write_text("<p>done</p>")
    ln.track(key="analysis.py")
    run = ln.finish(report=report)
    assert run is not None
    listed = succeeded(
        lamin(instance, "ls", "artifact", "--filter", "kind=__lamindb_run__", cwd=tmp_path)
    )
    assert "requirements.txt" in listed and f"report of run {run.uid}" in listed
    assert "no Artifact records match" in succeeded(lamin(instance, "ls", "artifact",
                                                          cwd=tmp_path))  # fmt: skip
    before = catalog_snapshot(instance)
    refused = lamin(instance, "delete", run.report.uid, "--permanent", "--yes", cwd=tmp_path)
    assert refused.returncode == 1
    assert f"it is the report of Run('{run.uid}')" in refused.stderr
    assert catalog_snapshot(instance) == before


ERROR_CASES = [
    (["ls", "artifcat"], "Unknown registry 'artifcat'. Did you mean 'artifact'?"),
    (["search", "cell_typ", "T cell"], "Unknown registry 'cell_typ'"),
    (["ls", "artifact", "--filter", "sise__gt=3"], "Unknown field 'sise' on Artifact"),
    (["ls", "artifact", "--filter", "size__gt=big"], "the field holds numbers"),
    (["ls", "artifact", "--filter", "keyraw"], "write LOOKUP=VALUE"),
    (["ls", "artifact", "--filter", "key__startswit=raw/"], "startswith"),
    (["ls", "artifact", "--columns", "uid,sufix"], "Did you mean 'suffix'?"),
    (["ls", "artifact", "--limit", "0"], "at least one row"),
    (["load", "raw/a.parquek"], "No artifact key or uid is 'raw/a.parquek'. Did you mean 'raw/a"),
    (["load", "zzzzzzzzzzzzzzzz0000"], "No artifact key or uid is"),
    (["describe", "Zz9"], "No artifact key or uid of a record is 'Zz9'"),
    (["delete", "raw/missing.csv", "--yes"], "No artifact key or uid"),
    (["save", "missing.csv", "--key", "raw/missing.csv"], "Nothing to save at 'missing.csv'"),
]


@pytest.mark.parametrize(
    ("args", "message"), ERROR_CASES, ids=[" ".join(a) for a, _ in ERROR_CASES]
)
def test_bad_input_exits_1_with_a_message_and_changes_nothing(
    sqlite_instance: ln.Instance, tmp_path: Path, args: list[str], message: str
):
    ln.Artifact.from_df(pd.DataFrame({"v": [1]}), key="raw/a.parquet").save()
    before = catalog_snapshot(sqlite_instance)
    result = lamin(sqlite_instance, *args, cwd=tmp_path)
    assert result.returncode == 1, result.stdout
    last = result.stderr.strip().splitlines()[-1]  # after the "connected" note
    assert last.startswith("error: ") and message in last
    assert "Traceback" not in result.stderr
    assert catalog_snapshot(sqlite_instance) == before


def test_bad_input_on_postgresql_changes_nothing(instance: ln.Instance, tmp_path: Path):
    ln.Artifact.from_df(pd.DataFrame({"v": [1]}), key="raw/a.parquet").save()
    before = catalog_snapshot(instance)
    for args in (["ls", "artifact", "--filter", "size__gt=big"], ["delete", "nope", "--yes"]):
        result = lamin(instance, *args, cwd=tmp_path)
        assert result.returncode == 1 and "Traceback" not in result.stderr
    assert catalog_snapshot(instance) == before


@pytest.mark.parametrize(
    "registry", registries(), ids=[reference_text(registry) for registry in registries()]
)
def test_every_registry_is_named_in_both_spellings_and_listed(
    sqlite_instance: ln.Instance, registry: Any, capsys: pytest.CaptureFixture[str]
):
    canonical = reference_text(registry)
    for spelling in (canonical, registry.__name__.lower(), canonical.lower()):
        assert find_registry(spelling) is registry
    code = cli(["ls", registry.__name__.lower(), "--storage", sqlite_instance.storage_root])
    out = capsys.readouterr().out
    assert code == 0
    assert f"{registry.__name__}: " in out or f"no {registry.__name__} records match" in out
    if getattr(registry, "_search_fields", ()):
        assert cli(["search", canonical, "x", "--storage", sqlite_instance.storage_root]) == 0
