"""Read parts of an ``.h5ad`` file with h5py: one row of a matrix, one dataframe column.

anndata reads whole elements; a training loop needs one row at a time. These functions read the
on-disk layout anndata writes (its "encoding-type" attributes) directly, so a row of a dense
array or of a CSR matrix costs one small read, and a categorical column is its codes and
categories. They are pure functions of an open file, so they need no catalog.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import h5py
import numpy as np
import pandas as pd

from lamin_core.errors import ValidationError

__all__ = [
    "MISSING_CODE",
    "RowReader",
    "column_values",
    "encode_column",
    "frame_index",
    "join_variables",
    "sorted_labels",
]

MISSING_CODE = -1  # the encoded label of a missing value or of the unknown label
# per file: (its columns to keep, in joint order) for inner, (where its columns go) for outer
Alignment = tuple[np.ndarray | None, np.ndarray | None]


class RowReader:
    """Read rows of one matrix element (a dense array or a CSR matrix) of an open file.

    Raises:
        ValidationError: the element is another encoding (CSC rows cannot be read lazily).
    """

    def __init__(self, element: h5py.Dataset | h5py.Group, *, where: str) -> None:
        if isinstance(element, h5py.Dataset):
            self.encoding, shape = "array", element.shape
            self._parts: tuple[Any, ...] = (element,)
        else:
            self.encoding = str(element.attrs.get("encoding-type"))
            shape = tuple(element.attrs.get("shape", ()))
            if self.encoding == "csr_matrix":
                self._parts = (element["data"], element["indices"], element["indptr"])
        if self.encoding not in ("array", "csr_matrix"):
            raise ValidationError(
                f"{where} is stored as {self.encoding!r}; rows can be read lazily from a dense "
                "array or a CSR matrix only. Save it as CSR (adata.X = adata.X.tocsr()) and "
                "register the new version."
            )
        self.shape = tuple(int(n) for n in shape)

    def read(self, row: int) -> np.ndarray:
        """Return one row as a dense 1-D array of the stored dtype."""
        if self.encoding == "array":
            return np.asarray(self._parts[0][row])
        data, indices, indptr = self._parts
        start, end = indptr[row : row + 2]
        values = np.zeros(self.shape[1], dtype=data.dtype)
        values[indices[start:end]] = data[start:end]
        return values


def frame_index(frame: h5py.Group) -> np.ndarray:
    """Return the index of an AnnData dataframe group (obs or var)."""
    return column_values(frame[frame.attrs["_index"]])


def column_values(element: h5py.Dataset | h5py.Group) -> np.ndarray:
    """Return a dataframe column as anndata wrote it; missing values are None.

    Raises:
        ValidationError: an encoding other than a plain, categorical or nullable array.
    """
    if isinstance(element, h5py.Dataset):
        return _array(element)
    encoding = element.attrs.get("encoding-type")
    if encoding == "categorical":
        categories = _array(element["categories"])
        codes = element["codes"][()]
        values = np.empty(len(codes), dtype=object)
        present = codes >= 0
        values[present] = categories[codes[present]]
        return values
    if "values" in element and "mask" in element:  # nullable-integer, -boolean, -string-array
        values = _array(element["values"]).astype(object)
        values[element["mask"][()]] = None
        return values
    raise ValidationError(
        f"Cannot read the column {element.name!r}: its encoding {encoding!r} is not a "
        "categorical, nullable or plain array."
    )


def _array(dataset: h5py.Dataset) -> np.ndarray:
    if h5py.check_string_dtype(dataset.dtype) is not None:
        return np.asarray(dataset.asstr()[()], dtype=object)
    return np.asarray(dataset[()])


def join_variables(
    names: list[list[str]], join: str | None, files: Sequence[str]
) -> tuple[list[str], list[Alignment]]:
    """Return the joint variables and, per file, how its columns map onto them.

    Args:
        names: Each file's variable names.
        join: "inner" (shared by all, in the first file's order), "outer" (all, sorted), or
            None (no alignment: every file must have as many variables).
        files: How to name each file in errors.

    Raises:
        ValidationError: duplicate names, no shared variable, or different widths with None.
    """
    if join is None or all(file_names == names[0] for file_names in names):
        widths = sorted({len(file_names) for file_names in names})
        if len(widths) > 1:
            raise ValidationError(
                f"The AnnData files have different numbers of variables ({widths}); with "
                "join=None they must be equal. Use join='inner' or join='outer'."
            )
        return names[0], [(None, None)] * len(names)
    for where, file_names in zip(files, names):
        index = pd.Index(file_names)
        if index.has_duplicates:
            raise ValidationError(
                f"{where} has the variable {index[index.duplicated()][0]!r} more than once, so "
                "its columns cannot be joined by name. Make var_names unique or use join=None."
            )
    if join == "inner":
        shared = set(names[0]).intersection(*names[1:])
        joint = [name for name in names[0] if name in shared]
        if not joint:
            raise ValidationError(
                "The AnnData files share no variable, so join='inner' leaves nothing. Use "
                "join='outer'."
            )
    else:
        joint = sorted({name for file_names in names for name in file_names})
    position = {name: i for i, name in enumerate(joint)}
    alignments: list[Alignment] = []
    for file_names in names:
        if file_names == joint:
            alignments.append((None, None))
        elif join == "inner":
            own = {name: i for i, name in enumerate(file_names)}
            alignments.append((np.array([own[name] for name in joint]), None))
        else:
            alignments.append((None, np.array([position[name] for name in file_names])))
    return joint, alignments


def is_missing(value: Any) -> bool:
    """Return whether an obs value is missing (None or a float NaN)."""
    return value is None or (isinstance(value, float) and value != value)


def sorted_labels(columns: Sequence[np.ndarray], *, unknown: Any = None) -> list[Any]:
    """Return the distinct present values of the columns, sorted (numbers before text)."""
    distinct = {value for column in columns for value in column.tolist()}
    present = [v for v in distinct if not is_missing(v) and (unknown is None or v != unknown)]
    return sorted(present, key=lambda value: (isinstance(value, str), value))


def encode_column(column: np.ndarray, labels: list[Any]) -> np.ndarray:
    """Return the codes of a column's values in `labels`; others get MISSING_CODE."""
    codes = pd.Categorical(column.tolist(), categories=labels).codes
    return np.asarray(codes, dtype=np.int64)
