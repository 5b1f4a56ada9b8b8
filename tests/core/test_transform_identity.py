"""`get_or_create_transform`: the one rule by which `ln.track()` and lamin_dagster find them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlalchemy as sa

import lamin_core as ln
from lamin_core.tracking import get_or_create_transform


@dataclass(frozen=True)
class Case:
    """A transform saved first, then a second call: which transform it returns."""

    first: dict[str, Any]
    second: dict[str, Any]
    reused: bool
    # for a new transform: its version label and whether it continues the first one's family
    version: str | None = None
    same_family: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


CASES = {
    "same key and type, no source: the latest": Case(
        {"type": "script"}, {"type": "script"}, reused=True
    ),
    "same source: the latest": Case(
        {"type": "script", "source_code": "print(1)"},
        {"type": "script", "source_code": "print(1)"},
        reused=True,
    ),
    "no source given: the latest, whatever its source": Case(
        {"type": "script", "source_code": "print(1)"}, {"type": "script"}, reused=True
    ),
    "new source: the next version": Case(
        {"type": "script", "source_code": "print(1)"},
        {"type": "script", "source_code": "print(2)"},
        reused=False,
        version="2",
    ),
    "same code version: that version": Case(
        {"type": "dagster_asset", "version": "1"},
        {"type": "dagster_asset", "version": "1"},
        reused=True,
    ),
    "no code version: the latest": Case(
        {"type": "dagster_asset", "version": "1"}, {"type": "dagster_asset"}, reused=True
    ),
    "new code version: the next version, labelled by the code version": Case(
        {"type": "dagster_asset", "version": "1"},
        {"type": "dagster_asset", "version": "abc"},
        reused=False,
        version="abc",
    ),
    "other type, same key: a new version of the key": Case(
        {"type": "pipeline"}, {"type": "dagster_asset"}, reused=False, version="2"
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_get_or_create_transform_rule(instance: ln.Instance, case: Case) -> None:
    first = get_or_create_transform("etl", **case.first)
    instance.session.commit()

    second = get_or_create_transform("etl", **case.second)
    instance.session.commit()

    assert (second.id == first.id) is case.reused
    if not case.reused:
        assert second.version == case.version
        assert (second.stem_uid == first.stem_uid) is case.same_family
        assert second.is_latest and not first.is_latest
    count = instance.session.scalar(sa.select(sa.func.count()).select_from(ln.Transform))
    assert count == (1 if case.reused else 2)


def test_get_or_create_transform_first_of_a_key_is_version_1_created_by_the_user(
    instance: ln.Instance,
) -> None:
    transform = get_or_create_transform("etl.py", type="script", description="ETL")
    instance.session.commit()

    assert (transform.version, transform.description) == ("1", "ETL")
    assert transform.created_by_id == instance.user_id
    assert transform.is_latest


def test_get_or_create_transform_by_uid_finds_or_creates_that_uid(instance: ln.Instance) -> None:
    created = get_or_create_transform("nb.ipynb", type="notebook", uid="pd7UR7Z8hoTq")
    instance.session.commit()

    found = get_or_create_transform("other.ipynb", type="notebook", uid="pd7UR7Z8hoTq")

    assert created.uid == "pd7UR7Z8hoTq0000"
    assert found.id == created.id
