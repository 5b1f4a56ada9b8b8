"""Consistency check between the catalog's rows and its stored files.

Saves are ordered so that a row never points to a missing file, but a process killed mid-save
can leave an unreferenced file, a partial copy or a staging file. `fsck` lists these and, with
`repair=True`, removes them. Rows whose content is missing (deleted by hand) are reported only.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import sqlalchemy as sa

from lamin_core.errors import StorageError
from lamin_core.instance import SQLITE_NAME, Instance
from lamin_core.storage.paths import stored_name

STAGING_GRACE_SECONDS = 3600


@dataclass
class FsckReport:
    """What `fsck` found: paths without rows, rows without content, and leftovers of saves."""

    orphaned_files: list[str] = field(default_factory=list)
    partial_files: list[str] = field(default_factory=list)
    staging_files: list[str] = field(default_factory=list)
    missing_content: list[str] = field(default_factory=list)
    repaired: bool = False

    @property
    def is_clean(self) -> bool:
        """Whether nothing at all was found."""
        return not (
            self.orphaned_files or self.partial_files or self.staging_files or self.missing_content
        )

    def __str__(self) -> str:
        if self.is_clean:
            return "catalog is consistent: every stored file has a row and every row its file"
        lines = []
        action = "removed" if self.repaired else "found"
        for title, items in [
            (f"{action} files without a row", self.orphaned_files),
            (f"{action} partial copies of interrupted saves", self.partial_files),
            (f"{action} staging files older than an hour", self.staging_files),
            ("rows whose content is missing (not repairable)", self.missing_content),
        ]:
            if items:
                lines.append(f"{title}: {len(items)}")
                lines.extend(f"  {item}" for item in items)
        return "\n".join(lines)


def fsck(instance: Instance, *, repair: bool = False) -> FsckReport:
    """Compare the catalog folder with the artifact rows of the instance's storage."""
    from lamin_core.artifacts.staging import STAGING_DIR
    from lamin_core.models import Artifact

    fs, folder = instance.fs, instance.catalog_path
    session = instance.session
    rows = session.execute(
        sa.select(Artifact.uid, Artifact.suffix).where(
            Artifact.storage_id == instance.storage_id, Artifact.key_is_virtual.is_(True)
        )
    ).all()
    session.commit()
    expected: dict[str, str] = {}
    refused: list[str] = []
    for uid, suffix in rows:
        try:
            expected[stored_name(uid, suffix)] = uid
        except StorageError:  # a row edited to name a place outside the catalog has no file
            refused.append(uid)
    report = FsckReport(repaired=repair)
    present: set[str] = set()
    entries = fs.ls(folder, detail=True) if fs.exists(folder) else []
    for entry in entries:
        path = entry["name"].rstrip("/")
        name = path.rsplit("/", 1)[-1]
        if name.startswith(SQLITE_NAME):
            continue
        if name == STAGING_DIR:
            now = time.time()
            for staged in fs.ls(path, detail=True):
                mtime = staged.get("mtime") or staged.get("created") or now
                if now - float(mtime) > STAGING_GRACE_SECONDS:
                    report.staging_files.append(staged["name"])
        elif name.startswith(".") and name.endswith(".partial"):
            report.partial_files.append(path)
        elif name in expected:
            present.add(name)
        else:
            report.orphaned_files.append(path)
    report.missing_content = sorted(
        [*refused, *(uid for name, uid in expected.items() if name not in present)]
    )
    if repair:
        for path in report.orphaned_files + report.partial_files + report.staging_files:
            fs.rm(path, recursive=True)
    return report
