"""Reading artifacts back: where they are, a local copy, loading into memory.

Every read of an artifact while a run is tracked records the artifact as an input of that run:
this is how lineage is captured without the user declaring it.
"""

from __future__ import annotations

from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from lamin_core.errors import StorageError, ValidationError
from lamin_core.instance import CATALOG_DIR, cache_root
from lamin_core.storage.paths import filesystem, is_local, join_within, stored_name

if TYPE_CHECKING:
    from upath import UPath

    from lamin_core.models.artifact import Artifact, Collection


def artifact_location(artifact: Artifact) -> tuple[Any, str]:
    """Return the filesystem and path of an artifact's stored content.

    Raises:
        StorageError: the row's uid, suffix or key would lead outside its storage root (a row
            edited behind the catalog's back); nothing is read or deleted there.
    """
    instance = artifact._instance()
    root_url = _storage_root(artifact)
    if artifact.storage_id == instance.storage_id:
        fs, root = instance.fs, instance.storage_path
    else:
        fs, root = filesystem(root_url, **instance.storage_options)
    if artifact.key_is_virtual:
        return fs, managed_path(root, artifact.uid, artifact.suffix, is_local=is_local(root_url))
    if artifact.key is None:
        raise StorageError(
            f"The artifact {artifact.uid!r} is registered in place but has no key, so its "
            "location is unknown. The row was changed outside the catalog; restore its key."
        )
    return fs, join_within(root, artifact.key, is_local=is_local(root_url))


def _storage_root(artifact: Artifact) -> str:
    """Return the root of the artifact's storage; the catalog's own without a query."""
    instance = artifact._instance()
    if artifact.storage_id is not None and artifact.storage_id == instance.storage_id:
        return instance.storage_root
    return artifact.storage.root


def managed_path(root: str, uid: str, suffix: str, *, is_local: bool) -> str:
    """Return where the catalog keeps content it manages: ``<root>/.lamindb/<uid><suffix>``.

    Raises:
        StorageError: the uid or suffix would lead outside the catalog folder.
    """
    catalog = f"{root.rstrip('/')}/{CATALOG_DIR}"
    return join_within(catalog, stored_name(uid, suffix), is_local=is_local)


def artifact_path(artifact: Artifact) -> UPath:
    """Return the stored content's location as a path object."""
    from upath import UPath

    _, path = artifact_location(artifact)
    root = _storage_root(artifact)
    if is_local(root):
        return UPath(path)
    protocol = root.split("://", 1)[0]
    return UPath(f"{protocol}://{path}", **artifact._instance().storage_options)


def cache(artifact: Artifact, *, record_input: bool = True) -> Path:
    """Return a local path to the content, downloading remote content once into the cache."""
    from lamin_core.tracking import record_input_artifact

    fs, path = artifact_location(artifact)
    if is_local(artifact.storage.root):
        local = Path(path)
        if not local.exists():
            raise StorageError(
                f"The content of {artifact.uid!r} is missing at {path!r}. Run `lamin-core fsck` "
                "to list the catalog's inconsistencies."
            )
    else:
        # one cache folder per protocol: the path of a memory:// file starts with '/'
        protocol = artifact.storage.root.split("://", 1)[0]
        cached = join_within(str(cache_root()), f"{protocol}/{path.lstrip('/')}", is_local=True)
        local = Path(cached)
        if not local.exists() or (not artifact.n_files and local.stat().st_size != artifact.size):
            local.parent.mkdir(parents=True, exist_ok=True)
            try:
                _download(fs, path, local, is_folder=bool(artifact.n_files))
            except FileNotFoundError as error:
                raise StorageError(
                    f"The content of {artifact.uid!r} is missing at {path!r}."
                ) from error
    if record_input:
        record_input_artifact(artifact)
    return local


def _download(fs: Any, path: str, local: Path, *, is_folder: bool) -> None:
    """Download a file or a folder; every file of a folder goes below `local`, none elsewhere.

    Object stores allow names such as ``a/../../x``; each name is joined through `join_within`,
    so such an object is refused instead of written outside the cache.
    """
    if not is_folder:
        fs.get(path, str(local))
        return
    local.mkdir(parents=True, exist_ok=True)
    prefix = path.rstrip("/") + "/"
    sources = sorted(fs.find(path))
    targets = [join_within(str(local), source[len(prefix) :], is_local=True) for source in sources]
    for target in targets:
        Path(target).parent.mkdir(parents=True, exist_ok=True)
    if sources:
        fs.get(sources, targets)


def load(artifact: Artifact) -> Any:
    """Load the content into memory by suffix (DataFrame, AnnData, dict, str)."""
    # serializers need numpy: imported by the first load, not by fsck or the CLI
    from lamin_core.storage.serializers import load_file

    return load_file(cache(artifact), artifact.suffix)


RAW_MODES = ("rb", "rt")


def open_artifact(artifact: Artifact, mode: str = "rb") -> IO[Any]:
    """Open the stored content read-only as a file object (mode ``"rb"`` or ``"rt"``).

    Raises:
        StorageError: a mode that writes, or a folder artifact (it has no single file).
        ValidationError: any other mode.
    """
    from lamin_core.tracking import record_input_artifact

    if any(flag in mode for flag in "wax+"):
        raise StorageError(
            f"Artifacts are immutable: cannot open {artifact.uid!r} with mode {mode!r}. Save a "
            "new version instead."
        )
    if mode not in RAW_MODES:
        raise ValidationError(
            f"Cannot open artifact {artifact.uid!r} with mode {mode!r}: use 'r' to stream it, "
            f"or one of {', '.join(map(repr, RAW_MODES))} for a file object of its content."
        )
    if artifact.n_files is not None:
        raise StorageError(
            f"Cannot open {artifact.uid!r}: it is a folder of {artifact.n_files} files. Use "
            "artifact.cache() for a local copy of the folder."
        )
    fs, path = artifact_location(artifact)
    record_input_artifact(artifact)
    return fs.open(path, mode)


def load_collection(collection: Collection) -> Any:
    """Load every member and concatenate DataFrames (or AnnData objects) in order."""
    objects = [load(artifact) for artifact in collection.artifacts]
    if not objects:
        return None
    import pandas as pd

    if all(isinstance(o, pd.DataFrame) for o in objects):
        return pd.concat(objects)
    import anndata as ad

    if all(isinstance(o, ad.AnnData) for o in objects):
        return ad.concat(objects)
    return objects
