"""Parents and children of hierarchical registries: Record, ULabel and the ontology registries.

``record.parents`` holds the direct parents only; an ontology user asks for every ancestor (all
the cell types a "CD8-positive T cell" is a kind of) or every descendant. `HasParents` gives
these registries `query_parents`, `query_children` (transitive, as a QuerySet) and
`view_parents` (a drawing, made by the lineage layer). `walk_hierarchy` reads the parent link
table one level per statement, so a deep ontology costs its depth in statements, not its size.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import sqlalchemy as sa

from lamin_core.binding import above
from lamin_core.errors import ValidationError
from lamin_core.models.branches import MAIN_BRANCH, has_branch

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from lamin_core.instance import Instance
    from lamin_core.query import QuerySet

__all__ = ["HasParents", "parent_links", "walk_hierarchy"]

Direction = Literal["parents", "children"]


def parent_links(registry: type) -> sa.Table:
    """Return the link table of `registry`'s parents (columns ``child_id``, ``parent_id``).

    Raises:
        ValidationError: the registry has no parents relation.
    """
    relation = getattr(registry, "parents", None)
    secondary = getattr(getattr(relation, "property", None), "secondary", None)
    if not isinstance(secondary, sa.Table):
        raise ValidationError(
            f"{registry.__name__} records have no parents or children; hierarchies exist on "
            "Record, ULabel and the ontology registries (CellType, Tissue, Disease, ...)."
        )
    return secondary


def walk_hierarchy(
    session: Session,
    registry: type,
    start: Iterable[int],
    direction: Direction,
    *,
    depth: int | None = None,
) -> list[tuple[int, int]]:
    """Return the (parent id, child id) links met walking from `start` towards `direction`.

    Args:
        session: The session to read with.
        registry: A registry with a parents relation.
        start: The ids to walk from.
        direction: ``"parents"`` walks up to the ancestors, ``"children"`` down.
        depth: At most this many levels (None: all of them). A cycle is walked once.

    Returns:
        The links, nearest level first; each link once.
    """
    links = parent_links(registry)
    here, there = (
        (links.c.child_id, links.c.parent_id)
        if direction == "parents"
        else (links.c.parent_id, links.c.child_id)
    )
    frontier, seen = set(start), set(start)
    found: list[tuple[int, int]] = []
    level = 0
    while frontier and (depth is None or level < depth):
        statement = sa.select(here, there).where(here.in_(sorted(frontier)))
        rows = sorted((int(a), int(b)) for a, b in session.execute(statement))
        for near, far in rows:
            found.append((far, near) if direction == "parents" else (near, far))
        frontier = {far for _near, far in rows} - seen
        seen |= frontier
        level += 1
    return found


class HasParents:
    """`query_parents`, `query_children` and `view_parents` of a hierarchical registry.

    Examples:
        >>> t_cell = bt.CellType.from_source(name="T cell").save()
        >>> t_cell.query_parents().list("name")[:3]
        ['lymphocyte', 'leukocyte', 'cell']
        >>> t_cell.view_parents(distance=2)
    """

    if TYPE_CHECKING:
        id: int

        def _instance(self) -> Instance: ...

    def _relatives(self, direction: Direction) -> QuerySet[Any]:
        registry = type(self)
        parent_links(registry)
        if self.id is None:
            raise ValidationError(
                f"Cannot query the {direction} of an unsaved {registry.__name__}: save() it "
                "first (its links are stored with its id)."
            )
        with self._instance().reading() as session:
            links = walk_hierarchy(session, registry, [self.id], direction)
        index = 0 if direction == "parents" else 1
        ids = {link[index] for link in links} - {self.id}
        found = above.queryset(registry).filter(id__in=sorted(ids))
        # a trashed relative is left out; its own relatives are still reached through its links
        return found.filter(branch_id=MAIN_BRANCH) if has_branch(registry) else found

    def query_parents(self) -> QuerySet[Any]:
        """Return every ancestor (parents, their parents, ...) as a QuerySet.

        Records in the trash or the archive are left out; the links through them still count
        (a trashed parent's parents are still ancestors).

        Raises:
            ValidationError: the record is not saved.
        """
        return self._relatives("parents")

    def query_children(self) -> QuerySet[Any]:
        """Return every descendant (children, their children, ...) as a QuerySet.

        Raises:
            ValidationError: the record is not saved.
        """
        return self._relatives("children")

    def view_parents(
        self,
        field: Any = None,
        *,
        with_children: bool = False,
        distance: int = 5,
        path: str | Path | None = None,
    ) -> Path | None:
        """Draw the ancestors of this record (and its descendants with `with_children`).

        Drawn as `Artifact.view_lineage` draws: inline in a notebook, else to an SVG file
        whose path is printed (graphviz is used when installed, never the network).

        Args:
            field: The field to label the records with (``ln.Record.name`` or ``"name"``);
                default: the registry's name field.
            with_children: Also draw the descendants.
            distance: How many levels to draw in each direction (at least 1).
            path: Save the drawing here; its suffix picks the format (.svg, .dot; with
                graphviz also .png, .pdf).

        Returns:
            The file written, or None when a notebook showed the drawing inline.

        Raises:
            ValidationError: the record is not saved, `distance` is not a positive integer,
                or the format needs graphviz, which is missing.
            FieldError: `field` is not a field of the registry.
        """
        return above.view_parents(
            self, field=field, with_children=with_children, distance=distance, path=path
        )
