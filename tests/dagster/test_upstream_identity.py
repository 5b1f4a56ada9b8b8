"""Inputs load the exact content Dagster recorded upstream, or fail saying what changed and why.

Dagster remembers an upstream output by the `lamin/uid` and `lamin/hash` of its materialization.
Between that run and a downstream run, the artifact behind the uid can be deleted, or the uid can
come to name other content (a deleted latest version's uid reused by the next save of the key).
Each case below changes the catalog that way between the runs and checks that the downstream
step fails with an `UpstreamArtifactError` naming the asset, the uid, both hashes and the fix,
and that it leaves the catalog as it was: no downstream artifact, no input recorded.
"""

import base64
import hashlib
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa
from dagster_helpers import Catalog, step_error
from rerun_pipeline import tables_job

import lamin_core as ln


def _parquet_hash(frame: pd.DataFrame) -> tuple[bytes, str]:
    """Return a frame as parquet bytes and their catalog hash (md5, url-safe base64)."""
    buffer = io.BytesIO()
    frame.to_parquet(buffer)
    data = buffer.getvalue()
    return data, base64.urlsafe_b64encode(hashlib.md5(data).digest()).decode().rstrip("=")


def replace_content(catalog: Catalog, artifact: ln.Artifact) -> str:
    """Make `artifact`'s uid name other content, as a reused uid would; return the new hash."""
    data, new_hash = _parquet_hash(pd.DataFrame({"other": ["content", "entirely"]}))
    Path(str(artifact.path)).write_bytes(data)
    session = catalog.instance.session
    session.execute(
        sa.update(ln.Artifact)
        .where(ln.Artifact.id == artifact.id)
        .values(hash=new_hash, size=len(data))
    )
    session.commit()
    return new_hash


def delete(catalog: Catalog, artifact: ln.Artifact) -> str:
    """Delete `artifact` from the catalog; return an empty string (there is no new hash)."""
    with catalog.instance.activate():
        artifact.delete(permanent=True)
    return ""


Tamper = Callable[[Catalog, ln.Artifact], str]

TAMPERING: list[tuple[str, Tamper, list[str]]] = [
    # (case, how the catalog changes between the runs, what the message says besides uid/asset)
    ("replaced", replace_content, ["now has hash"]),
    ("deleted", delete, ["no longer in the catalog"]),
]


def _iris(rows: list[int]) -> dg.AssetsDefinition:
    @dg.asset(name="iris", key_prefix=["raw"])
    def iris() -> pd.DataFrame:
        return pd.DataFrame({"sepal_length": rows})

    return iris


@dg.asset(ins={"iris": dg.AssetIn(key=["raw", "iris"])})
def summary(iris: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"n": [len(iris)]})


PARTITIONS = dg.StaticPartitionsDefinition(["north", "south"])


@dg.asset(partitions_def=PARTITIONS)
def counts(context: dg.AssetExecutionContext) -> pd.DataFrame:
    size = {"north": 2, "south": 3}[context.partition_key]
    return pd.DataFrame({"site": [context.partition_key] * size})


@dg.asset(partitions_def=PARTITIONS)
def doubled(counts: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([counts, counts], ignore_index=True)


@dg.asset
def all_counts(counts: dict[str, pd.DataFrame]) -> pd.DataFrame:
    return pd.concat(counts.values(), ignore_index=True)


def _error_classes(result: dg.ExecuteInProcessResult, step_key: str) -> list[str]:
    """Return the class names of a failed step's error and its causes, outermost first."""
    (failure,) = [e for e in result.all_events if e.is_step_failure and e.step_key == step_key]
    error, names = failure.step_failure_data.error, []
    while error is not None:
        names.append(error.cls_name)
        error = error.cause
    return names


def _assert_refused(
    catalog: Catalog,
    result: dg.ExecuteInProcessResult,
    *,
    step_key: str,
    upstream: ln.Artifact,
    new_hash: str,
    says: list[str],
    before: list[str],
) -> None:
    assert not result.success
    assert _error_classes(result, step_key)[-1] == "UpstreamArtifactError"
    message = step_error(result, step_key)
    for fragment in [upstream.uid, repr(upstream.hash), *says]:
        assert fragment in message, (fragment, message)
    if new_hash:
        assert repr(new_hash) in message
    # nothing was saved downstream, and the other content was not recorded as an input
    assert [a.uid for a in catalog.artifacts()] == before
    (step_run,) = catalog.runs(name=step_key)
    assert step_run.input_artifacts == []


@pytest.mark.parametrize(("case", "tamper", "says"), TAMPERING, ids=[c[0] for c in TAMPERING])
def test_load_input_refuses_an_upstream_uid_that_no_longer_names_its_content(
    catalog: Catalog,
    dagster_instance: dg.DagsterInstance,
    case: str,
    tamper: Tamper,
    says: list[str],
) -> None:
    resources = catalog.resources()
    dg.materialize([_iris([1, 2, 3])], resources=resources, instance=dagster_instance)
    (upstream,) = catalog.artifacts()
    new_hash = tamper(catalog, upstream)
    before = [a.uid for a in catalog.artifacts()]

    result = dg.materialize(
        [summary, _iris([0])],
        selection=["summary"],
        resources=resources,
        instance=dagster_instance,
        raise_on_error=False,
    )

    _assert_refused(
        catalog,
        result,
        step_key="summary",
        upstream=upstream,
        new_hash=new_hash,
        says=[*says, "'raw/iris'", "Re-materialize asset 'raw/iris'"],
        before=before,
    )


@pytest.mark.parametrize(("case", "tamper", "says"), TAMPERING, ids=[c[0] for c in TAMPERING])
@pytest.mark.parametrize("consumer", [doubled, all_counts], ids=["one_partition", "all"])
def test_load_input_checks_each_partition_against_its_own_materialization(
    catalog: Catalog,
    dagster_instance: dg.DagsterInstance,
    case: str,
    tamper: Tamper,
    says: list[str],
    consumer: dg.AssetsDefinition,
) -> None:
    resources = catalog.resources()
    for partition in ("north", "south"):
        dg.materialize(
            [counts], partition_key=partition, resources=resources, instance=dagster_instance
        )
    north, south = catalog.artifacts()
    new_hash = tamper(catalog, south)
    before = [a.uid for a in catalog.artifacts()]
    partition_key = "south" if consumer is doubled else None

    result = dg.materialize(
        [counts, consumer],
        selection=[consumer.key.to_user_string()],
        partition_key=partition_key,
        resources=resources,
        instance=dagster_instance,
        raise_on_error=False,
    )

    _assert_refused(
        catalog,
        result,
        step_key=consumer.key.to_user_string(),
        upstream=south,
        new_hash=new_hash,
        says=[*says, "partition 'south'", "Re-materialize asset 'counts' (partition 'south')"],
        before=before,
    )
    if consumer is doubled:  # the partition left alone still loads
        dg.materialize(
            [counts, doubled],
            selection=["doubled"],
            partition_key="north",
            resources=resources,
            instance=dagster_instance,
        )
        (made,) = catalog.artifacts(key="doubled/north.parquet")
        assert [a.uid for a in made.run.input_artifacts] == [north.uid]


def test_load_input_of_an_untouched_upstream_passes_the_check(
    catalog: Catalog, dagster_instance: dg.DagsterInstance
) -> None:
    resources = catalog.resources()
    dg.materialize([_iris([1, 2, 3])], resources=resources, instance=dagster_instance)
    (upstream,) = catalog.artifacts()

    result = dg.materialize(
        [summary, _iris([0])], selection=["summary"], resources=resources, instance=dagster_instance
    )

    assert result.success
    (made,) = catalog.artifacts(key="summary.parquet")
    assert made.load()["n"].tolist() == [3]
    assert [a.uid for a in made.run.input_artifacts] == [upstream.uid]


def _run_tables(
    catalog: Catalog, instance: dg.DagsterInstance, *, fail: bool, parent: str | None = None
) -> Any:
    config = {"storage": catalog.storage, "db": catalog.db}
    return dg.execute_job(
        dg.build_reconstructable_job(
            "rerun_pipeline",
            tables_job.__name__,
            reconstructor_working_directory=str(Path(__file__).parent),
        ),
        instance=instance,
        run_config={
            "resources": {"io_manager": {"config": config}},
            "ops": {"add_one": {"config": {"fail": fail}}},
        },
        reexecution_options=(
            dg.ReexecutionOptions.from_failure(parent, instance) if parent else None
        ),
        raise_on_error=False,
    )


UNTOUCHED: Tamper = lambda catalog, artifact: ""  # noqa: E731


@pytest.mark.parametrize(
    ("case", "tamper", "says"),
    [*TAMPERING, ("untouched", UNTOUCHED, [])],
    ids=[*(c[0] for c in TAMPERING), "untouched"],
)
def test_reexecution_checks_op_outputs_of_the_parent_run(
    catalog: Catalog,
    persistent_dagster_instance: dg.DagsterInstance,
    case: str,
    tamper: Tamper,
    says: list[str],
) -> None:
    instance = persistent_dagster_instance
    first = _run_tables(catalog, instance, fail=True)
    assert not first.success
    (upstream,) = catalog.artifacts()
    new_hash = tamper(catalog, upstream)
    before = [a.uid for a in catalog.artifacts()]

    again = _run_tables(catalog, instance, fail=False, parent=first.run_id)

    if case == "untouched":
        assert again.success
        (made,) = catalog.artifacts(key="tables/add_one.parquet")
        assert made.load()["x"].tolist() == [2, 3]
        assert [a.uid for a in made.run.input_artifacts] == [upstream.uid]
        return
    assert not again.success
    message = step_error(again, "add_one")
    fix = "Re-execute the run from its start, so that step 'make_table' runs again"
    for fragment in [upstream.uid, repr(upstream.hash), first.run_id, fix, *says]:
        assert fragment in message, (fragment, message)
    if new_hash:
        assert repr(new_hash) in message
    assert [a.uid for a in catalog.artifacts()] == before
