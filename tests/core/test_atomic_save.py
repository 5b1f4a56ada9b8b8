"""A failed or crashed save leaves the catalog consistent; fsck finds and removes leftovers."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

import lamin_core as ln
from lamin_core.artifacts.fsck import fsck
from lamin_core.cli import main as cli


def artifact_count(instance: ln.Instance) -> int:
    session = instance.session
    value = session.scalar(sa.select(sa.func.count()).select_from(ln.Artifact))
    session.commit()
    return int(value)


def catalog_entries(instance: ln.Instance) -> list[str]:
    folder = Path(instance.catalog_path)
    return sorted(
        p.name
        for p in folder.iterdir()
        if not p.name.startswith("lamin.db") and p.name != "_staging"
    )


def big_file(tmp_path: Path) -> Path:
    path = tmp_path / "reads.fastq.gz"
    path.write_bytes(os.urandom(2 * 1024 * 1024))
    return path


def test_failure_mid_upload_leaves_no_row_and_no_file(instance, tmp_path, monkeypatch):
    def copy_half_then_fail(source: str, target: str) -> None:
        Path(target).write_bytes(Path(source).read_bytes()[:1000])
        raise OSError("disk full")

    monkeypatch.setattr("lamin_core.artifacts.saving.shutil.copyfile", copy_half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        ln.Artifact(big_file(tmp_path), key="raw/reads.fastq.gz").save()
    assert artifact_count(instance) == 0
    assert catalog_entries(instance) == []
    assert fsck(instance).is_clean


def test_failure_at_commit_removes_the_uploaded_file(instance, tmp_path, monkeypatch):
    previous = ln.Artifact.from_df(pd.DataFrame({"a": [1]}), key="t.parquet").save()
    session = instance.session

    def broken_commit() -> None:
        raise sa.exc.OperationalError("COMMIT", {}, Exception("connection lost"))

    monkeypatch.setattr(session, "commit", broken_commit)
    with pytest.raises(sa.exc.OperationalError):
        ln.Artifact.from_df(pd.DataFrame({"a": [2]}), key="t.parquet").save()
    monkeypatch.undo()
    assert artifact_count(instance) == 1
    assert catalog_entries(instance) == [f"{previous.uid}.parquet"]
    session.refresh(previous)
    assert previous.is_latest  # the version bookkeeping was rolled back too


CRASH = """
import os, sys
import lamin_core as ln
import lamin_core.artifacts.saving as saving
instance = ln.connect(storage=sys.argv[1])
where = sys.argv[2]
if where == "mid-copy":
    def crash(source, target):
        open(target, "wb").write(b"partial")
        os._exit(3)
    saving.shutil.copyfile = crash
else:
    def crash(*args, **kwargs):
        os._exit(3)
    instance.session.commit = crash
ln.Artifact(sys.argv[3], key="raw/reads.fastq.gz").save()
"""


@pytest.mark.parametrize("where", ["mid-copy", "before-commit"])
def test_hard_crash_leftovers_are_found_and_repaired_by_fsck(sqlite_instance, tmp_path, where):
    script = tmp_path / "crash.py"
    script.write_text(textwrap.dedent(CRASH))
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAMIN_CORE")}
    result = subprocess.run(
        [sys.executable, str(script), sqlite_instance.storage_root, where, str(big_file(tmp_path))],
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert result.returncode == 3, result.stderr
    assert artifact_count(sqlite_instance) == 0  # no row points to anything
    report = fsck(sqlite_instance)
    leftovers = report.partial_files if where == "mid-copy" else report.orphaned_files
    assert len(leftovers) == 1 and not report.missing_content
    # young leftovers are kept by default: they could belong to a save still running elsewhere
    assert cli(["fsck", "--storage", sqlite_instance.storage_root, "--repair"]) == 1
    exit_code = cli(
        ["fsck", "--storage", sqlite_instance.storage_root, "--repair", "--older-than", "0s"]
    )
    assert exit_code == 0
    assert catalog_entries(sqlite_instance) == []
    assert fsck(sqlite_instance).is_clean
    saved = ln.Artifact(tmp_path / "reads.fastq.gz", key="raw/reads.fastq.gz").save()
    assert saved.cache().read_bytes() == (tmp_path / "reads.fastq.gz").read_bytes()


def test_fsck_reports_rows_whose_content_was_deleted_by_hand(sqlite_instance, capsys):
    artifact = ln.Artifact.from_df(pd.DataFrame({"a": [1]}), key="x.parquet").save()
    Path(artifact.cache()).unlink()
    report = fsck(sqlite_instance, repair=True)
    assert report.missing_content == [artifact.uid]
    assert cli(["fsck", "--storage", sqlite_instance.storage_root]) == 1
    assert artifact.uid in capsys.readouterr().out
    with pytest.raises(ln.StorageError, match="fsck"):
        artifact.load()


def test_folder_copy_failure_leaves_nothing(sqlite_instance, tmp_path, monkeypatch):
    folder = tmp_path / "images"
    folder.mkdir()
    (folder / "a.txt").write_text("a")

    def fail(source: str, target: str, **kwargs: object) -> None:
        Path(target).mkdir()
        raise OSError("interrupted")

    monkeypatch.setattr("lamin_core.artifacts.saving.shutil.copytree", fail)
    with pytest.raises(OSError, match="interrupted"):
        ln.Artifact(folder, key="raw/images").save()
    assert catalog_entries(sqlite_instance) == []
    assert artifact_count(sqlite_instance) == 0


CONCURRENT_SAVE = """
import sys
import pandas as pd
import lamin_core as ln
ln.connect(storage=sys.argv[1])
for i in range(5):
    frame = pd.DataFrame({"writer": [int(sys.argv[2])], "i": [i]})
    ln.Artifact.from_df(frame, key="shared/table.parquet").save()
"""


def test_concurrent_new_versions_of_one_key_lose_no_content(sqlite_instance, tmp_path):
    ln.Artifact.from_df(
        pd.DataFrame({"writer": [-1], "i": [-1]}), key="shared/table.parquet"
    ).save()
    script = tmp_path / "writer.py"
    script.write_text(CONCURRENT_SAVE)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAMIN_CORE")}
    writers = [
        subprocess.Popen(
            [sys.executable, str(script), sqlite_instance.storage_root, str(n)],
            env=env,
            stderr=subprocess.PIPE,
        )
        for n in range(3)
    ]
    for writer in writers:
        assert writer.wait(timeout=300) == 0, writer.stderr.read().decode()
    session = sqlite_instance.session
    versions = session.scalars(
        sa.select(ln.Artifact).where(ln.Artifact.key == "shared/table.parquet")
    ).all()
    session.commit()
    assert len(versions) == 16  # the first version and 3 writers x 5 versions
    assert len({v.uid for v in versions}) == 16
    assert len({v.uid[:16] for v in versions}) == 1
    assert sum(v.is_latest for v in versions) == 1
    contents = {tuple(v.load().iloc[0]) for v in versions}  # every row's file is there and its own
    assert len(contents) == 16
    assert fsck(sqlite_instance).is_clean


CONCURRENT_FIRST_SAVE = """
import sys
import pandas as pd
import lamin_core as ln
ln.connect(sys.argv[3] or None, storage=sys.argv[1])
ready = sys.argv[4]
while not __import__("os").path.exists(ready):  # start together
    pass
frame = pd.DataFrame({"writer": [int(sys.argv[2])]})
ln.Artifact.from_df(frame, key="new/table.parquet").save()
"""


def test_concurrent_first_versions_of_a_new_key_form_one_family(
    instance: ln.Instance, db_url: str | None, tmp_path: Path
):
    script = tmp_path / "first.py"
    script.write_text(CONCURRENT_FIRST_SAVE)
    go = tmp_path / "go"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAMIN_CORE")}
    writers = [
        subprocess.Popen(
            [sys.executable, str(script), instance.storage_root, str(n), db_url or "", str(go)],
            env=env,
            stderr=subprocess.PIPE,
        )
        for n in range(4)
    ]
    time.sleep(3)  # let every writer import and connect
    go.touch()
    for writer in writers:
        assert writer.wait(timeout=300) == 0, writer.stderr.read().decode()
    versions = ln.Artifact.filter(key="new/table.parquet").list()
    assert len(versions) == 4
    assert len({v.uid[:16] for v in versions}) == 1  # one family, not one per writer
    assert sorted(v.version for v in versions) == ["1", "2", "3", "4"]
    assert [v.is_latest for v in versions].count(True) == 1
    assert {int(v.load()["writer"].iloc[0]) for v in versions} == {0, 1, 2, 3}


def test_a_key_taken_by_another_family_gets_a_clear_error(sqlite_instance):
    first = ln.Artifact.from_df(pd.DataFrame({"a": [1]}), key="a.parquet").save()
    other = ln.Artifact.from_df(pd.DataFrame({"b": [1]}), key="b.parquet").save()
    before = artifact_count(sqlite_instance)
    with pytest.raises(ln.IntegrityError, match="latest version of another artifact family"):
        ln.Artifact.from_df(pd.DataFrame({"b": [2]}), key="a.parquet", revises=other).save()
    assert artifact_count(sqlite_instance) == before
    assert first.is_latest and ln.Artifact.get(key="b.parquet").is_latest
