"""Identity and location fields: validated when set, immutable once a record is saved.

A saved artifact's uid, suffix, hash, size, storage and in-place key say which bytes it is and
where they lie; changing one would make the row describe other bytes or point elsewhere (even
outside the storage). Such a change raises ValidationError and nothing is written; a virtual key
is only a name and may change.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa

import lamin_core as ln

IMMUTABLE = "is immutable once saved; save a new artifact or version instead"


def row(instance: ln.Instance, artifact_id: int) -> dict[str, Any]:
    """Return the artifact's row as stored, read past the session's identity map."""
    with instance.engine.connect() as connection:
        result = connection.execute(
            sa.select(ln.Artifact.__table__).where(ln.Artifact.__table__.c.id == artifact_id)
        )
        return dict(result.mappings().one())


@pytest.fixture
def saved(instance: ln.Instance) -> ln.Artifact:
    return ln.Artifact.from_df(pd.DataFrame({"a": [1, 2]}), key="tables/a.parquet").save()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("uid", "aaaaaaaaaaaaaaaa0000"),
        ("uid", "../../victim"),
        ("suffix", ".csv"),
        ("suffix", "/../../x"),
        ("hash", "AAAAAAAAAAAAAAAAAAAAAA"),
        ("hash_type", "sha1"),
        ("size", 1),
        ("n_files", 3),
        ("key_is_virtual", False),
        ("storage_id", 999),
    ],
)
def test_identity_field_of_saved_artifact_cannot_change(instance, saved, field, value):
    before, stored = getattr(saved, field), row(instance, saved.id)
    with pytest.raises(ln.ValidationError, match=rf"{field} of Artifact .* {IMMUTABLE}") as info:
        setattr(saved, field, value)
    assert repr(value) in str(info.value)
    assert getattr(saved, field) == before
    saved.save()
    assert row(instance, saved.id) == stored
    assert saved.load()["a"].tolist() == [1, 2]


def test_storage_of_saved_artifact_cannot_change(instance, saved):
    other = ln.Storage(root="/somewhere/else", type="local").save()
    with pytest.raises(ln.ValidationError, match=f"storage of Artifact .* {IMMUTABLE}"):
        saved.storage = other
    assert saved.storage_id == instance.storage_id
    assert row(instance, saved.id)["storage_id"] == instance.storage_id


def test_setting_the_same_value_again_is_allowed(instance, saved):
    for field in ("uid", "suffix", "hash", "size", "storage_id", "key_is_virtual"):
        setattr(saved, field, getattr(saved, field))
    saved.storage = saved.storage
    assert saved.save().load()["a"].tolist() == [1, 2]


def test_virtual_key_may_change_and_is_validated(instance, saved):
    saved.key = "tables/renamed.parquet"
    saved.save()
    assert row(instance, saved.id)["key"] == "tables/renamed.parquet"
    assert ln.Artifact.get(key="tables/renamed.parquet").load()["a"].tolist() == [1, 2]
    for bad in ["../escape.parquet", "tables/", "/etc/passwd", "a\x00b"]:
        with pytest.raises(ln.ValidationError, match="key"):
            saved.key = bad
    assert saved.key == "tables/renamed.parquet"


def test_in_place_key_is_a_location_and_cannot_change(instance):
    inside = Path(instance.storage_root) / "raw" / "reads.csv"
    inside.parent.mkdir()
    inside.write_text("a,b\n1,2\n")
    artifact = ln.Artifact(inside).save()
    with pytest.raises(ln.ValidationError, match=f"key of Artifact .* {IMMUTABLE}"):
        artifact.key = "raw/other.csv"
    assert row(instance, artifact.id)["key"] == "raw/reads.csv"
    artifact.delete(storage=True)
    assert not inside.exists()


def test_unsaved_artifact_may_take_another_uid_in_the_format(instance):
    artifact = ln.Artifact.from_df(pd.DataFrame({"a": [1]}), key="x.parquet")
    artifact.uid = "abcdefghijklmnop0000"
    artifact.suffix = ".pq"
    artifact.save()
    assert Path(artifact.path).name == "abcdefghijklmnop0000.pq"
    with pytest.raises(ln.ValidationError, match="uid"):
        ln.Artifact.from_df(pd.DataFrame({"a": [2]}), key="y.parquet").uid = "../../x00000000000000"


def test_loading_refresh_and_versioning_keep_working(instance, saved):
    session = instance.session
    session.refresh(saved)
    session.expire(saved)
    assert saved.uid.endswith("0000")
    again = session.scalars(
        sa.select(ln.Artifact).execution_options(populate_existing=True)
    ).one()
    assert again is saved
    assert session.merge(saved) is saved
    v2 = ln.Artifact.from_df(pd.DataFrame({"a": [3]}), key="tables/a.parquet").save()
    assert v2.uid == saved.stem_uid + "0001" and not saved.is_latest
    assert ln.Artifact.get(saved.uid).load()["a"].tolist() == [1, 2]
    v2.delete()
    assert ln.Artifact.get(saved.uid).is_latest


def test_uid_of_saved_records_of_other_registries_cannot_change(instance):
    label = ln.ULabel(name="DMSO").save()
    transform = ln.Transform(key="qc.py").save()
    for record in (label, transform):
        with pytest.raises(ln.ValidationError, match=f"uid of {type(record).__name__}"):
            record.uid = "a" * len(record.uid)
    label.name = "DMSO2"  # other fields stay editable
    assert label.save().name == "DMSO2"


def test_storage_root_is_immutable_once_saved(instance):
    storage = ln.Storage.get(instance.storage_id)
    with pytest.raises(ln.ValidationError, match="root of Storage .* is immutable once saved"):
        storage.root = "/"
    assert ln.Storage.get(instance.storage_id).root == instance.storage_root
