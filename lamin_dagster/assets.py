"""`lamin_asset`: an asset whose validation shows as a blocking check and whose hash is its version.

An IO manager cannot emit asset check results, and it runs after Dagster has fixed the output's
data version. So this decorator stores the output from inside the asset's body, through the
same output store as `LaminIOManager` (`lamin_dagster.store`): it validates against the schema
and reports a blocking `AssetCheckResult` (per-column failures in its metadata), raises before
anything is saved when validation fails (so downstream assets do not run), and otherwise saves
the artifact and yields ``Output(value, data_version=DataVersion(artifact.hash))``: re-running
with identical output gives the same data version, so downstream assets do not become stale.
The IO manager then only notes the artifact. Success and failure hooks close the step's catalog Run.
"""

from __future__ import annotations

import functools
import inspect
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import dagster as dg

import lamin_core as ln
from lamin_core.storage import suffix_of
from lamin_dagster.catalog_tags import (
    COLUMN_LINEAGE_KEY,
    TABLE_NAME_KEY,
    column_tags,
    kinds_for,
    label_tags,
    table_name,
)
from lamin_dagster.catalog_tags import column_lineage as column_lineage_of
from lamin_dagster.context import (
    FEATURES_KEY,
    LABELS_KEY,
    SCHEMA_KEY,
    asset_output_target,
    plain,
    step_info,
)
from lamin_dagster.errors import SchemaError
from lamin_dagster.io_manager import LaminIOManager
from lamin_dagster.mapping import COMPLETED, ERRORED, step_reference
from lamin_dagster.resources import CatalogResource
from lamin_dagster.runs import finish_step_run
from lamin_dagster.schema import LaminSchema
from lamin_dagster.store import prepare_output, save_output, validate_output

VALIDATION_CHECK_NAME = "lamin_validation"


def _catalog_resource(resources: Any, key: str, where: str, kind: type = CatalogResource) -> Any:
    """Return the resource bound to `key`, checking that it is a lamin catalog resource."""
    resource = getattr(resources, key, None)
    if not isinstance(resource, kind):
        wanted = (
            "a LaminIOManager" if kind is LaminIOManager else "a LaminIOManager or LaminResource"
        )
        raise dg.DagsterInvalidDefinitionError(
            f"{where} needs {wanted} under the resource key {key!r}, got "
            f"{type(resource).__name__}. Bind one: resources={{{key!r}: "
            "LaminIOManager(storage=...)}."
        )
    return resource


def lamin_hooks(resource_key: str = "io_manager") -> set[dg.HookDefinition]:
    """Return success and failure hooks that close each step's catalog Run.

    Attach them to any job (``define_asset_job(..., hooks=lamin_hooks())``, ``@job(hooks=...)``)
    so that steps get ``completed``/``errored`` and `finished_at` as soon as they end; assets
    made with `lamin_asset` carry them already.

    Args:
        resource_key: The key of the LaminIOManager or LaminResource that holds the catalog.
    """

    def finish(context: dg.HookContext, status: str) -> None:
        resource = _catalog_resource(context.resources, resource_key, "lamin_hooks")
        finish_step_run(
            resource.get_instance(), step_reference(context.run_id, context.step_key), status
        )

    @dg.success_hook(
        name=f"lamin_step_success_{resource_key}", required_resource_keys={resource_key}
    )
    def lamin_step_success(context: dg.HookContext) -> None:
        finish(context, COMPLETED)

    @dg.failure_hook(
        name=f"lamin_step_failure_{resource_key}", required_resource_keys={resource_key}
    )
    def lamin_step_failure(context: dg.HookContext) -> None:
        finish(context, ERRORED)

    return {lamin_step_success, lamin_step_failure}


def _asset_key(fn: Callable[..., Any], kwargs: Mapping[str, Any]) -> dg.AssetKey:
    """Return the key Dagster will give the asset (needed up front for its check spec)."""
    if kwargs.get("key") is not None:
        return dg.AssetKey.from_coercible(kwargs["key"])
    prefix = kwargs.get("key_prefix") or []
    prefix = [prefix] if isinstance(prefix, str) else list(prefix)
    return dg.AssetKey([*prefix, kwargs.get("name") or fn.__name__])


def _signature_with_context(fn: Callable[..., Any]) -> tuple[inspect.Signature, bool]:
    """Return `fn`'s signature with a leading ``context`` parameter, and whether it had one."""
    signature = inspect.signature(fn)
    parameters = list(signature.parameters.values())
    if parameters and parameters[0].name == "context":
        return signature, True
    context = inspect.Parameter(
        "context",
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
        annotation=dg.AssetExecutionContext,
    )
    return signature.replace(parameters=[context, *parameters]), False


def lamin_asset(
    fn: Callable[..., Any] | None = None,
    *,
    schema: Mapping[str, Any] | ln.Schema | None = None,
    features: Mapping[str, Any] | None = None,
    labels: Sequence[str] | None = None,
    io_manager_key: str = "io_manager",
    check_name: str = VALIDATION_CHECK_NAME,
    suffix: str | None = None,
    column_lineage: Any = None,
    **asset_kwargs: Any,
) -> Any:
    """Define an asset stored in the catalog, validated by a blocking check, versioned by hash.

    The function returns the value to store (DataFrame, AnnData, path) or ``dg.Output(value,
    metadata=...)``; inputs and ``context`` work as with ``@dg.asset``.

    Args:
        fn: The asset function (when used without parentheses).
        schema: The `lamin/schema` JSON, or a ``ln.Schema``; adds the blocking check
            `check_name`.
        features: Feature values to annotate the artifact with (`lamin/features`).
        labels: Label names to annotate the artifact with (`lamin/labels`).
        io_manager_key: The resource key of the LaminIOManager.
        check_name: The name of the validation check.
        suffix: The suffix the artifact is stored with (``".jpg"``): gives the asset its
            kind (``kind:jpeg``), and an output stored with another suffix fails before
            anything is saved. Without it, a DataFrame (``.parquet``) or AnnData (``.h5ad``)
            return annotation gives the kind of the built-in handlers.
        column_lineage: ``{column: [(upstream, upstream_column), ...]}`` (upstream: an input
            name or asset key) or a ``dg.TableColumnLineage``: reported as
            ``dagster/column_lineage`` with every materialization. Each upstream must be a
            dependency of the asset.
        **asset_kwargs: Passed to ``@dg.asset`` (``code_version``, ``partitions_def``, ...).

    Returns:
        The `AssetsDefinition`, or a decorator that makes one.

    Raises:
        SchemaError: `schema` is malformed (at definition time).

    Examples:
        >>> @lamin_asset(schema={"categoricals": {"cell_type": "bionty.CellType.name"}},
        ...              code_version="1")
        ... def dataset1() -> ad.AnnData:
        ...     return datasets.small_dataset1(format="anndata")
    """
    if fn is None:
        return functools.partial(
            lamin_asset,
            schema=schema,
            features=features,
            labels=labels,
            io_manager_key=io_manager_key,
            check_name=check_name,
            suffix=suffix,
            column_lineage=column_lineage,
            **asset_kwargs,
        )
    key = _asset_key(fn, asset_kwargs)
    parsed = LaminSchema.parse(schema, label=f"asset {key.to_user_string()!r}") if schema else None
    metadata = dict(asset_kwargs.pop("metadata", None) or {})
    if parsed is not None:
        metadata[SCHEMA_KEY] = dg.MetadataValue.json(parsed.to_json())
    if features:
        metadata[FEATURES_KEY] = dg.MetadataValue.json(dict(features))
    if labels:
        metadata[LABELS_KEY] = dg.MetadataValue.json(list(labels))
    where = f"lamin_asset {key.to_user_string()!r}"
    declared_suffix = _declared_suffix(fn, suffix, where)
    metadata.setdefault(TABLE_NAME_KEY, table_name(key))
    lineage_raw = column_lineage if column_lineage is not None else metadata.get(COLUMN_LINEAGE_KEY)
    lineage = None
    if lineage_raw is not None:
        lineage = column_lineage_of(
            plain(lineage_raw), label=where, resolve=_input_keys(fn, asset_kwargs)
        )
        metadata[COLUMN_LINEAGE_KEY] = lineage
    # catalog metadata Dagster selects by: tags and kinds of the definition
    tags = {**label_tags(labels or ()), **(dict(asset_kwargs.pop("tags", None) or {}))}
    if parsed is not None:
        tags = {**column_tags(parsed.categorical_references()), **tags}
    kinds = set(asset_kwargs.pop("kinds", None) or set()) | kinds_for(declared_suffix)
    check_specs = list(asset_kwargs.pop("check_specs", None) or [])
    if parsed is not None:
        check_specs.append(
            dg.AssetCheckSpec(
                name=check_name,
                asset=key,
                blocking=True,
                description="The output validates against the asset's lamin/schema.",
            )
        )
    hooks = set(asset_kwargs.pop("hooks", None) or set()) | lamin_hooks(io_manager_key)
    signature, takes_context = _signature_with_context(fn)

    @functools.wraps(fn)
    def body(context: dg.AssetExecutionContext, *args: Any, **kwargs: Any) -> Iterator[Any]:
        io_manager = _catalog_resource(context.resources, io_manager_key, where, LaminIOManager)
        step = step_info(context)
        if step is not None:
            io_manager.step_run(step)  # the attempt's Run exists even if the body fails early
        result = fn(context, *args, **kwargs) if takes_context else fn(*args, **kwargs)
        value, extra = (result, {})
        if isinstance(result, dg.Output):
            value, extra = result.value, dict(result.metadata)
        elif inspect.isgenerator(result) or isinstance(result, dg.MaterializeResult):
            raise dg.DagsterInvariantViolationError(
                f"{where} returned {type(result).__name__}: a lamin_asset function returns the "
                "value to store (DataFrame, AnnData, path) or dg.Output(value, metadata=...)."
            )
        target = asset_output_target(context, extra)
        prepared = prepare_output(io_manager.handlers, target, value)
        # only a suffix given as suffix=: a handler of one's own may store DataFrames as csv
        _check_suffix(prepared.handler, value, suffix, where)
        if lineage is not None:
            _check_lineage_columns(lineage, prepared.handler, value, where)
        validate_output(io_manager, prepared, value, step)
        report = prepared.report
        if report is not None:
            yield dg.AssetCheckResult(
                check_name=check_name,
                passed=report.passed,
                severity=dg.AssetCheckSeverity.ERROR,
                metadata=report.check_metadata(),
                description=None if report.passed else report.describe(),
            )
            if not report.passed:
                error = report.error(target.label, prepared.handler.columns(value))
                raise dg.Failure(
                    description=str(error), metadata=report.check_metadata(), allow_retries=False
                ) from error
        stored = save_output(io_manager, prepared, value, step)
        with warnings.catch_warnings():  # data_version is beta in Dagster 1.13, and it is the point
            warnings.simplefilter("ignore", dg.BetaWarning)
            output = dg.Output(
                value,
                metadata={
                    **({COLUMN_LINEAGE_KEY: lineage} if lineage is not None else {}),
                    **extra,
                    **stored.metadata,
                },
                data_version=dg.DataVersion(str(stored.artifact.hash)),
            )
        yield output

    body.__signature__ = signature  # type: ignore[attr-defined]
    assets_def = dg.asset(
        key=key,
        metadata=metadata,
        check_specs=check_specs,
        hooks=hooks,
        io_manager_key=io_manager_key,
        tags=tags,
        kinds=kinds,
        **{k: v for k, v in asset_kwargs.items() if k not in ("key", "key_prefix", "name")},
    )(body)
    if lineage is not None:
        _check_lineage_upstreams(lineage, assets_def, key, where)
    return assets_def


_SUFFIX_OF_TYPE = {"DataFrame": ".parquet", "AnnData": ".h5ad"}


def _declared_suffix(fn: Callable[..., Any], suffix: str | None, where: str) -> str | None:
    """Return the suffix declared by `suffix` or by the return annotation (None: unknown)."""
    if suffix is not None:
        if not suffix.startswith(".") or suffix_of(f"x{suffix}") != suffix:
            raise dg.DagsterInvalidDefinitionError(
                f"{where}: suffix {suffix!r} is not a file suffix. Give it with its dot, as "
                "the catalog stores it: '.jpg', '.fastq.gz', '.csv'."
            )
        return suffix
    returned = inspect.signature(fn).return_annotation
    name = returned if isinstance(returned, str) else getattr(returned, "__name__", "")
    return _SUFFIX_OF_TYPE.get(str(name).rsplit(".", 1)[-1])


def _check_suffix(handler: Any, value: Any, declared: str | None, where: str) -> None:
    """Fail before saving when the output would be stored with another suffix than declared."""
    if declared is None:
        return
    stored = handler.suffix or suffix_of(str(value))
    if stored != declared:
        raise SchemaError(
            f"{where} declares suffix {declared!r}, but its output ({type(value).__name__} "
            f"{str(value)[:80]!r}) would be stored as {stored or 'a file without suffix'!r}. "
            "Nothing was saved. Return an output of the declared format, or change suffix=."
        )


def _input_keys(fn: Callable[..., Any], asset_kwargs: Mapping[str, Any]) -> dict[str, dg.AssetKey]:
    """Return the asset key each input name of the asset loads."""
    keys = {
        name: dg.AssetKey([name]) for name in inspect.signature(fn).parameters if name != "context"
    }
    for name, asset_in in (asset_kwargs.get("ins") or {}).items():
        if getattr(asset_in, "key", None) is not None:
            keys[name] = asset_in.key
    return keys


def _check_lineage_upstreams(
    lineage: dg.TableColumnLineage, assets_def: dg.AssetsDefinition, key: dg.AssetKey, where: str
) -> None:
    upstreams = set(assets_def.asset_deps.get(key, set()))
    for column, deps in lineage.deps_by_column.items():
        for dep in deps:
            if dep.asset_key != key and dep.asset_key not in upstreams:
                known = ", ".join(sorted(k.to_user_string() for k in upstreams)) or "none"
                raise dg.DagsterInvalidDefinitionError(
                    f"{where}: column_lineage of column {column!r} names asset "
                    f"{dep.asset_key.to_user_string()!r}, which is not one of its upstream "
                    f"assets ({known}). Add it to ins= or deps=, or name one of those."
                )


def _check_lineage_columns(
    lineage: dg.TableColumnLineage, handler: Any, value: Any, where: str
) -> None:
    try:
        columns = set(handler.columns(value))
    except (AttributeError, TypeError):
        return
    if not columns:
        return
    missing = sorted(set(lineage.deps_by_column) - columns)
    if missing:
        raise SchemaError(
            f"{where}: column_lineage names columns the output does not have: "
            f"{', '.join(map(repr, missing))}. Nothing was saved. Its columns: "
            f"{', '.join(sorted(columns))}."
        )
