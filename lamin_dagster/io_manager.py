"""`LaminIOManager`: every asset output becomes a versioned, validated, annotated Artifact.

On output it picks a type handler, validates against the asset's `lamin/schema` (nothing is
saved when that fails), saves the artifact under ``<asset key>[/<partition>]<suffix>`` (same
content: the existing artifact; new content: the next version), annotates it, links it to the
step's catalog Run and reports catalog metadata to Dagster. On input it resolves the exact
upstream artifact from the `lamin/uid` of the upstream materialization (also when that was made
by an earlier run), loads it, and records it as an input of the consuming step's Run. Before
loading, the artifact's hash must equal the `lamin/hash` Dagster recorded with that uid: a uid
whose artifact was deleted, or that names other content since, fails instead of feeding the
wrong data downstream.

`prepare`, `validate_output` and `save_output` are shared with `lamin_asset`, which stores
from the asset body so that the artifact's hash can become the asset's data version.
"""

import datetime as dt
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import dagster as dg
import sqlalchemy as sa
from pydantic import PrivateAttr
from sqlalchemy.orm import joinedload

import lamin_core as ln
from lamin_dagster.annotations import (
    annotate,
    check_features_exist,
    parse_features,
    parse_labels,
)
from lamin_dagster.context import (
    FEATURES_KEY,
    LABELS_KEY,
    SCHEMA_KEY,
    OutputTarget,
    output_target,
    plain,
    step_info,
)
from lamin_dagster.errors import UpstreamArtifactError
from lamin_dagster.handlers import DEFAULT_HANDLERS, HandlerRegistry, TypeHandler
from lamin_dagster.mapping import StepInfo, asset_key_string
from lamin_dagster.metadata import (
    HASH_KEY,
    KEY_KEY,
    STEM_UID_KEY,
    UID_KEY,
    VERSION_KEY,
    artifact_metadata,
)
from lamin_dagster.resources import CatalogResource
from lamin_dagster.schema import LaminSchema, ValidationReport, validate


@dataclass(frozen=True)
class RecordedUpstream:
    """The artifact Dagster recorded for an upstream output, and how to talk about it.

    Attributes:
        uid: The artifact's uid (`lamin/uid`).
        hash: Its content hash when stored (`lamin/hash`), or None when nothing recorded it
            (inputs of external assets resolve to the latest version).
        where: How messages name the input: ``input 'x' (asset 'a/b') partition 'p'``.
        fix: What to do when the artifact no longer resolves.
    """

    uid: str
    hash: str | None
    where: str
    fix: str


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


class LaminIOManager(dg.ConfigurableIOManager, CatalogResource):
    """Store asset and op outputs as catalog artifacts; load inputs from the catalog.

    Outputs are handled by type: pandas DataFrames (parquet), AnnData (h5ad), and files or
    folders given as `pathlib.Path`, `UPath` or `str`. Subclass and override
    `type_handlers` to add types.

    Examples:
        >>> @dg.asset(metadata={"lamin/schema": {"categoricals": {"species": "ULabel.name"}}})
        ... def iris() -> pd.DataFrame:
        ...     return lamin_core.datasets.df_iris()
        >>> dg.materialize([iris], resources={"io_manager": LaminIOManager(storage="./catalog")})
    """

    _registry: HandlerRegistry | None = PrivateAttr(default=None)
    # (run id, output identity) -> (uid, hash) of the artifact stored for it in this process
    _stored: dict[tuple[str, ...], tuple[str, str | None]] = PrivateAttr(default_factory=dict)

    def type_handlers(self) -> Sequence[TypeHandler]:
        """Return the handlers, most specific first; override in a subclass to add types."""
        return DEFAULT_HANDLERS

    @property
    def handlers(self) -> HandlerRegistry:
        """The handler registry built from `type_handlers`."""
        if self._registry is None:
            self._registry = HandlerRegistry(self.type_handlers())
        return self._registry

    # --- output --------------------------------------------------------------------------------

    def prepare(self, target: OutputTarget, obj: Any) -> PreparedOutput:
        """Pick the handler and read schema, features and labels from the metadata.

        Raises:
            NoHandlerError: no handler stores the object's type.
            SchemaError: `lamin/schema`, `lamin/features` or `lamin/labels` is malformed.
        """
        handler = self.handlers.for_object(obj, label=target.label)
        raw_schema = target.metadata_value(SCHEMA_KEY)
        schema = LaminSchema.parse(raw_schema, label=target.label) if raw_schema else None
        return PreparedOutput(
            target=target,
            handler=handler,
            schema=schema,
            features=parse_features(target.metadata_value(FEATURES_KEY), label=target.label),
            labels=parse_labels(target.metadata_value(LABELS_KEY), label=target.label),
        )

    def validate_output(self, prepared: PreparedOutput, obj: Any, step: StepInfo | None) -> None:
        """Validate `obj` against its schema, filling `prepared.report` (no-op without schema)."""
        if prepared.schema is None:
            return
        with self.tracking(step):
            prepared.report = validate(prepared.handler, obj, prepared.schema)

    def save_output(
        self, prepared: PreparedOutput, obj: Any, step: StepInfo | None
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
        with self.tracking(step, release=True) as run:
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
                    artifact.delete()
                raise
            row_count = handler.row_count(obj)
            if row_count is None:  # the catalog may know the rows (a parquet file's footer)
                row_count = artifact.n_observations
            metadata = artifact_metadata(
                artifact,
                row_count=row_count,
                column_schema=handler.column_schema(obj),
                is_partition=target.partition_key is not None,
                features=prepared.features,
                labels=prepared.labels,
                validated=report.validated if report is not None else None,
            )
        return StoredOutput(artifact=artifact, metadata=metadata)

    def store(self, target: OutputTarget, obj: Any, step: StepInfo | None) -> StoredOutput:
        """Validate and save one output (what `handle_output` does, without Dagster's context).

        Raises:
            NoHandlerError: no handler stores the object's type.
            SchemaError: the output's lamin metadata is malformed.
            CurationError: the output fails its schema; nothing is saved.
        """
        prepared = self.prepare(target, obj)
        self.validate_output(prepared, obj, step)
        return self.save_output(prepared, obj, step)

    def remember(self, identity: tuple[str, ...], uid: str, hash: str | None) -> None:
        """Note which artifact an output of this run became, for exact same-run loads."""
        self._stored[identity] = (uid, hash)

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        """Store the output as an artifact and add its catalog metadata to the materialization."""
        target = output_target(context)
        identity = _output_identity(context, target)
        stored_uid = target.output_metadata.get(UID_KEY)
        if stored_uid is not None:
            # lamin_asset stored it already (to give Dagster its hash as data version)
            stored_hash = target.output_metadata.get(HASH_KEY)
            self.remember(identity, str(stored_uid), _text_or_none(stored_hash))
            return
        stored = self.store(target, obj, step_info(context))
        self.remember(identity, stored.artifact.uid, stored.artifact.hash)
        context.add_output_metadata(stored.metadata)

    # --- input ---------------------------------------------------------------------------------

    def load_input(self, context: dg.InputContext) -> Any:
        """Load the upstream artifact(s); several partitions load as a dict keyed by partition.

        Raises:
            UpstreamArtifactError: the upstream output was never stored by a LaminIOManager, its
                artifact was deleted, or its uid names other content than Dagster recorded.
        """
        try:
            label = f"input {context.name!r}"
        except dg.DagsterInvariantViolationError:  # contexts built in unit tests may have no name
            label = "an input"
        if context.has_asset_key:
            label = f"{label} (asset {asset_key_string(context.asset_key.path)!r})"
            if context.has_asset_partitions:
                partitions: list[str | None] = list(context.asset_partition_keys)
            else:
                partitions = [None]
            upstreams = {pk: self._asset_upstream(context, pk, label) for pk in partitions}
        else:
            upstreams = {None: self._op_output_upstream(context, label)}
        requested = _requested_type(context, several=len(upstreams) > 1)
        with self.tracking(step_info(context), release=True):
            instance = self.get_instance()
            # every upstream is checked before any is loaded (and so recorded as an input)
            artifacts = {pk: _recorded_artifact(instance, up) for pk, up in upstreams.items()}
            values = {
                pk: self.handlers.for_load(artifact, requested, label=label).load(artifact)
                for pk, artifact in artifacts.items()
            }
        if len(artifacts) == 1:
            context.add_input_metadata(_input_metadata(artifacts))
        elif artifacts:  # Dagster attaches input metadata to one partition only: log instead
            context.log.info(f"Loaded {label} from artifacts {_uids_text(artifacts)}.")
        # as Dagster's own UPathIOManager: one partition loads as the object, several as a dict
        if len(values) == 1:
            return next(iter(values.values()))
        return values

    def _asset_upstream(
        self, context: dg.InputContext, partition: str | None, label: str
    ) -> RecordedUpstream:
        asset_key = context.asset_key
        where = f"{label}" + (f" partition {partition!r}" if partition is not None else "")
        asset = asset_key_string(asset_key.path)
        fix = f"Re-materialize asset {asset!r}" + (
            f" (partition {partition!r})" if partition is not None else ""
        )
        run_id = _current_run_id(context)
        remembered = self._stored.get(
            (run_id, "asset", asset_key.to_user_string(), partition or "")
        )
        if remembered is not None and run_id:  # made earlier in this very run: exactly that one
            return RecordedUpstream(*remembered, where=where, fix=fix)
        try:
            dagster_instance = context.instance
        except dg.DagsterInvariantViolationError:
            dagster_instance = None
        if dagster_instance is not None:
            records = dagster_instance.fetch_materializations(
                dg.AssetRecordsFilter(
                    asset_key=asset_key,
                    asset_partitions=[partition] if partition is not None else None,
                ),
                limit=1,
            ).records
            if records:
                materialization = records[0].asset_materialization
                metadata = materialization.metadata if materialization else {}
                value = metadata.get(UID_KEY)
                if value is not None:
                    return RecordedUpstream(
                        uid=str(plain(value)),
                        hash=_text_or_none(metadata.get(HASH_KEY)),
                        where=where,
                        fix=fix,
                    )
                raise UpstreamArtifactError(
                    f"Cannot load {where}: its latest materialization (run "
                    f"{records[0].run_id or 'reported without a run'}) has no {UID_KEY!r}, so it "
                    "was not stored by a LaminIOManager. Materialize the upstream asset with "
                    "LaminIOManager as its io_manager."
                )
        stem = _upstream_definition_value(context, STEM_UID_KEY)
        if stem is not None:
            return RecordedUpstream(self._latest_uid(str(stem), where), None, where, fix)
        raise UpstreamArtifactError(
            f"Cannot load {where}: the upstream asset has never been materialized. "
            "Materialize it first (it can be in an earlier run)."
        )

    def _latest_uid(self, stem_uid: str, where: str) -> str:
        instance = self.get_instance()
        uid = instance.session.scalar(
            sa.select(ln.Artifact.uid).where(
                ln.Artifact.uid.startswith(stem_uid), ln.Artifact.is_latest.is_(True)
            )
        )
        if uid is None:
            raise UpstreamArtifactError(
                f"Cannot load {where}: no artifact with stem uid {stem_uid!r} in the catalog "
                f"{instance.db_url!r}."
            )
        return str(uid)

    def _op_output_upstream(self, context: dg.InputContext, label: str) -> RecordedUpstream:
        upstream = context.upstream_output
        if upstream is None:
            raise UpstreamArtifactError(
                f"Cannot load {label}: it has no upstream output. Use LaminIOManager only for "
                "inputs that come from another op or asset."
            )
        where = (
            f"{label} (output {upstream.name!r} of step {upstream.step_key!r} in run "
            f"{upstream.run_id!r})"
        )
        fix = f"Re-execute the run from its start, so that step {upstream.step_key!r} runs again"
        identity = (
            upstream.run_id,
            "op",
            upstream.step_key,
            upstream.name,
            upstream.mapping_key or "",
        )
        remembered = self._stored.get(identity)
        if remembered is not None:
            return RecordedUpstream(*remembered, where=where, fix=fix)
        for record in context.instance.all_logs(
            upstream.run_id, of_type=dg.DagsterEventType.HANDLED_OUTPUT
        ):
            event = record.dagster_event
            if event is None or event.step_key != upstream.step_key:
                continue
            data = event.event_specific_data
            if getattr(data, "output_name", None) != upstream.name:
                continue
            metadata = getattr(data, "metadata", None) or {}
            value = metadata.get(UID_KEY)
            if value is not None:
                return RecordedUpstream(
                    uid=str(plain(value)),
                    hash=_text_or_none(metadata.get(HASH_KEY)),
                    where=where,
                    fix=fix,
                )
        raise UpstreamArtifactError(
            f"Cannot load {label}: output {upstream.name!r} of step {upstream.step_key!r} in run "
            f"{upstream.run_id!r} was not stored by a LaminIOManager."
        )


def _current_run_id(context: dg.InputContext) -> str:
    try:
        return context.step_context.run_id
    except dg.DagsterInvariantViolationError:
        return ""


def _output_identity(context: dg.OutputContext, target: OutputTarget) -> tuple[str, ...]:
    try:
        run_id = context.run_id
    except dg.DagsterInvariantViolationError:
        run_id = ""
    if target.asset_key is not None:
        return (run_id, "asset", context.asset_key.to_user_string(), target.partition_key or "")
    return (run_id, "op", context.step_key, context.name, context.mapping_key or "")


def _upstream_definition_value(context: dg.InputContext, name: str) -> Any:
    try:
        upstream = context.upstream_output
        metadata = upstream.definition_metadata if upstream is not None else {}
    except dg.DagsterInvariantViolationError:
        return None
    value = (metadata or {}).get(name)
    return getattr(value, "value", value)


def _requested_type(context: dg.InputContext, *, several: bool) -> Any:
    """Return the type an input is annotated with (the value type for partition dicts)."""
    try:
        requested = context.dagster_type.typing_type
    except dg.DagsterInvariantViolationError:
        return typing.Any
    origin = typing.get_origin(requested)
    if origin in (dict, Mapping, typing.Mapping):
        args = typing.get_args(requested)
        return args[1] if len(args) == 2 else typing.Any
    return requested


def _text_or_none(value: Any) -> str | None:
    value = plain(value)
    return None if value is None else str(value)


def _recorded_artifact(instance: ln.Instance, upstream: RecordedUpstream) -> ln.Artifact:
    """Return the artifact Dagster recorded upstream, if it still holds the recorded content.

    Raises:
        UpstreamArtifactError: no artifact has the uid any more (deleted, or another catalog),
            or its hash differs from the recorded one (the uid names other content now).
    """
    uid, recorded = upstream.uid, upstream.hash
    artifact = instance.session.scalar(
        # the storage row is needed to locate the content: one statement instead of two
        sa.select(ln.Artifact)
        .options(joinedload(ln.Artifact.storage))
        .where(ln.Artifact.uid == uid)
    )
    if artifact is None:
        with_hash = f" (hash {recorded!r})" if recorded is not None else ""
        raise UpstreamArtifactError(
            f"Cannot load {upstream.where}: Dagster recorded artifact {uid!r}{with_hash}, which "
            f"is no longer in the catalog {instance.db_url!r}: it was deleted, or this "
            f"LaminIOManager is configured with another catalog. {upstream.fix}, or configure "
            "the catalog that stored it."
        )
    # compared as text: the metadata holds str(artifact.hash), as `artifact_metadata` wrote it
    if recorded is not None and str(artifact.hash) != recorded:
        raise UpstreamArtifactError(
            f"Cannot load {upstream.where}: Dagster recorded artifact {uid!r} with hash "
            f"{recorded!r}, but that uid now has hash {artifact.hash!r} in the catalog: it names "
            f"other content than the upstream produced. {upstream.fix}, so that downstream "
            "assets load what it produces."
        )
    return artifact


def _input_metadata(artifacts: Mapping[str | None, ln.Artifact]) -> dict[str, Any]:
    artifact = next(iter(artifacts.values()))
    return {
        UID_KEY: dg.MetadataValue.text(artifact.uid),
        VERSION_KEY: dg.MetadataValue.text(str(artifact.version)),
        HASH_KEY: dg.MetadataValue.text(str(artifact.hash)),
        KEY_KEY: dg.MetadataValue.text(str(artifact.key)),
    }


def _uids_text(artifacts: Mapping[str | None, ln.Artifact]) -> str:
    return ", ".join(f"{partition}: {a.uid}" for partition, a in artifacts.items())
