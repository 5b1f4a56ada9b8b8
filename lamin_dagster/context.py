"""Reading what lamin_dagster needs out of Dagster's context objects, in one place.

Dagster hands different context objects to IO managers (`OutputContext`, `InputContext`), asset
bodies (`AssetExecutionContext`) and hooks; the step facts (run id, step key, asset keys, code
version, attempt) and the output's catalog key are derived here once, so every entry point
agrees on them. Contexts built for unit tests (`build_output_context`) have no step: then
`step_info` returns None and nothing is tracked.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from lamin_dagster.mapping import StepInfo, asset_key_string

SCHEMA_KEY = "lamin/schema"
FEATURES_KEY = "lamin/features"
LABELS_KEY = "lamin/labels"
DEFAULT_OUTPUT_NAME = "result"


@dataclass(frozen=True)
class OutputTarget:
    """Where and how one output goes into the catalog.

    Attributes:
        key: The artifact key without suffix: ``a/b[/<partition>]`` for assets,
            ``<job>/<op>[/<output>]`` for op outputs.
        label: How messages name the output (the asset key or ``op 'x' output 'y'``).
        asset_key: The asset key as ``a/b``, or None for op outputs.
        partition_key: The partition being written, if any.
        description: The asset's description, used as the artifact's.
        definition_metadata: The asset's or output's definition metadata (plain values).
        output_metadata: Metadata attached to the output at run time (plain values).
    """

    key: str
    label: str
    asset_key: str | None = None
    partition_key: str | None = None
    description: str | None = None
    definition_metadata: Mapping[str, Any] = field(default_factory=dict)
    output_metadata: Mapping[str, Any] = field(default_factory=dict)

    def metadata_value(self, name: str) -> Any:
        """Return a metadata entry, the run-time output metadata winning over the definition's."""
        if name in self.output_metadata:
            return self.output_metadata[name]
        return self.definition_metadata.get(name)


def plain(value: Any) -> Any:
    """Return the Python value inside a Dagster `MetadataValue` (or the value itself)."""
    return value.value if isinstance(value, dg.MetadataValue) else value


def plain_mapping(metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    """Return a metadata mapping with every `MetadataValue` unwrapped."""
    return {key: plain(value) for key, value in (metadata or {}).items()}


def _step_info_from(step_context: Any) -> StepInfo:
    assets_def = step_context.assets_def
    asset_keys: tuple[str, ...] = ()
    with warnings.catch_warnings():  # `version` is the only public reader of an op's code_version
        warnings.simplefilter("ignore", DeprecationWarning)
        code_version = step_context.op_def.version
    if assets_def is not None:
        keys = sorted(step_context.get_output_asset_keys(), key=lambda k: k.to_user_string())
        asset_keys = tuple(asset_key_string(key.path) for key in keys)
        if len(keys) == 1:
            code_version = assets_def.code_versions_by_key.get(keys[0]) or code_version
    return StepInfo(
        run_id=step_context.run_id,
        job_name=step_context.job_name,
        step_key=step_context.step.key,
        op_name=str(step_context.node_handle),
        asset_keys=asset_keys,
        code_version=code_version,
        attempt=step_context.previous_attempt_count + 1,
    )


def step_info(context: Any) -> StepInfo | None:
    """Return the facts about the step that `context` belongs to, or None outside a run.

    Accepts an `OutputContext`, `InputContext`, `AssetExecutionContext` or `OpExecutionContext`.
    """
    try:
        if isinstance(context, (dg.OutputContext, dg.InputContext)):
            step_context = context.step_context
        else:
            step_context = context.get_step_execution_context()
    except (dg.DagsterInvariantViolationError, AttributeError):
        return None
    return _step_info_from(step_context)


def _op_output_key(job_name: str, op_name: str, output_name: str, mapping_key: str | None) -> str:
    parts = [job_name, *op_name.split(".")]
    if output_name != DEFAULT_OUTPUT_NAME:
        parts.append(output_name)
    if mapping_key is not None:
        parts.append(mapping_key)
    return "/".join(parts)


def _single_partition(label: str, partition_keys: list[str]) -> str:
    if len(partition_keys) != 1:
        raise dg.DagsterInvariantViolationError(
            f"{label}: LaminIOManager stores one partition per artifact, but this run writes "
            f"{len(partition_keys)} partitions at once ({', '.join(partition_keys[:5])}, ...). "
            "Launch the backfill with a multi-run backfill policy (one run per partition)."
        )
    return partition_keys[0]


def output_target(context: dg.OutputContext) -> OutputTarget:
    """Return where the output of `context` goes in the catalog."""
    definition_metadata = plain_mapping(context.definition_metadata)
    output_metadata = plain_mapping(context.output_metadata)
    if not context.has_asset_key:
        key = _op_output_key(context.job_name, context.step_key, context.name, context.mapping_key)
        label = f"op {context.step_key!r} output {context.name!r}"
        return OutputTarget(
            key=key,
            label=label,
            definition_metadata=definition_metadata,
            output_metadata=output_metadata,
        )
    asset_key = asset_key_string(context.asset_key.path)
    label = f"asset {asset_key!r}"
    partition_key = None
    if context.has_asset_partitions:
        partition_key = _single_partition(label, list(context.asset_partition_keys))
    description = None
    with contextlib.suppress(dg.DagsterInvariantViolationError):  # contexts built in unit tests
        description = context.asset_spec.description
    return OutputTarget(
        key=asset_key if partition_key is None else f"{asset_key}/{partition_key}",
        label=label if partition_key is None else f"{label} partition {partition_key!r}",
        asset_key=asset_key,
        partition_key=partition_key,
        description=description,
        definition_metadata=definition_metadata,
        output_metadata=output_metadata,
    )


def asset_output_target(
    context: dg.AssetExecutionContext, output_metadata: Mapping[str, Any] | None = None
) -> OutputTarget:
    """Return where the output of the single asset computed under `context` goes."""
    asset_key = context.asset_key
    key = asset_key_string(asset_key.path)
    label = f"asset {key!r}"
    partition_key = None
    if context.has_partition_key or context.has_partition_key_range:
        partition_key = _single_partition(label, list(context.partition_keys))
    spec = context.assets_def.specs_by_key[asset_key]
    return OutputTarget(
        key=key if partition_key is None else f"{key}/{partition_key}",
        label=label if partition_key is None else f"{label} partition {partition_key!r}",
        asset_key=key,
        partition_key=partition_key,
        description=spec.description,
        definition_metadata=plain_mapping(spec.metadata),
        output_metadata=plain_mapping(output_metadata),
    )
