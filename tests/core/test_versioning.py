"""Version families: numbering under contention, uids never reused, crash leftovers leave no gap."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lamin_core as ln
from lamin_core.artifacts.fsck import fsck
from lamin_core.ids import decode_version, encode_version
from lamin_core.instance import create_engine
from lamin_core.migrations import upgrade

WRITERS = 16
SAVES_PER_WRITER = 40

WRITER = """
import os, sys, time
import pandas as pd
import lamin_core as ln
storage, db, number, go, saves = sys.argv[1:6]
ln.connect(db or None, storage=storage)
while not os.path.exists(go):  # start together: the most contention
    time.sleep(0.01)
for i in range(int(saves)):
    frame = pd.DataFrame({"writer": [int(number)], "i": [i]})
    ln.Artifact.from_df(frame, key="contended/table.parquet").save()
"""


def subprocess_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("LAMIN_CORE")}


def fresh_rows(instance: ln.Instance, statement: sa.Select) -> list:
    session = instance.session
    rows = session.scalars(statement.execution_options(populate_existing=True)).all()
    session.commit()
    return list(rows)


def versions_of(instance: ln.Instance, key: str) -> list[ln.Artifact]:
    return fresh_rows(
        instance, sa.select(ln.Artifact).where(ln.Artifact.key == key).order_by(ln.Artifact.uid)
    )


def test_save_under_contention_saves_every_version_without_gaps(
    instance: ln.Instance, db_url: str | None, tmp_path: Path
):
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    go = tmp_path / "go"
    writers = [
        subprocess.Popen(
            [
                sys.executable,
                str(script),
                instance.storage_root,
                db_url or "",
                str(number),
                str(go),
                str(SAVES_PER_WRITER),
            ],
            env=subprocess_env(),
            stderr=subprocess.PIPE,
        )
        for number in range(WRITERS)
    ]
    time.sleep(2)
    go.touch()
    failures = []
    for writer in writers:
        if writer.wait(timeout=900) != 0:
            failures.append(writer.stderr.read().decode()[-2000:])
    assert not failures, failures[0]
    versions = versions_of(instance, "contended/table.parquet")
    total = WRITERS * SAVES_PER_WRITER
    assert len(versions) == total
    assert sorted(int(v.version) for v in versions) == list(range(1, total + 1))
    assert len({v.stem_uid for v in versions}) == 1
    assert sorted(decode_version(v.uid[-4:]) for v in versions) == list(range(total))
    assert [v.is_latest for v in versions].count(True) == 1
    assert versions[-1].is_latest  # the highest uid is the latest
    contents = {(int(f["writer"].iloc[0]), int(f["i"].iloc[0])) for f in map(load, versions)}
    assert len(contents) == total  # every row has its own file, with its own content
    assert fsck(instance, verify=True).is_clean


def load(artifact: ln.Artifact) -> pd.DataFrame:
    return artifact.load()


SAME_CONTENT = """
import os, sys, time
import pandas as pd
import lamin_core as ln
storage, db, go, out = sys.argv[1:5]
ln.connect(db or None, storage=storage)
while not os.path.exists(go):
    time.sleep(0.01)
uids = [
    ln.Artifact.from_df(pd.DataFrame({"same": [i]}), key=f"same/{i % 3}.parquet").save().uid
    for i in range(10)
]
open(out, "w").write(" ".join(uids))
"""


def test_same_content_saved_concurrently_returns_one_artifact(
    instance: ln.Instance, db_url: str | None, tmp_path: Path
):
    script = tmp_path / "same.py"
    script.write_text(SAME_CONTENT)
    go = tmp_path / "go"
    outs = [tmp_path / f"out{n}" for n in range(4)]
    writers = [
        subprocess.Popen(
            [sys.executable, str(script), instance.storage_root, db_url or "", str(go), str(out)],
            env=subprocess_env(),
            stderr=subprocess.PIPE,
        )
        for out in outs
    ]
    time.sleep(2)
    go.touch()
    for writer in writers:
        assert writer.wait(timeout=300) == 0, writer.stderr.read().decode()
    returned = [out.read_text().split() for out in outs]
    assert all(uids == returned[0] for uids in returned)  # every process got the same records
    rows = fresh_rows(instance, sa.select(ln.Artifact))
    assert len(rows) == 10
    assert fsck(instance, verify=True).is_clean


def collection_family(instance: ln.Instance, key: str) -> list[ln.Collection]:
    member = ln.Artifact.from_df(pd.DataFrame({"m": [key]}), key=f"{key}.parquet").save()
    first = ln.Collection([member], key=key, description="1").save()
    other = ln.Artifact.from_df(pd.DataFrame({"m": [key, "2"]}), key=f"{key}-2.parquet").save()
    second = ln.Collection([member, other], key=key).save()
    return [first, second]


def test_deleted_latest_artifact_uid_is_not_reused(instance: ln.Instance):
    key = "reuse/table.parquet"
    first = ln.Artifact.from_df(pd.DataFrame({"v": [1]}), key=key).save()
    second = ln.Artifact.from_df(pd.DataFrame({"v": [2]}), key=key).save()
    second_uid = second.uid
    second.delete(permanent=True)
    assert versions_of(instance, key)[0].is_latest  # delete hands is_latest back
    third = ln.Artifact.from_df(pd.DataFrame({"v": [3]}), key=key).save()
    assert third.uid != second_uid
    assert third.stem_uid == first.stem_uid
    assert decode_version(third.uid[-4:]) == 2
    assert third.load()["v"].iloc[0] == 3
    assert [v.is_latest for v in versions_of(instance, key)] == [False, True]


def test_deleted_latest_collection_uid_is_not_reused(instance: ln.Instance):
    first, second = collection_family(instance, "reuse-collection")
    second_uid = second.uid
    # one DELETE statement, no record events
    ln.Collection.filter(uid=second_uid).delete(permanent=True)
    member = ln.Artifact.from_df(pd.DataFrame({"m": [3]}), key="third.parquet").save()
    third = ln.Collection([member], key="reuse-collection", revises=first).save()
    assert third.uid != second_uid
    assert third.uid[:16] == first.uid[:16]
    assert decode_version(third.uid[-4:]) == 2


def family_of_three(registry: str) -> list[ln.Record]:
    """Save three versions of one record of `registry`, oldest first."""
    versions: list[ln.Record] = []
    for number in range(3):
        if registry == "Artifact":
            record = ln.Artifact.from_df(pd.DataFrame({"v": [number]}), key="family.parquet")
        elif registry == "Collection":
            member = ln.Artifact.from_df(pd.DataFrame({"m": [number]}), key=f"m{number}.parquet")
            record = ln.Collection([member.save()], key="family", revises=(versions or [None])[-1])
        else:
            stem = versions[0].uid[:12] if versions else ln.Transform._new_uid()[:12]
            record = ln.Transform(key="family.py", type="script", uid=stem + encode_version(number))
            if versions:
                versions[-1].is_latest = False
                versions[-1].save()
        versions.append(record.save())
    return versions


@pytest.mark.parametrize("registry", ["Artifact", "Collection", "Transform"])
def test_deleting_the_latest_version_hands_is_latest_to_the_newest_remaining(
    instance: ln.Instance, registry: str
):
    model = getattr(ln, registry)
    first, second, third = family_of_three(registry)
    second.delete(permanent=True)  # not the latest: the latest stays
    third.delete(permanent=True)
    rows = fresh_rows(instance, sa.select(model).where(model.uid.startswith(first.stem_uid)))
    assert [(row.uid, row.is_latest) for row in rows] == [(first.uid, True)]
    assert model.filter(uid__startswith=first.stem_uid, is_latest=True).one().uid == first.uid


def deleted_uid(instance: ln.Instance, registry: str) -> tuple[str, dict]:
    """Save and delete a record of `registry`; return its uid and what recreates it."""
    if registry == "Artifact":
        artifact = ln.Artifact.from_df(pd.DataFrame({"gone": [1]})).save()
        uid = artifact.uid
        artifact.delete(permanent=True)
        return uid, {}
    if registry == "Collection":
        member = ln.Artifact.from_df(pd.DataFrame({"member": [1]})).save()
        collection = ln.Collection([member], key="gone").save()
        uid = collection.uid
        collection.delete(permanent=True)
        return uid, {"member": member}
    transform = ln.Transform(key="gone.py", type="script").save()
    uid = transform.uid
    ln.Transform.filter(uid=uid).delete(permanent=True)
    return uid, {}


def recreate(registry: str, uid: str, context: dict) -> ln.Record:
    if registry == "Artifact":
        return ln.Artifact(pd.DataFrame({"other": [2]}), uid=uid)
    if registry == "Collection":
        return ln.Collection([context["member"]], key="other", uid=uid)
    return ln.Transform(key="other.py", type="script", uid=uid)


@pytest.mark.parametrize("registry", ["Artifact", "Collection", "Transform"])
def test_explicit_uid_of_a_deleted_record_is_refused(instance: ln.Instance, registry: str):
    uid, context = deleted_uid(instance, registry)
    model = getattr(ln, registry)
    before = len(fresh_rows(instance, sa.select(model)))
    with pytest.raises(ln.IntegrityError, match=f"{uid}.*never reused"):
        recreate(registry, uid, context).save()
    assert len(fresh_rows(instance, sa.select(model))) == before  # nothing was written
    assert fsck(instance).is_clean


def test_track_refuses_the_uid_of_a_deleted_transform(instance: ln.Instance):
    transform = ln.Transform(key="pipeline.py", type="script").save()
    uid = transform.uid
    ln.Transform.filter(uid=uid).delete(permanent=True)
    with pytest.raises(ln.IntegrityError, match="never reused"):
        ln.track(uid, key="pipeline.py")
    assert fresh_rows(instance, sa.select(ln.Transform)) == []


def test_crash_leftover_at_the_next_uid_is_replaced_without_a_gap(instance: ln.Instance):
    key = "crash/table.parquet"
    first = ln.Artifact.from_df(pd.DataFrame({"v": [1]}), key=key).save()
    # a save killed after placing its file and before committing left this behind
    leftover = Path(instance.catalog_path) / f"{first.stem_uid}{encode_version(1)}.parquet"
    leftover.write_bytes(b"half of a parquet file")
    second = ln.Artifact.from_df(pd.DataFrame({"v": [2]}), key=key).save()
    assert second.uid == first.stem_uid + encode_version(1)
    assert second.version == "2"
    assert second.load()["v"].iloc[0] == 2
    assert fsck(instance, verify=True).is_clean


def test_upgraded_catalog_never_reuses_uids(tmp_path: Path, empty_db_url: str | None):
    url = empty_db_url or f"sqlite:///{tmp_path / 'catalog' / '.lamindb' / 'lamin.db'}"
    engine = create_engine(url)
    upgrade(engine, "0005")  # a catalog made before deleted uids were remembered
    engine.dispose()
    instance = ln.connect(url, storage=tmp_path / "catalog")
    key = "old/table.parquet"
    ln.Artifact.from_df(pd.DataFrame({"v": [1]}), key=key).save()
    second = ln.Artifact.from_df(pd.DataFrame({"v": [2]}), key=key).save()
    second_uid = second.uid
    second.delete(permanent=True)
    third = ln.Artifact.from_df(pd.DataFrame({"v": [3]}), key=key).save()
    assert third.uid != second_uid
    with pytest.raises(ln.IntegrityError, match="never reused"):
        ln.Artifact(pd.DataFrame({"v": [4]}), uid=second_uid).save()
    instance.close()


# a sequence of saves (content id) and deletes (index into the remaining versions)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("save"), st.integers(0, 5)),
        st.tuples(st.just("delete"), st.integers(0, 10)),
    ),
    min_size=1,
    max_size=12,
)


def test_version_family_invariants_hold_for_any_saves_and_deletes(instance: ln.Instance):
    @settings(
        max_examples=25,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(operations)
    def check(ops: list[tuple[str, int]]) -> None:
        key = f"family/{uuid.uuid4().hex}.parquet"
        seen: dict[str, int] = {}  # every uid ever given out -> its content
        for op, value in ops:
            current = versions_of(instance, key)
            if op == "save":
                frame = pd.DataFrame({"key": [key], "content": [value]})
                saved = ln.Artifact.from_df(frame, key=key).save()
                if saved.key != key:
                    continue  # the content is an older version saved under this key: returned
                assert seen.setdefault(saved.uid, value) == value, "uid reused for new content"
                stem_seen = [u for u in seen if u[:16] == saved.stem_uid and u != saved.uid]
                if saved.uid not in [v.uid for v in current]:
                    assert all(u < saved.uid for u in stem_seen), "uid not after every earlier"
            elif current:
                current[value % len(current)].delete(permanent=True)
            remaining = versions_of(instance, key)
            if remaining:
                assert [v.is_latest for v in remaining].count(True) == 1
                assert remaining[-1].is_latest  # the highest remaining uid is the latest
                assert len({v.stem_uid for v in remaining}) == 1

    check()
    assert fsck(instance, verify=True).is_clean
