"""fsck: every row's content is checked, leftovers are found with their age, repair is safe.

Repair runs beside live saves in real deployments (a cron job, a second user), so the tests run
it beside writers and against a save held at its most fragile moment: file placed, row not
committed.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

import lamin_core as ln
from lamin_core.artifacts.fsck import DEFAULT_GRACE_SECONDS, fsck, parse_duration
from lamin_core.cli import main as cli
from lamin_core.instance import staging_root


def subprocess_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAMIN_CORE")}
    env.update(extra)
    return env


def committed_artifacts(instance: ln.Instance) -> list[ln.Artifact]:
    session = instance.session
    rows = session.scalars(
        sa.select(ln.Artifact).execution_options(populate_existing=True).order_by(ln.Artifact.id)
    ).all()
    session.commit()
    return list(rows)


def make_old(path: Path, seconds: float = 2 * DEFAULT_GRACE_SECONDS) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


WRITER = """
import sys
import pandas as pd
import lamin_core as ln
storage, db, number, saves = sys.argv[1:5]
ln.connect(db or None, storage=storage)
for i in range(int(saves)):
    key = "shared/table.parquet" if i % 2 else f"writer{number}/table{i}.parquet"
    ln.Artifact.from_df(pd.DataFrame({"w": [int(number)], "i": [i]}), key=key).save()
"""


def test_repair_in_a_loop_beside_writers_loses_no_committed_artifact(
    instance: ln.Instance, db_url: str | None, tmp_path: Path
):
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    writers = [
        subprocess.Popen(
            [sys.executable, str(script), instance.storage_root, db_url or "", str(n), "40"],
            env=subprocess_env(),
            stderr=subprocess.PIPE,
        )
        for n in range(4)
    ]
    repairs = 0
    while any(writer.poll() is None for writer in writers):
        fsck(instance, repair=True, older_than=0)  # the most aggressive repair there is
        repairs += 1
        time.sleep(0.05)
    for writer in writers:
        assert writer.returncode == 0, writer.stderr.read().decode()
    assert repairs > 1
    artifacts = committed_artifacts(instance)
    assert len(artifacts) == 160
    assert all(isinstance(a.load(), pd.DataFrame) for a in artifacts)
    assert fsck(instance, verify=True).is_clean


HELD_SAVE = """
import os, sys, time
import pandas as pd
import lamin_core as ln
storage, db, ready, go = sys.argv[1:5]
ln.connect(db or None, storage=storage, user="testuser1")
artifact = ln.Artifact.from_df(pd.DataFrame({"held": [1]}), key="held/table.parquet")
open(ready, "w").close()
while not os.path.exists(go):
    time.sleep(0.01)
artifact.save()
"""


def hold_write_lock(instance: ln.Instance, db_url: str | None):
    """Block every artifact insert of other processes until the returned release() is called."""
    if db_url is None:
        connection = sqlite3.connect(f"{instance.catalog_path}/lamin.db", timeout=60)
        connection.isolation_level = None
        connection.execute("BEGIN IMMEDIATE")
        return lambda: (connection.execute("COMMIT"), connection.close())
    engine = sa.create_engine(db_url.replace("postgresql://", "postgresql+psycopg://"))
    connection = engine.connect()
    connection.execute(sa.text("LOCK TABLE artifact IN EXCLUSIVE MODE"))
    return lambda: (connection.rollback(), connection.close(), engine.dispose())


def wait_for(path: Path, process: subprocess.Popen) -> None:
    deadline = time.time() + 120
    while not path.exists():
        assert process.poll() is None, process.stderr.read().decode()
        assert time.time() < deadline, f"{path} did not appear"
        time.sleep(0.05)


def test_repair_never_removes_the_file_of_a_save_waiting_for_the_database(
    instance: ln.Instance, db_url: str | None, tmp_path: Path
):
    script = tmp_path / "held.py"
    script.write_text(HELD_SAVE)
    ready, go = tmp_path / "ready", tmp_path / "go"
    saver = subprocess.Popen(
        [sys.executable, str(script), instance.storage_root, db_url or "", str(ready), str(go)],
        env=subprocess_env(LAMIN_CORE_HOME=str(tmp_path / "home")),
        stderr=subprocess.PIPE,
    )
    wait_for(ready, saver)  # connected and staged: only the save itself is left
    release = hold_write_lock(instance, db_url)
    try:
        go.touch()
        catalog = Path(instance.catalog_path)
        deadline = time.time() + 10
        while time.time() < deadline and not list(catalog.glob("*.parquet")):
            time.sleep(0.05)  # before the fix, the save placed its file, then waited to commit
        reports: list = []
        repair = threading.Thread(
            target=lambda: reports.append(fsck(instance, repair=True, older_than=0))
        )
        repair.start()
        time.sleep(1)
    finally:
        release()
    repair.join(timeout=120)
    assert saver.wait(timeout=120) == 0, saver.stderr.read().decode()
    assert reports, "repair did not finish"
    (held,) = committed_artifacts(instance)
    assert held.load()["held"].iloc[0] == 1
    assert fsck(instance, verify=True).is_clean


def test_rows_registered_in_place_whose_file_is_gone_are_reported(instance: ln.Instance):
    folder = Path(instance.storage_root) / "raw"
    folder.mkdir()
    (folder / "sample.csv").write_text("a,b\n1,2\n")
    in_place = ln.Artifact(folder / "sample.csv").save()
    assert not in_place.key_is_virtual
    assert fsck(instance).is_clean
    (folder / "sample.csv").unlink()
    report = fsck(instance, repair=True, older_than=0)
    assert report.missing_content == [in_place.uid]
    assert not report.is_clean
    assert "sample.csv" in str(report) and "missing" in str(report)
    assert cli(["fsck", "--storage", instance.storage_root, *db_args(instance)]) == 1


def db_args(instance: ln.Instance) -> list[str]:
    url = instance.engine.url
    return [] if url.get_backend_name() == "sqlite" else ["--db", url.render_as_string(False)]


def test_rows_in_every_storage_of_the_catalog_are_checked(
    instance: ln.Instance, db_url: str | None, tmp_path: Path
):
    url = instance.engine.url.render_as_string(hide_password=False)
    other = ln.connect(url, storage=tmp_path / "second-storage", activate=False)
    with other.activate():
        elsewhere = ln.Artifact.from_df(pd.DataFrame({"x": [1]}), key="x.parquet").save()
        path = Path(elsewhere.cache())
    other.close()
    assert fsck(instance, verify=True).is_clean
    path.write_bytes(path.read_bytes()[:-1] + b"!")  # same size, other content
    report = fsck(instance, verify=True)
    assert report.mismatched_content == [elsewhere.uid]
    assert report.missing_content == []
    path.unlink()
    assert fsck(instance).missing_content == [elsewhere.uid]


def test_verify_rehashes_content_and_reports_mismatches(instance: ln.Instance, tmp_path: Path):
    kept = ln.Artifact.from_df(pd.DataFrame({"a": [1]}), key="kept.parquet").save()
    changed = ln.Artifact.from_df(pd.DataFrame({"a": [2]}), key="changed.parquet").save()
    folder = tmp_path / "images"
    folder.mkdir()
    (folder / "1.txt").write_text("one")
    images = ln.Artifact(folder, key="images").save()
    assert fsck(instance, verify=True).is_clean
    stored = Path(changed.cache())
    content = bytearray(stored.read_bytes())
    content[len(content) // 2] ^= 0xFF
    stored.write_bytes(bytes(content))
    (Path(images.cache()) / "1.txt").write_text("two")
    assert fsck(instance).is_clean  # without --verify only presence is checked
    report = fsck(instance, verify=True)
    assert sorted(report.mismatched_content) == sorted([changed.uid, images.uid])
    assert kept.uid not in str(report)
    assert changed.uid in str(report)


STAGE_AND_DIE = """
import os, signal, sys
import pandas as pd
import lamin_core as ln
storage, db = sys.argv[1:3]
ln.connect(db or None, storage=storage)
ln.Artifact.from_df(pd.DataFrame({"never": ["saved"]}), key="never.parquet")
os.kill(os.getpid(), signal.SIGKILL)
"""


def staging_entries(instance: ln.Instance) -> list[Path]:
    folder = staging_root(instance)
    return sorted(folder.iterdir()) if folder.exists() else []


def test_staging_leftover_of_a_killed_from_df_is_reported_with_age_and_repaired(
    instance: ln.Instance, db_url: str | None, tmp_path: Path
):
    script = tmp_path / "die.py"
    script.write_text(STAGE_AND_DIE)
    result = subprocess.run(
        [sys.executable, str(script), instance.storage_root, db_url or ""],
        env=subprocess_env(),
        capture_output=True,
        timeout=120,
    )
    assert result.returncode == -signal.SIGKILL, result.stderr
    (leftover,) = staging_entries(instance)
    report = fsck(instance)
    assert not report.is_clean
    assert report.staging_files == [leftover.as_posix()]
    assert report.leftovers[0].age < 120
    assert "staging" in str(report) and "old" in str(report)
    # young: kept by the default repair; removed once older than the grace period
    assert not fsck(instance, repair=True).repaired_paths
    assert leftover.exists()
    make_old(leftover)
    repaired = fsck(instance, repair=True)
    assert repaired.repaired_paths == [leftover.as_posix()]
    assert staging_entries(instance) == []
    assert fsck(instance).is_clean


def test_staging_file_of_a_live_unsaved_artifact_is_never_removed(instance: ln.Instance):
    pending = ln.Artifact.from_df(pd.DataFrame({"pending": [1]}), key="pending.parquet")
    (staged,) = staging_entries(instance)
    make_old(staged)
    report = fsck(instance, repair=True, older_than=0)
    assert staged.exists()  # this process may still save it
    assert report.staging_files == [staged.as_posix()]
    assert "in use" in str(report)
    saved = pending.save()
    assert saved.load()["pending"].iloc[0] == 1
    assert fsck(instance).is_clean


@pytest.mark.parametrize("kind", ["orphan", "partial", "staging"])
def test_repair_keeps_young_leftovers_unless_older_than_says_otherwise(
    instance: ln.Instance, kind: str
):
    catalog = Path(instance.catalog_path)
    folder = staging_root(instance)
    folder.mkdir(parents=True, exist_ok=True)
    path = {
        "orphan": catalog / "AAAAAAAAAAAAAAAA0000.csv",
        "partial": catalog / ".AAAAAAAAAAAAAAAA0000.csv.x1y2.partial",
        "staging": folder / "abcdefghijklmnop.parquet",
    }[kind]
    path.write_bytes(b"left behind by another machine")
    report = fsck(instance, repair=True)
    assert path.exists() and not report.is_clean
    assert [leftover.path for leftover in report.leftovers] == [path.as_posix()]
    assert report.kept == report.leftovers
    assert fsck(instance, repair=True, older_than=3600).kept  # still younger than an hour
    report = fsck(instance, repair=True, older_than=0)
    assert not path.exists()
    assert report.repaired_paths == [path.as_posix()]
    assert fsck(instance).is_clean


def test_repair_removes_old_leftovers_by_default(instance: ln.Instance):
    orphan = Path(instance.catalog_path) / "BBBBBBBBBBBBBBBB0000.csv"
    orphan.write_text("old")
    make_old(orphan)
    kept = ln.Artifact.from_df(pd.DataFrame({"kept": [1]}), key="kept.parquet").save()
    report = fsck(instance, repair=True)
    assert report.repaired_paths == [orphan.as_posix()]
    assert not orphan.exists()
    assert kept.load()["kept"].iloc[0] == 1
    assert fsck(instance).is_clean


def test_staging_of_remote_storage_is_checked_without_an_active_instance(tmp_path: Path):
    remote = ln.init(
        storage="memory://fsck-staging-test",
        db=f"sqlite:///{tmp_path / 'remote.db'}",
        activate=False,
    )
    try:
        folder = staging_root(remote)
        folder.mkdir(parents=True, exist_ok=True)
        leftover = folder / "zzzzzzzzzzzzzzzz.parquet"
        leftover.write_bytes(b"x")
        make_old(leftover)
        report = fsck(remote)
        assert leftover.as_posix() in report.staging_files
        fsck(remote, repair=True)
        assert not leftover.exists()
    finally:
        remote.close()


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("10m", 600),
        ("2h", 7200),
        ("1d", 86400),
        ("0", 0),
        ("0s", 0),
        ("90", 90),
        ("1.5h", 5400),
        (" 5m ", 300),
        ("2H", 7200),
    ],
)
def test_parse_duration_reads_seconds_minutes_hours_days(text: str, seconds: float):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "m", "10x", "-1m", "1e3s", "10 m", "ten minutes", "1m30s"])
def test_parse_duration_refuses_anything_else_with_the_format(text: str):
    with pytest.raises(ln.ValidationError, match=r"30s, 10m, 2h, 1d"):
        parse_duration(text)


def test_cli_fsck_repairs_verifies_and_reads_durations(
    instance: ln.Instance, capsys: pytest.CaptureFixture[str]
):
    artifact = ln.Artifact.from_df(pd.DataFrame({"a": [1]}), key="a.parquet").save()
    orphan = Path(instance.catalog_path) / "CCCCCCCCCCCCCCCC0000.txt"
    orphan.write_text("orphan")
    make_old(orphan, 20 * 60)
    base = ["fsck", "--storage", instance.storage_root, *db_args(instance)]
    assert cli([*base, "--repair", "--older-than", "1h"]) == 1  # kept: younger than 1h
    assert orphan.exists()
    assert "20m" in capsys.readouterr().out
    assert cli([*base, "--repair", "--older-than", "10m", "--verify"]) == 0
    assert not orphan.exists()
    assert cli([*base, "--verify"]) == 0
    assert "consistent" in capsys.readouterr().out
    Path(artifact.cache()).write_bytes(b"not parquet")
    assert cli([*base, "--verify"]) == 1
    assert artifact.uid in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        cli([*base, "--older-than", "10 minutes"])
    assert exit_info.value.code == 2
    assert "'10 minutes'" in capsys.readouterr().err
