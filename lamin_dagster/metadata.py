"""The Dagster metadata that shows a stored artifact in the asset catalog UI.

One function builds it for both the IO manager and the decorator, so an asset shows the same
entries whichever path stored it: the artifact's uid, version, hash and location, Dagster's
well-known ``dagster/row_count`` (``dagster/partition_row_count`` for partitions),
``dagster/column_schema`` and ``dagster/uri``, a markdown table of features and labels, and
the values of validated categorical columns (``lamin/categories``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg

import lamin_core as ln

UID_KEY = "lamin/uid"
VERSION_KEY = "lamin/version"
HASH_KEY = "lamin/hash"
KEY_KEY = "lamin/key"
PATH_KEY = "lamin/path"
STEM_UID_KEY = "lamin/stem_uid"  # on external asset specs: the artifact's version family
ANNOTATIONS_KEY = "lamin/annotations"
CATEGORIES_KEY = "lamin/categories"  # validated categorical values, by column


def _cell(value: Any) -> str:
    text = ", ".join(map(str, value)) if isinstance(value, (list, tuple, set)) else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def annotations_table(
    features: Mapping[str, Any] | None,
    labels: Sequence[str] | None,
    validated: Mapping[str, str] | None = None,
) -> str:
    """Return a markdown table of an artifact's features, labels and validated columns."""
    rows = [("feature", name, _cell(value)) for name, value in (features or {}).items()]
    rows += [("label", "ULabel", _cell(label)) for label in labels or ()]
    rows += [("validated", column, field) for column, field in (validated or {}).items()]
    if not rows:
        return "No features or labels."
    lines = ["| kind | name | value |", "| --- | --- | --- |"]
    lines += [f"| {kind} | {_cell(name)} | {value} |" for kind, name, value in rows]
    return "\n".join(lines)


def artifact_location(artifact: ln.Artifact) -> tuple[str, dg.MetadataValue]:
    """Return the artifact's URI and a metadata value linking to it (a path, or a URL)."""
    path = artifact.path
    protocol = getattr(path, "protocol", "") or ""
    if protocol in ("", "file", "local"):
        text = str(path)
        return f"file://{text}", dg.MetadataValue.path(text)
    uri = str(path)
    return uri, dg.MetadataValue.url(uri)


def artifact_metadata(
    artifact: ln.Artifact,
    *,
    row_count: int | None = None,
    column_schema: dg.TableSchema | None = None,
    is_partition: bool = False,
    features: Mapping[str, Any] | None = None,
    labels: Sequence[str] | None = None,
    validated: Mapping[str, str] | None = None,
    categories: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, Any]:
    """Return the output metadata that describes a stored artifact.

    Args:
        artifact: The saved artifact.
        row_count: Rows (observations) of the stored object, if it has rows.
        column_schema: Its columns, if it has columns.
        is_partition: The artifact is one partition of an asset.
        features: Feature values annotated on the artifact.
        labels: Labels annotated on the artifact.
        validated: Columns validated by the asset's schema, with their registry fields.
        categories: The values of each validated categorical column (``lamin/categories``).
    """
    uri, location = artifact_location(artifact)
    metadata: dict[str, Any] = {
        UID_KEY: dg.MetadataValue.text(artifact.uid),
        VERSION_KEY: dg.MetadataValue.text(str(artifact.version)),
        HASH_KEY: dg.MetadataValue.text(str(artifact.hash)),
        KEY_KEY: dg.MetadataValue.text(str(artifact.key)),
        PATH_KEY: location,
        "dagster/uri": dg.MetadataValue.text(uri),
    }
    if row_count is not None:
        count_key = "dagster/partition_row_count" if is_partition else "dagster/row_count"
        metadata[count_key] = dg.MetadataValue.int(row_count)
    if column_schema is not None:
        metadata["dagster/column_schema"] = column_schema
    if categories:
        metadata[CATEGORIES_KEY] = dg.MetadataValue.json(
            {column: list(values) for column, values in categories.items()}
        )
    metadata[ANNOTATIONS_KEY] = dg.MetadataValue.md(annotations_table(features, labels, validated))
    return metadata
