"""The unit of work: `Instance.reading()` and `Instance.writing()` own every transaction."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

import lamin_core as ln
import lamin_core.testing
from lamin_core.errors import InstanceError, IntegrityError
from lamin_core.instance import active_instance
from lamin_core.instance.locks import lock_key
from lamin_core.tracking import current_run

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def other(instance: ln.Instance) -> Iterator[ln.Instance]:
    """Return a second, inactive connection to the same catalog: another process, in effect."""
    url = instance.engine.url.render_as_string(hide_password=False)
    opened = ln.connect(url, storage=instance.storage_root, activate=False)
    yield opened
    opened.close()


def names(instance: ln.Instance) -> list[str]:
    """Return the ULabel names `instance` sees, in a read of its own."""
    with instance.reading() as session:
        return list(session.scalars(sa.select(ln.ULabel.name).order_by(ln.ULabel.name)))


def label(instance: ln.Instance, name: str) -> ln.ULabel:
    record = ln.ULabel(name=name)
    record._fill_defaults(instance)
    return record


def sqlite_writer_blocked(instance: ln.Instance) -> bool:
    """Whether another SQLite connection must wait to write (it gives up after 50 ms)."""
    connection = sqlite3.connect(instance.engine.url.database or "", timeout=0.05)
    try:
        connection.execute("BEGIN IMMEDIATE")
        connection.rollback()
        return False
    except sqlite3.OperationalError as error:
        assert "locked" in str(error)
        return True
    finally:
        connection.close()


def lock_taken_elsewhere(other: ln.Instance, name: str) -> bool:
    """Whether a PostgreSQL transaction of another connection holds the advisory lock `name`."""
    with other.engine.begin() as connection:
        free = connection.execute(sa.select(sa.func.pg_try_advisory_xact_lock(lock_key(name))))
        return not free.scalar()


def test_reading_nests_and_ends_the_transaction_on_leaving(instance: ln.Instance):
    with instance.reading() as outer:
        outer.scalars(sa.select(ln.ULabel)).all()
        with instance.reading() as inner:
            assert inner is outer
            inner.scalar(sa.select(sa.func.count()).select_from(ln.ULabel))
        assert outer.in_transaction()  # the inner block joined the outer one
    assert not instance.session.in_transaction()  # no connection left idle in a transaction


def test_reading_sees_what_another_writer_committed_meanwhile(
    instance: ln.Instance, other: ln.Instance
):
    assert names(instance) == []
    with other.activate():
        ln.ULabel(name="DMSO").save()
    assert names(instance) == ["DMSO"]


def test_reading_keeps_unsaved_edits_for_their_owner(instance: ln.Instance):
    record = ln.ULabel(name="DMSO").save()
    record.name = "IFNG"  # not saved
    instance.session.add(record)
    with instance.reading() as session:
        session.scalars(sa.select(ln.ULabel.id)).all()
    assert record in instance.session.dirty  # the read did not commit the edit
    instance.session.rollback()
    assert names(instance) == ["DMSO"]


def test_reading_recovers_from_a_failed_statement(instance: ln.Instance):
    with pytest.raises(InstanceError, match="no_such_table"), instance.reading() as session:
        session.execute(sa.text("SELECT * FROM no_such_table"))
    assert not instance.session.in_transaction()
    assert names(instance) == []  # the session reads again (PostgreSQL aborted the transaction)


def test_writing_commits_on_leaving(instance: ln.Instance, other: ln.Instance):
    with instance.writing() as session:
        session.add(label(instance, "DMSO"))
        session.flush()
        assert names(other) == []  # not committed yet
    assert names(other) == ["DMSO"]
    assert not instance.session.in_transaction()


def test_writing_rolls_back_on_an_error_and_leaves_the_catalog_unchanged(
    instance: ln.Instance, other: ln.Instance
):
    ln.ULabel(name="kept").save()
    with pytest.raises(ZeroDivisionError), instance.writing() as session:
        session.add(label(instance, "lost"))
        session.flush()
        _ = 1 / 0
    assert names(other) == names(instance) == ["kept"]


def test_writing_translates_a_driver_error_and_saves_nothing(
    instance: ln.Instance, other: ln.Instance
):
    kept = ln.ULabel(name="kept").save()
    with pytest.raises(IntegrityError), instance.writing() as session:
        session.add(label(instance, "lost"))
        clash = label(instance, "clash")
        clash.uid = kept.uid  # unique: the database refuses it
        session.add(clash)
    assert names(other) == names(instance) == ["kept"]


def test_writing_nested_joins_the_outer_block(instance: ln.Instance, other: ln.Instance):
    with instance.writing() as outer:
        with instance.writing() as inner:
            assert inner is outer
            inner.add(label(instance, "DMSO"))
        inner.flush()
        assert names(other) == []  # the outermost block commits
        with instance.reading():
            assert names(instance) == ["DMSO"]  # a read inside joins: nothing ends early
    assert names(other) == ["DMSO"]


def test_writing_with_a_lock_serialises_writers_until_it_ends(
    instance: ln.Instance, other: ln.Instance
):
    def blocked() -> bool:
        if instance.engine.dialect.name == "sqlite":
            return sqlite_writer_blocked(instance)
        return lock_taken_elsewhere(other, "tests:unit-of-work")

    assert not blocked()
    with instance.writing(lock="tests:unit-of-work"):
        assert blocked()
        with instance.reading():
            pass
        assert blocked()  # the read joined the write: the lock is still held
    assert not blocked()
    with pytest.raises(ZeroDivisionError), instance.writing(lock="tests:unit-of-work"):
        _ = 1 / 0
    assert not blocked()  # a rollback releases it too


def test_catalogs_in_two_schemas_of_one_database_never_wait_for_each_others_locks(
    tmp_path: Path, postgres_url_factory: Callable[[], str]
):
    first_url, second_url = postgres_url_factory(), postgres_url_factory()
    first = ln.init(storage=tmp_path / "first", db=first_url, activate=False)
    first_again = ln.connect(first_url, storage=first.storage_root, activate=False)
    second = ln.init(storage=tmp_path / "second", db=second_url, activate=False)
    try:
        with first.writing(lock="raw/data.csv"):  # a key both catalogs may save under
            assert lock_taken_elsewhere(first_again, "raw/data.csv")
            assert not lock_taken_elsewhere(second, "raw/data.csv")
            with second.writing(lock="raw/data.csv") as session:  # waits if they share it
                session.add(label(second, "DMSO"))
        assert names(second) == ["DMSO"]
    finally:
        for opened in (first, first_again, second):
            opened.close()


def test_sqlite_reading_leaves_writers_unblocked(sqlite_instance: ln.Instance):
    ln.ULabel(name="DMSO").save()
    with sqlite_instance.reading() as session:
        session.scalars(sa.select(ln.ULabel)).all()
        ln.ULabel.filter(name="DMSO").one()  # a query inside joins the block
    assert not sqlite_writer_blocked(sqlite_instance)
    assert not sqlite_instance.session.in_transaction()


def test_testing_reset_closes_the_catalog_and_forgets_the_run(tmp_path: Path):
    opened = ln.init(storage=tmp_path / "catalog")
    ln.track()
    assert current_run() is not None
    lamin_core.testing.reset()
    assert current_run() is None
    with pytest.raises(InstanceError, match="closed"):
        _ = opened.session
    assert active_instance() is None  # the next ln.* call connects afresh, from the settings


@pytest.mark.parametrize(
    "package", ["lamin_core", "lamin_dagster", "example_pipelines", "benchmarks"]
)
def test_only_the_instance_owns_sessions(package: str):
    """No module outside lamin_core/instance defines a `_session()` helper or ends reads itself."""
    offenders = [
        f"{path.relative_to(REPO)}:{number}: {line.strip()}"
        for path in sorted((REPO / package).rglob("*.py"))
        if (REPO / "lamin_core" / "instance") not in path.parents
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"\bdef _session\b|\bend_read\b", line)
    ]
    assert offenders == []


# --- every save path is a writing() block: inside an outer block, it joins it -------------------


def save_one_label(name: str) -> None:
    ln.ULabel(name=name).save()


def save_a_list(name: str) -> None:
    ln.save([ln.ULabel(name=name), ln.ULabel(name=f"{name} 2")])


def link_a_parent(name: str) -> None:
    parent = ln.ULabel.filter(name="existing parent").one()
    child = ln.ULabel(name=name).save()
    child.parents.add(parent)


def delete_by_query(name: str) -> None:
    ln.ULabel(name=name).save()
    ln.ULabel.filter(name="existing parent").delete(permanent=True)


SAVES = [save_one_label, save_a_list, link_a_parent, delete_by_query]


@pytest.mark.parametrize("save", SAVES, ids=lambda save: save.__name__)
def test_a_save_inside_a_failed_writing_block_leaves_the_catalog_unchanged(
    instance: ln.Instance, other: ln.Instance, save
):
    ln.ULabel(name="existing parent").save()
    before = names(other)

    with pytest.raises(RuntimeError, match="the block failed"), instance.writing():
        save("made in the block")
        raise RuntimeError("the block failed")

    assert names(other) == before
    assert names(instance) == before


@pytest.mark.parametrize("save", SAVES, ids=lambda save: save.__name__)
def test_a_save_inside_a_writing_block_is_visible_to_others_only_after_the_block(
    instance: ln.Instance, other: ln.Instance, save
):
    ln.ULabel(name="existing parent").save()
    before = names(other)

    with instance.writing():
        save("made in the block")
        assert names(other) == before  # not committed yet: the block owns the transaction

    assert "made in the block" in names(other)


def test_a_broken_constraint_inside_a_writing_block_raises_at_the_save(instance: ln.Instance):
    taken = ln.ULabel(name="first").save()

    with pytest.raises(IntegrityError, match="breaks a constraint"), instance.writing():
        ln.ULabel(name="kept only if the block commits").save()
        ln.ULabel(name="second", uid=taken.uid).save()  # raises here, not at the block's end
        pytest.fail("the save did not raise")

    assert names(instance) == ["first"]
