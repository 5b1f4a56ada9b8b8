"""Keep CPython's cycle collector out of code that builds many objects at once.

CPython starts a collection after every 700 container allocations, and a full one each time the
objects that survived the younger passes reach a quarter of the heap. Fetching a table of 10^4
rows and building its DataFrame allocates tens of thousands of tuples, lists and sets that all
survive until the frame is built, so every other `df()` call paid for a full pass over the
whole heap: ~90 ms at 170,000 objects, twice the 40 ms the query and the frame took. Loading
10,000 records is the same story. Those objects contain no reference cycles; reference counting
frees them either way. Used by `QuerySet` reads and `df()`.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

__all__ = ["collector_paused"]


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Pause automatic cycle collection for the block (no-op when it is already off).

    Only the search for reference cycles waits; memory is still freed by reference counting,
    and collection resumes (with its counters) when the block ends, also on error.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
