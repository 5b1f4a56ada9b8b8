"""What a user would see of a catalog: the rows of every table and the files of its storage.

Tests take a snapshot before bad input and compare after it: a LaminError must leave both as they
were ("bad input leaves the catalog unchanged").
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

import lamin_core as ln


def catalog_snapshot(instance: ln.Instance) -> tuple[dict[str, int], list[str]]:
    """Return the row count of every table and the files under the storage root.

    The database's own files (SQLite's ``lamin.db*``) are left out: they change with every read.
    Reading the counts also shows that the session still works after an error.
    """
    session = instance.session
    counts = {
        name: int(session.scalar(sa.select(sa.func.count()).select_from(table)) or 0)
        for name, table in sorted(ln.Artifact.metadata.tables.items())
    }
    session.commit()
    root = Path(instance.storage_root)
    files = sorted(
        path.relative_to(root).as_posix()
        for path in root.rglob("*")
        if path.is_file() and not path.name.startswith("lamin.db")
    )
    return counts, files
