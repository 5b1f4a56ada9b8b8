"""Runs of scripts and notebooks: `track()`, `finish()`, run inputs.

`track()` registers the calling script or notebook as a Transform (keyed by its file name,
versioned by the hash of its source) and starts a Run with its parameters. While the run is
active, artifacts saved get it as their run, and artifacts read (`load`, `cache`, `open`) become
its inputs. `finish()` closes it and saves its environment (the installed packages) and its
report (what the script printed, or a file given). Which run is current is held per context
(`lamin_core.tracking.context`), so Dagster steps, threads and tracked functions
(`lamin_core.tracking.functions`) each have their own.
"""

from __future__ import annotations

import datetime as dt
import inspect
import os
import sys
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import sqlalchemy as sa

from lamin_core.console import logger
from lamin_core.errors import DoesNotExist, LaminError, ValidationError
from lamin_core.ids import encode_version
from lamin_core.instance import Instance, get_instance
from lamin_core.models.base import utcnow
from lamin_core.storage.hashing import hash_bytes
from lamin_core.tracking.context import current_run, global_run, set_current_run, set_global_run
from lamin_core.tracking.environment import environment_artifact_id
from lamin_core.tracking.output import (
    RunLog,
    check_report_path,
    save_report,
    start_process_capture,
    stop_process_capture,
)
from lamin_core.tracking.params import run_params

if TYPE_CHECKING:
    from lamin_core.models import Artifact, Project, Run, Space, Transform

PACKAGE_DIR = Path(__file__).parent.parent


def forget_current_run() -> None:
    """Forget the run `track()` made current, in this context and process-wide, without closing it.

    The run stays as it is in the catalog (``started``); `lamin_core.testing.reset` uses this.
    Output capture and the exception hook of a tracked script end too.
    """
    set_global_run(None)
    _end_script_tracking()


def _caller_source() -> tuple[str, str, str, Path | None]:
    """Return (key, type, source code, path) of the script or notebook that called `track()`."""
    notebook = os.environ.get("JPY_SESSION_NAME")
    if notebook and Path(notebook).exists():
        path = Path(notebook)
        return path.name, "notebook", path.read_text(), path
    for frame in inspect.stack()[2:]:
        filename = frame.filename
        if filename.startswith("<") or Path(filename).resolve().is_relative_to(PACKAGE_DIR):
            continue
        path = Path(filename)
        if path.exists():
            return path.name, "script", path.read_text(), path
    raise ValidationError(
        "Cannot find the script that called ln.track() (interactive session?). Pass a key: "
        "ln.track(key='my_analysis.py')."
    )


def get_or_create_transform(
    key: str,
    *,
    type: str,
    version: str | None = None,
    source_code: str | None = None,
    description: str | None = None,
    reference: str | None = None,
    reference_type: str | None = None,
    uid: str | None = None,
    instance: Instance | None = None,
) -> Transform:
    """Return the Transform of some code, creating it as the next version of its key if needed.

    The one rule for `ln.track()` and the Dagster integration alike:

    - `uid` given: the transform whose uid starts with it; else a new one with that uid
      (a 12-character uid gets the version suffix ``0000``).
    - otherwise the existing transform of `key` and `type` is reused: with `version`, the newest
      of that version; without, the latest. It is reused unless `source_code` is given and its
      hash differs from the stored one.
    - a new transform becomes the next version of the latest transform with `key` (whatever its
      type), numbered after every version the family ever had; `version` (a code version) is
      kept as its label, else it is labelled by the number. The first of a key is version "1"
      unless `version` says otherwise.

    A new transform is added to the instance's session, not committed: the caller commits it
    with the run it starts (in the same transaction, so that concurrent callers that serialise
    on a lock see each other's transforms).

    Args:
        key: The transform's key (a file name, a Dagster asset key, ``<job>/<op>``).
        type: The transform's type (``script``, ``notebook``, ``pipeline``, ``dagster_asset``,
            ``dagster_op``, ...).
        version: The code version to find or create; None: the latest, or the next number.
        source_code: The source; its hash decides whether the latest transform still applies.
        description: The description of a new transform.
        reference: A reference of a new transform (a URL, an external id).
        reference_type: What `reference` refers to (``dagster``).
        uid: A uid (12 or 16 characters) to find or create, as in ``ln.track("pd7UR7Z8hoTq")``.
        instance: The catalog; default: the active one.

    Returns:
        The existing transform, or a new, unsaved one in the session (no identity yet).

    Raises:
        IntegrityError: `uid` belonged to a deleted transform (uids are never reused).

    Examples:
        >>> transform = get_or_create_transform("daily_job", type="pipeline", version="2")
        >>> run = ln.Run(transform=transform).save()
    """
    from lamin_core.models import Transform
    from lamin_core.models.versioning import assign_next_version, ensure_uid_unused, latest_with_key

    instance = instance or get_instance()
    session = instance.session
    source_hash = hash_bytes(source_code.encode()) if source_code is not None else None
    prior: Transform | None = None
    if uid is not None:
        transform = session.scalar(sa.select(Transform).where(Transform.uid.startswith(uid)))
        if transform is not None:
            return transform
    else:
        statement = sa.select(Transform).where(Transform.key == key, Transform.type == type)
        if version is not None:
            statement = statement.where(Transform.version == version)
        else:
            statement = statement.where(Transform.is_latest.is_(True))
        existing = session.scalars(statement.order_by(Transform.id.desc()).limit(1)).first()
        if existing is not None and (source_hash is None or existing.hash == source_hash):
            return existing
        prior = latest_with_key(session, Transform, key)  # type: ignore[assignment]
    transform = Transform._create(
        key=key,
        type=type,
        version=version,
        source_code=source_code,
        hash=source_hash,
        description=description,
        reference=reference,
        reference_type=reference_type,
        created_by_id=instance.user_id,
    )
    if uid is not None:
        transform.uid = uid if len(uid) == 16 else uid[:12] + encode_version(0)
        ensure_uid_unused(session, Transform, transform.uid)
    elif prior is not None:
        assign_next_version(session, transform, prior)
    if transform.version is None:
        transform.version = "1"
    session.add(transform)
    return transform


def track(
    transform: str | Transform | None = None,
    *,
    key: str | None = None,
    description: str | None = None,
    params: dict[str, Any] | None = None,
    project: str | Project | None = None,
    space: str | Space | None = None,
) -> Run:
    """Register the calling script or notebook as a Transform and start a Run.

    The run gets `params`; `finish()` adds its environment (`run.environment`: the installed
    packages). When the tracked script is the program being run (``python script.py``), what it
    prints is kept and `finish()` saves it as `run.report`; an uncaught exception ends the run
    as ``errored`` with the traceback in the report.

    Args:
        transform: A Transform, or the uid of one (12 or 16 characters, as LaminDB's
            ``ln.track("pd7UR7Z8hoTq0000")``); default: the calling script.
        key: The transform's key; default: the calling file's name.
        description: A description of the transform.
        params: Parameters of this run, stored as JSON in `run.params` (records, dates and
            paths as text; secrets such as ``password=`` as ``***``).
        project: A Project (or its name or uid): the transform, the run and every record with
            projects saved in the run (artifacts, collections) are linked to it.
        space: A Space (or its name): the run and the records saved in it go into it.

    Returns:
        The started run; artifacts saved from now on get it as their run.

    Raises:
        ValidationError: `params` cannot be stored as JSON (nothing is written).
        DoesNotExist: no project or space of that name (nothing is written).

    Examples:
        >>> ln.track(params={"learning_rate": 0.01})
        >>> ln.Artifact.from_df(df, key="results.parquet").save()
        >>> ln.finish()
    """
    from lamin_core.models import Project, Run, Space, Transform

    instance = get_instance()
    stored_params = run_params(params)
    project_record = _saved_record(Project, project, "project") if project is not None else None
    space_record = _saved_record(Space, space, "space") if space is not None else None
    instance.check_write("track a run", [("transform", "INSERT"), ("run", "INSERT")])
    session = instance.session
    path: Path | None = None
    if isinstance(transform, Transform):
        record = transform
    else:
        if key is not None:
            caller_key, kind, source = key, "script", None
        else:
            caller_key, kind, source, path = _caller_source()
        record = get_or_create_transform(
            caller_key,
            type=kind,
            source_code=source,
            description=description,
            uid=transform,
            instance=instance,
        )
    is_new_transform = not sa.inspect(record).has_identity
    run = Run(
        transform=record,
        params=stored_params,
        started_at=utcnow(),
        created_by_id=instance.user_id,
    )
    _set_run_context(run, record, project=project_record, space=space_record)
    with instance.writing():
        session.add_all([record, run])
    _end_script_tracking()  # the output and hook of an earlier track() in this process
    set_global_run((instance, run))
    if path is not None and _is_main_script(path):
        _start_script_tracking(run)
    logger.info(
        f"→ {'created' if is_new_transform else 'loaded'} Transform('{record.uid}'), "
        f"started Run('{run.uid}') at {_shown_time(run.started_at)}"
    )
    if stored_params:
        shown = ", ".join(f"{name}={value!r}" for name, value in stored_params.items())
        logger.info(f"→ params: {shown}")
    return run


def _set_run_context(run: Run, transform: Transform, *, project: Any, space: Any) -> None:
    """Link the run and its transform to `project`, put the run into `space`, and keep both on
    the run for the records saved in it (`Record._take_run_context`)."""
    tracked: Any = run  # the project links and the context are not declared on the model
    tracked.tracked_space = space
    tracked.tracked_projects = [project] if project is not None else []
    if space is not None:
        run.space_id = space.id
    if project is not None:
        tracked.projects.append(project)
        projects = cast(Any, transform).projects
        if project not in projects:
            projects.append(project)


def _saved_record(registry: type[Any], value: Any, what: str) -> Any:
    """Return the saved `registry` record `value` names (the record, its name or uid)."""
    if isinstance(value, registry):
        if value.id is None:
            raise ValidationError(
                f"track({what}=...) got an unsaved {registry.__name__} {value!r}; save it first: "
                f"{what}.save()."
            )
        return value
    if not isinstance(value, str):
        raise ValidationError(
            f"track({what}=...) expects a {registry.__name__}, its name or uid, got "
            f"{type(value).__name__} {value!r}."
        )
    found = registry.filter(sa.or_(registry.name == value, registry.uid == value)).first()
    if found is None:
        names = registry.filter().to_list("name")
        raise DoesNotExist(
            f"No {registry.__name__} named {value!r} (track({what}=...)). "
            f"{registry.__name__}s: {', '.join(map(repr, names)) or 'none'}. "
            f"Create it with ln.{registry.__name__}(name={value!r}).save()."
        )
    return found


def _is_main_script(path: Path) -> bool:
    """Whether `path` is the program this process runs (``python path``)."""
    main = getattr(sys.modules.get("__main__"), "__file__", None)
    return main is not None and Path(main).resolve() == path.resolve()


_previous_excepthook: Any = None


def _start_script_tracking(run: Run) -> None:
    """Keep the script's output for its report; end its run as errored on an uncaught error."""
    global _previous_excepthook
    start_process_capture(RunLog(run.uid))
    _previous_excepthook = sys.excepthook
    sys.excepthook = _on_uncaught_exception


def _end_script_tracking() -> RunLog | None:
    """Stop keeping the script's output and restore the exception hook; return the log."""
    global _previous_excepthook
    if _previous_excepthook is not None and sys.excepthook is _on_uncaught_exception:
        sys.excepthook = _previous_excepthook
    _previous_excepthook = None
    return stop_process_capture()


def _on_uncaught_exception(kind: Any, error: Any, trace: Any) -> None:
    hook = _previous_excepthook or sys.__excepthook__
    hook(kind, error, trace)  # printed through the capture: the traceback is in the report
    try:
        finish(status="errored")
    except Exception:  # the process is ending: say why the run could not be closed
        logger.warning("could not close the run:\n" + traceback.format_exc())


def _shown_time(moment: dt.datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment is not None else "?"


def _shown_duration(seconds: float) -> str:
    """Show a duration as LaminDB does: 3s, 2m 5s, 1h 2m, 3d 4h."""
    total = round(seconds)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


def finish(
    status: str = "completed", *, report: str | os.PathLike[str] | None = None
) -> Run | None:
    """Close the run `track()` started: set `finished_at`, its status and its report.

    Args:
        status: How the run ended: ``completed`` (default), ``errored`` or ``aborted``.
        report: A file to save as `run.report` (an HTML export of a notebook, a log); default:
            what the script printed since `track()`, if it is the program being run.

    Returns:
        The closed run (None if no run is being tracked).

    Raises:
        ValidationError: `status` is not one of the three, or `report` is not a file (the run
            stays open).

    Examples:
        >>> ln.finish()
        >>> ln.finish(report="analysis.html")
    """
    if status not in RUN_END_STATUSES:
        raise ValidationError(
            f"finish(status={status!r}): a run ends {', '.join(map(repr, RUN_END_STATUSES))}."
        )
    report_path = check_report_path(report) if report is not None else None
    run = current_run()
    if run is None:
        return None
    pair = global_run()
    is_global = pair is not None and pair[1] is run
    instance = pair[0] if pair is not None and is_global else run._instance()
    log = _end_script_tracking() if is_global else None
    if report_path is None and log is not None and not log.is_empty:
        report_path = log.path
    if report_path is not None:
        try:
            run.report_id = save_report(
                run, report_path, instance, description=f"report of run {run.uid}"
            )
        except LaminError as error:
            if report is not None:  # the file the user gave: they decide what to do
                raise
            logger.warning(f"could not save the output of Run('{run.uid}') as its report: {error}")
        finally:
            if log is not None:
                log.discard()
    elif log is not None:
        log.discard()
    # saved as the run ends (as LaminDB's finish), so that the artifacts a script saves are
    # numbered from 1 as in LaminDB's guides
    run.environment_id = run.environment_id or environment_artifact_id(instance)
    run.finished_at = utcnow()
    run.status = status
    run.save()
    elapsed = (run.finished_at - run.started_at).total_seconds() if run.started_at else 0.0
    logger.info(
        f"→ finished Run('{run.uid}') after {_shown_duration(elapsed)} at "
        f"{_shown_time(run.finished_at)}"
    )
    set_current_run(None)
    if is_global:
        set_global_run(None)
    return run


RUN_END_STATUSES = ("completed", "errored", "aborted")


def record_input_artifact(artifact: Artifact) -> None:
    """Link `artifact` as an input of the current run, unless that run produced it."""
    from lamin_core.models.provenance import run_input_artifact

    instance = artifact._instance()
    run = current_run(instance)
    if run is None or artifact.id is None or artifact.run_id == run.id:
        return
    session = instance.session
    exists = session.scalar(
        sa.select(sa.func.count())
        .select_from(run_input_artifact)
        .where(
            run_input_artifact.c.run_id == run.id,
            run_input_artifact.c.artifact_id == artifact.id,
        )
    )
    if exists:
        return
    try:
        with instance.writing():
            session.execute(
                run_input_artifact.insert().values(run_id=run.id, artifact_id=artifact.id)
            )
    except sa.exc.IntegrityError:
        pass  # recorded concurrently by another thread: the link exists
    else:
        session.expire(run, ["input_artifacts"])
        session.expire(artifact, ["input_of_runs"])
