"""The exceptions that lamin_core raises, in one tree.

Every error a user can provoke with bad input is a `LaminError`, so ``except ln.errors.LaminError``
catches all of them and nothing else::

    LaminError
    ├── InstanceError          no active catalog, unreachable database, schema out of date
    ├── FieldError             unknown field, relation or lookup in a query or a constructor
    ├── DoesNotExist           a query that must match one record matched none
    ├── MultipleResultsFound   a query that must match one record matched several
    ├── ValidationError        a value, key or dataset that breaks a rule of the catalog
    │   ├── RegistryReferenceError   text naming no registry field ("bionty.CellTyp.name")
    │   └── InvalidArgument   an argument of the wrong kind (also a TypeError)
    ├── IntegrityError         a write that would break a constraint (duplicate name, dangling link)
    ├── NoWriteAccess          a write the database role may not make (read-only role, other space)
    └── StorageError           a path, URL or file that storage cannot read or write

Messages follow one pattern: the object, the offending value, the rule, then the fix or the choices.
One exception to the tree, kept for LaminDB's users: a curator given an unsaved Schema raises a
builtin ValueError with LaminDB's text (ValidationError is a ValueError too).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

__all__ = [
    "DoesNotExist",
    "FieldError",
    "InstanceError",
    "IntegrityError",
    "InvalidArgument",
    "LaminError",
    "MultipleResultsFound",
    "NoWriteAccess",
    "RegistryReferenceError",
    "StorageError",
    "ValidationError",
    "closest_match",
    "did_you_mean",
    "quoted",
    "with_suggestions",
]


class LaminError(Exception):
    """Base class of every error lamin_core raises for user input."""


class InstanceError(LaminError):
    """The catalog cannot be used: none is active, the database is unreachable or out of date."""


class FieldError(LaminError, AttributeError):
    """A field, relation or lookup name does not exist on a registry."""


class DoesNotExist(LaminError, LookupError):
    """A query that must match one record matched none."""


class MultipleResultsFound(LaminError, LookupError):
    """A query that must match exactly one record matched several."""


class ValidationError(LaminError, ValueError):
    """A value, key or dataset breaks a rule of the catalog."""


class RegistryReferenceError(ValidationError):
    """Text such as ``"bionty.CellType.name"`` or ``"cat[ULabel]"`` names no registry field.

    Besides the message, it says what went wrong so that callers with their own wording (a
    feature dtype, a Dagster schema) can phrase it in their terms.

    Attributes:
        reference: The text as given.
        reason: What is wrong, e.g. ``"unknown registry 'CellTyp'"``.
        hint: A sentence with the closest match (``" Did you mean 'CellType'?"``), or ``""``.
        registry: The registry when it was found and its field was not; else None.
        name: The unknown registry or field name.
    """

    def __init__(
        self,
        message: str,
        *,
        reference: str,
        reason: str,
        hint: str = "",
        registry: type | None = None,
        name: str = "",
    ) -> None:
        super().__init__(message)
        self.reference = reference
        self.reason = reason
        self.hint = hint
        self.registry = registry
        self.name = name


class InvalidArgument(ValidationError, TypeError):
    """An argument is of the wrong kind: a registry where a field belongs, a string where a
    Schema belongs, a class method called on a record (LaminDB's ``InvalidArgument``).

    It is a TypeError, as Python raises for arguments of the wrong type, and a ValidationError,
    so code that caught lamin_core's earlier ValidationError for these cases still does.
    """


class IntegrityError(LaminError):
    """A write would break a constraint of the catalog."""


class NoWriteAccess(LaminError, PermissionError):
    """The database role may not make this write: it is read-only, or the row is in a space
    the role has no access to."""


class StorageError(LaminError, OSError):
    """A path, URL or stored file cannot be read or written."""


def closest_match(name: str, choices: Iterable[str]) -> str | None:
    """Return the choice that looks most like `name`, or None when nothing is close.

    Used by error messages so that a typo such as ``sufix`` points the user to ``suffix``.
    """
    matches = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return matches[0] if matches else None


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """Return ``" Did you mean 'x'?"`` for the closest choice, or an empty string."""
    match = closest_match(name, choices)
    return f" Did you mean {match!r}?" if match else ""


def quoted(values: Iterable[Any], limit: int = 20) -> str:
    """Return ``'a', 'b', ... (N in total)``: values as messages list them, at most `limit`."""
    values = list(values)
    shown = ", ".join(repr(v) for v in values[:limit])
    return shown + (f", ... ({len(values)} in total)" if len(values) > limit else "")


def with_suggestions(value: Any, close: list[str] | None) -> str:
    """Return ``'B cels' (did you mean 'B cell'?)``: a value with its two closest matches, if any.

    The log, the ValidationError and the Dagster asset check all show failing values this way.
    """
    hint = f" (did you mean {' or '.join(map(repr, close[:2]))}?)" if close else ""
    return f"{value!r}{hint}"
