"""Helpers for the tests of code that uses lamin_core: start each test from a clean slate.

`reset()` undoes what `ln.init()`, `ln.connect()` and `ln.track()` leave behind in the process,
through the same public calls a user would make, so a test suite never assigns lamin_core's
private module state.

Examples:
    >>> @pytest.fixture(autouse=True)
    ... def clean_catalog():
    ...     yield
    ...     lamin_core.testing.reset()
"""

from __future__ import annotations

from lamin_core.instance import deactivate
from lamin_core.tracking import forget_current_run

__all__ = ["reset"]


def reset() -> None:
    """Close the active catalog and forget the current run, as in a fresh process.

    Afterwards no instance is active (the next ``ln.*`` call connects from the environment or the
    settings file) and no run is current (``ln.track()`` starts a new one).
    """
    forget_current_run()
    deactivate()
