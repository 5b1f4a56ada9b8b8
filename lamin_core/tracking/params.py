"""A run's parameters as the JSON document `run.params` stores.

`ln.track(params=...)` and the arguments of a tracked function call both end up here. Values
that are JSON already are kept; a few common ones are written as text the way LaminDB 2.x does
(a record as ``Artifact[<uid>]``, a date as its ISO form, a path as its string); values whose
name or form says they are secrets are stored as ``***`` so that no password lands in the
catalog. For `track()` any other value is an error, raised before anything is written; for a
function's arguments (a DataFrame, a model) it is left out with a warning, as in 2.x.
"""

from __future__ import annotations

import datetime as dt
import inspect
import os
import re
from collections.abc import Mapping
from typing import Any

from lamin_core.console import logger
from lamin_core.errors import ValidationError
from lamin_core.errors.values import json_value, shown

REDACTED = "***"
# parameter names that hold secrets, as a whole word of the name (db_password, API_KEY, token)
SECRET_NAME = re.compile(
    r"(^|_)(password|passwd|pwd|secret|token|api_?key|access_?key|private_?key|credentials?)($|_)",
    re.IGNORECASE,
)
# values that carry a secret whatever their name: a URL with a password in it
SECRET_VALUE = re.compile(r"^[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@", re.IGNORECASE)


def is_secret(name: str, value: Any) -> bool:
    """Return whether a parameter is a secret: by its name, or a URL holding a password."""
    return bool(SECRET_NAME.search(name)) or (
        isinstance(value, str) and SECRET_VALUE.match(value) is not None
    )


def as_json(value: Any) -> Any:
    """Return `value` with records, dates and paths written as text (nested ones too)."""
    if hasattr(value, "uid") and hasattr(type(value), "__tablename__"):
        return f"{type(value).__name__}[{value.uid}]"
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, Mapping):
        return {key: as_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value
        return [as_json(item) for item in items]
    return value


def run_params(params: Any, *, what: str = "ln.track(params=...)") -> dict[str, Any] | None:
    """Return `params` as the JSON document `run.params` stores.

    Raises:
        ValidationError: `params` is not a dict with string keys, or a value cannot be stored
            as JSON; the message names the parameter.
    """
    if params is None:
        return None
    if not isinstance(params, Mapping):
        raise ValidationError(
            f"{what} expects a dict of parameter names and values, got "
            f"{type(params).__name__} {shown(params)}. Pass params={{'learning_rate': 0.01}}."
        )
    result: dict[str, Any] = {}
    for name, value in params.items():
        if not isinstance(name, str):
            raise ValidationError(
                f"{what}: the parameter name {shown(name)} is a {type(name).__name__}; names "
                f"are strings. Use {str(name)!r}."
            )
        if is_secret(name, value):
            result[name] = REDACTED
            continue
        result[name] = json_value(as_json(value), f"{what}[{name!r}]")
    return result


def call_params(signature: inspect.Signature, args: Any, kwargs: Any, where: str) -> dict[str, Any]:
    """Return the arguments of a function call as run parameters, defaults included.

    `self` and `cls` are left out; so is, with a warning, any value that is not JSON. Arguments
    that do not fit the signature give no params: the call itself raises Python's TypeError.
    """
    try:
        bound = signature.bind(*args, **kwargs)
    except TypeError:
        return {}
    bound.apply_defaults()
    result: dict[str, Any] = {}
    for name, value in bound.arguments.items():
        if name in ("self", "cls"):
            continue
        try:
            kept = run_params({name: value}, what=where)
        except ValidationError:
            logger.warning(
                f"{where}: not saving the argument {name!r} as a parameter: a "
                f"{type(value).__name__} is not JSON."
            )
            continue
        result.update(kept or {})
    return result
