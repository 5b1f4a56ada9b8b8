"""Which artifact an input loads: the upstream output's `lamin/uid`, found in Dagster's event log.

An asset input resolves to the artifact its upstream asset's latest materialization (of the
partition) recorded: made earlier in this very run, it is the one this process remembered when
storing it; otherwise Dagster's event log says (`fetch_materializations`), also for runs long
past. External assets that were never materialized resolve to the latest version of their
artifact family (`lamin/stem_uid` in their definition). An op input resolves to the handled
output of its upstream step in the run's event log. Before an artifact is loaded its hash must
equal the `lamin/hash` recorded with the uid (`recorded_artifact`), so that a deleted or
re-used uid fails instead of feeding the wrong data downstream.

An input may pin one version instead: ``dg.AssetIn(metadata={"lamin/version": "2"})`` or
``{"lamin/uid": "<uid>"}`` loads exactly that version of the upstream's artifact family
(`input_pin`, `resolve_pinned`); a version that does not exist fails with the versions that do.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import dagster as dg

import lamin_core as ln
from lamin_dagster.context import OutputTarget, plain, plain_mapping
from lamin_dagster.errors import UpstreamArtifactError
from lamin_dagster.mapping import asset_key_string
from lamin_dagster.metadata import HASH_KEY, STEM_UID_KEY, UID_KEY, VERSION_KEY

#: What identifies an output within a run: (run id, "asset", asset key, partition) or
#: (run id, "op", step key, output name, mapping key).
OutputIdentity = tuple[str, ...]
#: The (uid, hash) of the artifact each output of this process became, by output identity.
StoredUids = Mapping[OutputIdentity, tuple[str, str | None]]


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


def input_label(context: dg.InputContext) -> str:
    """Return how messages name an input: ``input 'x' (asset 'a/b')``."""
    try:
        label = f"input {context.name!r}"
    except dg.DagsterInvariantViolationError:  # contexts built in unit tests may have no name
        label = "an input"
    if context.has_asset_key:
        label = f"{label} (asset {asset_key_string(context.asset_key.path)!r})"
    return label


def resolve_upstreams(
    context: dg.InputContext,
    label: str,
    stored: StoredUids,
    get_instance: Callable[[], ln.Instance],
) -> dict[str | None, RecordedUpstream]:
    """Return the artifact recorded for each upstream partition of an input (None: unpartitioned).

    Args:
        context: The input's context.
        label: How messages name the input (`input_label`).
        stored: The artifacts this process stored, by output identity (same-run loads).
        get_instance: Returns the catalog; asked only for external assets never materialized.

    Raises:
        UpstreamArtifactError: the upstream was never materialized, or not by a LaminIOManager.
    """
    if not context.has_asset_key:
        return {None: _op_output_upstream(context, label, stored)}
    if context.has_asset_partitions:
        partitions: list[str | None] = list(context.asset_partition_keys)
    else:
        partitions = [None]
    return {pk: _asset_upstream(context, pk, label, stored, get_instance) for pk in partitions}


def _asset_upstream(
    context: dg.InputContext,
    partition: str | None,
    label: str,
    stored: StoredUids,
    get_instance: Callable[[], ln.Instance],
) -> RecordedUpstream:
    asset_key = context.asset_key
    where = f"{label}" + (f" partition {partition!r}" if partition is not None else "")
    asset = asset_key_string(asset_key.path)
    fix = f"Re-materialize asset {asset!r}" + (
        f" (partition {partition!r})" if partition is not None else ""
    )
    run_id = _current_run_id(context)
    remembered = stored.get((run_id, "asset", asset_key.to_user_string(), partition or ""))
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
            recorded = _recorded(materialization.metadata if materialization else {}, where, fix)
            if recorded is not None:
                return recorded
            raise UpstreamArtifactError(
                f"Cannot load {where}: its latest materialization (run "
                f"{records[0].run_id or 'reported without a run'}) has no {UID_KEY!r}, so it "
                "was not stored by a LaminIOManager. Materialize the upstream asset with "
                "LaminIOManager as its io_manager."
            )
    stem = _upstream_definition_value(context, STEM_UID_KEY)
    if stem is not None:
        return RecordedUpstream(_latest_uid(get_instance(), str(stem), where), None, where, fix)
    raise UpstreamArtifactError(
        f"Cannot load {where}: the upstream asset has never been materialized. "
        "Materialize it first (it can be in an earlier run)."
    )


def _latest_uid(instance: ln.Instance, stem_uid: str, where: str) -> str:
    import sqlalchemy as sa

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


def _op_output_upstream(
    context: dg.InputContext, label: str, stored: StoredUids
) -> RecordedUpstream:
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
    remembered = stored.get(identity)
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
        recorded = _recorded(getattr(data, "metadata", None) or {}, where, fix)
        if recorded is not None:
            return recorded
    raise UpstreamArtifactError(
        f"Cannot load {label}: output {upstream.name!r} of step {upstream.step_key!r} in run "
        f"{upstream.run_id!r} was not stored by a LaminIOManager."
    )


def _current_run_id(context: dg.InputContext) -> str:
    try:
        return context.step_context.run_id
    except dg.DagsterInvariantViolationError:
        return ""


def output_identity(context: dg.OutputContext, target: OutputTarget) -> OutputIdentity:
    """Return what identifies an output within a run: its asset and partition, or its step."""
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


def text_or_none(value: Any) -> str | None:
    """Return a metadata value as text (a `MetadataValue` unwrapped), or None."""
    value = plain(value)
    return None if value is None else str(value)


def recorded_artifact(instance: ln.Instance, upstream: RecordedUpstream) -> ln.Artifact:
    """Return the artifact Dagster recorded upstream, if it still holds the recorded content.

    Raises:
        UpstreamArtifactError: no artifact has the uid any more (deleted, or another catalog),
            or its hash differs from the recorded one (the uid names other content now).
    """
    import sqlalchemy as sa
    from sqlalchemy.orm import joinedload

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


def _recorded(metadata: Mapping[str, Any], where: str, fix: str) -> RecordedUpstream | None:
    """Return the artifact an output's metadata names, or None when it names none."""
    value = metadata.get(UID_KEY)
    if value is None:
        return None
    return RecordedUpstream(
        uid=str(plain(value)), hash=text_or_none(metadata.get(HASH_KEY)), where=where, fix=fix
    )


# --- version pins: dg.AssetIn(metadata={"lamin/version": "2"}) or {"lamin/uid": "..."} --------

VERSION_CHARS = 4  # the version suffix of a 20-character artifact uid


@dataclass(frozen=True)
class Pin:
    """An input's pin to one version of its upstream artifact: by ``version`` or by ``uid``."""

    field: str  # "version" or "uid"
    value: str

    @property
    def text(self) -> str:
        """How messages name the pin: ``lamin/version '2'``."""
        return f"{VERSION_KEY if self.field == 'version' else UID_KEY} {self.value!r}"


def input_pin(context: dg.InputContext, label: str) -> Pin | None:
    """Return the pin in the input's metadata (`lamin/version` or `lamin/uid`), or None.

    Raises:
        UpstreamArtifactError: both are given, or a value is empty or not text/number.
    """
    try:
        metadata = plain_mapping(context.definition_metadata)
    except dg.DagsterInvariantViolationError:
        return None
    given = {
        name: metadata[key]
        for name, key in (("version", VERSION_KEY), ("uid", UID_KEY))
        if metadata.get(key) is not None
    }
    if not given:
        return None
    if len(given) > 1:
        raise UpstreamArtifactError(
            f"Cannot load {label}: its metadata pins both {VERSION_KEY} "
            f"{given['version']!r} and {UID_KEY} {given['uid']!r}. Pin one of them."
        )
    ((field, value),) = given.items()
    if isinstance(value, bool) or not isinstance(value, (str, int)) or not str(value).strip():
        raise UpstreamArtifactError(
            f"Cannot load {label}: {VERSION_KEY if field == 'version' else UID_KEY} must be a "
            f'version or uid as text, e.g. dg.AssetIn(metadata={{"lamin/version": "2"}}); got '
            f"{value!r}."
        )
    return Pin(field, str(value).strip())


def resolve_pinned(
    context: dg.InputContext,
    label: str,
    pin: Pin,
    stored: StoredUids,
    get_instance: Callable[[], ln.Instance],
) -> dict[str | None, RecordedUpstream]:
    """Return the pinned version of the upstream artifact for each partition of an input.

    The version family is the one of the artifact the upstream recorded last (or, never
    materialized, the external asset's stem uid or the artifacts under the asset's key).

    Raises:
        UpstreamArtifactError: the pinned version or uid does not exist in the family, with
            the versions that do.
    """
    instance = get_instance()
    if not context.has_asset_key:
        if pin.field == "version":
            raise UpstreamArtifactError(
                f"Cannot load {label}: {pin.text} pins a version of an asset, but this input "
                f"comes from an op output. Pin the artifact by {UID_KEY} instead."
            )
        return {None: _pinned(instance, None, pin, label, f"Pin another uid for {label}")}
    partitions: list[str | None] = (
        list(context.asset_partition_keys) if context.has_asset_partitions else [None]
    )
    pinned = {}
    for partition in partitions:
        where = label + (f" partition {partition!r}" if partition is not None else "")
        family = _family(context, partition, label, stored, get_instance)
        pinned[partition] = _pinned(instance, family, pin, where, "")
    return pinned


def _family(
    context: dg.InputContext,
    partition: str | None,
    label: str,
    stored: StoredUids,
    get_instance: Callable[[], ln.Instance],
) -> tuple[str, str] | None:
    """Return (stem uid, key) of the upstream's artifact family, or None when none is known."""
    import sqlalchemy as sa

    instance = get_instance()
    try:
        latest: str | None = _asset_upstream(context, partition, label, stored, get_instance).uid
    except UpstreamArtifactError:
        latest = None
    if latest is not None:
        row = instance.session.execute(
            sa.select(ln.Artifact.uid, ln.Artifact.key).where(ln.Artifact.uid == latest)
        ).first()
        if row is not None:
            return row.uid[:-VERSION_CHARS], str(row.key)
    base = asset_key_string(context.asset_key.path)
    if partition is not None:
        base = f"{base}/{partition}"
    rows = instance.session.execute(
        sa.select(ln.Artifact.uid, ln.Artifact.key)
        .where(sa.or_(ln.Artifact.key == base, ln.Artifact.key.startswith(f"{base}.")))
        .order_by(ln.Artifact.id.desc())
    ).all()
    if rows:
        return rows[0].uid[:-VERSION_CHARS], str(rows[0].key)
    return None


def _versions_text(instance: ln.Instance, stem: str) -> str:
    import sqlalchemy as sa

    rows = instance.session.execute(
        sa.select(ln.Artifact.version, ln.Artifact.uid)
        .where(ln.Artifact.uid.startswith(stem))
        .order_by(ln.Artifact.id)
    ).all()
    return ", ".join(f"{row.version} (uid {row.uid})" for row in rows) or "none"


def _pinned(
    instance: ln.Instance, family: tuple[str, str] | None, pin: Pin, where: str, fix: str
) -> RecordedUpstream:
    import sqlalchemy as sa

    if family is None and pin.field == "version":
        raise UpstreamArtifactError(
            f"Cannot load {where}: {pin.text} pins a version, but the upstream asset was "
            "never materialized and no artifact is stored under its key, so it has no versions. "
            "Materialize it first, or pin an artifact by lamin/uid."
        )
    statement = sa.select(ln.Artifact)
    if pin.field == "uid":
        statement = statement.where(ln.Artifact.uid == pin.value)
    else:
        assert family is not None
        statement = statement.where(
            ln.Artifact.uid.startswith(family[0]), ln.Artifact.version == pin.value
        )
    artifact = instance.session.scalars(statement.order_by(ln.Artifact.id).limit(1)).first()
    if artifact is not None and family is not None and artifact.stem_uid != family[0]:
        raise UpstreamArtifactError(
            f"Cannot load {where}: {pin.text} names artifact {artifact.key!r} (version "
            f"{artifact.version}), which is not a version of the upstream's artifact "
            f"{family[1]!r}. Its versions: {_versions_text(instance, family[0])}. Pin one of "
            "those."
        )
    if artifact is None:
        if family is None:
            raise UpstreamArtifactError(
                f"Cannot load {where}: {pin.text} names no artifact in the catalog "
                f"{instance.db_url!r}. {fix or 'Pin the uid of an existing artifact'}."
            )
        raise UpstreamArtifactError(
            f"Cannot load {where}: {pin.text} does not exist for artifact {family[1]!r}. Its "
            f"versions: {_versions_text(instance, family[0])}. Pin one of those, or remove the "
            "pin to load the latest materialization."
        )
    return RecordedUpstream(
        uid=artifact.uid,
        hash=None if artifact.hash is None else str(artifact.hash),
        where=where,
        fix="Pin a version that exists",
    )
