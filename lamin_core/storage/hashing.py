"""Content hashes of files, folders and bytes.

Every hash is an md5 over the FULL content, encoded url-safe base64 without padding (22
characters, as LaminDB: the content ``a`` hashes to ``DMF1ucDxtqgxw5niaXcmYQ``). Large files are
read in one streaming pass with a reused buffer, so hashing runs at the speed of ``md5sum``.

The size that goes with a hash is the number of bytes hashed, never the size the filesystem
reports: a file in ``/proc`` reports 0 bytes and has content, a file being appended to reports
what it had a moment ago. Only regular files are read: a named pipe or a device would block or
never end.
"""

from __future__ import annotations

import base64
import hashlib
import os
import stat
from collections.abc import Iterable
from typing import IO, Any

from lamin_core.errors import StorageError

CHUNK_SIZE = 8 * 1024 * 1024
HASH_TYPE_FILE = "md5"
HASH_TYPE_FOLDER = "md5-d"


def b64(digest: bytes) -> str:
    """Encode a digest url-safe base64 without padding."""
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def hash_bytes(data: bytes | memoryview) -> str:
    """Return the hash of in-memory content."""
    return b64(hashlib.md5(data, usedforsecurity=False).digest())


def set_hash(uids: Iterable[str]) -> str:
    """Return the hash of a set of member uids (order-independent): a feature set's identity."""
    return hash_bytes(",".join(sorted(uids)).encode())


def hash_stream(stream: IO[bytes]) -> str:
    """Return the hash of everything left in a binary stream, read in one pass."""
    return hash_stream_and_size(stream)[0]


def hash_stream_and_size(stream: IO[bytes]) -> tuple[str, int]:
    """Return the hash and the number of bytes of everything left in a binary stream."""
    md5 = hashlib.md5(usedforsecurity=False)
    size = 0
    if hasattr(stream, "readinto"):
        buffer = bytearray(CHUNK_SIZE)
        view = memoryview(buffer)
        while n_read := stream.readinto(buffer):
            md5.update(view[:n_read])
            size += n_read
    else:
        while chunk := stream.read(CHUNK_SIZE):
            md5.update(chunk)
            size += len(chunk)
    return b64(md5.digest()), size


def hash_file(path: str | os.PathLike[str], fs: Any = None) -> str:
    """Return the hash of a file, local or on any fsspec filesystem."""
    return hash_file_and_size(path, fs)[0]


def hash_file_and_size(path: str | os.PathLike[str], fs: Any = None) -> tuple[str, int]:
    """Return the hash of a file and the number of bytes hashed, local or on any filesystem.

    Raises:
        StorageError: a local path is not a regular file (a named pipe, a device, a socket) or
            cannot be read.
    """
    if fs is None:
        with open_regular_file(path) as stream:
            if os.fstat(stream.fileno()).st_size <= CHUNK_SIZE:
                content = stream.read()  # small files: no chunk buffer to allocate
                return hash_bytes(content), len(content)
            return hash_stream_and_size(stream)
    with fs.open(path, "rb", block_size=CHUNK_SIZE) as stream:
        return hash_stream_and_size(stream)


def file_kind(mode: int) -> str:
    """Return what a stat mode describes, in words: "regular file", "named pipe (FIFO)", ..."""
    for test, kind in [
        (stat.S_ISREG, "regular file"),
        (stat.S_ISDIR, "folder"),
        (stat.S_ISFIFO, "named pipe (FIFO)"),
        (stat.S_ISSOCK, "socket"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
    ]:
        if test(mode):
            return kind
    return "special file"


def refuse_special_file(path: str | os.PathLike[str], mode: int) -> None:
    """Raise unless `mode` (of `path`) is a regular file or a folder.

    Raises:
        StorageError: `path` is a named pipe, a socket or a device.
    """
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise StorageError(
            f"Cannot register {os.fspath(path)!r}: it is a {file_kind(mode)}; only regular files "
            "and folders can be registered. Copy its content into a file and register that."
        )


def open_regular_file(path: str | os.PathLike[str]) -> IO[bytes]:
    """Open a local regular file for unbuffered reading.

    The file is opened without blocking, so that a named pipe swapped in for a checked path
    cannot hang the open; what was opened is checked again on the open descriptor.

    Raises:
        StorageError: `path` is not a regular file, or cannot be opened.
    """
    try:
        refuse_special_file(path, os.stat(path).st_mode)
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except (OSError, ValueError) as error:
        if isinstance(error, StorageError):
            raise
        raise StorageError(f"Cannot read {os.fspath(path)!r}: {error}. Check the path.") from error
    try:
        mode = os.fstat(descriptor).st_mode
        if not stat.S_ISREG(mode):
            raise StorageError(
                f"Cannot read {os.fspath(path)!r}: it is a {file_kind(mode)}, not a regular file."
            )
        if getattr(os, "O_NONBLOCK", 0):
            os.set_blocking(descriptor, True)
    except BaseException:
        os.close(descriptor)
        raise
    return os.fdopen(descriptor, "rb", buffering=0)


def hash_folder(entries: Iterable[tuple[str, str]]) -> str:
    """Return the hash of a folder from its (relative path, file hash) pairs.

    The pairs are sorted, so the hash depends on names and content, not on listing order.
    """
    md5 = hashlib.md5(usedforsecurity=False)
    for relative_path, file_hash in sorted(entries):
        md5.update(f"{relative_path}\0{file_hash}\n".encode())
    return b64(md5.digest())
