"""`LaminIOManager`: every asset output becomes a versioned, validated, annotated Artifact.

The IO manager only connects Dagster's output and input calls to two modules: on output,
`lamin_dagster.store` picks a type handler, validates against the asset's `lamin/schema`
(nothing is saved when that fails), saves the artifact under ``<asset key>[/<partition>]<suffix>``
(same content: the existing artifact; new content: the next version), annotates it, links it to
the step's catalog Run and returns the catalog metadata reported to Dagster. On input,
`lamin_dagster.upstream` resolves the exact upstream artifact from the `lamin/uid` of the
upstream materialization (also when that was made by an earlier run) and checks that it still
holds the content Dagster recorded; the IO manager loads it, and so records it as an input of the
consuming step's Run. An input pinned with ``dg.AssetIn(metadata={"lamin/version": "2"})``
(or ``"lamin/uid"``) loads exactly that version instead.

The content hash is recorded as ``lamin/hash`` and becomes the materialization's data version
(through the step's data version cache, `_report_data_version`), so identical output keeps
downstream assets fresh, as with `lamin_asset`.
"""

import typing
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg
from pydantic import PrivateAttr

import lamin_core as ln
from lamin_dagster.context import output_target, step_info
from lamin_dagster.handlers import DEFAULT_HANDLERS, HandlerRegistry, TypeHandler
from lamin_dagster.metadata import HASH_KEY, KEY_KEY, UID_KEY, VERSION_KEY
from lamin_dagster.resources import CatalogResource
from lamin_dagster.store import store_output
from lamin_dagster.upstream import (
    OutputIdentity,
    input_label,
    input_pin,
    output_identity,
    recorded_artifact,
    resolve_pinned,
    resolve_upstreams,
    text_or_none,
)


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
    _stored: dict[OutputIdentity, tuple[str, str | None]] = PrivateAttr(default_factory=dict)

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

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        """Store the output as an artifact and add its catalog metadata to the materialization."""
        target = output_target(context)
        # which artifact an output of this run became, for exact same-run loads
        identity = output_identity(context, target)
        stored_uid = target.output_metadata.get(UID_KEY)
        if stored_uid is not None:
            # lamin_asset stored it already (to give Dagster its hash as data version)
            stored_hash = target.output_metadata.get(HASH_KEY)
            self._stored[identity] = (str(stored_uid), text_or_none(stored_hash))
            return
        stored = store_output(self, self.handlers, target, obj, step_info(context))
        self._stored[identity] = (stored.artifact.uid, stored.artifact.hash)
        context.add_output_metadata(stored.metadata)
        if target.asset_key is not None and stored.artifact.hash is not None:
            _report_data_version(context, str(stored.artifact.hash))

    # --- input ---------------------------------------------------------------------------------

    def load_input(self, context: dg.InputContext) -> Any:
        """Load the upstream artifact(s); several partitions load as a dict keyed by partition.

        Raises:
            UpstreamArtifactError: the upstream output was never stored by a LaminIOManager, its
                artifact was deleted, its uid names other content than Dagster recorded, or
                the pinned version does not exist.
        """
        label = input_label(context)
        pin = input_pin(context, label)
        if pin is None:
            upstreams = resolve_upstreams(context, label, self._stored, self.get_instance)
        else:  # dg.AssetIn(metadata={"lamin/version": "2"}): exactly that version
            upstreams = resolve_pinned(context, label, pin, self._stored, self.get_instance)
        requested = _requested_type(context, several=len(upstreams) > 1)
        with self.tracking(step_info(context), release=True):
            instance = self.get_instance()
            # every upstream is checked before any is loaded (and so recorded as an input)
            artifacts = {pk: recorded_artifact(instance, up) for pk, up in upstreams.items()}
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


def _report_data_version(context: dg.OutputContext, content_hash: str) -> None:
    """Make the content hash the data version of the asset materialization being written.

    Dagster has no IO manager API for a data version: it fixes the version after
    `handle_output` from the step's data version cache, which is what the public
    ``context.set_data_version`` of an asset body writes to. An IO manager reaches that cache
    only through `OutputContext.step_context`. A version the asset body set (or returned with
    ``Output(data_version=...)``) wins; contexts built without a step get none.
    """
    try:
        step_context = context.step_context
    except dg.DagsterInvariantViolationError:
        return
    asset_key = context.asset_key
    if step_context.has_data_version(asset_key):
        return
    with warnings.catch_warnings():  # DataVersion is beta in Dagster 1.13
        warnings.simplefilter("ignore", dg.BetaWarning)
        step_context.set_data_version(asset_key, dg.DataVersion(content_hash))


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


def _input_metadata(artifacts: "Mapping[str | None, ln.Artifact]") -> dict[str, Any]:
    artifact = next(iter(artifacts.values()))
    return {
        UID_KEY: dg.MetadataValue.text(artifact.uid),
        VERSION_KEY: dg.MetadataValue.text(str(artifact.version)),
        HASH_KEY: dg.MetadataValue.text(str(artifact.hash)),
        KEY_KEY: dg.MetadataValue.text(str(artifact.key)),
    }


def _uids_text(artifacts: "Mapping[str | None, ln.Artifact]") -> str:
    return ", ".join(f"{partition}: {a.uid}" for partition, a in artifacts.items())
