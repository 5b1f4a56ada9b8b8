"""Names of in-flight files (staging files, partial copies) that say which process owns them.

A save writes its content under a temporary name before it moves it into place. If the process
dies, the file is a leftover for `lamin-core fsck --repair`; while it lives, the file must not be
touched. The name carries the owner (a process id and a machine id), so that repair on the same
machine can tell the two apart exactly; files of other machines are judged by their age alone.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import socket

from lamin_core.ids import base62

PARTIAL_SUFFIX = ".partial"
# "<random>.<pid>-<machine>" at the start of a name, after an optional dot
_OWNER = re.compile(r"^\.?[0-9A-Za-z]+\.(?P<pid>\d+)-(?P<machine>[0-9a-f]{8})(?:\.|$)")


@functools.cache
def machine_id() -> str:
    """Return 8 hex characters naming this machine since its last boot.

    The boot id is part of it: after a reboot, process ids are reused by other processes.
    """
    try:
        with open("/proc/sys/kernel/random/boot_id") as stream:
            boot = stream.read().strip()
    except OSError:
        boot = ""
    text = f"{socket.gethostname()}\0{boot}"
    return hashlib.blake2b(text.encode(), digest_size=4).hexdigest()


def owner_tag() -> str:
    """Return ``<pid>-<machine>`` for names of files this process writes."""
    return f"{os.getpid()}-{machine_id()}"


def staging_name(suffix: str) -> str:
    """Return a new staging file name: ``<random>.<owner><suffix>``."""
    return f"{base62(16)}.{owner_tag()}{suffix}"


def partial_name() -> str:
    """Return a new name for a partial copy: ``.<random>.<owner>.partial``."""
    return f".{base62(12)}.{owner_tag()}{PARTIAL_SUFFIX}"


def is_partial(name: str) -> bool:
    """Whether `name` is a partial copy of a save (of this or an older version of lamin-core)."""
    return name.startswith(".") and name.endswith(PARTIAL_SUFFIX)


def owner_is_alive(name: str) -> bool | None:
    """Return whether the process that wrote the file `name` still runs.

    Returns:
        True or False for a file written on this machine; None when the name carries no owner
        or the owner runs on another machine.
    """
    match = _OWNER.match(name)
    if match is None or match["machine"] != machine_id():
        return None
    try:
        os.kill(int(match["pid"]), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # a process of another user
    except (OverflowError, ValueError):
        return None
    return True
