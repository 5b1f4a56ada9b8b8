"""ln.Schema and LaminDB 2.x curation: declare a schema, validate and annotate in one call."""

from __future__ import annotations

import datetime as dt

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import lamin_core as ln
import lamin_core.bio as bt
from lamin_core.models.registry import label_registries, reference_text, registries
from lamin_core.models.schema import schema_hash
from tests.snapshot import catalog_snapshot

# --- Feature dtypes given as Python types, registries and fields ------------------------------

PYTHON_TYPES = [
    (str, "str"),
    (int, "int"),
    (float, "float"),
    (bool, "bool"),
    (dict, "dict"),
    (dt.date, "date"),
    (dt.datetime, "datetime"),
    (list[str], "list[str]"),
    (list[int], "list[int]"),
]


@pytest.mark.parametrize(("dtype", "text"), PYTHON_TYPES, ids=[t for _, t in PYTHON_TYPES])
def test_feature_dtype_from_python_type_is_its_dtype_string(
    sqlite_instance: ln.Instance, dtype: object, text: str
):
    feature = ln.Feature(name="value", dtype=dtype).save()
    assert ln.Feature.get(name="value").dtype == text == feature.dtype


def test_feature_dtype_from_every_label_registry_and_field(sqlite_instance: ln.Instance):
    for index, registry in enumerate(label_registries()):
        feature = ln.Feature(name=f"label_{index}", dtype=registry).save()
        assert feature.dtype == f"cat[{reference_text(registry)}]"
        listed = ln.Feature(name=f"labels_{index}", dtype=list[registry]).save()  # type: ignore[valid-type]
        assert listed.dtype == f"list[cat[{reference_text(registry)}]]"
    by_field = ln.Feature(name="cell_type_id", dtype=bt.CellType.ontology_id).save()
    assert by_field.dtype == "cat[bionty.CellType.ontology_id]"
    union = ln.Feature(name="either", dtype=[ln.ULabel, bt.CellType]).save()
    assert union.dtype == "cat[ULabel|bionty.CellType]"
    assert ln.Feature.filter(dtype="cat[ULabel]").one().name == "label_0"  # the stored string


@pytest.mark.parametrize(
    ("dtype", "message"),
    [
        (complex, "Invalid dtype complex"),
        (ln.Artifact, "Artifact records cannot be labels"),
        (3, "Invalid dtype int 3"),
        (list, "Invalid dtype list"),
        (list[complex], "Invalid dtype complex"),
    ],
    ids=["python-type", "non-label-registry", "value", "bare-list", "list-of-unknown"],
)
def test_feature_dtype_of_unknown_type_is_refused_with_the_choices(
    instance: ln.Instance, dtype: object, message: str
):
    before = catalog_snapshot(instance)
    with pytest.raises(ln.ValidationError, match=message) as error:
        ln.Feature(name="bad", dtype=dtype).save()
    assert "cat[ULabel]" in str(error.value) and "float" in str(error.value)  # the choices
    assert catalog_snapshot(instance) == before


# --- the Schema registry ----------------------------------------------------------------------


@pytest.fixture
def features(instance: ln.Instance) -> dict[str, ln.Feature]:
    made = {
        "temperature": ln.Feature(name="temperature", dtype=float).save(),
        "cell_medium": ln.Feature(name="cell_medium", dtype=ln.ULabel).save(),
        "cell_type": ln.Feature(name="cell_type", dtype=bt.CellType).save(),
        "donor_age": ln.Feature(name="donor_age", dtype=int).save(),
    }
    ln.ULabel.from_values(["DMSO", "IFNG"], create=True).save()
    bt.CellType.from_values(["B cell", "T cell"]).save()
    return made


def make_df(**overrides: list[object]) -> pd.DataFrame:
    columns: dict[str, list[object]] = {
        "temperature": [21.5, 22.0, 23.5],
        "cell_medium": ["DMSO", "IFNG", "DMSO"],
        "cell_type": ["B cell", "T cell", "T cell"],
    }
    columns.update(overrides)
    return pd.DataFrame(columns)


def test_schema_saves_with_its_fields_and_is_found_by_filter(features: dict[str, ln.Feature]):
    schema = ln.Schema(
        [features["temperature"], features["cell_medium"]],
        name="measurements",
        description="what every table has",
        maximal_set=True,
        coerce_dtype=True,
        otype="DataFrame",
    ).save()
    found = ln.Schema.filter(name="measurements").one()
    assert found == schema and ln.FeatureSet is ln.Schema
    assert (found.n, found.itype, found.otype, found.description) == (
        2, "Feature", "DataFrame", "what every table has"
    )  # fmt: skip
    assert (found.minimal_set, found.maximal_set, found.flexible, found.coerce_dtype) == (
        True, True, False, True
    )  # fmt: skip
    assert sorted(found.features.list("name")) == ["cell_medium", "temperature"]
    assert ln.Schema.filter(maximal_set=True, features__name="temperature").count() == 1


def test_schema_declared_twice_is_the_saved_one(features: dict[str, ln.Feature]):
    first = ln.Schema([features["temperature"], features["cell_type"]], name="a").save()
    again = ln.Schema(features=[features["cell_type"], features["temperature"]])
    assert again is first  # same members and constraints, any order
    other = ln.Schema([features["temperature"], features["cell_type"]], maximal_set=True).save()
    assert other != first and ln.Schema.filter(name="a").count() == 1


def test_schema_of_features_is_the_feature_set_a_1x_curator_records(
    features: dict[str, ln.Feature],
):
    df = make_df()
    artifact = ln.Curator.from_df(
        df, categoricals={"cell_medium": ln.ULabel.name, "cell_type": bt.CellType.name}
    ).save_artifact(key="legacy.parquet")
    (feature_set,) = artifact.feature_sets
    declared = ln.Schema([features[n] for n in ("temperature", "cell_medium", "cell_type")])
    assert declared == feature_set  # one registry, one identity: FeatureSet is Schema


def test_itype_schema_for_every_registry_names_it_canonically(instance: ln.Instance):
    for registry in registries():
        schema = ln.Schema(itype=registry)
        expected = "Feature" if registry is ln.Feature else reference_text(registry)
        assert schema.itype == expected and schema.flexible is True
    assert ln.Schema(itype=bt.Gene.ensembl_gene_id).itype == "bionty.Gene.ensembl_gene_id"
    assert ln.Schema(itype="bt.Gene.ensembl_gene_id").itype == "bionty.Gene.ensembl_gene_id"


def test_composite_schema_links_components_by_slot(features: dict[str, ln.Feature]):
    obs = ln.Schema([features["cell_type"]], name="obs")  # unsaved: saved with the composite
    var = ln.Schema(itype=bt.Gene.ensembl_gene_id)
    composite = ln.Schema(otype="AnnData", slots={"obs": obs, "var.T": var}, name="adata").save()
    loaded = ln.Schema.get(name="adata")
    assert loaded.is_composite and loaded.otype == "AnnData"
    assert loaded.slots == {"obs": ln.Schema.get(name="obs"), "var.T": var}
    assert ln.Schema(otype="AnnData", slots={"var.T": var, "obs": obs}) is composite


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"otype": "AnnData", "slots": {"obs": {"cell_type": "bt.CellType"}}},
            "must be a ln.Schema",
        ),
        ({"otype": "AnnData", "slots": {"obsm": "SCHEMA"}}, "Unknown slot 'obsm'"),
        ({"slots": {"obs": "SCHEMA"}}, "pass otype='AnnData'"),
        ({"otype": "DataFrame", "slots": {"obs": "SCHEMA"}}, "has no slots"),
        ({"itype": "bt.CellTyp"}, "Invalid itype"),
        ({"itype": 3.5}, "Invalid itype"),
        ({"features": ["temperature"]}, "must be ln.Feature records"),
        ({"features": "FEATURE"}, "must be a list of ln.Feature"),
        ({"features": ["UNSAVED"]}, "is not saved"),
    ],
    ids=[
        "slot-dict",
        "unknown-slot",
        "slots-without-otype",
        "dataframe-slots",
        "itype-typo",
        "itype-number",
        "feature-names",
        "single-feature",
        "unsaved-feature",
    ],
)
def test_schema_bad_arguments_are_refused_before_anything_is_written(
    features: dict[str, ln.Feature], kwargs: dict[str, object], message: str
):
    stand_ins = {
        "SCHEMA": ln.Schema([features["cell_type"]]),
        "FEATURE": features["cell_type"],
        "UNSAVED": ln.Feature._create(name="fresh", dtype="int"),
    }

    def resolve(value: object) -> object:
        if isinstance(value, dict):
            return {k: resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [resolve(v) for v in value]
        return stand_ins.get(value, value) if isinstance(value, str) else value

    instance = ln.get_instance()
    before = catalog_snapshot(instance)
    with pytest.raises(ln.ValidationError, match=message):
        ln.Schema(**{k: resolve(v) for k, v in kwargs.items()}).save()  # type: ignore[arg-type]
    assert catalog_snapshot(instance) == before


@given(
    uids=st.lists(st.text("abcdef0123", min_size=4, max_size=8), min_size=1, max_size=6),
    seed=st.randoms(),
)
def test_schema_hash_ignores_member_order_and_counts_every_constraint(uids: list[str], seed):
    shuffled = list(uids)
    seed.shuffle(shuffled)
    plain = schema_hash(uids, itype="Feature")
    assert schema_hash(shuffled, itype="Feature") == plain
    variants = {
        schema_hash(uids, itype="Feature", maximal_set=True),
        schema_hash(uids, itype="Feature", minimal_set=False),
        schema_hash(uids, itype="Feature", flexible=True),
        schema_hash(uids, itype="Feature", coerce_dtype=True),
        schema_hash(uids, itype="Feature", dtype="float"),
    }
    assert len(variants) == 5 and plain not in variants


# --- validate and annotate in one call --------------------------------------------------------


def test_from_df_with_schema_validates_and_annotates(features: dict[str, ln.Feature]):
    schema = ln.Schema([features[n] for n in ("temperature", "cell_medium", "cell_type")]).save()
    df = make_df(extra_column=[1, 2, 3])  # not in the schema: kept, not annotated
    artifact = ln.Artifact.from_df(df, key="measurements.parquet", schema=schema).save()
    assert artifact.schema == schema
    assert ln.Artifact.filter(schema=schema).one() == artifact
    assert artifact.feature_sets[0].features.list("name") == sorted(
        ["temperature", "cell_medium", "cell_type"]
    ) or set(artifact.feature_sets[0].features.list("name")) == {
        "temperature", "cell_medium", "cell_type"
    }  # fmt: skip
    assert artifact.labels.get("cell_medium").list("name") == ["DMSO", "IFNG"]
    assert sorted(artifact.labels.get("cell_type").list("name")) == ["B cell", "T cell"]
    assert ln.Artifact.filter(cell_medium="IFNG").one() == artifact
    assert artifact.load().columns.tolist() == df.columns.tolist()


@pytest.mark.parametrize(
    ("df", "named"),
    [
        (make_df(cell_medium=["DMSO", "IFNGG", "DMSO"]), ["cell_medium", "'IFNGG'", "'IFNG'"]),
        (make_df(temperature=["hot", "cold", "warm"]), ["temperature", "'float'", "object"]),
        (make_df().drop(columns="cell_type"), ["cell_type", "required by the schema"]),
        (make_df(cell_type=["B cell", "T-cells", "neuron X"]), ["cell_type", "'neuron X'"]),
    ],
    ids=["typo-in-labels", "wrong-dtype", "missing-column", "unknown-cell-type"],
)
def test_from_df_failing_its_schema_names_columns_and_values_and_saves_nothing(
    features: dict[str, ln.Feature], df: pd.DataFrame, named: list[str]
):
    schema = ln.Schema([features[n] for n in ("temperature", "cell_medium", "cell_type")]).save()
    instance = ln.get_instance()
    before = catalog_snapshot(instance)
    with pytest.raises(ln.ValidationError, match="does not validate") as error:
        ln.Artifact.from_df(df, key="bad.parquet", schema=schema).save()
    for text in named:
        assert text in str(error.value)
    assert "nothing was saved" in str(error.value)
    assert catalog_snapshot(instance) == before


def test_from_df_with_schema_that_is_not_a_schema_is_refused(features: dict[str, ln.Feature]):
    instance = ln.get_instance()
    before = catalog_snapshot(instance)
    with pytest.raises(ln.ValidationError, match=r"schema argument must be a Schema, got dict"):
        ln.Artifact.from_df(make_df(), key="x.parquet", schema={"temperature": "float"})  # type: ignore[arg-type]
    composite = ln.Schema(otype="AnnData", slots={"obs": ln.Schema([features["cell_type"]])})
    with pytest.raises(ln.ValidationError, match="pass one of its slots"):
        ln.Artifact.from_df(make_df(), key="x.parquet", schema=composite)
    assert catalog_snapshot(instance) == before


def test_schema_constraints_decide_what_validates(features: dict[str, ln.Feature]):
    temperature, donor_age = features["temperature"], features["donor_age"]
    strict = ln.Schema([temperature], maximal_set=True).save()
    with pytest.raises(ln.ValidationError, match="'cell_medium' is not in the schema"):
        ln.curators.DataFrameCurator(make_df(), strict).validate()
    optional = ln.Schema([temperature, donor_age], minimal_set=False).save()
    assert ln.curators.DataFrameCurator(make_df(), optional).validate() is None
    flexible = ln.Schema([temperature], flexible=True).save()
    artifact = ln.Artifact.from_df(make_df(), key="flexible.parquet", schema=flexible).save()
    assert artifact.labels.get("cell_medium").list("name") == ["DMSO", "IFNG"]  # not listed
    rigid = ln.Artifact.from_df(
        make_df(cell_medium=["IFNG"] * 3), key="rigid.parquet", schema=ln.Schema([temperature])
    ).save()
    assert rigid.labels.get("cell_medium").count() == 0  # rigid: other columns are ignored


def test_coerce_dtype_converts_columns_before_checking(features: dict[str, ln.Feature]):
    df = pd.DataFrame({"donor_age": ["30", "41"], "temperature": [21, 22]})
    plain = ln.Schema([features["donor_age"], features["temperature"]]).save()
    with pytest.raises(ln.ValidationError, match="'donor_age'"):
        ln.curators.DataFrameCurator(df.copy(), plain).validate()
    coercing = ln.Schema([features["donor_age"], features["temperature"]], coerce_dtype=True)
    artifact = ln.Artifact.from_df(df, key="coerced.parquet", schema=coercing).save()
    loaded = artifact.load()
    assert loaded["donor_age"].tolist() == [30, 41] and loaded["temperature"].dtype.kind == "f"
    with pytest.raises(ln.ValidationError, match="cannot be coerced"):
        ln.curators.DataFrameCurator(pd.DataFrame({"donor_age": ["x"]}), coercing).validate()


def test_dataframe_curator_2x_fixes_values_then_saves(features: dict[str, ln.Feature]):
    schema = ln.Schema([features[n] for n in ("temperature", "cell_medium", "cell_type")]).save()
    df = make_df(
        cell_medium=["DMSO", "Lipid", "DMSO"], cell_type=["B lymphocyte", "T cell", "T cell"]
    )
    curator = ln.curators.DataFrameCurator(df, schema)
    with pytest.raises(ln.ValidationError):
        curator.validate()
    assert curator.cat.non_validated == {
        "cell_medium": ["Lipid"], "cell_type": ["B lymphocyte"]
    }  # fmt: skip
    curator.cat.standardize("cell_type")
    assert df["cell_type"].tolist() == ["B cell", "T cell", "T cell"]
    curator.cat.add_new_from("cell_medium")
    assert ln.ULabel.get(name="Lipid") is not None
    assert curator.validate() is None and curator.cat.non_validated == {}
    artifact = curator.save_artifact(key="fixed.parquet")
    assert artifact.schema == schema
    assert artifact.labels.get("cell_medium").list("name") == ["DMSO", "Lipid"]
    with pytest.raises(ln.ValidationError, match="Unknown key 'cell_mediun'"):
        curator.cat.standardize("cell_mediun")


def test_curators_keep_their_1x_signatures_and_refuse_mixing(features: dict[str, ln.Feature]):
    legacy = ln.curators.DataFrameCurator(make_df(), categoricals={"cell_medium": ln.ULabel.name})
    assert legacy.validate() is True
    schema = ln.Schema([features["temperature"]]).save()
    with pytest.raises(ln.ValidationError, match="either a schema or categoricals"):
        ln.curators.DataFrameCurator(
            make_df(), categoricals={"cell_medium": ln.ULabel.name}, schema=schema
        )
    assert ln.curators is __import__("lamin_core.curators").curators


# --- AnnData ----------------------------------------------------------------------------------


def make_adata(cell_types: list[str] | None = None) -> ad.AnnData:
    obs = pd.DataFrame(
        {
            "cell_medium": pd.Categorical(["DMSO", "IFNG", "DMSO"]),
            "cell_type": cell_types or ["B cell", "T cell", "T cell"],
        },
        index=["c1", "c2", "c3"],
    )
    var = pd.DataFrame(index=["ENSG00000139618", "ENSG00000141510"])
    return ad.AnnData(X=np.ones((3, 2), dtype="float32"), obs=obs, var=var)


@pytest.fixture
def adata_schema(features: dict[str, ln.Feature]) -> ln.Schema:
    obs = ln.Schema([features["cell_medium"], features["cell_type"]], name="obs").save()
    var = ln.Schema(itype=bt.Gene.ensembl_gene_id).save()
    return ln.Schema(otype="AnnData", slots={"obs": obs, "var.T": var}, name="adata").save()


def test_from_anndata_with_schema_annotates_each_slot(adata_schema: ln.Schema):
    artifact = ln.Artifact.from_anndata(make_adata(), key="cells.h5ad", schema=adata_schema).save()
    assert artifact.schema == adata_schema
    itypes = sorted(fs.itype for fs in artifact.feature_sets)
    assert itypes == ["Feature", "bionty.Gene"]
    genes = next(fs for fs in artifact.feature_sets if fs.itype == "bionty.Gene")
    assert sorted(genes.genes.list("ensembl_gene_id")) == ["ENSG00000139618", "ENSG00000141510"]
    assert sorted(artifact.labels.get("cell_type").list("name")) == ["B cell", "T cell"]


def test_anndata_curator_2x_slots_and_failures(adata_schema: ln.Schema):
    adata = make_adata(["B cell", "T-cell", "astrocyte X"])
    instance = ln.get_instance()
    before = catalog_snapshot(instance)
    with pytest.raises(ln.ValidationError, match="'astrocyte X'"):
        ln.Artifact.from_anndata(adata, key="bad.h5ad", schema=adata_schema)
    assert catalog_snapshot(instance) == before
    curator = ln.curators.AnnDataCurator(adata, adata_schema)
    assert set(curator.slots) == {"obs", "var.T"}
    with pytest.raises(ln.ValidationError):
        curator.validate()
    assert curator.slots["obs"].cat.non_validated == {"cell_type": ["T-cell", "astrocyte X"]}
    assert curator.slots["var.T"].cat.non_validated == {}
    with pytest.raises(ln.ValidationError, match=r"must be a ln\.Schema"):
        ln.Schema(otype="AnnData", slots={"obs": adata_schema.slots["obs"], "var.T": "genes"})  # type: ignore[dict-item]
    with pytest.raises(ln.ValidationError, match="composite Schema"):
        ln.curators.AnnDataCurator(make_adata(), adata_schema.slots["obs"])
    assert catalog_snapshot(instance) == before
