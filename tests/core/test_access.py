"""Access control: read-only and write roles, spaces and row-level security, `lamin-core grant`.

The PostgreSQL tests create real roles on the local server (unique names, dropped at the end,
also when a test fails). The catalog is created by the `postgres` superuser, its owner, which
bypasses row-level security as table owners do; the roles connect as users of the catalog.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import psycopg
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql as psql

import lamin_core as ln
import lamin_core.bio as bt
from lamin_core.cli import main as cli
from lamin_core.instance.access import grant_statements
from tests.conftest import POSTGRES_URL


class Roles:
    """Creates login roles with unique names; drops every one of them at the end."""

    def __init__(self, postgres_url: str) -> None:
        self.postgres_url = postgres_url
        self.created: list[str] = []

    def create(
        self, prefix: str = "lamin_role", *, name: str | None = None, login: bool = True
    ) -> str:
        role = name or f"{prefix}_{uuid.uuid4().hex[:10]}"
        admin_execute(
            psql.SQL("CREATE ROLE {} " + ("LOGIN" if login else "NOLOGIN")).format(
                psql.Identifier(role)
            )
        )
        self.created.append(role)
        return role

    def url(self, role: str) -> str:
        return self.postgres_url.replace("postgresql://postgres@", f"postgresql://{role}@")

    def connect(self, role: str, storage: Path, user: str | None = None) -> ln.Instance:
        return ln.connect(self.url(role), storage=storage, user=user or role, activate=False)

    def drop_all(self) -> None:
        for role in reversed(self.created):
            admin_execute(psql.SQL("DROP OWNED BY {}").format(psql.Identifier(role)))
            admin_execute(psql.SQL("DROP ROLE {}").format(psql.Identifier(role)))


def admin_execute(statement: psql.Composable | str) -> None:
    with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
        connection.execute(statement)  # type: ignore[arg-type]


@pytest.fixture
def roles(postgres_url: str) -> Iterator[Roles]:
    made = Roles(postgres_url)
    try:
        yield made
    finally:
        made.drop_all()


@pytest.fixture
def owner(tmp_path: Path, postgres_url: str) -> Iterator[ln.Instance]:
    """A PostgreSQL catalog created by its owner, with a label, a feature and an artifact."""
    instance = ln.init(storage=tmp_path / "catalog", db=postgres_url, user="owner")
    ln.ULabel(name="public label").save()
    ln.Feature(name="temperature", dtype="float").save()
    artifact = ln.Artifact.from_df(pd.DataFrame({"x": [1, 2]}), key="tables/x.parquet").save()
    artifact.labels.add(ln.ULabel.get(name="public label"))
    artifact.features.add_values({"temperature": 21.5})
    yield instance
    instance.close()


def grant_cli(postgres_url: str, *args: str) -> int:
    return cli(["grant", "--db", postgres_url, *args])


def table_counts(instance: ln.Instance) -> dict[str, int]:
    """Count the rows of every catalog table, as the owner (row-level security bypassed)."""
    with instance.engine.connect() as connection:
        return {
            name: connection.execute(sa.text(f'SELECT count(*) FROM "{name}"')).scalar_one()
            for name in sa.inspect(connection).get_table_names()
        }


def stored_files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


# --- read-only roles ----------------------------------------------------------------------------


def test_grant_read_only_prints_grants_and_the_role_reads_everything(
    owner: ln.Instance, roles: Roles, postgres_url: str, capsys
):
    reader = roles.create("lamin_reader")
    assert grant_cli(postgres_url, "--read-only", reader) == 0
    printed = capsys.readouterr().out
    assert "GRANT USAGE ON SCHEMA" in printed and f'TO "{reader}";' in printed
    assert "GRANT SELECT ON TABLE" in printed and '"artifact"' in printed
    assert "GRANT INSERT" not in printed
    instance = roles.connect(reader, Path(owner.storage_root), user="a-new-reader")
    with instance.activate():
        assert instance.access.is_read_only
        assert ln.ULabel.get(name="public label").name == "public label"
        assert ln.ULabel.search("publik label").df()["name"].iloc[0] == "public label"
        df = ln.Artifact.df(include=["ulabels__name", "created_by__handle"], features=True)
        assert df["ulabels__name"].iloc[0] == {"public label"}
        assert df["created_by__handle"].iloc[0] == "owner"
        assert df["temperature"].iloc[0] == {21.5}
        artifact = ln.Artifact.filter(key="tables/x.parquet").one()
        assert artifact.load()["x"].tolist() == [1, 2]
        # connecting registered no user: the role may not insert one, and reads need none
        assert ln.User.filter(handle="a-new-reader").count() == 0
    instance.close()


WRITES: dict[str, Callable[[], object]] = {
    "Record.save": lambda: ln.ULabel(name="new label").save(),
    "Record.save (update)": lambda: _renamed(ln.ULabel.get(name="public label")).save(),
    "Record.delete": lambda: ln.ULabel.get(name="public label").delete(permanent=True),
    "from_values().save()": lambda: ln.ULabel.from_values(["a", "b"], create=True).save(),
    "Feature.save": lambda: ln.Feature(name="pressure", dtype="float").save(),
    "Artifact.from_df().save()": lambda: ln.Artifact.from_df(
        pd.DataFrame({"y": [3]}), key="tables/y.parquet"
    ).save(),
    "Artifact.save (new version)": lambda: ln.Artifact.from_df(
        pd.DataFrame({"x": [9]}), key="tables/x.parquet"
    ).save(),
    "Artifact.delete": lambda: ln.Artifact.get(key="tables/x.parquet").delete(permanent=True),
    "Collection.save": lambda: ln.Collection(
        [ln.Artifact.get(key="tables/x.parquet")], key="collections/c"
    ).save(),
    "features.add_values": lambda: ln.Artifact.get(key="tables/x.parquet").features.add_values(
        {"temperature": 30.0}
    ),
    "features.remove_values": lambda: ln.Artifact.get(
        key="tables/x.parquet"
    ).features.remove_values("temperature"),
    "labels.add": lambda: ln.Artifact.get(key="tables/x.parquet").labels.add(
        ln.ULabel.get(name="public label")
    ),
    "bio save": lambda: bt.CellType(name="made-up cell", ontology_id="CL:9999999").save(),
    "track()": lambda: ln.track(key="analysis.py"),
    "session.add + commit": lambda: _session_add(ln.ULabel(name="slipped through")),
    "session.execute(insert)": lambda: _session_execute(
        sa.insert(ln.ULabel.__table__).values(uid="zzzzzzzz", name="raw insert")
    ),
}


def _renamed(label: ln.ULabel) -> ln.ULabel:
    label.name = "renamed"
    return label


def _session_add(record: ln.ULabel) -> None:
    session = ln.get_instance().session
    session.add(record)
    try:
        session.commit()
    finally:
        session.rollback()


def _session_execute(statement: sa.Executable) -> None:
    session = ln.get_instance().session
    try:
        session.execute(statement)
        session.commit()
    finally:
        session.rollback()


def test_read_only_role_every_write_is_refused_before_anything_is_written(
    owner: ln.Instance, roles: Roles, postgres_url: str
):
    reader = roles.create("lamin_reader")
    assert grant_cli(postgres_url, "--read-only", reader) == 0
    counts, files = table_counts(owner), stored_files(Path(owner.storage_root))
    instance = roles.connect(reader, Path(owner.storage_root))
    for path, write in WRITES.items():
        with instance.activate(), pytest.raises(ln.NoWriteAccess) as info:
            write()
        message = str(info.value)
        assert f"read-only for role {reader!r}" in message, path
        assert f"lamin-core grant --write {reader}" in message, path
        assert "nothing was written" in message, path
        assert table_counts(owner) == counts, path
        assert stored_files(Path(owner.storage_root)) == files, path
    instance.close()


def test_read_only_grant_takes_back_write_access(
    owner: ln.Instance, roles: Roles, postgres_url: str
):
    role = roles.create()
    assert grant_cli(postgres_url, "--write", role) == 0
    writer = roles.connect(role, Path(owner.storage_root))
    with writer.activate():
        ln.ULabel(name="while allowed").save()
    writer.close()
    assert grant_cli(postgres_url, "--read-only", role) == 0
    reader = roles.connect(role, Path(owner.storage_root))
    with reader.activate():
        with pytest.raises(ln.NoWriteAccess, match="read-only"):
            ln.ULabel(name="after revoke").save()
        assert ln.ULabel.get(name="while allowed").name == "while allowed"
    reader.close()


def test_write_role_writes_everything_but_spaces(
    owner: ln.Instance, roles: Roles, postgres_url: str, capsys
):
    role = roles.create("lamin_writer")
    assert grant_cli(postgres_url, "--write", role) == 0
    printed = capsys.readouterr().out
    assert "GRANT INSERT, UPDATE, DELETE ON TABLE" in printed and "SEQUENCE" in printed
    writer = roles.connect(role, Path(owner.storage_root), user="writer")
    with writer.activate():
        assert not writer.access.is_read_only
        ln.track(key="analysis.py")
        artifact = ln.Artifact.from_df(pd.DataFrame({"z": [1]}), key="tables/z.parquet").save()
        artifact.features.add_values({"temperature": 4.0})
        ln.finish()
        assert artifact.created_by.handle == "writer" and artifact.run is not None
        with pytest.raises(ln.NoWriteAccess, match=r"no INSERT privilege on table 'space'"):
            ln.Space(name="my own space").save()
    writer.close()


def test_role_without_any_grant_gets_the_fix(owner: ln.Instance, roles: Roles, tmp_path: Path):
    stranger = roles.create("lamin_stranger")
    with pytest.raises(ln.InstanceError, match=r"lamin-core grant --read-only"):
        roles.connect(stranger, Path(owner.storage_root))


# --- spaces -------------------------------------------------------------------------------------


@pytest.fixture
def two_spaces(owner: ln.Instance, roles: Roles, postgres_url: str) -> dict[str, object]:
    """Spaces A and B with one writer role each, and records in "all", A and B."""
    space_a = ln.Space(name="A").save()
    space_b = ln.Space(name="B").save()
    role_a, role_b = roles.create("lamin_a"), roles.create("lamin_b")
    for role, space in [(role_a, "A"), (role_b, "B")]:
        assert grant_cli(postgres_url, "--write", "--space", space, role) == 0
    for space in (space_a, space_b):
        label = ln.ULabel(name=f"secret study {space.name}", space=space).save()
        artifact = ln.Artifact.from_df(
            pd.DataFrame({"space": [space.name]}), key=f"spaces/{space.name}.parquet", space=space
        ).save()
        artifact.labels.add([label, ln.ULabel.get(name="public label")])
    return {"A": role_a, "B": role_b, "spaces": {"A": space_a, "B": space_b}}


@pytest.mark.parametrize(("mine", "other"), [("A", "B"), ("B", "A")])
def test_role_sees_only_all_and_its_space(
    owner: ln.Instance, roles: Roles, two_spaces: dict, mine: str, other: str
):
    instance = roles.connect(two_spaces[mine], Path(owner.storage_root))
    with instance.activate():
        labels = set(ln.ULabel.filter().list("name"))
        assert labels == {"public label", f"secret study {mine}"}
        assert ln.ULabel.filter(name__startswith="secret").count() == 1
        found = ln.ULabel.search("secret study").df()["name"].tolist()
        assert found == [f"secret study {mine}"]
        assert ln.ULabel.search(f"secret study {other}").df()["name"].tolist() == [
            f"secret study {mine}"
        ]  # the other space's exact match is not even a candidate
        df = ln.Artifact.filter(key__startswith="spaces/").df(include=["ulabels__name"])
        assert df["key"].tolist() == [f"spaces/{mine}.parquet"]
        assert df["ulabels__name"].iloc[0] == {"public label", f"secret study {mine}"}
        overview = ln.Artifact.df(include=["ulabels__name"])
        assert f"spaces/{other}.parquet" not in set(overview["key"])
        with pytest.raises(ln.DoesNotExist):
            ln.ULabel.get(name=f"secret study {other}")
        with pytest.raises(ln.DoesNotExist):  # nor load: its row cannot be reached
            ln.Artifact.get(key=f"spaces/{other}.parquet")
        mine_artifact = ln.Artifact.get(key=f"spaces/{mine}.parquet")
        assert mine_artifact.load()["space"].tolist() == [mine]
        public = ln.ULabel.get(name="public label")
        assert {a.key for a in ln.Artifact.filter(ulabels=public)} == {
            "tables/x.parquet",
            f"spaces/{mine}.parquet",
        }
    instance.close()


def test_write_into_another_space_is_refused(
    owner: ln.Instance, roles: Roles, two_spaces: dict, postgres_url: str
):
    instance = roles.connect(two_spaces["A"], Path(owner.storage_root))
    counts, files = table_counts(owner), stored_files(Path(owner.storage_root))
    with instance.activate():
        space_b = ln.Space.get(name="B")  # spaces themselves are visible to all
        with pytest.raises(ln.NoWriteAccess) as info:
            ln.ULabel(name="planted", space=space_b).save()
        assert f"role {two_spaces['A']!r} has no access to the space 'B'" in str(info.value)
        assert f"lamin-core grant --space B {two_spaces['A']}" in str(info.value)
        assert "'all', 'A'" in str(info.value)
        with pytest.raises(ln.NoWriteAccess, match="space 'B'"):
            ln.Artifact.from_df(
                pd.DataFrame({"p": [1]}), key="planted.parquet", space=space_b
            ).save()
        moved = ln.ULabel.get(name="public label")
        moved.space = space_b
        with pytest.raises(ln.NoWriteAccess, match="space 'B'"):
            moved.save()
        instance.session.rollback()
        own = ln.ULabel(name="in my space", space=ln.Space.get(name="A")).save()
        assert own.space.name == "A"
    assert table_counts(owner)["ulabel"] == counts["ulabel"] + 1
    assert stored_files(Path(owner.storage_root)) == files
    instance.close()
    # the database refuses it too, without lamin-core's checks in the way
    url = roles.url(two_spaces["A"]).replace("postgresql://", "postgresql+psycopg://")
    engine = sa.create_engine(url)
    with (
        pytest.raises(sa.exc.ProgrammingError, match="row-level security"),
        engine.begin() as connection,
    ):
        connection.execute(
            sa.text(
                "INSERT INTO ulabel (uid, name, is_type, created_at, space_id) VALUES "
                "('plantedx', 'planted', false, now(), :b)"
            ),
            {"b": two_spaces["spaces"]["B"].id},
        )
    engine.dispose()


def test_space_granted_after_connect_is_used_without_reconnecting(
    owner: ln.Instance, roles: Roles, two_spaces: dict, postgres_url: str
):
    instance = roles.connect(two_spaces["A"], Path(owner.storage_root))
    assert grant_cli(postgres_url, "--space", "B", two_spaces["A"]) == 0
    with instance.activate():
        ln.ULabel(name="now allowed", space=ln.Space.get(name="B")).save()
        assert ln.ULabel.get(name="secret study B").space.name == "B"
    instance.close()


def test_space_granted_to_a_group_role_reaches_its_members(
    owner: ln.Instance, roles: Roles, two_spaces: dict, postgres_url: str
):
    group = roles.create("lamin_group", login=False)
    member = roles.create("lamin_member")
    admin_execute(
        psql.SQL("GRANT {} TO {}").format(psql.Identifier(group), psql.Identifier(member))
    )
    assert grant_cli(postgres_url, "--read-only", "--space", "B", group) == 0
    instance = roles.connect(member, Path(owner.storage_root))
    with instance.activate():
        assert ln.ULabel.get(name="secret study B").name == "secret study B"
        with pytest.raises(ln.DoesNotExist):
            ln.ULabel.get(name="secret study A")
    instance.close()


def test_owner_sees_every_space(owner: ln.Instance, two_spaces: dict):
    names = set(ln.ULabel.filter(name__startswith="secret").list("name"))
    assert names == {"secret study A", "secret study B"}
    assert ln.ULabel.filter(space__name="B").one().name == "secret study B"


def test_grant_names_unknown_spaces_and_roles(
    owner: ln.Instance, roles: Roles, postgres_url: str, capsys
):
    role = roles.create()
    ln.Space(name="team-a").save()
    assert grant_cli(postgres_url, "--space", "team-b", role) == 2
    err = capsys.readouterr().err
    assert "No space 'team-b'" in err and "all, team-a" in err
    assert grant_cli(postgres_url, "--read-only", "no_such_role_x") == 2
    assert "No database role 'no_such_role_x'" in capsys.readouterr().err
    assert cli(["grant", "--db", postgres_url, role]) == 2
    assert "--read-only, --write, or --space" in capsys.readouterr().err


# unusual but legal role names: quotes, spaces, upper case, non-ASCII; never SQL
ROLE_NAMES = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\x00"),
    min_size=1,
    max_size=20,
).map(lambda text: f"lamin_h_{uuid.uuid4().hex[:6]}_{text}"[:63].rstrip())


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=ROLE_NAMES)
def test_grant_quotes_any_role_name(owner: ln.Instance, roles: Roles, postgres_url: str, name: str):
    if len(name.encode()) > 63:
        name = name.encode()[:63].decode(errors="ignore")
    role = roles.create(name=name)
    assert grant_cli(postgres_url, "--read-only", role) == 0
    with owner.engine.connect() as connection:
        can = connection.execute(
            sa.text(
                "SELECT has_table_privilege(:r, 'artifact', 'SELECT'), "
                "has_table_privilege(:r, 'artifact', 'INSERT')"
            ),
            {"r": role},
        ).one()
    assert tuple(can) == (True, False)


SPACE_NAMES = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40
).filter(lambda text: text.strip() == text and text != "all")


@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=SPACE_NAMES)
def test_grant_space_with_any_name(owner: ln.Instance, roles: Roles, postgres_url: str, name: str):
    space = ln.Space.filter(name=name).one_or_none() or ln.Space(name=name).save()
    role = roles.create()
    assert grant_cli(postgres_url, "--read-only", "--space", name, role) == 0
    with owner.engine.connect() as connection:
        granted = connection.execute(
            sa.text("SELECT space_id FROM space_access WHERE role = :r"), {"r": role}
        ).scalars()
        assert list(granted) == [space.id]
    assert ln.Space.filter().count() >= 2  # nothing was dropped or rewritten by the name


def test_grant_statements_for_both_levels():
    read = grant_statements("ro", "read-only", schema="lab", tables=["artifact", "space"])
    assert read[:2] == [
        'GRANT USAGE ON SCHEMA "lab" TO "ro"',
        'GRANT SELECT ON TABLE "lab"."artifact", "lab"."space" TO "ro"',
    ]
    assert not any(s.startswith("GRANT INSERT") for s in read)
    write = grant_statements(
        "rw",
        "write",
        schema="lab",
        tables=["artifact", "space"],
        sequences=['"lab"."artifact_id_seq"'],
    )
    assert 'GRANT INSERT, UPDATE, DELETE ON TABLE "lab"."artifact" TO "rw"' in write
    assert 'GRANT USAGE, SELECT ON SEQUENCE "lab"."artifact_id_seq" TO "rw"' in write
    with pytest.raises(ln.ValidationError, match="Levels: read-only, write"):
        grant_statements("rw", "admin", schema="lab", tables=["artifact"])


def test_grant_on_sqlite_says_roles_are_postgresql_only(tmp_path: Path, capsys):
    ln.init(storage=tmp_path / "catalog").close()
    url = f"sqlite:///{tmp_path / 'catalog' / '.lamindb' / 'lamin.db'}"
    assert cli(["grant", "--db", url, "--read-only", "someone"]) == 2
    assert "roles exist on PostgreSQL only" in capsys.readouterr().err
