"""Paths and URLs: which filesystem handles them, what their suffix is, and where content lies.

Every location the catalog reads, writes or deletes is built by one function, `join_within`: a
storage root plus a relative part that must stay inside it. Uids, suffixes and keys come from
users, from URLs and from database rows that anyone with database access can edit, so none of them
is trusted to be a plain name: a part that could lead outside the root (``..``, an absolute path,
a backslash, a NUL, a URL, a percent-escape, a symbolic link out of local storage) is refused
before anything touches storage.
"""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path, PurePosixPath
from typing import Any, TypeGuard

from lamin_core.errors import StorageError, ValidationError

# Second-to-last suffixes kept together with a compression suffix: "x.fastq.gz" -> ".fastq.gz".
COMPRESSION_SUFFIXES = {".gz", ".bz2", ".xz", ".zst", ".zip", ".tgz"}
LOCAL_PROTOCOLS = {None, "file", "local"}
MAX_KEY_LENGTH = 1024  # the length of the key column
MAX_NAME_BYTES = 255  # the longest file or folder name common filesystems allow
MAX_SUFFIX_LENGTH = 32  # the length of the suffix column
SUFFIX_RULE = (
    "a suffix is '' or up to 3 dot-separated parts of ASCII letters, digits and '_' (at most "
    f"{MAX_SUFFIX_LENGTH} characters), such as '.csv', '.fastq.gz' or '.ome.zarr'"
)
_SUFFIX = re.compile(r"(?:\.[A-Za-z0-9_]{1,16}){1,3}")
_STORED_STEM = re.compile(r"[A-Za-z0-9]+")
_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_PERCENT_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
_DRIVE = re.compile(r"[A-Za-z]:")
# characters that mean something to some storage once Unicode-normalised (NFKC), such as the
# fullwidth full stop and solidus (U+FF0E, U+FF0F) or the two-dot leader (U+2025)
_MEANINGFUL = frozenset("./\\:")


def split_protocol(url: str | os.PathLike[str]) -> tuple[str | None, str]:
    """Return the protocol of a URL (None for a local path) and the rest of it.

    The split fsspec makes (a one-letter protocol is a Windows drive), without importing
    fsspec: checking a key or a path needs no filesystem.
    """
    text = os.fspath(url)
    protocol, separator, rest = text.partition("://")
    if separator and len(protocol) > 1:
        return protocol, rest
    if text.startswith("data:"):
        return "data", text[len("data:") :]
    return None, text


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
    import fsspec  # the first filesystem needs it; paths and keys are checked without it

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


def is_valid_suffix(suffix: object) -> TypeGuard[str]:
    """Return whether `suffix` follows the suffix rule (see `validate_suffix`)."""
    if not isinstance(suffix, str):
        return False
    return suffix == "" or (
        len(suffix) <= MAX_SUFFIX_LENGTH and _SUFFIX.fullmatch(suffix) is not None
    )


def validate_suffix(suffix: object) -> str:
    """Check that `suffix` is a file suffix such as ``.fastq.gz`` (or ``""``) and return it.

    The suffix becomes part of the stored file name ``<uid><suffix>``, so it must be a name
    part, never a path.

    Raises:
        ValidationError: the suffix does not follow the rule.
    """
    if not is_valid_suffix(suffix):
        raise ValidationError(
            f"Invalid suffix {suffix!r}: {SUFFIX_RULE}. Omit suffix= to take it from the file name."
        )
    return suffix


def suffix_of(path: str | os.PathLike[str]) -> str:
    """Return the suffix of a file name, keeping compound suffixes such as ``.fastq.gz``.

    A name whose suffix breaks the suffix rule (non-ASCII, too long, ...) has the suffix ``""``.
    """
    suffixes = PurePosixPath(os.fspath(path).rstrip("/")).suffixes
    if not suffixes:
        return ""
    last = suffixes[-1]
    if last.lower() in COMPRESSION_SUFFIXES and len(suffixes) > 1:
        inner = suffixes[-2]
        if 1 < len(inner) <= 8 and inner[1:].isalnum() and is_valid_suffix(inner + last):
            return inner + last
    return last if is_valid_suffix(last) else ""


def path_problem(relative: object) -> str | None:
    """Return why `relative` cannot name a place inside a root, or None when it can.

    A safe relative path is a non-empty string of '/'-separated names, none of them empty, '.'
    or '..' or longer than 255 bytes; it has no control character, no backslash, no URL, no
    percent-escape, no leading '/', '~' or drive letter, and no character that Unicode
    normalisation turns into '.', '/', '\\' or ':'.
    """
    if not isinstance(relative, str):
        return f"it is a {type(relative).__name__}, not a string"
    if not relative:
        return "it is empty"
    if _CONTROL_CHARACTER.search(relative):
        return "it contains a control character such as NUL or a newline"
    if _SURROGATE.search(relative):
        return "it contains a lone surrogate, which no file name can hold"
    if "\\" in relative:
        return "it contains '\\' (separate folders with '/')"
    if "://" in relative or "::" in relative:
        return "it contains a URL"
    if _PERCENT_ESCAPE.search(relative):
        return "it contains a percent-escape such as '%2e', which some storage decodes"
    if relative.startswith("/"):
        return "it is an absolute path"
    if relative.startswith("~"):
        return "it starts with '~', a home folder"
    if _DRIVE.match(relative):
        return "it starts with a drive letter"
    if len(relative) > MAX_KEY_LENGTH:
        return f"it is longer than {MAX_KEY_LENGTH} characters"
    for part in relative.split("/"):
        if not part:
            return "it has an empty part ('//' or a '/' at the end)"
        if part in (".", ".."):
            return f"it has a {part!r} part"
        if len(part.encode()) > MAX_NAME_BYTES:
            return f"it has a part longer than {MAX_NAME_BYTES} bytes"
    for character in relative:
        if not character.isascii() and _MEANINGFUL & set(unicodedata.normalize("NFKC", character)):
            return (
                f"it contains {character!r}, which Unicode normalisation turns into '.', '/' or ':'"
            )
    return None


def join_within(root: str, relative: str, *, is_local: bool) -> str:
    """Return ``<root>/<relative>``, refusing anything that would lead outside `root`.

    This is the one function that builds storage paths: stored content, registered files,
    the download cache. On local storage, symbolic links are resolved too, so a link inside the
    root that leads outside it is refused as well.

    Args:
        root: A local folder or a path on a filesystem (``bucket/prefix``), not a URL.
        relative: The part below the root: a key or ``.lamindb/<uid><suffix>``.
        is_local: Whether `root` is on the local filesystem (then symbolic links are resolved).

    Returns:
        The joined path (symbolic links inside the root are kept as they are).

    Raises:
        StorageError: `relative` is not a safe relative path, or leads outside `root`.
    """
    problem = path_problem(relative)
    if problem is not None:
        raise StorageError(
            f"The storage path {relative!r} below {root!r} is refused: {problem}. Storage paths "
            "are built from plain relative names only, so that nothing outside the storage root "
            "is ever read, written or deleted."
        )
    joined = f"{root.rstrip('/')}/{relative}"
    if is_local:
        real_root = os.path.realpath(root)
        real = os.path.realpath(joined)
        if real != real_root and not real.startswith(real_root.rstrip(os.sep) + os.sep):
            raise StorageError(
                f"The storage path {joined!r} is refused: it resolves to {real!r}, outside the "
                f"storage root {real_root!r}, through a symbolic link. Remove the link, or "
                "register the file where it really lies."
            )
    return joined


def stored_name(uid: str, suffix: str) -> str:
    """Return the file name of content the catalog manages: ``<uid><suffix>``.

    Raises:
        StorageError: the uid is not base62 or the suffix breaks the suffix rule (a row edited
            behind the catalog's back); nothing may be stored or deleted under such a name.
    """
    if not (isinstance(uid, str) and _STORED_STEM.fullmatch(uid)):
        raise StorageError(
            f"The stored name of uid {uid!r} is refused: a uid is made of base62 characters "
            "(0-9, a-z, A-Z). The row was changed outside the catalog; restore its uid."
        )
    if not is_valid_suffix(suffix):
        raise StorageError(
            f"The stored name of uid {uid!r} with suffix {suffix!r} is refused: {SUFFIX_RULE}. "
            "The row was changed outside the catalog; restore its suffix."
        )
    return f"{uid}{suffix}"


def validate_key(key: str | None) -> str | None:
    """Check that a key is a relative POSIX path inside the catalog and return it.

    Raises:
        ValidationError: the key is empty, ends with '/', or is not a safe relative path (see
            `path_problem`): absolute, a URL, or climbing out with ``..``.
    """
    if key is None:
        return None
    if not isinstance(key, str) or not key.strip():
        raise ValidationError(f"Invalid key {key!r}: a key is a non-empty string like 'raw/x.csv'.")
    if key.endswith("/"):
        raise ValidationError(
            f"Invalid key {key!r}: a key names a file or a folder, so it cannot end with '/'. "
            "Drop the '/', e.g. 'raw/reads.fastq' or 'raw/run1.zarr'."
        )
    problem = path_problem(key)
    if problem is not None:
        raise ValidationError(
            f"Invalid key {key!r}: {problem}. A key is a plain relative path inside the catalog, "
            "so that no key can point outside it: pass a path or URL as the artifact's data and "
            "a key such as 'raw/sample1.fastq.gz'."
        )
    return key
