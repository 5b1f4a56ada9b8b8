"""Paths and URLs: which filesystem handles them, what their suffix is, which keys are valid."""

from __future__ import annotations

import os
import posixpath
from pathlib import Path, PurePosixPath
from typing import Any

import fsspec
from fsspec.core import split_protocol

from lamin_core.errors import StorageError, ValidationError

# Second-to-last suffixes kept together with a compression suffix: "x.fastq.gz" -> ".fastq.gz".
COMPRESSION_SUFFIXES = {".gz", ".bz2", ".xz", ".zst", ".zip", ".tgz"}
LOCAL_PROTOCOLS = {None, "file", "local"}


def is_local(url: str | os.PathLike[str]) -> bool:
    """Return whether a path or URL is on the local filesystem."""
    protocol, _ = split_protocol(str(url))
    return protocol in LOCAL_PROTOCOLS


def normalize_root(root: str | os.PathLike[str]) -> str:
    """Return a storage root as a canonical string: an absolute local path or a URL without '/'."""
    text = os.fspath(root)
    protocol, rest = split_protocol(text)
    if protocol in LOCAL_PROTOCOLS:
        return Path(rest).expanduser().resolve().as_posix()
    return f"{protocol}://{rest.rstrip('/')}"


def storage_type(root: str) -> str:
    """Return the storage type of a root: local, s3, gs, memory, ..."""
    protocol, _ = split_protocol(root)
    return "local" if protocol in LOCAL_PROTOCOLS else str(protocol)


def filesystem(url: str | os.PathLike[str], **storage_options: Any) -> tuple[Any, str]:
    """Return the fsspec filesystem that handles `url` and the path within it.

    Raises:
        StorageError: no installed filesystem handles the URL's protocol.
    """
    text = os.fspath(url)
    protocol, _ = split_protocol(text)
    if protocol in LOCAL_PROTOCOLS:
        return fsspec.filesystem("file"), Path(split_protocol(text)[1]).expanduser().as_posix()
    try:
        fs, path = fsspec.core.url_to_fs(text, **storage_options)
    except (ValueError, ImportError) as error:
        known = ", ".join(sorted(p for p in fsspec.available_protocols() if len(p) < 8))
        raise StorageError(
            f"No filesystem handles {text!r} (protocol {protocol!r}): {error}. "
            f"Known protocols: {known}; for S3 install the extra: pip install 'lamin-core[s3]'."
        ) from error
    return fs, path


def suffix_of(path: str | os.PathLike[str]) -> str:
    """Return the suffix of a file name, keeping compound suffixes such as ``.fastq.gz``."""
    suffixes = PurePosixPath(os.fspath(path).rstrip("/")).suffixes
    if not suffixes:
        return ""
    if suffixes[-1].lower() in COMPRESSION_SUFFIXES and len(suffixes) > 1:
        inner = suffixes[-2]
        if 1 < len(inner) <= 8 and inner[1:].isalnum():
            return inner + suffixes[-1]
    last = suffixes[-1]
    return last if last[1:].replace("_", "").isalnum() else ""


def validate_key(key: str | None) -> str | None:
    """Check that a key is a relative POSIX path inside the catalog and return it.

    Raises:
        ValidationError: the key is empty, absolute, a URL, or climbs out with ``..``.
    """
    if key is None:
        return None
    if not isinstance(key, str) or not key.strip():
        raise ValidationError(f"Invalid key {key!r}: a key is a non-empty string like 'raw/x.csv'.")
    if "://" in key or key.startswith(("/", "\\")) or (len(key) > 1 and key[1] == ":"):
        raise ValidationError(
            f"Invalid key {key!r}: a key is a path relative to the storage root, not an absolute "
            "path or URL. Pass the path as the artifact's data and a relative key, "
            "e.g. key='raw/sample1.fastq.gz'."
        )
    parts = key.replace("\\", "/").split("/")
    if ".." in parts or "." in parts:
        raise ValidationError(
            f"Invalid key {key!r}: '.' and '..' are not allowed in keys, so that no key can point "
            "outside the catalog. Use a plain relative key such as 'raw/sample1.fastq.gz'."
        )
    if posixpath.normpath(key) != key.rstrip("/"):
        raise ValidationError(f"Invalid key {key!r}: use single '/' separators, e.g. 'raw/x.csv'.")
    return key
