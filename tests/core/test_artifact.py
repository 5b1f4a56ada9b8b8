"""Artifacts: the guide's five artifacts, dedup, versions, delete, folders, bad input."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import anndata as ad
import pandas as pd
import pytest
import sqlalchemy as sa

import lamin_core as ln
from lamin_core import datasets


def md5_b64(path: Path) -> str:
    digest = hashlib.md5(path.read_bytes()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def count(model: type) -> int:
    session = ln.get_instance().session
    return int(session.scalar(sa.select(sa.func.count()).select_from(model)))


def stored_files(instance: ln.Instance) -> list[str]:
    folder = Path(instance.catalog_path)
    return sorted(
        p.name
        for p in folder.iterdir()
        if not p.name.startswith("lamin.db") and p.name != "_staging"
    )


def test_seed_artifacts_have_the_fields_the_guide_shows(instance: ln.Instance, tmp_path: Path):
    image = datasets.file_jpg_paradisi05(tmp_path / "in")
    fastq = datasets.file_fastq(tmp_path / "in")
    artifacts = [
        ln.Artifact(image, key="images/my_image.jpg").save(),
        ln.Artifact(fastq, key="raw/my_fastq.fastq").save(),
        ln.Artifact.from_df(datasets.df_iris(), key="iris/iris_collection.parquet").save(),
        ln.Artifact.from_anndata(
            datasets.small_dataset1(), key="example_datasets/dataset1.h5ad"
        ).save(),
        ln.Artifact.from_anndata(
            datasets.small_dataset2(), key="example_datasets/dataset2.h5ad"
        ).save(),
    ]
    expected = [
        (".jpg", None, None, None),
        (".fastq.gz", None, None, None),
        # the guide's table (an older LaminDB) shows None; LaminDB now fills the rows (issue 12)
        (".parquet", "dataset", "DataFrame", 150),
        (".h5ad", "dataset", "AnnData", 3),
        (".h5ad", "dataset", "AnnData", 3),
    ]
    for artifact, (suffix, kind, otype, n_obs) in zip(artifacts, expected, strict=True):
        stored = Path(artifact.cache())
        assert artifact.suffix == suffix
        assert (artifact.kind, artifact.otype, artifact.n_observations) == (kind, otype, n_obs)
        assert artifact.size == stored.stat().st_size
        assert artifact.hash == md5_b64(stored)
        assert len(artifact.hash) == 22 and artifact.hash_type == "md5"
        assert artifact.n_files is None
        assert len(artifact.uid) == 20 and artifact.uid.endswith("0000")
        assert artifact.is_latest and artifact.version == "1"
        assert artifact.storage_id == instance.storage_id
        assert artifact.created_by.handle == "testuser1"
        assert artifact.key_is_virtual
        assert stored.name == f"{artifact.uid}{suffix}"
    assert artifacts[1].size == fastq.stat().st_size
    assert count(ln.Artifact) == 5
    pd.testing.assert_frame_equal(artifacts[2].load(), datasets.df_iris())
    loaded = artifacts[3].load()
    assert isinstance(loaded, ad.AnnData)
    assert list(loaded.var_names) == ["CD8A", "CD4", "CD14"]
    assert loaded.uns["temperature"] == 21.6


def test_hash_of_content_a_matches_lamindb(sqlite_instance: ln.Instance, tmp_path: Path):
    path = tmp_path / "a.txt"
    path.write_bytes(b"a")
    assert ln.Artifact(path, key="a.txt").hash == "DMF1ucDxtqgxw5niaXcmYQ"


def test_hash_of_large_file_covers_the_whole_content(sqlite_instance: ln.Instance, tmp_path: Path):
    path = tmp_path / "big.bin"
    content = bytearray(60 * 1024 * 1024)
    path.write_bytes(content)
    first = ln.Artifact(path, key="big.bin")
    assert first.hash == md5_b64(path)
    content[30 * 1024 * 1024] = 1  # one byte in the middle: a sampled hash would miss it
    path.write_bytes(content)
    assert ln.Artifact(path, key="big.bin").hash != first.hash


def test_save_identical_content_returns_existing(instance: ln.Instance, tmp_path: Path):
    df = pd.DataFrame({"a": [1, 2, 3]})
    first = ln.Artifact.from_df(df, key="tables/a.parquet").save()
    again = ln.Artifact.from_df(df.copy(), key="tables/other.parquet").save()
    assert again.id == first.id
    assert count(ln.Artifact) == 1
    assert stored_files(instance) == [f"{first.uid}.parquet"]
    assert list(Path(instance.catalog_path, "_staging").iterdir()) == []


def test_save_new_content_under_same_key_makes_next_version(instance: ln.Instance):
    v1 = ln.Artifact.from_df(pd.DataFrame({"a": [1]}), key="tables/a.parquet").save()
    v2 = ln.Artifact.from_df(pd.DataFrame({"a": [2]}), key="tables/a.parquet").save()
    v3 = ln.Artifact.from_df(pd.DataFrame({"a": [3]}), key="tables/a.parquet").save()
    assert v2.uid[:16] == v1.uid[:16] == v3.uid[:16]
    assert [v.uid[16:] for v in (v1, v2, v3)] == ["0000", "0001", "0002"]
    assert [v.version for v in (v1, v2, v3)] == ["1", "2", "3"]
    session = instance.session
    latest = session.scalars(
        sa.select(ln.Artifact.uid).where(ln.Artifact.is_latest.is_(True))
    ).all()
    assert latest == [v3.uid]
    assert v3.load()["a"].tolist() == [3]


def test_save_with_revises_versions_a_different_key(instance: ln.Instance):
    v1 = ln.Artifact.from_df(pd.DataFrame({"a": [1]}), key="tables/a.parquet").save()
    v2 = ln.Artifact.from_df(pd.DataFrame({"a": [2]}), key="tables/b.parquet", revises=v1).save()
    assert v2.uid == v1.uid[:16] + "0001"
    instance.session.refresh(v1)
    assert not v1.is_latest and v2.is_latest


def test_delete_removes_row_and_file_and_moves_latest(instance: ln.Instance):
    v1 = ln.Artifact.from_df(pd.DataFrame({"a": [1]}), key="t.parquet").save()
    v2 = ln.Artifact.from_df(pd.DataFrame({"a": [2]}), key="t.parquet").save()
    path = Path(v2.cache())
    v2.delete(permanent=True)
    assert not path.exists()
    assert count(ln.Artifact) == 1
    instance.session.refresh(v1)
    assert v1.is_latest
    assert stored_files(instance) == [f"{v1.uid}.parquet"]


def test_folder_artifact_counts_files_and_hashes_content(instance: ln.Instance, tmp_path: Path):
    folder = tmp_path / "run1.zarr"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("alpha")
    (folder / "sub" / "b.txt").write_text("beta")
    artifact = ln.Artifact(folder, key="raw/run1.zarr").save()
    assert artifact.n_files == 2
    assert artifact.size == len("alpha") + len("beta")
    assert artifact.suffix == ".zarr"
    assert artifact.hash_type == "md5-d"
    cached = Path(artifact.cache())
    assert sorted(p.relative_to(cached).as_posix() for p in cached.rglob("*.txt")) == [
        "a.txt",
        "sub/b.txt",
    ]
    (folder / "sub" / "b.txt").write_text("beta2")
    changed = ln.Artifact(folder, key="raw/run1.zarr").save()
    assert changed.hash != artifact.hash and changed.uid.endswith("0001")
    artifact.delete(permanent=True)
    assert not cached.exists()


def test_file_inside_storage_is_registered_in_place(sqlite_instance: ln.Instance):
    inside = Path(sqlite_instance.storage_root) / "raw" / "reads.fastq.gz"
    inside.parent.mkdir(parents=True)
    inside.write_bytes(b"@r\nA\n+\nI\n")
    artifact = ln.Artifact(inside).save()
    assert artifact.key == "raw/reads.fastq.gz"
    assert not artifact.key_is_virtual
    assert Path(artifact.cache()) == inside
    assert stored_files(sqlite_instance) == []
    artifact.delete(permanent=True)
    assert inside.exists()  # the user's own file is not deleted with the record


def test_unsaved_artifact_leaves_no_row(sqlite_instance: ln.Instance):
    ln.Artifact.from_df(pd.DataFrame({"a": [1]}), key="x.parquet")
    assert count(ln.Artifact) == 0


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda tmp: ln.Artifact(tmp / "missing.csv"), ln.StorageError, "No file or folder"),
        (lambda tmp: ln.Artifact.from_df([1, 2], key="x.parquet"), ln.ValidationError, "list"),
        (lambda tmp: ln.Artifact.from_df({"a": 1}, key="x"), ln.ValidationError, "DataFrame"),
        (lambda tmp: ln.Artifact("foo://bucket/x.csv"), ln.StorageError, "foo"),
        (lambda tmp: ln.Artifact(object()), ln.ValidationError, "Cannot make an artifact"),
    ],
    ids=["missing-path", "list-to-from_df", "dict-to-from_df", "unknown-protocol", "object"],
)
def test_bad_input_raises_and_changes_nothing(sqlite_instance, tmp_path, make, error, match):
    before = stored_files(sqlite_instance)
    with pytest.raises(error, match=match):
        make(tmp_path)
    assert count(ln.Artifact) == 0
    assert stored_files(sqlite_instance) == before


@pytest.mark.parametrize(
    "key", ["../escape.csv", "a/../../b.csv", "/etc/passwd", "s3://bucket/x.csv", "", "a/./b"]
)
def test_invalid_key_is_rejected(sqlite_instance: ln.Instance, key: str):
    with pytest.raises(ln.ValidationError, match="key"):
        ln.Artifact.from_df(pd.DataFrame({"a": [1]}), key=key)
    assert count(ln.Artifact) == 0
    assert list(Path(sqlite_instance.catalog_path, "_staging").glob("*")) == []


def test_load_unknown_suffix_says_what_to_use(sqlite_instance: ln.Instance, tmp_path: Path):
    artifact = ln.Artifact(datasets.file_jpg_paradisi05(tmp_path), key="images/x.jpg").save()
    with pytest.raises(ln.ValidationError, match=r"suffix '\.jpg'.*cache\(\)"):
        artifact.load()
    # no streaming opener for images: the message names the ones that exist
    with pytest.raises(ln.ValidationError, match=r"'\.jpg'.*\.h5ad.*\.parquet.*open\('rb'\)"):
        artifact.open()
    with artifact.open("rb") as stream:
        assert stream.read(3) == b"\xff\xd8\xff"  # still readable as bytes: a JPEG header


def test_open_for_writing_is_refused(sqlite_instance: ln.Instance):
    artifact = ln.Artifact.from_df(pd.DataFrame({"a": [1]}), key="x.parquet").save()
    with pytest.raises(ln.StorageError, match="immutable"):
        artifact.open("wb")


def test_collection_keeps_order_and_versions(instance: ln.Instance):
    parts = [
        ln.Artifact.from_df(pd.DataFrame({"a": [i]}), key=f"parts/{i}.parquet").save()
        for i in range(3)
    ]
    collection = ln.Collection(parts[::-1], key="parts").save()
    assert [a.uid for a in collection.artifacts] == [a.uid for a in parts[::-1]]
    assert collection.load()["a"].tolist() == [2, 1, 0]
    same = ln.Collection(parts[::-1], key="parts").save()
    assert same.id == collection.id
    v2 = ln.Collection(parts, key="parts").save()
    assert v2.uid == collection.uid[:16] + "0001" and v2.is_latest


def test_collection_of_unsaved_artifact_is_rejected(sqlite_instance: ln.Instance):
    unsaved = ln.Artifact.from_df(pd.DataFrame({"a": [1]}), key="x.parquet")
    with pytest.raises(ln.ValidationError, match="saved Artifact"):
        ln.Collection([unsaved], key="c")
