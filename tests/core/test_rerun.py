"""Re-running a notebook: constructing a record whose natural key exists returns the saved one.

The cases are generated from the registries themselves: every registry that declares natural
keys is tried with each of its keys, so a registry that gains a key is tested without a new
line here.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
import sqlalchemy as sa

import lamin_core as ln
from lamin_core.models import Record


def _registries_with_keys() -> list[tuple[type[Record], tuple[str, ...]]]:
    registries = sorted(
        (m.class_ for m in Record.registry.mappers if m.class_._natural_keys),
        key=lambda r: r.__name__,
    )
    return [
        (registry, fields)
        for registry in registries
        for fields in registry._natural_keys
        # keys of columns; an optional key field (a type: None is the root) is left out
        if all(
            name in registry._field_names() or name in registry._optional_key_fields
            for name in fields
        )
    ]


CASES = _registries_with_keys()


def _value(registry: type[Record], name: str, variant: str) -> Any:
    column = registry.__table__.columns[name]
    if name == "dtype":
        return "str"
    if isinstance(column.type, sa.Boolean):
        return False
    if isinstance(column.type, sa.Integer):
        return 0
    return f"{variant}-{name}"[: column.type.length or 64]  # type: ignore[attr-defined]


def _kwargs(registry: type[Record], fields: tuple[str, ...], variant: str) -> dict[str, Any]:
    """The key's fields and every required column without a default, with plain values."""
    kwargs = {
        name: _value(registry, name, variant)
        for name in fields
        if name not in registry._optional_key_fields
    }
    for column in registry.__table__.columns:
        has_default = column.default is not None or column.server_default is not None
        generated = column.primary_key or column.key == "uid" or bool(column.foreign_keys)
        if not (column.nullable or has_default or generated or column.key in kwargs):
            kwargs[column.key] = _value(registry, column.key, variant)
    if registry is ln.Feature:  # dtype is nullable (a feature type has none), required otherwise
        kwargs.setdefault("dtype", "str")
    return kwargs


def _count(registry: type[Record]) -> int:
    return ln.get_instance().session.scalar(sa.select(sa.func.count()).select_from(registry))


def test_every_registry_with_a_name_has_a_natural_key():
    names = {registry.__name__ for registry, _ in CASES}
    assert {
        "ULabel",
        "Feature",
        "Record",
        "Schema",
        "Transform",
        "Storage",
        "User",
        "Space",
    } <= names
    assert {"CellType", "Tissue", "Disease", "Organism", "Gene", "Source"} <= names


@pytest.mark.parametrize(
    ("registry", "fields"), CASES, ids=[f"{r.__name__}-{'+'.join(f)}" for r, f in CASES]
)
def test_constructor_returns_existing_record_with_same_natural_key(
    instance: ln.Instance,
    caplog: pytest.LogCaptureFixture,
    registry: type[Record],
    fields: tuple[str, ...],
):
    caplog.set_level(logging.INFO, logger="lamin_core")
    first = registry(**_kwargs(registry, fields, "first")).save()
    before = _count(registry)

    again = registry(**_kwargs(registry, fields, "first")).save()  # the notebook re-run

    assert again.id == first.id and again.uid == first.uid
    assert _count(registry) == before
    # the first key given is the one looked up (Organism: a name is required, so by name)
    matched = registry._given_natural_keys(_kwargs(registry, fields, "first"))[0]
    matched = tuple(name for name in matched if getattr(first, name) is not None)  # root: no type
    shown = ", ".join(f"'{getattr(first, name)}'" for name in matched)
    assert (
        f"→ returning existing {registry.__name__} record with same {' and '.join(matched)}: "
        f"{shown}"
    ) in caplog.messages

    # ln.save: a list with the same new record twice and the existing one saves one new row
    saved = ln.save(
        [
            registry(**_kwargs(registry, fields, "second")),
            registry(**_kwargs(registry, fields, "second")),
            registry(**_kwargs(registry, fields, "first")),
        ]
    )
    assert _count(registry) == before + 1
    assert saved[0].id == saved[1].id and saved[2].id == first.id


def test_relabel_a_saved_ulabel_by_constructing_it_again(instance: ln.Instance):
    dmso = ln.ULabel(name="DMSO").save()
    again = ln.ULabel(name="DMSO", description="dimethyl sulfoxide").save()
    assert again.id == dmso.id
    assert ln.ULabel.get(name="DMSO").description == "dimethyl sulfoxide"


def test_guide_setup_twice_makes_no_second_dmso(instance: ln.Instance):
    for _ in range(2):
        ln.Feature(name="cell_medium", dtype="cat[ULabel]").save()
        ln.ULabel(name="DMSO").save()
    assert ln.ULabel.get(name="DMSO").name == "DMSO"  # not MultipleResultsFound
    assert ln.Feature.filter(name="cell_medium").count() == 1


def test_feature_redeclared_with_same_dtype_spelled_otherwise_is_the_saved_one(
    instance: ln.Instance,
):
    feature = ln.Feature(name="cell_type", dtype="cat[bionty.CellType]").save()
    assert ln.Feature(name="cell_type", dtype="cat[bt.CellType]").id == feature.id
    assert ln.Feature(name="cell_type").id == feature.id  # no dtype: the saved one


def test_feature_redeclared_with_another_dtype_names_both(instance: ln.Instance):
    ln.Feature(name="cell_medium", dtype="cat[ULabel]").save()
    with pytest.raises(
        ln.ValidationError,
        match=r"Feature 'cell_medium' exists with dtype 'cat\[ULabel\]', not 'str'\. Declare it "
        r"with dtype='cat\[ULabel\]'.*or choose another name",
    ):
        ln.Feature(name="cell_medium", dtype="str")
    assert ln.Feature.get(name="cell_medium").dtype == "cat[ULabel]"


def test_feature_without_dtype_says_dtype_is_required(instance: ln.Instance):
    with pytest.raises(
        ln.ValidationError,
        match=r"Feature 'x' has no dtype; dtype is required\. Pass one of: str, int, float.*"
        r"cat\[ULabel\], .*cat\[bionty\.CellType\]",
    ):
        ln.Feature(name="x").save()
    assert ln.Feature.filter(name="x").count() == 0
    assert ln.Feature(name="x", dtype="int").save().dtype == "int"  # the fix works


def test_uid_given_on_purpose_is_a_new_record(instance: ln.Instance):
    dmso = ln.ULabel(name="DMSO").save()
    new = ln.ULabel(name="DMSO", uid="ABCDabcd").save()  # not looked up: a new record
    assert new.id != dmso.id  # label names are not unique, as in LaminDB
    assert ln.ULabel.filter(name="DMSO").count() == 2
    # a feature name is unique at its level: the same on purpose is refused, nothing written
    ln.Feature(name="dose", dtype=float).save()
    with pytest.raises(ln.IntegrityError, match="Feature"):
        ln.Feature(name="dose", dtype=float, uid="ABCDabcdABCD").save()
    assert ln.Feature.filter(name="dose").count() == 1


def test_save_refuses_what_is_not_a_record(instance: ln.Instance):
    with pytest.raises(ln.ValidationError, match=r"takes records, got 'DMSO' at position 1"):
        ln.save([ln.ULabel(name="IFNG"), "DMSO"])
    assert ln.ULabel.filter().count() == 0


def test_save_saves_bio_records_with_the_same_rule(instance: ln.Instance):
    import lamin_core.bio as bt

    b_cell = bt.CellType.from_values(["B cell"]).save()[0]
    records = ln.save([bt.CellType(name="B cell"), bt.CellType(name="my cell type")])
    assert records[0].id == b_cell.id
    assert sorted(bt.CellType.filter(name__in=["B cell", "my cell type"]).list("name")) == [
        "B cell",
        "my cell type",
    ]


@pytest.mark.parametrize(
    ("registry", "fields"), CASES, ids=[f"{r.__name__}-{'+'.join(f)}" for r, f in CASES]
)
def test_save_reuses_a_twin_saved_after_the_record_was_built(
    instance: ln.Instance, registry: type[Record], fields: tuple[str, ...]
):
    # a notebook builds its records, then saves one of them on its own before ln.save
    twin = registry(**_kwargs(registry, fields, "twin"))
    late = registry(**_kwargs(registry, fields, "twin"))
    fresh = registry(**_kwargs(registry, fields, "fresh"))
    twin.save()
    before = _count(registry)

    saved = ln.save([late, fresh])

    assert saved[0].id == twin.id  # found in the catalog, not written twice
    assert saved[1] is fresh and fresh.id is not None
    assert _count(registry) == before + 1


def test_save_looks_up_many_new_records_in_a_few_queries(instance: ln.Instance):
    records = [ln.ULabel(name=f"label {i}") for i in range(1200)]
    existing = ln.ULabel(name="label 7").save()  # saved after records[7] was built
    selects: list[str] = []

    def count(connection: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "ulabel" in statement:
            selects.append(statement)

    sa.event.listen(instance.engine, "before_cursor_execute", count)
    try:
        saved = ln.save(records)
    finally:
        sa.event.remove(instance.engine, "before_cursor_execute", count)
    assert len(selects) <= 5  # in batches of 500 names, not one per record
    assert saved[7].id == existing.id
    assert ln.ULabel.filter().count() == 1200
