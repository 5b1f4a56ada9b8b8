"""ln.Record, ln.Project and ln.Reference: links both ways, queries, search, describe, bad input."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import lamin_core as ln
from lamin_core.models import Record as SQLRecord
from lamin_core.models.project import LINKED_REGISTRIES
from lamin_core.models.registry import label_registries, parse_reference, registry_named
from lamin_core.tracking import get_or_create_transform
from tests.snapshot import catalog_snapshot

_counter = itertools.count()
TARGETS = [ln.Project, ln.Reference, ln.Record]


def make_owner(table: str) -> Any:
    """Return a saved artifact, transform, collection or run."""
    n = next(_counter)
    artifact = ln.Artifact.from_df(pd.DataFrame({"n": [n]}), key=f"rec/a{n}.parquet").save()
    if table == "artifact":
        return artifact
    if table == "collection":
        return ln.Collection(artifact, key=f"rec/c{n}").save()
    transform = get_or_create_transform(f"rec-{n}.py", type="script")
    ln.get_instance().session.commit()
    if table == "transform":
        return transform
    return ln.Run(transform=transform).save()


def test_registries_are_in_the_registry_map():
    for registry in TARGETS:
        assert registry_named(registry.__name__) is registry
        assert parse_reference(f"ln.{registry.__name__}.name").registry is registry
    assert ln.Record in label_registries()  # records label artifacts, like ulabels
    # ln.Record is 2.x's general record; the registries' base class keeps its own name
    assert issubclass(ln.Record, SQLRecord) and ln.Record is not SQLRecord


@pytest.mark.parametrize("target", TARGETS, ids=lambda r: r.__name__)
@pytest.mark.parametrize("table", list(LINKED_REGISTRIES))
def test_link_and_filter_both_ways(instance: ln.Instance, table: str, target: Any):
    owner = make_owner(table)
    other = make_owner(table)
    linked = target(name=f"{target.__name__} linked {table}").save()
    target(name=f"{target.__name__} unlinked").save()
    relation = f"{target.__tablename__}s"  # artifact.projects, run.references, ...

    getattr(owner, relation).add(linked)

    assert getattr(owner, relation).list("name") == [linked.name]
    assert getattr(other, relation).count() == 0
    owners = getattr(linked, f"{table}s")  # project.artifacts, record.runs, ...
    assert owners.list("uid") == [owner.uid]
    registry = LINKED_REGISTRIES[table]
    assert registry.filter(**{f"{relation}__name": linked.name}).list("uid") == [owner.uid]
    assert registry.filter(**{relation: linked}).list("uid") == [owner.uid]
    assert target.filter(**{f"{table}s__uid": owner.uid}).list("name") == [linked.name]
    frame = registry.filter(uid__in=[owner.uid, other.uid]).df(include=[f"{relation}__name"])
    assert frame.set_index("uid")[f"{relation}__name"].to_dict() == {
        owner.uid: {linked.name},
        other.uid: {None},
    }

    getattr(owner, relation).remove(linked)
    assert registry.filter(**{f"{relation}__name": linked.name}).count() == 0


def test_artifacts_filterable_by_records_projects_and_references(instance: ln.Instance):
    artifact = make_owner("artifact")
    make_owner("artifact")
    sample = ln.Record(name="Sample", is_type=True).save()
    s1 = ln.Record(name="S1", type=sample).save()
    project = ln.Project(name="Atlas", abbr="ATL").save()
    paper = ln.Reference(name="Paper", doi="10.1126/science.abl4896", pubmed_id=35549404).save()
    artifact.records.add(s1)
    artifact.projects.add(project)
    artifact.references.add(paper)

    query = ln.Artifact.filter(
        records__name="S1",
        records__type__name="Sample",
        projects__abbr="ATL",
        references__pubmed_id=35549404,
    )
    assert query.list("uid") == [artifact.uid]
    assert ln.Project.filter(artifacts__key=artifact.key).list("name") == ["Atlas"]
    assert ln.Record.filter(type=sample).list("name") == ["S1"]
    assert sample.records.list("name") == ["S1"]


def test_records_as_feature_labels(instance: ln.Instance):
    artifact = make_owner("artifact")
    feature = ln.Feature(name="sample", dtype="cat[Record]").save()
    s1 = ln.Record(name="S1").save()

    artifact.labels.add(s1, feature=feature)

    assert ln.Artifact.filter(sample="S1").list("uid") == [artifact.uid]
    assert ln.Artifact.filter(records__name="S1").list("uid") == [artifact.uid]
    frame = ln.Artifact.filter(uid=artifact.uid).df(features=["sample"])
    assert frame["sample"].tolist() == [{"S1"}]


@pytest.mark.parametrize("registry", [ln.Project, ln.Record])
def test_parents_and_children(instance: ln.Instance, registry: Any):
    parent = registry(name="Parent").save()
    child = registry(name="Child").save()

    child.parents.add(parent)

    assert parent.children.list("name") == ["Child"]
    assert registry.filter(parents__name="Parent").list("name") == ["Child"]


@pytest.mark.parametrize(
    ("registry", "fields", "query", "expected"),
    [
        (ln.Project, {"name": "Human Cell Atlas", "abbr": "HCA"}, "HCA", "Human Cell Atlas"),
        (ln.Project, {"name": "Mouse brain"}, "mous brain", "Mouse brain"),
        (
            ln.Reference,
            {"name": "Tabula Sapiens", "doi": "10.1126/science.abl4896"},
            "science.abl4896",
            "Tabula Sapiens",
        ),
        (ln.Record, {"name": "Experiment 12", "description": "knockout"}, "knockout", None),
    ],
)
def test_search(instance: ln.Instance, registry: Any, fields: dict, query: str, expected: Any):
    record = registry(**fields).save()
    registry(name="Something else").save()

    found = registry.search(query)

    assert found.first().uid == record.uid
    if expected is not None:
        assert found.df()["name"].iloc[0] == expected


def test_describe_shows_projects_references_and_records(
    instance: ln.Instance, capsys: pytest.CaptureFixture[str]
):
    artifact = make_owner("artifact")
    artifact.projects.add(ln.Project(name="Atlas").save())
    artifact.references.add(ln.Reference(name="Paper").save())
    artifact.records.add(ln.Record(name="S1").save())

    artifact.describe()

    shown = capsys.readouterr().out
    assert "projects: Atlas" in shown
    assert "references: Paper" in shown
    assert "records: S1" in shown


GOOD_DOIS = ["10.1038/s41586-020-2649-2", "10.1126/science.abl4896", "10.1101/2021.07.19.452956"]
BAD_DOIS = [
    "https://doi.org/10.1038/s41586-020-2649-2",
    "doi:10.1038/nature12373",
    "10.1038",
    "10.12/abc",
    "10.1038/ with space",
    "11.1038/x",
    "",
]
BAD_URLS = ["lamin.ai", "ftp://example.org/x", "https://", "http://no spaces.org", "https://x"]


@pytest.mark.parametrize("doi", GOOD_DOIS)
def test_reference_accepts_a_doi(instance: ln.Instance, doi: str):
    assert ln.Reference(name="paper", doi=doi).save().doi == doi


@pytest.mark.parametrize(
    ("registry", "fields", "message"),
    [
        *[(ln.Reference, {"doi": doi}, "Invalid doi") for doi in BAD_DOIS],
        *[(ln.Reference, {"url": url}, "Invalid url") for url in BAD_URLS],
        *[(ln.Project, {"url": url}, "Invalid url") for url in BAD_URLS],
        (ln.Reference, {"pubmed_id": -3}, "Invalid pubmed_id"),
        (ln.Reference, {"pubmed_id": "35549404"}, "Invalid pubmed_id"),
        (
            ln.Project,
            {"start_date": dt.date(2025, 5, 1), "end_date": dt.date(2025, 1, 1)},
            "cannot end",
        ),
    ],
)
def test_bad_input_is_refused_and_nothing_saved(
    instance: ln.Instance, registry: Any, fields: dict, message: str
):
    before = catalog_snapshot(instance)

    with pytest.raises(ln.ValidationError, match=message) as error:
        registry(name="bad", **fields).save()

    value = next(iter(fields.values())) if len(fields) == 1 else None
    if value is not None:
        assert repr(value) in str(error.value)  # the message names the offending value
    assert catalog_snapshot(instance) == before


_SUFFIX = st.text(
    st.characters(codec="ascii", categories=["L", "N", "P", "S"]), min_size=1, max_size=30
)


@given(registrant=st.integers(1000, 999_999_999), suffix=_SUFFIX)
def test_every_doi_shape_is_accepted(registrant: int, suffix: str):
    doi = f"10.{registrant}/{suffix}"
    assert ln.Reference(doi=doi).doi == doi  # no catalog needed: checked when set


@given(doi=_SUFFIX, gap=st.sampled_from([" ", "\t", "\n"]))
def test_a_doi_with_whitespace_or_without_the_10_prefix_is_refused(doi: str, gap: str):
    for bad in (f"10.1038/{doi}{gap}x", doi if not doi.startswith("10.") else f"x{doi}"):
        with pytest.raises(ln.ValidationError, match="Invalid doi"):
            ln.Reference(doi=bad)


def test_doi_hint_points_to_the_bare_doi(instance: ln.Instance):
    with pytest.raises(ln.ValidationError, match=r"Write the DOI alone: '10\.1038/nature12373'"):
        ln.Reference(name="p", doi="https://doi.org/10.1038/nature12373")


@pytest.mark.parametrize("registry", TARGETS, ids=lambda r: r.__name__)
def test_type_must_be_a_type_of_the_same_registry(instance: ln.Instance, registry: Any):
    plain = registry(name="plain").save()
    before = catalog_snapshot(instance)

    with pytest.raises(ln.ValidationError, match="is not a type"):
        registry(name="x", type=plain).save()
    with pytest.raises(ln.ValidationError, match=f"The type of a {registry.__name__}"):
        registry(name="y", type=ln.ULabel(name="label", is_type=True).save())

    kind = registry(name="Kind", is_type=True).save()
    assert registry(name="z", type=kind).save().type.name == "Kind"
    assert catalog_snapshot(instance)[0][registry.__tablename__] == (
        before[0][registry.__tablename__] + 2
    )


def test_project_and_reference_are_reused_by_name(instance: ln.Instance):
    project = ln.Project(name="Atlas").save()
    reference = ln.Reference(name="Paper").save()

    assert ln.Project(name="Atlas").uid == project.uid
    assert ln.Reference(name="Paper").uid == reference.uid
