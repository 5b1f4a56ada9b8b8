"""Remote storage: a real S3-compatible server on 127.0.0.1 through s3fs, and fsspec's memory."""

from __future__ import annotations

from pathlib import Path

import fsspec
import pandas as pd
import pytest

import lamin_core as ln


@pytest.fixture
def s3_instance(tmp_path: Path, s3_bucket: str, db_url: str | None):
    db = db_url or f"sqlite:///{tmp_path / 'catalog.db'}"
    instance = ln.init(storage=f"s3://{s3_bucket}/catalog", db=db, user="testuser1")
    yield instance
    instance.close()


def test_s3_save_load_version_and_delete(s3_instance: ln.Instance, s3_bucket: str):
    fs = fsspec.filesystem("s3")
    v1 = ln.Artifact.from_df(pd.DataFrame({"x": [1, 2]}), key="tables/x.parquet").save()
    v2 = ln.Artifact.from_df(pd.DataFrame({"x": [3]}), key="tables/x.parquet").save()
    assert str(v1.path) == f"s3://{s3_bucket}/catalog/.lamindb/{v1.uid}.parquet"
    assert fs.exists(f"{s3_bucket}/catalog/.lamindb/{v2.uid}.parquet")
    assert v2.load()["x"].tolist() == [3]
    local = v1.cache()
    assert local.exists() and pd.read_parquet(local)["x"].tolist() == [1, 2]
    v2.delete(permanent=True)
    assert not fs.exists(f"{s3_bucket}/catalog/.lamindb/{v2.uid}.parquet")
    assert v1.load()["x"].tolist() == [1, 2]


def test_s3_file_is_registered_in_place(s3_instance: ln.Instance, s3_bucket: str):
    fs = fsspec.filesystem("s3")
    fs.pipe(f"{s3_bucket}/external/reads.csv", b"a,b\n1,2\n")
    artifact = ln.Artifact(f"s3://{s3_bucket}/external/reads.csv").save()
    assert artifact.key == "external/reads.csv"
    assert not artifact.key_is_virtual
    assert artifact.storage.root == f"s3://{s3_bucket}"
    assert artifact.size == 8
    assert artifact.load()["b"].tolist() == [2]
    artifact.delete(permanent=True)
    assert fs.exists(f"{s3_bucket}/external/reads.csv")  # not ours to delete


def test_s3_folder_upload_and_cache(s3_instance: ln.Instance, tmp_path: Path):
    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(3):
        (folder / f"{i}.txt").write_text(str(i))
    artifact = ln.Artifact(folder, key="raw/images").save()
    assert artifact.n_files == 3
    cached = artifact.cache()
    assert sorted(p.name for p in cached.iterdir()) == ["0.txt", "1.txt", "2.txt"]


def test_s3_missing_object_is_a_clear_error(s3_instance: ln.Instance, s3_bucket: str):
    with pytest.raises(ln.StorageError, match="No file or folder"):
        ln.Artifact(f"s3://{s3_bucket}/nope.csv")


def test_remote_storage_without_db_url_says_what_to_pass(s3_bucket: str):
    with pytest.raises(ln.InstanceError, match="Pass a database URL"):
        ln.init(storage=f"s3://{s3_bucket}/catalog")


def test_memory_storage_round_trip(tmp_path: Path):
    ln.init(storage="memory://catalog-test", db=f"sqlite:///{tmp_path / 'm.db'}")
    artifact = ln.Artifact.from_df(pd.DataFrame({"a": [1]}), key="m.parquet").save()
    assert str(artifact.path).startswith("memory://")
    assert artifact.load()["a"].tolist() == [1]
