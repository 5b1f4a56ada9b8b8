"""Registry.lookup(): records as attributes, cheap to build over many records."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

import lamin_core as ln
from lamin_core.query.record_lookup import to_attribute_name


@pytest.mark.parametrize(
    ("value", "name"),
    [
        ("Candidate marker study 1", "candidate_marker_study_1"),
        ("IFNG", "ifng"),
        ("B-cell, CD19+", "b_cell_cd19"),
        ("1st batch", "_1st_batch"),
        ("class", "class_"),
        ("None", "none"),
        ("match", "match"),
        ("  spaced  out ", "spaced_out"),
        ("!!!", "_"),
        ("naïve T cell", "na_ve_t_cell"),
    ],
)
def test_to_attribute_name(value: str, name: str):
    assert to_attribute_name(value) == name
    assert name.isidentifier()


def test_lookup_returns_records_by_attribute(instance: ln.Instance):
    labels = ln.ULabel.from_values(["DMSO", "IFNG", "Candidate marker study 1"], create=True).save()
    ulabels = ln.ULabel.lookup()
    assert ulabels.candidate_marker_study_1 == labels[2]
    assert ulabels["ifng"] == labels[1]
    assert "dmso" in dir(ulabels) and "dmso" in ulabels and len(ulabels) == 3
    assert ulabels.dict() == {
        "dmso": labels[0],
        "ifng": labels[1],
        "candidate_marker_study_1": labels[2],
    }
    assert repr(ulabels).startswith("Lookup(ULabel.name: dmso, ifng")


def test_lookup_same_name_gives_a_list(instance: ln.Instance):
    labels = ln.ULabel.from_values(["B cell", "B-cell"], create=True).save()
    assert ln.ULabel.lookup().b_cell == labels


def test_lookup_unknown_attribute_suggests(instance: ln.Instance):
    ln.ULabel.from_values(["IFNG"], create=True).save()
    with pytest.raises(ln.FieldError, match="Did you mean 'ifng'"):
        ln.ULabel.lookup().ifgn  # noqa: B018


def test_lookup_by_another_field(instance: ln.Instance):
    ln.Feature(name="temperature", dtype="float", unit="degree Celsius").save()
    assert ln.Feature.lookup("unit").degree_celsius.name == "temperature"
    assert ln.Feature.lookup(ln.Feature.name).temperature.dtype == "float"
    with pytest.raises(ln.FieldError, match="Unknown field 'nam'"):
        ln.Feature.lookup("nam")


def test_lookup_reads_only_two_columns(instance: ln.Instance):
    ln.ULabel.from_values([f"label {i}" for i in range(2000)], create=True).save()
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    sa.event.listen(instance.engine, "before_cursor_execute", record)
    try:
        ulabels = ln.ULabel.lookup()
    finally:
        sa.event.remove(instance.engine, "before_cursor_execute", record)
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 1
    assert "description" not in selects[0] and "uid" not in selects[0]
    assert len(ulabels) == 2000 and ulabels.label_1999.name == "label 1999"
