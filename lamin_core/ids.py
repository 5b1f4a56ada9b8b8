"""Random base62 identifiers: short, url-safe and stable across catalogs."""

from __future__ import annotations

import secrets
import string

BASE62 = string.digits + string.ascii_letters


def base62(n_chars: int) -> str:
    """Return a random base62 string of `n_chars` characters."""
    chars: list[str] = []
    while len(chars) < n_chars:
        # bytes >= 248 are dropped so that every character is equally likely (248 = 4 * 62)
        chars.extend(BASE62[b % 62] for b in secrets.token_bytes(n_chars + 4) if b < 248)
    return "".join(chars[:n_chars])


# bytes below 248 (= 4 * 62) map to base62 characters evenly; the others are dropped
_TO_BASE62 = bytes(BASE62.encode() * 4 + bytes(8))
_DROPPED = bytes(range(248, 256))


def base62_many(n_chars: int, count: int) -> list[str]:
    """Return `count` random base62 strings of `n_chars` characters each, as `base62` does.

    One call to the random source for all of them: a bulk insert makes 60,000 uids in
    milliseconds instead of a tenth of a second.
    """
    needed = n_chars * count
    text = b""
    while len(text) < needed:
        raw = secrets.token_bytes(needed - len(text) + needed // 16 + 8)
        text += raw.translate(_TO_BASE62, _DROPPED)
    decoded = text[:needed].decode("ascii")
    return [decoded[i : i + n_chars] for i in range(0, needed, n_chars)]


def encode_version(number: int, n_chars: int = 4) -> str:
    """Encode a 0-based version number as a fixed-width base62 suffix: 1 -> "0001"."""
    if number < 0 or number >= 62**n_chars:
        raise ValueError(f"version number {number} does not fit in {n_chars} base62 characters")
    digits = []
    for _ in range(n_chars):
        number, rest = divmod(number, 62)
        digits.append(BASE62[rest])
    return "".join(reversed(digits))


def decode_version(suffix: str) -> int:
    """Decode a base62 version suffix back to its number: "0001" -> 1."""
    number = 0
    for char in suffix:
        number = number * 62 + BASE62.index(char)
    return number
