"""A filesystem that counts the bytes its files return: how tests see how much a reader read.

Tests measure "reads only what it needs" in bytes, never in time: a filesystem like the
storage's own, whose file objects add every read to ``fs.bytes_read``. pyarrow and h5py read
through it as through the original, so the count is what they asked of storage.
"""

from __future__ import annotations

from typing import Any


class CountingFile:
    """A file object that adds the bytes each read returns to its filesystem's count."""

    def __init__(self, handle: Any, fs: Any) -> None:
        self._handle, self._fs = handle, fs

    def read(self, size: int = -1) -> bytes:
        data = self._handle.read(size)
        self._fs.bytes_read += len(data)
        return bytes(data)

    def readinto(self, buffer: Any) -> int:
        count = int(self._handle.readinto(buffer))
        self._fs.bytes_read += count
        return count

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)

    def __enter__(self) -> CountingFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self._handle.close()


def counting_filesystem(fs: Any) -> Any:
    """Return a new filesystem like `fs` whose files count the bytes read (``.bytes_read``)."""

    class Counting(type(fs)):  # type: ignore[misc]
        bytes_read = 0

        def open(self, path: str, mode: str = "rb", **kwargs: Any) -> Any:
            return CountingFile(super().open(path, mode, **kwargs), self)

    return Counting(**fs.storage_options, skip_instance_cache=True)
