"""OpenLineage export: catalog Runs as OpenLineage RunEvents, written to a file or posted.

A Run (of ``ln.track`` or of a Dagster step) becomes a START event at its `started_at` and, once
it has finished, a COMPLETE, FAIL or ABORT event (by its status) at its `finished_at`:

- job: namespace = the catalog's name, name = the transform's key; a ``jobType`` facet says
  the transform's type and whether Dagster ran it.
- run: a UUID derived from the Run's uid (the same on every export), a ``parent`` facet for a
  Dagster step (its Dagster run's Run), and a ``lamin_run`` facet with the uid and reference.
- inputs (START and final event) and outputs (final event): artifacts as datasets, namespace =
  their storage root, name = their key (else their uid), with a ``schema`` facet listing the
  columns the catalog knows (the features of a DataFrame's ``columns`` feature set, or of an
  AnnData's ``obs`` one, as curation links them), a ``version`` facet (the artifact's uid) and a
  ``lamin_content`` facet with the content hash, its type and the size.

Events go through the openlineage-python client (``pip install 'lamin-core[lineage]'``), which
is imported only when events are made: a file transport writes one JSON event a line, the HTTP
transport posts each to ``<url>/api/v1/lineage`` (or to the path the URL names). Records are read
a few statements per batch of runs, never one per run.
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.orm import Session, joinedload

from lamin_core.errors import StorageError, ValidationError
from lamin_core.instance import Instance, get_instance
from lamin_core.lineage.walk import chunks
from lamin_core.models import Artifact, Feature, FeatureSet, Run, Transform
from lamin_core.models.annotation import featureset_feature
from lamin_core.models.artifact import artifact_featureset
from lamin_core.models.provenance import run_input_artifact

if TYPE_CHECKING:
    from openlineage.client.event_v2 import RunEvent

__all__ = [
    "COLUMN_SLOTS",
    "EVENT_TYPES",
    "PRODUCER",
    "Destination",
    "emit_events",
    "event_dicts",
    "export_events",
    "openlineage_run_id",
    "run_events",
    "runs_since",
]


def _version() -> str:
    try:
        return metadata.version("lamin-core")
    except metadata.PackageNotFoundError:  # a source tree that is not installed
        return "0"


# `producer` and the custom facets' `_schemaURL` must be URIs; lamin-core has no web home, so a
# URN names it (OpenLineage accepts any URI).
PRODUCER = f"urn:lamin-core:{_version()}"
FACET_SCHEMA = "urn:lamin-core:openlineage-facets:1#/$defs/"
# the final event of a finished Run, by its status; other statuses give OTHER
EVENT_TYPES = {
    "completed": "COMPLETE",
    "errored": "FAIL",
    "failed": "FAIL",
    "aborted": "ABORT",
    "canceled": "ABORT",
    "skipped": "ABORT",
}
# the feature-set slots of a table's columns, as curators link them: a DataFrame's columns, the
# columns of an AnnData's observation table
COLUMN_SLOTS = ("columns", "obs")
_RUN_ID_NAMESPACE = uuid.UUID("8f1f3c2e-5b0a-4d7e-9a53-6c1b2f0d4e71")
_HTTP_ENDPOINT = "api/v1/lineage"


def _client_modules() -> Any:
    """Import the openlineage-python client, or say how to install it."""
    try:
        import openlineage.client  # an optional dependency: the `lineage` extra
        import openlineage.client.event_v2
        import openlineage.client.facet_v2
        import openlineage.client.serde
        import openlineage.client.transport.file
        import openlineage.client.transport.http
    except ImportError as error:
        raise ImportError(
            "OpenLineage export needs the openlineage-python client, which is not installed: "
            "pip install 'lamin-core[lineage]' (or pip install openlineage-python)."
        ) from error
    return openlineage.client


def openlineage_run_id(run: Run) -> str:
    """Return the OpenLineage run id of a Run: a UUID derived from its uid, the same each time."""
    return str(uuid.uuid5(_RUN_ID_NAMESPACE, run.uid))


def _time(moment: dt.datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc).isoformat()


@dataclass
class _Records:
    """What the events of a batch of runs need, read in a few statements."""

    runs: list[Run]
    inputs: dict[int, list[Artifact]]
    outputs: dict[int, list[Artifact]]
    columns: dict[int, list[tuple[str, str | None]]]


def _load(session: Session, run_ids: Sequence[int]) -> _Records:
    runs: list[Run] = []
    inputs: dict[int, list[Artifact]] = {}
    outputs: dict[int, list[Artifact]] = {}
    for chunk in chunks(sorted(set(run_ids))):
        runs += session.scalars(
            sa.select(Run)
            .options(
                joinedload(Run.transform),
                joinedload(Run.initiated_by_run).joinedload(Run.transform),
            )
            .where(Run.id.in_(chunk))
        ).unique()
        link = run_input_artifact.c
        for run_id, artifact in session.execute(
            sa.select(link.run_id, Artifact)
            .join(Artifact, Artifact.id == link.artifact_id)
            .options(joinedload(Artifact.storage))
            .where(link.run_id.in_(chunk))
            .order_by(Artifact.id)
        ).all():
            inputs.setdefault(run_id, []).append(artifact)
        for artifact in session.scalars(
            sa.select(Artifact)
            .options(joinedload(Artifact.storage))
            .where(Artifact.run_id.in_(chunk))
            .order_by(Artifact.id)
        ):
            outputs.setdefault(artifact.run_id, []).append(artifact)  # type: ignore[arg-type]
    artifact_ids = {a.id for group in (*inputs.values(), *outputs.values()) for a in group}
    return _Records(
        sorted(runs, key=lambda run: run.id), inputs, outputs, _columns(session, artifact_ids)
    )


def _columns(session: Session, artifact_ids: set[int]) -> dict[int, list[tuple[str, str | None]]]:
    """Return artifact id -> (name, dtype) of the features of its column feature sets."""
    columns: dict[int, list[tuple[str, str | None]]] = {}
    link, members = artifact_featureset.c, featureset_feature.c
    for chunk in chunks(sorted(artifact_ids)):
        rows = session.execute(
            sa.select(link.artifact_id, Feature.name, Feature.dtype)
            .join(FeatureSet, FeatureSet.id == link.featureset_id)
            .join(featureset_feature, members.featureset_id == link.featureset_id)
            .join(Feature, Feature.id == members.feature_id)
            .where(
                link.artifact_id.in_(chunk),
                link.slot.in_(COLUMN_SLOTS),
                FeatureSet.itype == "Feature",
            )
            .order_by(link.artifact_id, link.id, Feature.id)
        ).all()
        for artifact_id, name, dtype in rows:
            known = columns.setdefault(artifact_id, [])
            if all(name != existing for existing, _ in known):
                known.append((name, dtype))
    return columns


@functools.cache
def _facet_classes() -> tuple[type, type, type]:
    """Return the custom facet classes: made on first use, as they subclass the client's."""
    import attr
    from openlineage.client.generated.base import DatasetFacet, JobFacet, RunFacet

    @attr.define
    class LaminContentDatasetFacet(DatasetFacet):
        """The content of an artifact: its hash (``hashType``: how it was computed), size."""

        hash: str | None
        hashType: str | None
        size: int | None
        uid: str
        suffix: str

        @staticmethod
        def _get_schema() -> str:
            return FACET_SCHEMA + "LaminContentDatasetFacet"

    @attr.define
    class LaminRunFacet(RunFacet):
        """The catalog's Run: uid, status, reference (a Dagster run or step) and params."""

        uid: str
        status: str
        reference: str | None
        referenceType: str | None
        params: dict[str, Any] | None

        @staticmethod
        def _get_schema() -> str:
            return FACET_SCHEMA + "LaminRunFacet"

    @attr.define
    class LaminTransformJobFacet(JobFacet):
        """The catalog's Transform: uid, type and version."""

        uid: str
        type: str
        version: str | None

        @staticmethod
        def _get_schema() -> str:
            return FACET_SCHEMA + "LaminTransformJobFacet"

    return (LaminContentDatasetFacet, LaminRunFacet, LaminTransformJobFacet)


def _dataset(artifact: Artifact, columns: list[tuple[str, str | None]] | None, kind: type) -> Any:
    from openlineage.client.facet_v2 import dataset_version_dataset, schema_dataset

    content_facet = _facet_classes()[0]
    facets: dict[str, Any] = {
        "version": dataset_version_dataset.DatasetVersionDatasetFacet(datasetVersion=artifact.uid),
        "lamin_content": content_facet(
            hash=artifact.hash,
            hashType=artifact.hash_type,
            size=artifact.size,
            uid=artifact.uid,
            suffix=artifact.suffix,
        ),
    }
    if columns:
        facets["schema"] = schema_dataset.SchemaDatasetFacet(
            fields=[
                schema_dataset.SchemaDatasetFacetFields(name=name, type=dtype, ordinal_position=i)
                for i, (name, dtype) in enumerate(columns, start=1)
            ]
        )
    for facet in facets.values():
        facet._producer = PRODUCER
    return kind(namespace=artifact.storage.root, name=artifact.key or artifact.uid, facets=facets)


def _job(namespace: str, transform: Transform, run: Run) -> Any:
    from openlineage.client.event_v2 import Job
    from openlineage.client.facet_v2 import job_type_job

    transform_facet = _facet_classes()[2]
    integration = "DAGSTER" if (run.reference_type or "").startswith("dagster") else "LAMIN"
    facets: dict[str, Any] = {
        "jobType": job_type_job.JobTypeJobFacet(
            processingType="BATCH", integration=integration, jobType=transform.type.upper()
        ),
        "lamin_transform": transform_facet(
            uid=transform.uid, type=transform.type, version=transform.version
        ),
    }
    for facet in facets.values():
        facet._producer = PRODUCER
    return Job(namespace=namespace, name=transform.key or transform.uid, facets=facets)


def _run(run: Run, namespace: str) -> Any:
    from openlineage.client.event_v2 import Run as OpenLineageRun
    from openlineage.client.facet_v2 import parent_run

    run_facet = _facet_classes()[1]
    facets: dict[str, Any] = {
        "lamin_run": run_facet(
            uid=run.uid,
            status=run.status,
            reference=run.reference,
            referenceType=run.reference_type,
            params=run.params,
        )
    }
    parent = run.initiated_by_run
    if parent is not None:
        facets["parent"] = parent_run.ParentRunFacet(
            run=parent_run.Run(runId=openlineage_run_id(parent)),
            job=parent_run.Job(
                namespace=namespace, name=parent.transform.key or parent.transform.uid
            ),
        )
    for facet in facets.values():
        facet._producer = PRODUCER
    return OpenLineageRun(runId=openlineage_run_id(run), facets=facets)


def _events(records: _Records, namespace: str) -> Iterator[tuple[dt.datetime, RunEvent]]:
    from openlineage.client.event_v2 import InputDataset, OutputDataset, RunEvent, RunState

    for run in records.runs:
        inputs = [
            _dataset(a, records.columns.get(a.id), InputDataset)
            for a in records.inputs.get(run.id, [])
        ]
        job, ol_run = _job(namespace, run.transform, run), _run(run, namespace)
        started = run.started_at or run.created_at
        yield (
            started,
            RunEvent(
                eventType=RunState.START,
                eventTime=_time(started),
                run=ol_run,
                job=job,
                inputs=inputs,
                outputs=[],
                producer=PRODUCER,
            ),
        )
        if run.finished_at is None or run.status == "started":
            continue
        outputs = [
            _dataset(a, records.columns.get(a.id), OutputDataset)
            for a in records.outputs.get(run.id, [])
        ]
        yield (
            run.finished_at,
            RunEvent(
                eventType=RunState(EVENT_TYPES.get(run.status, "OTHER")),
                eventTime=_time(run.finished_at),
                run=ol_run,
                job=job,
                inputs=inputs,
                outputs=outputs,
                producer=PRODUCER,
            ),
        )


def run_events(
    runs: Sequence[Run], *, since: dt.datetime | None = None, instance: Instance | None = None
) -> list[RunEvent]:
    """Return the OpenLineage RunEvents of `runs`, oldest first.

    Args:
        runs: Catalog Runs: each gives a START event and, when finished, a COMPLETE, FAIL or
            ABORT event by its status.
        since: Only the events that happened at or after this moment (naive: UTC).
        instance: The catalog; default: the active one.

    Raises:
        ImportError: openlineage-python is not installed.
    """
    _client_modules()
    instance = instance or get_instance()
    bound = _utc(since) if since is not None else None
    with instance.reading() as session:
        records = _load(session, [run.id for run in runs])
        timed = list(_events(records, instance.name))
    timed.sort(key=lambda pair: _utc(pair[0]))
    return [event for moment, event in timed if bound is None or _utc(moment) >= bound]


def event_dicts(events: Sequence[RunEvent]) -> list[dict[str, Any]]:
    """Return events as the JSON objects the transports send."""
    from openlineage.client.serde import Serde

    return [Serde.to_dict(event) for event in events]


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment.replace(tzinfo=dt.timezone.utc) if moment.tzinfo is None else moment


def runs_since(since: dt.datetime | None = None, *, instance: Instance | None = None) -> list[Run]:
    """Return the Runs that started or finished at or after `since` (all without it)."""
    instance = instance or get_instance()
    statement = sa.select(Run).order_by(Run.id)
    if since is not None:
        bound = _utc(since)
        statement = statement.where(sa.or_(Run.started_at >= bound, Run.finished_at >= bound))
    with instance.reading() as session:
        return list(session.scalars(statement))


@dataclass(frozen=True)
class Destination:
    """Where events go: a JSON-lines file, an OpenLineage HTTP endpoint, or both.

    Attributes:
        file: A file to write one event a line to (its folder is created).
        url: An OpenLineage receiver: ``http://host:5000`` posts to ``/api/v1/lineage``; a URL
            with a path posts to that path.
        append: Add to an existing file; False: start it afresh.
    """

    file: str | Path | None = None
    url: str | None = None
    append: bool = True

    def __post_init__(self) -> None:
        if self.file is None and self.url is None:
            raise ValidationError(
                "Say where OpenLineage events go: a file (to='events.jsonl') or the URL of a "
                "receiver (url='http://localhost:5000'), or both."
            )
        if self.url is not None and urlsplit(self.url).scheme not in ("http", "https"):
            raise ValidationError(
                f"OpenLineage URL {self.url!r} is not an http(s) URL. Pass the receiver's base "
                "URL, e.g. 'http://localhost:5000' (events are posted to /api/v1/lineage)."
            )

    def clients(self) -> list[tuple[str, Any]]:
        """Return (description, OpenLineageClient) for each target."""
        client = _client_modules()
        from openlineage.client.transport.file import FileConfig, FileTransport
        from openlineage.client.transport.http import HttpConfig, HttpTransport

        clients = []
        if self.file is not None:
            path = Path(self.file).expanduser()
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                if not self.append:
                    path.write_text("")
            except OSError as error:
                raise StorageError(
                    f"Cannot write OpenLineage events to {str(path)!r}: {error}. Pass a file in a "
                    "folder you can write to."
                ) from error
            transport: Any = FileTransport(FileConfig(log_file_path=str(path), append=True))
            clients.append((str(path), client.OpenLineageClient(transport=transport)))
        if self.url is not None:
            parts = urlsplit(self.url)
            base = f"{parts.scheme}://{parts.netloc}"
            endpoint = parts.path.strip("/") or _HTTP_ENDPOINT
            transport = HttpTransport(HttpConfig(url=base, endpoint=endpoint, timeout=10.0))
            clients.append((f"{base}/{endpoint}", client.OpenLineageClient(transport=transport)))
        return clients


def emit_events(events: Sequence[RunEvent], destination: Destination) -> int:
    """Send `events` to every target of `destination`; return how many were sent to each.

    Raises:
        StorageError: a target refused an event (the file cannot be written, the receiver is
            unreachable or answered with an error).
    """
    for where, client in destination.clients():
        try:
            for event in events:
                client.emit(event)
        except Exception as error:  # the transports raise their own kinds: say where it failed
            raise StorageError(
                f"Cannot send OpenLineage events to {where}: {error}. Check that the "
                "receiver runs and accepts /api/v1/lineage, or that the file is writable."
            ) from error
        finally:
            client.close(timeout=10.0)
    return len(events)


def export_events(
    since: dt.datetime | None = None,
    *,
    to: str | Path | None = None,
    url: str | None = None,
    append: bool = False,
    runs: Sequence[Run] | None = None,
    instance: Instance | None = None,
) -> int:
    """Export the catalog's Runs as OpenLineage events to a file and/or an HTTP receiver.

    Args:
        since: Only the events at or after this moment (naive: UTC); default: all.
        to: A JSON-lines file (one event a line).
        url: An OpenLineage receiver, e.g. ``http://localhost:5000`` (Marquez).
        append: Add to an existing file instead of writing it afresh.
        runs: These Runs instead of every Run since `since`.
        instance: The catalog; default: the active one.

    Returns:
        The number of events sent (to each target).

    Raises:
        ValidationError: neither `to` nor `url` is given, or `url` is not http(s).
        StorageError: a target refused the events.
        ImportError: openlineage-python is not installed.

    Examples:
        >>> export_events(dt.datetime(2026, 1, 1), to="events.jsonl")
        12
    """
    destination = Destination(file=to, url=url, append=append)
    instance = instance or get_instance()
    chosen = runs if runs is not None else runs_since(since, instance=instance)
    return emit_events(run_events(chosen, since=since, instance=instance), destination)
