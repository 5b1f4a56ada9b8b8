"""A run's environment: the installed Python packages, saved once per distinct set.

LaminDB 2.x stores ``pip freeze`` as an artifact (``requirements.txt``, kind
``__lamindb_run__``) and links it from ``run.environment``. Here the list comes from
`importlib.metadata` (no subprocess, works without pip): one ``name==version`` line per
installed distribution, sorted. Artifacts are identified by their content hash, so every run
with the same packages points to the same artifact; the id is remembered per catalog, so that a
tracked function called in a loop costs no query for it.
"""

from __future__ import annotations

import functools
import threading
import weakref
from importlib import metadata
from typing import TYPE_CHECKING

import sqlalchemy as sa

from lamin_core.console import logger
from lamin_core.errors import LaminError
from lamin_core.instance.catalog import cache_root
from lamin_core.models.artifact import RUN_KIND
from lamin_core.storage.hashing import hash_bytes
from lamin_core.tracking.context import no_current_run

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from lamin_core.instance import Instance

ENVIRONMENT_DESCRIPTION = "requirements.txt"

# engine -> {hash: artifact id}; weak, so a new engine reusing a freed one's id starts afresh
_known: weakref.WeakKeyDictionary[Engine, dict[str, int]] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


@functools.lru_cache(maxsize=1)
def environment_text() -> str:
    """Return the installed distributions as ``name==version`` lines, sorted by name."""
    lines = set()
    for distribution in metadata.distributions():
        name = distribution.metadata["Name"]
        if name:
            lines.add(f"{name}=={distribution.version}")
    return "".join(f"{line}\n" for line in sorted(lines, key=str.lower))


def environment_artifact_id(instance: Instance) -> int | None:
    """Return the id of the artifact holding this process's environment, saving it if new.

    None when the role may not save artifacts or saving fails (a warning says why): a run is
    tracked without its environment rather than not at all.
    """
    from lamin_core.models import Artifact

    text = environment_text()
    if not text or not instance.access.may("artifact", "INSERT"):
        return None
    digest = hash_bytes(text.encode())
    with _lock:
        known = _known.setdefault(instance.engine, {})
        if digest in known:
            return known[digest]
    with instance.reading() as session:
        artifact_id = session.scalar(sa.select(Artifact.id).where(Artifact.hash == digest).limit(1))
    if artifact_id is None:
        folder = cache_root() / "environments"
        folder.mkdir(exist_ok=True)
        path = folder / f"{digest}.txt"
        try:
            path.write_text(text, encoding="utf-8")
            with no_current_run(), instance.activate():
                artifact = Artifact(path, description=ENVIRONMENT_DESCRIPTION, kind=RUN_KIND).save()
            artifact_id = artifact.id
        except (LaminError, OSError) as error:
            logger.warning(f"could not save the run's environment (installed packages): {error}")
            return None
        finally:
            path.unlink(missing_ok=True)
    with _lock:
        known[digest] = artifact_id
    return artifact_id


def forget_environments() -> None:
    """Forget the remembered environment artifacts (a catalog was reset or removed)."""
    with _lock:
        _known.clear()
    environment_text.cache_clear()
