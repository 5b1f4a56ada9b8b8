"""The LaminDB 2.x registry API: validate/inspect/standardize/from_values on every curatable
registry, synonyms, to_list/to_dataframe/include, ordered collection members and ln.save.

The curatable registries are read from the registry map, so a new registry with `CanCurate`
is tested without a change here.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lamin_core as ln
import lamin_core.bio as bt
from lamin_core.models.can_curate import CanCurate, HasSynonyms
from lamin_core.models.registry import BIO, namespace_of, registries
from tests.snapshot import catalog_snapshot

CURATABLE = [r for r in registries() if issubclass(r, CanCurate)]
WITH_SYNONYMS = [r for r in CURATABLE if issubclass(r, HasSynonyms)]
# values no public source has, so that every registry starts from the same empty vocabulary
ALPHA, GAMMA = "Qzx Alpha", "Qzx Gamma"


def name_of(registry: Any) -> str:
    return registry.__name__


def organism_of(registry: Any) -> str | None:
    return "human" if getattr(registry, "_has_organism", False) else None


def make(registry: Any, *values: str) -> list[Any]:
    """Save records of `registry` named `values` and return them."""
    records = registry.from_values(
        list(values), create=True, organism=organism_of(registry), mute=True
    )
    for record in records:
        if registry is ln.Feature:
            record.dtype = "str"
    return ln.save(records)


def test_every_registry_with_a_name_vocabulary_is_curatable():
    curatable = set(CURATABLE)
    assert {ln.ULabel, ln.Feature, ln.FeatureSet, ln.User} <= curatable
    bio = {r for r in registries() if namespace_of(r) is BIO and r is not bt.Source}
    assert bio <= curatable
    # artifacts, collections and transforms are named by keys, not a vocabulary (as in 2.x)
    assert not {ln.Artifact, ln.Collection, ln.Transform, ln.Run} & curatable
    assert {r for r in CURATABLE if "synonyms" in r._field_names()} == set(WITH_SYNONYMS)


# --- validate / inspect / standardize / from_values, on every curatable registry ---------------


@pytest.mark.parametrize("registry", CURATABLE, ids=name_of)
def test_validate_marks_exact_matches_per_value(instance: ln.Instance, registry: Any):
    make(registry, ALPHA, GAMMA)
    values = [ALPHA, ALPHA.lower(), GAMMA, GAMMA, None, "Qzx Gama"]
    result = registry.validate(values, organism=organism_of(registry), mute=True)
    assert isinstance(result, np.ndarray) and result.dtype == bool
    assert result.tolist() == [True, False, True, True, False, False]
    field = getattr(registry, registry._name_field)  # the column works as well as the name
    assert registry.validate([GAMMA], field, organism=organism_of(registry)).tolist() == [True]


@pytest.mark.parametrize("registry", CURATABLE, ids=name_of)
def test_inspect_splits_values_and_finds_case_fixes(instance: ln.Instance, registry: Any):
    make(registry, ALPHA, GAMMA)
    typo, variant = "Qzx Gammma", ALPHA.upper()
    result = registry.inspect(
        [ALPHA, variant, typo, typo, ""], organism=organism_of(registry), mute=True
    )
    assert result.validated == [ALPHA]
    assert result.non_validated == [variant, typo]
    assert result.synonyms_mapper == {variant: ALPHA}
    assert result.frac_validated == pytest.approx(1 / 3)
    assert (result.n_unique, result.n_empty) == (3, 1)
    assert result.df["__validated__"].to_dict() == {ALPHA: True, variant: False, typo: False}
    assert result["non_validated"] == result.non_validated


@pytest.mark.parametrize("registry", CURATABLE, ids=name_of)
def test_standardize_maps_case_variants_and_keeps_the_rest(instance: ln.Instance, registry: Any):
    (alpha, _gamma) = make(registry, ALPHA, GAMMA)
    organism = organism_of(registry)
    values = [ALPHA.lower(), GAMMA, "Qzx Unknown", None]
    assert registry.standardize(values, organism=organism, mute=True) == [
        ALPHA, GAMMA, "Qzx Unknown", None,
    ]  # fmt: skip
    mapper = registry.standardize(values, organism=organism, return_mapper=True, mute=True)
    assert mapper == {ALPHA.lower(): ALPHA}
    assert registry.standardize(f" {ALPHA.upper()} ", organism=organism, mute=True) == ALPHA
    assert registry.standardize(
        [ALPHA.lower()], organism=organism, case_sensitive=True, mute=True
    ) == [ALPHA.lower()]
    assert registry.standardize(
        [ALPHA.lower(), GAMMA], return_field="uid", organism=organism, mute=True
    ) == [alpha.uid, _gamma.uid]


NAMES = ["Qzx Alpha", "Qzx Beta-2", "qzx gamma"]


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_case_variant_standardizes_to_the_saved_name(sqlite_instance: ln.Instance, data: Any):
    if not ln.ULabel.filter().exists():
        make(ln.ULabel, *NAMES)
    name = data.draw(st.sampled_from(NAMES))
    flips = data.draw(st.lists(st.booleans(), min_size=len(name), max_size=len(name)))
    variant = "".join(c.swapcase() if flip else c for c, flip in zip(name, flips))
    assert ln.ULabel.standardize([variant], mute=True) == [name]
    assert ln.ULabel.validate([variant], mute=True).tolist() == [variant == name]
    assert ln.ULabel.from_values([variant], mute=True)[0].name == name


@pytest.mark.parametrize("registry", WITH_SYNONYMS, ids=name_of)
def test_standardize_and_from_values_resolve_synonyms(instance: ln.Instance, registry: Any):
    (alpha,) = make(registry, ALPHA)
    alpha.add_synonym(["Qzx A", "Qzx First"])
    organism = organism_of(registry)
    assert registry.standardize(["qzx a", "Qzx First"], organism=organism, mute=True) == [
        ALPHA, ALPHA,
    ]  # fmt: skip
    assert registry.standardize(["Qzx A"], synonyms_field=None, organism=organism, mute=True) == [
        "Qzx A"
    ]
    assert registry.inspect(["Qzx A"], organism=organism, mute=True).synonyms_mapper == {
        "Qzx A": ALPHA
    }
    assert registry.from_values(["Qzx First"], organism=organism, mute=True) == [alpha]


@pytest.mark.parametrize("registry", CURATABLE, ids=name_of)
def test_from_values_reuses_existing_records_and_creates_only_when_asked(
    instance: ln.Instance, registry: Any
):
    (alpha,) = make(registry, ALPHA)
    organism = organism_of(registry)
    found = registry.from_values([ALPHA, ALPHA.lower(), "Qzx New"], organism=organism, mute=True)
    assert [r.id for r in found] == [alpha.id]
    made = registry.from_values(
        [ALPHA, "Qzx New", "Qzx New", None], create=True, organism=organism, mute=True
    )
    assert made[0].id == alpha.id and made[1].id is None
    assert getattr(made[1], registry._name_field) == "Qzx New"
    exact = registry.from_values([ALPHA.lower()], standardize=False, organism=organism, mute=True)
    assert exact == []


@pytest.mark.parametrize("registry", CURATABLE, ids=name_of)
@pytest.mark.parametrize("method", ["validate", "inspect", "standardize", "from_values"])
def test_an_unknown_field_raises_with_the_closest_match(
    instance: ln.Instance, registry: Any, method: str
):
    field = registry._name_field
    typo = field[:-1] + "x" + field[-1]
    before = catalog_snapshot(instance)
    with pytest.raises(ln.FieldError, match=rf"Unknown field '{typo}'.*Did you mean '{field}'"):
        getattr(registry, method)([ALPHA], field=typo, organism=organism_of(registry))
    assert catalog_snapshot(instance) == before


@pytest.mark.parametrize("registry", CURATABLE, ids=name_of)
@pytest.mark.parametrize("method", ["validate", "inspect", "standardize", "from_values"])
def test_a_registry_in_place_of_a_field_is_an_invalid_argument(
    instance: ln.Instance, registry: Any, method: str
):
    before = catalog_snapshot(instance)
    with pytest.raises(ln.errors.InvalidArgument, match="Expected a registry field") as error:
        getattr(registry, method)([ALPHA], field=registry, organism=organism_of(registry))
    # LaminDB raises a TypeError here; lamin_core's earlier ValidationError still catches it
    assert isinstance(error.value, TypeError) and isinstance(error.value, ln.ValidationError)
    assert catalog_snapshot(instance) == before


@pytest.mark.parametrize("registry", CURATABLE, ids=name_of)
def test_validate_on_a_record_is_refused(instance: ln.Instance, registry: Any):
    (record,) = make(registry, ALPHA)
    name = registry.__name__
    with pytest.raises(TypeError, match=rf"{name}\.validate\(\) is a class method") as error:
        record.validate([ALPHA])
    assert isinstance(error.value, ln.errors.InvalidArgument)
    assert registry.validate([ALPHA], organism=organism_of(registry)).tolist() == [True]
    assert registry.validate.__doc__ == CanCurate.validate.__doc__


def test_a_field_of_another_registry_and_a_bad_return_field_are_refused(
    sqlite_instance: ln.Instance,
):
    with pytest.raises(ln.ValidationError, match=r"cannot check values of Feature\.name"):
        ln.ULabel.validate(["a"], field=ln.Feature.name)
    with pytest.raises(ln.FieldError, match=r"Unknown field 'uuid'.*Did you mean 'uid'"):
        ln.ULabel.standardize(["a"], return_field="uuid")


def test_bio_registries_keep_the_public_source_and_the_1x_keywords(instance: ln.Instance):
    bt.CellType.from_values(["B cell"]).save()
    assert bt.CellType.standardize(["B lymphocyte"], return_field="ontology_id") == ["CL:0000236"]
    assert bt.CellType.standardize(["nerve cell"], public_aware=False) == ["nerve cell"]
    assert bt.CellType.standardize(["nerve cell"], from_source=False) == ["nerve cell"]
    assert bt.CellType.standardize(["nerve cell"], mute=True) == ["neuron"]
    source = bt.Source.get(entity="bionty.CellType")
    assert bt.CellType.validate(["B cell"], source=source, strict_source=True).tolist() == [True]


def test_gene_queries_of_the_catalog_alone_need_no_organism(
    instance: ln.Instance, caplog: pytest.LogCaptureFixture
):
    bt.Gene.from_values(["CD8A"], field="symbol", organism="human").save()
    bt.Gene.from_values(["Cd4"], field="symbol", organism="mouse").save()
    # the catalog's genes of every organism answer; the public tables need an organism
    assert bt.Gene.validate(["CD8A", "Cd4", "TP53"], field="symbol").tolist() == [True, True, False]
    assert bt.Gene.standardize(["cd8a", "TP53"], field="symbol", from_source=False) == [
        "CD8A",
        "TP53",
    ]
    assert bt.Gene.validate(["Cd4"], field="symbol", organism="human").tolist() == [False]
    with caplog.at_level(logging.INFO, logger="lamin_core"):
        assert bt.Gene.standardize(["TNFRSF4"], field="symbol") == ["TNFRSF4"]
    assert "pass organism='human'" in caplog.text  # how to ask the public table too
    assert bt.Gene.standardize(["tnfrsf4"], field="symbol", organism="human") == ["TNFRSF4"]


# --- synonyms and abbreviations -----------------------------------------------------------------


@pytest.mark.parametrize("registry", WITH_SYNONYMS, ids=name_of)
def test_add_and_remove_synonyms_persist_and_refuse_conflicts(instance: ln.Instance, registry: Any):
    alpha, gamma = make(registry, ALPHA, GAMMA)
    alpha.add_synonym("Qzx A")
    alpha.add_synonym(["Qzx B", "Qzx A"])
    assert registry.get(alpha.id).synonyms.split("|")[-2:] == ["Qzx A", "Qzx B"]
    before = catalog_snapshot(instance)
    with pytest.raises(ln.ValidationError, match="'Qzx A' already belongs to"):
        gamma.add_synonym("qzx a")
    with pytest.raises(ln.ValidationError, match="contains '\\|'"):
        gamma.add_synonym("x|y")
    assert catalog_snapshot(instance) == before
    gamma.add_synonym("Qzx A", force=True)
    alpha.remove_synonym(["Qzx A", "Qzx B"])
    assert "Qzx A" not in (registry.get(alpha.id).synonyms or "").split("|")
    unsaved = registry.from_values(["Qzx Unsaved"], create=True, organism=organism_of(registry))
    unsaved[0].add_synonym("Qzx U")  # changed in memory only
    assert unsaved[0].synonyms.endswith("Qzx U") and unsaved[0].id is None


@pytest.mark.parametrize("registry", WITH_SYNONYMS, ids=name_of)
def test_set_abbr_sets_the_field_and_a_synonym(instance: ln.Instance, registry: Any):
    (alpha,) = make(registry, ALPHA)
    if "abbr" not in registry._field_names():
        with pytest.raises(ln.ValidationError, match="no abbr field"):
            alpha.set_abbr("QA")
        return
    alpha.set_abbr("QA")
    saved = registry.get(alpha.id)
    assert saved.abbr == "QA" and "QA" in saved.synonyms.split("|")


# --- to_list, to_dataframe, include="features" -------------------------------------------------


def test_to_list_and_to_dataframe_on_every_registry(instance: ln.Instance):
    ln.ULabel(name="DMSO").save()
    for registry in registries():
        queryset = registry.filter()
        assert queryset.to_list() == queryset.list()
        assert queryset.to_list("id") == [r.id for r in queryset.list()]
        pd.testing.assert_frame_equal(registry.to_dataframe(), registry.df())
        pd.testing.assert_frame_equal(queryset.to_dataframe(), queryset.df())
    assert ln.ULabel.filter().to_list("name") == ["DMSO"]


def test_include_features_adds_a_column_per_feature(instance: ln.Instance):
    ln.Feature(name="temperature", dtype="float").save()
    label = ln.ULabel(name="study 1").save()
    df = pd.DataFrame({"a": [1, 2]})
    artifact = ln.Artifact.from_df(df, key="tables/a.parquet").save()
    artifact.features.add_values({"temperature": 21.5})
    artifact.ulabels.add(label)
    ln.Artifact.from_df(df.assign(a=[3, 4]), key="tables/b.parquet").save()
    queryset = ln.Artifact.filter().order_by("key")
    expected = queryset.df(include=["ulabels__name"], features=True)
    for include in (["ulabels__name", "features"], ["features", "ulabels__name"]):
        got = queryset.to_dataframe(include=include)
        pd.testing.assert_frame_equal(got[expected.columns], expected)
    only = queryset.to_dataframe(include="features")
    assert only.loc[artifact.id, "temperature"] == {21.5}  # a set per row, as features=True
    assert "temperature" in ln.Artifact.to_dataframe(include="features").columns
    named = queryset.to_dataframe(features="temperature")
    assert named["temperature"].notna().tolist() == [True, False]
    with pytest.raises(ln.ValidationError, match="ULabel records have no features"):
        ln.ULabel.to_dataframe(include="features")


# --- collection.ordered_artifacts ----------------------------------------------------------------


def test_ordered_artifacts_follow_the_collection_order(instance: ln.Instance):
    parts = [
        ln.Artifact.from_df(pd.DataFrame({"x": [i]}), key=f"shards/{i}.parquet").save()
        for i in range(4)
    ]
    order = [parts[2], parts[0], parts[3], parts[1]]
    collection = ln.Collection(order, key="shards").save()
    members = collection.ordered_artifacts
    assert isinstance(members, ln.QuerySet)
    assert members.to_list() == order
    assert members.to_list("key") == [a.key for a in order]
    assert members.filter(key__in=["shards/0.parquet", "shards/1.parquet"]).to_list() == [
        parts[0], parts[1],
    ]  # fmt: skip
    assert (members.first(), members.last()) == (order[0], order[-1])
    assert members.df().index.tolist() == [a.id for a in order]
    assert members.order_by("key").to_list() == parts  # an explicit order replaces it
    unsaved = ln.Collection(order[:2], key="unsaved")
    with pytest.raises(ln.ValidationError, match="not saved"):
        unsaved.ordered_artifacts  # noqa: B018


# --- ln.save: every registry, links, one unit of work ---------------------------------------------


def mixed_records() -> list[Any]:
    """Unsaved records of several registries, linked to each other in memory."""
    split = ln.ULabel(name="Split", is_type=True)
    train = ln.ULabel(name="train", type=split)
    feature = ln.Feature(name="temperature", dtype="float")
    cell = bt.CellType.from_values(["B cell"])[0]  # from the public source, with ancestors
    gene = bt.Gene.from_values(["Qzx1"], field="symbol", create=True, organism="human")[0]
    return [cell, split, train, feature, gene]


def test_save_writes_a_mixed_list_with_links(instance: ln.Instance):
    artifact = ln.Artifact.from_df(pd.DataFrame({"x": [1]}), key="tables/x.parquet")
    transform = ln.Transform(key="qzx.py", type="script")
    saved = ln.save([artifact, *mixed_records(), transform])
    assert saved[0].path.exists() and saved[-1].id is not None
    cell, split, train, feature, gene = saved[1:-1]
    assert all(r.id is not None for r in (cell, split, train, feature, gene))
    assert ln.ULabel.get(name="train").type == ln.ULabel.get(name="Split")
    assert bt.CellType.get(name="B cell").parents.count() > 0
    assert bt.Gene.get(symbol="Qzx1").organism.name == "human"
    again = ln.save(mixed_records())  # a re-run reuses every record
    assert [r.id for r in again] == [r.id for r in (cell, split, train, feature, gene)]


def test_save_of_a_mixed_list_is_one_unit_of_work(instance: ln.Instance):
    uid = "QzxDupU1"
    records = [*mixed_records(), ln.ULabel(name="one", uid=uid), ln.ULabel(name="two", uid=uid)]
    before = catalog_snapshot(instance)
    with pytest.raises(ln.IntegrityError, match="nothing was saved"):
        ln.save(records)
    assert catalog_snapshot(instance) == before


def test_save_refuses_a_non_record_before_writing(instance: ln.Instance):
    before = catalog_snapshot(instance)
    with pytest.raises(ln.ValidationError, match="takes records, got 'DMSO' at position 1"):
        ln.save([ln.ULabel(name="IFNG"), "DMSO"])  # type: ignore[list-item]
    assert catalog_snapshot(instance) == before
