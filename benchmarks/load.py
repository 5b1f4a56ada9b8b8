"""Load test: many writers, deleters and a repair loop on one catalog; nothing may be lost.

    python -m benchmarks.load --backend sqlite|postgresql|both [--writers 8] [--saves 500]

Per backend, on a fresh catalog (PostgreSQL: a fresh schema, dropped afterwards):

- `--writers` processes save `--saves` artifacts each: half of them content every writer saves
  (identical DataFrames, so concurrent saves of one content), the other half their own content,
  a quarter of which on keys all writers share (so concurrent versions of one key);
- `--deleters` processes delete random artifacts (latest versions or older ones) meanwhile;
- one process runs ``fsck --repair`` with no grace period (the most aggressive repair) in a loop.

Then it prints, per backend:

- saved: save() calls that returned an artifact; artifacts: rows at the end;
- lost: returned artifacts neither in the catalog nor deleted, plus rows whose content is
  missing or differs from its hash;
- duplicate: identical content held by two rows, or a key with more than one latest version;
- reused: uids returned for two different contents (a deleted uid given out again);
- orphan: leftovers fsck finds at the end (files without a row, partial or staging files);
- lamin-errors / raw-errors: exceptions raised, LaminError or anything else (first ones shown).

The goal is 0 lost, 0 duplicate, 0 reused, 0 orphan, 0 raw-errors. Not part of `make test`.
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import os
import random
import shutil
import sys
import tempfile
import time
import traceback
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
SHARED_CONTENTS = 40  # identical contents all writers save
SHARED_KEYS = 3  # keys all writers save new versions of


def _connect(storage: str, db: str | None) -> Any:
    import lamin_core as ln

    logging.getLogger("lamin_core").setLevel(logging.WARNING)  # not one line per duplicate
    return ln.connect(db, storage=storage)


def _log(workdir: Path, role: str, records: list[dict[str, Any]]) -> None:
    (workdir / f"{role}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))


def _error(role: str, error: BaseException) -> dict[str, Any]:
    from lamin_core.errors import LaminError

    kind = "lamin-error" if isinstance(error, LaminError) else "raw-error"
    text = "".join(traceback.format_exception(error)[-3:])
    return {"event": kind, "role": role, "error": text}


def writer(storage: str, db: str | None, number: int, saves: int, workdir: str) -> None:
    """Save `saves` artifacts: shared content, own content on own keys and on shared keys."""
    import pandas as pd

    import lamin_core as ln

    _connect(storage, db)
    records: list[dict[str, Any]] = []
    rng = random.Random(number)
    for i in range(saves):
        if i % 2 == 0:
            content = f"shared-{rng.randrange(SHARED_CONTENTS)}"
            key = f"shared/{content}.parquet"
        else:
            content = f"writer{number}-{i}"
            shared_key = i % 4 == 1
            key = f"versions/k{i % SHARED_KEYS}.parquet" if shared_key else f"w{number}/{i}.parquet"
        frame = pd.DataFrame({"content": [content]})
        try:
            artifact = ln.Artifact.from_df(frame, key=key).save()
            records.append({"event": "saved", "uid": artifact.uid, "content": content})
        except Exception as error:  # counted and shown: the point of a load test
            records.append(_error(f"writer{number}", error))
    _log(Path(workdir), f"writer{number}", records)


def deleter(storage: str, db: str | None, number: int, stop: str, workdir: str) -> None:
    """Delete random artifacts until `stop` exists."""
    import sqlalchemy as sa

    import lamin_core as ln

    instance = _connect(storage, db)
    session = instance.session
    records: list[dict[str, Any]] = []
    rng = random.Random(1000 + number)
    while not os.path.exists(stop):
        try:
            ids = session.scalars(sa.select(ln.Artifact.id)).all()
            session.commit()
            if ids:
                artifact = session.get(ln.Artifact, rng.choice(ids))
                if artifact is not None:
                    uid = artifact.uid
                    artifact.delete()
                    records.append({"event": "deleted", "uid": uid})
        except Exception as error:
            session.rollback()
            records.append(_error(f"deleter{number}", error))
        time.sleep(rng.uniform(0.02, 0.2))
    _log(Path(workdir), f"deleter{number}", records)


def repairer(storage: str, db: str | None, stop: str, workdir: str) -> None:
    """Run fsck --repair without a grace period until `stop` exists."""
    from lamin_core.artifacts.fsck import fsck

    instance = _connect(storage, db)
    records: list[dict[str, Any]] = []
    while not os.path.exists(stop):
        try:
            report = fsck(instance, repair=True, older_than=0)
            records.append({"event": "repair", "removed": len(report.repaired_paths)})
        except Exception as error:
            records.append(_error("repairer", error))
        time.sleep(0.1)
    _log(Path(workdir), "repairer", records)


def _read_logs(workdir: Path) -> list[dict[str, Any]]:
    records = []
    for path in sorted(workdir.glob("*.jsonl")):
        records.extend(json.loads(line) for line in path.read_text().splitlines())
    return records


def _evaluate(storage: str, db: str | None, records: list[dict[str, Any]]) -> dict[str, Any]:
    import sqlalchemy as sa

    import lamin_core as ln
    from lamin_core.artifacts.fsck import fsck

    instance = _connect(storage, db)
    session = instance.session
    rows = session.execute(
        sa.select(ln.Artifact.uid, ln.Artifact.hash, ln.Artifact.key, ln.Artifact.is_latest)
    ).all()
    session.commit()
    live = {row.uid for row in rows}
    deleted = {r["uid"] for r in records if r["event"] == "deleted"}
    saved = [r for r in records if r["event"] == "saved"]
    contents: dict[str, set[str]] = defaultdict(set)
    for record in saved:
        contents[record["uid"]].add(record["content"])
    returned = {record["uid"] for record in saved}
    report = fsck(instance, verify=True)
    by_hash: dict[str, int] = defaultdict(int)
    latest: dict[str, int] = defaultdict(int)
    for row in rows:
        by_hash[row.hash] += 1
        latest[row.key] += bool(row.is_latest)
    errors = [r for r in records if r["event"] in ("lamin-error", "raw-error")]
    instance.close()
    return {
        "saved": len(saved),
        "artifacts": len(rows),
        "deleted": len(deleted),
        "repairs": sum(r["event"] == "repair" for r in records),
        "lost": len(returned - live - deleted)
        + len(report.missing_content)
        + len(report.mismatched_content),
        "duplicate": sum(n - 1 for n in by_hash.values() if n > 1)
        + sum(n - 1 for n in latest.values() if n > 1),
        "reused": sum(len(c) > 1 for c in contents.values()),
        "orphan": len(report.leftovers),
        "lamin-errors": sum(r["event"] == "lamin-error" for r in errors),
        "raw-errors": sum(r["event"] == "raw-error" for r in errors),
        "first-errors": [r["error"] for r in errors[:3]],
    }


def _postgres_schema(url: str) -> tuple[str, str]:
    import sqlalchemy as sa

    schema = f"lamin_load_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    return schema, f"{url}?options=-csearch_path%3D{schema},public"


def _drop_postgres_schema(url: str, schema: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as connection:
        connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


def run_backend(backend: str, args: argparse.Namespace) -> dict[str, Any]:
    """Run the load on a fresh catalog of `backend`; return the counts."""
    import lamin_core as ln

    workdir = Path(tempfile.mkdtemp(prefix=f"lamin-load-{backend}-"))
    storage = str(workdir / "catalog")
    schema, db = (None, None) if backend == "sqlite" else _postgres_schema(args.postgres)
    try:
        ln.init(storage=storage, db=db, activate=False).close()
        stop = str(workdir / "stop")
        context = multiprocessing.get_context("spawn")
        writers = [
            context.Process(target=writer, args=(storage, db, n, args.saves, str(workdir)))
            for n in range(args.writers)
        ]
        helpers = [
            context.Process(target=deleter, args=(storage, db, n, stop, str(workdir)))
            for n in range(args.deleters)
        ]
        helpers.append(context.Process(target=repairer, args=(storage, db, stop, str(workdir))))
        started = time.perf_counter()
        for process in writers + helpers:
            process.start()
        for process in writers:
            process.join()
        Path(stop).touch()
        for process in helpers:
            process.join()
        elapsed = time.perf_counter() - started
        crashed = [p.exitcode for p in writers + helpers if p.exitcode != 0]
        counts = _evaluate(storage, db, _read_logs(workdir))
        counts["raw-errors"] += len(crashed)
        counts["seconds"] = round(elapsed, 1)
        return counts
    finally:
        if schema is not None:
            _drop_postgres_schema(args.postgres, schema)
        shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    """Run the load test; return 1 when anything was lost, duplicated, reused or left over."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.load", description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--saves", type=int, default=500, help="saves per writer")
    parser.add_argument("--deleters", type=int, default=2)
    parser.add_argument(
        "--postgres", default=os.environ.get("LAMIN_TEST_POSTGRES", DEFAULT_POSTGRES)
    )
    args = parser.parse_args(argv)
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    failed = False
    for backend in backends:
        counts = run_backend(backend, args)
        errors = counts.pop("first-errors")
        print(f"{backend}: " + " ".join(f"{name}={value}" for name, value in counts.items()))
        for error in errors:
            print(f"  {error.strip()}")
        failed |= any(
            counts[name] for name in ("lost", "duplicate", "reused", "orphan", "raw-errors")
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
