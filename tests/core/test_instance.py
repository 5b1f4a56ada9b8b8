"""Instances: settings resolution, side-by-side instances, threads, unreachable databases."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

import lamin_core as ln
from lamin_core.instance import get_instance


def keys(instance: ln.Instance) -> list[str]:
    session = instance.session
    result = session.scalars(sa.select(ln.Artifact.key).order_by(ln.Artifact.id)).all()
    session.commit()
    return list(result)


def test_init_is_idempotent_and_keeps_records(tmp_path: Path):
    first = ln.init(storage=tmp_path / "cat")
    ln.Artifact.from_df(pd.DataFrame({"a": [1]}), key="a.parquet").save()
    first.close()
    again = ln.init(storage=tmp_path / "cat")
    assert keys(again) == ["a.parquet"]
    assert (tmp_path / "cat" / ".lamindb" / "lamin.db").exists()


def test_sqlite_runs_in_wal_mode_with_busy_timeout(sqlite_instance: ln.Instance):
    with sqlite_instance.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 30000
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_settings_resolve_arguments_then_environment_then_file(tmp_path, monkeypatch):
    ln.init(storage=tmp_path / "from-args", user="alice").close()
    settings = json.loads((tmp_path / "lamin-home" / "settings.json").read_text())
    assert settings["storage"].endswith("from-args") and settings["user"] == "alice"
    # the settings file reconnects when nothing else is given
    assert get_instance().storage_root.endswith("from-args")
    get_instance().close()
    # the environment beats the settings file
    ln.init(storage=tmp_path / "from-env").close()
    monkeypatch.setenv("LAMIN_CORE_STORAGE", str(tmp_path / "from-env"))
    monkeypatch.setenv("LAMIN_CORE_USER", "bob")
    instance = ln.connect()
    assert instance.storage_root.endswith("from-env")
    assert instance.user_handle == "bob"
    # arguments beat the environment
    other = ln.init(storage=tmp_path / "explicit")
    assert other.storage_root.endswith("explicit")


def test_no_catalog_configured_says_how_to_create_one():
    with pytest.raises(ln.InstanceError, match=r"ln\.init\(storage="):
        get_instance()


def test_connect_to_missing_catalog_says_how_to_create(tmp_path: Path):
    with pytest.raises(ln.InstanceError, match="No catalog at"):
        ln.connect(storage=tmp_path / "nothing-here")
    assert not (tmp_path / "nothing-here").exists()


def test_connect_by_folder_opens_the_catalog_stored_there(tmp_path: Path):
    created = ln.init(storage=tmp_path / "my-catalog", activate=False)
    created.close()
    opened = ln.connect(str(tmp_path / "my-catalog"))
    assert opened.storage_root == created.storage_root
    with pytest.raises(ln.InstanceError, match="No catalog at"):
        ln.connect(str(tmp_path / "elsewhere"))


def test_two_instances_side_by_side(tmp_path: Path):
    a = ln.init(storage=tmp_path / "a")
    b = ln.init(storage=tmp_path / "b")  # now the default
    with a.activate():
        ln.Artifact.from_df(pd.DataFrame({"x": [1]}), key="only-in-a.parquet").save()
    ln.Artifact.from_df(pd.DataFrame({"x": [2]}), key="only-in-b.parquet").save()
    assert keys(a) == ["only-in-a.parquet"]
    assert keys(b) == ["only-in-b.parquet"]


def test_threads_activating_their_own_instance_do_not_trample(tmp_path: Path):
    instances = [ln.init(storage=tmp_path / f"t{i}") for i in range(3)]
    errors: list[BaseException] = []

    def work(instance: ln.Instance, index: int) -> None:
        try:
            with instance.activate():
                for j in range(5):
                    frame = pd.DataFrame({"v": [index * 100 + j]})
                    ln.Artifact.from_df(frame, key=f"thread{index}/{j}.parquet").save()
        except BaseException as error:  # surfaced below with its traceback
            errors.append(error)

    threads = [threading.Thread(target=work, args=(inst, i)) for i, inst in enumerate(instances)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for index, instance in enumerate(instances):
        assert keys(instance) == [f"thread{index}/{j}.parquet" for j in range(5)]


def test_closed_instance_refuses_work_with_the_fix(tmp_path: Path):
    instance = ln.init(storage=tmp_path / "cat")
    instance.close()
    with instance.activate(), pytest.raises(ln.InstanceError, match=r"closed.*ln\.connect"):
        ln.Artifact.from_df(pd.DataFrame({"a": [1]}), key="a.parquet").save()


def test_unreachable_database_is_a_clear_error(tmp_path: Path):
    port = __import__("tests.conftest", fromlist=["free_port"]).free_port()
    url = f"postgresql://postgres:secret@127.0.0.1:{port}/test"
    with pytest.raises(ln.InstanceError, match="Cannot reach the catalog database") as info:
        ln.init(storage=tmp_path / "cat", db=url)
    assert "secret" not in str(info.value)  # the password is never shown


def test_unsupported_database_is_named(tmp_path: Path):
    with pytest.raises(ln.InstanceError, match="Unsupported database 'mysql'"):
        ln.init(storage=tmp_path / "cat", db="mysql://root@127.0.0.1/test")


def test_malformed_database_url_is_named(tmp_path: Path):
    with pytest.raises(ln.InstanceError, match="Invalid database URL"):
        ln.init(storage=tmp_path / "cat", db="not a url")


def test_duplicate_unique_name_raises_integrity_error(instance: ln.Instance):
    ln.Feature(name="temperature", dtype="float").save()
    # a uid given on purpose asks for a new record (no reuse of the existing one by name)
    with pytest.raises(ln.IntegrityError, match="Feature"):
        ln.Feature(name="temperature", dtype="float", uid="abcdefABCDEF").save()
    session = instance.session
    assert session.scalar(sa.select(sa.func.count()).select_from(ln.Feature)) == 1


def test_unknown_constructor_field_suggests_close_match(sqlite_instance: ln.Instance):
    with pytest.raises(ln.FieldError, match="Did you mean 'dtype'"):
        ln.Feature(name="x", dtyp="float")


def test_from_values_returns_existing_and_creates_new(instance: ln.Instance):
    ln.ULabel.from_values(["DMSO", "IFNG"], create=True).save()
    records = ln.ULabel.from_values(["IFNG", "TNF", "IFNG"], create=True)
    assert [r.name for r in records] == ["IFNG", "TNF"]
    assert records[0].id is not None and records[1].id is None
    assert ln.ULabel.from_values(["TNF"]) == []
    records.save()
    assert len(ln.ULabel.from_values(["DMSO", "IFNG", "TNF"])) == 3


def test_record_repr_shows_set_fields(sqlite_instance: ln.Instance):
    label = ln.ULabel(name="Candidate marker study 1").save()
    text = repr(label)
    assert text.startswith(f"ULabel(uid='{label.uid}', name='Candidate marker study 1'")
    assert "is_type=False" in text and "created_by_id=1" in text and " UTC" in text


def test_setup_namespace_creates_and_describes_the_catalog(tmp_path: Path):
    # LaminDB 2.x code: ln.setup.init(...), ln.setup.settings.user.handle, ln.setup.close()
    assert ln.setup.settings.user.id is None  # no catalog active yet
    instance = ln.setup.init(storage=tmp_path / "cat", user="alice")
    assert ln.setup.settings.user.handle == "alice"
    assert ln.User.get(handle=ln.setup.settings.user.handle).id == ln.settings.user.id
    assert ln.settings.instance is instance
    assert ln.settings.storage == str(tmp_path / "cat")
    ln.setup.close()
    assert instance._closed
    reopened = ln.setup.connect(str(tmp_path / "cat"), user="alice")
    assert reopened.storage_root == str(tmp_path / "cat")


def test_objects_is_djangos_spelling_of_all(instance: ln.Instance):
    ln.ULabel(name="b").save()
    ln.ULabel(name="a").save()
    assert ln.ULabel.objects.order_by("-id").first().name == "a"
    assert ln.ULabel.objects.filter(name="b").count() == 1
    with pytest.raises(AttributeError, match=r"ln\.ULabel\.objects"):
        ln.ULabel.get(name="a").objects  # noqa: B018


def _terminate_pooled_connections(instance: ln.Instance) -> int:
    """End the server side of every connection the catalog's pool holds, as a restart would."""
    pool = instance.engine.pool
    held = [instance.engine.connect() for _ in range(max(pool.checkedin(), 1))]  # type: ignore[attr-defined]
    pids = [connection.exec_driver_sql("SELECT pg_backend_pid()").scalar() for connection in held]
    for connection in held:
        connection.close()
    admin = sa.create_engine(instance.engine.url)
    try:
        with admin.begin() as connection:
            ended = connection.execute(
                sa.select(sa.func.pg_terminate_backend(sa.func.unnest(sa.literal(pids))))
            )
            return sum(bool(flag) for flag in ended.scalars())
    finally:
        admin.dispose()


def test_postgresql_connection_dropped_while_idle_is_replaced_before_the_next_query(
    tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
):
    import lamin_core.instance.engine as engine_module

    instance = ln.init(storage=tmp_path / "catalog", db=postgres_url)
    ln.ULabel(name="DMSO").save()
    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE_S", 0.0)  # every checkout is "idle"
    assert _terminate_pooled_connections(instance) >= 1
    assert ln.ULabel.filter().list("name") == ["DMSO"]  # no "server closed the connection"
    instance.close()


def test_postgresql_connection_used_moments_ago_is_not_pinged(
    tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
):
    instance = ln.init(storage=tmp_path / "catalog", db=postgres_url)
    ln.ULabel(name="DMSO").save()
    pings: list[object] = []
    ping = instance.engine.dialect.do_ping
    monkeypatch.setattr(instance.engine.dialect, "do_ping", lambda c: pings.append(c) or ping(c))
    for _ in range(3):
        assert ln.ULabel.filter().count() == 1
    assert pings == []  # each query reused the pooled connection without a round trip first
    instance.close()


def test_storage_that_cannot_be_registered_fails_with_the_constraint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from lamin_core.models import Storage

    create = Storage._create

    def in_a_missing_space(**fields):
        storage = create(**fields)
        storage.space_id = 987_654  # no such space: the foreign key refuses the row every time
        return storage

    monkeypatch.setattr(Storage, "_create", in_a_missing_space)
    with pytest.raises(ln.IntegrityError, match="refers to does not exist"):
        ln.init(storage=tmp_path / "catalog")  # one retry (a concurrent registration), then this
