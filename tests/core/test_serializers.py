"""DataFrames and AnnData objects: stored so they load back the same, or refused with the reason."""

from __future__ import annotations

import datetime as dt
import io
import warnings
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import lamin_core as ln
from lamin_core.storage.serializers import LABELS_KEY
from tests.snapshot import catalog_snapshot

ROWS = [("a", 1), ("b", 2), ("c", 3)]

ROUND_TRIPS = {
    "multiindex": pd.MultiIndex.from_tuples(ROWS, names=["key", "n"]),
    "multiindex-unnamed": pd.MultiIndex.from_tuples(ROWS),
    "multiindex-int-names": pd.MultiIndex.from_tuples(ROWS, names=[0, 1]),
    "multiindex-same-names": pd.MultiIndex.from_tuples(ROWS, names=["k", "k"]),
    "multiindex-one-level": pd.MultiIndex.from_arrays([["a", "b", "c"]], names=["key"]),
    "multiindex-datetimes": pd.MultiIndex.from_arrays(
        [pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03"]), [1, 2, 3]]
    ),
    "range": pd.RangeIndex(5, 8),
    "strings-named": pd.Index(["x", "y", "z"], name="sample"),
    "int-name": pd.Index(["x", "y", "z"], name=7),
    "categorical": pd.CategoricalIndex(["x", "y", "x"]),
}


@pytest.mark.parametrize("index", ROUND_TRIPS.values(), ids=ROUND_TRIPS.keys())
def test_dataframe_loads_back_with_the_same_index(sqlite_instance: ln.Instance, index: pd.Index):
    df = pd.DataFrame({"value": [1.5, 2.5, np.nan], "name": ["p", None, "r"]}, index=index)
    loaded = ln.Artifact.from_df(df, key="tables/t.parquet").save().load()
    pd.testing.assert_frame_equal(loaded, df)
    assert type(loaded.index) is type(df.index)


@pytest.mark.parametrize(
    "columns",
    [[0, 1], ["a", 1], [True, False], [1.5, None], pd.Index(["a", "b"], name="field")],
    ids=["ints", "mixed", "bools", "float-none", "named"],
)
def test_dataframe_loads_back_with_the_same_column_labels(
    sqlite_instance: ln.Instance, columns: Any
):
    df = pd.DataFrame([[1, 2], [3, 4]], columns=columns)
    loaded = ln.Artifact.from_df(df, key="tables/t.parquet").save().load()
    pd.testing.assert_frame_equal(loaded, df)


def test_plain_dataframe_is_written_as_pandas_writes_it(sqlite_instance: ln.Instance):
    df = pd.DataFrame({"a": [1, 2], "b": ["x", None]}, index=pd.Index(["p", "q"], name="id"))
    df.attrs = {"source": "lab"}
    artifact = ln.Artifact.from_df(df, key="t.parquet").save()
    written = io.BytesIO()
    df.to_parquet(written, engine="pyarrow", compression="snappy")
    # the same bytes, so the same content hash as catalogs written before
    assert artifact.cache().read_bytes() == written.getvalue()
    assert LABELS_KEY not in pq.read_schema(artifact.cache()).metadata
    assert artifact.load().attrs == df.attrs


@pytest.mark.parametrize(
    ("df", "message"),
    [
        (pd.DataFrame([[1, 2]], columns=["a", "a"]), r"duplicate column names: 'a'"),
        (pd.DataFrame({"z": [1 + 2j]}), r"column 'z' holds complex numbers"),
        (pd.DataFrame({"m": [1, "x"]}), r"column 'm' mixes values of types number, str"),
        (pd.DataFrame({"m": [b"x", 2.5]}), r"column 'm' mixes values of types bytes, number"),
        (pd.DataFrame({"d": [None, dt.date(2000, 1, 1), 0]}), "types date, number"),
        (pd.DataFrame({"t": [True, 1, None]}), "types bool, number"),
        (pd.DataFrame([[1, 2]], columns=[("a", 1), ("b", 2)]), "column labels"),
        (pd.DataFrame([[1, 2]], columns=["1", 1]), "read the same as text"),
        (pd.DataFrame([[1, 2]], columns=pd.CategoricalIndex(["a", "b"])), "column labels"),
        (pd.DataFrame({"v": [1]}, index=pd.Index([("a", 1)], tupleize_cols=False)), "parquet"),
    ],
    ids=[
        "duplicate-columns",
        "complex",
        "mixed-object",
        "bytes-and-floats",
        "dates-and-ints",
        "bools-and-ints",
        "tuple-labels",
        "clashing-labels",
        "categorical-labels",
        "index-of-tuples",
    ],
)
def test_dataframe_parquet_cannot_hold_is_refused_and_nothing_is_stored(
    instance: ln.Instance, df: pd.DataFrame, message: str
):
    before = catalog_snapshot(instance)
    with pytest.raises(ln.errors.ValidationError, match=message):
        ln.Artifact.from_df(df, key="tables/bad.parquet").save()
    assert catalog_snapshot(instance) == before  # no row, no stored or staging file


def test_curator_refuses_duplicate_column_names(sqlite_instance: ln.Instance):
    df = pd.DataFrame([["DMSO", "IFNG"]], columns=["cell_medium", "cell_medium"])
    with pytest.raises(ln.errors.ValidationError, match="duplicate column names"):
        ln.Curator.from_df(df, categoricals={"cell_medium": ln.ULabel.name})


def test_curator_save_of_a_frame_parquet_cannot_hold_is_a_validation_error(
    instance: ln.Instance,
):
    ln.Feature(name="note", dtype="str").save()
    ln.Feature(name="cell_medium", dtype="cat[ULabel]").save()
    ln.ULabel.from_values(["DMSO", "IFNG"], create=True).save()
    df = pd.DataFrame({"note": ["a", 5], "cell_medium": ["DMSO", "IFNG"]})
    curator = ln.Curator.from_df(df)
    assert curator.validate()
    before = catalog_snapshot(instance)
    with pytest.raises(ln.errors.ValidationError, match="column 'note'"):
        curator.save_artifact(key="tables/curated.parquet")
    assert catalog_snapshot(instance) == before


@pytest.mark.parametrize(
    ("adata", "message"),
    [
        (ad.AnnData(X=np.array([["a", 1]], dtype=object)), "X has dtype object"),
        (ad.AnnData(X=np.ones((2, 2)), uns={"model": object()}), "writing key 'model'"),
        (ad.AnnData(X=np.ones((2, 2)), uns={"nested": {"f": len}}), "writing key 'f'"),
    ],
    ids=["object-X", "object-in-uns", "function-in-nested-uns"],
)
def test_anndata_h5ad_cannot_hold_is_refused_and_nothing_is_stored(
    instance: ln.Instance, adata: ad.AnnData, message: str
):
    before = catalog_snapshot(instance)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # anndata warns about the object values it is given
        with pytest.raises(ln.errors.ValidationError, match=message):
            ln.Artifact.from_anndata(adata, key="data/bad.h5ad").save()
    assert catalog_snapshot(instance) == before
