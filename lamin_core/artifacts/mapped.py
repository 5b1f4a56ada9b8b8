"""A map-style dataset over the rows of a collection's AnnData files, for training loops.

A model that trains on single cells draws rows at random from many ``.h5ad`` files, more than fit
in memory. `MappedCollection` reads what each row needs and nothing else: at construction the
shape, the variable names and the requested ``.obs`` columns of every file (small); per row, one
row of ``X`` (a dense row, or the slice of a CSR matrix) straight from the HDF5 file.

It follows PyTorch's map-style dataset protocol (``__len__``, ``__getitem__``) without importing
torch, and LaminDB's ``MappedCollection`` interface. Files are opened per process on first use,
so DataLoader workers, forked or spawned, each open their own handles instead of sharing one.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any

import h5py
import numpy as np

from lamin_core.artifacts.access import artifact_location, cache
from lamin_core.artifacts.backed_anndata import REMOTE_BLOCK_SIZE
from lamin_core.artifacts.h5ad_elements import (
    MISSING_CODE,
    RowReader,
    column_values,
    encode_column,
    frame_index,
    join_variables,
    sorted_labels,
)
from lamin_core.errors import StorageError, ValidationError, did_you_mean
from lamin_core.storage.paths import filesystem, is_local
from lamin_core.tracking import record_input_artifact

if TYPE_CHECKING:
    from lamin_core.models.artifact import Collection

__all__ = ["JOINS", "MISSING_CODE", "MappedCollection", "RowSource", "mapped_collection"]

JOINS = ("inner", "outer", None)


@dataclass(frozen=True)
class RowSource:
    """One AnnData file: the artifact's uid, its filesystem and path, whether the path is local."""

    uid: str
    fs: Any
    path: str
    is_local: bool


class MappedCollection:
    """Rows of several AnnData files as one indexable dataset, read lazily from storage.

    ``dataset[i]`` is a dict: each of `layers_keys` (``"X"`` for ``.X``) holds the i-th row over
    the joint variables (a 1-D numpy array), ``"obsm_<key>"`` the row of each obsm key, each obs
    key its value (an int code when encoded: see `encoders`; missing and unknown labels are
    -1), and ``"_store_idx"`` the position of the file the row comes from.

    Examples:
        >>> with collection.mapped(obs_keys=["cell_type"]) as dataset:
        ...     row = dataset[0]
        ...     row["X"].shape, dataset.encoders["cell_type"]
    """

    def __init__(
        self,
        sources: Sequence[RowSource],
        layers_keys: str | Sequence[str] | None = None,
        obs_keys: str | Sequence[str] | None = None,
        obsm_keys: str | Sequence[str] | None = None,
        obs_filter: dict[str, Any] | None = None,
        join: str | None = "inner",
        encode_labels: bool | Sequence[str] = True,
        unknown_label: Any = None,
        dtype: str | None = None,
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
        self.layers_keys = _as_list(layers_keys) or ["X"]
        self.obs_keys = _as_list(obs_keys)
        self.obsm_keys = _as_list(obsm_keys)
        encoded = self.obs_keys if encode_labels is True else list(encode_labels or [])
        _check_subset("encode_labels", encoded, self.obs_keys, "obs_keys")
        if isinstance(unknown_label, dict):
            unknown = dict(unknown_label)
            _check_subset("unknown_label", list(unknown), encoded, "the encoded obs keys")
        else:
            unknown = {} if unknown_label is None else dict.fromkeys(encoded, unknown_label)
        self.sources = list(sources)
        self.dtype = dtype
        self._closed = False
        self._forget_handles()
        n_files = len(self.sources)
        self._shapes = [self._reader(i, self.layers_keys[0]).shape for i in range(n_files)]
        for index in range(n_files):
            for key in [*self.layers_keys[1:], *(f"obsm_{k}" for k in self.obsm_keys)]:
                self._check_rows(index, key)
        names = [[str(v) for v in frame_index(self._file(i)["var"])] for i in range(n_files)]
        for index, file_names in enumerate(names):
            if len(file_names) != self._shapes[index][1]:
                raise ValidationError(
                    f"AnnData {self.sources[index].uid!r}: {self.layers_keys[0]} has shape "
                    f"{self._shapes[index]}, but var has {len(file_names)} rows."
                )
        where = [f"AnnData {source.uid!r}" for source in self.sources]
        self.var_joint, self._alignments = join_variables(names, join, where)
        self._rows = [self._selected_rows(i, obs_filter or {}) for i in range(n_files)]
        self.encoders: dict[str, dict[Any, int]] = {}
        self._obs: dict[str, list[np.ndarray]] = {}
        for key in self.obs_keys:
            columns = [self._obs_column(i, key)[self._rows[i]] for i in range(n_files)]
            if key in encoded:
                labels = sorted_labels(columns, unknown=unknown.get(key))
                self.encoders[key] = {label: code for code, label in enumerate(labels)}
                if unknown.get(key) is not None:
                    self.encoders[key][unknown[key]] = MISSING_CODE
                self._obs[key] = [encode_column(column, labels) for column in columns]
            else:
                self._obs[key] = columns
        self.n_obs_list = [len(rows) for rows in self._rows]
        self._offsets = np.cumsum([0, *self.n_obs_list])

    # --- the dataset protocol ----------------------------------------------------------------

    def __len__(self) -> int:
        return int(self._offsets[-1])

    def __getitem__(self, index: int) -> dict[str, Any]:
        if self._closed:
            raise StorageError(
                "This MappedCollection is closed. Make a new one with collection.mapped()."
            )
        position = int(index)
        if position < 0:
            position += len(self)
        if not 0 <= position < len(self):
            raise IndexError(f"row {index} is out of range for {len(self)} rows")
        file_index = int(np.searchsorted(self._offsets, position, side="right")) - 1
        selected = position - int(self._offsets[file_index])
        row = int(self._rows[file_index][selected])
        item: dict[str, Any] = {}
        for key in self.layers_keys:
            item[key] = self._convert(self._aligned(file_index, self._read(file_index, key, row)))
        for key in self.obsm_keys:
            item[f"obsm_{key}"] = self._convert(self._read(file_index, f"obsm_{key}", row))
        item["_store_idx"] = file_index
        for key in self.obs_keys:
            value = self._obs[key][file_index][selected]
            item[key] = int(value) if key in self.encoders else value
        return item

    @property
    def n_obs(self) -> int:
        """The number of rows over all files (after `obs_filter`)."""
        return len(self)

    @property
    def n_vars(self) -> int:
        """The number of joint variables."""
        return len(self.var_joint)

    @property
    def shape(self) -> tuple[int, int]:
        """The number of rows over all files and the number of joint variables."""
        return len(self), len(self.var_joint)

    @property
    def original_shapes(self) -> list[tuple[int, int]]:
        """Each file's number of selected rows and of its own variables, in collection order."""
        return [(len(rows), shape[1]) for rows, shape in zip(self._rows, self._shapes)]

    @property
    def closed(self) -> bool:
        """Whether `close()` was called: rows can no longer be read."""
        return self._closed

    def get_label_weights(
        self, obs_keys: str | Sequence[str], scaler: float | None = None
    ) -> np.ndarray:
        """Return a weight per row that is larger the rarer the row's labels are.

        The weight is ``1 / count`` of the row's label combination, or ``scaler / (scaler +
        count)`` with a scaler; ``torch.utils.data.WeightedRandomSampler(weights, n)`` then
        draws the classes about evenly.

        Raises:
            ValidationError: a key that is not among the obs keys.
        """
        keys = _as_list(obs_keys)
        _check_subset("get_label_weights", keys, self.obs_keys, "obs_keys")
        rows = list(zip(*(np.concatenate(self._obs[key]).tolist() for key in keys)))
        counts = Counter(rows)
        count = np.array([counts[row] for row in rows], dtype=np.float64)
        return 1.0 / count if scaler is None else scaler / (scaler + count)

    # --- files ---------------------------------------------------------------------------------

    def close(self) -> None:
        """Close every file this process opened; rows cannot be read afterwards."""
        if self._pid == os.getpid():
            for file in self._files.values():
                file.close()
            for handle in self._handles.values():
                handle.close()
        self._forget_handles()
        self._closed = True

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
        state.update(_files={}, _handles={}, _readers={}, _pid=None)
        return state

    def __repr__(self) -> str:
        return (
            f"MappedCollection({len(self.sources)} files, {len(self)} rows x "
            f"{len(self.var_joint)} variables, obs_keys={self.obs_keys!r})"
        )

    def _forget_handles(self) -> None:
        self._files: dict[int, h5py.File] = {}
        self._handles: dict[int, Any] = {}
        self._readers: dict[tuple[int, str], RowReader] = {}
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

    def _reader(self, index: int, key: str) -> RowReader:
        """Return the row reader of a layer key ("X", a layer, "raw.X") or "obsm_<key>"."""
        reader = self._readers.get((index, key))
        if reader is None or self._pid != os.getpid():
            file = self._file(index)
            if key.startswith("obsm_"):
                group, name = "obsm", key[len("obsm_") :]
                path = f"obsm/{name}"
            else:
                group, name = "layers", key
                path = {"X": "X", "raw.X": "raw/X"}.get(key, f"layers/{key}")
            if path not in file:
                choices = sorted(file[group]) if group in file else []
                raise ValidationError(
                    f"AnnData {self.sources[index].uid!r} has no {group} key {name!r}; its "
                    f"{group}: {', '.join(choices) or 'none'}.{did_you_mean(name, choices)}"
                )
            reader = RowReader(file[path], where=f"{path} of {self.sources[index].uid!r}")
            self._readers[(index, key)] = reader
        return reader

    def _check_rows(self, index: int, key: str) -> None:
        rows = self._reader(index, key).shape[0]
        if rows != self._shapes[index][0]:
            raise ValidationError(
                f"AnnData {self.sources[index].uid!r}: {key} has {rows} rows, X has "
                f"{self._shapes[index][0]}."
            )

    def _read(self, index: int, key: str, row: int) -> np.ndarray:
        return self._reader(index, key).read(row)

    def _aligned(self, index: int, values: np.ndarray) -> np.ndarray:
        take, put = self._alignments[index]
        if take is not None:
            return values[take]
        if put is not None:
            joint = np.zeros(len(self.var_joint), dtype=values.dtype)
            joint[put] = values
            return joint
        return values

    def _convert(self, values: np.ndarray) -> np.ndarray:
        return values if self.dtype is None else values.astype(self.dtype, copy=False)

    def _obs_column(self, index: int, key: str) -> np.ndarray:
        obs = self._file(index)["obs"]
        columns = [name for name in obs if name != obs.attrs.get("_index")]
        if key not in columns:
            raise ValidationError(
                f"AnnData {self.sources[index].uid!r} has no obs column {key!r}; its columns: "
                f"{', '.join(sorted(columns)) or 'none'}.{did_you_mean(key, columns)}"
            )
        return column_values(obs[key])

    def _selected_rows(self, index: int, obs_filter: dict[str, Any]) -> np.ndarray:
        """Return the rows of a file whose obs values are among the filter's (all of them)."""
        selected = np.ones(self._shapes[index][0], dtype=bool)
        for key, wanted in obs_filter.items():
            values = wanted if isinstance(wanted, list | tuple | set) else [wanted]
            column = self._obs_column(index, key)
            # compared as text: a missing value is 'None', so obs_filter={"x": None} selects it
            selected &= np.isin(column.astype(str), [str(value) for value in values])
        return np.flatnonzero(selected)


def mapped_collection(
    collection: Collection,
    layers_keys: str | Sequence[str] | None = None,
    obs_keys: str | Sequence[str] | None = None,
    *,
    stream: bool = False,
    **options: Any,
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
    mapped = MappedCollection(sources, layers_keys, obs_keys, **options)
    for artifact in members:
        record_input_artifact(artifact)
    return mapped


def _as_list(keys: str | Sequence[str] | None) -> list[str]:
    return [keys] if isinstance(keys, str) else list(keys or [])


def _check_subset(option: str, keys: Sequence[Any], allowed: Sequence[str], what: str) -> None:
    for key in keys:
        if key not in allowed:
            raise ValidationError(
                f"{option} names {key!r}, which is not among {what} {list(allowed)!r}."
                f"{did_you_mean(str(key), allowed)} Add it there or leave it out."
            )
