"""Artifacts registered outside Dagster (notebooks, scripts) as external assets in the graph.

`lamin_external_assets` turns artifacts into `AssetSpec`s, so downstream assets can depend on
them and load them with `LaminIOManager`. Each spec carries what the catalog knows: its
upstream assets from catalog lineage (the assets that made the inputs of the run that made the
artifact, so a notebook step between two pipelines joins one graph), its labels and validated
categorical values as tags, its format as kind, its creator as owner (an email or
``team:...`` handle) and its key as ``dagster/table_name``.

`lamin_external_asset_sensor` watches their version families: when a new version is saved
(same key, new content), it reports a runless materialization carrying the new `lamin/uid`
and the content hash as data version, so the Dagster UI shows the new version, downstream
assets become stale, and `LaminIOManager` loads exactly that version.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

import dagster as dg

import lamin_core as ln
from lamin_core.storage import suffix_of
from lamin_dagster.catalog_tags import (
    TABLE_NAME_KEY,
    artifact_label_tags,
    kinds_for,
    owner_of,
    table_name,
)
from lamin_dagster.mapping import ASSET_TRANSFORM_TYPE, OP_TRANSFORM_TYPE, STEP_REFERENCE_TYPE
from lamin_dagster.metadata import KEY_KEY, STEM_UID_KEY, artifact_metadata
from lamin_dagster.sensors import with_resource_parameter

# Dagster's tag for an event's data version (dagster._core.definitions.data_version).
DATA_VERSION_TAG = "dagster/data_version"
_INVALID_NAME_CHARS = re.compile(r"[^A-Za-z0-9_]")


def asset_key_for(artifact_key: str) -> dg.AssetKey:
    """Return the asset key of an artifact key: the path without suffix, one part per folder.

    Characters Dagster does not allow in names become ``_``.

    Examples:
        >>> asset_key_for("images/my_image.jpg")
        AssetKey(['images', 'my_image'])
    """
    suffix = suffix_of(artifact_key)
    stem = artifact_key[: len(artifact_key) - len(suffix)] if suffix else artifact_key
    parts = [_INVALID_NAME_CHARS.sub("_", part) for part in stem.strip("/").split("/") if part]
    return dg.AssetKey(parts)


def lamin_external_assets(
    artifacts: Iterable[ln.Artifact], *, group_name: str = "lamin_external"
) -> list[dg.AssetSpec]:
    """Return one `AssetSpec` per artifact family, for artifacts made outside Dagster.

    Args:
        artifacts: Artifacts, e.g. a QuerySet such as
            ``ln.Artifact.filter(key__startswith="raw/")`` or a list.
        group_name: The asset group the specs appear in.

    Raises:
        ValidationError: an artifact has no key (its asset key would be arbitrary), or two
            artifacts map to the same asset key.

    Examples:
        >>> with lamin.activate():
        ...     specs = lamin_external_assets(ln.Artifact.filter(key__startswith="raw/"))
    """
    specs: dict[dg.AssetKey, dg.AssetSpec] = {}
    for artifact in artifacts:
        if not artifact.key:
            raise ln.ValidationError(
                f"Artifact {artifact.uid!r} has no key, so it has no stable asset key. Give it "
                "one (ln.Artifact(..., key='raw/x.csv')) or leave it out."
            )
        key = asset_key_for(artifact.key)
        existing = specs.get(key)
        if existing is not None:
            if existing.metadata[STEM_UID_KEY] != artifact.stem_uid:
                raise ln.ValidationError(
                    f"Artifacts {existing.metadata[KEY_KEY]!r} and {artifact.key!r} both map "
                    f"to the asset key {key.to_user_string()!r}. Select only one of them."
                )
            # another version of the same family: its lineage and labels count too
            known = {dep.asset_key for dep in existing.deps} | {key}
            specs[key] = existing.merge_attributes(
                deps=[k for k in upstream_asset_keys(artifact) if k not in known],
                tags=artifact_label_tags(artifact),
            )
            continue
        owner = owner_of(artifact.created_by)
        specs[key] = dg.AssetSpec(
            key=key,
            description=artifact.description
            or f"Catalog artifact {artifact.key} (registered outside Dagster).",
            group_name=group_name,
            kinds=kinds_for(artifact.suffix or suffix_of(artifact.key)),
            tags=artifact_label_tags(artifact),
            owners=[owner] if owner else None,
            deps=[k for k in upstream_asset_keys(artifact) if k != key],
            metadata={
                STEM_UID_KEY: artifact.stem_uid,
                KEY_KEY: artifact.key,
                TABLE_NAME_KEY: table_name(key),
            },
        )
    return list(specs.values())


def upstream_asset_keys(artifact: ln.Artifact) -> list[dg.AssetKey]:
    """Return the assets that made the inputs of the run that made `artifact`, in input order.

    An input saved by a Dagster asset step is that asset (the step's transform is the asset,
    so a partition's artifact maps to its asset); an input saved outside Dagster is the external
    asset of its key (`asset_key_for`). Inputs of Dagster ops (no asset) and without a key are
    left out: no asset stands for them.
    """
    run = artifact.run
    if run is None:
        return []
    keys: list[dg.AssetKey] = []
    for upstream in sorted(run.input_artifacts, key=lambda a: a.id):
        key = _producing_asset(upstream)
        if key is not None and key not in keys:
            keys.append(key)
    return keys


def _producing_asset(artifact: ln.Artifact) -> dg.AssetKey | None:
    if not artifact.key:
        return None
    run = artifact.run
    transform = run.transform if run is not None else None
    if run is not None and run.reference_type == STEP_REFERENCE_TYPE and transform is not None:
        if transform.type == OP_TRANSFORM_TYPE:
            return None
        stem = artifact.key[: len(artifact.key) - len(artifact.suffix or "")]
        if (
            transform.type == ASSET_TRANSFORM_TYPE
            and transform.key
            and (stem == transform.key or stem.startswith(f"{transform.key}/"))
        ):  # a one-asset step: its transform key is the asset key (partitions below it)
            return dg.AssetKey(transform.key.split("/"))
    return asset_key_for(artifact.key)


def latest_versions(instance: ln.Instance, stem_uids: Sequence[str]) -> dict[str, ln.Artifact]:
    """Return the latest artifact of each version family (by stem uid)."""
    import sqlalchemy as sa

    if not stem_uids:
        return {}
    statement = sa.select(ln.Artifact).where(
        ln.Artifact.is_latest.is_(True),
        sa.or_(*(ln.Artifact.uid.startswith(stem) for stem in set(stem_uids))),
    )
    return {artifact.stem_uid: artifact for artifact in instance.session.scalars(statement)}


def external_asset_events(
    instance: ln.Instance, specs: Sequence[dg.AssetSpec], cursor: dict[str, str]
) -> tuple[list[dg.AssetMaterialization], dict[str, str]]:
    """Return materializations for families whose latest version changed, and the new cursor.

    Args:
        instance: The catalog.
        specs: Specs from `lamin_external_assets`.
        cursor: Asset key string -> uid of the version reported last.
    """
    by_stem = {str(spec.metadata[STEM_UID_KEY]): spec for spec in specs}
    events = []
    new_cursor = dict(cursor)
    for stem, artifact in latest_versions(instance, list(by_stem)).items():
        spec = by_stem[stem]
        asset = spec.key.to_user_string()
        if cursor.get(asset) == artifact.uid:
            continue
        new_cursor[asset] = artifact.uid
        events.append(
            dg.AssetMaterialization(
                asset_key=spec.key,
                description=f"New version {artifact.version} of {artifact.key} in the catalog.",
                metadata=artifact_metadata(artifact, row_count=artifact.n_observations),
                tags={DATA_VERSION_TAG: str(artifact.hash)},
            )
        )
    return events, new_cursor


def lamin_external_asset_sensor(
    specs: Sequence[dg.AssetSpec],
    *,
    name: str = "lamin_external_assets_sensor",
    resource_key: str = "lamin",
    minimum_interval_seconds: int = 60,
) -> dg.SensorDefinition:
    """Return a sensor that reports new catalog versions of external assets.

    Args:
        specs: Specs from `lamin_external_assets`.
        name: The sensor's name.
        resource_key: The key of the `LaminResource` with the catalog.
        minimum_interval_seconds: How often to look for new versions.
    """
    specs = list(specs)

    def report_new_versions(context: dg.SensorEvaluationContext, **resources: Any) -> Any:
        instance = resources[resource_key].get_instance()
        cursor = json.loads(context.cursor) if context.cursor else {}
        events, new_cursor = external_asset_events(instance, specs, cursor)
        if not events:
            return dg.SkipReason("No new versions of external catalog artifacts.")
        return dg.SensorResult(asset_events=events, cursor=json.dumps(new_cursor, sort_keys=True))

    return dg.sensor(
        name=name,
        description="Report new catalog versions of artifacts registered outside Dagster.",
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
    )(with_resource_parameter(report_new_versions, resource_key))
