"""What init, connect, track and finish print, and how a user or an application quiets it."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import lamin_core as ln


@pytest.fixture(autouse=True)
def restore_verbosity() -> Iterator[None]:
    before = ln.settings.verbosity
    yield
    ln.settings.verbosity = before


class Messages:
    """The catalog's console messages ("→ ...") a test caught."""

    def __init__(self, caplog: pytest.LogCaptureFixture) -> None:
        self.caplog = caplog

    @property
    def messages(self) -> list[str]:
        return [m for m in self.caplog.messages if m.startswith(("→", "✓", "•", "!"))]


@pytest.fixture
def messages(caplog: pytest.LogCaptureFixture) -> Messages:
    caplog.set_level(logging.DEBUG)  # the root logger lets all through: the verbosity decides
    return Messages(caplog)


def test_init_connect_track_finish_say_what_they_did(tmp_path: Path, messages: Messages):
    ln.init(storage=tmp_path / "catalog", user="testuser1")
    ln.connect(storage=tmp_path / "catalog", user="testuser1")
    run = ln.track(key="analysis.py")
    ln.finish()
    rerun = ln.track(key="analysis.py")
    transform = run.transform.uid
    assert messages.messages[:2] == [
        "→ connected lamindb: testuser1/catalog",
        "→ connected lamindb: testuser1/catalog",
    ]
    assert re.fullmatch(
        rf"→ created Transform\('{transform}'\), started Run\('{run.uid}'\) at "
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC",
        messages.messages[2],
    )
    assert re.fullmatch(
        rf"→ finished Run\('{run.uid}'\) after \d+s at .* UTC", messages.messages[3]
    )
    assert messages.messages[4].startswith(
        f"→ loaded Transform('{transform}'), started Run('{rerun.uid}')"
    )


@pytest.mark.parametrize("verbosity", ["warning", "error", 1, 0])
def test_lowered_verbosity_quiets_the_messages(
    tmp_path: Path, messages: Messages, verbosity: str | int
):
    ln.settings.verbosity = verbosity
    ln.init(storage=tmp_path / "catalog")
    ln.track(key="analysis.py")
    ln.ULabel(name="DMSO").save()
    ln.ULabel(name="DMSO")
    ln.finish()
    assert messages.messages == []
    assert ln.settings.verbosity in {"warning", "error"}


def test_verbosity_accepts_laminDBs_levels_and_refuses_others():
    for position, name in enumerate(["error", "warning", "success", "info", "hint", "debug"]):
        ln.settings.verbosity = position
        assert ln.settings.verbosity == name
        ln.settings.verbosity = name
        assert ln.settings.verbosity == name
    with pytest.raises(ln.ValidationError, match=r"Unknown verbosity 'loud': use one of error"):
        ln.settings.verbosity = "loud"


def _run(tmp_path: Path, code: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LAMIN_CORE_HOME": str(tmp_path / "home")}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )


def test_a_script_prints_the_messages(tmp_path: Path):
    result = _run(
        tmp_path,
        "import lamin_core as ln\nln.init(storage='./reg')\nln.track(key='a.py')\nln.finish()",
    )
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert lines[0].startswith("→ connected lamindb: ")
    assert lines[1].startswith("→ created Transform(")
    assert lines[2].startswith("→ finished Run(")


def test_an_application_that_configured_logging_gets_each_message_once(tmp_path: Path):
    code = """
import logging, sys
handler = logging.StreamHandler(sys.stdout)
handler.setFormatter(logging.Formatter("app: %(message)s"))
logging.getLogger("lamin_core").addHandler(handler)
import lamin_core as ln
ln.init(storage="./reg")
"""
    result = _run(tmp_path, code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("app: → connected lamindb: ")
    assert "connected" not in result.stderr  # not printed a second time by lamin_core


def test_an_application_that_quiets_the_logger_sees_nothing(tmp_path: Path):
    code = """
import logging
logging.getLogger("lamin_core").setLevel(logging.WARNING)
import lamin_core as ln
ln.init(storage="./reg")
ln.track(key="a.py")
"""
    result = _run(tmp_path, code)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
