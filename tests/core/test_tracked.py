"""`@ln.tracked()` and the 2.x run fields: params, environment, report, nested and parallel runs."""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib.util
import logging
import os
import subprocess
import sys
import textwrap
import threading
from importlib import metadata
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import lamin_core as ln
from lamin_core.tracking import current_run
from lamin_core.tracking.params import is_secret, run_params
from tests.snapshot import catalog_snapshot

RUN_KIND = "__lamindb_run__"


def load_module(path: Path, name: str, source: str) -> ModuleType:
    """Write `source` to `path` and import it as module `name` (afresh each time)."""
    path.write_text(textwrap.dedent(source))
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_of(artifact: ln.Artifact) -> ln.Run:
    return ln.Run.get(artifact.run_id)


def test_tracked_call_is_a_run_with_params_inputs_and_outputs(instance: ln.Instance):
    source = ln.Artifact.from_df(pd.DataFrame({"a": [1, 2, 3]}), key="in.parquet").save()

    @ln.tracked()
    def subset(input_key: str, output_key: str, n_rows: int = 2) -> int:
        df = ln.Artifact.get(key=input_key).load()
        ln.Artifact.from_df(df.head(n_rows), key=output_key).save()
        return len(df)

    assert subset("in.parquet", "out.parquet") == 3
    output = ln.Artifact.get(key="out.parquet")
    run = run_of(output)
    assert run.transform.key == f"{__name__}.{subset.__qualname__}"
    assert run.transform.type == "function"
    assert "n_rows: int = 2" in run.transform.source_code
    assert run.params == {"input_key": "in.parquet", "output_key": "out.parquet", "n_rows": 2}
    assert [a.uid for a in run.input_artifacts] == [source.uid]
    assert run.status == "completed" and run.finished_at >= run.started_at
    assert run.initiated_by_run_id is None
    assert current_run() is None  # the call's run ended with the call
    subset("in.parquet", "out2.parquet", n_rows=1)
    runs = ln.Run.filter(transform=run.transform).order_by("id")
    assert [r.params["n_rows"] for r in runs] == [2, 1]  # one run per call, same transform


def test_tracked_changed_source_is_the_next_version(instance: ln.Instance, tmp_path: Path):
    template = """
    import lamin_core as ln

    @ln.tracked()
    def compute(x):
        return x + {increment}
    """
    first = load_module(tmp_path / "analysis.py", "analysis", template.format(increment=1))
    first.compute(1)
    again = load_module(tmp_path / "analysis.py", "analysis", template.format(increment=1))
    again.compute(2)
    changed = load_module(tmp_path / "analysis.py", "analysis", template.format(increment=5))
    assert changed.compute(1) == 6
    transforms = ln.Transform.filter(key="analysis.compute").order_by("id")
    assert [t.version for t in transforms] == ["1", "2"]
    assert [t.is_latest for t in transforms] == [False, True]
    assert transforms[0].uid[:12] == transforms[1].uid[:12]
    assert "x + 5" in transforms[1].source_code
    assert [r.transform.version for r in ln.Run.filter().order_by("id")] == ["1", "1", "2"]


def test_nested_tracked_calls_record_the_initiating_run(instance: ln.Instance):
    @ln.tracked()
    def inner(value: int) -> ln.Run | None:
        return current_run()

    @ln.tracked()
    def outer() -> tuple[ln.Run | None, ln.Run | None]:
        return current_run(), inner(1)

    script_run = ln.track(key="pipeline.py")
    outer_run, inner_run = outer()
    assert outer_run is not None and inner_run is not None
    assert inner_run.initiated_by_run_id == outer_run.id
    assert outer_run.initiated_by_run_id == script_run.id
    assert current_run() is script_run  # restored after the calls
    assert [r.id for r in script_run.initiated_runs] == [outer_run.id]
    ln.finish()


def test_tracked_exception_marks_the_run_errored_and_propagates(instance: ln.Instance):
    problem = ValueError("bad threshold")

    @ln.tracked()
    def fail(threshold: float) -> None:
        ln.Artifact.from_df(pd.DataFrame({"a": [threshold]}), key="partial.parquet").save()
        raise problem

    with pytest.raises(ValueError) as raised:
        fail(0.5)
    assert raised.value is problem
    run = run_of(ln.Artifact.get(key="partial.parquet"))
    assert run.status == "errored" and run.finished_at is not None
    assert run.params == {"threshold": 0.5}
    assert current_run() is None


def test_tracked_interrupt_marks_the_run_aborted(instance: ln.Instance):
    @ln.tracked()
    def interrupted() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        interrupted()
    assert ln.Run.filter().one().status == "aborted"


def test_tracked_calls_in_two_threads_keep_their_own_runs(instance: ln.Instance):
    both_started = threading.Barrier(2, timeout=60)
    seen: dict[str, tuple[int | None, int]] = {}
    errors: list[BaseException] = []

    @ln.tracked()
    def produce(name: str) -> None:
        with instance.activate():
            mine = current_run()
            both_started.wait()  # both runs are open at once
            artifact = ln.Artifact.from_df(pd.DataFrame({"n": [name]}), key=f"{name}.parquet")
            artifact = artifact.save()
            seen[name] = (mine.id if mine else None, artifact.run_id)

    def work(name: str) -> None:
        try:
            with instance.activate():
                produce(name)
        except BaseException as error:  # reported by the main thread
            errors.append(error)

    threads = [threading.Thread(target=work, args=(name,)) for name in ("left", "right")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert seen["left"][0] != seen["right"][0]
    for name, (run_id, artifact_run_id) in seen.items():
        assert run_id == artifact_run_id
        assert ln.Run.get(run_id).params == {"name": name}


def test_tracked_coroutines_in_two_tasks_keep_their_own_runs(instance: ln.Instance):
    @ln.tracked()
    async def produce(name: str) -> int | None:
        await asyncio.sleep(0)  # the other task starts its run meanwhile
        ln.Artifact.from_df(pd.DataFrame({"n": [name]}), key=f"{name}.parquet").save()
        await asyncio.sleep(0)
        run = current_run()
        return run.id if run else None

    async def both() -> list[int | None]:
        return list(await asyncio.gather(produce("a"), produce("b")))

    run_ids = asyncio.run(both())
    assert len(set(run_ids)) == 2
    for name, run_id in zip(["a", "b"], run_ids):
        assert ln.Artifact.get(key=f"{name}.parquet").run_id == run_id
        assert ln.Run.get(run_id).params == {"name": name}


def test_tracked_params_keep_json_write_records_as_text_and_hide_secrets(
    sqlite_instance: ln.Instance, caplog: pytest.LogCaptureFixture
):
    label = ln.ULabel(name="DMSO").save()

    @ln.tracked()
    def analyse(
        df: pd.DataFrame, when: dt.date, label: ln.ULabel, db_password: str, url: str, *args, **kw
    ) -> None:
        pass

    with caplog.at_level(logging.WARNING, logger="lamin_core"):
        analyse(
            pd.DataFrame({"a": [1]}),
            dt.date(2024, 12, 1),
            label,
            "hunter2",
            "postgresql://me:secret@host/db",
            Path("data/x.csv"),
            ratio=0.5,
        )
    params = ln.Run.filter().one().params
    assert params == {
        "when": "2024-12-01",
        "label": f"ULabel[{label.uid}]",
        "db_password": "***",
        "url": "***",
        "args": ["data/x.csv"],
        "kw": {"ratio": 0.5},
    }
    assert "'df'" in caplog.text and "DataFrame" in caplog.text


@pytest.mark.parametrize(
    "params, message",
    [
        ({"model": object()}, r"\['model'\].*object"),
        ({"nested": {"rate": float("nan")}}, r"\['nested'\]\['rate'\]"),
        ({1: "one"}, "parameter name 1"),
        (["learning_rate", 0.01], "expects a dict"),
    ],
)
def test_track_bad_params_change_nothing(instance: ln.Instance, params, message):
    before = catalog_snapshot(instance)
    with pytest.raises(ln.ValidationError, match=message):
        ln.track(key="analysis.py", params=params)
    assert catalog_snapshot(instance) == before
    assert current_run() is None


def test_run_environment_lists_installed_packages_once_per_set(instance: ln.Instance):
    first = ln.track(key="a.py")
    ln.finish()

    @ln.tracked()
    def step_one() -> None:
        pass

    step_one()
    runs = list(ln.Run.filter().order_by("id"))
    assert len({run.environment_id for run in runs}) == 1 and runs[0].environment_id is not None
    environment = first.environment
    assert environment.kind == RUN_KIND and environment.description == "requirements.txt"
    lines = Path(environment.cache()).read_text().splitlines()
    assert f"pandas=={metadata.version('pandas')}" in lines
    assert f"SQLAlchemy=={metadata.version('sqlalchemy')}" in lines
    assert lines == sorted(lines, key=str.lower)
    # the files documenting runs stay out of queries unless asked for by kind or uid
    assert ln.Artifact.filter().count() == 0 and ln.Artifact.df().empty
    assert ln.Artifact.search("requirements").count() == 0
    assert [a.uid for a in ln.Artifact.filter(kind=RUN_KIND)] == [environment.uid]
    assert ln.Artifact.get(environment.uid).id == environment.id
    assert environment.run_id is None  # not an output of the run it documents


def test_top_level_tracked_call_keeps_its_output_as_report(
    instance: ln.Instance, capsys: pytest.CaptureFixture[str]
):
    @ln.tracked()
    def inner() -> None:
        print("inner step done")

    @ln.tracked()
    def noisy() -> None:
        print("loading 3 files")
        print("warning: 1 file empty", file=sys.stderr)
        inner()

    @ln.tracked()
    def quiet() -> None:
        pass

    noisy()
    quiet()
    assert "loading 3 files" in capsys.readouterr().out  # still shown
    noisy_run, inner_run, quiet_run = ln.Run.filter().order_by("id")
    report = Path(noisy_run.report.cache()).read_text()
    assert report == "loading 3 files\nwarning: 1 file empty\ninner step done\n"
    assert noisy_run.report.kind == RUN_KIND and noisy_run.report.run_id is None
    assert inner_run.report_id is None  # printed into its caller's report
    assert quiet_run.report_id is None  # nothing printed, nothing saved
    print("after the runs")
    assert "after the runs" not in Path(noisy_run.report.cache()).read_text()


def test_finish_saves_a_given_report_file(instance: ln.Instance, tmp_path: Path):
    report = tmp_path / "analysis.html"
    report.write_text("<h1>QC passed</h1>")
    run = ln.track(key="analysis.ipynb")
    before = catalog_snapshot(instance)
    with pytest.raises(ln.ValidationError, match="not a file"):
        ln.finish(report=tmp_path / "missing.html")
    with pytest.raises(ln.ValidationError, match="a run ends"):
        ln.finish(status="done")
    assert catalog_snapshot(instance) == before and run.status == "started"
    assert ln.finish(report=report) is run
    assert run.status == "completed"
    assert Path(run.report.cache()).read_text() == "<h1>QC passed</h1>"


def test_step_needs_a_run_and_decorator_needs_parentheses(instance: ln.Instance):
    @ln.step()
    def inside() -> str:
        return "ok"

    before = catalog_snapshot(instance)
    with pytest.raises(ln.ValidationError, match=r"ln\.track\(\) first"):
        inside()
    assert catalog_snapshot(instance) == before
    with pytest.raises(ln.ValidationError, match="parentheses"):

        @ln.tracked
        def bare() -> None:
            pass

    ln.track(key="flow.py")
    assert inside() == "ok"
    step_run = ln.Run.filter(transform__type="function").one()
    assert step_run.initiated_by_run_id == current_run().id


SCRIPT = """
import lamin_core as ln

ln.track(params={"sample": "S1"})
print("processing S1")

@ln.tracked()
def normalise(factor):
    print("normalising by", factor)

normalise(2)
raise RuntimeError("disk full")
"""


def test_script_output_and_uncaught_error_end_up_in_the_report(
    instance: ln.Instance, tmp_path: Path, db_url: str | None
):
    script = tmp_path / "process.py"
    script.write_text(SCRIPT)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAMIN_CORE")}
    env.update(
        LAMIN_CORE_STORAGE=instance.storage_root,
        LAMIN_CORE_HOME=str(tmp_path / "script-home"),
        PYTHONPATH=str(Path(__file__).resolve().parents[2]),
    )
    if db_url:
        env["LAMIN_CORE_DB"] = db_url
    result = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 1 and "disk full" in result.stderr
    run = ln.Run.filter(transform__key="process.py").one()
    assert run.status == "errored" and run.finished_at is not None
    assert run.params == {"sample": "S1"} and run.environment.description == "requirements.txt"
    report = Path(run.report.cache()).read_text()
    assert report.startswith("processing S1\nnormalising by 2\nTraceback")
    assert "RuntimeError: disk full" in report
    function_run = ln.Run.filter(transform__key="process.normalise").one()
    assert function_run.initiated_by_run_id == run.id and function_run.params == {"factor": 2}


TEXT = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=12)
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT.filter(lambda text: not is_secret("value", text)),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(TEXT, children, max_size=3),
    max_leaves=8,
)
NAMES = st.from_regex(r"[a-z][a-z0-9_]{0,11}", fullmatch=True).filter(
    lambda name: not is_secret(name, None)
)


@given(st.dictionaries(NAMES, JSON_VALUES, max_size=4))
def test_run_params_keep_every_json_document_as_given(params: dict[str, object]):
    assert run_params(params) == params


def test_concurrent_first_calls_make_one_transform_version(instance: ln.Instance):
    @ln.tracked()
    def fresh(n: int) -> None:
        pass

    start = threading.Barrier(4, timeout=60)
    errors: list[BaseException] = []

    def call(n: int) -> None:
        try:
            with instance.activate():
                start.wait()
                fresh(n)
        except BaseException as error:  # reported by the main thread
            errors.append(error)

    threads = [threading.Thread(target=call, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    transform = ln.Transform.get(key=f"{__name__}.{fresh.__qualname__}")
    assert transform.version == "1" and ln.Transform.filter(key=transform.key).count() == 1
    assert sorted(run.params["n"] for run in ln.Run.filter(transform=transform)) == [0, 1, 2, 3]


def test_tracked_call_with_wrong_arguments_raises_pythons_error(sqlite_instance: ln.Instance):
    @ln.tracked()
    def scale(value: float, factor: float = 2.0) -> float:
        return value * factor

    with pytest.raises(TypeError, match="missing 1 required positional argument: 'value'"):
        scale()  # type: ignore[call-arg]
    run = ln.Run.filter().one()
    assert run.status == "errored" and run.params is None
    assert scale(2.0) == 4.0
