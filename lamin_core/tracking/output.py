"""What a run prints, kept for its report (LaminDB 2.x's run logs), and saving reports.

While a script tracked by `ln.track()` or a top-level tracked function runs, `sys.stdout` and
`sys.stderr` are wrapped: everything still reaches the terminal, and a copy goes to the log file
of the run of the writing context. The log of a tracked call is held in a context variable, so
two threads or tasks running tracked functions each keep their own output; the log of a script
is process-wide, as its output is. When the run ends the log becomes its report: an artifact of
kind ``__lamindb_run__`` that `run.report` points to (nothing is saved for a run that printed
nothing).
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from lamin_core.errors import ValidationError
from lamin_core.instance.catalog import cache_root
from lamin_core.models.artifact import RUN_KIND
from lamin_core.tracking.context import no_current_run

if TYPE_CHECKING:
    from lamin_core.instance import Instance
    from lamin_core.models import Run


class RunLog:
    """The file a run's output is copied to while it runs.

    Args:
        run_uid: The uid of the run, which names the file.
    """

    def __init__(self, run_uid: str) -> None:
        folder = cache_root() / "run-logs"
        folder.mkdir(exist_ok=True)
        self.path = folder / f"run_logs_{run_uid}.txt"
        self._file: IO[str] = self.path.open("w", encoding="utf-8", errors="replace")
        self._lock = threading.Lock()

    def write(self, text: str) -> None:
        """Append `text` (from any thread)."""
        with self._lock:
            if not self._file.closed:
                self._file.write(text)
                self._file.flush()

    def close(self) -> None:
        """Stop writing; the file stays until it is saved or discarded."""
        with self._lock:
            self._file.close()

    @property
    def is_empty(self) -> bool:
        """Whether nothing was printed."""
        return not self.path.exists() or self.path.stat().st_size == 0

    def discard(self) -> None:
        """Close and remove the file."""
        self.close()
        self.path.unlink(missing_ok=True)


_context_logs: contextvars.ContextVar[tuple[RunLog, ...]] = contextvars.ContextVar(
    "lamin_core_run_logs", default=()
)
_process_log: RunLog | None = None
_installed = 0
_install_lock = threading.Lock()


class _Tee:
    """A text stream that writes through to `stream` and copies to the current run logs."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        count = self._stream.write(text)
        logs = _context_logs.get()
        for log in logs:
            log.write(text)
        if _process_log is not None and _process_log not in logs:
            _process_log.write(text)
        return int(count) if count is not None else len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self._stream.flush()

    def __getattr__(self, name: str) -> Any:  # encoding, fileno, isatty, buffer ...
        return getattr(self._stream, name)


def _install() -> None:
    global _installed
    with _install_lock:
        if _installed == 0:
            sys.stdout = _Tee(sys.stdout)
            sys.stderr = _Tee(sys.stderr)
        _installed += 1


def _uninstall() -> None:
    global _installed
    with _install_lock:
        _installed -= 1
        if _installed:
            return
        # a stream replaced since (redirect_stdout still open, a test's capture) stays as it is
        if isinstance(sys.stdout, _Tee):
            sys.stdout = sys.stdout._stream
        if isinstance(sys.stderr, _Tee):
            sys.stderr = sys.stderr._stream


@contextlib.contextmanager
def capturing(log: RunLog) -> Iterator[RunLog]:
    """Copy what this context prints to `log` inside the block (a tracked call)."""
    _install()
    token = _context_logs.set((*_context_logs.get(), log))
    try:
        yield log
    finally:
        _context_logs.reset(token)
        _uninstall()
        log.close()


def start_process_capture(log: RunLog) -> None:
    """Copy what the whole process prints to `log` until `stop_process_capture` (a script)."""
    global _process_log
    stop_process_capture()
    _install()
    _process_log = log


def stop_process_capture() -> RunLog | None:
    """Stop copying the process's output; return the closed log (None if none was kept)."""
    global _process_log
    log, _process_log = _process_log, None
    if log is None:
        return None
    _uninstall()
    log.close()
    return log


def check_report_path(report: str | os.PathLike[str]) -> Path:
    """Return `report` as a path to an existing file.

    Raises:
        ValidationError: there is no such file.
    """
    path = Path(report)
    if not path.is_file():
        raise ValidationError(
            f"The report {os.fspath(report)!r} is not a file. Pass the path of an existing file "
            "(an HTML export of a notebook, a log), e.g. ln.finish(report='analysis.html')."
        )
    return path


def save_report(run: Run, path: Path, instance: Instance, *, description: str) -> int:
    """Save the file at `path` as an artifact documenting `run` (not as its output).

    Returns:
        The id of the artifact; the caller sets `run.report_id` and saves the run.
    """
    from lamin_core.models import Artifact

    with no_current_run(), instance.activate():
        artifact = Artifact(path, description=description, kind=RUN_KIND).save()
    return int(artifact.id)
