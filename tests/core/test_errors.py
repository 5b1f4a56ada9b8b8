"""Every error a user can provoke is a LaminError, raised before the catalog changes.

Driver and library errors (psycopg, sqlite3, pyarrow, anndata) never reach the user raw: values
the databases would refuse are refused first with a message naming the field and the value, and
what only the database can notice (a lock, a missing privilege, a row deleted meanwhile) is
translated at the engine, with the driver's exception as ``__cause__``.
"""

from __future__ import annotations

import math
import sqlite3
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

import lamin_core as ln
from lamin_core.errors.database import translate
from tests.snapshot import catalog_snapshot

NON_FINITE = [
    math.inf,
    -math.inf,
    math.nan,
    np.float64("inf"),
    np.float32("-inf"),
    np.float16("nan"),
]


@pytest.fixture
def artifact(instance: ln.Instance) -> ln.Artifact:
    return ln.Artifact.from_df(pd.DataFrame({"a": [1, 2]}), key="tables/a.parquet").save()


# --- non-finite numbers wherever JSON is written ----------------------------------------------


@pytest.mark.parametrize("bad", NON_FINITE, ids=repr)
@pytest.mark.parametrize(
    ("dtype", "wrap"),
    [
        ("float", lambda v: v),
        ("num", lambda v: v),
        ("list[float]", lambda v: [1.0, v]),
        ("dict", lambda v: {"depth": {"x": [0.5, v]}}),
    ],
    ids=["float", "num", "list", "nested-dict"],
)
def test_feature_value_non_finite_is_refused_and_queries_keep_working(
    instance: ln.Instance, artifact: ln.Artifact, bad: Any, dtype: str, wrap: Any
):
    ln.Feature(name="temperature", dtype=dtype).save()
    artifact.features.add_values({"temperature": wrap(21.5)})
    before = catalog_snapshot(instance)
    with pytest.raises(ln.errors.ValidationError, match=r"Feature 'temperature'.*(inf|nan)"):
        artifact.features.add_values({"temperature": wrap(bad)})
    assert catalog_snapshot(instance) == before
    # the catalog answers queries on the feature as before (an inf broke them all)
    assert ln.Artifact.filter(temperature__gt=1).count() == (1 if dtype in ("float", "num") else 0)
    assert ln.Artifact.filter(temperature__isnull=False).one() == artifact
    assert "temperature" in ln.Artifact.df(features=True).columns
    assert artifact.features.get_values() == {"temperature": wrap(21.5)}


@pytest.mark.parametrize("bad", NON_FINITE, ids=repr)
def test_run_params_non_finite_is_refused(instance: ln.Instance, bad: Any):
    transform = ln.Transform(key="train.py", type="script").save()
    before = catalog_snapshot(instance)
    with pytest.raises(ln.errors.ValidationError, match=r"Run\.params\['lr'\]"):
        ln.Run(transform=transform, params={"lr": bad})
    run = ln.Run(transform=transform, params={"lr": 0.1})
    run.params["lr"] = bad  # changed in place after the check: still never written
    with pytest.raises(ln.errors.ValidationError, match="finite"):
        run.save()
    assert catalog_snapshot(instance) == before


def test_a_new_engine_gets_the_error_hook_even_when_sqlalchemy_thinks_it_has_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # SQLAlchemy's listener registry is keyed by id(engine): a freed engine's id reused by a new
    # one made `event.contains` answer yes, and that engine let driver errors through raw.
    from lamin_core.instance.engine import create_engine

    monkeypatch.setattr(sa.event, "contains", lambda *args, **kwargs: True)
    engine = create_engine(f"sqlite:///{tmp_path / 'stale.db'}")
    table = sa.Table("t", sa.MetaData(), sa.Column("v", sa.JSON))
    table.create(engine)
    with pytest.raises(ln.errors.ValidationError, match="finite"), engine.begin() as connection:
        connection.execute(table.insert(), {"v": {"lr": math.inf}})
    with engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(table)).scalar() == 0
        assert connection.execute(sa.text("SELECT 'abc' REGEXP 'b'")).scalar() == 1
    engine.dispose()


# --- raw driver errors: each case on both backends ---------------------------------------------


def test_nul_character_in_any_text_is_a_validation_error(
    instance: ln.Instance, artifact: ln.Artifact
):
    before = catalog_snapshot(instance)
    attempts = [
        lambda: ln.ULabel(name="IFN\x00G"),
        lambda: ln.Feature(name="temp\x00", dtype="float"),
        lambda: ln.Artifact.filter(key="tables/a\x00.parquet").count(),
        lambda: ln.Artifact.filter(key__icontains="\x00").count(),
        lambda: ln.Artifact.filter(key__in=["tables/a.parquet", "\x00"]).count(),
        lambda: ln.ULabel.search("IFN\x00G"),
        lambda: ln.Artifact.get("\x00" * 20),
    ]
    for attempt in attempts:
        with pytest.raises(ln.errors.ValidationError, match="NUL"):
            attempt()
    with pytest.raises(ln.errors.FieldError, match="Unknown field"):
        ln.Artifact.filter(**{"temp\x00": 1}).count()
    assert catalog_snapshot(instance) == before


@pytest.mark.parametrize(
    "attempt",
    [
        lambda: ln.ULabel(name="x" * 256),
        lambda: ln.Artifact.from_df(pd.DataFrame({"a": [3]}), key="k/" + "x" * 1100 + ".parquet"),
        lambda: ln.Transform(key="t.py", type="x" * 33),
        lambda: ln.Storage(root="s3://" + "b" * 1100, type="s3"),
    ],
    ids=["ulabel-name", "artifact-key", "transform-type", "storage-root"],
)
def test_text_longer_than_its_column_is_refused_before_the_database(
    instance: ln.Instance, attempt: Any
):
    before = catalog_snapshot(instance)
    # the key's own rule (a path inside the catalog) speaks first for keys; both name the limit
    limit = r"characters; the limit is \d+|longer than \d+ characters"
    with pytest.raises(ln.errors.ValidationError, match=limit):
        attempt()
    assert catalog_snapshot(instance) == before  # no row, no staging file left


def test_in_lookup_with_more_values_than_the_driver_takes(
    instance: ln.Instance, artifact: ln.Artifact
):
    # PostgreSQL's protocol takes 65,535 parameters; this SQLite build 250,000 (others 32,766)
    n = 300_000
    ids = list(range(n, 0, -1))
    assert ln.Artifact.filter(id__in=ids).count() == 1
    assert ln.Artifact.exclude(id__in=ids).count() == 0
    keys = [f"tables/{i}.parquet" for i in range(n)] + ["tables/a.parquet"]
    assert ln.Artifact.filter(key__in=keys).list("key") == ["tables/a.parquet"]
    label = ln.ULabel(name="study").save()
    artifact.labels.add(label)
    assert ln.Artifact.filter(ulabels__in=[*range(2, n), label.id]).count() == 1
    ln.Feature(name="temperature", dtype="float").save()
    artifact.features.add_values({"temperature": 21.5})
    values = [i / 2 for i in range(n)]
    assert ln.Artifact.filter(temperature__in=values).count() == 1
    assert ln.Artifact.filter(temperature__in=values[:40]).count() == 0  # up to 19.5


def test_integers_out_of_range_in_saves_and_filters(instance: ln.Instance, artifact: ln.Artifact):
    unsaved = ln.Artifact.from_df(pd.DataFrame({"b": [1]}), key="tables/b.parquet")
    before = catalog_snapshot(instance)
    for value in (2**63, 2**70, -(2**63) - 1):
        for record, field in [(unsaved, "size"), (artifact, "n_observations")]:
            with pytest.raises(ln.errors.ValidationError, match="out of range"):
                setattr(record, field, value)
    with pytest.raises(ln.errors.ValidationError, match=r"Artifact\.n_files.*out of range"):
        unsaved.n_files = 2**40  # an integer column: 32 bits on both backends
    assert catalog_snapshot(instance) == before
    # filters with such numbers mean what they say, on both backends
    sizes = [a.size for a in ln.Artifact.filter()]
    for value in (2**70, -(2**70), 2**63, 1e30, -1e30, 2.5):
        assert ln.Artifact.filter(size=value).count() == sum(s == value for s in sizes)
        assert ln.Artifact.filter(size__gt=value).count() == sum(s > value for s in sizes)
        assert ln.Artifact.filter(size__lte=value).count() == sum(s <= value for s in sizes)
        assert ln.Artifact.exclude(size=value).count() == sum(s != value for s in sizes)
        assert ln.Artifact.filter(size__range=(-value, value)).count() == sum(
            -value <= s <= value for s in sizes
        )
        assert ln.Artifact.filter(n_files__lt=value).count() == 0  # n_files is NULL here
    assert ln.Artifact.filter(id=2**40).count() == 0
    with pytest.raises(ln.errors.DoesNotExist):
        ln.Artifact.get(2**70)


@pytest.mark.parametrize("pattern", ["(", "[a-", "a{2,1}", "*"])
def test_invalid_regex_is_refused_at_filter_time(instance: ln.Instance, pattern: str):
    with pytest.raises(ln.errors.ValidationError, match="Invalid regular expression"):
        ln.Artifact.filter(key__regex=pattern)  # no query run: the error comes from filter()


def test_categorical_feature_compared_with_a_number_is_refused(
    instance: ln.Instance, artifact: ln.Artifact
):
    ln.Feature(name="study", dtype="cat[ULabel]").save()
    label = ln.ULabel(name="Study 1").save()
    artifact.features.add_values({"study": "Study 1"})
    for value in (5, 5.5, True, [5, 6]):
        lookup = "study__in" if isinstance(value, list) else "study"
        with pytest.raises(ln.errors.ValidationError, match=r"study.*ULabel\.name"):
            ln.Artifact.filter(**{lookup: value})
    assert ln.Artifact.filter(study__id=label.id).one() == artifact
    assert ln.Artifact.filter(study="Study 1").one() == artifact
    assert ln.Artifact.filter(study__id=2**40).count() == 0


@pytest.mark.parametrize(
    "attempt",
    [
        lambda: ln.Artifact.filter(key="\ud800").count(),
        lambda: ln.Artifact.filter(key__startswith="raw/\udfff").count(),
        lambda: ln.Artifact.filter(key__in=["a", "b\ud800"]).count(),
        lambda: ln.Artifact.filter(key__regex="\ud800").count(),
        lambda: ln.ULabel.search("\ud800"),
        lambda: ln.ULabel(name="\ud800"),
    ],
)
def test_lone_surrogate_in_a_filter_or_search_is_a_validation_error(
    instance: ln.Instance, attempt: Any
):
    ln.Feature(name="temperature", dtype="float").save()
    before = catalog_snapshot(instance)
    with pytest.raises(ln.errors.ValidationError, match="surrogate"):
        attempt()
    assert catalog_snapshot(instance) == before


def test_session_is_usable_after_a_failed_statement(instance: ln.Instance):
    with pytest.raises(ln.errors.InstanceError, match="lamin_no_such_table"):
        # through the escape hatch: nothing rolls back for the user
        instance.session.execute(sa.text("SELECT * FROM lamin_no_such_table"))
    assert ln.ULabel(name="DMSO").save().id is not None  # not "current transaction is aborted"
    assert ln.ULabel.filter(name="DMSO").count() == 1


# --- races: a row that another process deletes meanwhile ---------------------------------------


def other_session(instance: ln.Instance) -> Session:
    """A second session on the same database, as another process would have."""
    return Session(instance.engine)


def test_delete_of_a_record_others_still_use_is_an_integrity_error(instance: ln.Instance):
    # a transform's runs go with it (as in LaminDB), but not while they made artifacts
    transform = ln.Transform(key="pipeline.py").save()
    run = ln.Run(transform=transform).save()
    ln.Artifact.from_df(pd.DataFrame({"a": [1]}), key="made.parquet", run=run).save()
    before = catalog_snapshot(instance)
    with pytest.raises(ln.errors.IntegrityError):
        ln.Transform.filter(id=transform.id).delete(permanent=True)
    with pytest.raises(ln.errors.IntegrityError):
        transform.delete(permanent=True)
    assert catalog_snapshot(instance) == before


def test_saving_a_record_deleted_meanwhile_is_does_not_exist(instance: ln.Instance):
    label = ln.ULabel(name="DMSO").save()
    with other_session(instance) as other:
        other.execute(sa.delete(ln.ULabel).where(ln.ULabel.id == label.id))
        other.commit()
    before = catalog_snapshot(instance)
    label.description = "a treatment"
    with pytest.raises(ln.errors.DoesNotExist, match="deleted"):
        label.save()
    assert catalog_snapshot(instance) == before


# PostgreSQL only: on SQLite a delete holds the write lock from its first read (the family's
# lock), so no other connection can delete anything in between
@pytest.mark.parametrize("backend", ["postgresql"])
def test_artifact_delete_racing_another_delete_is_does_not_exist(instance: ln.Instance):
    first = ln.Artifact.from_df(pd.DataFrame({"a": [1]}), key="t.parquet").save()
    latest = ln.Artifact.from_df(pd.DataFrame({"a": [2]}), key="t.parquet").save()
    stored = Path(instance.catalog_path, f"{latest.uid}.parquet")

    def delete_first_meanwhile(session: Session, *_: Any) -> None:
        # another process deletes the version that is to become the latest
        with other_session(instance) as other:
            other.execute(sa.delete(ln.Artifact).where(ln.Artifact.id == first.id))
            other.commit()

    sa.event.listen(instance.session, "before_flush", delete_first_meanwhile, once=True)
    with pytest.raises(ln.errors.DoesNotExist, match="deleted by another process"):
        latest.delete(permanent=True)
    assert ln.Artifact.filter(id=latest.id).count() == 1 and stored.exists()  # nothing lost
    ln.Artifact.get(latest.id).delete(permanent=True)  # once retried, the delete goes through
    assert ln.Artifact.filter().count() == 0 and not stored.exists()


def test_linking_a_label_deleted_meanwhile_is_an_integrity_error(
    instance: ln.Instance, artifact: ln.Artifact
):
    label = ln.ULabel(name="DMSO").save()
    with other_session(instance) as other:
        other.execute(sa.delete(ln.ULabel).where(ln.ULabel.id == label.id))
        other.commit()
    before = catalog_snapshot(instance)
    with pytest.raises(ln.errors.IntegrityError, match="does not exist") as info:
        artifact.labels.add(label)
    assert isinstance(info.value, sa.exc.IntegrityError)  # what the save code retries on
    assert catalog_snapshot(instance) == before
    # the label's values were expired by the rollback: reading it again says it is gone
    with pytest.raises(ln.errors.DoesNotExist, match=r"ULabel record \(id=\d+\) no longer"):
        artifact.labels.add(label)
    assert artifact.labels.get(registry=ln.ULabel).count() == 0


def test_deleting_a_record_deleted_meanwhile_is_quietly_done(instance: ln.Instance):
    labels = ln.ULabel.from_values(["a", "b"], create=True).save()
    with other_session(instance) as other:
        other.execute(sa.delete(ln.ULabel))
        other.commit()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no SQLAlchemy warning about 0 rows either
        labels[0].delete(permanent=True)
        assert ln.ULabel.filter(name="b").delete(permanent=True) == 0
    assert ln.ULabel.filter().count() == 0


# --- what only the database can notice ---------------------------------------------------------


@pytest.fixture
def sqlite_lock(sqlite_instance: ln.Instance) -> Iterator[sqlite3.Connection]:
    """Hold the write lock of the SQLite catalog from another connection; short busy timeout."""
    engine = sqlite_instance.engine
    sa.event.listen(engine, "connect", _short_timeout)
    engine.dispose()  # new connections wait 0.2 s, not 60 s
    holder = sqlite3.connect(engine.url.database, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    yield holder
    holder.close()
    sa.event.remove(engine, "connect", _short_timeout)


def _short_timeout(connection: Any, _record: Any) -> None:
    connection.execute("PRAGMA busy_timeout=200")


def test_sqlite_lock_held_past_the_timeout_is_an_instance_error(
    sqlite_instance: ln.Instance, sqlite_lock: sqlite3.Connection
):
    with pytest.raises(ln.errors.InstanceError, match=r"lamin\.db.*locked.*Retry") as info:
        ln.ULabel(name="DMSO").save()
    assert isinstance(info.value.__cause__, sqlite3.OperationalError)
    sqlite_lock.rollback()
    assert catalog_snapshot(sqlite_instance)[0]["ulabel"] == 0
    ln.ULabel(name="DMSO").save()  # works again once the lock is gone
    assert ln.ULabel.filter(name="DMSO").count() == 1


@pytest.fixture
def read_only_role(postgres_url: str, tmp_path: Path) -> Iterator[ln.Instance]:
    """A catalog whose connections run as a role that may only read (PostgreSQL)."""
    instance = ln.init(storage=tmp_path / "catalog", db=postgres_url, user="testuser1")
    role = f"lamin_ro_{uuid.uuid4().hex[:10]}"
    schema = instance.session.execute(sa.text("SELECT current_schema()")).scalar()
    instance.session.commit()
    with instance.engine.begin() as connection:
        connection.execute(sa.text(f'CREATE ROLE "{role}" NOLOGIN'))
        connection.execute(sa.text(f'GRANT USAGE ON SCHEMA "{schema}" TO "{role}"'))
        connection.execute(sa.text(f'GRANT SELECT ON ALL TABLES IN SCHEMA "{schema}" TO "{role}"'))

    def as_role(connection: Any, _record: Any) -> None:
        with connection.cursor() as cursor:
            cursor.execute(f'SET ROLE "{role}"')
        connection.commit()

    instance.session.close()
    sa.event.listen(instance.engine, "connect", as_role)
    instance.engine.dispose()
    yield instance
    instance.session.close()
    sa.event.remove(instance.engine, "connect", as_role)
    instance.engine.dispose()
    with instance.engine.begin() as connection:
        connection.execute(sa.text(f'DROP OWNED BY "{role}"'))
        connection.execute(sa.text(f'DROP ROLE "{role}"'))
    instance.close()


def test_write_without_privilege_is_no_write_access(read_only_role: ln.Instance):
    before = catalog_snapshot(read_only_role)
    with pytest.raises(ln.errors.NoWriteAccess, match="may not make this write") as info:
        ln.ULabel(name="DMSO").save()
    assert isinstance(info.value, PermissionError)
    assert type(info.value.__cause__).__name__ == "InsufficientPrivilege"
    with pytest.raises(ln.errors.NoWriteAccess):
        ln.Artifact.from_df(pd.DataFrame({"a": [1]}), key="t.parquet").save()
    assert catalog_snapshot(read_only_role) == before  # reads still work


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed"), "ValidationError"),
        (OverflowError("Python int too large to convert to SQLite INTEGER"), "ValidationError"),
        (sqlite3.OperationalError("database is locked"), "InstanceError"),
        (sqlite3.OperationalError("too many SQL variables"), "ValidationError"),
        (sqlite3.OperationalError("attempt to write a readonly database"), "NoWriteAccess"),
        (sqlite3.OperationalError("malformed JSON"), "ValidationError"),
        (sqlite3.OperationalError("disk I/O error"), "InstanceError"),
        (sqlite3.ProgrammingError("Error binding parameter 1"), "ValidationError"),
        (sqlite3.IntegrityError("UNIQUE constraint failed"), "ConstraintViolation"),
        (ValueError("not a driver error"), None),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else str(v),
)
def test_translate_maps_driver_errors_to_the_error_tree(error: BaseException, expected: str | None):
    translated = translate(error, statement="INSERT INTO x", database="sqlite:///c/lamin.db")
    assert (type(translated).__name__ if translated is not None else None) == expected
    if translated is not None:
        assert isinstance(translated, ln.errors.LaminError) and str(translated)


PG = psycopg.errors
POSTGRES_ERRORS = [
    (PG.InsufficientPrivilege("permission denied"), "INSERT INTO ulabel", "NoWriteAccess"),
    (PG.InsufficientPrivilege("permission denied"), "UPDATE run SET", "NoWriteAccess"),
    (PG.InsufficientPrivilege("permission denied"), "SELECT * FROM run", "InstanceError"),
    (PG.NumericValueOutOfRange("bigint out of range"), "SELECT", "ValidationError"),
    (PG.StringDataRightTruncation("value too long"), "INSERT", "ValidationError"),
    (PG.InvalidRegularExpression("invalid regular expression"), "SELECT", "ValidationError"),
    (PG.UndefinedFunction("operator does not exist"), "SELECT", "ValidationError"),
    (PG.SerializationFailure("could not serialize access"), "UPDATE", "InstanceError"),
    (PG.AdminShutdown("terminating connection"), "SELECT", "InstanceError"),
    (psycopg.DataError("text fields cannot contain NUL"), "SELECT", "ValidationError"),
    (psycopg.OperationalError("number of parameters must be < 65535"), "SELECT", "ValidationError"),
    (psycopg.OperationalError("connection failed: Connection refused"), None, "InstanceError"),
    (PG.UniqueViolation("duplicate key value"), "INSERT", "ConstraintViolation"),
    (PG.ForeignKeyViolation("violates foreign key constraint"), "DELETE", "ConstraintViolation"),
]


@pytest.mark.parametrize(
    ("error", "statement", "expected"),
    POSTGRES_ERRORS,
    ids=[f"{type(e).__name__}-{s}" for e, s, _ in POSTGRES_ERRORS],
)
def test_translate_maps_postgres_errors_to_the_error_tree(
    error: BaseException, statement: str | None, expected: str | None
):
    translated = translate(error, statement=statement, database="postgresql://h/db")
    assert (type(translated).__name__ if translated is not None else None) == expected
    if isinstance(translated, ln.errors.NoWriteAccess):
        assert "Nothing was written" in str(translated)
