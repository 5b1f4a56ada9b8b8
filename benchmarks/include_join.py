"""Time ``df(include=["ulabels__name"])`` on SQLite and PostgreSQL: a full frame and a page.

A to-many include is one grouped subquery joined to the selected rows on PostgreSQL and a
correlated subquery per row on SQLite (see `lamin_core.query.dataframe`). This script builds a
catalog of `--size` artifacts with 2-3 labels each on each backend (the first artifact through
the public API, the others inserted like it, the links in bulk; ANALYZE afterwards) and prints
the median of `--repeat` runs of each call. Run it against another checkout (``PYTHONPATH=...``)
to compare before and after::

    PYTHONPATH=. .venv/bin/python benchmarks/include_join.py --size 10000 --repeat 7

PostgreSQL: `--postgres` (default ``postgresql://postgres@127.0.0.1:5432/postgres``); the script
makes its own schema there and drops it at the end.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

import lamin_core as ln
from benchmarks.search_quality import postgres_schema

BATCH = 5_000
CASES: dict[str, Callable[[], Any]] = {
    "full": lambda: ln.Artifact.filter().df(include=["ulabels__name"]),
    "limit=100": lambda: ln.Artifact.filter().order_by("-id")[:100].df(include=["ulabels__name"]),
}


def fill(folder: Path, size: int) -> None:
    """Save `size` artifacts with 2-3 of 20 labels each into the active catalog."""
    labels = ln.save([ln.ULabel(name=f"label_{i}") for i in range(20)])
    labels = list(ln.ULabel.filter().order_by("id"))
    first = folder / "file_0.txt"
    first.write_text("0")
    template = ln.Artifact(first, key="bench/file_0.txt").save()
    session = ln.get_instance().session
    table = ln.Artifact.__table__
    base = dict(session.execute(sa.select(table).where(table.c.id == template.id)).mappings().one())
    del base["id"]
    rows = [
        base
        | {
            "uid": template.uid[:4] + f"{i:012d}" + "0000",
            "key": f"bench/file_{i}.txt",
            "hash": f"h{i:021d}",
        }
        for i in range(1, size)
    ]
    for start in range(0, len(rows), BATCH):
        session.execute(sa.insert(table), rows[start : start + BATCH])
    ids = session.execute(sa.select(table.c.id).order_by(table.c.id)).scalars().all()
    link = sa.inspect(ln.Artifact).relationships["ulabels"].secondary
    links = [
        {"artifact_id": artifact_id, "ulabel_id": labels[(n + k * 7) % len(labels)].id}
        for n, artifact_id in enumerate(ids)
        for k in range(2 + n % 2)
    ]
    for start in range(0, len(links), BATCH):
        session.execute(sa.insert(link), links[start : start + BATCH])
    session.execute(sa.text("ANALYZE"))
    session.commit()


def measure(repeat: int) -> dict[str, float]:
    """Return the median milliseconds of each case, after one warm-up call."""
    medians = {}
    for name, call in CASES.items():
        call()
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            call()
            times.append((time.perf_counter() - start) * 1000)
        medians[name] = statistics.median(times)
    return medians


def run(backend: str, size: int, repeat: int, postgres: str) -> dict[str, float]:
    """Build a catalog on `backend`, fill it, and measure it."""
    with tempfile.TemporaryDirectory() as folder:
        os.environ["LAMIN_CORE_HOME"] = str(Path(folder) / "home")
        if backend == "sqlite":
            instance = ln.init(storage=Path(folder) / "storage", user="bench")
            try:
                fill(Path(folder), size)
                return measure(repeat)
            finally:
                instance.close()
        with postgres_schema(postgres, f"lamin_bench_{uuid.uuid4().hex[:10]}") as url:
            instance = ln.init(storage=Path(folder) / "storage", db=url, user="bench")
            try:
                fill(Path(folder), size)
                return measure(repeat)
            finally:
                instance.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    logging.getLogger("lamin_core").setLevel(logging.ERROR)
    print(f"df(include=['ulabels__name']), {args.size} artifacts, median of {args.repeat} (ms)")
    print(f"{'backend':<12}" + "".join(f"{name:>12}" for name in CASES))
    for backend in args.backends.split(","):
        medians = run(backend, args.size, args.repeat, args.postgres)
        print(f"{backend:<12}" + "".join(f"{medians[name]:>12.1f}" for name in CASES))


if __name__ == "__main__":
    main()
