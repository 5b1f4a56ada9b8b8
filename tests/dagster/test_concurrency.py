"""The multiprocess executor: steps in several processes write one catalog at once, lose nothing."""

from pathlib import Path

import pytest
from concurrent_pipeline import N_WRITERS, run_concurrent_job
from dagster_helpers import Catalog


@pytest.mark.slow
def test_concurrent_steps_lose_nothing(catalog: Catalog, tmp_path: Path) -> None:
    config = {"storage": catalog.storage, "db": catalog.db}
    run_id = run_concurrent_job(config, tmp_path / "dagster")

    writers = [f"writer_{i}.parquet" for i in range(N_WRITERS)]
    logs = [f"logs/writer_{i}.parquet" for i in range(N_WRITERS)]
    by_key = {}
    for artifact in catalog.artifacts():
        by_key.setdefault(artifact.key, []).append(artifact)
    assert sorted(by_key) == sorted([*writers, *logs, "gathered.parquet"])
    assert all(len(versions) == 1 for versions in by_key.values())
    for index in range(N_WRITERS):
        (log,) = by_key[f"logs/writer_{index}.parquet"]
        (output,) = by_key[f"writer_{index}.parquet"]
        assert log.run_id == output.run_id and log.run.name == f"writer_{index}"
        assert log.load()["writer"].tolist() == [index]
    (gathered,) = by_key["gathered.parquet"]
    assert len(gathered.load()) == sum(range(1, N_WRITERS + 1))
    assert sorted(a.key for a in gathered.run.input_artifacts) == writers
    runs = catalog.runs()
    assert len(runs) == 1 + N_WRITERS + 1
    parents = [r for r in runs if r.reference == run_id]
    assert len(parents) == 1
    assert {r.status for r in runs if r.initiated_by_run_id == parents[0].id} == {"completed"}
    keys = [t.key for t in catalog.transforms()]
    assert len(keys) == len(set(keys)) == 1 + N_WRITERS + 1
