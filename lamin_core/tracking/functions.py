"""`@ln.tracked()`: every call of a function is a Run of its Transform (LaminDB 2.x).

The transform of a function is keyed by its module and qualified name
(``my_pipeline.subset_dataframe``; a function of the script being run takes the script's name
as its module) and versioned by the hash of its source: editing the function makes the next
call a run of its next version. Each call is a run whose params are the call's arguments
(defaults included), whose inputs are the artifacts loaded and whose outputs are the artifacts
saved during the call, and whose `initiated_by_run` is the run current when it was called (the
calling tracked function, or the script's `ln.track()` run). An exception ends the run as
``errored`` (``aborted`` for KeyboardInterrupt and cancellation) and propagates unchanged.

The run is the current run of the call's context only (a context variable), so calls in two
threads or two asyncio tasks never mix their runs. A top-level call (no run current) keeps what
it prints as its `run.report`, as 2.x's ``@ln.flow()``; nested calls print into their caller's.
LaminDB 2.x's spellings ``@ln.flow()`` and ``@ln.step()`` are the same decorator; ``step``
refuses to run without a current run, as in 2.x.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import inspect
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from lamin_core.console import logger
from lamin_core.errors import ValidationError
from lamin_core.instance import get_instance
from lamin_core.models.base import utcnow
from lamin_core.tracking.context import current_pair, reset_current_run, set_current_run
from lamin_core.tracking.environment import environment_artifact_id
from lamin_core.tracking.output import RunLog, capturing, save_report
from lamin_core.tracking.params import call_params
from lamin_core.tracking.runs import get_or_create_transform

if TYPE_CHECKING:
    from lamin_core.instance import Instance
    from lamin_core.models import Run

P = ParamSpec("P")
R = TypeVar("R")

FUNCTION_TYPE = "function"


def function_key(func: Callable[..., Any]) -> str:
    """Return the transform key of a function: ``<module>.<qualified name>``.

    A function defined in the script being run (module ``__main__``) is keyed by the script's
    file name without suffix, so that the key is the one it has when the script is imported.
    """
    module = func.__module__ or "__main__"
    if module in ("__main__", "__mp_main__"):
        main_file = getattr(sys.modules.get(module), "__file__", None)
        module = Path(main_file).stem if main_file else "__main__"
    return f"{module}.{func.__qualname__}"


def function_source(func: Callable[..., Any]) -> str | None:
    """Return the source of a function (None when Python cannot find it, as in a REPL)."""
    try:
        return textwrap.dedent(inspect.getsource(func))
    except (OSError, TypeError):
        return None


def tracked(
    uid: str | None = None, *, key: str | None = None
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Track every call of the decorated function as a Run (sync or async functions).

    Args:
        uid: The transform's uid (12 or 16 characters), to keep one version history across
            renames of the function, as ``ln.track("...")``.
        key: The transform's key; default: ``<module>.<qualified name>``.

    Returns:
        The decorator.

    Raises:
        ValidationError: the decorated object is not a function.

    Examples:
        >>> @ln.tracked()
        ... def subset(input_key: str, output_key: str, n_rows: int = 2) -> None:
        ...     df = ln.Artifact.get(key=input_key).load()  # an input of the run
        ...     ln.Artifact.from_df(df.head(n_rows), key=output_key).save()  # an output
        >>> subset("iris.parquet", "iris_head.parquet")
    """
    return _decorator(uid=uid, key=key, needs_parent=False)


def flow(uid: str | None = None) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Track every call of the decorated function as a Run: LaminDB 2.x's ``@ln.flow()``."""
    return _decorator(uid=uid, key=None, needs_parent=False)


def step(uid: str | None = None) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Track every call as a Run inside the current one: LaminDB 2.x's ``@ln.step()``.

    Raises:
        ValidationError: when called, no run is current (no `ln.track()`, no tracked caller).
    """
    return _decorator(uid=uid, key=None, needs_parent=True)


def _decorator(
    *, uid: str | None, key: str | None, needs_parent: bool
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    if callable(uid) and not isinstance(uid, str):
        raise ValidationError(
            "Call the decorator: write @ln.tracked() with parentheses, not @ln.tracked."
        )

    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        if not callable(func) or not hasattr(func, "__qualname__"):
            raise ValidationError(
                f"@ln.tracked() decorates functions, got {type(func).__name__} {func!r}."
            )
        call = _Call(func, uid=uid, key=key, needs_parent=needs_parent)
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def tracked_coroutine(*args: Any, **kwargs: Any) -> Any:
                started = call.start(args, kwargs)
                try:
                    result = await func(*args, **kwargs)
                except BaseException as error:
                    call.end(started, error)
                    raise
                call.end(started, None)
                return result

            return tracked_coroutine  # type: ignore[return-value]

        @functools.wraps(func)
        def tracked_function(*args: P.args, **kwargs: P.kwargs) -> R:
            started = call.start(args, kwargs)
            try:
                result = func(*args, **kwargs)
            except BaseException as error:
                call.end(started, error)
                raise
            call.end(started, None)
            return result

        return tracked_function

    return decorate


class _Call:
    """What a tracked function's calls share: its key, source and signature."""

    def __init__(
        self, func: Callable[..., Any], *, uid: str | None, key: str | None, needs_parent: bool
    ) -> None:
        self.key = key or function_key(func)
        self.source = function_source(func)
        self.signature = inspect.signature(func)
        self.uid = uid
        self.needs_parent = needs_parent

    def start(self, args: Any, kwargs: Any) -> _Started:
        """Start the run of a call and make it current in this context."""
        from lamin_core.models import Run

        instance = get_instance()
        parent = _parent_run(instance)
        if parent is None and self.needs_parent:
            raise ValidationError(
                f"@ln.step() function {self.key!r} was called with no run to belong to. Call "
                "ln.track() first, call it from a @ln.flow() function, or use @ln.tracked()."
            )
        params = call_params(self.signature, args, kwargs, f"params of {self.key}")
        instance.check_write("track a function call", [("transform", "INSERT"), ("run", "INSERT")])
        session = instance.session
        # one writer at a time per function: concurrent first calls make one transform version
        with instance.writing(lock=f"lamin_core:transform:{self.key}"):
            transform = get_or_create_transform(
                self.key,
                type=FUNCTION_TYPE,
                source_code=self.source,
                uid=self.uid,
                instance=instance,
            )
            run = Run(
                transform=transform,
                params=params or None,
                started_at=utcnow(),
                created_by_id=instance.user_id,
                initiated_by_run_id=parent.id if parent is not None else None,
            )
            session.add_all([transform, run])
        token = set_current_run(run, instance)
        capture = contextlib.ExitStack()
        log = None
        if parent is None:  # a top-level call keeps what it prints (2.x's flow)
            log = capture.enter_context(capturing(RunLog(run.uid)))
        return _Started(run, token, capture, log)

    def end(self, started: _Started, error: BaseException | None) -> None:
        """Close the run of a call: status, end time and report; restore the current run."""
        run, log = started.run, started.log
        reset_current_run(started.token)
        started.capture.close()
        instance = run._instance()
        try:
            if log is not None and not log.is_empty:
                run.report_id = save_report(
                    run, log.path, instance, description=f"report of run {run.uid}"
                )
            run.environment_id = environment_artifact_id(instance)
            run.finished_at = utcnow()
            run.status = "completed" if error is None else _failed_status(error)
            run.save()
        except Exception as problem:
            if error is None:
                raise
            # the call's own error is the one to see; this one is only reported
            logger.warning(f"could not close Run('{run.uid}') of {self.key}: {problem}")
        finally:
            if log is not None:
                log.discard()


@dataclasses.dataclass
class _Started:
    """A started call: its run, the token restoring the caller's run, its output capture."""

    run: Run
    token: Any
    capture: contextlib.ExitStack
    log: RunLog | None


def _parent_run(instance: Instance) -> Run | None:
    """Return the run current in this context for `instance` (the caller's), if any."""
    pair = current_pair()
    if pair is None or pair[0] is not instance:
        return None
    return pair[1]


def _failed_status(error: BaseException) -> str:
    """``errored`` for an exception, ``aborted`` for an interruption or a cancellation."""
    return "errored" if isinstance(error, Exception) else "aborted"
