"""Hostile uids, suffixes and keys never touch anything outside the storage root.

Every value a user (or a tampered row) can give goes through one of the ways it enters the catalog:
a constructor keyword, an attribute assignment, a key, a URL, a row written behind the catalog's
back. Whatever the value, the outcome is success or a `LaminError`; nothing appears, changes or
disappears outside the catalog's root (planted victim files stay), and `fsck` stays clean. The same
corpus runs on local, ``memory://`` and S3 storage, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import itertools
import os
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import fsspec
import pandas as pd
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import lamin_core as ln
from lamin_core.artifacts.fsck import fsck
from lamin_core.artifacts.staging import staging_dir

FRAGMENTS = [
    "..",
    "../",
    "./",
    "/",
    "\\",
    "..\\",
    "%2e%2e",
    "%2f",
    "\x00",
    "\u2025",
    "\uff0e\uff0e",
    "\uff0f",
    "\u2215",
    "~",
    "C:",
    "file://",
    "s3://",
    "memory://",
    "victim",
    "victim.txt",
    ".txt",
    "outside",
    "a",
    "0000",
]
IN_ROOT = ["victim.txt", "a/victim.txt", "a/.txt"]  # files inside the storage root
DEPTH = 12  # the catalog lies this deep below the watched folder, so that '..' chains land in it


def hostile_values(absolute: list[str]) -> st.SearchStrategy[str]:
    """Return text built from traversal fragments, random text, long text and absolute paths."""
    return st.one_of(
        st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=DEPTH).map("".join),
        st.integers(min_value=1, max_value=DEPTH).map(lambda n: "../" * n + "victim.txt"),
        st.integers(min_value=1, max_value=DEPTH).map(lambda n: "../" * n + "victim"),
        st.text(max_size=24),
        st.integers(min_value=100, max_value=4000).map(lambda n: "a" * n),
        st.sampled_from(absolute),
        # files that exist inside the root, reached directly or through a detour
        st.tuples(
            st.lists(st.sampled_from(["../", "./", "a/../", "%2e%2e/", "a//"]), max_size=2),
            st.sampled_from(IN_ROOT),
        ).map(lambda parts: "".join(parts[0]) + parts[1]),
    )


def tree(folder: Path, skip: set[Path]) -> dict[str, tuple[str, bytes | None]]:
    """Return every entry below `folder` (not following links) with its kind and content."""
    found: dict[str, tuple[str, bytes | None]] = {}
    for current, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if Path(current, d) not in skip]
        for name in dirs + files:
            path = Path(current, name)
            if path.is_symlink():
                found[str(path)] = ("link", os.readlink(path).encode())
            elif path.is_file():
                found[str(path)] = ("file", path.read_bytes())
            else:
                found[str(path)] = ("dir", None)
    return found


@dataclass
class World:
    """A catalog, the folder of the user's source files, and what lies outside the catalog."""

    instance: ln.Instance
    sources: Path
    url: Callable[[str], str]  # a URL or path below the storage root, for in-place registration
    outside: Callable[[], dict[str, Any]]
    absolute: list[str]

    def __post_init__(self) -> None:
        self.baseline = self.outside()


def local_outside(tmp_path: Path, catalog: Path | None) -> Callable[[], dict[str, Any]]:
    """Watch the test folder but the catalog, its database, user cache and staging, sources."""
    skip = {
        tmp_path / p for p in ("sources", "db", "tmp", "lamin-home/cache", "lamin-home/_staging")
    }
    if catalog is not None:
        skip.add(catalog)
    return lambda: tree(tmp_path, skip)


def plant_local(tmp_path: Path) -> list[str]:
    victims = [tmp_path / "victim.txt", tmp_path / "outside" / "victim.txt"]
    victims += [
        tmp_path.joinpath(*[f"d{i}" for i in range(depth)], "victim.txt") for depth in (3, 8)
    ]
    for victim in victims:
        victim.parent.mkdir(parents=True, exist_ok=True)
        victim.write_text("do not touch")
    return [str(v) for v in victims] + [str(tmp_path / "outside"), "/tmp/victim.txt", "~/victim"]


@pytest.fixture(params=["local", "memory", pytest.param("s3", marks=pytest.mark.s3)])
def world(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    db_url: str | None,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[World]:
    kind = request.param
    # remote storage stages in the temp folder: this test's own, so that it sees only its files
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "sources").mkdir()
    (tmp_path / "db").mkdir()
    db = db_url or f"sqlite:///{tmp_path / 'db' / 'catalog.db'}"
    absolute = plant_local(tmp_path)
    if kind == "local":
        root = tmp_path.joinpath(*[f"d{i}" for i in range(DEPTH)], "catalog")
        instance = ln.init(storage=root, db=db, user="testuser1")
        for inside in IN_ROOT:  # files a URL may register in place
            (root / inside).parent.mkdir(parents=True, exist_ok=True)
            (root / inside).write_text(f"inside {inside}")
        yield World(
            instance,
            tmp_path / "sources",
            lambda v: f"{root}/{v}",
            local_outside(tmp_path, root),
            absolute,
        )
    elif kind == "memory":
        memory = fsspec.filesystem("memory")
        base = f"/safety-{uuid.uuid4().hex[:10]}"
        for victim in ["victim.txt", "outside/victim.txt"]:
            memory.pipe(f"{base}/{victim}", b"do not touch")
        for inside in IN_ROOT:
            memory.pipe(f"{base}/catalog/{inside}", f"inside {inside}".encode())
        watch_local = local_outside(tmp_path, None)

        def outside() -> dict[str, Any]:
            objects = {k: bytes(v.getbuffer()) for k, v in memory.store.items()}
            mine = {k: v for k, v in objects.items() if not k.startswith(f"{base}/catalog/")}
            return {"memory": mine, "local": watch_local()}

        instance = ln.init(storage=f"memory:/{base}/catalog", db=db, user="testuser1")
        yield World(
            instance,
            tmp_path / "sources",
            lambda v: f"memory:/{base}/catalog/{v}",
            outside,
            [*absolute, f"memory:/{base}/victim.txt"],
        )
        memory.rm(base, recursive=True)
    else:
        bucket = request.getfixturevalue("s3_bucket")
        s3 = fsspec.filesystem("s3", skip_instance_cache=True)
        for victim in ["victim.txt", "outside/victim.txt", "catalog-other/victim.txt"]:
            s3.pipe(f"{bucket}/{victim}", b"do not touch")
        for inside in IN_ROOT:
            s3.pipe(f"{bucket}/catalog/{inside}", f"inside {inside}".encode())
        watch_local = local_outside(tmp_path, None)

        def outside() -> dict[str, Any]:
            s3.invalidate_cache()
            listing = {
                path: info["size"]
                for path, info in s3.find(bucket, detail=True).items()
                if not path.startswith(f"{bucket}/catalog/")
            }
            return {
                "s3": listing,
                "victims": s3.cat(f"{bucket}/victim.txt"),
                "local": watch_local(),
            }

        instance = ln.init(storage=f"s3://{bucket}/catalog", db=db, user="testuser1")
        yield World(
            instance,
            tmp_path / "sources",
            lambda v: f"s3://{bucket}/catalog/{v}",
            outside,
            [*absolute, f"s3://{bucket}/victim.txt"],
        )
    instance.close()


counter = itertools.count()


def changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, str]:
    """Return what differs between two snapshots, path by path (nested for remote stores)."""
    found: dict[str, str] = {}
    for name in before.keys() | after.keys():
        old, new = before.get(name), after.get(name)
        if isinstance(old, dict) and isinstance(new, dict):
            found.update({f"{name}:{k}": v for k, v in changes(old, new).items()})
        elif old != new:
            found[name] = "added" if old is None else "removed" if new is None else "changed"
    return found


def attempt(action: Callable[[], Any], label: str = "") -> Any:
    """Run `action`; a LaminError is an accepted outcome, any other exception fails the test."""
    try:
        result = action()
    except ln.LaminError as error:
        if label:
            event(f"{label}: {type(error).__name__}")
        return None
    if label:
        event(f"{label}: done")
    return result


def exercise(artifact: ln.Artifact | None, value: str) -> None:
    """Save, read, mutate with `value`, save again and delete an artifact made from `value`."""
    if artifact is None:
        return
    saved = attempt(artifact.save, "save")
    if saved is None:
        return
    attempt(saved.cache, "cache")
    attempt(lambda: saved.open("rb").close())
    attempt(lambda: str(saved.path))
    for field in ("uid", "suffix", "key", "key_is_virtual", "hash", "size"):
        attempt(lambda field=field: setattr(saved, field, value), f"set {field}")
    attempt(saved.save)
    attempt(lambda: saved.delete(permanent=True, storage=True), "delete")


def run_corpus_example(world: World, value: str) -> None:
    def source() -> Path:
        n = next(counter)
        path = world.sources / f"source{n}.txt"
        path.write_text(f"content {n} {uuid.uuid4().hex}")  # unique: no save is a duplicate
        return path

    makers: dict[str, Callable[[], ln.Artifact]] = {
        "key": lambda: ln.Artifact(source(), key=value),
        "uid": lambda: ln.Artifact(source(), key=f"k/{next(counter)}.txt", uid=value),
        "suffix": lambda: ln.Artifact(source(), key=f"k/{next(counter)}.txt", suffix=value),
        "from_df key": lambda: ln.Artifact.from_df(pd.DataFrame({"n": [next(counter)]}), key=value),
        "DataFrame suffix": lambda: ln.Artifact(
            pd.DataFrame({"n": [next(counter)]}), key=f"k/{next(counter)}.parquet", suffix=value
        ),
        "url": lambda: ln.Artifact(world.url(value)),
    }
    for label, make in makers.items():
        exercise(attempt(make, label), value)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_hostile_values_never_touch_anything_outside_the_root(world: World, data: st.DataObject):
    # compared with the state before the first example, so that a failing example fails again
    # when hypothesis replays it
    before = world.baseline
    value = data.draw(hostile_values(world.absolute), label="value")
    run_corpus_example(world, value)
    assert changes(before, world.outside()) == {}
    assert list(staging_dir().iterdir()) == []  # refused artifacts leave no staging file
    world.instance.fs.invalidate_cache()  # s3fs caches listings
    report = fsck(world.instance)
    assert report.is_clean, str(report)


def count_artifacts(instance: ln.Instance) -> int:
    session = instance.session
    value = session.scalar(sa.select(sa.func.count()).select_from(ln.Artifact))
    session.commit()
    return int(value)


TAMPERED = [
    {"uid": "../../victim"},
    {"uid": "../../../victim"},
    {"suffix": "/../../victim.txt"},
    {"key": "../victim.txt", "key_is_virtual": False},
    {"key": "../../outside/victim.txt", "key_is_virtual": False},
]


def tamper(instance: ln.Instance, artifact_id: int, **values: Any) -> ln.Artifact:
    """Change a row behind the catalog's back (an old catalog, a hand-edited database)."""
    session = instance.session
    session.execute(sa.update(ln.Artifact).where(ln.Artifact.id == artifact_id).values(**values))
    session.commit()
    session.expire_all()
    return ln.Artifact.get(artifact_id)


def test_tampered_row_is_refused_before_any_read_or_delete(instance, tmp_path):
    catalog = Path(instance.storage_root)
    victims = [catalog.parent / "victim.txt", catalog / "victim.txt", catalog.parent / "victim0"]
    for victim in victims:
        victim.write_text("do not touch")
    rows = [
        *TAMPERED,
        {"uid": "../../victim0", "suffix": ""},
        {"key": str(tmp_path / "victim.txt"), "key_is_virtual": False},  # an absolute key
    ]
    before = local_outside(tmp_path, catalog)()
    for i, values in enumerate(rows):
        source = tmp_path / "sources" / f"{i}.txt"
        source.parent.mkdir(exist_ok=True)
        source.write_text(f"content {i}")
        artifact = tamper(instance, ln.Artifact(source, key=f"{i}.txt").save().id, **values)
        path_of = artifact.__class__.path.fget
        for action in [artifact.cache, artifact.load, artifact.open, partial(path_of, artifact)]:
            with pytest.raises(ln.StorageError, match="refused"):
                action()
        with pytest.raises(ln.StorageError, match="refused"):
            artifact.delete(permanent=True, storage=True)
    assert count_artifacts(instance) == len(rows)  # every row is still there: nothing half-done
    assert all(victim.read_text() == "do not touch" for victim in victims)
    assert local_outside(tmp_path, catalog)() == before


def test_in_place_file_replaced_by_a_symlink_leading_outside_is_not_deleted(
    sqlite_instance, tmp_path
):
    inside = Path(sqlite_instance.storage_root) / "raw" / "reads.csv"
    inside.parent.mkdir()
    inside.write_text("a,b\n1,2\n")
    artifact = ln.Artifact(inside).save()
    assert not artifact.key_is_virtual
    victim_folder = tmp_path / "outside"
    victim_folder.mkdir()
    (victim_folder / "victim.txt").write_text("do not touch")
    inside.parent.rename(tmp_path / "moved")
    inside.parent.symlink_to(victim_folder, target_is_directory=True)
    (victim_folder / "reads.csv").write_text("victim")
    with pytest.raises(ln.StorageError, match="outside"):
        artifact.delete(permanent=True, storage=True)
    with pytest.raises(ln.StorageError, match="outside"):
        artifact.load()
    assert (victim_folder / "reads.csv").read_text() == "victim"
    assert count_artifacts(sqlite_instance) == 1


def test_memory_storage_cache_stays_in_the_cache_folder(tmp_path: Path):
    base = f"/cache-{uuid.uuid4().hex[:10]}"
    ln.init(storage=f"memory:/{base}", db=f"sqlite:///{tmp_path / 'm.db'}")
    artifact = ln.Artifact.from_df(pd.DataFrame({"a": [1]}), key="m.parquet").save()
    cached = Path(artifact.cache())
    assert cached.is_relative_to(tmp_path / "lamin-home" / "cache")
    assert not Path(base).exists()  # not a folder at the top of the local filesystem
    assert artifact.load()["a"].tolist() == [1]


@pytest.mark.s3
def test_s3_url_climbing_out_of_its_folder_is_refused(tmp_path, s3_bucket, db_url):
    db = db_url or f"sqlite:///{tmp_path / 'catalog.db'}"
    ln.init(storage=f"s3://{s3_bucket}/catalog", db=db, user="testuser1")
    s3 = fsspec.filesystem("s3", skip_instance_cache=True)
    s3.pipe(f"{s3_bucket}/victim.txt", b"do not touch")
    for url in [f"s3://{s3_bucket}/catalog/../victim.txt", f"s3://{s3_bucket}/./victim.txt"]:
        with pytest.raises(ln.StorageError, match=r"'\.\.'|'\.'"):
            ln.Artifact(url)
    assert s3.cat(f"{s3_bucket}/victim.txt") == b"do not touch"
    assert count_artifacts(ln.get_instance()) == 0


def test_tampered_rows_are_refused_on_every_storage(world: World):
    saved = [
        ln.Artifact.from_df(pd.DataFrame({"n": [i]}), key=f"t/{i}.parquet").save()
        for i in range(len(TAMPERED))
    ]
    for artifact, values in zip(saved, TAMPERED):
        tampered = tamper(world.instance, artifact.id, **values)
        path_of = tampered.__class__.path.fget
        for action in [tampered.cache, tampered.load, partial(path_of, tampered)]:
            with pytest.raises(ln.StorageError, match="refused"):
                action()
        with pytest.raises(ln.StorageError, match="refused"):
            tampered.delete(permanent=True, storage=True)
    assert count_artifacts(world.instance) == len(TAMPERED)
    assert changes(world.baseline, world.outside()) == {}


def test_fsck_reports_a_tampered_row_and_repairs_nothing_outside(instance, tmp_path):
    catalog = Path(instance.storage_root)
    victim = catalog.parent / "victim.parquet"
    victim.write_text("do not touch")
    saved = ln.Artifact.from_df(pd.DataFrame({"a": [1]}), key="a.parquet").save()
    tamper(instance, saved.id, uid="../../victim")
    report = fsck(instance, repair=True)
    assert "../../victim" in report.missing_content  # its content cannot be anywhere safe
    assert victim.read_text() == "do not touch"
    assert not report.is_clean
