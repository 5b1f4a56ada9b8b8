"""What work belongs to and rests on: Project, Reference and their links (LaminDB 2.x).

A project groups the artifacts, transforms, collections and runs made for it; a reference is a
publication, preprint or web page they cite or derive from. Both are linked through plain link
tables, so the generic relation code (related managers, ``filter(projects__name=...)``, ``df``
includes, ``describe()``) serves them without special cases.

Examples:
    >>> project = ln.Project(name="Atlas", abbr="ATL").save()
    >>> artifact.projects.add(project)
    >>> ln.Artifact.filter(projects__name="Atlas").df()
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, backref, mapped_column, relationship

from lamin_core.errors import ValidationError
from lamin_core.models.annotation import run_column
from lamin_core.models.artifact import Artifact, Collection, link_table
from lamin_core.models.base import Record, created_at_column, created_by_column
from lamin_core.models.can_curate import CanCurate
from lamin_core.models.provenance import Run, Transform
from lamin_core.models.record_types import validate_type

__all__ = ["LINKED_REGISTRIES", "Project", "Reference", "check_url", "link_table"]

# the registries projects, references and records link to, by table name
LINKED_REGISTRIES: dict[str, Any] = {
    "artifact": Artifact,
    "transform": Transform,
    "collection": Collection,
    "run": Run,
}

# a DOI: the directory "10.", a registrant code of digits, "/", a suffix without spaces
_DOI = re.compile(r"^10\.\d{4,9}(\.\d+)*/\S+$")
_URL = re.compile(r"^https?://[^\s/?#]+\.[^\s/?#]+(?:[/?#]\S*)?$", re.IGNORECASE)


def parent_table(table: str) -> sa.Table:
    """Return the table of parent links between records of one registry (a DAG)."""
    return sa.Table(
        f"{table}_parent",
        Record.metadata,
        sa.Column("child_id", ForeignKey(f"{table}.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("parent_id", ForeignKey(f"{table}.id", ondelete="CASCADE"), primary_key=True),
        sa.Index(f"ix_{table}_parent_parent_id", "parent_id"),
    )


def check_url(registry: str, value: Any) -> Any:
    """Return `value` if it is None or an http(s) URL with a host.

    Raises:
        ValidationError: the value is not such a URL.
    """
    if value is None or (isinstance(value, str) and _URL.match(value)):
        return value
    raise ValidationError(
        f"Invalid url {value!r} for {registry}: a url starts with http:// or https:// and names "
        "a host, e.g. 'https://lamin.ai/docs'."
    )


def link_registries(target: Any, *, with_feature: bool = False) -> None:
    """Link `target` records to artifacts, transforms, collections and runs, both ways.

    Gives ``target.artifacts`` (and ``.transforms``, ``.collections``, ``.runs``) and
    ``artifact.<target table>s``. A link with a feature (records as labels, like ulabels) is
    written through the related manager only, as ``artifact.ulabels`` is.
    """
    table = target.__tablename__
    for owner, registry in LINKED_REGISTRIES.items():
        has_feature = with_feature and owner == "artifact"
        links = link_table(owner, table, with_feature=has_feature)
        relation = relationship(
            registry,
            secondary=links,
            viewonly=has_feature,
            backref=backref(f"{table}s", viewonly=has_feature),
        )
        setattr(target, f"{owner}s", relation)


project_parent = parent_table("project")


class Project(CanCurate, Record):
    """A project: what artifacts, transforms, collections and runs were made for.

    Examples:
        >>> project = ln.Project(name="Atlas", abbr="ATL", url="https://atlas.org").save()
        >>> artifact.projects.add(project)
        >>> ln.Project.filter(artifacts__key="raw/a.csv").df()
    """

    __tablename__ = "project"
    _has_branch = True
    _natural_keys = (("name",),)
    _uid_length = 12
    _search_fields = ("name", "abbr", "description")

    name: Mapped[str] = mapped_column(String(255), index=True)
    is_type: Mapped[bool] = mapped_column(Boolean, default=False)
    type_id: Mapped[int | None] = mapped_column(ForeignKey("project.id"), index=True)
    abbr: Mapped[str | None] = mapped_column(String(32), index=True)
    url: Mapped[str | None] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    start_date: Mapped[dt.date | None] = mapped_column(Date)
    end_date: Mapped[dt.date | None] = mapped_column(Date)
    run_id: Mapped[int | None] = run_column()
    created_at: Mapped[dt.datetime] = created_at_column()
    created_by_id: Mapped[int | None] = created_by_column()

    type: Mapped[Project | None] = relationship(
        remote_side="Project.id", foreign_keys=[type_id], back_populates="projects"
    )
    projects: Mapped[list[Project]] = relationship(
        back_populates="type", foreign_keys=[type_id], passive_deletes="all"
    )
    parents: Mapped[list[Project]] = relationship(
        secondary=project_parent,
        primaryjoin="Project.id == project_parent.c.child_id",
        secondaryjoin="Project.id == project_parent.c.parent_id",
        back_populates="children",
    )
    children: Mapped[list[Project]] = relationship(
        secondary=project_parent,
        primaryjoin="Project.id == project_parent.c.parent_id",
        secondaryjoin="Project.id == project_parent.c.child_id",
        back_populates="parents",
    )

    @sa.orm.validates("type")
    def _validate_type(self, name: str, value: Any) -> Any:
        return validate_type(self, value)

    @sa.orm.validates("url")
    def _validate_url(self, name: str, value: Any) -> Any:
        return check_url("Project", value)

    @sa.orm.validates("end_date")
    def _validate_end_date(self, name: str, value: Any) -> Any:
        start = self.start_date
        if isinstance(value, dt.date) and isinstance(start, dt.date) and value < start:
            raise ValidationError(
                f"Project {self.name!r} cannot end ({value}) before it starts "
                f"({start}); swap or correct the dates."
            )
        return value


class Reference(CanCurate, Record):
    """A publication, preprint or web page: what artifacts and transforms cite or rest on.

    `doi` is a bare DOI (``10.1038/s41586-020-2649-2``), `url` an http(s) address, `pubmed_id`
    a PubMed number.

    Examples:
        >>> paper = ln.Reference(name="Tabula Sapiens", doi="10.1126/science.abl4896").save()
        >>> artifact.references.add(paper)
        >>> ln.Artifact.filter(references__doi="10.1126/science.abl4896").df()
    """

    __tablename__ = "reference"
    _has_branch = True
    _natural_keys = (("name",),)
    _uid_length = 12
    _search_fields = ("name", "abbr", "doi", "description", "text")

    name: Mapped[str] = mapped_column(String(255), index=True)
    is_type: Mapped[bool] = mapped_column(Boolean, default=False)
    type_id: Mapped[int | None] = mapped_column(ForeignKey("reference.id"), index=True)
    abbr: Mapped[str | None] = mapped_column(String(32), index=True)
    url: Mapped[str | None] = mapped_column(String(255))
    pubmed_id: Mapped[int | None] = mapped_column(Integer, index=True)
    doi: Mapped[str | None] = mapped_column(String(255), index=True)
    description: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str | None] = mapped_column(Text)
    date: Mapped[dt.date | None] = mapped_column(Date)
    run_id: Mapped[int | None] = run_column()
    created_at: Mapped[dt.datetime] = created_at_column()
    created_by_id: Mapped[int | None] = created_by_column()

    type: Mapped[Reference | None] = relationship(
        remote_side="Reference.id", foreign_keys=[type_id], back_populates="references"
    )
    references: Mapped[list[Reference]] = relationship(
        back_populates="type", foreign_keys=[type_id], passive_deletes="all"
    )

    @sa.orm.validates("type")
    def _validate_type(self, name: str, value: Any) -> Any:
        return validate_type(self, value)

    @sa.orm.validates("url")
    def _validate_url(self, name: str, value: Any) -> Any:
        return check_url("Reference", value)

    @sa.orm.validates("doi")
    def _validate_doi(self, name: str, value: Any) -> Any:
        if value is None or (isinstance(value, str) and _DOI.match(value)):
            return value
        hint = ""
        if isinstance(value, str) and "10." in value and not value.startswith("10."):
            hint = f" Write the DOI alone: {value[value.index('10.') :]!r}."
        raise ValidationError(
            f"Invalid doi {value!r} for Reference: a DOI is '10.', a registrant number, '/' and "
            f"a suffix without spaces, e.g. '10.1038/s41586-020-2649-2'.{hint}"
        )

    @sa.orm.validates("pubmed_id")
    def _validate_pubmed_id(self, name: str, value: Any) -> Any:
        if value is None or (isinstance(value, int) and not isinstance(value, bool) and value > 0):
            return value
        raise ValidationError(
            f"Invalid pubmed_id {value!r} for Reference: a PubMed id is a positive integer, "
            "e.g. 35549404."
        )


link_registries(Project)
link_registries(Reference)
