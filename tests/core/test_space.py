"""Spaces: every record belongs to one; "all" is built in; PostgreSQL tables get the policies.

Isolation between roles is tested in test_access.py, with real roles on the server.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

import lamin_core as ln


def test_records_belong_to_all_unless_given_a_space(instance: ln.Instance):
    space = ln.Space(name="team-a", description="Lab A").save()
    assert ln.Space.get(name="all").id == 1
    default = ln.ULabel(name="everyone's").save()
    placed = ln.ULabel(name="team label", space=space).save()
    artifact = ln.Artifact.from_df(pd.DataFrame({"a": [1]}), key="a.parquet", space=space).save()
    assert default.space_id == 1 and default.space.name == "all"
    assert placed.space_id == space.id and artifact.space.name == "team-a"
    assert ln.ULabel.filter(space__name="team-a").one().name == "team label"
    assert ln.Artifact.df(include=["space__name"])["space__name"].tolist() == ["team-a"]
    assert "space_id=" in repr(placed)


def test_space_all_cannot_be_deleted_and_used_spaces_are_kept(instance: ln.Instance):
    with pytest.raises(ln.ValidationError, match="Cannot delete the space 'all'"):
        ln.Space.get(name="all").delete()
    space = ln.Space(name="busy").save()
    ln.ULabel(name="in busy", space=space).save()
    with pytest.raises(ln.IntegrityError, match="other records still point to it"):
        space.delete()
    assert ln.Space.filter(name="busy").count() == 1


def test_every_registry_has_a_space_but_users_and_spaces(instance: ln.Instance):
    from lamin_core.models.registry import registries

    for registry in registries():
        has = "space_id" in registry.__table__.c
        assert has == (registry not in (ln.User, ln.Space)), registry.__name__


def secured_tables(engine: sa.Engine) -> set[str]:
    with engine.connect() as connection:
        return set(
            connection.execute(
                sa.text(
                    "SELECT c.relname FROM pg_class c JOIN pg_policy p ON p.polrelid = c.oid "
                    "WHERE c.relrowsecurity AND c.relnamespace = current_schema()::regnamespace "
                    "AND p.polname = 'lamin_space_access'"
                )
            ).scalars()
        )


def test_new_postgresql_catalog_secures_every_table_with_a_space(tmp_path: Path, postgres_url: str):
    instance = ln.init(storage=tmp_path / "catalog", db=postgres_url)
    tables = {t.name for t in ln.models.Base.metadata.sorted_tables if "space_id" in t.c}
    assert secured_tables(instance.engine) == tables - {"space_access"}
    assert ln.Space(name="second").save().id == 2  # "all" took id 1 and the sequence moved on


def test_upgrade_puts_existing_records_into_all(tmp_path: Path, empty_db_url: str | None):
    from lamin_core.instance import create_engine
    from lamin_core.migrations import upgrade

    url = empty_db_url or f"sqlite:///{tmp_path / 'catalog' / '.lamindb' / 'lamin.db'}"
    engine = create_engine(url)
    upgrade(engine, "0005")
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                'INSERT INTO "user" (uid, handle, name, created_at) '
                "VALUES ('u0000001', 'olduser', 'Old User', '2024-01-01 00:00:00')"
            )
        )
        connection.execute(
            sa.text(
                "INSERT INTO ulabel (uid, name, is_type, created_by_id, created_at) "
                "VALUES ('l0000001', 'old label', false, 1, '2024-01-01 00:00:00')"
            )
        )
    engine.dispose()
    instance = ln.connect(url, storage=tmp_path / "catalog")
    old = ln.ULabel.get(name="old label")
    assert old.space.name == "all" and old.space_id == 1
    assert ln.ULabel.search("old labl").df()["name"].tolist() == ["old label"]
    new = ln.ULabel(name="new label", space=ln.Space(name="team").save()).save()
    assert new.space_id == 2
    with pytest.raises(ln.IntegrityError):  # the foreign key holds after the upgrade
        ln.ULabel(name="nowhere", space_id=99).save()
    if instance.engine.dialect.name == "postgresql":
        assert "ulabel" in secured_tables(instance.engine)
        assert "artifact" in secured_tables(instance.engine)
    else:
        with instance.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
