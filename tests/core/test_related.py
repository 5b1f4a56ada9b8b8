"""Every to-many relation of every registry behaves like LaminDB's related manager.

The cases are generated from the registry map (`registries()` and `to_many_relations()`), so
a relation added tomorrow is tested without touching this file; `RECORD_MAKERS` must know how to
make a record of every registry that has one, which a test checks.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import lamin_core as ln
import lamin_core.bio as bt
from lamin_core.errors import ValidationError
from lamin_core.models.registry import registries, to_many_relations
from lamin_core.query.related import RelatedManager

_counter = itertools.count()


def _artifact() -> Any:
    n = next(_counter)
    return ln.Artifact.from_df(pd.DataFrame({"x": [n]}), key=f"related/{n}.parquet")


def _named(registry: Any) -> Callable[[], Any]:
    return lambda: registry(
        **{registry._name_field: f"{registry.__name__.lower()} {next(_counter)}"}
    )


# how to make an unsaved record of each registry that has a to-many relation
RECORD_MAKERS: dict[Any, Callable[[], Any]] = {
    ln.Artifact: _artifact,
    ln.Collection: lambda: ln.Collection(_artifact().save(), key=f"col{next(_counter)}"),
    ln.Transform: lambda: ln.Transform(key=f"t{next(_counter)}.py", type="script"),
    ln.Run: lambda: ln.Run(ln.Transform(key=f"t{next(_counter)}.py").save()),
    ln.Feature: lambda: ln.Feature(name=f"feature_{next(_counter)}", dtype="int"),
    ln.FeatureSet: lambda: ln.FeatureSet(name=f"set {next(_counter)}"),
    ln.FeatureValue: lambda: ln.FeatureValue(
        feature=ln.Feature(name=f"value_of_{next(_counter)}", dtype="int").save(),
        value=1,
        hash=f"h{next(_counter)}",
    ),
    ln.ULabel: _named(ln.ULabel),
    ln.Project: _named(ln.Project),
    ln.Reference: _named(ln.Reference),
    ln.Record: _named(ln.Record),
    **{registry: _named(registry) for registry in bt.BIO_REGISTRIES},
}

RELATIONS = sorted(
    (
        (registry, relation.key, relation.mapper.class_)
        for registry in registries()
        for relation in to_many_relations(registry)
    ),
    key=lambda case: (case[0].__name__, case[1]),
)


def _id(case: Any) -> str:
    return f"{case[0].__name__}.{case[1]}"


def make(registry: Any) -> Any:
    return RECORD_MAKERS[registry]().save()


def other_registry(target: Any) -> Any:
    return ln.ULabel if target is not ln.ULabel else ln.Feature


def required_foreign_key(registry: Any, key: str) -> bool:
    """Whether the relation is a one-to-many on a NOT NULL foreign key (a Run's transform)."""
    relation = getattr(registry, key).property
    if relation.secondary is not None:
        return False
    ((_owner, foreign_key),) = relation.synchronize_pairs
    return not foreign_key.nullable


def test_record_makers_cover_every_registry_with_a_to_many_relation():
    owners = {registry for registry, _key, _target in RELATIONS}
    targets = {target for _registry, _key, target in RELATIONS}
    assert owners | targets <= set(RECORD_MAKERS)
    assert len(RELATIONS) > 40  # the bio registries' relations are in the map too


@pytest.mark.parametrize("case", RELATIONS, ids=_id)
def test_relation_manager_reads_and_writes(instance: ln.Instance, case: Any):
    registry, key, target = case
    owner = make(registry)
    first, second = make(target), make(target)
    manager = getattr(owner, key)
    assert isinstance(manager, RelatedManager)
    before = set(manager.list("id"))  # a collection is made with one member
    assert manager.count() == len(before) == len(manager)

    def fresh_ids() -> set[int]:
        # another path to the same rows: the query compiler's join through the relation
        return set(target.filter(id__in=[first.id, second.id]).list("id")) & {
            id_
            for id_ in (first.id, second.id)
            if registry.filter(id=owner.id, **{key: id_}).exists()
        }

    manager.add(first, second)
    assert manager.count() == len(before) + 2
    assert len(getattr(owner, key)) == len(before) + 2
    assert {r.id for r in getattr(owner, key)} == before | {first.id, second.id}
    assert first in getattr(owner, key) and bool(getattr(owner, key))
    assert fresh_ids() == {first.id, second.id}
    assert manager.filter(id=first.id).one().id == first.id
    assert second.id not in manager.exclude(id=second.id).list("id")
    assert manager.order_by("-id").first().id == max(before | {first.id, second.id})
    assert manager.all().df().shape[0] == len(before) + 2
    assert manager.filter(id=second.id).one_or_none() == second

    searchable = [f for f in target._search_fields if isinstance(getattr(first, f, None), str)]
    if searchable:  # search ranks within the relation only
        field = searchable[0]
        outsider = make(target)
        assert first in manager.search(getattr(first, field), field=field).list()
        assert outsider not in manager.search(getattr(outsider, field), field=field).list()

    manager.add(first)  # adding a related record again changes nothing
    assert manager.count() == len(before) + 2

    if required_foreign_key(registry, key):
        # a Run cannot lose its Transform: removing is refused, nothing changes
        with pytest.raises(ValidationError, match="nothing was changed"):
            manager.remove(first)
        with pytest.raises(ValidationError, match="nothing was changed"):
            manager.clear()
        assert manager.count() == len(before) + 2
        return

    manager.remove(first)
    assert set(getattr(owner, key).list("id")) == before | {second.id}
    assert fresh_ids() == {second.id}

    manager.set([first])
    assert getattr(owner, key).list("id") == [first.id]
    assert [r.id for r in getattr(owner, key)] == [first.id]
    assert fresh_ids() == {first.id}

    manager.clear()
    assert manager.count() == 0 and len(getattr(owner, key)) == 0 and not getattr(owner, key)
    assert fresh_ids() == set()
    assert target.filter(id=first.id).exists()  # unrelating never deletes the records


@pytest.mark.parametrize("case", RELATIONS, ids=_id)
def test_relation_manager_refuses_bad_input(sqlite_instance: ln.Instance, case: Any):
    registry, key, target = case
    owner = make(registry)
    manager = getattr(owner, key)
    before = manager.count()
    wrong = make(other_registry(target))
    with pytest.raises(ValidationError, match=rf"{registry.__name__}\.{key}\.add\(\) takes "):
        manager.add(wrong)
    unsaved_target = RECORD_MAKERS[target]()
    with pytest.raises(ValidationError, match="is not saved; save it before"):
        manager.add(unsaved_target)
    assert manager.count() == before

    unsaved_owner = RECORD_MAKERS[registry]()
    with pytest.raises(ValidationError, match="is not saved; save it before using"):
        getattr(unsaved_owner, key).add(make(target))
    with pytest.raises(ValidationError, match="is not saved; save it before using"):
        getattr(unsaved_owner, key).df()


def test_relations_keep_working_as_lists(sqlite_instance: ln.Instance):
    features = [ln.Feature(name=f"f{i}", dtype="int").save() for i in range(2)]
    feature_set = ln.FeatureSet(name="schema", features=features)  # unsaved: the list in memory
    assert len(feature_set.features) == 2 and feature_set.features[0] is features[0]
    feature_set.features.append(ln.Feature(name="f2", dtype="int").save())
    feature_set.save()  # appended members are written with the owner, as before
    assert feature_set.features.list("name") == ["f0", "f1", "f2"]
    assert [f.name for f in sorted(feature_set.features, key=lambda f: f.name)] == [
        "f0",
        "f1",
        "f2",
    ]
    assert feature_set.features == [*features, ln.Feature.get(name="f2")]
    assert feature_set.features.count(features[0]) == 1  # list.count with an argument


def test_artifact_ulabels_as_in_the_lamindb_docs(instance: ln.Instance, tmp_path: Path):
    artifact = ln.Artifact.from_df(pd.DataFrame({"a": [1]}), key="split.parquet").save()
    train_split = ln.ULabel(name="train").save()
    artifact.ulabels.add(train_split)
    assert ln.Artifact.filter(ulabels=train_split).one() == artifact
    assert artifact.ulabels.list("name") == ["train"]
    assert artifact.ulabels.search("trainn").first() == train_split  # typo-tolerant, as ULabel
    labels = ln.ULabel.from_values(["Label1", "Label2"], create=True).save()
    artifact.ulabels.set(ln.ULabel.filter(name__icontains="label"))
    assert sorted(artifact.ulabels.list("name")) == ["Label1", "Label2"]
    assert artifact.labels.get(registry=ln.ULabel).count() == 2  # the same links
    artifact.ulabels.remove(*labels)
    assert artifact.ulabels.count() == 0


def test_collection_artifacts_add_keeps_member_order(instance: ln.Instance):
    artifacts = [_artifact().save() for _ in range(3)]
    collection = ln.Collection(artifacts[0], key="ordered").save()
    collection.artifacts.add(artifacts[2])
    collection.artifacts.add(artifacts[1])
    assert [a.id for a in collection.artifacts] == [
        artifacts[0].id,
        artifacts[2].id,
        artifacts[1].id,
    ]


def test_ulabel_type_and_parents_as_in_lamindb(instance: ln.Instance):
    # LaminDB 1.x: organise labels by type (a tree) and by parents (a DAG)
    split_type = ln.ULabel(name="Split", is_type=True).save()
    train = ln.ULabel(name="train", type=split_type).save()
    test = ln.ULabel(name="test", type=split_type).save()
    assert sorted(split_type.ulabels.list("name")) == ["test", "train"]
    assert ln.ULabel.filter(type=split_type).count() == 2
    assert ln.ULabel.filter(type__name="Split").df().shape[0] == 2
    assert ln.ULabel.get(name="train").type == split_type

    partition = ln.ULabel(name="partition").save()
    train.parents.add(partition)
    test.parents.add(partition)
    assert sorted(partition.children.list("name")) == ["test", "train"]
    assert ln.ULabel.filter(parents=partition).count() == 2

    with pytest.raises(ValidationError, match=r"'partition' is not a type.*is_type=True"):
        ln.ULabel(name="validation", type=partition)
    with pytest.raises(ln.errors.IntegrityError, match=r"Cannot delete ULabel.*'Split'"):
        split_type.delete(permanent=True)  # a type with labels is protected, as in LaminDB
    assert ln.ULabel.get(name="train").type_id == split_type.id


def test_member_writes_keep_derived_fields_true(instance: ln.Instance):
    from lamin_core.artifacts.saving import collection_hash
    from lamin_core.storage.hashing import set_hash

    first, second = _artifact().save(), _artifact().save()
    collection = ln.Collection(first, key="grows").save()
    second.collections.add(collection)  # from the other side: the collection changes too
    assert collection.hash == collection_hash([first, second])
    # the same members saved as a new collection: the existing one, as before the change
    assert ln.Collection([first, second], key="grows").save().id == collection.id

    features = [ln.Feature(name=f"g{i}", dtype="int").save() for i in range(3)]
    feature_set = ln.FeatureSet(name="s", hash=set_hash([features[0].uid]), n=1)
    feature_set.features = [features[0]]
    feature_set.save()
    feature_set.features.add(*features[1:])
    assert (feature_set.n, feature_set.hash) == (3, set_hash([f.uid for f in features]))
    feature_set.features.clear()
    assert ln.FeatureSet.get(feature_set.id).n == 0
