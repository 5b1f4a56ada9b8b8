"""Staging: everything about an artifact's content that is known before it is saved.

A DataFrame or AnnData object is serialised once into a staging file next to the storage (so
saving moves it into place without a copy); a file or folder is described where it lies. Either
way the content is hashed here, so the record shows size and hash as soon as it is constructed.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lamin_core.errors import StorageError, ValidationError
from lamin_core.instance import get_instance, staging_root
from lamin_core.storage.hashing import (
    HASH_TYPE_FILE,
    HASH_TYPE_FOLDER,
    hash_bytes,
    hash_file,
    hash_folder,
)
from lamin_core.storage.inflight import staging_name
from lamin_core.storage.paths import filesystem, is_local, normalize_root, suffix_of, validate_key
from lamin_core.storage.serializers import write_anndata, write_dataframe


@dataclass
class Staged:
    """Content ready to be saved, with what is known about it."""

    source: str
    is_temporary: bool
    is_folder: bool
    key: str | None
    suffix: str
    size: int
    hash: str
    hash_type: str
    n_files: int | None = None
    n_observations: int | None = None
    kind: str | None = None
    otype: str | None = None
    key_is_virtual: bool = True
    in_place_root: str | None = None
    fs: Any = None

    def discard(self) -> None:
        """Remove a temporary staging file (a no-op for the user's own files)."""
        if self.is_temporary:
            Path(self.source).unlink(missing_ok=True)


def staging_dir() -> Path:
    """Return the local folder for serialised content of the active catalog (see `staging_root`)."""
    return staging_root(get_instance(), create=True)


def stage(data: Any, *, key: str | None, kind: str | None) -> Staged:
    """Describe and hash `data` (a path, URL, DataFrame or AnnData).

    Raises:
        StorageError: the path does not exist or no filesystem handles the URL.
        ValidationError: the key is invalid or the data is of an unsupported type.
    """
    validate_key(key)
    if isinstance(data, (str, os.PathLike)):
        text = os.fspath(data)
        staged = _stage_local(text, key) if is_local(text) else _stage_remote(text, key)
    else:
        staged = _stage_object(data, key)
    if kind is not None:
        staged.kind = kind
    return staged


def _stage_object(data: Any, key: str | None) -> Staged:
    import pandas as pd

    writer: Callable[[Any, Path], None]
    if isinstance(data, pd.DataFrame):
        writer, suffix, otype, n_obs = write_dataframe, ".parquet", "DataFrame", None
    else:
        try:
            import anndata as ad
        except ImportError:  # pragma: no cover - anndata is a dependency
            ad = None
        if ad is None or not isinstance(data, ad.AnnData):
            raise ValidationError(
                f"Cannot make an artifact from a {type(data).__name__}: pass a path or URL, a "
                "pandas DataFrame or an AnnData object."
            )
        writer, suffix, otype, n_obs = write_anndata, ".h5ad", "AnnData", data.n_obs
    # the name tells fsck which process owns the file while the artifact is not saved yet
    path = staging_dir() / staging_name(suffix)
    try:
        if writer is write_dataframe:
            # serialise in memory: hashing the bytes spares reading the file back
            buffer = io.BytesIO()
            writer(data, buffer)
            content = buffer.getbuffer()
            path.write_bytes(content)
            size, content_hash = len(content), hash_bytes(content)
        else:
            writer(data, path)
            size, content_hash = path.stat().st_size, hash_file(path)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return Staged(
        source=str(path),
        is_temporary=True,
        is_folder=False,
        key=key,
        suffix=suffix,
        size=size,
        hash=content_hash,
        hash_type=HASH_TYPE_FILE,
        n_observations=n_obs,
        kind="dataset",
        otype=otype,
    )


def _within(path: str, root: str) -> str | None:
    """Return `path` relative to `root` when it lies inside it (outside the catalog folder)."""
    from lamin_core.instance import CATALOG_DIR

    prefix = root.rstrip("/") + "/"
    if not path.startswith(prefix):
        return None
    relative = path[len(prefix) :].rstrip("/")
    return None if relative.split("/", 1)[0] == CATALOG_DIR else relative


def _stage_local(text: str, key: str | None) -> Staged:
    path = Path(text).expanduser()
    if not path.exists():
        raise StorageError(
            f"No file or folder at {text!r} (resolved to {path.resolve()}). Check the path."
        )
    resolved = path.resolve().as_posix()
    instance = get_instance()
    in_place_key = _within(resolved, instance.storage_root) if instance.is_local_storage else None
    if path.is_dir():
        files = [p for p in sorted(path.rglob("*")) if p.is_file()]
        entries = [(p.relative_to(path).as_posix(), hash_file(p)) for p in files]
        staged = Staged(
            source=resolved,
            is_temporary=False,
            is_folder=True,
            key=key,
            suffix=suffix_of(path.name),
            size=sum(p.stat().st_size for p in files),
            hash=hash_folder(entries),
            hash_type=HASH_TYPE_FOLDER,
            n_files=len(files),
        )
    else:
        staged = Staged(
            source=resolved,
            is_temporary=False,
            is_folder=False,
            key=key,
            suffix=suffix_of(path.name),
            size=path.stat().st_size,
            hash=hash_file(path),
            hash_type=HASH_TYPE_FILE,
        )
    if in_place_key is not None:
        staged.key = key or in_place_key
        staged.key_is_virtual = key is not None and key != in_place_key
        staged.in_place_root = None if staged.key_is_virtual else instance.storage_root
    return staged


def _stage_remote(url: str, key: str | None) -> Staged:
    instance = get_instance()
    fs, path = filesystem(url, **instance.storage_options)
    try:
        info = fs.info(path)
    except FileNotFoundError as error:
        raise StorageError(f"No file or folder at {url!r}. Check the URL.") from error
    root = normalize_root(url.split("://", 1)[0] + "://" + path.split("/", 1)[0])
    if url.startswith(instance.storage_root.rstrip("/") + "/"):
        root = instance.storage_root
    relative = normalize_root(url)[len(root) + 1 :]
    if key is not None and key != relative:
        raise ValidationError(
            f"Cannot give the key {key!r} to {url!r}: a remote file is registered where it lies, "
            f"so its key is its path {relative!r}. Omit key=, or copy the file into the storage."
        )
    if info["type"] == "directory":
        files = sorted(p for p in fs.find(path))
        entries = [(p[len(path.rstrip("/")) + 1 :], hash_file(p, fs)) for p in files]
        size = sum(fs.info(p)["size"] for p in files)
        content_hash, hash_type, n_files, is_folder = (
            hash_folder(entries),
            HASH_TYPE_FOLDER,
            len(files),
            True,
        )
    else:
        size = int(info["size"])
        content_hash, hash_type, n_files, is_folder = (
            hash_file(path, fs),
            HASH_TYPE_FILE,
            None,
            False,
        )
    return Staged(
        source=path,
        is_temporary=False,
        is_folder=is_folder,
        key=key or relative,
        suffix=suffix_of(path),
        size=size,
        hash=content_hash,
        hash_type=hash_type,
        n_files=n_files,
        key_is_virtual=False,
        in_place_root=root,
        fs=fs,
    )
