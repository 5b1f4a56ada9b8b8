"""Storage paths: one function joins a root and a relative part and refuses every way out.

These tests need no catalog: `join_within`, `validate_key`, `validate_suffix` and `suffix_of` are
pure functions (apart from resolving symlinks on local storage).
"""

from __future__ import annotations

import os
import posixpath
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lamin_core as ln
from lamin_core.storage.paths import join_within, suffix_of, validate_key, validate_suffix

# fragments that have been used to climb out of a folder somewhere, plus plain name parts
FRAGMENTS = [
    "..",
    ".",
    "/",
    "\\",
    "%2e%2e",
    "%2F",
    "%00",
    "\x00",
    "\n",
    "\u2025",  # TWO DOT LEADER: ".." after NFKC normalisation
    "\uff0e\uff0e",  # FULLWIDTH FULL STOPs
    "\uff0f",  # FULLWIDTH SOLIDUS: "/" after NFKC
    "\u2215",  # DIVISION SLASH
    "~",
    "~root",
    "C:",
    "file://",
    "s3://",
    "memory://",
    "simplecache::",
    "a",
    "b.csv",
    "outside",
    " ",
    "\u00e9",
]

hostile_text = st.one_of(
    st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=10).map("".join),
    st.text(max_size=30),
    st.integers(min_value=200, max_value=3000).map(lambda n: "a" * n),
)

REFUSED_RELATIVE = [
    "",
    "..",
    "../x",
    "a/../../x",
    "a/..",
    "./x",
    "a/./b",
    "/etc/passwd",
    "//server/share",
    "a//b",
    "a/",
    "a\\..\\..\\x",
    "a\\b",
    "a\x00b",
    "a\nb",
    "%2e%2e/x",
    "a/%2E%2E/%2e%2e/x",
    "..%2fx",
    "\u2025/x",
    "\uff0e\uff0e/x",
    "a\uff0fb",
    "~/x",
    "~root/x",
    "C:/x",
    "c:x",
    "s3://bucket/x",
    "file:///etc/passwd",
    "a/memory://x",
    "simplecache::s3://b/x",
    "a" * 256,
    "/".join(["a"] * 600),
]


@pytest.mark.parametrize("relative", REFUSED_RELATIVE)
def test_join_within_refuses_a_way_out(tmp_path: Path, relative: str):
    with pytest.raises(ln.StorageError, match=r"outside|not a safe|refused|Invalid"):
        join_within(str(tmp_path), relative, is_local=True)
    with pytest.raises(ln.StorageError):
        join_within("bucket/catalog", relative, is_local=False)


@pytest.mark.parametrize(
    "relative",
    [".lamindb/abc.parquet", "raw/sample1.fastq.gz", "a b/c.d.e", "caf\u00e9/x", "x..y/.hidden"],
)
def test_join_within_keeps_an_ordinary_path(tmp_path: Path, relative: str):
    assert join_within(str(tmp_path), relative, is_local=True) == f"{tmp_path}/{relative}"
    assert join_within("bucket/catalog/", relative, is_local=False) == f"bucket/catalog/{relative}"


def test_join_within_refuses_a_symlink_that_leads_outside(tmp_path: Path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "link").symlink_to(outside, target_is_directory=True)
    (root / "inner").symlink_to(root / "link")  # a chain of links
    (root / "ok").symlink_to(root, target_is_directory=True)  # a link that stays inside
    for relative in ["link/victim.txt", "inner/victim.txt", "link"]:
        with pytest.raises(ln.StorageError, match="outside"):
            join_within(str(root), relative, is_local=True)
    assert join_within(str(root), "ok/x.txt", is_local=True) == f"{root}/ok/x.txt"


def test_join_within_error_names_the_value_and_the_rule(tmp_path: Path):
    with pytest.raises(ln.StorageError) as info:
        join_within(str(tmp_path), "a/../../etc/passwd", is_local=True)
    message = str(info.value)
    assert "'a/../../etc/passwd'" in message and "'..'" in message


@settings(max_examples=300, deadline=None)
@given(relative=hostile_text)
def test_join_within_result_is_always_inside_the_root(relative: str):
    root = "/srv/catalog"
    try:
        joined = join_within(root, relative, is_local=False)
    except ln.StorageError:
        return
    assert joined.startswith(root + "/")
    assert posixpath.normpath(joined).startswith(root + "/")
    assert "\\" not in joined and "\x00" not in joined and "://" not in joined
    assert all(part not in ("", ".", "..") for part in joined[len(root) + 1 :].split("/"))


@pytest.mark.parametrize(
    "key",
    [
        "dir/",
        "a/b/",
        "../escape.csv",
        "a\\..\\b.csv",
        "a\x00.csv",
        "/etc/passwd",
        "~/x.csv",
        "%2e%2e/x.csv",
        "s3://bucket/x.csv",
        "",
        "   ",
        "a" * 1025,
    ],
)
def test_validate_key_refuses_keys_that_are_not_plain_relative_paths(key: str):
    with pytest.raises(ln.ValidationError, match="key"):
        validate_key(key)


def test_validate_key_says_a_trailing_slash_is_not_a_key():
    with pytest.raises(ln.ValidationError, match=r"'raw/'.*end with '/'.*'raw/reads\.fastq'"):
        validate_key("raw/")


@pytest.mark.parametrize(
    "suffix", ["", ".csv", ".fastq.gz", ".ome.zarr", ".parquet", ".h5ad", ".tar.gz", ".X_1"]
)
def test_validate_suffix_accepts_file_suffixes(suffix: str):
    assert validate_suffix(suffix) == suffix


@pytest.mark.parametrize(
    "suffix",
    [
        "csv",
        ".",
        "..",
        "./x",
        "/../../x",
        ".a/b",
        ".a\\b",
        ".a\x00",
        ".%2e",
        ".\u00e9",
        ".\u0663",
        ".a.b.c.d",
        "." + "a" * 40,
        ".csv ",
        None,
    ],
)
def test_validate_suffix_refuses_anything_else(suffix: object):
    with pytest.raises(ln.ValidationError, match="suffix"):
        validate_suffix(suffix)  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(name=hostile_text)
def test_suffix_of_any_name_is_a_valid_suffix(name: str):
    assert validate_suffix(suffix_of(name)) == suffix_of(name)


@pytest.mark.parametrize(
    ("name", "suffix"),
    [
        ("reads.fastq.gz", ".fastq.gz"),
        ("image.ome.zarr", ".zarr"),
        ("x.parquet", ".parquet"),
        ("noext", ""),
        ("x.\u0663", ""),
        ("x.%2e%2e", ""),
        ("x." + "a" * 40, ""),
    ],
)
def test_suffix_of_keeps_compound_suffixes_and_drops_unsafe_ones(name: str, suffix: str):
    assert suffix_of(name) == suffix


def test_join_within_root_may_be_a_symlink_itself(tmp_path: Path):
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    assert join_within(str(link), "x.txt", is_local=True) == f"{link}/x.txt"
    assert os.path.realpath(f"{link}/x.txt") == f"{real}/x.txt"
