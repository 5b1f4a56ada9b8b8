"""Run tracking: which code produced which data.

`track()` registers the calling script or notebook as a Transform (keyed by its file name,
versioned by the hash of its source) and starts a Run. While the run is active, artifacts saved
get it as their run, and artifacts read (`load`, `cache`, `open`) become its inputs. `finish()`
closes it. The current run is held in a context variable, so Dagster steps and threads can each
track their own.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import inspect
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from lamin_core.console import logger
from lamin_core.errors import ValidationError
from lamin_core.instance import Instance, get_instance
from lamin_core.models.base import utcnow
from lamin_core.storage.hashing import hash_bytes

if TYPE_CHECKING:
    from lamin_core.models import Artifact, Run, Transform

_current: contextvars.ContextVar[tuple[Instance, Run] | None] = contextvars.ContextVar(
    "lamin_core_run", default=None
)
_global_run: tuple[Instance, Run] | None = None
PACKAGE_DIR = Path(__file__).parent


def current_run(instance: Instance | None = None) -> Run | None:
    """Return the run being tracked in this context for `instance` (default: the active one)."""
    pair = _current.get() or _global_run
    if pair is None:
        return None
    tracked_instance, run = pair
    if instance is not None and tracked_instance is not instance:
        return None
    return run


def set_current_run(run: Run | None, instance: Instance | None = None) -> contextvars.Token[Any]:
    """Make `run` the current run of this context; return a token to restore the previous one."""
    if run is None:
        return _current.set(None)
    return _current.set((instance or run._instance(), run))


def reset_current_run(token: contextvars.Token[Any]) -> None:
    """Restore the run that was current before `set_current_run`."""
    _current.reset(token)


def forget_current_run() -> None:
    """Forget the run `track()` made current, in this context and process-wide, without closing it.

    The run stays as it is in the catalog (``started``); `lamin_core.testing.reset` uses this.
    """
    global _global_run
    _global_run = None
    _current.set(None)


def _caller_source() -> tuple[str, str, str]:
    """Return (key, type, source code) of the script or notebook that called `track()`."""
    notebook = os.environ.get("JPY_SESSION_NAME")
    if notebook and Path(notebook).exists():
        path = Path(notebook)
        return path.name, "notebook", path.read_text()
    for frame in inspect.stack()[2:]:
        filename = frame.filename
        if filename.startswith("<") or Path(filename).resolve().is_relative_to(PACKAGE_DIR):
            continue
        path = Path(filename)
        if path.exists():
            return path.name, "script", path.read_text()
    raise ValidationError(
        "Cannot find the script that called ln.track() (interactive session?). Pass a key: "
        "ln.track(key='my_analysis.py')."
    )


def _get_or_create_transform(
    session: sa.orm.Session,
    *,
    uid: str | None,
    key: str,
    type: str,
    source_code: str | None,
    description: str | None,
) -> Transform:
    from lamin_core.models import Transform
    from lamin_core.versioning import assign_next_version, ensure_uid_unused, latest_with_key

    source_hash = hash_bytes(source_code.encode()) if source_code is not None else None
    if uid is not None:
        transform = session.scalar(sa.select(Transform).where(Transform.uid.startswith(uid)))
        if transform is not None:
            return transform
    else:
        prior = latest_with_key(session, Transform, key)
        if isinstance(prior, Transform) and (source_hash is None or prior.hash == source_hash):
            return prior
    transform = Transform._create(
        key=key, type=type, source_code=source_code, hash=source_hash, description=description
    )
    if uid is not None:
        transform.uid = uid if len(uid) == 16 else uid[:12] + "0000"
        ensure_uid_unused(session, Transform, transform.uid)
        transform.version = "1"
    elif prior is not None:
        assign_next_version(session, transform, prior)
    else:
        transform.version = "1"
    return transform


def track(
    transform: str | Transform | None = None,
    *,
    key: str | None = None,
    description: str | None = None,
    params: dict[str, Any] | None = None,
) -> Run:
    """Register the calling script or notebook as a Transform and start a Run.

    Args:
        transform: A Transform, or the uid of one (12 or 16 characters, as LaminDB's
            ``ln.track("pd7UR7Z8hoTq0000")``); default: the calling script.
        key: The transform's key; default: the calling file's name.
        description: A description of the transform.
        params: Parameters of this run, stored as JSON on the run.

    Returns:
        The started run; artifacts saved from now on get it as their run.

    Examples:
        >>> ln.track()
        >>> ln.Artifact.from_df(df, key="results.parquet").save()
        >>> ln.finish()
    """
    from lamin_core.models import Run, Transform

    global _global_run
    instance = get_instance()
    instance.check_write("track a run", [("transform", "INSERT"), ("run", "INSERT")])
    session = instance.session
    if isinstance(transform, Transform):
        record = transform
    else:
        if key is not None:
            caller_key, kind, source = key, "script", None
        else:
            caller_key, kind, source = _caller_source()
        record = _get_or_create_transform(
            session,
            uid=transform,
            key=caller_key,
            type=kind,
            source_code=source,
            description=description,
        )
    run = Run(transform=record, params=params, started_at=utcnow(), created_by_id=instance.user_id)
    is_new_transform = not sa.inspect(record).has_identity
    session.add_all([record, run])
    try:
        session.commit()
    except BaseException:
        session.rollback()
        raise
    _current.set((instance, run))
    _global_run = (instance, run)
    logger.info(
        f"→ {'created' if is_new_transform else 'loaded'} Transform('{record.uid}'), "
        f"started Run('{run.uid}') at {_shown_time(run.started_at)}"
    )
    return run


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


def finish(status: str = "completed") -> Run | None:
    """Close the current run: set `finished_at` and its status. Return it (None if none)."""
    global _global_run
    run = current_run()
    if run is None:
        return None
    run.finished_at = utcnow()
    run.status = status
    run.save()
    elapsed = (run.finished_at - run.started_at).total_seconds() if run.started_at else 0.0
    logger.info(
        f"→ finished Run('{run.uid}') after {_shown_duration(elapsed)} at "
        f"{_shown_time(run.finished_at)}"
    )
    _current.set(None)
    if _global_run is not None and _global_run[1] is run:
        _global_run = None
    return run


def record_input_artifact(artifact: Artifact) -> None:
    """Link `artifact` as an input of the current run, unless that run produced it."""
    from lamin_core.models.core import run_input_artifact

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
        session.execute(run_input_artifact.insert().values(run_id=run.id, artifact_id=artifact.id))
        session.commit()
    except sa.exc.IntegrityError:
        session.rollback()  # recorded concurrently by another thread: the link exists
    else:
        session.expire(run, ["input_artifacts"])
        session.expire(artifact, ["input_of_runs"])
