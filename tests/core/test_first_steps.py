"""A new user's first steps outside the guide: shapes, storage mistakes, typos, keys, labels."""

from __future__ import annotations

import gzip
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest

import lamin_core as ln

# --- n_observations wherever the shape is known ---------------------------------------------


def test_from_df_records_the_rows(instance: ln.Instance):
    artifact = ln.Artifact.from_df(pd.DataFrame({"x": range(7)}), key="t/x.parquet").save()
    assert ln.Artifact.get(artifact.uid).n_observations == 7


def test_from_anndata_records_n_obs(instance: ln.Instance):
    adata = ad.AnnData(np.zeros((5, 3), dtype="float32"))
    artifact = ln.Artifact.from_anndata(adata, key="t/x.h5ad").save()
    assert ln.Artifact.get(artifact.uid).n_observations == 5


def test_parquet_registered_by_path_records_rows_from_its_footer(
    instance: ln.Instance, tmp_path: Path
):
    path = tmp_path / "measurements.parquet"
    pd.DataFrame({"x": range(11)}).to_parquet(path)
    artifact = ln.Artifact(path, key="raw/measurements.parquet").save()
    assert artifact.n_observations == 11


def test_files_without_rows_have_no_n_observations(instance: ln.Instance, tmp_path: Path):
    text = tmp_path / "notes.txt"
    text.write_text("a\nb\n")
    broken = tmp_path / "broken.parquet"
    broken.write_text("not parquet")
    assert ln.Artifact(text, key="notes.txt").save().n_observations is None
    assert ln.Artifact(broken, key="broken.parquet").save().n_observations is None


# --- storage that cannot hold a catalog -----------------------------------------------------


def test_init_on_a_file_says_it_is_a_file(tmp_path: Path):
    afile = tmp_path / "data.csv"
    afile.write_text("x\n")
    with pytest.raises(ln.StorageError, match=r"'.*data\.csv' is a file, not a folder\. Pass a"):
        ln.init(storage=afile)
    assert afile.read_text() == "x\n"


def test_init_where_no_folder_can_be_made_says_what_to_pass():
    with pytest.raises(
        ln.StorageError,
        match=r"Cannot use '/proc/x' as the storage of a catalog: cannot create the folder "
        r"'/proc/x/\.lamindb' .*ln\.init\(storage='\./my-catalog'\)",
    ):
        ln.init(storage="/proc/x")


# --- typos and mistakes in everyday calls ---------------------------------------------------


def test_filter_with_a_typo_in_a_feature_name_suggests_the_feature(instance: ln.Instance):
    ln.Feature(name="temperature", dtype="float").save()
    with pytest.raises(ln.FieldError, match=r"Did you mean the feature 'temperature'\?"):
        ln.Artifact.filter(temperatur__gt=21).count()
    with pytest.raises(ln.FieldError, match=r"Did you mean 'suffix'\?.*Features: temperature\."):
        ln.Artifact.filter(sufix=".csv").count()


@pytest.mark.parametrize(
    ("name", "key", "accepted"),
    [
        ("file.txt", "t.csv", False),
        ("file.txt", "t.txt", True),
        ("file.txt", "docs/t", True),  # no suffix in the key
        ("reads.fastq.gz", "raw/my_fastq.fastq", True),  # as LaminDB's guide: compression left out
        ("reads.fastq.gz", "raw/my_fastq.fastq.gz", True),
        ("reads.fastq.gz", "raw/my_fastq.csv", False),
        ("table.CSV", "t.csv", True),
    ],
)
def test_key_suffix_must_match_the_file(
    instance: ln.Instance, tmp_path: Path, name: str, key: str, accepted: bool
):
    path = tmp_path / name
    path.write_bytes(b"content")
    if accepted:
        assert ln.Artifact(path, key=key).save().key == key
    else:
        with pytest.raises(ln.ValidationError, match=rf"The key '{key}' ends in '\.csv'"):
            ln.Artifact(path, key=key)
        assert ln.Artifact.filter().count() == 0


def test_dataframe_with_a_key_of_another_format_is_refused_and_leaves_no_staging_file(
    instance: ln.Instance,
):
    staging = Path(instance.storage_root, ".lamindb", "_staging")
    before = set(staging.iterdir()) if staging.exists() else set()
    with pytest.raises(
        ln.ValidationError,
        match=r"'tables/x\.parquet' \(or one of \.csv, \.tsv, \.csv\.gz, \.tsv\.gz to",
    ):
        ln.Artifact.from_df(pd.DataFrame({"x": [1]}), key="tables/x.txt")
    after = set(staging.iterdir()) if staging.exists() else set()
    assert after == before
    assert ln.Artifact.filter().count() == 0


@pytest.mark.parametrize(
    ("suffix", "separator"), [(".csv", ","), (".tsv", "\t"), (".csv.gz", ","), (".tsv.gz", "\t")]
)
@pytest.mark.parametrize("named_index", [False, True])
def test_dataframe_with_a_text_table_key_is_saved_as_that_text_table(
    instance: ln.Instance, suffix: str, separator: str, named_index: bool
):
    df = pd.DataFrame({"sample": ["s1", "s2", "s3"], "n_cells": [10, 20, 30]})
    if named_index:
        df = df.set_index("sample")
    artifact = ln.Artifact.from_df(df, key=f"tables/counts{suffix}").save()
    assert (artifact.suffix, artifact.otype, artifact.n_observations) == (suffix, "DataFrame", 3)
    content = Path(artifact.path).read_bytes()
    text = (gzip.decompress(content) if suffix.endswith(".gz") else content).decode()
    assert text.splitlines()[0] == separator.join(["sample", "n_cells"])
    loaded = artifact.load()
    assert loaded.to_dict("list") == {"sample": ["s1", "s2", "s3"], "n_cells": [10, 20, 30]}
    # the same table saved again is the same content: no new version, even gzipped
    assert ln.Artifact.from_df(df, key=f"tables/counts{suffix}").hash == artifact.hash


def test_artifact_search_is_typo_tolerant_over_keys_and_descriptions(
    instance: ln.Instance, tmp_path: Path
):
    for name, key, description in [
        ("a.txt", "example_datasets/dataset1.txt", None),
        ("b.txt", "raw/b.txt", "the dataset of study 2"),
        ("c.txt", "images/c.txt", None),
    ]:
        (tmp_path / name).write_text(name)
        ln.Artifact(tmp_path / name, key=key, description=description).save()
    found = ln.Artifact.search("datset").list("key")
    assert found[:2] == ["example_datasets/dataset1.txt", "raw/b.txt"]
    assert "images/c.txt" not in found


# --- labels ---------------------------------------------------------------------------------


def test_labels_repr_lists_what_describe_shows(instance: ln.Instance, capsys):
    from lamin_core.curators.seed_guide import seed_guide_setup

    artifact, _ = seed_guide_setup()
    shown = repr(artifact.labels)
    capsys.readouterr()
    artifact.describe()
    described = capsys.readouterr().out
    assert shown != "no labels"
    assert "    cell_medium (cat[ULabel]): DMSO, IFNG" in shown
    assert "    cell_type_by_expert (cat[bionty.CellType]): B cell, T cell" in shown
    for line in shown.splitlines():
        if line.startswith("    "):
            assert line.strip() in described
