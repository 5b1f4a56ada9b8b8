"""Reading rows and columns of .h5ad files with h5py, and joining variables: generated cases.

The files are written by anndata itself (``anndata.io.write_elem``) into in-memory HDF5 files,
so these properties hold for the layout anndata really writes, without a catalog.
"""

from __future__ import annotations

import itertools

import anndata as ad
import h5py
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from anndata.io import write_elem
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import lamin_core as ln
from lamin_core.artifacts.h5ad_elements import (
    MISSING_CODE,
    RowReader,
    column_values,
    encode_column,
    join_variables,
    sorted_labels,
)

counter = itertools.count()


def memory_file() -> h5py.File:
    return h5py.File(f"mem{next(counter)}.h5", "w", driver="core", backing_store=False)


matrices = hnp.arrays(
    np.float32,
    hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=12),
    elements=st.sampled_from([0.0, 0.0, 1.0, 2.5, -3.0]),
)


@settings(max_examples=40, deadline=None)
@given(matrix=matrices, as_csr=st.booleans())
def test_row_reader_returns_each_row_as_stored(matrix: np.ndarray, as_csr: bool):
    with memory_file() as file:
        write_elem(file, "X", sp.csr_matrix(matrix) if as_csr else matrix)
        reader = RowReader(file["X"], where="X")
        assert reader.shape == matrix.shape
        for row in range(matrix.shape[0]):
            values = reader.read(row)
            assert values.dtype == np.float32
            np.testing.assert_array_equal(values, matrix[row])


def test_row_reader_refuses_csc_with_the_fix():
    with memory_file() as file:
        write_elem(file, "X", sp.csc_matrix(np.eye(3, dtype=np.float32)))
        with pytest.raises(ln.ValidationError, match=r"'csc_matrix'.*tocsr\(\)"):
            RowReader(file["X"], where="X of 'abc'")


@st.composite
def variable_sets(draw: st.DrawFn) -> list[list[str]]:
    pool = [f"g{i}" for i in range(10)]
    n_files = draw(st.integers(1, 4))
    return [
        draw(st.permutations(pool).map(lambda p: p[: draw(st.integers(1, len(pool)))]))
        for _ in range(n_files)
    ]


def aligned(row: np.ndarray, alignment: tuple, width: int) -> np.ndarray:
    take, put = alignment
    if take is not None:
        return row[take]
    if put is not None:
        joint = np.zeros(width, dtype=row.dtype)
        joint[put] = row
        return joint
    return row


@settings(max_examples=60, deadline=None)
@given(names=variable_sets(), join=st.sampled_from(["inner", "outer"]))
def test_join_variables_puts_every_value_under_its_name(names: list[list[str]], join: str):
    shared = set(names[0]).intersection(*names[1:])
    if join == "inner" and not shared:
        with pytest.raises(ln.ValidationError, match=r"share no variable.*join='outer'"):
            join_variables(names, join, [f"f{i}" for i in range(len(names))])
        return
    joint, alignments = join_variables(names, join, [f"f{i}" for i in range(len(names))])
    if all(file_names == names[0] for file_names in names):
        assert joint == names[0]  # identical files: nothing to align
    else:
        assert set(joint) == (shared if join == "inner" else set().union(*names))
    for file_names, alignment in zip(names, alignments):
        row = np.arange(1, len(file_names) + 1, dtype=np.float64)  # value = 1 + column
        by_name = dict(zip(file_names, row))
        result = aligned(row, alignment, len(joint))
        assert result.tolist() == [by_name.get(name, 0.0) for name in joint]


def test_join_variables_refuses_duplicates_and_unequal_widths():
    with pytest.raises(ln.ValidationError, match=r"f1 has the variable 'a' more than once"):
        join_variables([["a", "b"], ["a", "a"]], "inner", ["f0", "f1"])
    with pytest.raises(ln.ValidationError, match=r"different numbers.*\[1, 2\]"):
        join_variables([["a", "b"], ["c"]], None, ["f0", "f1"])


labels = st.lists(st.sampled_from(["B", "T", "NK", None]), min_size=1, max_size=20)


@settings(max_examples=40, deadline=None)
@given(values=labels, as_category=st.booleans())
def test_columns_and_codes_round_trip(values: list[str | None], as_category: bool):
    column = pd.Categorical(values) if as_category else pd.array(values, dtype="string")
    frame = pd.DataFrame({"cell_type": column}, index=[str(i) for i in range(len(values))])
    # nullable strings are written as values and a mask (anndata >= 0.11, opt-in)
    with memory_file() as file, ad.settings.override(allow_write_nullable_strings=True):
        write_elem(file, "obs", frame)
        read = column_values(file["obs"]["cell_type"])
    assert [None if pd.isna(v) else v for v in read.tolist()] == values
    known = sorted_labels([read])
    assert known == sorted({v for v in values if v is not None})
    codes = encode_column(read, known)
    assert [known[c] if c != MISSING_CODE else None for c in codes] == values
