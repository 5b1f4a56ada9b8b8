"""Streaming access: read part of an artifact where it is stored instead of loading all of it.

`artifact.load()` brings the whole content into memory. `artifact.open()` returns an object that
reads on demand from the artifact's storage (local or remote, through its fsspec filesystem):

- tabular files and folders of them (``.parquet``, ``.csv``, ``.arrow``/``.feather``/``.ipc``,
  ``.orc``): a `pyarrow.dataset.Dataset`, whose ``to_table(filter=..., columns=[...])`` reads
  only the columns and the parquet row groups the filter can match;
- ``.h5ad``: an AnnData in backed mode (``X`` stays on storage) that closes as a context manager;
- ``.zarr`` folders: a read-only zarr group.

`collection.open()` makes one dataset of all its tabular members. The raw bytes of any file stay
reachable with ``artifact.open("rb")``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from lamin_core.artifacts.access import artifact_location
from lamin_core.artifacts.backed_anndata import open_backed_anndata
from lamin_core.errors import StorageError, ValidationError
from lamin_core.storage.paths import is_local
from lamin_core.tracking import record_input_artifact

if TYPE_CHECKING:
    import pyarrow.dataset as pads

    from lamin_core.models.artifact import Artifact, Collection

__all__ = [
    "ARROW_FORMATS",
    "open_artifact_backed",
    "open_collection",
    "supported_suffixes",
]

# suffix -> the pyarrow.dataset format that reads it
ARROW_FORMATS = {
    ".parquet": "parquet",
    ".csv": "csv",
    ".arrow": "ipc",
    ".feather": "ipc",
    ".ipc": "ipc",
    ".orc": "orc",
}
ANNDATA_SUFFIX = ".h5ad"
ZARR_SUFFIX = ".zarr"
# pyarrow skips such files in a folder (_SUCCESS, _common_metadata, .crc files): so do we
_IGNORED_PREFIXES = ("_", ".")


def supported_suffixes() -> list[str]:
    """Return the suffixes `artifact.open()` streams, sorted."""
    return sorted([*ARROW_FORMATS, ANNDATA_SUFFIX, ZARR_SUFFIX])


def open_artifact_backed(artifact: Artifact, **kwargs: Any) -> Any:
    """Return an object that reads the artifact's content from storage on demand.

    Args:
        artifact: A saved artifact.
        **kwargs: Passed to the opener: `pyarrow.dataset.dataset` for tables (``schema``,
            ``partitioning``), `anndata.read_h5ad` for AnnData, `zarr.open_group` for zarr.

    Returns:
        A `pyarrow.dataset.Dataset`, a backed `anndata.AnnData` or a `zarr.Group`.

    Raises:
        ValidationError: no opener handles the suffix (the message lists those that exist).
        StorageError: the content is missing, or zarr is not installed.
    """
    fs, path = artifact_location(artifact)
    suffix = artifact.suffix.lower()
    if artifact.n_files is not None:
        files = _folder_files(fs, path, artifact.uid)
        if suffix.endswith(ZARR_SUFFIX):
            opened = _open_zarr(artifact, fs, path, **kwargs)
        else:
            data_format = _folder_format(artifact, files)
            opened = _dataset([(fs, files)], data_format, **kwargs)
    elif suffix in ARROW_FORMATS:
        _require_file(fs, path, artifact.uid)
        opened = _dataset([(fs, [path])], ARROW_FORMATS[suffix], **kwargs)
    elif suffix == ANNDATA_SUFFIX:
        _require_file(fs, path, artifact.uid)
        opened = open_backed_anndata(fs, path, local=is_local(artifact.storage.root), **kwargs)
    else:
        raise ValidationError(
            f"Cannot open artifact {artifact.uid!r} with suffix {artifact.suffix!r} for streaming: "
            f"open() streams {', '.join(supported_suffixes())} and folders of tabular files. "
            "Use artifact.open('rb') for a file object of its bytes, or artifact.load()."
        )
    record_input_artifact(artifact)
    return opened


def open_collection(collection: Collection, **kwargs: Any) -> pads.Dataset:
    """Return one `pyarrow.dataset.Dataset` over the tabular files of every member, in order.

    Members on different storages become one union dataset; filters and column selections
    still reach each file.

    Raises:
        ValidationError: the collection has no members, a member is not tabular, or the
            members hold different formats.
    """
    members = list(collection.artifacts)
    if not members:
        raise ValidationError(
            f"Collection {collection.key!r} has no artifacts, so there is no dataset to open. "
            "Add parquet artifacts to it first."
        )
    groups: dict[int, tuple[Any, list[str]]] = {}
    formats: dict[str, str] = {}
    for artifact in members:
        fs, path = artifact_location(artifact)
        if artifact.n_files is not None:
            files = _folder_files(fs, path, artifact.uid)
            data_format = _folder_format(artifact, files)
        elif artifact.suffix.lower() in ARROW_FORMATS:
            files, data_format = [path], ARROW_FORMATS[artifact.suffix.lower()]
        else:
            raise ValidationError(
                f"Collection {collection.key!r}: member {artifact.uid!r} has suffix "
                f"{artifact.suffix!r}, which is not tabular; collection.open() needs members "
                f"that are all {', '.join(sorted(ARROW_FORMATS))} files or folders of them. "
                "Use collection.mapped() for .h5ad members."
            )
        formats[artifact.uid] = data_format
        groups.setdefault(artifact.storage_id, (fs, []))[1].extend(files)
    if len(set(formats.values())) > 1:
        found = ", ".join(f"{uid}: {name}" for uid, name in formats.items())
        raise ValidationError(
            f"Collection {collection.key!r} mixes formats ({found}); one dataset needs one "
            "format. Open the members one by one with artifact.open()."
        )
    dataset = _dataset(list(groups.values()), next(iter(formats.values())), **kwargs)
    for artifact in members:
        record_input_artifact(artifact)
    return dataset


def _dataset(
    groups: Sequence[tuple[Any, list[str]]], data_format: str, **kwargs: Any
) -> pads.Dataset:
    """Return a dataset over files grouped by filesystem (a union dataset for several).

    pyarrow reads an fsspec filesystem through its own handler (local files natively), so a
    scan fetches the footer and then only the byte ranges of the column chunks it needs.
    """
    import pyarrow.dataset as pads

    parts = [
        pads.dataset(files, format=data_format, filesystem=fs, **kwargs) for fs, files in groups
    ]
    return parts[0] if len(parts) == 1 else pads.dataset(parts)


def _require_file(fs: Any, path: str, uid: str) -> None:
    if not fs.exists(path):
        raise StorageError(
            f"The content of {uid!r} is missing at {path!r}. Run `lamin-core fsck` to list the "
            "catalog's inconsistencies."
        )


def _folder_files(fs: Any, path: str, uid: str) -> list[str]:
    """Return the files of a folder artifact, sorted, without the ones pyarrow would skip."""
    found = sorted(fs.find(path)) if fs.exists(path) else []
    if not found:
        raise StorageError(
            f"The content of {uid!r} is missing at {path!r}. Run `lamin-core fsck` to list the "
            "catalog's inconsistencies."
        )
    prefix = path.rstrip("/") + "/"
    return [
        file
        for file in found
        if not any(part.startswith(_IGNORED_PREFIXES) for part in file[len(prefix) :].split("/"))
    ]


def _folder_format(artifact: Artifact, files: list[str]) -> str:
    """Return the one tabular format of a folder's files.

    Raises:
        ValidationError: the folder holds no tabular file, or several formats.
    """
    suffixes = {PurePosixPath(file).suffix.lower() for file in files}
    formats = {ARROW_FORMATS.get(suffix) for suffix in suffixes}
    if len(formats) != 1 or None in formats:
        shown = ", ".join(sorted(repr(s) for s in suffixes)) or "no files"
        raise ValidationError(
            f"Cannot open folder artifact {artifact.uid!r} for streaming: its files have "
            f"suffixes {shown}, but open() needs a '.zarr' folder or a folder of one tabular "
            f"format ({', '.join(sorted(ARROW_FORMATS))}). Use artifact.cache() for a local "
            "copy of the folder."
        )
    return str(formats.pop())


def _open_zarr(artifact: Artifact, fs: Any, path: str, **kwargs: Any) -> Any:
    """Return the zarr group at `path`, read-only."""
    uid, n_files, local = artifact.uid, artifact.n_files, is_local(artifact.storage.root)
    try:
        import zarr
    except ImportError as error:
        raise StorageError(
            "Opening a '.zarr' artifact needs the zarr package, which is not installed. "
            "Install it with `pip install zarr`, or use artifact.cache() for a local copy."
        ) from error
    store = path if local else fs.get_mapper(path)
    try:
        return zarr.open_group(store, mode="r", **kwargs)
    except (FileNotFoundError, ValueError, KeyError) as error:
        # zarr's error for a folder without group metadata varies between versions
        raise StorageError(
            f"Cannot open {uid!r} as a zarr group: its folder of {n_files} files holds no zarr "
            f"group metadata ({type(error).__name__}: {error}). Use artifact.cache() for a local "
            "copy of the folder."
        ) from error
