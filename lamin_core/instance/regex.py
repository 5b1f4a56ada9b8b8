"""Regular expressions for the ``regex``/``iregex`` lookups: linear time, the same on both backends.

SQLite has no regular expressions of its own; Python's `re` backtracks, so a pattern such as
``^(x+x+)+y$`` against a long key runs for hours inside SQLite, holding the GIL and the database,
and cannot be interrupted. RE2 (google-re2) runs in time linear in the text, whatever the
pattern, so SQLite's ``regexp`` function uses it. The price is RE2's syntax: no backreferences
and no lookarounds, which no linear-time engine can offer.

PostgreSQL runs its own engine (ARE), whose syntax differs from RE2 in a few places. A pattern is
checked here when the filter is built, on both backends, so that it is accepted or refused the
same way everywhere; `postgres_pattern` then rewrites the RE2 spellings PostgreSQL reads
differently (``\\b`` is a backspace there, a word boundary here). Both engines are configured
alike: ``.`` matches a newline, ``^`` and ``$`` match at the start and end of the text only.

Examples:
    >>> check_regex(r"^raw/.*\\.fastq\\.gz$", "key__regex")
    >>> postgres_pattern(r"\\bcell\\b")
    '\\\\ycell\\\\y'
"""

from __future__ import annotations

import functools
import re
from typing import Any

import re2

from lamin_core.errors import ValidationError
from lamin_core.errors.values import check_text

__all__ = ["check_regex", "compile_regex", "postgres_pattern", "regex_search"]

# PostgreSQL's ARE accepts repetition counts up to 255 (RE2 up to 1000)
MAX_REPETITION = 255

# RE2's error messages, and the construct each one means, for users
_UNSUPPORTED = (
    (re.compile(r"invalid escape sequence: \\[1-9]"), "a backreference such as \\1"),
    (re.compile(r"invalid perl operator: \(\?<="), "a lookbehind (?<=...)"),
    (re.compile(r"invalid perl operator: \(\?<!"), "a negative lookbehind (?<!...)"),
    (re.compile(r"invalid perl operator: \(\?="), "a lookahead (?=...)"),
    (re.compile(r"invalid perl operator: \(\?!"), "a negative lookahead (?!...)"),
    (re.compile(r"invalid perl operator: \(\?>"), "an atomic group (?>...)"),
    (re.compile(r"invalid perl operator: \(\?P"), "a named backreference (?P=name)"),
    (re.compile(r"invalid perl operator: \(\?#"), "a comment (?#...)"),
    (re.compile(r"bad repetition operator: [*+?]\+"), "a possessive quantifier such as a++"),
    (re.compile(r"invalid escape sequence: \\Z"), "\\Z (use \\z or $)"),
)
_RULE = (
    "Patterns run in linear time (RE2 syntax, https://github.com/google/re2/wiki/Syntax): "
    "no backreferences, lookarounds, atomic groups or possessive quantifiers."
)
_REPETITION = re.compile(r"\{(\d+)(?:,(\d*))?\}")
_FLAGS = re.compile(r"\(\?([a-zA-Z]+)[:)]")


def _options(case_insensitive: bool) -> re2.Options:
    options = re2.Options()
    options.log_errors = False
    options.dot_nl = True  # as PostgreSQL: '.' matches a newline
    options.never_capture = True  # only whether it matches counts
    options.case_sensitive = not case_insensitive
    return options


@functools.lru_cache(maxsize=256)
def compile_regex(pattern: str, case_insensitive: bool = False) -> Any:
    """Compile `pattern` with RE2 (cached); raises ``re2.error`` when RE2 cannot run it."""
    return re2.compile(pattern, _options(case_insensitive))


def check_regex(pattern: str, where: str) -> None:
    """Raise a ValidationError when `pattern` cannot run on both backends, naming the construct.

    Args:
        pattern: The regular expression of a ``regex``/``iregex`` lookup.
        where: The lookup, for the message (``"key__regex"``).

    Raises:
        ValidationError: the pattern is invalid, uses a construct RE2 cannot run in linear time
            (backreferences, lookarounds), or one PostgreSQL reads differently.
    """
    check_text(pattern, where)
    try:
        compile_regex(pattern)
    except re2.error as error:
        message = error.args[0] if error.args else str(error)
        text = message.decode(errors="replace") if isinstance(message, bytes) else str(message)
        construct = next((name for rule, name in _UNSUPPORTED if rule.search(text)), None)
        if construct is not None:
            raise ValidationError(
                f"{where}={pattern!r} uses {construct}, which the catalog does not support. {_RULE}"
            ) from None
        raise ValidationError(
            f"Invalid regular expression {pattern!r} for {where}: {text}."
        ) from None
    _check_portable(pattern, where)


def _check_portable(pattern: str, where: str) -> None:
    """Refuse the RE2 constructs PostgreSQL cannot run, so both backends answer alike."""
    index = 0
    for token, in_class in _tokens(pattern):
        start, index = index, index + len(token)
        if token[:2] in ("\\p", "\\P"):
            raise ValidationError(
                f"{where}={pattern!r}: Unicode classes such as {token} are not supported "
                "(PostgreSQL has none); use a class such as [a-zA-Z] or [[:alpha:]]."
            )
        if token in ("\\Q", "\\E", "\\C"):
            raise ValidationError(
                f"{where}={pattern!r}: {token} is not supported; escape special characters with "
                "a backslash instead."
            )
        if in_class:
            continue
        repetition = _REPETITION.fullmatch(token)
        if repetition and any(int(n) > MAX_REPETITION for n in repetition.groups() if n):
            raise ValidationError(
                f"{where}={pattern!r}: the repetition {token} exceeds {MAX_REPETITION}, the most "
                "PostgreSQL accepts; use + or * instead."
            )
        flags = _FLAGS.match(pattern, start) if token == "(" else None
        if flags and not (start == 0 and flags.group(0) == "(?i)"):
            raise ValidationError(
                f"{where}={pattern!r}: flag groups such as {flags.group(0)} are not supported "
                "(only a leading (?i)); use the iregex lookup for case-insensitive matching."
            )


def _tokens(pattern: str) -> list[tuple[str, bool]]:
    """Split `pattern` into escapes, repetitions and single characters, marking those in [...]."""
    tokens: list[tuple[str, bool]] = []
    index, in_class, class_start = 0, False, -1
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            end = index + 2
            if pattern[index + 1] in "pPx" and pattern[end : end + 1] == "{":
                close = pattern.find("}", end)
                end = close + 1 if close != -1 else len(pattern)
            elif pattern[index + 1] in "pP":
                end = min(index + 3, len(pattern))
            tokens.append((pattern[index:end], in_class))
            index = end
            continue
        if in_class:
            if char == "[" and pattern[index + 1 : index + 2] == ":":
                close = pattern.find(":]", index + 2)
                if close != -1:
                    tokens.append((pattern[index : close + 2], True))
                    index = close + 2
                    continue
            # a ']' right after '[' or '[^' is a literal
            if char == "]" and index > class_start + 1:
                in_class = False
            tokens.append((char, True))
            index += 1
            continue
        if char == "[":
            in_class = True
            class_start = index + (2 if pattern[index + 1 : index + 2] == "^" else 1) - 1
            tokens.append((char, False))
            index += 1
            continue
        if char == "{":
            match = _REPETITION.match(pattern, index)
            if match:
                tokens.append((match.group(0), False))
                index = match.end()
                continue
        tokens.append((char, False))
        index += 1
    return tokens


_NAMED_GROUP = re.compile(r"\(\?P?<[A-Za-z_][A-Za-z0-9_]*>")


@functools.lru_cache(maxsize=256)
def postgres_pattern(pattern: str) -> str:
    """Return `pattern` (checked RE2 syntax) as PostgreSQL's ARE reads it with the same meaning.

    Word boundaries ``\\b``/``\\B`` become ``\\y``/``\\Y``, the end of text ``\\z`` becomes
    ``\\Z``, ``\\x{hex}`` becomes ``\\U<8 hex digits>``, named groups become plain groups.
    """
    parts: list[str] = []
    index = skip_to = 0
    for token, in_class in _tokens(pattern):
        start, index = index, index + len(token)
        if start < skip_to:
            continue  # the name of a named group
        if not in_class and token in ("\\b", "\\B"):
            parts.append("\\y" if token == "\\b" else "\\Y")
        elif token == "\\z":
            parts.append("\\Z")
        elif token.startswith("\\x{") and token.endswith("}"):
            parts.append(f"\\U{int(token[3:-1] or '0', 16):08x}")
        elif token == "(" and not in_class and _NAMED_GROUP.match(pattern, start):
            parts.append("(")
            skip_to = _NAMED_GROUP.match(pattern, start).end()  # type: ignore[union-attr]
        else:
            parts.append(token)
    return "".join(parts)


def regex_search(pattern: str | None, value: Any, case_insensitive: bool) -> bool | None:
    """Whether `value` contains a match of `pattern` (SQL semantics: None when either is NULL)."""
    if pattern is None or value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    return compile_regex(pattern, case_insensitive).search(text) is not None
