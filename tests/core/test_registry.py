"""The registry map and its one parser of registry references, read the same way everywhere.

The table is generated from the map: every registry, in every accepted spelling, with and without
a field. Each entry point that takes a reference as text (the parser, a feature dtype, a
curator's categorical spec) must resolve it to the same (registry, field); the Dagster schema is
checked against the same table in tests/dagster/test_schema_references.py.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

import lamin_core as ln
import lamin_core.bio as bt
from lamin_core.annotations.dtypes import parse_dtype
from lamin_core.bio.matching import resolve_field
from lamin_core.errors import RegistryReferenceError
from lamin_core.models.base import Record
from lamin_core.models.registry import (
    categorical_registries,
    is_label_registry,
    label_registries,
    parse_reference,
    reference_text,
    registries,
    spellings,
)

# the accepted spellings, written out: the parser's one list must accept exactly these
CORE_FORMS = ("{}", "ln.{}", "lamin_core.{}")
BIO_FORMS = ("{}", "bionty.{}", "bt.{}", "lamin_core.bio.{}")
BIO_NAMES = {registry.__name__ for registry in (*bt.BIO_REGISTRIES, bt.Source)}


def reference_cases() -> list[tuple[Any, str, str | None]]:
    """Return (registry, reference text, field or None) for every registry and spelling."""
    cases = []
    for registry in registries():
        forms = BIO_FORMS if registry.__name__ in BIO_NAMES else CORE_FORMS
        for form in forms:
            text = form.format(registry.__name__)
            cases += [(registry, text, None), (registry, f"{text}.uid", "uid")]
    return cases


CASES = reference_cases()


def case_id(case: tuple[Any, str, str | None]) -> str:
    return case[1]


def expected(registry: Any, field: str | None) -> tuple[Any, str] | None:
    """Return the (registry, field) a reference means; None when it names no field."""
    field = field or registry._name_field
    return (registry, field) if field in registry._field_names() else None


def test_the_map_holds_every_registry_and_the_label_registries():
    defined, stack = set(), list(Record.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if "__table__" in cls.__dict__:
            defined.add(cls)
    assert set(registries()) == defined
    assert label_registries() == [ln.ULabel, ln.Record, *bt.BIO_REGISTRIES]
    assert is_label_registry(bt.CellType) and not is_label_registry(ln.Feature)
    assert len(CASES) == 2 * sum(
        len(BIO_FORMS if r.__name__ in BIO_NAMES else CORE_FORMS) for r in registries()
    )


@pytest.mark.parametrize("registry", registries(), ids=lambda r: r.__name__)
def test_spellings_are_the_accepted_forms(registry: Any):
    forms = BIO_FORMS if registry.__name__ in BIO_NAMES else CORE_FORMS
    assert sorted(spellings(registry)) == sorted(form.format(registry.__name__) for form in forms)
    assert spellings(registry)[0] == reference_text(registry)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_parse_reference_reads_every_spelling(case: tuple[Any, str, str | None]):
    registry, text, field = case
    want = expected(registry, field)
    if want is None:  # FeatureValue: no name field to default to
        with pytest.raises(RegistryReferenceError, match="has no name field"):
            parse_reference(text)
        return
    assert parse_reference(text) == want
    assert parse_reference(f"  {text} ") == want


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_dtype_reads_every_spelling_as_the_parser(case: tuple[Any, str, str | None]):
    registry, text, field = case
    want = expected(registry, field)
    if not is_label_registry(registry):
        with pytest.raises(ln.ValidationError, match=r"is not a label registry"):
            parse_dtype(f"cat[{text}]")
        return
    assert want is not None
    dtype = parse_dtype(f"cat[{text}]")
    assert dtype.registries == (want,)
    assert dtype.text == f"cat[{reference_text(*want)}]"
    assert parse_dtype(dtype.text).registries == (want,)  # the canonical text reads back
    # feature filters read stored dtypes through the same parser
    assert (
        categorical_registries(f"list[cat[{text}]]") == parse_dtype(f"list[cat[{text}]]").registries
    )
    assert (
        categorical_registries(f"cat[ULabel|{text}]")
        == parse_dtype(f"cat[ULabel|{text}]").registries
    )


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_curator_field_reads_every_spelling_as_the_parser(case: tuple[Any, str, str | None]):
    registry, text, field = case
    want = expected(registry, field)
    if want is None:
        with pytest.raises(ln.ValidationError, match="has no name field"):
            resolve_field(text)
        return
    assert resolve_field(text) == want


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("CellTyp", r"unknown registry 'CellTyp'\. Did you mean 'CellType'\?.*Accepted forms"),
        ("bt.Genes.symbol", r"unknown registry 'Genes'\. Did you mean 'Gene'\?"),
        ("ULabel.nme", r"ULabel has no field 'nme'\. Did you mean 'name'\? Fields: id, uid"),
        ("bt.ULabel", r"ULabel is a lamin_core registry.*Write 'ULabel' or 'ln\.ULabel'"),
        ("ln.CellType", r"CellType is a bionty registry.*Write 'bionty\.CellType' or"),
        ("", r"empty registry name\. Accepted forms: 'ULabel', 'ln\.ULabel'"),
        ("bionty.CellType.name.x", r"expected 'Registry' or 'Registry\.field'"),
        ("ULabel..name", r"expected 'Registry' or 'Registry\.field'"),
    ],
)
def test_parse_reference_explains_what_is_accepted(text: str, message: str):
    with pytest.raises(RegistryReferenceError, match=message):
        parse_reference(text)


def test_parse_reference_refuses_what_is_not_text():
    with pytest.raises(RegistryReferenceError, match=r"got int 5\. Accepted forms"):
        parse_reference(5)


@pytest.mark.parametrize(
    ("dtype", "message"),
    [
        ("cat[Feature]", r"Feature is not a label registry\. Valid dtypes: .*cat\[ULabel\]"),
        ("cat[bt.ULabel]", r"ULabel is a lamin_core registry, not a bionty one"),
        ("cat[ULabel|]", r"empty registry name"),
        ("list[cat[bionty.Tisue]]", r"unknown registry 'Tisue'\. Did you mean 'Tissue'\?"),
    ],
)
def test_dtype_reports_the_parser_reason(dtype: str, message: str):
    with pytest.raises(ln.ValidationError, match=rf"Invalid dtype .*{message}"):
        parse_dtype(dtype)


@pytest.mark.parametrize(
    ("spec", "error", "message"),
    [
        (
            "CellTyp.name",
            ln.ValidationError,
            r"Cannot resolve the field 'CellTyp\.name'.*'CellType'",
        ),
        ("bt.ULabel", ln.ValidationError, r"Cannot resolve the field 'bt\.ULabel': ULabel is a"),
        ("ln.ULabel.nme", ln.FieldError, r"Unknown field 'nme' for ULabel\. Did you mean 'name'"),
    ],
)
def test_curator_field_reports_the_parser_reason(spec: str, error: type, message: str):
    with pytest.raises(error, match=message):
        resolve_field(spec)


@pytest.mark.parametrize(
    "spec", [*spellings(ln.ULabel), *(f"{s}.name" for s in spellings(ln.ULabel)), ln.ULabel.name]
)
def test_curator_validates_the_same_with_every_spelling(sqlite_instance: ln.Instance, spec: Any):
    ln.ULabel.from_values(["DMSO", "IFNG"], create=True).save()
    ln.Feature(name="medium", dtype="cat[ULabel]").save()
    df = pd.DataFrame({"medium": ["DMSO", "IFNG", "DMSO", "TNF"]})

    curator = ln.Curator.from_df(df, categoricals={"medium": spec})

    assert curator.validate() is False
    assert curator.non_validated == {"medium": ["TNF"]}
