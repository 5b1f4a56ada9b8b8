"""Show the catalog's messages ("✓ "cell_medium" is validated ...") as LaminDB does.

Messages go to the ``lamin_core`` loggers. An application that configured logging (a handler on
the root logger, or on the ``lamin_core`` logger) gets them through its own handlers; otherwise
they are printed to stderr, so a notebook or script shows them without any set-up. How much is
shown follows LaminDB's ``ln.settings.verbosity`` ("error", "warning", "success", "info", "hint",
"debug", or 0-5), which sets the level of the ``lamin_core`` logger; an application may set that
level itself (``logging.getLogger("lamin_core").setLevel(logging.WARNING)``).
"""

from __future__ import annotations

import logging

from lamin_core.errors import ValidationError

__all__ = [
    "VERBOSITY_LEVELS",
    "ConsoleHandler",
    "get_verbosity",
    "install_console_handler",
    "logger",
    "set_verbosity",
]

logger = logging.getLogger("lamin_core")

SUCCESS = 25
HINT = 15
# LaminDB's verbosity names, from quiet to chatty, with the logging level each one shows
VERBOSITY_LEVELS = {
    "error": logging.ERROR,
    "warning": logging.WARNING,
    "success": SUCCESS,
    "info": logging.INFO,
    "hint": HINT,
    "debug": logging.DEBUG,
}
DEFAULT_VERBOSITY = "info"


class ConsoleHandler(logging.StreamHandler):
    """Print records unless the application has handlers that already show them."""

    def emit(self, record: logging.LogRecord) -> None:
        if logging.getLogger().handlers or any(h is not self for h in logger.handlers):
            return
        super().emit(record)


def install_console_handler() -> None:
    """Attach the console handler to the ``lamin_core`` logger once, at INFO level."""
    if any(isinstance(handler, ConsoleHandler) for handler in logger.handlers):
        return
    handler = ConsoleHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    if logger.level == logging.NOTSET:
        logger.setLevel(VERBOSITY_LEVELS[DEFAULT_VERBOSITY])


def set_verbosity(verbosity: str | int) -> None:
    """Show messages up to `verbosity`: a name of `VERBOSITY_LEVELS` or its position 0-5.

    Raises:
        ValidationError: an unknown name or number, with the choices.
    """
    names = list(VERBOSITY_LEVELS)
    if isinstance(verbosity, int) and not isinstance(verbosity, bool):
        if not 0 <= verbosity < len(names):
            raise ValidationError(
                f"Unknown verbosity {verbosity!r}: use 0-{len(names) - 1} or a name: "
                f"{', '.join(names)}."
            )
        verbosity = names[verbosity]
    if verbosity not in VERBOSITY_LEVELS:
        raise ValidationError(
            f"Unknown verbosity {verbosity!r}: use one of {', '.join(names)} (or 0-5)."
        )
    logger.setLevel(VERBOSITY_LEVELS[str(verbosity)])


def get_verbosity() -> str:
    """Return the verbosity name matching the ``lamin_core`` logger's effective level."""
    level = logger.getEffectiveLevel()
    shown = [name for name, value in VERBOSITY_LEVELS.items() if value >= level]
    return shown[-1] if shown else "error"
