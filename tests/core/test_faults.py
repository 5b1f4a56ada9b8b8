"""Crash safety: a process killed (SIGKILL) at any point of a save or delete loses nothing.

The save and delete code has named fault points; ``LAMIN_CORE_FAULT=<point>`` makes a process
kill itself there, as a power cut or the OOM killer would. After each crash `fsck --repair`
must leave a catalog where every row loads and no file lacks a row, and the next save of the
key continues the version numbers without a gap. Also here: the SQLite durability setting.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

import lamin_core as ln
from lamin_core.artifacts.fsck import fsck
from lamin_core.artifacts.saving import FAULT_POINTS
from lamin_core.ids import decode_version
from lamin_core.instance import CATALOG_DIR, SQLITE_NAME, create_engine, staging_root

KEY = "crash/table.parquet"

CRASHING = """
import sys
import pandas as pd
import lamin_core as ln
storage, db, action, source = sys.argv[1:5]
ln.connect(db or None, storage=storage)
if action == "save":
    data = pd.DataFrame({"v": [2]}) if source == "dataframe" else source
    artifact = ln.Artifact(data, key="crash/table.parquet")
    artifact.save()
else:
    ln.Artifact.get(key="crash/table.parquet", is_latest=True).delete(permanent=True)
"""


def crash(instance: ln.Instance, db_url: str | None, tmp_path: Path, point: str, *args: str):
    script = tmp_path / "crash.py"
    script.write_text(CRASHING)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAMIN_CORE")}
    env["LAMIN_CORE_FAULT"] = point
    result = subprocess.run(
        [sys.executable, str(script), instance.storage_root, db_url or "", *args],
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert result.returncode == -signal.SIGKILL, result.stderr.decode()


def artifacts(instance: ln.Instance) -> list[ln.Artifact]:
    session = instance.session
    rows = session.scalars(
        sa.select(ln.Artifact).execution_options(populate_existing=True).order_by(ln.Artifact.uid)
    ).all()
    session.commit()
    return list(rows)


def assert_consistent(instance: ln.Instance) -> None:
    """Every row loads its own content; the catalog folder holds exactly the rows' files."""
    rows = artifacts(instance)
    for artifact in rows:
        assert isinstance(artifact.load(), pd.DataFrame)
    names = {
        p.name
        for p in Path(instance.catalog_path).iterdir()
        if not p.name.startswith(SQLITE_NAME) and p != staging_root(instance)
    }
    assert names == {f"{a.uid}{a.suffix}" for a in rows}
    staged = staging_root(instance)
    assert not staged.exists() or list(staged.iterdir()) == []
    assert fsck(instance, verify=True).is_clean


def parquet_file(tmp_path: Path, value: int) -> Path:
    path = tmp_path / f"v{value}.parquet"
    pd.DataFrame({"v": [value]}).to_parquet(path)
    return path


SAVE_POINTS = [point for point in FAULT_POINTS if point.startswith("save:")]
DELETE_POINTS = [point for point in FAULT_POINTS if point.startswith("delete:")]


def test_fault_points_cover_every_stage_of_save_and_delete():
    assert SAVE_POINTS == ["save:staged", "save:placed", "save:before-commit", "save:after-commit"]
    assert DELETE_POINTS == ["delete:before-commit", "delete:after-commit"]


@pytest.mark.parametrize("source", ["dataframe", "file"])
@pytest.mark.parametrize("point", SAVE_POINTS)
def test_kill_during_save_then_repair_loses_nothing_committed(
    instance: ln.Instance, db_url: str | None, tmp_path: Path, point: str, source: str
):
    first = ln.Artifact.from_df(pd.DataFrame({"v": [1]}), key=KEY).save()
    crash_source = "dataframe" if source == "dataframe" else str(parquet_file(tmp_path, 2))
    crash(instance, db_url, tmp_path, point, "save", crash_source)
    fsck(instance, repair=True, older_than=0)
    assert_consistent(instance)
    rows = artifacts(instance)
    committed = point == "save:after-commit"
    assert [a.uid for a in rows] == [first.uid] + ([f"{first.stem_uid}0001"] if committed else [])
    assert [a.is_latest for a in rows] == ([False, True] if committed else [True])
    if committed:
        assert rows[1].load()["v"].iloc[0] == 2
    # the next save continues the version numbers: a crash leaves no gap
    after = ln.Artifact.from_df(pd.DataFrame({"v": [3]}), key=KEY).save()
    assert decode_version(after.uid[-4:]) == len(rows)
    assert after.version == str(len(rows) + 1)
    assert_consistent(instance)


@pytest.mark.parametrize("point", DELETE_POINTS)
def test_kill_during_delete_then_repair_loses_nothing_committed(
    instance: ln.Instance, db_url: str | None, tmp_path: Path, point: str
):
    first = ln.Artifact.from_df(pd.DataFrame({"v": [1]}), key=KEY).save()
    second = ln.Artifact.from_df(pd.DataFrame({"v": [2]}), key=KEY).save()
    crash(instance, db_url, tmp_path, point, "delete", "")
    instance.session.expunge_all()  # rows changed behind this session's back
    fsck(instance, repair=True, older_than=0)
    assert_consistent(instance)
    rows = artifacts(instance)
    if point == "delete:before-commit":
        assert [(a.uid, a.is_latest) for a in rows] == [(first.uid, False), (second.uid, True)]
        rows[1].delete(permanent=True)
    assert [(a.uid, a.is_latest) for a in artifacts(instance)] == [(first.uid, True)]
    after = ln.Artifact.from_df(pd.DataFrame({"v": [3]}), key=KEY).save()
    assert after.uid == f"{first.stem_uid}0002"  # the deleted version's uid is not reused
    assert_consistent(instance)


@pytest.mark.parametrize("point", SAVE_POINTS)
def test_kill_during_save_to_s3_then_repair_loses_nothing_committed(
    tmp_path: Path, s3_bucket: str, db_url: str | None, point: str
):
    db = db_url or f"sqlite:///{tmp_path / 'catalog.db'}"
    instance = ln.init(storage=f"s3://{s3_bucket}/catalog", db=db)
    first = ln.Artifact.from_df(pd.DataFrame({"v": [1]}), key=KEY).save()
    crash(instance, db, tmp_path, point, "save", "dataframe")  # AWS_* come from the fixture
    fsck(instance, repair=True, older_than=0)
    rows = artifacts(instance)
    committed = point == "save:after-commit"
    assert len(rows) == (2 if committed else 1) and rows[0].uid == first.uid
    stored = {path.rsplit("/", 1)[-1] for path in instance.fs.ls(instance.catalog_path, False)}
    assert stored == {f"{a.uid}{a.suffix}" for a in rows}
    assert fsck(instance, verify=True).is_clean
    after = ln.Artifact.from_df(pd.DataFrame({"v": [3]}), key=KEY).save()
    assert decode_version(after.uid[-4:]) == len(rows)  # no gap
    assert after.load()["v"].iloc[0] == 3


@pytest.mark.parametrize(
    ("setting", "expected"),
    [(None, 1), ("NORMAL", 1), ("FULL", 2), ("full", 2), ("EXTRA", 3), ("OFF", 0)],
)
def test_sqlite_synchronous_follows_the_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, setting: str | None, expected: int
):
    if setting is not None:
        monkeypatch.setenv("LAMIN_CORE_SQLITE_SYNCHRONOUS", setting)
    instance = ln.init(storage=tmp_path / "catalog")
    with instance.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == expected
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    saved = ln.Artifact.from_df(pd.DataFrame({"a": [1]}), key="a.parquet").save()
    assert saved.load()["a"].iloc[0] == 1


@pytest.mark.parametrize(("setting", "flushes"), [("NORMAL", False), ("FULL", True)])
def test_durable_setting_flushes_stored_content_before_the_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, setting: str, flushes: bool
):
    monkeypatch.setenv("LAMIN_CORE_SQLITE_SYNCHRONOUS", setting)
    instance = ln.init(storage=tmp_path / "catalog")
    flushed: list[str] = []
    real_fsync = os.fsync

    def recording_fsync(descriptor: int) -> None:
        flushed.append(os.readlink(f"/proc/self/fd/{descriptor}"))
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    saved = ln.Artifact.from_df(pd.DataFrame({"a": [1]}), key="a.parquet").save()
    catalog = Path(instance.catalog_path)
    # the content before its rename, the folder after it: a power loss keeps row and file
    expected = [str(staging_root(instance)), str(catalog)] if flushes else []
    assert [str(Path(path).parent) for path in flushed[:1]] + flushed[1:] == expected
    assert saved.load()["a"].iloc[0] == 1


@pytest.mark.parametrize("setting", ["fast", "2", "NORMAL;", "FULL --"])
def test_sqlite_synchronous_refuses_unknown_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, setting: str
):
    monkeypatch.setenv("LAMIN_CORE_SQLITE_SYNCHRONOUS", setting)
    url = f"sqlite:///{tmp_path / CATALOG_DIR / SQLITE_NAME}"
    with pytest.raises(ln.InstanceError, match=rf"{setting!r}.*NORMAL.*FULL"):
        create_engine(url)
    assert not (tmp_path / CATALOG_DIR / SQLITE_NAME).exists()  # refused before anything is made
