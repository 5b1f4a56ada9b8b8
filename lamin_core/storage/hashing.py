"""Content hashes of files, folders and bytes.

Every hash is an md5 over the FULL content, encoded url-safe base64 without padding (22
characters, as LaminDB: the content ``a`` hashes to ``DMF1ucDxtqgxw5niaXcmYQ``). Large files are
read in one streaming pass with a reused buffer, so hashing runs at the speed of ``md5sum``.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterable
from typing import IO, Any

CHUNK_SIZE = 8 * 1024 * 1024
HASH_TYPE_FILE = "md5"
HASH_TYPE_FOLDER = "md5-d"


def b64(digest: bytes) -> str:
    """Encode a digest url-safe base64 without padding."""
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def hash_bytes(data: bytes | memoryview) -> str:
    """Return the hash of in-memory content."""
    return b64(hashlib.md5(data, usedforsecurity=False).digest())


def hash_stream(stream: IO[bytes]) -> str:
    """Return the hash of everything left in a binary stream, read in one pass."""
    md5 = hashlib.md5(usedforsecurity=False)
    if hasattr(stream, "readinto"):
        buffer = bytearray(CHUNK_SIZE)
        view = memoryview(buffer)
        while n_read := stream.readinto(buffer):
            md5.update(view[:n_read])
    else:
        while chunk := stream.read(CHUNK_SIZE):
            md5.update(chunk)
    return b64(md5.digest())


def hash_file(path: str | os.PathLike[str], fs: Any = None) -> str:
    """Return the hash of a file, local or on any fsspec filesystem."""
    if fs is None:
        with open(path, "rb", buffering=0) as stream:
            if os.fstat(stream.fileno()).st_size <= CHUNK_SIZE:
                return hash_bytes(stream.read())  # small files: no chunk buffer to allocate
            return hash_stream(stream)
    with fs.open(path, "rb", block_size=CHUNK_SIZE) as stream:
        return hash_stream(stream)


def hash_folder(entries: Iterable[tuple[str, str]]) -> str:
    """Return the hash of a folder from its (relative path, file hash) pairs.

    The pairs are sorted, so the hash depends on names and content, not on listing order.
    """
    md5 = hashlib.md5(usedforsecurity=False)
    for relative_path, file_hash in sorted(entries):
        md5.update(f"{relative_path}\0{file_hash}\n".encode())
    return b64(md5.digest())
