"""LaminDB 2.x idioms of its tutorial and tracking guide: feature comparisons as filters,
replacing feature values, describing a registry, ``track(project=, space=)`` and
``Artifact.get(key=)`` on a versioned key."""

from __future__ import annotations

import pandas as pd
import pytest

import lamin_core as ln


@pytest.fixture
def measured(instance: ln.Instance) -> dict[str, ln.Artifact]:
    """Three artifacts with temperatures 20.5, 21.6 and none."""
    ln.Feature(name="temperature", dtype=float).save()
    artifacts = {}
    measurements = (("cold.parquet", 20.5), ("warm.parquet", 21.6), ("none.parquet", None))
    for i, (key, temperature) in enumerate(measurements):
        artifact = ln.Artifact.from_df(pd.DataFrame({"a": [i]}), key=key).save()
        if temperature is not None:
            artifact.features.add_values({"temperature": temperature})
        artifacts[key] = artifact
    return artifacts


@pytest.mark.parametrize(
    ("compare", "expected"),
    [
        (lambda t: t == 21.6, {"warm.parquet"}),
        (lambda t: t != 21.6, {"cold.parquet", "none.parquet"}),
        (lambda t: t > 21.0, {"warm.parquet"}),
        (lambda t: t >= 20.5, {"cold.parquet", "warm.parquet"}),
        (lambda t: t < 21.6, {"cold.parquet"}),
        (lambda t: t <= 21.6, {"cold.parquet", "warm.parquet"}),
    ],
)
def test_feature_comparison_filters_like_its_lookup(measured, compare, expected) -> None:
    temperature = ln.Feature.get(name="temperature")
    assert set(ln.Artifact.filter(compare(temperature)).to_list("key")) == expected


def test_feature_comparisons_combine_with_q_and_lookups(measured) -> None:
    temperature = ln.Feature.get(name="temperature")
    either = ln.Q(temperature == 20.5) | ln.Q(temperature == 21.6)
    assert set(ln.Artifact.filter(either).to_list("key")) == {"cold.parquet", "warm.parquet"}
    assert ln.Artifact.filter(temperature > 20, key__startswith="w").to_list("key") == [
        "warm.parquet"
    ]


def test_features_compare_with_features_by_identity(measured) -> None:
    temperature = ln.Feature.get(name="temperature")
    other = ln.Feature(name="pressure", dtype=float).save()
    assert temperature == ln.Feature.get(name="temperature")  # one record per row in a session
    assert temperature != other
    assert {temperature: 1}[temperature] == 1
    assert other in [temperature, other]


def test_update_values_replaces_only_the_given_features(measured) -> None:
    ln.Feature(name="study", dtype=str).save()
    warm = measured["warm.parquet"]
    warm.features.add_values({"study": "s1"})
    temperature = ln.Feature.get(name="temperature")
    warm.features.update_values({temperature: 22.5})  # a Feature as key, as in 2.x
    assert warm.features.get_values() == {"temperature": 22.5, "study": "s1"}
    assert ln.Artifact.filter(temperature == 21.6).count() == 0


def test_set_values_drops_the_other_dataset_values(measured) -> None:
    ln.Feature(name="study", dtype=str).save()
    warm = measured["warm.parquet"]
    warm.features.add_values({"study": "s1"})
    warm.features.set_values({"study": "s2"})
    assert warm.features.get_values() == {"study": "s2"}


def test_update_values_with_a_bad_value_keeps_the_old_ones(measured) -> None:
    warm = measured["warm.parquet"]
    with pytest.raises(ln.ValidationError, match="temperature"):
        warm.features.update_values({"temperature": "hot"})
    assert warm.features.get_values() == {"temperature": 21.6}
    with pytest.raises(ln.ValidationError, match="mapping"):
        warm.features.update_values(["temperature"])  # type: ignore[arg-type]


@pytest.mark.parametrize("registry", [ln.Artifact, ln.ULabel, ln.Feature, ln.Run, ln.Schema])
def test_describe_on_a_registry_lists_its_fields_and_relations(
    registry, capsys: pytest.CaptureFixture[str]
) -> None:
    registry.describe()
    printed = capsys.readouterr().out
    assert printed.startswith(f"{registry.__name__} (table {registry.__tablename__})")
    for field in ("uid", "created_at"):
        assert f"    .{field}: " in printed
    mapper_relations = [
        r.key for r in registry.__mapper__.relationships if not r.key.startswith("_")
    ]
    assert all(f"    .{key}: " in printed for key in mapper_relations)


def test_track_with_a_project_links_the_run_transform_and_outputs(instance: ln.Instance) -> None:
    project = ln.Project(name="My project").save()
    run = ln.track(project="My project", key="project_script.py")
    artifact = ln.Artifact.from_df(pd.DataFrame({"a": [1]}), key="out.parquet").save()
    ln.finish()
    assert ln.Artifact.filter(projects=project).to_list("key") == ["out.parquet"]
    assert project.runs.to_list("uid") == [run.uid]
    assert project.transforms.to_list("key") == ["project_script.py"]
    assert artifact.projects.to_list("name") == ["My project"]


def test_track_with_an_unknown_project_or_space_says_so_and_starts_nothing(
    instance: ln.Instance,
) -> None:
    ln.Project(name="Atlas").save()
    with pytest.raises(ln.DoesNotExist, match=r"No Project named 'Atlsa'.*'Atlas'.*ln\.Project"):
        ln.track(project="Atlsa", key="x.py")
    with pytest.raises(ln.DoesNotExist, match="No Space named 'team'"):
        ln.track(space="team", key="x.py")
    with pytest.raises(ln.ValidationError, match="unsaved Project"):
        ln.track(project=ln.Project(name="new"), key="x.py")
    assert ln.Run.filter().count() == 0
    assert ln.Transform.filter().count() == 0


def test_track_with_a_space_puts_the_run_and_its_records_there(instance: ln.Instance) -> None:
    space = ln.Space(name="Our team space").save()
    run = ln.track(space="Our team space", key="space_script.py")
    label = ln.ULabel(name="made in the run").save()
    own = ln.ULabel(name="own space", space=ln.Space(name="other").save()).save()
    ln.finish()
    assert run.space_id == space.id
    assert label.space_id == space.id
    assert own.space.name == "other"


def test_get_by_key_returns_the_latest_version(instance: ln.Instance) -> None:
    first = ln.Artifact.from_df(pd.DataFrame({"a": [1]}), key="data.parquet").save()
    second = ln.Artifact.from_df(pd.DataFrame({"a": [2]}), key="data.parquet").save()
    assert ln.Artifact.get(key="data.parquet") == second
    assert ln.Artifact.get(key="data.parquet", version=first.version) == first
    assert ln.Artifact.filter(key="data.parquet").count() == 2


def test_collection_schema_is_kept_by_new_versions_and_lineage_draws_members(
    instance: ln.Instance, tmp_path
) -> None:
    ln.track(key="collect.py")
    first = ln.Artifact.from_df(pd.DataFrame({"a": [1]}), key="part1.parquet").save()
    second = ln.Artifact.from_df(pd.DataFrame({"a": [2]}), key="part2.parquet").save()
    ln.finish()
    schema = ln.Schema(itype=ln.Feature).save()
    collection = ln.Collection([first], key="parts", schema=schema).save()
    appended = collection.append(second)
    assert collection.artifacts.count() == 1  # this version stays as it is
    appended.save()
    assert appended.schema == schema
    assert appended.ordered_artifacts.to_list("key") == ["part1.parquet", "part2.parquet"]
    assert ln.Collection.get(key="parts") == appended  # the latest version
    graph = ln.lineage(appended)
    assert {a.key for a in graph.artifacts} == {"part1.parquet", "part2.parquet"}
    assert [r.transform.key for r in graph.runs] == ["collect.py"]
    drawing = appended.view_lineage(tmp_path / "collection.svg")
    assert "part2.parquet" in drawing.read_text()
    schema.delete(permanent=True)
    assert ln.Collection.get(key="parts").schema is None


def test_deleting_a_record_a_queryset_delete_removed_changes_nothing(
    instance: ln.Instance,
) -> None:
    feature = ln.Feature(name="n", dtype=int).save()
    schema = ln.Schema(features=[feature], name="s").save()
    kept = ln.Schema(features=[ln.Feature(name="m", dtype=int).save()], name="t").save()
    assert ln.Schema.filter(features__name="n").delete(permanent=True) == 1
    schema.delete(permanent=True)  # LaminDB's fixtures do this: no error, nothing else goes
    feature.delete(permanent=True)
    assert ln.Schema.filter().to_list("name") == [kept.name]
    assert ln.Feature.filter().to_list("name") == ["m"]
