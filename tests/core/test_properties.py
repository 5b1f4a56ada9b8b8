"""Generated input: every outcome is a success or a LaminError, and a LaminError changes nothing.

Filters (every lookup, random field names, random unicode with NUL and lone surrogates, huge
integers, inf and NaN, lists of any length), search strings, feature values (random JSON-like
documents) and DataFrame/AnnData shapes, on both backends. A success must also mean what it
says: a stored feature value reads back, a stored DataFrame loads back equal.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import warnings
from collections.abc import Callable
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lamin_core as ln
from lamin_core.query.field_lookups import LOOKUPS, TRANSFORMS
from tests.snapshot import catalog_snapshot

SETTINGS = settings(
    # a deeper search: LAMIN_TEST_MAX_EXAMPLES=1000 pytest tests/core/test_properties.py
    max_examples=int(os.environ.get("LAMIN_TEST_MAX_EXAMPLES", "60")),
    deadline=None,
    database=None,
    # one catalog serves all examples of a test: each compares the catalog before and after
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

ANY_CHAR = st.characters(codec=None, exclude_categories=())  # NUL and lone surrogates too
TEXT = st.text(ANY_CHAR, max_size=12)
NAMES = st.one_of(TEXT, st.sampled_from(["DMSO", "IFNG", "tables/a.parquet", "B cell", ""]))
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True),
    NAMES,
    st.dates(),
    st.datetimes(timezones=st.just(dt.timezone.utc)),
    st.floats(width=32).map(np.float32),
    st.integers(-(2**62), 2**62).map(np.int64),
)
MANY = st.one_of(
    st.integers(1001, 2500).map(lambda n: list(range(n))),  # one array/JSON parameter
    st.integers(1001, 1500).map(lambda n: [f"name{i}" for i in range(n)]),
)
VALUES = st.one_of(
    SCALARS,
    st.lists(SCALARS, max_size=8),
    st.tuples(SCALARS, SCALARS),
    MANY,
    st.dictionaries(TEXT, SCALARS, max_size=2),
)
FEATURES = {
    "temperature": "float",
    "n_cells": "int",
    "study": "cat[ULabel]",
    "meta": "dict",
    "when": "date",
    "protocol": "str",
    "tags": "list[str]",
    "is_control": "bool",
}
JSON_LIKE = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=True, allow_infinity=True),
        st.floats(width=32).map(np.float32),
        NAMES,
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(NAMES, st.integers(-3, 3)), children, max_size=4),
    ),
    max_leaves=8,
)


def outcome(instance: ln.Instance, action: Callable[[], Any]) -> tuple[bool, Any]:
    """Run `action`: (True, result) on success; (False, error) for a LaminError that changed
    nothing. Any other exception fails the test."""
    before = catalog_snapshot(instance)
    try:
        return True, action()
    except ln.errors.LaminError as error:
        assert catalog_snapshot(instance) == before, f"{type(error).__name__}: {error}"
        return False, error


@pytest.fixture
def catalog(instance: ln.Instance) -> ln.Instance:
    """A catalog with artifacts, labels, feature values, runs: something for filters to find."""
    for name, dtype in FEATURES.items():
        ln.Feature(name=name, dtype=dtype).save()
    labels = ln.ULabel.from_values(["DMSO", "IFNG", "B cell"], create=True).save()
    transform = ln.Transform(key="pipeline.py", type="script").save()
    run = ln.Run(transform=transform, params={"lr": 0.1, "tags": ["a"]}).save()
    for i in range(3):
        artifact = ln.Artifact.from_df(pd.DataFrame({"a": [i]}), key=f"tables/{i}.parquet")
        artifact.run = run
        artifact.save()
        artifact.labels.add(labels[i])
        artifact.features.add_values(
            {"temperature": 20.5 + i, "n_cells": 10 * i, "study": labels[i].name}
        )
    return instance


def lookup_names(registry: type) -> st.SearchStrategy[str]:
    """Names such as ``key__icontains``, ``run__transform__key``, ``temperature__gt``, junk."""
    fields = sorted({*registry._field_names(), *registry._relation_names()})  # type: ignore[attr-defined]
    if registry is ln.Artifact:
        fields += list(FEATURES)
    parts = st.one_of(
        st.sampled_from(fields), st.sampled_from([*LOOKUPS, *TRANSFORMS, "name", "id"]), TEXT
    )
    return st.lists(parts, min_size=1, max_size=3).map("__".join)


REGISTRIES = [ln.Artifact, ln.ULabel, ln.Run, ln.Feature]


@SETTINGS
@given(data=st.data())
def test_filter_with_any_names_and_values_succeeds_or_raises_a_lamin_error(
    catalog: ln.Instance, data: st.DataObject
):
    registry = data.draw(st.sampled_from(REGISTRIES))
    first = {data.draw(lookup_names(registry)): data.draw(VALUES)}
    second = {data.draw(lookup_names(registry)): data.draw(VALUES)}
    total = registry.filter().count()  # type: ignore[attr-defined]

    def query() -> tuple[int, int, int]:
        matching = registry.filter(**first).count()  # type: ignore[attr-defined]
        excluded = registry.exclude(**first).count()  # type: ignore[attr-defined]
        combined = registry.filter(ln.Q(**first) | ~ln.Q(**second)).count()  # type: ignore[attr-defined]
        return matching, excluded, combined

    succeeded, result = outcome(catalog, query)
    if succeeded:
        matching, excluded, combined = result
        assert 0 <= matching <= total and 0 <= excluded <= total and 0 <= combined <= total


@SETTINGS
@given(data=st.data())
def test_order_by_and_include_with_any_names_succeed_or_raise_a_lamin_error(
    catalog: ln.Instance, data: st.DataObject
):
    registry = data.draw(st.sampled_from(REGISTRIES))
    names = data.draw(st.lists(lookup_names(registry), max_size=2))
    order = [("-" if data.draw(st.booleans()) else "") + name for name in names]
    outcome(catalog, lambda: registry.filter().order_by(*order).list())  # type: ignore[attr-defined]
    outcome(catalog, lambda: registry.df(include=names))  # type: ignore[attr-defined]


@SETTINGS
@given(data=st.data())
def test_search_with_any_string_succeeds_or_raises_a_lamin_error(
    catalog: ln.Instance, data: st.DataObject
):
    registry = data.draw(st.sampled_from([ln.ULabel, ln.Artifact, ln.Feature]))
    string = data.draw(st.one_of(TEXT, st.text(ANY_CHAR, min_size=500, max_size=600), SCALARS))
    field = data.draw(st.one_of(st.none(), st.sampled_from(["name", "key", "description"]), TEXT))
    succeeded, result = outcome(catalog, lambda: registry.search(string, field=field).df())  # type: ignore[attr-defined]
    if succeeded:
        assert "score" in result.columns


@SETTINGS
@given(data=st.data())
def test_add_values_with_any_json_like_value_succeeds_or_raises_a_lamin_error(
    catalog: ln.Instance, data: st.DataObject
):
    artifact = ln.Artifact.get(key="tables/0.parquet")
    name = data.draw(st.one_of(st.sampled_from(list(FEATURES)), TEXT))
    value = data.draw(JSON_LIKE)
    succeeded, _ = outcome(catalog, lambda: artifact.features.add_values({name: value}))
    if succeeded:
        assert name in artifact.features.get_values()
    # whatever was stored, every query on the feature still runs
    if name in FEATURES:
        ln.Artifact.filter(**{f"{name}__isnull": False}).count()
        if FEATURES[name] in ("float", "int"):
            ln.Artifact.filter(**{f"{name}__gt": 1}).count()
    ln.Artifact.df(features=True)


@st.composite
def frames(draw: st.DrawFn) -> pd.DataFrame:
    """DataFrames of random shape: dtypes, column labels (duplicates, non-strings), indexes."""
    n_rows = draw(st.integers(0, 4))
    kinds = draw(
        st.lists(
            st.sampled_from(
                ["int", "float", "bool", "str", "mixed", "complex", "datetime", "category", "Int64"]
            ),
            max_size=4,
        )
    )
    columns = [column(draw, kind, n_rows) for kind in kinds]
    labels = draw(
        st.lists(
            st.one_of(
                st.sampled_from(["a", "b", "c"]), TEXT, st.integers(-2, 2), st.booleans(), st.none()
            ),
            min_size=len(kinds),
            max_size=len(kinds),
        )
    )
    df = pd.concat(columns, axis=1) if columns else pd.DataFrame(index=range(n_rows))
    df.columns = pd.Index(labels, dtype=object) if labels else df.columns
    index_kind = draw(st.sampled_from(["range", "str", "int", "multi", "multi1", "datetime"]))
    names = draw(st.lists(st.one_of(st.none(), st.sampled_from(["k", "n"]), st.integers(0, 1))))
    df.index = index(index_kind, n_rows, names)
    return df


def column(draw: st.DrawFn, kind: str, n: int) -> pd.Series:
    values: dict[str, Callable[[], Any]] = {
        "int": lambda: draw(st.lists(st.integers(-(2**63), 2**63 - 1), min_size=n, max_size=n)),
        "float": lambda: draw(st.lists(st.floats(), min_size=n, max_size=n)),
        "bool": lambda: draw(st.lists(st.booleans(), min_size=n, max_size=n)),
        "str": lambda: draw(st.lists(st.one_of(st.none(), TEXT), min_size=n, max_size=n)),
        "mixed": lambda: draw(st.lists(SCALARS, min_size=n, max_size=n)),
        "complex": lambda: [complex(i, 1) for i in range(n)],
        "datetime": lambda: pd.date_range("2024-01-01", periods=n, freq="D"),
        "category": lambda: pd.Categorical(draw(st.lists(NAMES, min_size=n, max_size=n))),
        "Int64": lambda: pd.array(
            draw(st.lists(st.one_of(st.none(), st.integers(-5, 5)), min_size=n, max_size=n)),
            dtype="Int64",
        ),
    }
    made = values[kind]()
    dtype = object if kind in ("mixed", "str") else None
    return pd.Series(made, dtype=dtype).reset_index(drop=True)


def index(kind: str, n: int, names: list[Any]) -> pd.Index:
    if kind == "range":
        return pd.RangeIndex(n)
    if kind == "str":
        return pd.Index([f"s{i}" for i in range(n)], dtype=object, name=(names or [None])[0])
    if kind == "int":
        return pd.Index(range(10, 10 + n), name=(names or [None])[0])
    if kind == "datetime":
        return pd.date_range("2024-01-01", periods=n, freq="h")
    levels = 1 if kind == "multi1" else 2
    arrays = [[f"l{i}" for i in range(n)], list(range(n))][:levels]
    level_names = [*names, None, None][:levels]
    return pd.MultiIndex.from_arrays(arrays, names=level_names)


counter = itertools.count()


@SETTINGS
@given(df=frames())
def test_any_dataframe_is_stored_and_loads_back_equal_or_raises_a_lamin_error(
    instance: ln.Instance, df: pd.DataFrame
):
    key = f"frames/{next(counter)}.parquet"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas' own warnings on odd frames
        succeeded, artifact = outcome(instance, lambda: ln.Artifact.from_df(df, key=key).save())
    if succeeded:
        pd.testing.assert_frame_equal(artifact.load(), df)


@st.composite
def anndatas(draw: st.DrawFn) -> ad.AnnData:
    n_obs, n_vars = draw(st.integers(0, 3)), draw(st.integers(0, 3))
    dtype = draw(st.sampled_from([np.float32, np.int64, np.bool_, object]))
    x = np.zeros((n_obs, n_vars), dtype=dtype)
    uns = draw(st.dictionaries(st.sampled_from(["a", "b", "c"]), JSON_LIKE, max_size=3))
    if draw(st.booleans()):
        uns["object"] = draw(st.sampled_from([object(), len, {1, 2}]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ad.AnnData(X=x, uns=uns)


@SETTINGS
@given(adata=anndatas())
def test_any_anndata_is_stored_and_loads_back_or_raises_a_lamin_error(
    instance: ln.Instance, adata: ad.AnnData
):
    key = f"data/{next(counter)}.h5ad"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        succeeded, artifact = outcome(
            instance, lambda: ln.Artifact.from_anndata(adata, key=key).save()
        )
    if succeeded:
        loaded = artifact.load()
        assert loaded.shape == adata.shape and set(loaded.uns) == set(adata.uns)
        np.testing.assert_array_equal(np.asarray(loaded.X), np.asarray(adata.X))
