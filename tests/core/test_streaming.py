"""artifact.open() and collection.open(): stream parquet, backed AnnData and zarr from storage.

Each opener runs once on SQLite and PostgreSQL catalogs; the file-format details on SQLite.
The main promise is reading less than everything: a selective filter on a 1 GB parquet artifact
reads a few of its row groups, measured by counting the bytes that pass through the storage's
file objects. collection.mapped() is covered in test_streaming_mapped.py.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest
import scipy.sparse as sp

import lamin_core as ln
from tests.counting import counting_filesystem
from tests.snapshot import catalog_snapshot


@pytest.fixture
def s3_instance(tmp_path: Path, s3_bucket: str) -> Iterator[ln.Instance]:
    """A catalog on S3 (SQLite: the database plays no part in reading files)."""
    db = f"sqlite:///{tmp_path / 'catalog.db'}"
    instance = ln.init(storage=f"s3://{s3_bucket}/catalog", db=db, user="testuser1")
    yield instance
    instance.close()


def scores(n: int, start: int = 0) -> pd.DataFrame:
    ids = np.arange(start, start + n)
    return pd.DataFrame(
        {"id": ids, "score": ids * 0.5, "group": [f"g{i % 3}" for i in ids]},
    )


# --- parquet -------------------------------------------------------------------------------------


def assert_filters_and_projects(dataset: pads.Dataset, n: int) -> None:
    table = dataset.to_table(filter=pc.field("score") >= (n - 2) * 0.5, columns=["id", "group"])
    assert table.column_names == ["id", "group"]
    assert table.to_pydict() == {
        "id": [n - 2, n - 1],
        "group": [f"g{(n - 2) % 3}", f"g{(n - 1) % 3}"],
    }


def test_open_parquet_is_a_dataset_that_filters_and_projects(sqlite_instance: ln.Instance):
    artifact = ln.Artifact.from_df(scores(50), key="tables/scores.parquet").save()
    dataset = artifact.open()
    assert isinstance(dataset, pads.Dataset)
    assert dataset.count_rows() == 50
    assert_filters_and_projects(dataset, 50)


def test_every_opener_works_on_each_backend(instance: ln.Instance):
    """The openers read rows of the catalog (storage, key, members): once per database."""
    parts = [
        ln.Artifact.from_df(scores(10, start=10 * i), key=f"parts/{i}.parquet").save()
        for i in range(2)
    ]
    assert_filters_and_projects(parts[1].open(), 20)
    assert_filters_and_projects(ln.Collection(parts, key="parts").save().open(), 20)
    cells = ln.Artifact.from_anndata(small_anndata(sparse=True), key="cells.h5ad").save()
    with cells.open() as adata:
        assert adata.obs["cell_type"].tolist() == ["T", "B", "T", "NK", "B", "T"]
    with ln.Collection([cells], key="cells").save().mapped(obs_keys="cell_type") as mapped:
        assert mapped[3]["X"].tolist() == [12, 13, 14, 15]
        assert mapped[3]["cell_type"] == mapped.encoders["cell_type"]["NK"]


def test_open_parquet_on_s3_streams_from_the_bucket(s3_instance: ln.Instance):
    artifact = ln.Artifact.from_df(scores(40), key="tables/scores.parquet").save()
    assert str(artifact.path).startswith("s3://")
    dataset = artifact.open()
    assert_filters_and_projects(dataset, 40)
    # nothing was downloaded to the cache: the dataset read from S3 directly
    assert not list(Path(os.environ["LAMIN_CORE_HOME"]).rglob(f"{artifact.uid}*"))


def check_folder_of_parquet(tmp_path: Path) -> None:
    folder = tmp_path / "shards"
    folder.mkdir()
    for part in range(3):
        scores(10, start=10 * part).to_parquet(folder / f"part-{part}.parquet")
    (folder / "_SUCCESS").write_text("")  # a Spark marker: skipped, as pyarrow does
    artifact = ln.Artifact(folder, key="tables/shards").save()
    dataset = artifact.open()
    assert dataset.count_rows() == 30
    assert_filters_and_projects(dataset, 30)


def test_open_folder_of_parquet_is_one_dataset(sqlite_instance: ln.Instance, tmp_path: Path):
    check_folder_of_parquet(tmp_path)


def test_open_folder_of_parquet_on_s3(s3_instance: ln.Instance, tmp_path: Path):
    check_folder_of_parquet(tmp_path)


def test_open_folder_of_mixed_files_says_what_it_needs(sqlite_instance: ln.Instance, tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    scores(3).to_parquet(folder / "a.parquet")
    (folder / "notes.txt").write_text("x")
    artifact = ln.Artifact(folder, key="mixed").save()
    with pytest.raises(ln.ValidationError, match=r"'\.parquet', '\.txt'.*\.zarr.*cache\(\)"):
        artifact.open()


def test_open_csv_and_arrow_are_datasets_too(sqlite_instance: ln.Instance, tmp_path: Path):
    df = scores(20)
    df.to_csv(tmp_path / "s.csv", index=False)
    feather.write_feather(pa.Table.from_pandas(df, preserve_index=False), tmp_path / "s.arrow")
    for name in ("s.csv", "s.arrow"):
        dataset = ln.Artifact(tmp_path / name, key=f"tables/{name}").save().open()
        assert_filters_and_projects(dataset, 20)


def test_open_records_the_artifact_as_a_run_input(sqlite_instance: ln.Instance):
    artifact = ln.Artifact.from_df(scores(5), key="tables/in.parquet").save()
    run = ln.track(key="analysis.py")
    artifact.open()
    assert [a.uid for a in run.input_artifacts] == [artifact.uid]


def rows_and_groups(path: Path, *, rows: int, group_rows: int) -> None:
    """Write `rows` rows of 8 int64/float64 columns, uncompressed, `group_rows` per row group."""
    names = ["id", *(f"v{k}" for k in range(7))]
    schema = pa.schema([(name, pa.int64() if name == "id" else pa.float64()) for name in names])
    with pq.ParquetWriter(
        path, schema, compression="none", use_dictionary=False, write_statistics=["id"]
    ) as writer:
        for start in range(0, rows, group_rows):
            ids = np.arange(start, min(start + group_rows, rows), dtype=np.int64)
            columns = [ids, *(ids * (k + 1) * 0.25 for k in range(7))]
            writer.write_table(pa.Table.from_arrays(columns, schema=schema))


ROWS, GROUP_ROWS = 2**24, 2**18  # 16.8M rows of 64 bytes: 1 GiB in 64 row groups of 16 MiB


@pytest.fixture
def gigabyte_parquet(sqlite_instance: ln.Instance) -> Iterator[Path]:
    """Write the 1 GiB file inside the catalog's storage; remove it afterwards (disk space)."""
    folder = Path(sqlite_instance.storage_root) / "big"
    folder.mkdir()
    path = folder / "numbers.parquet"
    rows_and_groups(path, rows=ROWS, group_rows=GROUP_ROWS)
    yield path
    path.unlink(missing_ok=True)


def test_open_reads_only_the_row_groups_a_filter_matches(
    sqlite_instance: ln.Instance, gigabyte_parquet: Path, monkeypatch: pytest.MonkeyPatch
):
    rows, group_rows, path = ROWS, GROUP_ROWS, gigabyte_parquet
    size = path.stat().st_size
    assert size > 2**30  # really a gigabyte on disk: no compression, no dictionaries
    artifact = ln.Artifact(path).save()  # inside the storage: registered in place, not copied

    counting = counting_filesystem(sqlite_instance.fs)
    monkeypatch.setattr(sqlite_instance, "fs", counting)
    low = 5 * group_rows + 1000
    table = artifact.open().to_table(
        filter=(pc.field("id") >= low) & (pc.field("id") < low + 500), columns=["id", "v3"]
    )
    assert table["id"].to_pylist() == list(range(low, low + 500))
    assert table["v3"].to_pylist() == [i * 4 * 0.25 for i in range(low, low + 500)]
    selective = counting.bytes_read
    assert 0 < selective < size / 20

    # the same count over an unfiltered scan of those two columns: a quarter of the file
    counting.bytes_read = 0
    assert artifact.open().to_table(columns=["id", "v3"]).num_rows == rows
    assert counting.bytes_read > size / 5
    assert counting.bytes_read > 40 * selective


# --- AnnData and zarr ----------------------------------------------------------------------------


def small_anndata(*, sparse: bool) -> ad.AnnData:
    values = np.arange(24, dtype=np.float32).reshape(6, 4)
    return ad.AnnData(
        X=sp.csr_matrix(values) if sparse else values,
        obs=pd.DataFrame(
            {"cell_type": pd.Categorical(["T", "B", "T", "NK", "B", "T"])},
            index=[f"cell{i}" for i in range(6)],
        ),
        var=pd.DataFrame(index=[f"gene{j}" for j in range(4)]),
    )


def test_open_h5ad_is_a_backed_anndata_that_closes(sqlite_instance: ln.Instance):
    for sparse in (False, True):
        expected = small_anndata(sparse=sparse)
        artifact = ln.Artifact.from_anndata(expected, key=f"scrna/{sparse}.h5ad").save()
        with artifact.open() as adata:
            assert isinstance(adata, ad.AnnData)
            assert adata.isbacked
            assert adata.shape == (6, 4)
            assert adata.obs["cell_type"].tolist() == ["T", "B", "T", "NK", "B", "T"]
            subset = adata[adata.obs["cell_type"] == "B"].to_memory()
            dense = subset.X.toarray() if sparse else subset.X
            np.testing.assert_array_equal(dense, np.arange(24).reshape(6, 4)[[1, 4]])
        assert not adata.file.is_open


def test_open_h5ad_on_s3_reads_through_a_file_object(s3_instance: ln.Instance):
    artifact = ln.Artifact.from_anndata(small_anndata(sparse=True), key="scrna/p.h5ad").save()
    adata = artifact.open()
    try:
        assert adata.isbacked
        assert adata.var_names.tolist() == ["gene0", "gene1", "gene2", "gene3"]
        np.testing.assert_array_equal(adata[2:3].to_memory().X.toarray(), [[8, 9, 10, 11]])
    finally:
        adata.close()
    assert not adata.file.is_open


def test_open_zarr_folder_is_a_read_only_group(sqlite_instance: ln.Instance, tmp_path: Path):
    zarr = pytest.importorskip("zarr")
    group = zarr.open_group(tmp_path / "image.zarr", mode="w")
    group.create_array("pixels", data=np.arange(12, dtype=np.int32).reshape(3, 4))
    group.attrs["channel"] = "DAPI"
    artifact = ln.Artifact(tmp_path / "image.zarr", key="images/image.zarr").save()
    opened = artifact.open()
    assert isinstance(opened, zarr.Group)
    assert opened.attrs["channel"] == "DAPI"
    np.testing.assert_array_equal(opened["pixels"][1], [4, 5, 6, 7])
    with pytest.raises(ValueError, match=r"read-only"):
        opened.create_array("more", shape=(1,), dtype="i4")


# --- what open() refuses -------------------------------------------------------------------------


def test_open_unknown_suffix_lists_the_supported_ones(sqlite_instance: ln.Instance, tmp_path: Path):
    (tmp_path / "notes.txt").write_text("hello")
    artifact = ln.Artifact(tmp_path / "notes.txt", key="notes.txt").save()
    before = catalog_snapshot(sqlite_instance)
    message = r"suffix '\.txt'.*\.h5ad.*\.parquet.*\.zarr.*open\('rb'\)"
    with pytest.raises(ln.ValidationError, match=message):
        artifact.open()
    assert catalog_snapshot(sqlite_instance) == before
    with artifact.open("rb") as stream:  # the bytes stay reachable
        assert stream.read() == b"hello"
    with artifact.open("rt") as stream:
        assert stream.read() == "hello"


@pytest.mark.parametrize("mode", ["w", "wb", "r+", "a"])
def test_open_for_writing_is_refused_in_any_mode(sqlite_instance: ln.Instance, mode: str):
    artifact = ln.Artifact.from_df(scores(2), key="x.parquet").save()
    with pytest.raises(ln.StorageError, match=r"immutable"):
        artifact.open(mode)


def test_open_unknown_mode_names_the_modes(sqlite_instance: ln.Instance):
    artifact = ln.Artifact.from_df(scores(2), key="x.parquet").save()
    with pytest.raises(ln.ValidationError, match=r"mode 'rz'.*'r'.*'rb'"):
        artifact.open("rz")
    with pytest.raises(ln.ValidationError, match=r"open\('rb'\) takes no options.*schema"):
        artifact.open("rb", schema=None)


def test_open_missing_content_is_a_storage_error(sqlite_instance: ln.Instance):
    artifact = ln.Artifact.from_df(scores(2), key="x.parquet").save()
    artifact.path.unlink()
    with pytest.raises(ln.StorageError, match=r"missing.*fsck"):
        artifact.open()


# --- collection.open() ---------------------------------------------------------------------------


def test_collection_open_is_one_dataset_over_all_members(
    sqlite_instance: ln.Instance, tmp_path: Path
):
    folder = tmp_path / "more"
    folder.mkdir()
    scores(5, start=20).to_parquet(folder / "p.parquet")
    members = [
        ln.Artifact.from_df(scores(10), key="parts/0.parquet").save(),
        ln.Artifact.from_df(scores(10, start=10), key="parts/1.parquet").save(),
        ln.Artifact(folder, key="parts/more").save(),
    ]
    collection = ln.Collection(members, key="parts").save()
    dataset = collection.open()
    assert dataset.to_table(columns=["id"])["id"].to_pylist() == list(range(25))
    assert_filters_and_projects(dataset, 25)


def test_collection_open_on_s3_spans_storages(s3_instance: ln.Instance, s3_bucket: str):
    members = [
        ln.Artifact.from_df(scores(4, start=4 * i), key=f"parts/{i}.parquet").save()
        for i in range(2)
    ]
    # a file registered where it lies, outside the catalog's folder: another storage
    with s3_instance.fs.open(f"{s3_bucket}/external/last.parquet", "wb") as stream:
        scores(4, start=8).to_parquet(stream)
    members.append(ln.Artifact(f"s3://{s3_bucket}/external/last.parquet").save())
    assert members[2].storage.root != members[0].storage.root
    dataset = ln.Collection(members, key="parts").save().open()
    assert sorted(dataset.to_table(columns=["id"])["id"].to_pylist()) == list(range(12))
    assert_filters_and_projects(dataset, 12)


def test_collection_open_refuses_members_that_are_not_tables(sqlite_instance: ln.Instance):
    table = ln.Artifact.from_df(scores(3), key="parts/0.parquet").save()
    cells = ln.Artifact.from_anndata(small_anndata(sparse=False), key="cells.h5ad").save()
    collection = ln.Collection([table, cells], key="mixed").save()
    before = catalog_snapshot(sqlite_instance)
    with pytest.raises(ln.ValidationError, match=rf"{cells.uid}.*'\.h5ad'.*collection\.mapped"):
        collection.open()
    assert catalog_snapshot(sqlite_instance) == before


def test_collection_open_refuses_mixed_formats(sqlite_instance: ln.Instance, tmp_path: Path):
    scores(3).to_csv(tmp_path / "a.csv", index=False)
    members = [
        ln.Artifact.from_df(scores(3), key="parts/0.parquet").save(),
        ln.Artifact(tmp_path / "a.csv", key="parts/a.csv").save(),
    ]
    with pytest.raises(ln.ValidationError, match=r"mixes formats.*parquet.*csv"):
        ln.Collection(members, key="mixed").save().open()
