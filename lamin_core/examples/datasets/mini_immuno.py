"""The "mini immuno" example: two tiny expression datasets with sample metadata, and their schema.

Each dataset has three samples, three genes (Ensembl ids, or symbols) and observation metadata:
a perturbation, cell types called by an expert and by a model, an assay, a concentration, a
treatment time and a donor; dataset-level metadata sits in ``attrs`` (DataFrame) or ``uns``
(AnnData). Flags introduce the mistakes curation is for (typos, synonyms, outdated genes).

Examples:
    >>> df = mini_immuno.get_dataset1(with_cell_type_synonym=True)
    >>> schema = mini_immuno.define_mini_immuno_schema_flexible()
    >>> ln.Artifact.from_df(df, key="examples/dataset1.parquet", schema=schema).save()
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from lamin_core import bio as bt
from lamin_core.errors import DoesNotExist, ValidationError
from lamin_core.examples._records import saved
from lamin_core.models import Artifact, Feature, GeneralRecord, Schema

if TYPE_CHECKING:
    import anndata as ad


__all__ = [
    "define_features_labels",
    "define_mini_immuno_schema_flexible",
    "get_dataset1",
    "get_dataset2",
    "save_mini_immuno_datasets",
]

Otype = Literal["DataFrame", "AnnData"]

_GENE_IDS = {  # symbol -> Ensembl id of the genes the datasets measure
    "CD8A": "ENSG00000153563",
    "CD4": "ENSG00000010610",
    "CD14": "ENSG00000170458",
    "CD38": "ENSG00000004468",
}
_OUTDATED_GENE_ID = "ENSG00000278198"  # retired from Ensembl: validation flags it
_STUDY_NOTE = "We had a great time performing this study and the results look compelling."
_ABT_CELL = "CD8-positive, alpha-beta T cell"


def _genes(symbols: list[str], *, as_symbols: bool) -> list[str]:
    return symbols if as_symbols else [_GENE_IDS.get(s, s) for s in symbols]


def _study_date(year: int, month: int, day: int, *, as_iso_string: bool) -> str | dt.date:
    date = dt.date(year, month, day)
    return date.isoformat() if as_iso_string else date


def _assemble(
    genes: list[str],
    counts: list[list[int]],
    obs: dict[str, Any],
    samples: list[Any],
    metadata: dict[str, Any],
    otype: Otype,
) -> pd.DataFrame | ad.AnnData:
    """Put counts (a row per gene), obs columns and metadata into a DataFrame or an AnnData."""
    if otype not in ("DataFrame", "AnnData"):
        raise ValidationError(f"Unknown otype {otype!r}: use 'DataFrame' or 'AnnData'.")
    df = pd.DataFrame(dict(zip(genes, counts, strict=True)) | obs, index=samples)
    if otype == "DataFrame":
        df.attrs.update(metadata)
        return df
    import anndata as ad

    # list-valued columns cannot be written to h5ad: the AnnData form leaves them out
    obs_columns = [c for c in obs if not isinstance(obs[c][0], list)]
    return ad.AnnData(df[genes], obs=df[obs_columns], uns=dict(metadata))


def get_dataset1(
    otype: Otype = "DataFrame",
    gene_symbols_in_index: bool = False,
    with_typo: bool = False,
    with_cell_type_synonym: bool = False,
    with_cell_type_typo: bool = False,
    with_gene_typo: bool = False,
    with_outdated_gene: bool = False,
    with_wrong_subtype: bool = False,
    with_index_type_mismatch: bool = False,
    with_date_as_iso_string: bool = True,
) -> pd.DataFrame | ad.AnnData:
    """Return the first dataset: samples 1-3 x CD8A, CD4, CD14, with obs and dataset metadata.

    Args:
        otype: ``"DataFrame"`` (metadata in ``attrs``) or ``"AnnData"`` (metadata in ``uns``;
            the list-valued ``donor_ethnicity`` column is left out).
        gene_symbols_in_index: Name the genes by symbol instead of Ensembl id.
        with_typo: Misspell the perturbation IFNG as IFNJ.
        with_cell_type_synonym: Write the expert's "B cell" as its synonym "B-cell".
        with_cell_type_typo: Write "CD8-positive, alpha-beta T cell" as "CD8-pos alpha-beta T cell".
        with_gene_typo: Replace the third gene with "GeneTypo".
        with_outdated_gene: With `with_gene_typo`, use a retired Ensembl id instead.
        with_wrong_subtype: Use a label that is no perturbation as the third perturbation.
        with_index_type_mismatch: Name the third sample 0 (an int among strings).
        with_date_as_iso_string: Give ``date_of_study`` as "2024-12-01" rather than a date.
    """
    third_gene = "CD14"
    if with_gene_typo:
        third_gene = _OUTDATED_GENE_ID if with_outdated_gene else "GeneTypo"
    genes = _genes(["CD8A", "CD4", third_gene], as_symbols=gene_symbols_in_index)
    abt_cell = "CD8-pos alpha-beta T cell" if with_cell_type_typo else _ABT_CELL
    obs = {
        "perturbation": pd.Categorical(
            [
                "DMSO",
                "IFNJ" if with_typo else "IFNG",
                "ulabel_but_not_perturbation" if with_wrong_subtype else "DMSO",
            ]
        ),
        "sample_note": ["was ok", "looks naah", "pretty! 🤩"],
        "cell_type_by_expert": pd.Categorical(
            ["B-cell" if with_cell_type_synonym else "B cell", abt_cell, abt_cell]
        ),
        "cell_type_by_model": pd.Categorical(["B cell", "T cell", "T cell"]),
        "assay_oid": pd.Categorical(["EFO:0008913"] * 3),
        "concentration": ["0.1%", "200 nM", "0.1%"],
        "treatment_time_h": [24, 24, 6],
        "donor": ["D0001", "D0002", None],
        "donor_ethnicity": [
            ["Chinese", "Singaporean Chinese"],
            ["Chinese", "Han Chinese"],
            ["Chinese"],
        ],
    }
    samples: list[Any] = ["sample1", "sample2", 0 if with_index_type_mismatch else "sample3"]
    metadata = {
        "temperature": 21.6,
        "experiment": "Experiment 1",
        "date_of_study": _study_date(2024, 12, 1, as_iso_string=with_date_as_iso_string),
        "study_note": _STUDY_NOTE,
    }
    return _assemble(genes, [[1, 2, 3], [3, 4, 5], [5, 6, 7]], obs, samples, metadata, otype)


def get_dataset2(
    otype: Otype = "DataFrame",
    gene_symbols_in_index: bool = False,
    with_date_as_iso_string: bool = True,
) -> pd.DataFrame | ad.AnnData:
    """Return the second dataset: samples 4-6 x CD8A, CD4, CD38 (arguments as `get_dataset1`)."""
    genes = _genes(["CD8A", "CD4", "CD38"], as_symbols=gene_symbols_in_index)
    obs = {
        "perturbation": pd.Categorical(["DMSO", "IFNG", "IFNG"]),
        "cell_type_by_model": pd.Categorical(["B cell", "T cell", "T cell"]),
        "concentration": ["0.1%", "200 nM", "0.1%"],
        "treatment_time_h": [24, 24, 6],
        "donor": ["D0003", "D0003", "D0004"],
    }
    metadata = {
        "temperature": 22.6,
        "experiment": "Experiment 2",
        "date_of_study": _study_date(2025, 2, 13, as_iso_string=with_date_as_iso_string),
    }
    samples = ["sample4", "sample5", "sample6"]
    return _assemble(genes, [[2, 3, 3], [3, 4, 5], [4, 2, 3]], obs, samples, metadata, otype)


def define_features_labels() -> None:
    """Save the features and labels that validate the mini immuno datasets (idempotent).

    Saves the record type ``Perturbations`` with DMSO and IFNG, the cell types B cell and T cell
    from the Cell Ontology, and the feature type ``ImmunoSamples`` with the datasets' features.
    """
    perturbations = saved(GeneralRecord, {"name": "Perturbations", "is_type": True})
    for name in ("DMSO", "IFNG"):
        saved(GeneralRecord, {"name": name, "type": perturbations})
    for name in ("B cell", "T cell"):
        cell_type = bt.CellType.from_source(name=name)
        if cell_type is None:
            raise DoesNotExist(f"No cell type {name!r} in the Cell Ontology source of the catalog.")
        cell_type.save()
    immuno = saved(Feature, {"name": "ImmunoSamples", "is_type": True})
    features: list[dict[str, Any]] = [
        {"name": "perturbation", "dtype": perturbations},
        {"name": "cell_type_by_expert", "dtype": bt.CellType},
        {"name": "cell_type_by_model", "dtype": bt.CellType},
        {"name": "concentration", "dtype": str},
        {"name": "donor", "dtype": str, "nullable": True},
        {"name": "assay_oid", "dtype": bt.ExperimentalFactor.ontology_id},
        {"name": "treatment_time_h", "dtype": "num", "coerce": True},
        {"name": "donor_ethnicity", "dtype": list[bt.Ethnicity]},
    ]
    for fields in features:
        saved(Feature, {"name": fields.pop("name"), "type": immuno}, **fields)


def define_mini_immuno_schema_flexible() -> Schema:
    """Return the schema ``mini_immuno``: perturbation, cell_type_by_model and assay_oid required,
    further columns validated when they are features of the type ``ImmunoSamples``.

    Saves the features and labels first (`define_features_labels`); idempotent.
    """
    define_features_labels()
    existing = Schema.filter(name="mini_immuno").one_or_none()
    if existing is not None:
        return existing
    required = [Feature.get(name=n) for n in ("perturbation", "cell_type_by_model", "assay_oid")]
    return Schema(
        name="mini_immuno",
        features=required,
        itype=Feature.get(name="ImmunoSamples"),
        flexible=True,
    ).save()


def save_mini_immuno_datasets() -> None:
    """Save both datasets as artifacts validated by the ``mini_immuno`` schema.

    The keys are ``examples/dataset1.parquet`` and ``examples/dataset2.parquet``.
    """
    schema = define_mini_immuno_schema_flexible()
    for key, df in (
        ("examples/dataset1.parquet", get_dataset1()),
        ("examples/dataset2.parquet", get_dataset2()),
    ):
        Artifact.from_df(df, key=key, schema=schema).save()
