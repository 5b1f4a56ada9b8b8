"""Run tracking: which code produced which data.

`ln.track()` / `ln.finish()` track a script or notebook (`runs`); `@ln.tracked()` tracks each
call of a function (`functions`). A run records its transform, parameters, environment (the
installed packages), inputs, outputs, the run that started it and its report. `context` says
which run is current: per thread, task and tracked call, else the one `track()` started.
"""

from lamin_core.tracking.context import (
    current_run,
    no_current_run,
    reset_current_run,
    set_current_run,
)
from lamin_core.tracking.functions import flow, step, tracked
from lamin_core.tracking.runs import (
    finish,
    forget_current_run,
    get_or_create_transform,
    record_input_artifact,
    track,
)

__all__ = [
    "current_run",
    "finish",
    "flow",
    "forget_current_run",
    "get_or_create_transform",
    "no_current_run",
    "record_input_artifact",
    "reset_current_run",
    "set_current_run",
    "step",
    "track",
    "tracked",
]
