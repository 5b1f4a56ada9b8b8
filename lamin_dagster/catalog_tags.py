"""Catalog metadata as Dagster definition metadata: tags, kinds, owners, table name, lineage.

Open-source Dagster selects assets by the tags, kinds and owners of their *definitions*
(``tag:ULabel/derived``, ``kind:h5ad``, ``owner:team:bio``); tags on a materialization are not
selectable. So what the catalog knows when definitions load becomes definition tags, and what
only a run knows (the categorical values an output was validated with) becomes materialization
metadata (``lamin/categories``):

- a label (ULabel, bio record) on the artifact: ``<registry>/<name>`` with an empty value, e.g.
  ``ULabel/derived``, ``CellType/B_cell``: declared `lamin/labels` of a `lamin_asset`, and every
  label linked to an external artifact (its validated categorical values included);
- a categorical column of a `lamin/schema`: ``lamin_column/<column>`` = its registry, e.g.
  ``lamin_column/cell_type_by_model=CellType``.

Dagster allows ``[A-Za-z0-9_.-]`` in tag names and values, at most 63 characters each, but its
selection syntax reads ``.`` and ``-`` only inside quotes; so tags keep ``[A-Za-z0-9_]`` (other
characters become ``_``), and a longer name keeps its start and a digest of the whole.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import dagster as dg

import lamin_core as ln
from lamin_core.errors import RegistryReferenceError
from lamin_dagster.errors import SchemaError

COLUMN_TAG_PREFIX = "lamin_column"
CATALOG_KIND = "lamin"
TABLE_NAME_KEY = "dagster/table_name"
COLUMN_LINEAGE_KEY = "dagster/column_lineage"
MAX_TAG_PART = 63
_COMPRESSION = {"gz", "bz2", "xz", "zst", "zip"}
_INVALID_TAG_CHARS = re.compile(r"[^A-Za-z0-9_]")
# the formats Dagster shows by another name than the suffix
_KIND_OF_SUFFIX = {"jpg": "jpeg", "yml": "yaml", "tif": "tiff"}


def tag_part(text: Any) -> str:
    """Return `text` as a Dagster tag name or value selectable unquoted (``[A-Za-z0-9_]``, <= 63).

    Examples:
        >>> tag_part("Candidate marker study 1")
        'Candidate_marker_study_1'
    """
    cleaned = _INVALID_TAG_CHARS.sub("_", str(text).strip())
    if len(cleaned) <= MAX_TAG_PART:
        return cleaned
    digest = hashlib.sha1(str(text).encode()).hexdigest()[:8]
    return f"{cleaned[: MAX_TAG_PART - 9]}_{digest}"


def label_tags(labels: Iterable[str], registry: str = "ULabel") -> dict[str, str]:
    """Return the tags of label names of one registry: ``{"ULabel/derived": ""}``."""
    return {f"{tag_part(registry)}/{tag_part(name)}": "" for name in labels}


def column_tags(categoricals: Mapping[str, str]) -> dict[str, str]:
    """Return the tags of a schema's categorical columns: ``lamin_column/<column>`` = registry.

    Examples:
        >>> column_tags({"cell_type_by_model": "bionty.CellType.name"})
        {'lamin_column/cell_type_by_model': 'CellType'}
    """
    return {
        f"{COLUMN_TAG_PREFIX}/{tag_part(column)}": tag_part(_registry_name(reference))
        for column, reference in categoricals.items()
    }


def _registry_name(reference: str) -> str:
    from lamin_core.models.registry import parse_reference

    try:
        registry, _field = parse_reference(reference)
    except RegistryReferenceError:  # the schema check reports it when the asset runs
        return reference
    return str(registry.__name__)


def artifact_label_tags(artifact: ln.Artifact) -> dict[str, str]:
    """Return the tags of every label linked to a saved artifact (inside its active catalog).

    ULabels and bio records (the validated categorical values a curator linked) alike.
    """
    from lamin_core.models.registry import label_registries

    tags: dict[str, str] = {}
    for registry in label_registries():
        names = [
            getattr(record, "name", None) or getattr(record, "symbol", None) or record.uid
            for record in artifact.labels.get(registry=registry)
        ]
        tags.update(label_tags(sorted(map(str, names)), registry.__name__))
    return tags


def kind_of_suffix(suffix: str) -> str | None:
    """Return the Dagster kind of a file suffix (``.parquet`` -> ``parquet``), None for none.

    A compression suffix is dropped (``.fastq.gz`` -> ``fastq``).

    Examples:
        >>> kind_of_suffix(".fastq.gz"), kind_of_suffix(".jpg"), kind_of_suffix("")
        ('fastq', 'jpeg', None)
    """
    parts = [part for part in suffix.lower().split(".") if part]
    if len(parts) > 1 and parts[-1] in _COMPRESSION:
        parts = parts[:-1]
    if not parts:
        return None
    name = parts[-1]
    return _KIND_OF_SUFFIX.get(name, name)


def kinds_for(suffix: str | None) -> set[str]:
    """Return the kinds of an asset stored in the catalog with `suffix`: lamin and its format."""
    kind = kind_of_suffix(suffix or "")
    return {CATALOG_KIND} if kind is None else {CATALOG_KIND, kind}


def table_name(asset_key: dg.AssetKey) -> str:
    """Return the ``dagster/table_name`` of an asset: its key parts joined by dots."""
    return ".".join(asset_key.path)


def owner_of(user: ln.User | None) -> str | None:
    """Return a user handle as a Dagster owner when it is one: an email or ``team:<name>``."""
    handle = getattr(user, "handle", None) or ""
    if handle.startswith("team:") and len(handle) > len("team:"):
        return handle
    if re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", handle):
        return handle
    return None


def column_lineage(
    raw: Any, *, label: str, resolve: Mapping[str, dg.AssetKey] | None = None
) -> dg.TableColumnLineage:
    """Return a `TableColumnLineage` from its argument form.

    Args:
        raw: A `TableColumnLineage`, or ``{column: [(upstream, upstream_column), ...]}`` where
            upstream is an input name of the asset, an ``a/b`` key string, a list of key parts
            or an `AssetKey`.
        label: How messages name the asset.
        resolve: Input names -> the asset keys they load.

    Raises:
        SchemaError: the value has another shape.
    """
    if isinstance(raw, dg.TableColumnLineage):
        return raw
    example = '{"total": [("orders", "amount")]}'
    if not isinstance(raw, Mapping):
        raise SchemaError(
            f"column_lineage of {label} must map output columns to (upstream, column) pairs, "
            f"e.g. {example}; got {raw!r}."
        )
    deps: dict[str, list[dg.TableColumnDep]] = {}
    for column, sources in raw.items():
        if isinstance(sources, (str, bytes)) or not isinstance(sources, Sequence):
            raise SchemaError(
                f"column_lineage of {label}: column {column!r} must list (upstream, column) "
                f"pairs, e.g. {example}; got {sources!r}."
            )
        deps[str(column)] = []
        for source in sources:
            if isinstance(source, dg.TableColumnDep):
                deps[str(column)].append(source)
                continue
            if (
                isinstance(source, (str, bytes))
                or not isinstance(source, Sequence)
                or len(source) != 2
            ):
                raise SchemaError(
                    f"column_lineage of {label}: column {column!r} has {source!r}, which is "
                    f"not an (upstream, column) pair, e.g. {example}."
                )
            upstream, upstream_column = source
            deps[str(column)].append(
                dg.TableColumnDep(
                    asset_key=_upstream_key(upstream, resolve or {}),
                    column_name=str(upstream_column),
                )
            )
    return dg.TableColumnLineage(deps_by_column=deps)


def _upstream_key(upstream: Any, resolve: Mapping[str, dg.AssetKey]) -> dg.AssetKey:
    if isinstance(upstream, str):
        return resolve.get(upstream) or dg.AssetKey(upstream.strip("/").split("/"))
    return dg.AssetKey.from_coercible(upstream)


def categorical_values(table: Any, columns: Iterable[str]) -> dict[str, list[str]]:
    """Return the distinct values of the categorical columns a table has, sorted."""
    values: dict[str, list[str]] = {}
    for column in columns:
        if table is None or column not in getattr(table, "columns", ()):
            continue
        series = table[column].dropna()
        values[column] = sorted({str(value) for value in series.unique()})
    return values
