"""Which run is current: per context (thread, asyncio task, tracked call), else process-wide.

`ln.track()` makes its run current in its context and process-wide, so that threads a script
starts still save into it. A tracked function call, a Dagster step or a thread sets its own run
for its context only (a context variable), so two threads or two tasks never mix their runs.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lamin_core.instance import Instance
    from lamin_core.models import Run

Pair = tuple["Instance", "Run"]
# the value of a context that has no run, even if `track()` started one process-wide
_NO_RUN = ("no run", None)

_current: contextvars.ContextVar[Any] = contextvars.ContextVar("lamin_core_run", default=None)
_global_run: Pair | None = None


def current_run(instance: Instance | None = None) -> Run | None:
    """Return the run being tracked in this context for `instance` (default: any catalog)."""
    pair = _current.get() or _global_run
    if pair is None or pair is _NO_RUN:
        return None
    tracked_instance, run = pair
    if instance is not None and tracked_instance is not instance:
        return None
    return run


def current_pair() -> Pair | None:
    """Return (instance, run) of the run current in this context, if any."""
    pair = _current.get() or _global_run
    return None if pair is None or pair is _NO_RUN else pair


def set_current_run(run: Run | None, instance: Instance | None = None) -> contextvars.Token[Any]:
    """Make `run` the current run of this context; return a token to restore the previous one.

    With None, the context falls back to the run `track()` started process-wide, if any.
    """
    if run is None:
        return _current.set(None)
    return _current.set((instance or run._instance(), run))


def reset_current_run(token: contextvars.Token[Any]) -> None:
    """Restore the run that was current before `set_current_run`."""
    _current.reset(token)


@contextlib.contextmanager
def no_current_run() -> Iterator[None]:
    """Within the block this context has no run: what is saved belongs to none.

    The files that document a run (its report, its environment) are saved so, so that they are
    not outputs of the run they describe (LaminDB's ``run=False``).
    """
    token = _current.set(_NO_RUN)
    try:
        yield
    finally:
        _current.reset(token)


def global_run() -> Pair | None:
    """Return (instance, run) of the run `track()` started process-wide, if any."""
    return _global_run


def set_global_run(pair: Pair | None) -> None:
    """Make `pair` the process-wide run (`track()`), and the current run of this context."""
    global _global_run
    _global_run = pair
    _current.set(pair)
