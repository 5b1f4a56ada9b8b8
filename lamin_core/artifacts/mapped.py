"""A map-style dataset over the rows of a collection's AnnData files, for training loops.

A model that trains on single cells draws rows at random from many ``.h5ad`` files, more than fit
in memory. `MappedCollection` reads what each row needs and nothing else: at construction the
shape, the variable names and the requested ``.obs`` columns of every file (small); per row, one
row of ``X`` (a dense row, or the slice of a CSR matrix) straight from the HDF5 file.

It follows PyTorch's map-style dataset protocol (``__len__``, ``__getitem__``) without importing
torch. Files are opened per process on first use, so DataLoader workers, forked or spawned, each
open their own handles instead of sharing one across processes.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any

import h5py
import numpy as np
import pandas as pd

from lamin_core.artifacts.access import artifact_location, cache
from lamin_core.artifacts.backed_anndata import REMOTE_BLOCK_SIZE
from lamin_core.errors import StorageError, ValidationError, did_you_mean
from lamin_core.storage.paths import filesystem, is_local
from lamin_core.tracking import record_input_artifact

if TYPE_CHECKING:
    from lamin_core.models.artifact import Collection

__all__ = ["JOINS", "MappedCollection", "RowSource", "mapped_collection"]

JOINS = ("inner", "outer", None)
MISSING_CODE = -1  # the encoded label of a missing obs value
# per file: (its columns to keep, in joint order) for inner, (where its columns go) for outer
_Alignment = tuple[np.ndarray | None, np.ndarray | None]


@dataclass(frozen=True)
class RowSource:
    """One AnnData file: the artifact's uid, its filesystem and path, whether the path is local."""

    uid: str
    fs: Any
    path: str
    is_local: bool


@dataclass
class _FileLayout:
    """What construction learnt about one file: size, encoding and how its columns align."""

    n_obs: int
    n_vars: int
    encoding: str  # "array" (dense) or "csr_matrix"
    take: np.ndarray | None  # inner join: the file's columns to keep, in joint order
    put: np.ndarray | None  # outer join: where each of the file's columns goes in the joint row


class MappedCollection:
    """Rows of several AnnData files as one indexable dataset, read lazily from storage.

    ``dataset[i]`` is a dict: ``"X"`` the i-th row over the joint variables (a 1-D numpy array),
    and one entry per obs key (an int code when labels are encoded, see `encoders`).

    Examples:
        >>> with collection.mapped(obs_keys=["cell_type"]) as dataset:
        ...     row = dataset[0]
        ...     row["X"].shape, dataset.encoders["cell_type"]
    """

    def __init__(
        self,
        sources: Sequence[RowSource],
        obs_keys: str | Sequence[str] | None = None,
        *,
        join: str | None = "inner",
        encode_labels: bool | Sequence[str] = True,
        layer: str | None = None,
        dtype: str | None = "float32",
    ) -> None:
        """Read every file's shape, variables and obs columns; keep the files open.

        Raises:
            ValidationError: an unknown join, obs key or layer, a CSC matrix, variables that
                cannot be joined, or no source.
        """
        if join not in JOINS:
            raise ValidationError(f"Unknown join {join!r}: use one of {JOINS!r}.")
        if not sources:
            raise ValidationError("A MappedCollection needs at least one AnnData file.")
        self.obs_keys = [obs_keys] if isinstance(obs_keys, str) else list(obs_keys or [])
        encoded = self.obs_keys if encode_labels is True else list(encode_labels or [])
        unknown = [key for key in encoded if key not in self.obs_keys]
        if unknown:
            raise ValidationError(
                f"encode_labels names {unknown[0]!r}, which is not among obs_keys "
                f"{self.obs_keys!r}. Add it to obs_keys or drop it from encode_labels."
            )
        self.sources = list(sources)
        self.layer = layer
        self.dtype = dtype
        self._matrix_path = "X" if layer is None else f"layers/{layer}"
        self._is_closed = False
        self._forget_handles()
        names = [self._read_var_names(index) for index in range(len(self.sources))]
        columns = [
            {key: self._read_obs_column(index, key) for key in self.obs_keys}
            for index in range(len(self.sources))
        ]
        self.var_joint, alignments = _join_variables(names, join, self.sources)
        self._layouts = [
            self._read_layout(index, len(names[index]), alignment)
            for index, alignment in enumerate(alignments)
        ]
        self.encoders: dict[str, dict[Any, int]] = {}
        self._obs: dict[str, list[np.ndarray]] = {}
        for key in self.obs_keys:
            values = [file_columns[key] for file_columns in columns]
            if key in encoded:
                labels = _sorted_labels(values)
                self.encoders[key] = {label: code for code, label in enumerate(labels)}
                self._obs[key] = [_encode(column, labels) for column in values]
            else:
                self._obs[key] = values
        self._offsets = np.cumsum([0] + [layout.n_obs for layout in self._layouts])

    # --- the dataset protocol ----------------------------------------------------------------

    def __len__(self) -> int:
        return int(self._offsets[-1])

    def __getitem__(self, index: int) -> dict[str, Any]:
        if self._is_closed:
            raise StorageError(
                "This MappedCollection is closed. Make a new one with collection.mapped()."
            )
        position = int(index)
        if position < 0:
            position += len(self)
        if not 0 <= position < len(self):
            raise IndexError(f"row {index} is out of range for {len(self)} rows")
        file_index = int(np.searchsorted(self._offsets, position, side="right")) - 1
        row = position - int(self._offsets[file_index])
        item: dict[str, Any] = {"X": self._read_row(file_index, row)}
        for key in self.obs_keys:
            value = self._obs[key][file_index][row]
            item[key] = int(value) if key in self.encoders else value
        return item

    @property
    def shape(self) -> tuple[int, int]:
        """The number of rows of all files and the number of joint variables."""
        return len(self), len(self.var_joint)

    @property
    def n_obs_per_file(self) -> list[int]:
        """The number of rows of each file, in collection order."""
        return [layout.n_obs for layout in self._layouts]

    def label_weights(self, obs_keys: str | Sequence[str]) -> np.ndarray:
        """Return a weight per row, the inverse frequency of its labels, for weighted sampling.

        Rows whose label combination is rare get large weights, so that
        ``torch.utils.data.WeightedRandomSampler(weights, n)`` draws the classes evenly.

        Raises:
            ValidationError: a key that is not an encoded obs key.
        """
        keys = [obs_keys] if isinstance(obs_keys, str) else list(obs_keys)
        for key in keys:
            if key not in self.encoders:
                raise ValidationError(
                    f"label_weights needs encoded obs keys; {key!r} is not one. Encoded keys: "
                    f"{', '.join(self.encoders) or 'none'}.{did_you_mean(key, self.encoders)}"
                )
        codes = np.stack([np.concatenate(self._obs[key]) for key in keys], axis=1)
        _, inverse, counts = np.unique(codes, axis=0, return_inverse=True, return_counts=True)
        return 1.0 / counts[inverse.reshape(-1)]

    # --- files ---------------------------------------------------------------------------------

    def close(self) -> None:
        """Close every file this process opened; rows cannot be read afterwards."""
        if self._pid == os.getpid():
            for file in self._files.values():
                file.close()
            for handle in self._handles.values():
                handle.close()
        self._forget_handles()
        self._is_closed = True

    def __enter__(self) -> MappedCollection:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __getstate__(self) -> dict[str, Any]:
        # a pickled copy (a spawned DataLoader worker) opens its own files
        state = self.__dict__.copy()
        state.update(_files={}, _handles={}, _datasets={}, _pid=None)
        return state

    def __repr__(self) -> str:
        return (
            f"MappedCollection({len(self.sources)} files, {len(self)} rows x "
            f"{len(self.var_joint)} variables, obs_keys={self.obs_keys!r})"
        )

    def _forget_handles(self) -> None:
        self._files: dict[int, h5py.File] = {}
        self._handles: dict[int, Any] = {}
        self._datasets: dict[int, tuple[Any, ...]] = {}
        self._pid: int | None = os.getpid()

    def _file(self, index: int) -> h5py.File:
        """Return the open HDF5 file of a source, opening it in this process if needed."""
        if self._pid != os.getpid():
            # forked: the parent's HDF5 handles must not be shared; drop them (unclosed)
            self._forget_handles()
        file = self._files.get(index)
        if file is None:
            source = self.sources[index]
            if source.is_local:
                file = h5py.File(source.path, "r")
            else:
                handle = source.fs.open(source.path, "rb", block_size=REMOTE_BLOCK_SIZE)
                self._handles[index] = handle
                file = h5py.File(handle, "r")
            self._files[index] = file
        return file

    def _matrix(self, index: int) -> h5py.Dataset | h5py.Group:
        file = self._file(index)
        if self._matrix_path not in file:
            layers = sorted(file["layers"]) if "layers" in file else []
            raise ValidationError(
                f"AnnData {self.sources[index].uid!r} has no layer {self.layer!r}; its layers: "
                f"{', '.join(layers) or 'none'}.{did_you_mean(str(self.layer), layers)}"
            )
        return file[self._matrix_path]

    def _read_layout(self, index: int, n_vars: int, alignment: _Alignment) -> _FileLayout:
        matrix = self._matrix(index)
        if isinstance(matrix, h5py.Dataset):
            encoding, shape = "array", matrix.shape
        else:
            encoding, shape = str(matrix.attrs.get("encoding-type")), tuple(matrix.attrs["shape"])
        if encoding not in ("array", "csr_matrix"):
            raise ValidationError(
                f"AnnData {self.sources[index].uid!r} stores {self._matrix_path} as {encoding!r}; "
                "rows can be read lazily from a dense array or a CSR matrix only. Save it as CSR "
                "(adata.X = adata.X.tocsr()) and register the new version."
            )
        if len(shape) != 2 or shape[1] != n_vars:
            raise ValidationError(
                f"AnnData {self.sources[index].uid!r}: {self._matrix_path} has shape {shape}, "
                f"but var has {n_vars} rows."
            )
        take, put = alignment
        return _FileLayout(int(shape[0]), n_vars, encoding, take, put)

    def _read_row(self, index: int, row: int) -> np.ndarray:
        layout = self._layouts[index]
        datasets = self._datasets.get(index)
        if datasets is None:
            matrix = self._matrix(index)
            datasets = (
                (matrix,)
                if layout.encoding == "array"
                else (matrix["data"], matrix["indices"], matrix["indptr"])
            )
            self._datasets[index] = datasets
        if layout.encoding == "array":
            values = np.asarray(datasets[0][row])
        else:
            data, indices, indptr = datasets
            start, end = indptr[row : row + 2]
            values = np.zeros(layout.n_vars, dtype=data.dtype)
            values[indices[start:end]] = data[start:end]
        if layout.take is not None:
            values = values[layout.take]
        elif layout.put is not None:
            joint = np.zeros(len(self.var_joint), dtype=values.dtype)
            joint[layout.put] = values
            values = joint
        return values if self.dtype is None else values.astype(self.dtype, copy=False)

    def _read_var_names(self, index: int) -> list[str]:
        return [str(name) for name in _frame_index(self._file(index)["var"])]

    def _read_obs_column(self, index: int, key: str) -> np.ndarray:
        obs = self._file(index)["obs"]
        if key not in obs or key == obs.attrs.get("_index"):
            columns = [name for name in obs if name != obs.attrs.get("_index")]
            raise ValidationError(
                f"AnnData {self.sources[index].uid!r} has no obs column {key!r}; its columns: "
                f"{', '.join(sorted(columns)) or 'none'}.{did_you_mean(key, columns)}"
            )
        return _column_values(obs[key])


def mapped_collection(
    collection: Collection,
    obs_keys: str | Sequence[str] | None = None,
    *,
    join: str | None = "inner",
    encode_labels: bool | Sequence[str] = True,
    layer: str | None = None,
    dtype: str | None = "float32",
    stream: bool = False,
) -> MappedCollection:
    """Return a `MappedCollection` over a collection's ``.h5ad`` members (see Collection.mapped).

    Raises:
        ValidationError: the collection is empty or has members that are not ``.h5ad``.
    """
    members = list(collection.artifacts)
    others = [f"{a.uid!r} ({a.suffix or 'no suffix'})" for a in members if a.suffix != ".h5ad"]
    if not members or others:
        found = f"members {', '.join(others)} are not" if others else "it has no members, none is"
        raise ValidationError(
            f"Collection {collection.key!r} cannot be mapped: {found} AnnData files. "
            "collection.mapped() reads .h5ad artifacts; use collection.open() for parquet ones."
        )
    sources = []
    for artifact in members:
        fs, path = artifact_location(artifact)
        local = is_local(artifact.storage.root)
        if not local and not stream:
            # a local copy serves random row reads far faster than ranged network requests
            path = str(cache(artifact, record_input=False))
            fs, local = filesystem(path)[0], True
        sources.append(RowSource(artifact.uid, fs, path, local))
    mapped = MappedCollection(
        sources, obs_keys, join=join, encode_labels=encode_labels, layer=layer, dtype=dtype
    )
    for artifact in members:
        record_input_artifact(artifact)
    return mapped


def _join_variables(
    names: list[list[str]], join: str | None, sources: Sequence[RowSource]
) -> tuple[list[str], list[_Alignment]]:
    """Return the joint variables and, per file, how its columns map onto them."""
    if join is None:
        widths = {len(file_names) for file_names in names}
        if len(widths) > 1:
            raise ValidationError(
                f"The AnnData files have different numbers of variables ({sorted(widths)}); "
                "with join=None they must be equal. Use join='inner' or join='outer'."
            )
        return names[0], [(None, None)] * len(names)
    for source, file_names in zip(sources, names):
        if len(set(file_names)) != len(file_names):
            duplicate = pd.Index(file_names)[pd.Index(file_names).duplicated()][0]
            raise ValidationError(
                f"AnnData {source.uid!r} has the variable {duplicate!r} more than once, so its "
                f"columns cannot be joined by name. Make var_names unique or use join=None."
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
        joint = list(dict.fromkeys(name for file_names in names for name in file_names))
    position = {name: i for i, name in enumerate(joint)}
    alignments: list[_Alignment] = []
    for file_names in names:
        if file_names == joint:
            alignments.append((None, None))
        elif join == "inner":
            own = {name: i for i, name in enumerate(file_names)}
            alignments.append((np.array([own[name] for name in joint]), None))
        else:
            alignments.append((None, np.array([position[name] for name in file_names])))
    return joint, alignments


def _frame_index(frame: h5py.Group) -> np.ndarray:
    """Return the index of an AnnData dataframe group (obs or var)."""
    return _column_values(frame[frame.attrs["_index"]])


def _column_values(element: h5py.Dataset | h5py.Group) -> np.ndarray:
    """Return a dataframe column as written by anndata; missing values are None."""
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
        f"Cannot read the obs column {element.name!r}: its encoding {encoding!r} is not a "
        "categorical, nullable or plain array."
    )


def _array(dataset: h5py.Dataset) -> np.ndarray:
    if h5py.check_string_dtype(dataset.dtype) is not None:
        return np.asarray(dataset.asstr()[()], dtype=object)
    return np.asarray(dataset[()])


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def _sorted_labels(columns: list[np.ndarray]) -> list[Any]:
    """Return the distinct present values of the columns, sorted (numbers before text)."""
    distinct = {value for column in columns for value in column.tolist()}
    present = [value for value in distinct if not _is_missing(value)]
    return sorted(present, key=lambda value: (isinstance(value, str), value))


def _encode(column: np.ndarray, labels: list[Any]) -> np.ndarray:
    """Return the codes of a column's values in `labels`; missing values get MISSING_CODE."""
    codes = pd.Categorical(column.tolist(), categories=labels).codes
    return np.asarray(codes, dtype=np.int64)
