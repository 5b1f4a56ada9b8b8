"""Search indexes: created with every catalog and by migration 0002, used by the queries."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

import lamin_core as ln
from lamin_core.instance import create_engine
from lamin_core.migrations import current_revision, head_revision, upgrade
from lamin_core.search import search_index_ddl, searchable_registries
from lamin_core.search.index import trigram_schema


def statements_during(engine: sa.Engine, action: Any) -> list[tuple[str, Any]]:
    seen: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        seen.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        action()
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    return seen


def test_searchable_registries_cover_every_registry_with_search_fields():
    tables = {registry.__table__.name for registry in searchable_registries()}
    assert {"artifact", "ulabel", "feature", "transform", "user", "storage"} <= tables
    assert "featurevalue" not in tables  # no search fields


def test_search_index_ddl_for_a_new_registry_table():
    sqlite = search_index_ddl("celltype", ["name", "synonyms"], prefix=["name"])
    assert any("USING fts5" in s and "tokenize='trigram'" in s for s in sqlite)
    assert sum("CREATE TRIGGER" in s for s in sqlite) == 3
    assert any("COLLATE NOCASE" in s and '"name"' in s for s in sqlite)
    postgres = search_index_ddl(
        "celltype", ["name", "synonyms"], prefix=["name"], dialect="postgresql"
    )
    assert sum("gin_trgm_ops" in s for s in postgres) == 2
    assert sum("text_pattern_ops" in s for s in postgres) == 1


def test_new_catalog_has_search_indexes(instance: ln.Instance):
    engine = instance.engine
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            tables = set(sa.inspect(connection).get_table_names())
            assert {"ulabel_fts", "artifact_fts", "feature_fts"} <= tables
        else:
            indexes = {
                row[0]
                for row in connection.execute(
                    sa.text("SELECT indexname FROM pg_indexes WHERE tablename = 'ulabel'")
                )
            }
            assert "ix_ulabel_name_trgm_prefix" in indexes
            if trigram_schema(engine) is not None:
                assert "ix_ulabel_name_trgm" in indexes


def test_sqlite_search_uses_the_indexes_not_a_scan(sqlite_instance: ln.Instance):
    ln.ULabel.from_values([f"label {i}" for i in range(50)] + ["lymphocyte"], create=True).save()
    engine = sqlite_instance.engine
    seen = statements_during(engine, lambda: ln.ULabel.search("lymphocite").list())
    searches = [(s, p) for s, p in seen if "ulabel" in s and ("MATCH" in s or "NOCASE" in s)]
    assert any("MATCH" in s for s, _ in searches) and any("NOCASE" in s for s, _ in searches)
    with engine.connect() as connection:
        for statement, parameters in searches:
            rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
            steps = [str(row[-1]) for row in rows]
            table_scans = [
                step
                for step in steps
                if step.startswith("SCAN")
                and "VIRTUAL TABLE INDEX" not in step
                and step not in ("SCAN hits", "SCAN best")  # the CTEs of matches
            ]
            assert table_scans == [], steps
            assert any(
                "ix_ulabel_name_fts_nocase" in s or "VIRTUAL TABLE INDEX" in s for s in steps
            )


def test_search_on_postgresql_without_pg_trgm_falls_back(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    import lamin_core.search.retrieval as retrieval

    ln.init(storage=tmp_path / "catalog", db=postgres_url, user="testuser1")

    monkeypatch.setattr(retrieval, "trigram_schema", lambda engine: None)
    ln.ULabel.from_values(["B cell", "T cell", "lymphocyte", "B cell receptor"], create=True).save()
    assert [r.name for r in ln.ULabel.search("b cel")][:2] == ["B cell", "B cell receptor"]
    assert ln.ULabel.search("lymphocite").first().name == "lymphocyte"


def test_migration_0002_indexes_rows_of_an_existing_catalog(
    tmp_path: Path, empty_db_url: str | None
):
    url = empty_db_url or f"sqlite:///{tmp_path / 'catalog' / '.lamindb' / 'lamin.db'}"
    engine = create_engine(url)
    upgrade(engine, "0001")
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO ulabel (uid, name, is_type, created_at) "
                "VALUES ('ul000001', 'Candidate marker study 1', false, '2024-01-01 00:00:00')"
            )
        )
    engine.dispose()
    instance = ln.connect(url, storage=tmp_path / "catalog")
    assert current_revision(instance.engine) == head_revision()
    assert ln.ULabel.search("marker stdy").first().name == "Candidate marker study 1"
    assert ln.ULabel.search("candidate").first().name == "Candidate marker study 1"


def test_search_without_an_fts_table_falls_back_to_like(sqlite_instance: ln.Instance):
    ln.ULabel.from_values(["B cell", "T cell", "lymphocyte"], create=True).save()
    with sqlite_instance.engine.begin() as connection:
        from lamin_core.search.index import drop_search_index

        drop_search_index(connection, "ulabel")
    import lamin_core.search.retrieval as retrieval

    retrieval._fts_columns.clear()
    assert ln.ULabel.search("b cel").first().name == "B cell"
    assert ln.ULabel.search("lymphocite").first().name == "lymphocyte"
