"""Turning in-memory objects into files and files back into objects, by suffix.

Loaders are registered per suffix so that `Artifact.load()` and the Dagster IO manager share
one table; an unknown suffix gets an error that lists the suffixes that can be loaded.

A DataFrame loads back as it was saved: parquet with pandas' metadata restores most of it, and
what it would not (integer index names, a one-level MultiIndex, mixed-type column labels) is
recorded in the file's metadata and restored by the loader. What parquet or h5ad cannot hold at
all is a ValidationError that names the column or element, before anything is stored.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import numbers
import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np

from lamin_core.errors import StorageError, ValidationError

logger = logging.getLogger("lamin_core.storage")

Loader = Callable[[Path], Any]

LOADERS: dict[str, Loader] = {}


def register_loader(*suffixes: str) -> Callable[[Loader], Loader]:
    """Register a function that loads files with the given suffixes."""

    def decorate(function: Loader) -> Loader:
        for suffix in suffixes:
            LOADERS[suffix] = function
        return function

    return decorate


@register_loader(".parquet")
def _load_parquet(path: Path) -> Any:
    import pyarrow.parquet as pq

    # what pd.read_parquet does (pyarrow >= 19 maps no types by default), reading the file
    # once: the footer with our labels comes with the table
    table = pq.read_table(path, use_pandas_metadata=True)
    df = table.to_pandas()
    metadata = table.schema.metadata or {}
    if b"PANDAS_ATTRS" in metadata:  # as pandas restores them
        df.attrs = json.loads(metadata[b"PANDAS_ATTRS"])
    extra = metadata.get(LABELS_KEY)
    return restore_labels(df, json.loads(extra)) if extra else df


def count_rows(path: str, suffix: str, fs: Any = None) -> int | None:
    """Return the rows of a parquet file from its footer, without reading the data.

    Args:
        path: The file's local path, or its path on `fs`.
        suffix: The file's suffix; other formats than parquet give None.
        fs: The fsspec filesystem of a remote file.

    Returns:
        The number of rows, or None when the format has no row count in its metadata or the
        file is not readable as one (the artifact is still registered, without a count).
    """
    if suffix.lower() != ".parquet":
        return None
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        if fs is None:
            return int(pq.ParquetFile(path).metadata.num_rows)
        with fs.open(path, "rb") as file:
            return int(pq.ParquetFile(file).metadata.num_rows)
    except (OSError, pa.ArrowException) as error:
        logger.warning(f"! cannot read the row count of {path!r} ({error}); n_observations unset")
        return None


@register_loader(".csv", ".csv.gz")
def _load_csv(path: Path) -> Any:
    import pandas as pd

    return pd.read_csv(path)


@register_loader(".tsv", ".tsv.gz")
def _load_tsv(path: Path) -> Any:
    import pandas as pd

    return pd.read_csv(path, sep="\t")


@register_loader(".h5ad")
def _load_h5ad(path: Path) -> Any:
    import anndata as ad

    return ad.read_h5ad(path)


@register_loader(".zarr")
def _load_zarr(path: Path) -> Any:
    import anndata as ad

    return ad.read_zarr(path)


@register_loader(".json")
def _load_json(path: Path) -> Any:
    return json.loads(path.read_text())


@register_loader(".txt", ".md", ".yaml", ".yml")
def _load_text(path: Path) -> Any:
    return path.read_text()


def load_file(path: Path, suffix: str) -> Any:
    """Load a local file by its suffix.

    Raises:
        ValidationError: no loader handles the suffix.
    """
    loader = LOADERS.get(suffix.lower())
    if loader is None:
        raise ValidationError(
            f"Cannot load an artifact with suffix {suffix!r}: loaders exist for "
            f"{', '.join(sorted(LOADERS))}. Use artifact.cache() for a local path or "
            "artifact.open('rb') for a file object."
        )
    return loader(path)


def write_dataframe(df: Any, path: Path | IO[bytes]) -> None:
    """Write a pandas DataFrame as parquet, keeping its index, so that it loads back the same.

    The file is what ``df.to_parquet(path)`` writes (pyarrow, snappy), plus, only when needed,
    what pandas' metadata would not restore (see `_labels_to_restore`).

    Raises:
        ValidationError: parquet cannot hold the DataFrame (duplicate column names, complex
            numbers, a column mixing types, labels that do not survive); nothing is written.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    check_dataframe(df)
    with warnings.catch_warnings():
        # pyarrow warns that labels of other types become strings; `extra` restores them
        warnings.simplefilter("ignore", UserWarning)
        extra = _labels_to_restore(df) or {}
        try:
            table = pa.Table.from_pandas(_relabelled(df, extra), preserve_index=None)
        except (pa.ArrowException, ValueError, TypeError, NotImplementedError) as error:
            raise _conversion_error(df, error) from error
    objects = _object_columns(df, table)
    if objects:
        extra["object_columns"] = objects
    # a categorical without categories comes back as objects
    empty = [p for p, d in enumerate(df.dtypes) if d == "category" and not len(d.categories)]
    if empty:
        extra["empty_categoricals"] = [[p, bool(df.dtypes.iloc[p].ordered)] for p in empty]
    metadata = dict(table.schema.metadata or {})
    try:
        if df.attrs:  # as pandas keeps them
            metadata[b"PANDAS_ATTRS"] = json.dumps(df.attrs).encode()
        if extra:
            metadata[LABELS_KEY] = json.dumps(extra).encode()
    except (TypeError, ValueError) as error:
        raise ValidationError(f"Cannot store the DataFrame's attrs as JSON: {error}.") from error
    pq.write_table(table.replace_schema_metadata(metadata), path, compression="snappy")


# the delimiter of each text table suffix a DataFrame may be saved as (LaminDB: key="x.csv")
TEXT_TABLES = {".csv": ",", ".tsv": "\t", ".csv.gz": ",", ".tsv.gz": "\t"}


def write_text_table(df: Any, path: Path | IO[bytes], suffix: str) -> None:
    """Write a pandas DataFrame as CSV or TSV, gzipped or not (by `suffix`), as ``pd.read_csv``
    reads it back.

    The index is written as the first column only when it carries information (a name, or
    other labels than 0, 1, 2, ...); text keeps values, not dtypes: parquet keeps both.

    Raises:
        ValidationError: the DataFrame has duplicate column names; nothing is written.
    """
    import pandas as pd

    check_column_names(df)
    index = df.index
    default = isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1
    keep_index = not default or any(name is not None for name in index.names)
    # gzip without a timestamp: the same table always gives the same bytes, hence the same hash
    compression = {"method": "gzip", "mtime": 0} if suffix.endswith(".gz") else None
    df.to_csv(path, sep=TEXT_TABLES[suffix], index=keep_index, compression=compression)


def check_column_names(df: Any, what: str = "The DataFrame") -> None:
    """Raise a ValidationError when columns of `df` share a name (curators check it too).

    A column name must pick one column: ``df[name]`` of a duplicated name is a DataFrame.
    """
    duplicated = df.columns[df.columns.duplicated()]
    if len(duplicated):
        names = ", ".join(map(repr, dict.fromkeys(duplicated)))
        raise ValidationError(
            f"{what} has duplicate column names: {names}. Each column needs its own name; "
            "rename them, e.g. df.columns = [...], or drop the duplicates with "
            "df.loc[:, ~df.columns.duplicated()]."
        )


def check_dataframe(df: Any, what: str = "The DataFrame") -> None:
    """Raise a ValidationError for a DataFrame parquet cannot store: duplicate column names or
    complex numbers.
    """
    import pandas as pd

    check_column_names(df, what)
    for position, (name, dtype) in enumerate(df.dtypes.items()):
        if pd.api.types.is_complex_dtype(dtype):
            raise ValidationError(
                f"{what}'s column {name!r} holds complex numbers ({dtype}), which parquet cannot "
                f"store. Store the real and imaginary parts as two float columns: "
                f"df[{name!r}].to_numpy().real and .imag."
            )
        is_object = pd.api.types.is_object_dtype(dtype)
        kinds = _mixed_kinds(df.iloc[:, position]) if is_object else None
        if kinds:
            raise ValidationError(
                f"{what}'s column {name!r} mixes values of types {', '.join(kinds)}; parquet "
                "stores one type per column and would convert the others (0 into a date, say). "
                f"Give it one type, e.g. df[{name!r}] = df[{name!r}].astype(str)."
            )


def _mixed_kinds(series: Any) -> list[str] | None:
    """Return the kinds of values an object column mixes (numbers count as one), or None."""
    import pandas as pd

    if pd.api.types.infer_dtype(series, skipna=True) not in ("mixed", "mixed-integer"):
        return None
    kinds = {_kind(value) for value in series if not _is_missing(value)}
    return sorted(kinds) if len(kinds) > 1 else None


def _kind(value: Any) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "bool"
    if isinstance(value, numbers.Number):
        return "number"
    if isinstance(value, dt.datetime):
        return "datetime"
    if isinstance(value, (list, tuple)) or type(value).__name__ == "ndarray":
        return "list"
    for kind in (str, bytes, dt.date, dt.time, dt.timedelta, dict):
        if isinstance(value, kind):
            return kind.__name__
    return type(value).__name__


def _is_missing(value: Any) -> bool:
    import pandas as pd

    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def _conversion_error(df: Any, error: BaseException) -> ValidationError:
    """Return the ValidationError for a DataFrame pyarrow could not convert, naming the column."""
    text = " ".join(str(part) for part in getattr(error, "args", ())) or str(error)
    match = re.search(r"column (.+?) with type (\S+)", text)
    if match is None or match.group(1) not in map(str, df.columns):
        return ValidationError(f"Cannot store the DataFrame as parquet: {text}.")
    name = next(c for c in df.columns if str(c) == match.group(1))
    kinds = sorted({type(v).__name__ for v in df[name].dropna().head(10_000)})
    return ValidationError(
        f"Cannot store the DataFrame as parquet: column {name!r} ({match.group(2)}) holds values "
        f"of types {', '.join(kinds) or 'unknown'} that parquet cannot store together ({text}). "
        f"Give it one type, e.g. df[{name!r}] = df[{name!r}].astype(str)."
    )


LABELS_KEY = b"lamin_core.labels"
_LABEL_TYPES = (str, int, float, bool, type(None))


def _labels_to_restore(df: Any) -> dict[str, Any] | None:
    """Return what parquet's pandas metadata would not restore (labels, names), or None.

    Parquet keeps the index and pandas' metadata restores most labels, but not all: integer
    index names come back as strings, a one-level MultiIndex as a flat index, mixed or boolean
    column labels as text, a date range without its frequency. A frame without rows shows what
    would come back.
    """
    import pandas as pd
    import pyarrow as pa

    if _has_plain_labels(df):  # most frames: no round trip needed to know
        return None
    try:
        probe = pa.Table.from_pandas(df.iloc[:0], preserve_index=None).to_pandas()
    except (ValueError, TypeError, KeyError, pa.ArrowException):
        probe = None
    extra: dict[str, Any] = {}
    same_columns = (
        probe is not None
        and probe.columns.equals(df.columns)
        and probe.columns.dtype == df.columns.dtype
        and list(probe.columns.names) == list(df.columns.names)
        and type(probe.columns) is type(df.columns)
    )
    if not same_columns:
        labels = [_label(c) for c in df.columns]
        if type(df.columns) is not pd.Index or any(label is _UNSTORABLE for label in labels):
            raise ValidationError(
                f"The DataFrame's column labels ({type(df.columns).__name__} of "
                f"{df.columns.dtype}) do not load back from parquet as they are. Use strings or "
                "numbers, e.g. df.columns = df.columns.astype(str)."
            )
        if len({str(label) for label in labels}) != len(labels):
            raise ValidationError(
                f"The DataFrame's column labels {labels!r} read the same as text; parquet names "
                "columns by text. Rename them, e.g. df.columns = df.columns.astype(str)."
            )
        extra["columns"] = labels
        extra["columns_dtype"] = str(df.columns.dtype)
        extra["columns_name"] = _label(df.columns.name)
    names = [_label(name) for name in df.index.names]
    if probe is None or list(probe.index.names) != list(df.index.names):
        if any(name is _UNSTORABLE for name in names):
            raise ValidationError(
                f"The DataFrame's index names {list(df.index.names)!r} do not load back from "
                "parquet; use strings, e.g. df.index.names = ['sample', ...]."
            )
        extra["index_names"] = names
    if isinstance(df.index, pd.MultiIndex) and df.index.nlevels == 1:
        extra["multiindex"] = True
    freq = getattr(df.index, "freqstr", None)  # a date_range's frequency: not in parquet
    if freq is not None:
        extra["index_freq"] = freq
    return extra or None


def _has_plain_labels(df: Any) -> bool:
    """Return whether parquet's pandas metadata restores the labels as they are: text column
    labels without a name over an unnamed default index (checked without a round trip)."""
    import pandas as pd

    columns, index = df.columns, df.index
    return (
        type(columns) is pd.Index
        and columns.dtype == object
        and columns.name is None
        and all(type(label) is str for label in columns)
        and type(index) is pd.RangeIndex
        and index.name is None
    )


_UNSTORABLE = object()


def _label(value: Any) -> Any:
    """Return a column label or index name as JSON can hold it, or `_UNSTORABLE`."""
    value = value.item() if hasattr(value, "item") and type(value).__module__ == "numpy" else value
    if not isinstance(value, _LABEL_TYPES):
        return _UNSTORABLE
    if isinstance(value, float) and not math.isfinite(value):
        return _UNSTORABLE
    return value


def _relabelled(df: Any, extra: dict[str, Any]) -> Any:
    """Return `df` with text column labels and index names where `extra` restores them."""
    frame = df
    if "columns" in extra:
        frame = df.set_axis([str(label) for label in extra["columns"]], axis=1)
    if "index_names" in extra:
        frame = frame.rename_axis([None if n is None else str(n) for n in extra["index_names"]])
    return frame


def _object_columns(df: Any, table: Any) -> list[int]:
    """Return the positions of object columns that parquet would load with another dtype.

    An object column of booleans, numbers or timestamps is stored typed and would come back as
    ``bool``/``int64``/``float64``/``datetime64``; the loader turns it back into objects.
    """
    import pyarrow as pa

    # these load back as objects anyway: text, bytes, dates, all-NULL columns
    kept = (pa.types.is_string, pa.types.is_large_string, pa.types.is_binary, pa.types.is_date)
    positions = []
    for position, dtype in enumerate(df.dtypes):
        kind = table.schema.field(position).type  # data columns come first, then the index
        changes = not pa.types.is_null(kind) and not any(is_kept(kind) for is_kept in kept)
        if dtype == np.dtype(object) and changes:
            positions.append(position)
    return positions


def restore_labels(df: Any, extra: dict[str, Any]) -> Any:
    """Give a DataFrame read from parquet the labels `write_dataframe` recorded."""
    import pandas as pd

    if "columns" in extra:
        dtype = extra.get("columns_dtype", "object")
        df.columns = pd.Index(extra["columns"], dtype=dtype, name=extra.get("columns_name"))
    if extra.get("multiindex") and not isinstance(df.index, pd.MultiIndex):
        df.index = pd.MultiIndex.from_arrays([df.index])
    if "index_names" in extra:
        df.index.names = extra["index_names"]
    if "index_freq" in extra and hasattr(df.index, "freq"):
        df.index.freq = extra["index_freq"]
    for position in extra.get("object_columns", ()):
        df.isetitem(position, df.iloc[:, position].astype(object))
    for position, ordered in extra.get("empty_categoricals", ()):
        dtype = pd.CategoricalDtype(pd.Index([], dtype=object), ordered=ordered)
        df.isetitem(position, df.iloc[:, position].astype(dtype))
    return df


def write_anndata(adata: Any, path: Path) -> None:
    """Write an AnnData object as h5ad.

    Raises:
        ValidationError: h5ad cannot hold part of the object (an object-dtype ``X``, a value in
            ``uns`` with no h5ad form); the message names the part.
        StorageError: the file cannot be written.
    """
    x = getattr(adata, "X", None)
    if getattr(getattr(x, "dtype", None), "kind", None) == "O":
        raise ValidationError(
            "The AnnData's X has dtype object, which h5ad cannot store as a matrix. Convert it "
            "to numbers first, e.g. adata.X = adata.X.astype(float)."
        )
    try:
        adata.write_h5ad(path)
    except OSError as error:
        raise StorageError(f"Cannot write the AnnData to {str(path)!r}: {error}.") from error
    except Exception as error:  # anndata's writers raise many types; all mean "cannot store"
        # anndata names the element that failed in a note: "... writing key 'x' ... to /uns"
        text = " ".join(" ".join([str(error), *getattr(error, "__notes__", ())]).split())
        raise ValidationError(
            f"Cannot store the AnnData as h5ad: {text}. Convert or remove that element (uns "
            "takes numbers, strings, arrays, DataFrames and dicts of them)."
        ) from error
