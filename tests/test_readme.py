"""The README's Python blocks run as written, in a fresh folder, as a new user would run them.

Every ```python block of README.md is extracted; the blocks of one top-level section (``## ...``,
its subsections included) are joined in order into one script, because later blocks of a section
build on earlier ones (the tour's catalog is queried in "Query and search"). Each script runs in
a subprocess, in an empty temp folder, with its own settings folder and no Dagster home.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
FENCE = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)
SCRIPT_TIMEOUT = 600


def readme_scripts(text: str) -> dict[str, str]:
    """Return section title -> the section's Python blocks joined in order (sections with any)."""
    scripts: dict[str, str] = {}
    # split before every top-level heading; the part before the first one is the introduction
    for part in re.split(r"^(?=## )", text, flags=re.MULTILINE):
        title = part.splitlines()[0].lstrip("# ").strip() if part.startswith("## ") else "intro"
        blocks = FENCE.findall(part)
        if blocks:
            scripts[title] = "\n".join(blocks)
    return scripts


SCRIPTS = readme_scripts(README.read_text())


def test_readme_scripts_cover_every_python_block() -> None:
    blocks = FENCE.findall(README.read_text())
    joined = "\n".join(SCRIPTS.values())

    assert len(blocks) >= 3
    assert [block for block in blocks if block not in joined] == []
    assert "dg.materialize" in SCRIPTS["Dagster"]


@pytest.mark.parametrize("section", list(SCRIPTS))
def test_readme_section_runs_in_a_fresh_folder(section: str, tmp_path: Path) -> None:
    folder = tmp_path / "fresh"
    folder.mkdir()
    script = folder / "readme_section.py"
    script.write_text(SCRIPTS[section])
    env = {**os.environ, "LAMIN_CORE_HOME": str(tmp_path / "lamin-home")}
    for name in ("DAGSTER_HOME", "LAMIN_DAGSTER_STORAGE", "LAMIN_DAGSTER_DB", "PYTHONPATH"):
        env.pop(name, None)

    result = subprocess.run(
        [sys.executable, script.name],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=SCRIPT_TIMEOUT,
    )

    assert result.returncode == 0, (
        f"README section {section!r} fails:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
    )
    if section == "Dagster":
        assert "lamin_validation passed: True" in result.stdout
        assert (folder / "my-catalog" / ".lamindb" / "lamin.db").exists()
