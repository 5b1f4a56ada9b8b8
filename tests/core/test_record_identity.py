"""Identity and location fields: validated when set, immutable once a record is saved.

A saved artifact's uid, suffix, hash, size, storage and in-place key say which bytes it is and
where they lie; changing one would make the row describe other bytes or point elsewhere (even
outside the storage). Such a change raises ValidationError and nothing is written; a virtual key
is only a name and may change.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa

import lamin_core as ln
from lamin_core.artifacts.staging import staging_dir
from lamin_core.models import Record

IMMUTABLE = "is immutable once saved; save a new artifact or version instead"


def count_artifacts(instance: ln.Instance) -> int:
    session = instance.session
    value = session.scalar(sa.select(sa.func.count()).select_from(ln.Artifact))
    session.commit()
    return int(value)


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


CHANGES = [
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
]


def test_identity_field_of_saved_artifact_cannot_change(instance, saved):
    stored = row(instance, saved.id)
    for field, value in CHANGES:
        before = getattr(saved, field)
        with pytest.raises(
            ln.ValidationError, match=rf"{field} of Artifact .* {IMMUTABLE}"
        ) as info:
            setattr(saved, field, value)
        assert repr(value) in str(info.value)
        assert getattr(saved, field) == before
        saved.save()
        assert row(instance, saved.id) == stored, field
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
    artifact.delete(permanent=True, storage=True)
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
    again = session.scalars(sa.select(ln.Artifact).execution_options(populate_existing=True)).one()
    assert again is saved
    assert session.merge(saved) is saved
    v2 = ln.Artifact.from_df(pd.DataFrame({"a": [3]}), key="tables/a.parquet").save()
    assert v2.uid == saved.stem_uid + "0001" and not saved.is_latest
    assert ln.Artifact.get(saved.uid).load()["a"].tolist() == [1, 2]
    v2.delete(permanent=True)
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
    with pytest.raises(ln.ValidationError, match=r"root of Storage .* is immutable once saved"):
        storage.root = "/"
    assert ln.Storage.get(instance.storage_id).root == instance.storage_root


@pytest.mark.parametrize(
    "uid",
    [
        "../../../tmp/x_0000",
        "../../victim0000aaaa",
        "/tmp/victim000000000",
        "aaaaaaaaaaaaaaa/0000",
        "aaaaaaaaaaaaaaaa000",
        "aaaaaaaaaaaaaaaa00000",
        "aaaaaaaaaaaaaaaa000-",
        "aaaaaaaaaaaaaaaa000\u0663",
        "",
        None,
        12345678901234567890,
    ],
)
def test_artifact_uid_keyword_outside_the_uid_format_is_refused(sqlite_instance, tmp_path, uid):
    source = tmp_path / "f.txt"
    source.write_text("hello")
    if uid is None:  # None asks for a new uid
        assert len(ln.Artifact(source, key="a.txt", uid=uid).uid) == 20
        return
    before = sorted(os.listdir(tmp_path.parent)), sorted(os.listdir(tmp_path))
    with pytest.raises(ln.ValidationError, match=r"uid .*20 base62 characters"):
        ln.Artifact(source, key="a.txt", uid=uid).save()
    assert count_artifacts(sqlite_instance) == 0
    assert (sorted(os.listdir(tmp_path.parent)), sorted(os.listdir(tmp_path))) == before
    assert list(Path(sqlite_instance.catalog_path).glob("*.txt")) == []


@pytest.mark.parametrize("suffix", ["/../../../victim", ".txt/../../x", ".a\\b", "x", ".\x00"])
def test_artifact_suffix_keyword_outside_the_suffix_format_is_refused(
    sqlite_instance, tmp_path, suffix
):
    source = tmp_path / "f.txt"
    source.write_text("hello")
    with pytest.raises(ln.ValidationError, match="suffix"):
        ln.Artifact(source, key="a.txt", suffix=suffix).save()
    with pytest.raises(ln.ValidationError, match="suffix"):
        ln.Artifact(pd.DataFrame({"a": [1]}), key="a.parquet", suffix=suffix)
    assert count_artifacts(sqlite_instance) == 0
    assert list(staging_dir().iterdir()) == []  # the refused artifact left no staging file


def test_artifact_suffix_keyword_in_the_format_names_the_stored_file(instance, tmp_path):
    source = tmp_path / "reads"
    source.write_text("@r\nA\n+\nI\n")
    artifact = ln.Artifact(source, key="raw/reads.fastq", suffix=".fastq").save()
    assert artifact.suffix == ".fastq"
    assert Path(artifact.path).name == f"{artifact.uid}.fastq"
    assert Path(artifact.cache()).read_text() == "@r\nA\n+\nI\n"


@pytest.mark.parametrize("field", ["hash", "size", "hash_type", "n_files", "key_is_virtual"])
def test_artifact_content_fields_cannot_be_passed(sqlite_instance, tmp_path, field):
    source = tmp_path / "f.txt"
    source.write_text("hello")
    with pytest.raises(ln.ValidationError, match=f"{field}.*computed from the content"):
        ln.Artifact(source, key="a.txt", **{field: 1})
    assert count_artifacts(sqlite_instance) == 0


def test_every_registry_refuses_a_uid_outside_its_format():
    registries = [
        mapper.class_ for mapper in Record.registry.mappers if issubclass(mapper.class_, Record)
    ]
    assert {"Artifact", "ULabel", "Transform", "Run", "Storage", "User"} <= {
        r.__name__ for r in registries
    }
    for registry in registries:
        record = registry.__mapper__.class_manager.new_instance()
        length = registry._full_uid_length()
        with pytest.raises(ln.ValidationError, match=f"{registry.__name__}.*{length} base62"):
            record.uid = "../" + "a" * (length - 3)
        with pytest.raises(ln.ValidationError, match="uid"):
            record.uid = "a" * (length + 1)
        record.uid = "a" * length  # the format itself is accepted


@pytest.mark.parametrize(
    "make",
    [
        lambda: ln.ULabel(name="x", uid="../../x"),
        lambda: ln.Feature(name="x", dtype="str", uid="../../x0000"),
        lambda: ln.Transform(key="x", uid="../../x/aaaa0000"),
        lambda: ln.Run(uid="../" * 6 + "aa"),
        lambda: ln.User(handle="x", uid="/etc/pwd"),
    ],
    ids=["ULabel", "Feature", "Transform", "Run", "User"],
)
def test_constructor_keyword_uid_is_validated_for_every_registry(sqlite_instance, make):
    with pytest.raises(ln.ValidationError, match="uid"):
        make()


def test_track_refuses_a_transform_uid_outside_the_format(sqlite_instance):
    with pytest.raises(ln.ValidationError, match="uid"):
        ln.track("../../../etc/x0000", key="x.py")
