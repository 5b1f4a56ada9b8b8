"""Feature dtypes: parse the dtype string of a Feature and check values against it.

A dtype is checked once, when the Feature is created, so that a typo (``"flaot"``,
``"cat[CellTyp]"``) fails at the point of definition rather than when the first value arrives;
values are checked before anything is written, so a wrong value never half-annotates an
artifact. Values are stored as JSON: dates and datetimes as ISO 8601 strings, which the query
layer compares as text (ISO strings sort chronologically).

Examples:
    >>> parse_dtype("cat[bionty.CellType]").registries[0][0].__name__
    'CellType'
    >>> parse_dtype("list[int]").check("n_cells", [1, 2])
    [1, 2]
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import os
import pathlib
import re
import typing
import urllib.parse
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import sqlalchemy as sa

from lamin_core.errors import RegistryReferenceError, ValidationError, did_you_mean
from lamin_core.errors.values import json_value
from lamin_core.models.branches import MAIN_BRANCH, TRASH_BRANCH
from lamin_core.models.registry import (
    field_names,
    is_label_registry,
    label_registries,
    parse_categorical,
    reference_text,
    registry_named,
    split_list,
)

logger = logging.getLogger("lamin_core.annotations")

__all__ = [
    "SIMPLE_DTYPES",
    "DType",
    "dtype_text",
    "parse_dtype",
    "type_condition",
    "type_record",
    "valid_dtypes_text",
]

SIMPLE_DTYPES = ("str", "int", "float", "num", "bool", "date", "datetime", "dict", "url", "path")


def valid_dtypes_text() -> str:
    """Return the list of valid dtypes for error messages."""
    labels = ", ".join(f"cat[{reference_text(r)}]" for r in label_registries())
    return (
        f"{', '.join(SIMPLE_DTYPES)}, {labels}, cat[A|B], a Record or ULabel type record "
        "(is_type=True), list[<dtype>]"
    )


@dataclass(frozen=True)
class DType:
    """A parsed feature dtype.

    Attributes:
        text: The canonical string, e.g. ``"cat[bionty.CellType]"`` (stored on the Feature).
        base: One of `SIMPLE_DTYPES` or ``"cat"``.
        is_list: Values are lists of `base` values.
        registries: For ``cat``: (registry, field) pairs, e.g. ``((ULabel, "name"),)``.
        type_uid: For a dtype naming a type record (``cat[Record[<uid>]]``): the uid of the
            type; values are then only the records of that type (and of its subtypes).
    """

    text: str
    base: str
    is_list: bool = False
    registries: tuple[tuple[type, str], ...] = ()
    type_uid: str | None = None

    @property
    def is_categorical(self) -> bool:
        """Whether values are labels (records of registries)."""
        return self.base == "cat"

    def check(self, name: str, value: Any) -> Any:
        """Return `value` in its stored form, or raise a ValidationError naming the feature.

        Categorical values come back as a list of labels (strings or records).
        """
        if self.is_list or (self.is_categorical and _is_many(value)):
            if not _is_many(value):
                raise ValidationError(
                    f"Feature {name!r} has dtype {self.text!r}: expected a list, got "
                    f"{type(value).__name__} {value!r}."
                )
            return [self._check_one(name, item) for item in value]
        checked = self._check_one(name, value)
        return [checked] if self.is_categorical else checked

    def _check_one(self, name: str, value: Any) -> Any:
        from lamin_core.models.base import Record

        value = value.item() if isinstance(value, np.generic) else value
        if value is None or (isinstance(value, float) and math.isnan(value)):
            raise ValidationError(
                f"Feature {name!r} (dtype {self.text!r}) got a missing value ({value!r}); "
                "leave the feature out instead of passing None or NaN."
            )
        if self.base == "cat" and isinstance(value, Record):
            allowed = tuple(registry for registry, _ in self.registries)
            if not isinstance(value, allowed):
                raise ValidationError(
                    f"Feature {name!r} has dtype {self.text!r}: got a "
                    f"{type(value).__name__} record {value!r}; expected a "
                    f"{' or '.join(r.__name__ for r in allowed)} record or its name."
                )
            return value
        if self.base == "dict" and isinstance(value, dict):
            # stored as JSON: finite numbers, valid text, string keys (numpy values as Python's)
            value = json_value(value, f"Feature {name!r}")
        converted = _CONVERTERS[self.base](value)
        if converted is _INVALID:
            raise ValidationError(
                f"Feature {name!r} has dtype {self.text!r}: expected {_EXPECTED[self.base]}, got "
                f"{type(value).__name__} {value!r}."
            )
        return converted


_INVALID = object()


def _number(value: Any) -> Any:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else _INVALID


def _integer(value: Any) -> Any:
    return value if isinstance(value, int) and not isinstance(value, bool) else _INVALID


def _url(value: Any) -> Any:
    """Return `value` if it is a URL with a scheme and a host (``https://host/...``)."""
    if not isinstance(value, str):
        return _INVALID
    parts = urllib.parse.urlsplit(value)
    return value if parts.scheme and parts.netloc and " " not in value else _INVALID


def _path(value: Any) -> Any:
    """Return a path or URI as text (a PathLike as its string)."""
    text = os.fspath(value) if isinstance(value, os.PathLike) else value
    return text if isinstance(text, str) and text.strip() else _INVALID


def _iso(parse: Any, kind: type, exclude: type | None = None) -> Any:
    """Return a converter to ISO text from `kind` objects (not `exclude`) or ISO strings."""

    def convert(value: Any) -> Any:
        if isinstance(value, kind) and not (exclude and isinstance(value, exclude)):
            return cast(Any, value).isoformat()
        if isinstance(value, str):
            try:
                return parse(value).isoformat()
            except ValueError:
                return _INVALID
        return _INVALID

    return convert


_CONVERTERS: dict[str, Any] = {
    "str": lambda v: v if isinstance(v, str) else _INVALID,
    "cat": lambda v: v if isinstance(v, str) else _INVALID,
    "int": _integer,
    "float": _number,
    "num": _number,
    "bool": lambda v: v if isinstance(v, bool) else _INVALID,
    "date": _iso(dt.date.fromisoformat, dt.date, exclude=dt.datetime),
    "datetime": _iso(dt.datetime.fromisoformat, dt.datetime),  # also pandas.Timestamp
    "dict": lambda v: v if isinstance(v, dict) else _INVALID,
    "url": _url,
    "path": _path,
}


_EXPECTED = {
    "str": "a string",
    "int": "an integer",
    "float": "a number",
    "num": "a number",
    "bool": "True or False",
    "date": "a date or an ISO date string such as '2024-12-01'",
    "datetime": "a datetime or an ISO datetime string such as '2024-12-01T09:30:00'",
    "dict": "a dict",
    "url": "a URL with a scheme and a host, such as 'https://example.org/data.csv'",
    "path": "a path or URI as text, such as 'data/sample.fastq.gz' or 's3://bucket/key'",
    "cat": "a label name (str) or a record",
}


def _is_many(value: Any) -> bool:
    return isinstance(value, (list, tuple, set, frozenset, np.ndarray))


def _invalid(text: str, reason: str = "", hint: str | None = None) -> ValidationError:
    simple = [*SIMPLE_DTYPES, "cat[ULabel]"]
    hint = did_you_mean(text, simple) if hint is None else hint
    return ValidationError(
        f"Invalid dtype {text!r}{reason}.{hint} Valid dtypes: {valid_dtypes_text()}."
    )


_PYTHON_TYPES: dict[Any, str] = {
    str: "str",
    int: "int",
    float: "float",
    bool: "bool",
    dict: "dict",
    dt.date: "date",
    dt.datetime: "datetime",
    pathlib.Path: "path",
}


def dtype_text(dtype: Any) -> str:
    """Return the dtype string of a dtype given as text, a Python type, a registry or a field.

    ``float`` -> ``"float"``, ``ln.ULabel`` -> ``"cat[ULabel]"``, ``bt.CellType`` ->
    ``"cat[bionty.CellType]"``, ``bt.CellType.ontology_id`` ->
    ``"cat[bionty.CellType.ontology_id]"``, ``list[str]`` -> ``"list[str]"``, a list of
    registries ``[ln.ULabel, bt.CellType]`` -> ``"cat[ULabel|bionty.CellType]"``.

    Raises:
        ValidationError: a type or object that names no feature dtype; lists the valid ones.
    """
    if isinstance(dtype, str):
        return dtype
    if typing.get_origin(dtype) is list:
        (inner,) = typing.get_args(dtype) or (None,)
        if inner is None:
            raise _invalid_object(dtype, ": say what the list holds, e.g. list[str]")
        return f"list[{dtype_text(inner)}]"
    if isinstance(dtype, (list, tuple)) and dtype:
        parts = [_categorical_part(item) for item in dtype]
        return f"cat[{'|'.join(parts)}]"
    if isinstance(dtype, type) and dtype in _PYTHON_TYPES:
        return _PYTHON_TYPES[dtype]
    if _is_type_record(dtype):
        return f"cat[{type(dtype).__name__}[{_type_uid(dtype)}]]"
    return f"cat[{_categorical_part(dtype)}]"


def _is_type_record(value: Any) -> bool:
    """Whether `value` is a record (not a class) of a label registry that has types."""
    registry = type(value)
    return (
        not isinstance(value, type)
        and is_label_registry(registry)
        and "type_id" in field_names(registry)
    )


def _type_uid(record: Any) -> str:
    name = type(record).__name__
    if record.id is None:
        raise ValidationError(
            f"{name} {record.name!r} is not saved; save the type before using it as a dtype: "
            f"ln.{name}(name={record.name!r}, is_type=True).save()."
        )
    if not record.is_type:
        raise ValidationError(
            f"{name} {record.name!r} is not a type (is_type=False), so it cannot be a dtype: "
            f"only a type groups the records a column may hold. Pass its type"
            f"{'' if record.type is None else f' ({record.type.name!r})'}, the registry "
            f"ln.{name}, or make a type with ln.{name}(name=..., is_type=True).save()."
        )
    return str(record.uid)


def _categorical_part(value: Any) -> str:
    """Return the text of a label registry (``ULabel``) or field (``bionty.CellType.name``)."""
    if isinstance(value, type) and registry_named(value.__name__) is value:
        registry, field = value, None
    elif isinstance(getattr(value, "class_", None), type) and isinstance(
        getattr(value, "key", None), str
    ):
        registry, field = value.class_, value.key
    else:
        raise _invalid_object(value)
    if not is_label_registry(registry):
        names = ", ".join(r.__name__ for r in label_registries())
        raise _invalid_object(
            value, f": {registry.__name__} records cannot be labels; label registries: {names}"
        )
    if field is not None and field not in field_names(registry):
        raise _invalid_object(value, f": {registry.__name__} has no field {field!r}")
    return reference_text(registry, field)


def _invalid_object(value: Any, reason: str = "") -> ValidationError:
    kind = value.__name__ if isinstance(value, type) else f"{type(value).__name__} {value!r}"
    reason = reason or ": not a dtype string, a Python type with a feature dtype or a registry"
    return ValidationError(
        f"Invalid dtype {kind}{reason}. "
        "Pass str, int, float, bool, dict, datetime.date, datetime.datetime, a label registry "
        f"(ln.ULabel, bt.CellType) or one of its fields, list[...] of these, or a string: "
        f"{valid_dtypes_text()}."
    )


def parse_dtype(text: Any) -> DType:
    """Parse a feature dtype: a string, a Python type, a label registry or one of its fields.

    Accepts ``str int float num bool date datetime dict``, ``cat`` (= ``cat[ULabel]``),
    ``cat[ULabel]``, ``cat[bionty.CellType]`` (also ``cat[CellType]``, ``cat[bt.CellType]``),
    ``cat[bionty.CellType.ontology_id]`` (labels matched by another field), unions
    ``cat[ULabel|bionty.CellType]``, and ``list[...]`` of any of these; and the objects
    `dtype_text` turns into these (``float``, ``ln.ULabel``, ``bt.CellType.ontology_id``).

    Raises:
        ValidationError: not a valid dtype; the message lists the valid ones.
    """
    text = dtype_text(text)
    is_list, stripped = split_list(text.strip().replace(" ", ""))
    if is_list and split_list(stripped)[0]:
        raise _invalid(text, ": nested lists are not supported")
    if stripped in SIMPLE_DTYPES:
        canonical = f"list[{stripped}]" if is_list else stripped
        return DType(canonical, stripped, is_list)
    typed = _TYPED.match(stripped)
    if typed is not None:
        registry = registry_named(typed.group("registry"))
        if registry is None or not is_label_registry(registry) or not hasattr(registry, "type"):
            raise _invalid(text, f": {typed.group('registry')} has no type records", "")
        canonical = f"cat[{registry.__name__}[{typed.group('uid')}]]"
        return DType(
            f"list[{canonical}]" if is_list else canonical,
            "cat",
            is_list,
            ((registry, registry._name_field),),
            typed.group("uid"),
        )
    try:
        registries = parse_categorical(stripped)  # the one parser of cat[...]
    except RegistryReferenceError as error:
        raise _invalid(text, f": {error.reason}", error.hint) from error
    if registries is None:
        raise _invalid(text)
    canonical = f"cat[{'|'.join(reference_text(r, f) for r, f in registries)}]"
    return DType(f"list[{canonical}]" if is_list else canonical, "cat", is_list, registries)


# a type record as dtype: cat[Record[<uid>]] or cat[ULabel[<uid>]] (the uid survives renames)
_TYPED = re.compile(r"^cat\[(?P<registry>\w+)\[(?P<uid>[A-Za-z0-9]+)\]\]$")


def _type_record(session: Any, dtype: DType) -> Any:
    """Return the type record a dtype names, or raise if it was deleted.

    A type in the trash still names its records (the uid finds it), with a warning.
    """
    registry: Any = dtype.registries[0][0]
    record = session.scalars(sa.select(registry).where(registry.uid == dtype.type_uid)).first()
    if record is None:
        raise ValidationError(
            f"The dtype {dtype.text!r} names the {registry.__name__} type with uid "
            f"{dtype.type_uid!r}, which is not in the catalog; give the feature a dtype that "
            "exists."
        )
    if getattr(record, "branch_id", MAIN_BRANCH) == TRASH_BRANCH:
        logger.warning(
            f"! the dtype {dtype.text!r} names {registry.__name__} type {record.name!r}, "
            f"which is in the trash: its records are used from trash; restore it with "
            f"ln.{registry.__name__}.get({record.uid!r}).restore()"
        )
    return record


def type_record(session: Any, dtype: DType) -> Any:
    """Return the type record a dtype such as ``cat[Record[<uid>]]`` names, or None.

    Raises:
        ValidationError: the type is not in the catalog (deleted).
    """
    return None if dtype.type_uid is None else _type_record(session, dtype)


def type_condition(session: Any, dtype: DType) -> list[Any]:
    """Return the SQL conditions restricting a type dtype's registry to the type's records.

    The records of the type and of its subtypes (types whose ``type`` is the type, at any
    depth) count; [] for a dtype without a type.
    """
    if dtype.type_uid is None:
        return []
    registry: Any = dtype.registries[0][0]
    type_ids = [_type_record(session, dtype).id]
    frontier = list(type_ids)
    while frontier:  # subtypes, breadth first; a type hierarchy is shallow
        frontier = list(
            session.scalars(
                sa.select(registry.id).where(
                    registry.type_id.in_(frontier), registry.is_type.is_(True)
                )
            )
        )
        frontier = [i for i in frontier if i not in type_ids]
        type_ids += frontier
    # table columns, not ORM attributes: the value loaders read the DBAPI cursor of a Core select
    return [registry.__table__.c.type_id.in_(type_ids)]
