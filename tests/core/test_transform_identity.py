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


def test_transform_kind_is_the_2x_name_of_type(instance: ln.Instance):
    transform = ln.Transform(key="step.py", kind="function").save()
    assert (transform.kind, transform.type) == ("function", "function")
    assert ln.Transform.filter(kind="function").one() == transform
    transform.kind = "script"
    transform.save()
    assert ln.Transform.get(key="step.py").type == "script"
    assert ln.Transform(key="old.py", type="notebook").kind == "notebook"  # type= still works


def test_transform_kind_and_type_that_differ_are_refused(instance: ln.Instance):
    with pytest.raises(ln.ValidationError, match="kind='script' and type='pipeline'"):
        ln.Transform(key="step.py", kind="script", type="pipeline")
    assert ln.Transform.filter().count() == 0


def test_transform_permanent_delete_deletes_its_runs(instance: ln.Instance):
    transform = ln.Transform(key="step.py", kind="function").save()
    runs = [ln.Run(transform=transform).save() for _ in range(2)]
    kept = ln.Run(transform=ln.Transform(key="other.py").save()).save()
    transform.delete(permanent=True)
    assert ln.Transform.filter(key="step.py").count() == 0
    assert ln.Run.filter(id__in=[run.id for run in runs]).count() == 0
    assert ln.Run.filter().one() == kept


def test_transform_permanent_delete_is_refused_while_its_outputs_exist(instance: ln.Instance):
    import pandas as pd

    transform = ln.Transform(key="step.py").save()
    run = ln.Run(transform=transform).save()
    artifact = ln.Artifact.from_dataframe(pd.DataFrame({"a": [1]}), key="a.parquet", run=run)
    artifact.save()
    with pytest.raises(ln.IntegrityError, match=f"Run\\('{run.uid}'\\) made artifacts"):
        transform.delete(permanent=True)
    # nothing was deleted
    assert ln.Run.get(run.uid).transform == ln.Transform.get(key="step.py")
    artifact.delete(permanent=True)
    transform.delete(permanent=True)
    assert ln.Run.filter().count() == 0 and ln.Transform.filter().count() == 0
