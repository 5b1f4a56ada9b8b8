"""A backed AnnData that closes its file: what `artifact.open()` returns for ``.h5ad``.

anndata's backed mode keeps ``X`` on storage and reads the rows and columns a slice asks for,
but the object it returns has no ``close()`` nor context manager, and for remote storage the file
handle anndata reads through is ours to close. `BackedAnnData` is an AnnData (``isinstance``
holds, every method works) that adds both.

HDF5 reads many small blocks at scattered offsets, so a remote file is opened with a small
block size: a row read fetches about a block, not the whole object.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

import anndata

__all__ = ["REMOTE_BLOCK_SIZE", "BackedAnnData", "open_backed_anndata"]

REMOTE_BLOCK_SIZE = 2**20  # bytes fetched per remote read of an HDF5 file


class BackedAnnData(anndata.AnnData):
    """An AnnData in backed read mode that closes its file as a context manager.

    Examples:
        >>> with artifact.open() as adata:
        ...     first_rows = adata[:100].to_memory()
    """

    _lamin_handle: Any = None  # the remote file object anndata reads through, if any

    def close(self) -> None:
        """Close the HDF5 file and, for remote storage, the file object under it."""
        if self.file.is_open:
            self.file.close()
        if self._lamin_handle is not None:
            self._lamin_handle.close()

    def __enter__(self) -> BackedAnnData:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def open_backed_anndata(fs: Any, path: str, *, local: bool, **kwargs: Any) -> BackedAnnData:
    """Return the ``.h5ad`` file at `path` as a read-only backed AnnData.

    Args:
        fs: The fsspec filesystem of the storage.
        path: The file's path within `fs`.
        local: Whether `path` is a local path (opened by name; otherwise through `fs`).
        **kwargs: Passed to `anndata.read_h5ad`.
    """
    handle = None if local else fs.open(path, "rb", block_size=REMOTE_BLOCK_SIZE)
    try:
        adata = anndata.read_h5ad(path if handle is None else handle, backed="r", **kwargs)
    except BaseException:
        if handle is not None:
            handle.close()
        raise
    # anndata builds the object itself; the subclass only adds close() and the context manager
    adata.__class__ = BackedAnnData
    adata._lamin_handle = handle
    return adata
