"""A catalog written by release 0.1.0 opens with today's code, every row and file intact.

The catalog in tests/data/release_0.1.0 (made by its make_catalog.py) holds the seed guide's
artifacts, versions, a deleted artifact, labels with parents, feature values, a collection, a run
and bio records. On SQLite the file itself is upgraded; on PostgreSQL its rows are first copied
into a schema at the release's revision, as a team's server catalog would be.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

import lamin_core as ln
import lamin_core.bio as bt
from lamin_core.instance import create_engine
from lamin_core.migrations import current_revision, head_revision, upgrade

RELEASE = Path(__file__).parents[1] / "data" / "release_0.1.0" / "catalog"
RELEASE_REVISION = "0009"


def _is_search_index(table: str) -> bool:
    """The search index is derived from the rows (and rebuilt when its design changes)."""
    return "_fts" in table or table.endswith(("_terms", "_deletes")) or table == "alembic_version"


def _rows(engine: sa.Engine, tables: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """Every row of every catalog table, as sorted tuples of the given (or all) columns."""
    metadata = sa.MetaData()
    metadata.reflect(engine)
    rows: dict[str, Any] = {}
    with engine.connect() as connection:
        for name, table in metadata.tables.items():
            if _is_search_index(name) or (tables is not None and name not in tables):
                continue
            columns = tables[name] if tables is not None else [c.name for c in table.columns]
            result = connection.execute(sa.select(*(table.c[c] for c in columns)))
            rows[name] = (columns, sorted(tuple(_plain(v) for v in row) for row in result))
    return rows


def _plain(value: Any) -> Any:
    """A value as both backends return it (SQLite has no booleans; JSON comes back as dicts)."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (dict, list)):
        return repr(value)
    if hasattr(value, "isoformat"):
        return value.replace(tzinfo=None).isoformat(sep=" ")
    return value


@pytest.fixture
def release_catalog(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    """A copy of the release's catalog, its storage row pointing at the copy; and its rows."""
    root = tmp_path / "catalog"
    shutil.copytree(RELEASE, root)
    engine = sa.create_engine(f"sqlite:///{root / '.lamindb' / 'lamin.db'}")
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE storage SET root = :root"), {"root": root.as_posix()})
    before = _rows(engine)
    engine.dispose()
    return root, before


def _copy_into_postgres(sqlite_root: Path, url: str) -> None:
    """Build the release's schema on PostgreSQL and copy the SQLite catalog's rows into it."""
    source = sa.create_engine(f"sqlite:///{sqlite_root / '.lamindb' / 'lamin.db'}")
    target = create_engine(url)
    upgrade(target, RELEASE_REVISION)
    metadata = sa.MetaData()
    metadata.reflect(target)
    with source.connect() as reading, target.begin() as writing:
        for table in metadata.sorted_tables:
            if _is_search_index(table.name):
                continue
            columns = [column.name for column in table.columns]
            result = reading.execute(sa.text(f'SELECT * FROM "{table.name}"')).mappings().all()
            if result:
                values = [{c: _from_sqlite(table.c[c], row[c]) for c in columns} for row in result]
                insert = postgresql.insert(table)
                keys = [column.name for column in table.primary_key]
                # rows the migrations seed (the space everyone sees) take the release's values
                updated = {c: insert.excluded[c] for c in columns if c not in keys}
                insert = (
                    insert.on_conflict_do_update(index_elements=keys, set_=updated)
                    if updated
                    else insert.on_conflict_do_nothing()
                )
                writing.execute(insert, values)
            if "id" in table.c and result:
                writing.execute(
                    sa.text(
                        f"SELECT setval(pg_get_serial_sequence('\"{table.name}\"', 'id'), "
                        f'(SELECT max(id) FROM "{table.name}"))'
                    )
                )
    source.dispose()
    target.dispose()


def _from_sqlite(column: sa.Column, value: Any) -> Any:
    """A raw SQLite value in the form PostgreSQL's column takes."""
    if value is None:
        return None
    if isinstance(column.type, sa.Boolean):
        return bool(value)
    if isinstance(column.type, sa.JSON):
        return json.loads(value) if isinstance(value, str) else value
    if isinstance(column.type, sa.DateTime) and isinstance(value, str):
        return datetime.fromisoformat(value)
    return value


def test_release_catalog_upgrades_with_every_row_and_file_intact(
    release_catalog: tuple[Path, dict[str, Any]], empty_db_url: str | None
):
    root, before = release_catalog
    assert len(before) > 40 and len(before["artifact"][1]) == 7  # the whole release, read
    if empty_db_url is None:
        url = f"sqlite:///{root / '.lamindb' / 'lamin.db'}"
    else:
        url = empty_db_url
        _copy_into_postgres(root, url)
    instance = ln.connect(url, storage=root)
    assert current_revision(instance.engine) == head_revision()

    after = _rows(instance.engine, {name: columns for name, (columns, _) in before.items()})
    missing = sorted(set(before) - set(after))
    assert missing == [], f"tables of the release are gone: {missing}"
    for name, (_, rows) in before.items():
        kept = after[name][1]
        lost = [row for row in rows if row not in kept]
        assert lost == [], f"{name}: {len(lost)} of {len(rows)} rows changed or lost: {lost[:3]}"

    # the catalog works as before: files load, versions, labels, features, search
    reads = ln.Artifact.get(key="tables/reads.parquet", is_latest=True)
    assert reads.load()["reads"].tolist() == [11, 21, 31]
    assert reads.versions.count() == 2
    assert reads.features.get_values()["temperature"] == 21.5
    labelled = ln.Artifact.filter(ulabels__name="Experiment 1")
    assert sorted(labelled.list("key")) == ["example_datasets/dataset1.h5ad", reads.key]
    assert ln.Artifact.filter(key="tables/deleted.parquet").count() == 0
    for artifact in ln.Artifact.filter():
        assert artifact.path.exists(), artifact.key
    collection = ln.Collection.get(key="guide datasets")
    assert sorted(a.key for a in collection.artifacts) == [
        "example_datasets/dataset1.h5ad",
        "example_datasets/dataset2.h5ad",
    ]
    assert ln.ULabel.get(name="Experiment 1").parents.one().name == "Project A"
    assert "Experiment 1" in [label.name for label in ln.ULabel.search("Experimnt")]
    # what the revisions after the release added works on the upgraded catalog
    scope = ln.Feature(name="Scope", is_type=True).save()
    scoped = ln.Feature(name="temperature", dtype=float, type=scope).save()
    assert scoped.id != ln.Feature.get(name="temperature", type=None).id
    with pytest.raises(ln.IntegrityError):  # one root feature per name, as before
        ln.Feature(name="temperature", dtype=float, _skip_validation=True).save()
    assert bt.CellLine(name="HEK293").save().artifacts.count() == 0
    # revision 0017: the release's schemas have no optional members, and their members (links
    # without a position) come in the order of the features' ids
    schemas = ln.Schema.filter(itype="Feature", n__gt=0)
    assert schemas.count() > 0
    for schema in schemas:
        assert schema.optionals.get().count() == 0
        assert schema.members.list("id") == sorted(schema.members.list("id"))
