"""One way into the catalog for an output, shared by `LaminIOManager` and `lamin_asset`.

`LaminIOManager.handle_output` stores an output in one call (`store_output`); `lamin_asset`
stores from inside the asset's body in three steps, so that it can report the validation as an
asset check between them and give Dagster the artifact's hash as data version: `prepare_output`
picks the type handler and reads `lamin/schema`, `lamin/features` and `lamin/labels`;
`validate_output` curates against the schema (nothing is saved when that fails); `save_output`
saves the artifact under ``<asset key>[/<partition>]<suffix>`` (same content: the existing
artifact; new content: the next version), annotates it, links it to the step's catalog Run and
returns the Dagster metadata that describes it (with ``lamin/categories``: the values of each
validated categorical column, which Dagster cannot make selectable tags of at run time).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import lamin_core as ln
from lamin_dagster.annotations import (
    annotate,
    check_features_exist,
    parse_features,
    parse_labels,
)
from lamin_dagster.catalog_tags import categorical_values
from lamin_dagster.context import FEATURES_KEY, LABELS_KEY, SCHEMA_KEY, OutputTarget
from lamin_dagster.handlers import HandlerRegistry, TableHandler, TypeHandler
from lamin_dagster.mapping import StepInfo
from lamin_dagster.metadata import artifact_metadata
from lamin_dagster.resources import CatalogResource
from lamin_dagster.schema import LaminSchema, ValidationReport, validate


@dataclass
class StoredOutput:
    """An output saved in the catalog, with the Dagster metadata that describes it."""

    artifact: ln.Artifact
    metadata: dict[str, Any]


@dataclass
class PreparedOutput:
    """An output with its handler and lamin metadata read; `report` is set by validation."""

    target: OutputTarget
    handler: TypeHandler
    schema: LaminSchema | None
    features: dict[str, Any]
    labels: list[str]
    report: ValidationReport | None = None


def prepare_output(handlers: HandlerRegistry, target: OutputTarget, obj: Any) -> PreparedOutput:
    """Pick the handler and read schema, features and labels from the metadata.

    Raises:
        NoHandlerError: no handler stores the object's type.
        SchemaError: `lamin/schema`, `lamin/features` or `lamin/labels` is malformed.
    """
    handler = handlers.for_object(obj, label=target.label)
    raw_schema = target.metadata_value(SCHEMA_KEY)
    schema = LaminSchema.parse(raw_schema, label=target.label) if raw_schema else None
    return PreparedOutput(
        target=target,
        handler=handler,
        schema=schema,
        features=parse_features(target.metadata_value(FEATURES_KEY), label=target.label),
        labels=parse_labels(target.metadata_value(LABELS_KEY), label=target.label),
    )


def validate_output(
    catalog: CatalogResource, prepared: PreparedOutput, obj: Any, step: StepInfo | None
) -> None:
    """Validate `obj` against its schema, filling `prepared.report` (no-op without schema)."""
    if prepared.schema is None:
        return
    with catalog.tracking(step):
        prepared.report = validate(prepared.handler, obj, prepared.schema)


def save_output(
    catalog: CatalogResource, prepared: PreparedOutput, obj: Any, step: StepInfo | None
) -> StoredOutput:
    """Save a prepared (and, with a schema, validated) output; return it with its metadata.

    Raises:
        CurationError: the output failed validation; nothing is saved.
    """
    target, handler, report = prepared.target, prepared.handler, prepared.report
    if prepared.schema is not None and report is None:
        raise ValueError("save_output() needs validate_output() first: the output has a schema")
    if report is not None and not report.passed:
        raise report.error(target.label, handler.columns(obj))
    started = dt.datetime.now(dt.timezone.utc)
    # the step's Run is current, so the artifact gets it as its run
    with catalog.tracking(step, release=True) as run:
        check_features_exist(prepared.features, label=target.label)
        if report is not None:
            artifact = report.curator.save_artifact(
                key=f"{target.key}{handler.suffix}", description=target.description
            )
        else:
            artifact = handler.to_artifact(
                obj, key=target.key, description=target.description
            ).save()
        try:
            annotate(artifact, prepared.features, prepared.labels)
        except BaseException:
            created_here = artifact.created_at >= started and artifact.run_id == (
                run.id if run is not None else None
            )
            if created_here:  # leave the catalog as it was: no artifact without its values
                artifact.delete(permanent=True)
            raise
        row_count = handler.row_count(obj)
        if row_count is None:  # the catalog may know the rows (a parquet file's footer)
            row_count = artifact.n_observations
        categories = None
        if prepared.schema is not None and isinstance(handler, TableHandler):
            categories = categorical_values(
                handler.table(obj), prepared.schema.categorical_references()
            )
        metadata = artifact_metadata(
            artifact,
            row_count=row_count,
            column_schema=handler.column_schema(obj),
            is_partition=target.partition_key is not None,
            features=prepared.features,
            labels=prepared.labels,
            validated=report.validated if report is not None else None,
            categories=categories,
        )
    return StoredOutput(artifact=artifact, metadata=metadata)


def store_output(
    catalog: CatalogResource,
    handlers: HandlerRegistry,
    target: OutputTarget,
    obj: Any,
    step: StepInfo | None,
) -> StoredOutput:
    """Validate and save one output (what `handle_output` does, without Dagster's context).

    Args:
        catalog: The resource whose catalog stores the output (the `LaminIOManager`).
        handlers: The type handlers to pick from (`LaminIOManager.handlers`).
        target: Where the output goes: key, label, partition, lamin metadata.
        obj: The output.
        step: The step whose catalog Run the artifact is linked to (None: no run).

    Raises:
        NoHandlerError: no handler stores the object's type.
        SchemaError: the output's lamin metadata is malformed.
        CurationError: the output fails its schema; nothing is saved.
    """
    prepared = prepare_output(handlers, target, obj)
    validate_output(catalog, prepared, obj, step)
    return save_output(catalog, prepared, obj, step)
