"""Run tracking: transforms from scripts, runs, inputs and outputs, lineage across processes."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

import lamin_core as ln
from lamin_core.lineage import describe_lineage

PRODUCER = """
import lamin_core as ln
import pandas as pd
ln.track()
ln.Artifact.from_df(pd.DataFrame({{"v": [{value}]}}), key="produced.parquet").save()
ln.finish()
"""

CONSUMER = """
import lamin_core as ln
import sqlalchemy as sa
ln.track(params={"threshold": 2})
session = ln.get_instance().session
upstream = session.scalars(
    sa.select(ln.Artifact).where(ln.Artifact.key == "produced.parquet", ln.Artifact.is_latest)
).one()
df = upstream.load()
ln.Artifact.from_df(df * 10, key="derived.parquet").save()
ln.finish()
"""


def run_script(path: Path, storage: Path, db: str | None) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAMIN_CORE")}
    env["LAMIN_CORE_STORAGE"] = str(storage)
    env["LAMIN_CORE_HOME"] = str(storage.parent / "script-home")
    if db:
        env["LAMIN_CORE_DB"] = db
    result = subprocess.run(
        [sys.executable, str(path)], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr


def latest(key: str) -> ln.Artifact:
    session = ln.get_instance().session
    artifact = session.scalars(
        sa.select(ln.Artifact)
        .where(ln.Artifact.key == key, ln.Artifact.is_latest)
        .execution_options(populate_existing=True)
    ).one()
    session.commit()
    return artifact


def test_track_registers_this_file_and_links_saved_artifacts(instance: ln.Instance):
    run = ln.track()
    transform = run.transform
    assert transform.key == Path(__file__).name
    assert transform.type == "script"
    assert transform.source_code == Path(__file__).read_text()
    assert len(transform.uid) == 16 and transform.uid.endswith("0000")
    artifact = ln.Artifact.from_df(pd.DataFrame({"a": [1]}), key="out.parquet").save()
    assert artifact.run_id == run.id
    assert artifact.transform.key == transform.key
    assert run.status == "started" and run.finished_at is None
    finished = ln.finish()
    assert finished is run and run.status == "completed" and run.finished_at >= run.started_at
    after = ln.Artifact.from_df(pd.DataFrame({"a": [2]}), key="later.parquet").save()
    assert after.run_id is None


def test_track_with_uid_reuses_that_transform(instance: ln.Instance):
    first = ln.track("pd7UR7Z8hoTq0000")
    ln.finish()
    second = ln.track("pd7UR7Z8hoTq0000")
    assert first.transform_id == second.transform_id
    assert second.transform.uid == "pd7UR7Z8hoTq0000"
    assert first.id != second.id


def test_lineage_across_scripts_and_new_transform_version(instance, tmp_path: Path, db_url):
    storage = Path(instance.storage_root)
    producer = tmp_path / "produce.py"
    consumer = tmp_path / "consume.py"
    producer.write_text(PRODUCER.format(value=1))
    consumer.write_text(textwrap.dedent(CONSUMER))
    run_script(producer, storage, db_url)
    run_script(consumer, storage, db_url)

    produced, derived = latest("produced.parquet"), latest("derived.parquet")
    assert produced.transform.key == "produce.py"
    assert derived.transform.key == "consume.py"
    assert derived.run.params == {"threshold": 2}
    assert [a.uid for a in derived.run.input_artifacts] == [produced.uid]
    assert [r.id for r in produced.input_of_runs] == [derived.run_id]
    assert derived.run.status == "completed"
    assert "produced.parquet -> consume.py" in describe_lineage(derived)
    assert "produce.py" in describe_lineage(derived)

    producer.write_text(PRODUCER.format(value=2) + "# changed\n")
    run_script(producer, storage, db_url)
    new = latest("produced.parquet")
    assert new.transform.uid[:12] == produced.transform.uid[:12]
    assert new.transform.uid.endswith("0001") and new.transform.version == "2"
    session = instance.session
    latest_transforms = session.scalars(
        sa.select(ln.Transform.uid).where(ln.Transform.key == "produce.py", ln.Transform.is_latest)
    ).all()
    assert latest_transforms == [new.transform.uid]


def test_loading_own_output_is_not_an_input(instance: ln.Instance):
    run = ln.track()
    artifact = ln.Artifact.from_df(pd.DataFrame({"a": [1]}), key="self.parquet").save()
    artifact.load()
    assert run.input_artifacts == []


def test_track_without_a_script_asks_for_a_key(sqlite_instance, monkeypatch):
    monkeypatch.setattr("lamin_core.tracking.runs.inspect.stack", lambda: [])
    with pytest.raises(ln.ValidationError, match="key="):
        ln.track()
    run = ln.track(key="notebook-session")
    assert run.transform.key == "notebook-session"
