"""Catalog metadata in Dagster: tags and kinds to select by, owners, table name, column lineage."""

from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
from dagster_helpers import Catalog, step_error

import lamin_core as ln
import lamin_core.bio as bt
from lamin_dagster import SchemaError, lamin_asset, lamin_external_assets
from lamin_dagster.catalog_tags import kind_of_suffix, owner_of, tag_part

SCHEMA = {"categoricals": {"species": "ULabel.name"}, "add_new_from": "all"}


def _tags(spec: dg.AssetSpec) -> dict[str, str]:
    """Return the tags of a spec, without the ``dagster/kind/...`` tags that hold its kinds."""
    return {k: v for k, v in spec.tags.items() if not k.startswith("dagster/kind/")}


def _selected(defs: dg.Definitions, selection: str) -> set[str]:
    """Return the assets a selection string picks, as the asset catalog's filter does.

    (``include_sources``: external assets count, as in the UI; jobs cannot execute them.)
    """
    graph = defs.resolve_asset_graph()
    keys = dg.AssetSelection.from_string(selection, include_sources=True).resolve(graph)
    return {key.to_user_string() for key in keys}


@lamin_asset(
    key=["iris", "iris_table"],
    schema=SCHEMA,
    labels=["Candidate marker study 1", "derived"],
    group_name="tables",
)
def iris_table() -> pd.DataFrame:
    return pd.DataFrame(
        {"sepal_length": [5.1, 4.9, 6.3], "species": ["setosa", "setosa", "virginica"]}
    )


@lamin_asset(key=["images", "nuclei"], suffix=".jpg")
def nuclei(context: dg.AssetExecutionContext) -> Path:
    path = Path(context.instance.root_directory) / "nuclei.jpg"
    path.write_bytes(b"\xff\xd8\xff not really a jpeg")
    return path


@lamin_asset(
    key=["iris", "species_counts"],
    ins={"table": dg.AssetIn(key=["iris", "iris_table"])},
    column_lineage={"species": [("table", "species")], "n": [("table", "sepal_length")]},
)
def species_counts(table: pd.DataFrame) -> pd.DataFrame:
    return table.groupby("species").size().rename("n").reset_index()


def test_lamin_asset_definitions_carry_tags_kinds_and_table_name() -> None:
    specs = {spec.key.to_user_string(): spec for a in (iris_table, nuclei) for spec in a.specs}

    table = specs["iris/iris_table"]
    assert _tags(table) == {
        "ULabel/Candidate_marker_study_1": "",
        "ULabel/derived": "",
        "lamin_column/species": "ULabel",
    }
    assert table.kinds == {"lamin", "parquet"}  # from the return annotation
    assert table.metadata["dagster/table_name"] == "iris.iris_table"
    assert specs["images/nuclei"].kinds == {"lamin", "jpeg"}  # from suffix=


def test_open_source_tag_and_kind_selection_finds_catalog_assets() -> None:
    defs = dg.Definitions(assets=[iris_table, nuclei, species_counts])

    assert _selected(defs, "tag:ULabel/derived") == {"iris/iris_table"}
    assert _selected(defs, "tag:lamin_column/species=ULabel") == {"iris/iris_table"}
    assert _selected(defs, "tag:ULabel/Candidate_marker_study_1") == {"iris/iris_table"}
    assert _selected(defs, "kind:jpeg") == {"images/nuclei"}
    assert _selected(defs, "kind:parquet") == {"iris/iris_table", "iris/species_counts"}


def test_materializations_carry_categories_and_column_lineage(
    catalog: Catalog, dagster_instance: dg.DagsterInstance
) -> None:
    result = dg.materialize(
        [iris_table, species_counts], resources=catalog.resources(), instance=dagster_instance
    )

    assert result.success
    table = result.asset_materializations_for_node("iris__iris_table")[-1].metadata
    assert table["lamin/categories"].value == {"species": ["setosa", "virginica"]}
    counts = result.asset_materializations_for_node("iris__species_counts")[-1].metadata
    lineage = counts["dagster/column_lineage"].value
    assert lineage.deps_by_column["species"] == [
        dg.TableColumnDep(asset_key=dg.AssetKey(["iris", "iris_table"]), column_name="species")
    ]
    assert [d.column_name for d in lineage.deps_by_column["n"]] == ["sepal_length"]


def test_column_lineage_must_name_an_upstream_asset() -> None:
    with pytest.raises(dg.DagsterInvalidDefinitionError, match="not one of its upstream assets"):

        @lamin_asset(column_lineage={"n": [("orders", "amount")]})
        def totals() -> pd.DataFrame:
            return pd.DataFrame({"n": [1]})


def test_column_lineage_of_a_missing_column_fails_before_saving(
    sqlite_catalog: Catalog, dagster_instance: dg.DagsterInstance
) -> None:
    @lamin_asset(
        ins={"table": dg.AssetIn(key=["iris", "iris_table"])},
        column_lineage={"typo": [("table", "species")]},
    )
    def counts(table: pd.DataFrame) -> pd.DataFrame:
        return table.head(1)

    result = dg.materialize(
        [iris_table, counts],
        resources=sqlite_catalog.resources(),
        instance=dagster_instance,
        raise_on_error=False,
    )

    assert "column_lineage names columns the output does not have: 'typo'" in step_error(
        result, "counts"
    )
    assert [a.key for a in sqlite_catalog.artifacts()] == ["iris/iris_table.parquet"]


def test_a_declared_suffix_the_output_does_not_have_fails_before_saving(
    sqlite_catalog: Catalog, dagster_instance: dg.DagsterInstance
) -> None:
    @lamin_asset(suffix=".csv")
    def table() -> pd.DataFrame:
        return pd.DataFrame({"n": [1]})

    result = dg.materialize(
        [table],
        resources=sqlite_catalog.resources(),
        instance=dagster_instance,
        raise_on_error=False,
    )

    assert "declares suffix '.csv', but its output (DataFrame" in step_error(result)
    assert "would be stored as '.parquet'" in step_error(result)
    assert sqlite_catalog.artifacts() == []


def test_a_suffix_without_its_dot_is_refused_at_definition() -> None:
    with pytest.raises(dg.DagsterInvalidDefinitionError, match="suffix 'jpg' is not a file suffix"):

        @lamin_asset(suffix="jpg")
        def image() -> Path:
            return Path("x.jpg")


def test_external_assets_carry_labels_kind_owner_and_table_name(
    catalog: Catalog, tmp_path: Path
) -> None:
    counts = tmp_path / "counts.csv.gz"
    pd.DataFrame({"n": [1]}).to_csv(counts, index=False)
    with catalog.instance.activate():
        team = ln.User(handle="team:single-cell", name="Single-cell team").save()
        study = ln.ULabel(name="Candidate marker study 2").save()
        b_cell = bt.CellType(name="B cell").save()
        ln.Feature(name="cell_type", dtype="cat[bionty.CellType]").save()
        artifact = ln.Artifact(counts, key="notebook/cell counts.csv.gz")
        artifact.created_by_id = team.id
        artifact.save()
        artifact.labels.add(study)
        artifact.labels.add(b_cell, feature="cell_type")  # a validated categorical value
        (spec,) = lamin_external_assets([artifact])

    assert spec.key == dg.AssetKey(["notebook", "cell_counts"])
    assert _tags(spec) == {"ULabel/Candidate_marker_study_2": "", "CellType/B_cell": ""}
    assert spec.kinds == {"lamin", "csv"}
    assert spec.owners == ["team:single-cell"]
    assert spec.metadata["dagster/table_name"] == "notebook.cell_counts"
    defs = dg.Definitions(assets=[spec])
    assert _selected(defs, "tag:ULabel/Candidate_marker_study_2") == {"notebook/cell_counts"}
    assert _selected(defs, 'owner:"team:single-cell"') == {"notebook/cell_counts"}
    assert _selected(defs, "tag:CellType/B_cell") == {"notebook/cell_counts"}


@pytest.mark.parametrize(
    ("handle", "owner"),
    [
        ("ana@example.org", "ana@example.org"),
        ("team:bio", "team:bio"),
        ("testuser1", None),
        ("team:", None),
        ("not an@email", None),
    ],
)
def test_only_emails_and_teams_become_owners(handle: str, owner: str | None) -> None:
    assert owner_of(ln.User(handle=handle)) == owner


@pytest.mark.parametrize(
    ("suffix", "kind"),
    [
        (".parquet", "parquet"),
        (".h5ad", "h5ad"),
        (".fastq.gz", "fastq"),
        (".jpg", "jpeg"),
        ("", None),
    ],
)
def test_kinds_follow_the_format(suffix: str, kind: str | None) -> None:
    assert kind_of_suffix(suffix) == kind


def test_tag_parts_are_valid_dagster_tag_names() -> None:
    long = tag_part("x" * 100)

    assert tag_part("B cell/T cell (CD8+)") == "B_cell_T_cell__CD8__"
    assert tag_part("IFN-gamma 1.5") == "IFN_gamma_1_5"  # selectable without quotes
    assert len(long) == 63 and long != tag_part("x" * 101)


def test_column_lineage_may_be_declared_as_definition_metadata(
    sqlite_catalog: Catalog, dagster_instance: dg.DagsterInstance
) -> None:
    lineage = dg.TableColumnLineage(
        deps_by_column={
            "species": [dg.TableColumnDep(asset_key=iris_table.key, column_name="species")]
        }
    )

    @lamin_asset(
        ins={"table": dg.AssetIn(key=["iris", "iris_table"])},
        metadata={"dagster/column_lineage": lineage},
    )
    def species(table: pd.DataFrame) -> pd.DataFrame:
        return table[["species"]].drop_duplicates()

    result = dg.materialize(
        [iris_table, species], resources=sqlite_catalog.resources(), instance=dagster_instance
    )

    (materialization,) = result.asset_materializations_for_node("species")
    assert materialization.metadata["dagster/column_lineage"].value == lineage


def test_malformed_column_lineage_is_refused_at_definition() -> None:
    with pytest.raises(SchemaError, match=r"column 'n' has 'orders', which is not an \(upstream"):

        @lamin_asset(column_lineage={"n": ["orders"]})
        def totals() -> pd.DataFrame:
            return pd.DataFrame({"n": [1]})


def test_the_io_manager_reports_the_validated_values_of_plain_assets(
    sqlite_catalog: Catalog, dagster_instance: dg.DagsterInstance
) -> None:
    @dg.asset(metadata={"lamin/schema": SCHEMA})
    def samples() -> pd.DataFrame:
        return pd.DataFrame({"species": ["setosa", "versicolor", "setosa"]})

    result = dg.materialize(
        [samples], resources=sqlite_catalog.resources(), instance=dagster_instance
    )

    (materialization,) = result.asset_materializations_for_node("samples")
    assert materialization.metadata["lamin/categories"].value == {
        "species": ["setosa", "versicolor"]
    }
