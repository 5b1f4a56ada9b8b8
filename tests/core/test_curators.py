"""DataFrame curation: validate, report, standardize, add new values, save with annotations."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

import lamin_core as ln
import lamin_core.bio as bt


def table_counts() -> dict[str, int]:
    """Row counts of every catalog table (search index tables excluded)."""
    session = ln.get_instance().session
    return {
        name: session.scalar(sa.select(sa.func.count()).select_from(table))
        for name, table in ln.Artifact.metadata.tables.items()
    }


@pytest.fixture
def registries(instance: ln.Instance) -> ln.Instance:
    for name, dtype in [
        ("cell_medium", "cat[ULabel]"), ("cell_type", "cat[bionty.CellType]"),
        ("donor_age", "int"), ("sample_note", "str"),
    ]:  # fmt: skip
        ln.Feature(name=name, dtype=dtype).save()
    ln.ULabel.from_values(["DMSO", "IFNG"], create=True).save()
    bt.CellType.from_values(["B cell", "T cell"]).save()
    return instance


def make_df(**overrides: list[object]) -> pd.DataFrame:
    columns: dict[str, list[object]] = {
        "cell_medium": ["DMSO", "IFNG", "DMSO", "IFNG"],
        "cell_type": ["B cell", "T cell", "T cell", "B cell"],
        "donor_age": [30, 40, 50, 60],
        "sample_note": ["ok", "ok", "fine", "ok"],
    }
    columns.update(overrides)
    return pd.DataFrame(columns)


def curator_for(df: pd.DataFrame) -> ln.curators.DataFrameCurator:  # type: ignore[name-defined]
    return ln.Curator.from_df(
        df, categoricals={"cell_medium": ln.ULabel.name, "cell_type": bt.CellType.name}
    )


def test_valid_dataframe_saves_with_feature_set_and_labels(
    registries: ln.Instance, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO, logger="lamin_core")
    curator = curator_for(make_df())
    assert curator.validate() is True
    assert curator.non_validated == {}
    assert '✓ "cell_medium" is validated against ULabel.name' in caplog.text
    assert '✓ "cell_type" is validated against CellType.name' in caplog.text
    artifact = curator.save_artifact(key="curated/df.parquet", description="four samples")
    assert artifact.n_observations == 4 and artifact.description == "four samples"
    (feature_set,) = artifact.feature_sets
    assert (feature_set.itype, feature_set.n) == ("Feature", 4)
    assert {f.name for f in feature_set.features} == {
        "cell_medium", "cell_type", "donor_age", "sample_note"
    }  # fmt: skip
    assert artifact.labels.get("cell_medium").list("name") == ["DMSO", "IFNG"]
    assert artifact.labels.get("cell_type").list("name") == ["B cell", "T cell"]
    assert ln.Artifact.filter(cell_medium="IFNG").one().id == artifact.id
    assert artifact.load().equals(make_df())


def test_invalid_values_are_reported_and_nothing_is_saved(
    registries: ln.Instance, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO, logger="lamin_core")
    df = make_df(cell_medium=["DMSO", "IFNGG", "PBS", "DMSO"], cell_type=["B cell"] * 4)
    curator = curator_for(df)
    before = table_counts()
    assert curator.validate() is False
    assert curator.non_validated == {"cell_medium": ["IFNGG", "PBS"]}
    assert '✗ "cell_medium" is not validated against ULabel.name' in caplog.text
    assert "'IFNGG' (did you mean 'IFNG'?)" in caplog.text
    assert 'curator.add_new_from("cell_medium")' in caplog.text
    with pytest.raises(ln.ValidationError) as error:
        curator.save_artifact(key="curated/bad.parquet")
    message = str(error.value)
    assert '"cell_medium" (ULabel.name): 2 terms not validated in ' in message
    assert "; not in ULabel.name: fix typos" in message
    assert "'IFNGG' (did you mean 'IFNG'?), 'PBS'" in message and "nothing was saved" in message
    assert table_counts() == before
    assert not list(Path(ln.get_instance().catalog_path).glob("*.parquet"))


def test_standardize_replaces_synonyms_and_case_variants(registries: ln.Instance):
    df = make_df(
        cell_medium=["dmso", "IFNG", "DMSO", "IFNG"],
        cell_type=["B lymphocyte", "T-cell", "T cell", "B cell"],
    )
    curator = curator_for(df)
    assert curator.validate() is False
    assert curator.non_validated == {
        "cell_medium": ["dmso"], "cell_type": ["B lymphocyte", "T-cell"]
    }  # fmt: skip
    curator.standardize("cell_type")
    assert df["cell_type"].tolist() == ["B cell", "T cell", "T cell", "B cell"]
    assert curator.non_validated == {"cell_medium": ["dmso"]}
    curator.standardize("all")
    assert df["cell_medium"].tolist() == ["DMSO", "IFNG", "DMSO", "IFNG"]
    assert curator.validate() is True


@pytest.mark.parametrize("unknown", [0, 250], ids=["few-values", "many-values"])
def test_synonyms_match_literally_and_shared_ones_are_left_alone(
    registries: ln.Instance, unknown: int
):
    # few values are looked up record by record, many by reading the registry: same answers
    bt.CellType(name="mast cell", synonyms="mastocyte|50%_cell").save()
    bt.CellType(name="labrocyte", synonyms="Mastocyte").save()
    values = ["MASTOCYTE", "50%_CELL", "50x_cell", " Labrocyte", "t CELL"]
    values += [f"unknown type {i}" for i in range(unknown)]
    mapper = bt.CellType.standardize(values, return_mapper=True, public_aware=False)
    assert mapper == {"50%_CELL": "mast cell", " Labrocyte": "labrocyte", "t CELL": "T cell"}


def test_close_matches_are_typos_not_substrings(registries: ln.Instance):
    ln.ULabel.from_values(["CD4", "C2CD4A", "IFNG-AS1"], create=True).save()
    curator = curator_for(make_df(cell_medium=["cd4x", "IFN", "DMSO", "DMSO"]))
    assert curator.validate() is False
    with pytest.raises(ln.ValidationError) as error:
        curator.save_artifact(key="curated/typos.parquet")
    message = str(error.value)
    assert "'IFN' (did you mean 'IFNG'?)" in message and "IFNG-AS1" not in message
    assert "'cd4x' (did you mean 'CD4'?)" in message and "C2CD4A" not in message


def test_standardize_merges_categories_of_a_categorical_column(registries: ln.Instance):
    df = make_df(cell_type=pd.Categorical(["B lymphocyte", "B cell", "T cell", "B cell"]))
    curator = curator_for(df)
    curator.standardize("cell_type")
    assert isinstance(df["cell_type"].dtype, pd.CategoricalDtype)
    assert sorted(df["cell_type"].cat.categories) == ["B cell", "T cell"]
    assert curator.validate() is True


def test_add_new_from_creates_labels_and_features(
    registries: ln.Instance, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO, logger="lamin_core")
    df = make_df(cell_medium=["DMSO", "PBS", "PBS", "DMSO"], batch=[1, 1, 2, 2])
    curator = curator_for(df)
    assert curator.non_validated == {"columns": ["batch"], "cell_medium": ["PBS"]}
    curator.add_new_from("cell_medium", description="phosphate-buffered saline")
    assert ln.ULabel.get(name="PBS").description == "phosphate-buffered saline"
    assert "✓ added 1 record with ULabel.name for \"cell_medium\": 'PBS'" in caplog.text
    curator.add_new_from("columns")
    assert ln.Feature.get(name="batch").dtype == "int"
    assert curator.validate() is True
    artifact = curator.save_artifact(key="curated/pbs.parquet")
    assert artifact.feature_sets[0].n == 5


def test_columns_must_be_features(registries: ln.Instance):
    df = make_df(unknown_column=[1, 2, 3, 4])
    curator = curator_for(df)
    assert curator.validate() is False
    assert curator.non_validated == {"columns": ["unknown_column"]}


def test_categorical_features_are_validated_without_being_listed(registries: ln.Instance):
    curator = ln.Curator.from_df(make_df(cell_type=["B cell", "neuron", "x", "B cell"]))
    assert curator.validate() is False
    assert curator.non_validated == {"cell_type": ["x"]}  # neuron comes from the public source


def test_values_from_the_public_source_are_added_only_when_everything_validates(
    registries: ln.Instance, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO, logger="lamin_core")
    bad = curator_for(make_df(cell_type=["neuron"] * 4, cell_medium=["nope"] * 4))
    before = table_counts()
    assert bad.validate() is False
    assert table_counts() == before  # neuron was found in CL but not created
    good = curator_for(make_df(cell_type=["neuron"] * 4))
    assert good.validate() is True
    assert "✓ added 1 record from public with CellType.name for \"cell_type\": 'neuron'" in (
        caplog.text
    )
    assert bt.CellType.get(name="neuron").ontology_id == "CL:0000540"


def test_numbers_in_a_categorical_are_reported(registries: ln.Instance):
    curator = curator_for(make_df(cell_medium=[1, 2, 1, 2]))
    before = table_counts()
    assert curator.validate() is False
    assert curator.non_validated == {"cell_medium": ["1", "2"]}
    with pytest.raises(ln.ValidationError, match=r"'cell_medium' holds numbers \(int64: 1, 2\)"):
        curator.save_artifact(key="curated/numbers.parquet")
    with pytest.raises(ln.ValidationError, match="Cannot add records"):
        curator.add_new_from("cell_medium")
    assert table_counts() == before


def test_missing_values_in_categoricals_are_ignored_and_logged(
    registries: ln.Instance, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO, logger="lamin_core")
    df = make_df(cell_medium=["DMSO", None, np.nan, "DMSO"])
    curator = curator_for(df)
    assert curator.validate() is True
    assert '"cell_medium" has 2 missing values (None/NaN); they are ignored' in caplog.text
    artifact = curator.save_artifact(key="curated/missing.parquet")
    assert artifact.labels.get("cell_medium").list("name") == ["DMSO"]


def test_feature_dtype_must_fit_the_column(registries: ln.Instance):
    curator = curator_for(make_df(donor_age=["thirty", "forty", "fifty", "sixty"]))
    assert curator.validate() is False
    assert curator.non_validated == {"columns": ["donor_age"]}
    with pytest.raises(
        ln.ValidationError, match="Column 'donor_age' failed dtype check for 'int': got object"
    ):
        curator.save_artifact(key="curated/age.parquet")


def test_categorical_against_another_registry_than_the_feature_dtype(registries: ln.Instance):
    curator = ln.Curator.from_df(make_df(), categoricals={"cell_medium": bt.CellType.name})
    assert curator.validate() is False
    assert "cell_medium" in curator.non_validated["columns"]


def test_bad_construction_arguments(registries: ln.Instance):
    with pytest.raises(ln.ValidationError, match="'cell_mediun', which is not a column"):
        ln.Curator.from_df(make_df(), categoricals={"cell_mediun": ln.ULabel.name})
    with pytest.raises(ln.ValidationError, match=r"Unknown organism 'humann'.*'human'"):
        ln.Curator.from_df(make_df(), organism="humann")
    with pytest.raises(ln.ValidationError, match="pass organism='human'"):
        ln.Curator.from_df(make_df(gene=["CD4"] * 4), categoricals={"gene": bt.Gene.symbol})
    with pytest.raises(ln.ValidationError, match="expects a pandas DataFrame"):
        ln.Curator.from_df([1, 2])  # type: ignore[arg-type]
    with pytest.raises(ln.ValidationError, match=r"Cannot resolve the field 'Label\.name'"):
        ln.Curator.from_df(make_df(), categoricals={"cell_medium": "Label.name"})
    with pytest.raises(ln.FieldError, match=r"Unknown field 'nam' for ULabel\. Did you mean"):
        ln.Curator.from_df(make_df(), categoricals={"cell_medium": "ULabel.nam"})
    by_text = ln.Curator.from_df(make_df(), categoricals={"cell_type": "bionty.CellType.name"})
    assert by_text.validate() is True


@pytest.mark.parametrize("not_a_schema", ["cells", 3, {"cell_type": "bt.CellType"}, ln.Feature])
@pytest.mark.parametrize("curator", ["DataFrameCurator", "AnnDataCurator"])
def test_a_schema_argument_that_is_no_schema_is_an_invalid_argument(
    registries: ln.Instance, curator: str, not_a_schema: object
):
    anndata = pytest.importorskip("anndata")
    data = make_df() if curator == "DataFrameCurator" else anndata.AnnData(obs=make_df())
    with pytest.raises(ln.errors.InvalidArgument, match="schema argument must be a Schema"):
        getattr(ln.curators, curator)(data, schema=not_a_schema)


def test_lookup_from_registry_and_public_source(registries: ln.Instance):
    curator = curator_for(make_df())
    assert curator.lookup()["cell_medium"].dmso.name == "DMSO"
    assert curator.lookup(public=True).cell_type.neuron.ontology_id == "CL:0000540"
    with pytest.raises(ln.ValidationError, match="Unknown key 'cell_typ'"):
        curator.lookup()["cell_typ"]


def test_saving_the_same_data_twice_returns_the_same_artifact(registries: ln.Instance):
    first = curator_for(make_df()).save_artifact(key="curated/df.parquet")
    counts = table_counts()
    second = curator_for(make_df()).save_artifact(key="curated/df.parquet")
    assert second.id == first.id
    assert table_counts() == counts


def test_save_artifact_records_the_run(registries: ln.Instance):
    transform = ln.Transform(key="curate.py", type="script").save()
    run = ln.Run(transform=transform).save()
    artifact = curator_for(make_df()).save_artifact(key="curated/run.parquet", run=run)
    assert artifact.run_id == run.id


def test_save_artifact_revises_a_previous_version(registries: ln.Instance):
    first = curator_for(make_df()).save_artifact(key="curated/df.parquet")
    changed = make_df(donor_age=[31, 41, 51, 61])
    second = curator_for(changed).save_artifact(key="curated/v2.parquet", revises=first)
    assert second.stem_uid == first.stem_uid and second.id != first.id
    assert second.is_latest and not ln.Artifact.get(first.id).is_latest
    assert second.feature_sets[0].id == first.feature_sets[0].id  # same columns, same schema


def test_validate_ends_its_read_transaction(registries: ln.Instance):
    curator = curator_for(make_df(cell_medium=["nope"] * 4))
    assert curator.validate() is False
    assert not ln.get_instance().session.in_transaction()
