"""`lamin/schema` reads registry references with lamin_core's one parser: every spelling works.

The table is the one of tests/core/test_registry.py (every registry of the map, every accepted
spelling, with and without a field); there, `spellings()` is pinned to the accepted forms.
"""

from typing import Any

import dagster as dg
import pandas as pd
import pytest
from dagster_helpers import Catalog

import lamin_core as ln
from lamin_core.models.registry import parse_reference, registries, spellings
from lamin_dagster import LaminSchema, SchemaError, lamin_asset

CASES = [
    (registry, text, field)
    for registry in registries()
    for spelling in spellings(registry)
    for text, field in ((spelling, None), (f"{spelling}.uid", "uid"))
]


def _schema_field(reference: str) -> Any:
    return LaminSchema.parse({"categoricals": {"c": reference}}).categorical_fields()["c"]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case[1])
def test_schema_reads_every_spelling_as_the_parser(case: tuple[Any, str, str | None]) -> None:
    registry, text, field = case
    name = field or registry._name_field
    if name not in registry._field_names():  # FeatureValue: no name field to default to
        with pytest.raises(SchemaError, match=r"has no name field.*Write 'Registry\.field'"):
            _schema_field(text)
        return
    assert _schema_field(text) is getattr(registry, name)
    assert parse_reference(text) == (registry, name)


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("bt.ULabel.name", r"ULabel is a lamin_core registry, not a bionty one"),
        ("CellTyp", r"Unknown registry 'CellTyp' in 'CellTyp'\. Did you mean 'CellType'\?"),
        ("a.b.c", r"Expected 'Registry' or 'Registry\.field' in 'a\.b\.c'"),
    ],
)
def test_schema_reports_the_parser_reason(reference: str, message: str) -> None:
    with pytest.raises(
        SchemaError, match=rf"Invalid registry field .* in lamin/schema\. {message}"
    ):
        _schema_field(reference)


def test_a_schema_spelled_as_in_a_notebook_validates_and_saves(
    sqlite_catalog: Catalog, dagster_instance: dg.DagsterInstance
) -> None:
    with sqlite_catalog.instance.activate():
        ln.ULabel.from_values(["DMSO", "IFNG"], create=True).save()
        ln.Feature(name="cell_medium", dtype="cat[ULabel]").save()

    @lamin_asset(schema={"categoricals": {"cell_medium": "ln.ULabel.name"}})
    def samples() -> pd.DataFrame:
        return pd.DataFrame({"cell_medium": ["DMSO", "IFNG"]})

    result = dg.materialize(
        [samples], resources=sqlite_catalog.resources(), instance=dagster_instance
    )

    (evaluation,) = result.get_asset_check_evaluations()
    assert evaluation.passed
    assert [a.key for a in sqlite_catalog.artifacts()] == ["samples.parquet"]
