"""Show the catalog's messages ("✓ "cell_medium" is validated ...") as LaminDB does.

Messages go to the ``lamin_core`` loggers. An application that configured logging (a handler on
the root logger) gets them through its own handlers; otherwise they are printed to stderr, so a
notebook or script shows them without any set-up. Silence them with
``logging.getLogger("lamin_core").setLevel(logging.WARNING)``.
"""

from __future__ import annotations

import logging


class ConsoleHandler(logging.StreamHandler):
    """Print records unless the root logger has handlers that already show them."""

    def emit(self, record: logging.LogRecord) -> None:
        if logging.getLogger().handlers:
            return
        super().emit(record)


def install_console_handler() -> None:
    """Attach the console handler to the ``lamin_core`` logger once, at INFO level."""
    logger = logging.getLogger("lamin_core")
    if any(isinstance(handler, ConsoleHandler) for handler in logger.handlers):
        return
    handler = ConsoleHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)
