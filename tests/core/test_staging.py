"""Staging: the size and hash an artifact records are those of the bytes the catalog stored.

A file whose stat size is not its content (``/proc`` files), a file that changes while it is
being registered, special files (FIFOs, sockets, devices) and keys that are not file names.
"""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import fsspec
import pandas as pd
import pytest
import sqlalchemy as sa

import lamin_core as ln
from lamin_core.artifacts.fsck import fsck


def md5_b64(content: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.md5(content).digest()).decode().rstrip("=")


def count_artifacts(instance: ln.Instance) -> int:
    session = instance.session
    value = session.scalar(sa.select(sa.func.count()).select_from(ln.Artifact))
    session.commit()
    return int(value)


def content_files(instance: ln.Instance) -> list[str]:
    """Return the files in the catalog folder other than the SQLite database and staging."""
    found = instance.fs.find(instance.catalog_path)
    return [p for p in found if "/lamin.db" not in p and "/_staging/" not in p]


def stored_bytes(artifact: ln.Artifact) -> bytes:
    with artifact.open("rb") as stream:
        return bytes(stream.read())


@pytest.fixture(params=["local", "memory"])
def any_storage(request, tmp_path: Path, db_url: str | None) -> Iterator[ln.Instance]:
    """A catalog on local storage and one on (remote-like) memory storage, on both backends."""
    if request.param == "local":
        instance = ln.init(storage=tmp_path / "catalog", db=db_url, user="testuser1")
    else:
        storage = f"memory://staging-{uuid.uuid4().hex[:10]}"
        db = db_url or f"sqlite:///{tmp_path / 'catalog.db'}"
        instance = ln.init(storage=storage, db=db, user="testuser1")
    yield instance
    instance.close()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc")
def test_file_whose_stat_size_is_not_its_content_records_the_stored_size(sqlite_instance):
    proc_file = Path("/proc/version")
    content = proc_file.read_bytes()
    assert proc_file.stat().st_size == 0 and content  # the premise: stat says 0 bytes
    artifact = ln.Artifact(proc_file, key="system/version.txt")
    assert artifact.size == len(content)
    artifact = artifact.save()
    assert stored_bytes(artifact) == content
    assert (artifact.size, artifact.hash) == (len(content), md5_b64(content))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc")
def test_file_that_changes_on_every_read_is_saved_consistently_or_refused(sqlite_instance):
    try:
        artifact = ln.Artifact("/proc/self/status", key="system/status.txt").save()
    except ln.StorageError as error:
        assert "changed while" in str(error)
        assert count_artifacts(sqlite_instance) == 0
        return
    content = stored_bytes(artifact)
    assert (artifact.size, artifact.hash) == (len(content), md5_b64(content))


CHANGES = {
    "appended": lambda path: path.write_bytes(path.read_bytes() + b"appended"),
    "rewritten-same-size": lambda path: path.write_bytes(path.read_bytes().upper()),
    "truncated": lambda path: path.write_bytes(b""),
}


def test_file_changed_between_staging_and_saving_is_refused(any_storage, tmp_path):
    for name, change in CHANGES.items():
        path = tmp_path / f"{name}.txt"
        path.write_bytes(b"acgt" * 1000)
        artifact = ln.Artifact(path, key=f"raw/{name}.txt")
        change(path)
        with pytest.raises(ln.StorageError, match=rf"'.*{name}\.txt' changed while it was being"):
            artifact.save()
        assert count_artifacts(any_storage) == 0, name
        any_storage.fs.invalidate_cache()
        assert fsck(any_storage).is_clean, name
        assert content_files(any_storage) == [], name  # nothing stored
    path = tmp_path / "appended.txt"
    again = ln.Artifact(path, key="raw/appended.txt").save()  # registering it anew works
    assert stored_bytes(again) == path.read_bytes() and again.size == path.stat().st_size


def test_folder_changed_between_staging_and_saving_is_refused(any_storage, tmp_path):
    folder = tmp_path / "run.zarr"
    folder.mkdir()
    (folder / "a.txt").write_text("alpha")
    artifact = ln.Artifact(folder, key="raw/run.zarr")
    (folder / "a.txt").write_text("ALPHA")
    with pytest.raises(ln.StorageError, match="changed while it was being"):
        artifact.save()
    assert count_artifacts(any_storage) == 0
    any_storage.fs.invalidate_cache()
    assert fsck(any_storage).is_clean


@pytest.fixture
def fifo(tmp_path: Path) -> Iterator[Path]:
    """A named pipe; a writer feeds it, so a code path that reads it finishes instead of hanging."""
    (tmp_path / "pipes").mkdir()
    path = tmp_path / "pipes" / "pipe.txt"
    os.mkfifo(path)

    def feed() -> None:
        with open(path, "wb") as stream:  # blocks until something opens the pipe for reading
            stream.write(b"from the pipe")

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    yield path
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # releases a still waiting writer
    writer.join(timeout=5)
    os.close(descriptor)


def test_named_pipe_is_refused(sqlite_instance, fifo: Path):
    with pytest.raises(ln.StorageError, match=r"named pipe.*regular files and folders"):
        ln.Artifact(fifo, key="pipe.txt")
    assert count_artifacts(sqlite_instance) == 0


def test_folder_with_a_named_pipe_is_refused(sqlite_instance, tmp_path: Path, fifo: Path):
    with pytest.raises(ln.StorageError, match="named pipe"):
        ln.Artifact(fifo.parent, key="folder")


def test_socket_and_device_are_refused(sqlite_instance, tmp_path: Path):
    socket_path = tmp_path / "s.sock"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(socket_path))
        with pytest.raises(ln.StorageError, match="socket"):
            ln.Artifact(socket_path, key="s.sock")
    with pytest.raises(ln.StorageError, match="device"):
        ln.Artifact("/dev/null", key="null.bin")
    assert count_artifacts(sqlite_instance) == 0


def test_folder_that_contains_the_catalog_is_refused(sqlite_instance, tmp_path: Path):
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ln.StorageError, match="contains the catalog"):
        ln.Artifact(tmp_path, key="everything")
    assert count_artifacts(sqlite_instance) == 0


@pytest.mark.parametrize("path", ["a\x00b.txt", "x" * 5000, "/" + "x/" * 3000])
def test_unusable_local_path_is_a_storage_error(sqlite_instance, path: str):
    with pytest.raises(ln.StorageError, match=r"No file or folder|Cannot read"):
        ln.Artifact(path, key="x.txt")


def test_file_inside_storage_whose_name_is_no_key_needs_a_key(sqlite_instance):
    inside = Path(sqlite_instance.storage_root) / "raw" / "a\\b%2e.csv"
    inside.parent.mkdir()
    inside.write_text("a,b\n")
    with pytest.raises(ln.ValidationError, match=r"key=") as info:
        ln.Artifact(inside)
    assert repr("raw/a\\b%2e.csv") in str(info.value)
    artifact = ln.Artifact(inside, key="raw/ab.csv").save()  # copied under a valid key
    assert artifact.key_is_virtual and stored_bytes(artifact) == b"a,b\n"


@pytest.mark.parametrize("key", ["raw/", "raw/run1.zarr/", "a//"])
def test_key_ending_in_slash_is_refused(sqlite_instance, tmp_path: Path, key: str):
    folder = tmp_path / "run1.zarr"
    folder.mkdir()
    (folder / "a.txt").write_text("alpha")
    for make in [
        lambda: ln.Artifact(folder, key=key),
        lambda: ln.Artifact(folder / "a.txt", key=key),
        lambda: ln.Artifact.from_df(pd.DataFrame({"a": [1]}), key=key),
    ]:
        with pytest.raises(ln.ValidationError, match="key"):
            make()
    assert count_artifacts(sqlite_instance) == 0


def test_folder_registered_in_place_gets_a_key_without_trailing_slash(sqlite_instance):
    folder = Path(sqlite_instance.storage_root) / "raw" / "run1.zarr"
    folder.mkdir(parents=True)
    (folder / "a.txt").write_text("alpha")
    artifact = ln.Artifact(f"{folder}/").save()
    assert artifact.key == "raw/run1.zarr" and not artifact.key_is_virtual
    assert artifact.n_files == 1 and artifact.size == 5


def test_remote_url_of_the_storage_or_its_catalog_folder_is_refused(tmp_path: Path):
    base = f"memory://staging-{uuid.uuid4().hex[:10]}"
    ln.init(storage=f"{base}/catalog", db=f"sqlite:///{tmp_path / 'catalog.db'}")
    saved = ln.Artifact.from_df(pd.DataFrame({"a": [1]}), key="t.parquet").save()
    for url in [f"{base}/catalog", f"{base}/catalog/", base]:
        with pytest.raises(ln.StorageError, match="contains the catalog's storage"):
            ln.Artifact(url)
    with pytest.raises(ln.StorageError, match="catalog's own folder"):
        ln.Artifact(f"{base}/catalog/.lamindb/{saved.uid}.parquet")
    assert count_artifacts(ln.get_instance()) == 1
    assert saved.load()["a"].tolist() == [1]


def test_open_on_a_folder_artifact_says_to_use_cache(sqlite_instance, tmp_path: Path):
    folder = tmp_path / "run.zarr"
    folder.mkdir()
    (folder / "a.txt").write_text("alpha")
    artifact = ln.Artifact(folder, key="raw/run.zarr").save()
    with pytest.raises(ln.StorageError, match=r"folder of 1 files.*cache\(\)"):
        artifact.open()


def test_folder_with_broken_link_or_link_loop_is_refused(sqlite_instance, tmp_path: Path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "a.txt").write_text("alpha")
    (broken / "gone.txt").symlink_to(tmp_path / "missing.txt")
    with pytest.raises(ln.StorageError, match="broken symbolic link"):
        ln.Artifact(broken, key="broken")
    looping = tmp_path / "looping"
    (looping / "sub").mkdir(parents=True)
    (looping / "sub" / "up").symlink_to(looping, target_is_directory=True)
    with pytest.raises(ln.StorageError, match="link loop"):
        ln.Artifact(looping, key="looping")
    assert count_artifacts(sqlite_instance) == 0


def test_folder_with_a_linked_subfolder_stores_what_it_hashed(sqlite_instance, tmp_path: Path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "b.txt").write_text("beta")
    folder = tmp_path / "run.zarr"
    folder.mkdir()
    (folder / "a.txt").write_text("alpha")
    (folder / "linked").symlink_to(elsewhere, target_is_directory=True)
    artifact = ln.Artifact(folder, key="raw/run.zarr").save()
    assert (artifact.n_files, artifact.size) == (2, len("alpha") + len("beta"))
    cached = Path(artifact.cache())
    assert (cached / "linked" / "b.txt").read_text() == "beta"


def test_remote_folder_object_named_to_climb_out_is_not_downloaded(tmp_path: Path):
    base = f"/staging-{uuid.uuid4().hex[:10]}"
    ln.init(storage=f"memory:/{base}/catalog", db=f"sqlite:///{tmp_path / 'catalog.db'}")
    memory = fsspec.filesystem("memory")
    memory.pipe(f"{base}/shared/run/a.txt", b"alpha")
    artifact = ln.Artifact(f"memory:/{base}/shared/run").save()
    assert artifact.n_files == 1
    memory.pipe(f"{base}/shared/run/../../../../escaped.txt", b"evil")  # a legal object name
    with pytest.raises(ln.StorageError, match="refused"):
        artifact.cache()
    cache = tmp_path / "lamin-home" / "cache"
    assert not any(p.name == "escaped.txt" for p in tmp_path.rglob("*"))
    assert [p.name for p in cache.rglob("*") if p.is_file()] == []
    with pytest.raises(ln.StorageError, match=r"holds '\.\./"):
        ln.Artifact(f"memory:/{base}/shared/run")  # registering it again is refused too
