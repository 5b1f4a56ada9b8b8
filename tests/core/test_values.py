"""Every column of every registry checks what is assigned to it, by the column's type."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa

import lamin_core as ln
import lamin_core.bio  # defines the biological registries: they are checked too
from lamin_core.errors.values import integer_range, json_value
from lamin_core.models.registry import registries
from tests.snapshot import catalog_snapshot


def columns() -> list[tuple[type, str, Any]]:
    """Return (registry, attribute, column) for every column of every registry."""
    found = []
    for registry in sorted(registries(), key=lambda r: r.__name__):
        for attribute in sa.inspect(registry).column_attrs:
            found.append((registry, attribute.key, attribute.columns[0]))
    return found


def blank(registry: type) -> Any:
    """Return a record without running its constructor (Artifact's needs data)."""
    return sa.inspect(registry).class_manager.new_instance()


def wrong_values(column: Any) -> list[Any]:
    """Return values of the wrong type (or out of range) for a column."""
    sql_type = column.type
    if isinstance(sql_type, sa.TypeDecorator):
        sql_type = sql_type.impl_instance
    if isinstance(sql_type, sa.JSON):
        return [{"a": float("nan")}, {1: "a"}, object(), {"a": "\x00"}]
    if isinstance(sql_type, sa.Boolean):
        return ["yes", 1, None.__class__]
    if isinstance(sql_type, sa.Integer):
        low, high = integer_range(sql_type) or (0, 0)
        return ["5", 5.0, True, high + 1, low - 1]
    if isinstance(sql_type, sa.Numeric):
        return ["5", float("inf"), True]
    if isinstance(sql_type, sa.String):
        too_long = "x" * (sql_type.length + 1) if sql_type.length else "\x00"
        return [5, b"bytes", too_long, "\ud800", "a\x00"]
    if isinstance(sql_type, sa.DateTime):
        return ["2024-01-01", 5]
    return []


CASES = [
    (registry, key, value) for registry, key, column in columns() for value in wrong_values(column)
]


@pytest.mark.parametrize(
    ("registry", "key", "value"),
    CASES,
    ids=[f"{r.__name__}.{k}={v!r:.20}" for r, k, v in CASES],
)
def test_assigning_a_wrong_value_to_any_column_is_a_validation_error(
    registry: type, key: str, value: Any
):
    record = blank(registry)
    # the message names the field (a registry's own validator may word it its way)
    with pytest.raises(ln.errors.ValidationError, match=rf"{registry.__name__}\.{key}|{key}"):
        setattr(record, key, value)


def test_every_registry_and_column_type_is_covered():
    kinds = {type(column.type).__name__ for _registry, _key, column in columns()}
    assert {"String", "Integer", "BigInteger", "Boolean", "JSON", "UTCDateTime"} <= kinds
    assert len({registry for registry, _key, _value in CASES}) == len(registries())


@pytest.mark.parametrize(
    ("registry", "key", "given", "stored"),
    [
        (ln.Artifact, "size", np.int64(5), 5),
        (ln.Artifact, "n_observations", np.uint32(7), 7),
        (ln.Artifact, "key_is_virtual", np.bool_(False), False),
        (ln.ULabel, "name", np.str_("DMSO"), "DMSO"),
        (ln.Run, "params", {"lr": np.float32(0.5), "steps": (1, np.int16(2))}, None),
        (ln.Run, "started_at", dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc), None),
    ],
)
def test_numpy_values_are_stored_as_python_values(
    registry: type, key: str, given: Any, stored: Any
):
    record = blank(registry)
    setattr(record, key, given)
    value = getattr(record, key)
    expected = (
        stored if stored is not None else json_value(given, key) if key == "params" else given
    )
    assert value == expected and type(value) is type(expected)


def test_ulabel_with_a_number_for_name_is_refused_and_nothing_is_saved(instance: ln.Instance):
    before = catalog_snapshot(instance)
    with pytest.raises(
        ln.errors.ValidationError, match=r"ULabel\.name expects a string, got int 5"
    ):
        ln.ULabel(name=5).save()
    with pytest.raises(ln.errors.ValidationError, match=r"ULabel\.is_type expects True or False"):
        ln.ULabel(name="DMSO", is_type="no")
    label = ln.ULabel(name="DMSO").save()
    with pytest.raises(ln.errors.ValidationError, match=r"ULabel\.name"):
        label.name = ["DMSO"]
    assert label.name == "DMSO"
    assert catalog_snapshot(instance)[0]["ulabel"] == before[0]["ulabel"] + 1


def test_text_at_the_column_limit_is_stored_in_full(instance: ln.Instance):
    length = ln.ULabel.__table__.c.name.type.length
    name = "é" * length  # characters, not bytes
    ln.ULabel(name=name).save()
    assert ln.ULabel.get(name=name).name == name
