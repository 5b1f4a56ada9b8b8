"""Trash and archive (LaminDB 2.x's branch_id): every registry with a branch, on both backends."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lamin_core as ln
from lamin_core.models.branches import ARCHIVE_BRANCH, MAIN_BRANCH, TRASH_BRANCH, has_branch
from lamin_core.models.registry import registries, search_fields
from lamin_core.tracking import get_or_create_transform
from tests.snapshot import catalog_snapshot

_counter = itertools.count()


def _artifact() -> Any:
    n = next(_counter)
    return ln.Artifact.from_df(pd.DataFrame({"n": [n]}), key=f"trash/t{n}.parquet").save()


def _transform(key: str | None = None) -> Any:
    """Return a saved transform; of an existing key: its next version (new source code)."""
    n = next(_counter)
    transform = get_or_create_transform(key or f"trash-{n}.py", type="script", source_code=str(n))
    ln.get_instance().session.commit()
    return transform


# how to make one saved record of each registry with a trash, named so that search finds it
MAKERS: dict[str, Callable[[], Any]] = {
    "Artifact": _artifact,
    "Collection": lambda: ln.Collection(_artifact(), key=f"trash/c{next(_counter)}").save(),
    "Transform": _transform,
    "Run": lambda: ln.Run(transform=_transform(), name=f"trashrun{next(_counter)}").save(),
    "ULabel": lambda: ln.ULabel(name=f"trashlabel{next(_counter)}").save(),
    "Feature": lambda: ln.Feature(name=f"trashfeature{next(_counter)}", dtype="int").save(),
    "Schema": lambda: ln.Schema(name=f"trashset{next(_counter)}").save(),
    "Project": lambda: ln.Project(name=f"trashproject{next(_counter)}").save(),
    "Reference": lambda: ln.Reference(name=f"trashreference{next(_counter)}").save(),
    "Record": lambda: ln.Record(name=f"trashrecord{next(_counter)}").save(),
}
BRANCHED = [registry for registry in registries() if has_branch(registry)]


def make(registry: Any) -> Any:
    return MAKERS[registry.__name__]()


def branch_state(instance: ln.Instance) -> dict[tuple[str, str], tuple[Any, ...]]:
    """Return (table, uid) -> (branch_id, is_latest) of every record with a branch."""
    state = {}
    with instance.reading() as session:
        for registry in BRANCHED:
            columns = [registry.uid, registry.branch_id]
            if "is_latest" in registry.__table__.c:
                columns.append(registry.is_latest)
            for uid, *rest in session.execute(sa.select(*columns)):
                state[(registry.__tablename__, uid)] = tuple(rest)
    return state


def test_every_registry_with_a_branch_is_covered():
    names = {registry.__name__ for registry in BRANCHED}
    assert names == set(MAKERS)
    assert {"User", "Storage", "Space", "FeatureValue"}.isdisjoint(names)


@pytest.mark.parametrize("registry", BRANCHED, ids=lambda r: r.__name__)
def test_delete_moves_to_trash_and_restore_brings_back(instance: ln.Instance, registry: Any):
    record = make(registry)
    uid = record.uid
    assert record.branch_id == MAIN_BRANCH
    before = registry.filter().count()

    record.delete()

    assert record.branch_id == TRASH_BRANCH
    assert uid not in registry.filter().list("uid")
    assert registry.filter().count() == before - 1
    assert uid not in set(registry.df(limit=None)["uid"])
    assert registry.filter(branch_id=TRASH_BRANCH).list("uid") == [uid]
    assert uid in registry.filter(branch_id=None).list("uid")
    assert registry.get(uid).branch_id == TRASH_BRANCH  # a uid names the record on any branch
    name_field = registry._name_field
    name = getattr(record, name_field)
    if name is not None:
        with pytest.raises(ln.DoesNotExist):
            registry.get(**{name_field: name})
    counts, _files = catalog_snapshot(instance)
    assert counts[registry.__tablename__] >= 1  # the row is still there

    record.restore()

    assert record.branch_id == MAIN_BRANCH
    assert uid in registry.filter().list("uid")
    assert registry.filter().count() == before
    assert registry.get(uid).uid == uid


@pytest.mark.parametrize("registry", BRANCHED, ids=lambda r: r.__name__)
def test_deleting_a_trashed_record_needs_permanent(instance: ln.Instance, registry: Any):
    record = make(registry)
    record.delete()
    snapshot, state = catalog_snapshot(instance), branch_state(instance)

    with pytest.raises(ln.ValidationError, match=r"already in the trash.*permanent=True"):
        record.delete()

    assert catalog_snapshot(instance) == snapshot and branch_state(instance) == state
    record.delete(permanent=False)  # leaves it in the trash, as LaminDB's "no"
    assert branch_state(instance) == state

    record.delete(permanent=True)

    assert registry.filter(branch_id=None, uid=record.uid).count() == 0
    with pytest.raises(ln.DoesNotExist):
        registry.get(record.uid)


@pytest.mark.parametrize("registry", BRANCHED, ids=lambda r: r.__name__)
def test_restore_of_a_record_on_the_main_branch_is_refused(instance: ln.Instance, registry: Any):
    record = make(registry)
    snapshot, state = catalog_snapshot(instance), branch_state(instance)

    with pytest.raises(ln.ValidationError, match="not in the trash or the archive"):
        record.restore()

    assert catalog_snapshot(instance) == snapshot and branch_state(instance) == state
    assert record.branch_id == MAIN_BRANCH


def test_which_lookups_show_other_branches(instance: ln.Instance):
    kept, trashed = _artifact(), _artifact()
    trashed.delete()
    both = [kept.uid, trashed.uid]

    assert ln.Artifact.filter(uid__in=both).count() == 2  # naming records finds them anywhere
    assert ln.Artifact.filter(id=trashed.id).one().uid == trashed.uid
    assert ln.Artifact.filter(key__startswith="trash/").exclude(id=kept.id).count() == 0
    assert ln.Artifact.filter(ln.Q(branch_id=-1) | ln.Q(branch_id=1), uid__in=both).count() == 2
    assert ln.Artifact.filter(branch_id__in=[-1]).list("uid") == [trashed.uid]
    assert ln.Artifact.exclude(branch_id=1).list("uid") == [trashed.uid]
    assert ln.Artifact.filter(branch_id=None).count() == ln.Artifact.filter().count() + 1
    where = str(ln.Artifact.filter(key__startswith="trash/").statement).split("WHERE")[1]
    assert where.count("artifact.branch_id") == 1  # the default: one condition, in SQL


def test_deleting_an_unsaved_record_saves_nothing(instance: ln.Instance):
    before = catalog_snapshot(instance)
    ln.Project(name="never saved").delete()
    assert catalog_snapshot(instance) == before


def test_restore_on_a_registry_without_trash_is_refused(instance: ln.Instance):
    user = ln.User.get(handle="testuser1")
    with pytest.raises(ln.ValidationError, match="User records have no trash"):
        user.restore()


@pytest.mark.parametrize(
    "registry", [r for r in BRANCHED if search_fields(r)], ids=lambda r: r.__name__
)
def test_search_leaves_out_trashed_records(instance: ln.Instance, registry: Any):
    record = make(registry)
    field = registry._name_field
    text = getattr(record, field) if field in search_fields(registry) else None
    if text is None:
        pytest.skip(f"{registry.__name__} records made here have no searchable name")
    assert record.uid in [found.uid for found in registry.search(text)]

    record.delete()
    assert record.uid not in [found.uid for found in registry.search(text)]

    record.restore()
    assert record.uid in [found.uid for found in registry.search(text)]


@pytest.mark.parametrize("registry", BRANCHED, ids=lambda r: r.__name__)
def test_archive_hides_without_deleting(instance: ln.Instance, registry: Any):
    record = make(registry)
    record.archive()

    assert record.uid not in registry.filter().list("uid")
    assert registry.filter(branch_id=ARCHIVE_BRANCH).list("uid") == [record.uid]
    record.delete()  # from the archive to the trash, not gone
    assert registry.filter(branch_id=TRASH_BRANCH).list("uid") == [record.uid]
    record.restore()
    assert record.uid in registry.filter().list("uid")


@pytest.mark.parametrize("registry", BRANCHED, ids=lambda r: r.__name__)
def test_queryset_delete_trashes_then_needs_permanent(instance: ln.Instance, registry: Any):
    records = [make(registry), make(registry)]
    uids = [record.uid for record in records]

    assert registry.filter(uid__in=uids).delete() == 2

    assert registry.filter(branch_id=TRASH_BRANCH, uid__in=uids).count() == 2
    state = branch_state(instance)
    with pytest.raises(ln.ValidationError, match="already in the trash"):
        registry.filter(uid__in=uids).delete()
    assert branch_state(instance) == state
    registry.filter(uid__in=uids).delete(permanent=True)
    assert registry.filter(branch_id=None, uid__in=uids).count() == 0


VERSIONED = [r for r in BRANCHED if "is_latest" in r.__table__.c]


def _new_version(record: Any) -> Any:
    if isinstance(record, ln.Artifact):
        frame = pd.DataFrame({"n": [next(_counter)]})
        return ln.Artifact.from_df(frame, key=record.key).save()
    if isinstance(record, ln.Collection):
        return ln.Collection(_artifact(), key=record.key).save()
    return _transform(record.key)


@pytest.mark.parametrize("registry", VERSIONED, ids=lambda r: r.__name__)
def test_trashing_the_latest_version_hands_latest_back_and_restore_reverses(
    instance: ln.Instance, registry: Any
):
    first = make(registry)
    second = _new_version(first)
    assert second.stem_uid == first.stem_uid and second.is_latest

    second.delete()

    assert registry.get(first.uid).is_latest is True
    assert registry.get(second.uid).is_latest is False
    assert registry.filter(uid__startswith=first.stem_uid).count() == 2  # uid lookups: all
    assert registry.filter(key=first.key).list("uid") == [first.uid]

    second.restore()

    assert registry.get(second.uid).is_latest is True
    assert registry.get(first.uid).is_latest is False


def test_saving_the_key_of_a_trashed_artifact_starts_a_new_family(instance: ln.Instance):
    old = _artifact()
    old.delete()

    new = ln.Artifact.from_df(pd.DataFrame({"other": [1]}), key=old.key).save()

    assert new.stem_uid != old.stem_uid and new.is_latest and new.version == "1"
    old.restore()  # its key is taken by the new family: it comes back as an older record
    assert ln.Artifact.get(old.uid).is_latest is False
    assert ln.Artifact.get(key=old.key, is_latest=True).uid == new.uid


def test_trash_keeps_the_file_and_permanent_delete_removes_it(
    instance: ln.Instance, tmp_path: Path
):
    artifact = _artifact()
    path = Path(artifact.path)
    assert path.exists()

    artifact.delete()
    assert path.exists() and artifact.load()["n"].tolist()  # still loadable from the trash

    artifact.delete(permanent=True)
    assert not path.exists()
    other = tmp_path / "other.txt"
    other.write_text("other content")
    with pytest.raises(ln.IntegrityError, match="never reused"):
        ln.Artifact(other, key="other.txt", uid=artifact.uid).save()


def test_saving_content_that_is_in_the_trash_restores_it(instance: ln.Instance):
    frame = pd.DataFrame({"same": [1, 2, 3]})
    artifact = ln.Artifact.from_df(frame, key="same.parquet").save()
    artifact.delete()

    again = ln.Artifact.from_df(frame, key="same.parquet").save()

    assert again.uid == artifact.uid and again.branch_id == MAIN_BRANCH and again.is_latest


def test_trashing_a_type_trashes_its_records(instance: ln.Instance):
    sample = ln.Record(name="Sample", is_type=True).save()
    subtype = ln.Record(name="Blood sample", is_type=True, type=sample).save()
    s1 = ln.Record(name="S1", type=subtype).save()
    other = ln.Record(name="Unrelated").save()

    sample.delete()

    assert ln.Record.filter().list("name") == ["Unrelated"]
    trashed = set(ln.Record.filter(branch_id=TRASH_BRANCH).list("name"))
    assert trashed == {"Sample", "Blood sample", "S1"}
    sample.restore()  # as in 2.x: only the record restore() is called on
    assert set(ln.Record.filter().list("name")) == {"Sample", "Unrelated"}
    assert other.branch_id == MAIN_BRANCH and ln.Record.get(s1.uid).branch_id == TRASH_BRANCH


def test_a_trashed_label_named_again_comes_back_on_save(instance: ln.Instance):
    label = ln.ULabel(name="DMSO").save()
    label.delete()

    again = ln.ULabel(name="DMSO").save()

    assert again.uid == label.uid and again.branch_id == MAIN_BRANCH
    assert ln.ULabel.filter(name="DMSO").count() == 1


def test_related_managers_and_links_survive_the_trash(instance: ln.Instance):
    artifact = _artifact()
    project = ln.Project(name="Atlas").save()
    artifact.projects.add(project)

    project.delete()
    assert artifact.projects.count() == 0  # hidden like everywhere else
    assert ln.Artifact.filter(projects__name="Atlas").count() == 1  # the link is kept

    project.restore()
    assert artifact.projects.list("name") == ["Atlas"]


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(moves=st.lists(st.tuples(st.integers(0, 2), st.sampled_from("dr")), max_size=8))
def test_one_latest_version_per_family_whatever_is_trashed(
    sqlite_instance: ln.Instance, moves: list[tuple[int, str]]
):
    first = _artifact()
    versions = [first, _new_version(first), _new_version(first)]
    for index, move in moves:
        version = ln.Artifact.get(versions[index].uid)
        if move == "d" and version.branch_id == MAIN_BRANCH:
            version.delete()
        elif move == "r" and version.branch_id == TRASH_BRANCH:
            version.restore()
    family = ln.Artifact.filter(uid__startswith=first.stem_uid).order_by("uid").list()
    on_main = [v for v in family if v.branch_id == MAIN_BRANCH]
    latest = [v for v in family if v.is_latest]
    # the newest version on the main branch is the latest; none when all are trashed
    assert [v.uid for v in latest] == [v.uid for v in on_main[-1:]]
