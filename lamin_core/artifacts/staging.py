"""Staging: everything about an artifact's content that is known before it is saved.

A DataFrame or AnnData object is serialised once into a staging file next to the storage (so
saving moves it into place without a copy); a file or folder is described where it lies. Either
way the content is hashed here, so the record shows size and hash as soon as it is constructed.

The size is the number of bytes hashed, not what the filesystem reports, and a copy is checked
against the hash before it is recorded (`Staged.check_copy`, `Staged.check_upload`): a file that
changes while it is being registered is refused rather than recorded with a size or hash that is
not its stored content. Only regular files and folders of them are staged.
"""

from __future__ import annotations

import io
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import IO, Any

from lamin_core.errors import StorageError, ValidationError
from lamin_core.instance import CATALOG_DIR, get_instance, staging_root
from lamin_core.storage.hashing import (
    HASH_TYPE_FILE,
    HASH_TYPE_FOLDER,
    hash_bytes,
    hash_file_and_size,
    hash_folder,
    refuse_special_file,
)
from lamin_core.storage.inflight import staging_name
from lamin_core.storage.paths import (
    filesystem,
    is_local,
    join_within,
    normalize_root,
    path_problem,
    suffix_of,
    validate_key,
)
from lamin_core.storage.serializers import (
    TEXT_TABLES,
    count_rows,
    write_anndata,
    write_dataframe,
    write_text_table,
)


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

    def check_copy(self, path: str | os.PathLike[str]) -> None:
        """Check that a local copy of the content has the staged hash and size.

        Raises:
            StorageError: the copy differs: the source changed while it was being registered.
        """
        content_hash, size, _ = describe_local(Path(path), is_folder=self.is_folder)
        self._refuse_change(content_hash, size)

    def check_upload(self, fs: Any, destination: str) -> None:
        """Check that an upload of a local source stored what was staged.

        The source is hashed again (it must not have changed during the upload) and the size
        of the upload compared, so that the remote content need not be downloaded.

        Raises:
            StorageError: the source changed while it was being registered.
        """
        content_hash, size, _ = describe_local(Path(self.source), is_folder=self.is_folder)
        self._refuse_change(content_hash, size)
        uploaded = fs.du(destination, total=True) if self.is_folder else fs.size(destination)
        self._refuse_change(self.hash, int(uploaded))

    def _refuse_change(self, content_hash: str, size: int) -> None:
        if (content_hash, size) != (self.hash, self.size):
            raise StorageError(
                f"{self.source!r} changed while it was being registered: it was hashed as "
                f"{self.size} bytes ({self.hash}), then {size} bytes ({content_hash}) were "
                "stored. Nothing was recorded; register it again once it no longer changes."
            )


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
    is_object = not isinstance(data, (str, os.PathLike))
    if not is_object:
        text = os.fspath(data)
        staged = _stage_local(text, key) if is_local(text) else _stage_remote(text, key)
    else:
        staged = _stage_object(data, key)
    if kind is not None:
        staged.kind = kind
    try:
        is_dataframe = is_object and staged.otype == "DataFrame"
        check_key_suffix(key, staged.suffix, is_folder=staged.is_folder, is_dataframe=is_dataframe)
    except ValidationError:
        staged.discard()  # a serialised DataFrame of an artifact that is never made
        raise
    if staged.n_observations is None and not staged.is_folder:
        staged.n_observations = count_rows(staged.source, staged.suffix, staged.fs)
    return staged


def check_key_suffix(
    key: str | None, suffix: str, *, is_folder: bool, is_dataframe: bool = False
) -> None:
    """Refuse a key whose suffix contradicts the content's, as LaminDB does.

    A key may leave out a compression suffix (``raw/x.fastq`` for a ``.fastq.gz`` file, as
    LaminDB's guide does) or have no suffix at all.

    Raises:
        ValidationError: the key ends in another suffix than the file (``t.csv`` for a ``.txt``).
    """
    if key is None or is_folder or not suffix:
        return
    key_suffix = suffix_of(key).lower()
    content = suffix.lower()
    if not key_suffix or content == key_suffix or content.startswith(key_suffix + "."):
        return
    raise ValidationError(
        f"The key {key!r} ends in {key_suffix!r}, but the content is a {suffix!r} file: a key's "
        f"suffix must match its content. Use a key ending in {suffix!r}, e.g. "
        f"{key[: len(key) - len(key_suffix)] + suffix!r}"
        + (f" (or one of {', '.join(TEXT_TABLES)} to save it as text)." if is_dataframe else ".")
    )


def _stage_object(data: Any, key: str | None) -> Staged:
    import pandas as pd

    to_bytes: Callable[[Any, IO[bytes]], None] | None = None  # hashing bytes spares a re-read
    if isinstance(data, pd.DataFrame):
        suffix, otype, n_obs = suffix_of(key or "").lower(), "DataFrame", len(data)
        if suffix in TEXT_TABLES:  # key="table.csv" saves a CSV, as in LaminDB
            to_bytes = partial(write_text_table, suffix=suffix)
        else:
            suffix, to_bytes = ".parquet", write_dataframe
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
        suffix, otype, n_obs = ".h5ad", "AnnData", data.n_obs
    # the name tells fsck which process owns the file while the artifact is not saved yet
    path = staging_dir() / staging_name(suffix)
    try:
        if to_bytes is not None:
            buffer = io.BytesIO()
            to_bytes(data, buffer)
            content = buffer.getbuffer()
            path.write_bytes(content)
            size, content_hash = len(content), hash_bytes(content)
        else:
            write_anndata(data, path)
            content_hash, size = hash_file_and_size(path)
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
    prefix = root.rstrip("/") + "/"
    if not path.startswith(prefix):
        return None
    relative = path[len(prefix) :].rstrip("/")
    return None if relative.split("/", 1)[0] == CATALOG_DIR else relative


def folder_files(folder: Path) -> list[tuple[str, Path]]:
    """Return the relative name and path of every file in a local folder, sorted by name.

    Links are followed, as a copy of the folder follows them, so that what is hashed is what
    is copied.

    Raises:
        StorageError: the folder holds something other than regular files and folders (a named
            pipe, a socket, a device, a broken link) or a link loop.
    """
    files: list[tuple[str, Path]] = []
    seen: set[str] = set()

    def refuse(error: OSError) -> None:
        raise StorageError(f"Cannot read the folder {str(folder)!r}: {error}.") from error

    for current, _, names in os.walk(folder, followlinks=True, onerror=refuse):
        real = os.path.realpath(current)
        if real in seen:
            raise StorageError(
                f"Cannot register the folder {str(folder)!r}: {current!r} leads back to a folder "
                "already inside it (a symbolic link loop). Remove the link."
            )
        seen.add(real)
        for name in names:
            path = Path(current, name)
            try:
                mode = path.stat().st_mode
            except OSError as error:
                raise StorageError(
                    f"Cannot register the folder {str(folder)!r}: {str(path)!r} cannot be read "
                    f"({error}), e.g. a broken symbolic link. Remove it."
                ) from error
            refuse_special_file(path, mode)
            files.append((path.relative_to(folder).as_posix(), path))
    return sorted(files)


def describe_local(path: Path, *, is_folder: bool) -> tuple[str, int, int | None]:
    """Return the hash, the number of bytes and the number of files of local content.

    Raises:
        StorageError: the content holds something other than regular files, or cannot be read.
    """
    if not is_folder:
        content_hash, size = hash_file_and_size(path)
        return content_hash, size, None
    entries, total = [], 0
    for relative, file in folder_files(path):
        file_hash, file_size = hash_file_and_size(file)
        entries.append((relative, file_hash))
        total += file_size
    return hash_folder(entries), total, len(entries)


def _stage_local(text: str, key: str | None) -> Staged:
    path = Path(text).expanduser()
    try:
        mode = path.stat().st_mode
    except (FileNotFoundError, NotADirectoryError) as error:
        raise StorageError(
            f"No file or folder at {text!r} (resolved to {path.absolute()}). Check the path."
        ) from error
    except (OSError, ValueError) as error:
        raise StorageError(f"Cannot read {text!r}: {error}. Check the path.") from error
    refuse_special_file(text, mode)
    is_folder = stat.S_ISDIR(mode)
    resolved = path.resolve().as_posix()
    instance = get_instance()
    if is_folder and instance.is_local_storage:
        catalog = Path(instance.catalog_path).resolve()
        if catalog == Path(resolved) or Path(resolved) in catalog.parents:
            raise StorageError(
                f"Cannot register the folder {text!r}: it contains the catalog's own folder "
                f"{str(catalog)!r}, so it would be copied into itself. Register the files or "
                "folders next to the catalog instead."
            )
    in_place_key = _within(resolved, instance.storage_root) if instance.is_local_storage else None
    if in_place_key is not None and key in (None, in_place_key):
        problem = path_problem(in_place_key)
        if problem is not None:
            raise ValidationError(
                f"Cannot register {text!r} where it lies: its key would be {in_place_key!r}, "
                f"and {problem}. Pass key= to copy it into the catalog under a plain key, "
                "e.g. key='raw/sample1.csv'."
            )
    content_hash, size, n_files = describe_local(Path(resolved), is_folder=is_folder)
    staged = Staged(
        source=resolved,
        is_temporary=False,
        is_folder=is_folder,
        key=key,
        suffix=suffix_of(path.name),
        size=size,
        hash=content_hash,
        hash_type=HASH_TYPE_FOLDER if is_folder else HASH_TYPE_FILE,
        n_files=n_files,
    )
    if in_place_key is not None:
        staged.key = key or in_place_key
        staged.key_is_virtual = key is not None and key != in_place_key
        staged.in_place_root = None if staged.key_is_virtual else instance.storage_root
    return staged


def _stage_remote(url: str, key: str | None) -> Staged:
    instance = get_instance()
    fs, path = filesystem(url, **instance.storage_options)
    target, catalog = normalize_root(url), f"{instance.storage_root}/{CATALOG_DIR}"
    if instance.storage_root == target or instance.storage_root.startswith(target + "/"):
        raise StorageError(
            f"Cannot register {url!r}: it contains the catalog's storage "
            f"{instance.storage_root!r}. Register the files or folders next to the catalog instead."
        )
    if target == catalog or target.startswith(catalog + "/"):
        raise StorageError(
            f"Cannot register {url!r}: it lies in the catalog's own folder {catalog!r}, which "
            "holds the content of saved artifacts. Use those artifacts instead."
        )
    if target.startswith(instance.storage_root + "/"):
        root = instance.storage_root
    else:  # registered in place in its bucket
        root = normalize_root(url.split("://", 1)[0] + "://" + path.strip("/").split("/", 1)[0])
    _, root_path = filesystem(root, **instance.storage_options)
    prefix = root_path.rstrip("/") + "/"
    relative = path[len(prefix) :] if path.startswith(prefix) else ""
    location = join_within(root_path, relative, is_local=False)  # refuses '..' and the like
    if key is not None and key != relative:
        raise ValidationError(
            f"Cannot give the key {key!r} to {url!r}: a remote file is registered where it lies, "
            f"so its key is its path {relative!r}. Omit key=, or copy the file into the storage."
        )
    try:
        info = fs.info(location)
    except FileNotFoundError as error:
        raise StorageError(f"No file or folder at {url!r}. Check the URL.") from error
    except (OSError, ValueError) as error:
        raise StorageError(f"Cannot read {url!r}: {error}. Check the URL.") from error
    if info["type"] == "directory":
        entries, size = [], 0
        for file in sorted(fs.find(location)):
            name = file[len(location.rstrip("/")) + 1 :]
            problem = path_problem(name)
            if problem is not None:
                raise StorageError(
                    f"Cannot register the folder {url!r}: it holds {name!r}, and {problem}, so "
                    "it could not be downloaded safely. Rename that object."
                )
            file_hash, file_size = hash_file_and_size(file, fs)
            entries.append((name, file_hash))
            size += file_size
        content_hash, hash_type, n_files, is_folder = (
            hash_folder(entries),
            HASH_TYPE_FOLDER,
            len(entries),
            True,
        )
    else:
        content_hash, size = hash_file_and_size(location, fs)
        hash_type, n_files, is_folder = HASH_TYPE_FILE, None, False
    return Staged(
        source=location,
        is_temporary=False,
        is_folder=is_folder,
        key=key or relative,
        suffix=suffix_of(location),
        size=size,
        hash=content_hash,
        hash_type=hash_type,
        n_files=n_files,
        key_is_virtual=False,
        in_place_root=root,
        fs=fs,
    )
