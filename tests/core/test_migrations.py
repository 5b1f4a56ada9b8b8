"""Migrations: a catalog made at the first revision upgrades with its data; models match them."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

import lamin_core as ln
from lamin_core.instance import create_engine
from lamin_core.migrations import current_revision, head_revision, upgrade
from lamin_core.models import Base

FIRST_REVISION = "0001"


def catalog_url(tmp_path: Path, db_url: str | None) -> str:
    return db_url or f"sqlite:///{tmp_path / 'catalog' / '.lamindb' / 'lamin.db'}"


def make_first_revision_catalog(url: str) -> None:
    """Create a catalog at the first revision with one user, storage and artifact in it."""
    engine = create_engine(url)
    upgrade(engine, FIRST_REVISION)
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                'INSERT INTO "user" (uid, handle, name, created_at) '
                "VALUES ('u0000001', 'olduser', 'Old User', '2024-01-01 00:00:00')"
            )
        )
        connection.execute(
            sa.text(
                "INSERT INTO storage (uid, root, type, created_by_id, created_at) "
                "VALUES ('s00000000001', :root, 'local', 1, '2024-01-01 00:00:00')"
            ),
            {"root": "/tmp/old-root"},
        )
        connection.execute(
            sa.text(
                "INSERT INTO artifact (uid, key, suffix, size, hash, hash_type, key_is_virtual, "
                "storage_id, created_by_id, created_at, version, is_latest) VALUES "
                "('oldoldoldoldold00000', 'old/data.csv', '.csv', 10, 'h1', 'md5', true, 1, 1, "
                "'2024-01-01 00:00:00', '1', true)"
            )
        )
    engine.dispose()


def test_catalog_from_first_revision_upgrades_and_keeps_data(
    tmp_path: Path, empty_db_url: str | None
):
    assert head_revision() != FIRST_REVISION, "there is more than one revision to migrate through"
    url = catalog_url(tmp_path, empty_db_url)
    make_first_revision_catalog(url)
    storage = tmp_path / "catalog"
    with pytest.raises(ln.InstanceError, match="lamin-core migrate"):
        ln.connect(url, storage=storage, auto_migrate=False)
    instance = ln.connect(url, storage=storage)
    assert current_revision(instance.engine) == head_revision()
    session = instance.session
    old = session.scalars(sa.select(ln.Artifact).where(ln.Artifact.key == "old/data.csv")).one()
    assert old.uid == "oldoldoldoldold00000" and old.created_by.handle == "olduser"
    # revision 0011 puts every existing record on the main branch: queries still show it
    assert ln.Artifact.filter(key="old/data.csv").one().branch_id == 1


def test_upgrade_keeps_one_latest_artifact_per_key(tmp_path: Path, empty_db_url: str | None):
    # a catalog where a race left two version families with the same key, both latest
    url = catalog_url(tmp_path, empty_db_url)
    make_first_revision_catalog(url)
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO artifact (uid, key, suffix, size, hash, hash_type, key_is_virtual, "
                "storage_id, created_by_id, created_at, version, is_latest) VALUES "
                "('racerracerracer00000', 'old/data.csv', '.csv', 12, 'h2', 'md5', true, 1, 1, "
                "'2024-01-02 00:00:00', '1', true)"
            )
        )
    engine.dispose()
    instance = ln.connect(url, storage=tmp_path / "catalog")
    rows = instance.session.execute(
        sa.select(ln.Artifact.uid, ln.Artifact.is_latest).where(ln.Artifact.key == "old/data.csv")
    ).all()
    assert sorted(rows) == [("oldoldoldoldold00000", False), ("racerracerracer00000", True)]


def test_migrations_produce_exactly_the_models_schema(tmp_path: Path, empty_db_url: str | None):
    url = catalog_url(tmp_path, empty_db_url)
    engine = create_engine(url)
    upgrade(engine)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection)
        differences = [
            diff for diff in compare_metadata(context, Base.metadata) if not _is_search_index(diff)
        ]
    engine.dispose()
    assert differences == []


def test_each_revision_downgrades_and_upgrades_again(tmp_path: Path, empty_db_url: str | None):
    from alembic import command

    from lamin_core.migrations import alembic_config

    url = catalog_url(tmp_path, empty_db_url)
    make_first_revision_catalog(url)
    engine = create_engine(url)
    upgrade(engine)
    config = alembic_config(engine)
    command.downgrade(config, "base")  # every downgrade() runs, newest first
    assert current_revision(engine) is None
    upgrade(engine)
    with engine.connect() as connection:
        differences = [
            diff
            for diff in compare_metadata(MigrationContext.configure(connection), Base.metadata)
            if not _is_search_index(diff)
        ]
    engine.dispose()
    assert differences == []


def _is_search_index(diff: object) -> bool:
    """Search indexes are created by raw DDL (FTS5 tables, trigram indexes, typo index)."""
    text = repr(diff)
    return any(part in text for part in ("_fts", "trgm", "_terms'", "_deletes'", "_terms_tail'"))


def test_catalog_newer_than_the_code_is_refused(tmp_path: Path):
    ln.init(storage=tmp_path / "catalog").close()
    engine = create_engine(catalog_url(tmp_path, None))
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(ln.InstanceError, match="newer version"):
        ln.connect(storage=tmp_path / "catalog")


def test_cli_migrate_upgrades_and_stamp_adopts_unversioned_tables(tmp_path: Path, capsys):
    from lamin_core.cli import main as cli

    url = catalog_url(tmp_path, None)
    make_first_revision_catalog(url)
    assert cli(["migrate", "--db", url]) == 0
    assert f"revision {head_revision()}" in capsys.readouterr().out
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text("DROP TABLE alembic_version"))
    engine.dispose()
    with pytest.raises(ln.InstanceError, match="migrate --stamp"):
        ln.connect(url, storage=tmp_path / "catalog")
    assert cli(["migrate", "--stamp", "--db", url]) == 0
    assert ln.connect(url, storage=tmp_path / "catalog").storage_root.endswith("catalog")


def test_concurrent_processes_create_one_catalog(tmp_path: Path):
    import subprocess
    import sys

    code = "import sys, lamin_core as ln; ln.init(storage=sys.argv[1]).close()"
    processes = [
        subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "shared")]) for _ in range(4)
    ]
    assert [p.wait(timeout=120) for p in processes] == [0, 0, 0, 0]
    instance = ln.connect(storage=tmp_path / "shared")
    assert current_revision(instance.engine) == head_revision()


def test_the_revisions_read_from_file_names_are_alembics():
    from alembic.script import ScriptDirectory

    from lamin_core.migrations import alembic_config, head_revision, known_revisions

    script = ScriptDirectory.from_config(alembic_config())

    assert head_revision() == script.get_current_head()
    assert known_revisions() == {revision.revision for revision in script.walk_revisions()}


def _sqlite_schema_rows(url: str) -> list[tuple[str, str, str]]:
    engine = create_engine(url)
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT type, name, coalesce(sql, '') FROM sqlite_master ORDER BY type, name"
        ).all()
    engine.dispose()
    return [tuple(row) for row in rows]


def test_new_sqlite_catalog_copies_exactly_the_created_schema(tmp_path: Path):
    import subprocess
    import sys

    created = f"sqlite:///{tmp_path / 'created.db'}"
    # statement by statement, in a new process (this one's models may carry other tests' state)
    code = (
        "import sys; from lamin_core.instance import create_engine; "
        "from lamin_core.migrations import _create_schema; "
        "engine = create_engine(sys.argv[1]); "
        "connection = engine.connect(); _create_schema(connection); connection.commit()"
    )
    subprocess.run([sys.executable, "-c", code, created], check=True, timeout=120)

    first = ln.init(storage=tmp_path / "first")  # copied from the process's in-memory schema
    second = ln.init(storage=tmp_path / "second")  # copied again: the two catalogs stay apart
    ln.ULabel(name="only in second").save()
    first.close()
    second.close()

    expected = _sqlite_schema_rows(created)
    assert len(expected) > 100  # tables, indexes, triggers and the FTS5 tables
    for root in ("first", "second"):
        url = f"sqlite:///{tmp_path / root / '.lamindb' / 'lamin.db'}"
        assert _sqlite_schema_rows(url) == expected
        engine = create_engine(url)
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("SELECT version_num FROM alembic_version").all() == [
                (head_revision(),)
            ]
        engine.dispose()
    assert ln.connect(storage=tmp_path / "first").name == "first"
    assert ln.ULabel.filter().count() == 0
    ln.connect(storage=tmp_path / "second")
    assert [label.name for label in ln.ULabel.search("second")] == ["only in second"]
