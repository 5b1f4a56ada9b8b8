"""`make test` in a clone without ../shared/data: its tests skip with the reason, and fail in CI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NEEDS_SHARED_DATA = "tests/bio/test_public.py"  # two tests there read the upstream snapshots


@pytest.mark.parametrize(("ci", "outcome"), [("", "2 skipped"), ("true", "2 failed")])
def test_missing_shared_data_skips_with_the_reason_except_in_ci(
    tmp_path: Path, ci: str, outcome: str
):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LAMIN", "PYTEST"))}
    env.update(CI=ci, LAMIN_TEST_SHARED_DATA=str(tmp_path / "no-shared-data"))
    result = subprocess.run(
        [
            sys.executable, "-m", "pytest", "-p", "no:xdist", "-p", "no:cacheprovider", "-q",
            "-rsf", "-k", "add_gene_table or added_ontology", NEEDS_SHARED_DATA,
        ],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    summary = result.stdout.strip().splitlines()[-1]
    assert outcome in summary and "passed" not in summary, result.stdout[-3000:]
    assert f"shared test data {tmp_path / 'no-shared-data'}" in result.stdout
    assert "set LAMIN_TEST_SHARED_DATA" in result.stdout
    assert "StorageError" not in result.stdout
