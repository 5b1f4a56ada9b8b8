"""Walk the catalog from an artifact or a run into a `LineageGraph`, a level at a time.

Upstream, each level is one statement: the inputs of the level's runs, each with the run and
transform that produced it (the next level's runs). Downstream, likewise: the runs that read the
level's artifacts, with their transforms and outputs (the next level's artifacts). So a walk
costs a few statements per level crossed, however many nodes a level holds; ids are sent in
chunks of `CHUNK` so that a very wide level stays under the databases' parameter limits.

A level is a run crossed: with ``depth=1`` an artifact's graph holds the run that made it and
that run's inputs (upstream), and the runs that read it with their outputs (downstream).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from lamin_core.errors import ValidationError
from lamin_core.lineage.graph import LineageGraph, artifact_node, run_node
from lamin_core.models import Artifact, Collection, Run, Transform
from lamin_core.models.provenance import run_input_artifact

__all__ = ["CHUNK", "check_arguments", "chunks", "walk"]

CHUNK = 1000
link = run_input_artifact.c


def chunks(ids: Sequence[int]) -> Iterator[list[int]]:
    """Yield `ids` in lists of at most `CHUNK`."""
    for index in range(0, len(ids), CHUNK):
        yield list(ids[index : index + CHUNK])


class _Walk:
    """One walk: the graph being filled and the edges already in it."""

    def __init__(self, session: Session, graph: LineageGraph, depth: int | None) -> None:
        self.session = session
        self.graph = graph
        self.depth = depth
        self.edges: set[tuple[str, str]] = set()

    def within(self, level: int) -> bool:
        return self.depth is None or level <= self.depth

    def edge(self, upstream: str, downstream: str) -> None:
        if (upstream, downstream) not in self.edges:
            self.edges.add((upstream, downstream))
            self.graph.edges.append((upstream, downstream))

    def rows(self, statement: Any, column: Any, ids: Iterable[int]) -> Iterator[Any]:
        """Run `statement` restricted to ``column IN ids``, a chunk of ids at a time."""
        for chunk in chunks(sorted(set(ids))):
            yield from self.session.execute(statement.where(column.in_(chunk))).all()

    def upstream(self, runs: list[tuple[Run, Transform]]) -> None:
        """Add `runs` (level 1) and, level by level, their inputs and the runs behind those."""
        level, frontier = 1, []
        for run, transform in runs:
            if self.within(level):
                self.graph.add_run(run, transform)
                frontier.append(run)
        seen = {run.id for run in frontier}
        producer, producer_transform = aliased(Run), aliased(Transform)
        statement = (
            sa.select(link.run_id, Artifact, producer, producer_transform)
            .select_from(run_input_artifact)
            .join(Artifact, Artifact.id == link.artifact_id)
            .outerjoin(producer, producer.id == Artifact.run_id)
            .outerjoin(producer_transform, producer_transform.id == producer.transform_id)
            .order_by(Artifact.id)
        )
        while frontier:
            next_frontier: list[Run] = []
            for consumer_id, artifact, run, transform in self.rows(
                statement, link.run_id, (r.id for r in frontier)
            ):
                node = self.graph.add_artifact(artifact)
                self.edge(node, f"run:{consumer_id}")
                if run is None or not self.within(level + 1):
                    continue
                self.edge(self.graph.add_run(run, transform), node)
                if run.id not in seen:
                    seen.add(run.id)
                    next_frontier.append(run)
            frontier, level = next_frontier, level + 1

    def downstream(self, artifacts: list[Artifact], level: int) -> None:
        """Add, level by level, the runs that read `artifacts` and what those runs made."""
        consumer, consumer_transform, output = aliased(Run), aliased(Transform), aliased(Artifact)
        statement = (
            sa.select(link.artifact_id, consumer, consumer_transform, output)
            .select_from(run_input_artifact)
            .join(consumer, consumer.id == link.run_id)
            .join(consumer_transform, consumer_transform.id == consumer.transform_id)
            .outerjoin(output, output.run_id == consumer.id)
            .order_by(consumer.id, output.id)
        )
        seen = {artifact.id for artifact in artifacts}
        frontier = artifacts
        while frontier and self.within(level + 1):
            next_frontier: list[Artifact] = []
            for input_id, run, transform, artifact in self.rows(
                statement, link.artifact_id, (a.id for a in frontier)
            ):
                node = self.graph.add_run(run, transform)
                self.edge(f"artifact:{input_id}", node)
                if artifact is None:
                    continue
                self.edge(node, self.graph.add_artifact(artifact))
                if artifact.id not in seen:
                    seen.add(artifact.id)
                    next_frontier.append(artifact)
            frontier, level = next_frontier, level + 1


def check_arguments(record: Any, depth: Any) -> None:
    """Check what `lineage` was given before the catalog is asked.

    Raises:
        ValidationError: `record` is neither an Artifact nor a Run, or `depth` is no count.
    """
    if not isinstance(record, (Artifact, Collection, Run)):
        raise ValidationError(
            f"lineage() takes an Artifact, a Collection or a Run, got {type(record).__name__}: "
            f"{record!r}. For a transform, pass one of its runs (transform.runs)."
        )
    if depth is not None and (isinstance(depth, bool) or not isinstance(depth, int) or depth < 0):
        raise ValidationError(
            f"lineage(depth={depth!r}): depth is the number of runs to cross in each direction, "
            "an integer >= 0 (0: the record alone), or None for the whole lineage."
        )


def walk(
    session: Session,
    record: Artifact | Collection | Run,
    *,
    upstream: bool = True,
    downstream: bool = True,
    depth: int | None = None,
) -> LineageGraph:
    """Return the lineage graph around `record` (see `lamin_core.lineage.lineage`)."""
    check_arguments(record, depth)
    graph = LineageGraph(start=record)
    state = _Walk(session, graph, depth)
    if isinstance(record, Artifact):
        graph.target = graph.add_artifact(record)
        if upstream and record.run_id is not None:
            run = session.get(Run, record.run_id)
            if run is not None and state.within(1):
                state.upstream([(run, run.transform)])
                state.edge(run_node(run), graph.target)
        if downstream:
            state.downstream([record], 0)
    elif isinstance(record, Collection):
        graph.target = graph.add_collection(record)
        members = list(record.ordered_artifacts)
        for artifact in members:
            state.edge(graph.add_artifact(artifact), graph.target)
        if upstream and state.within(1):
            made = [(a, a.run) for a in members if a.run is not None]
            state.upstream([(run, run.transform) for _artifact, run in made])
            for artifact, run in made:
                state.edge(run_node(run), artifact_node(artifact))
        if downstream:
            state.downstream(members, 0)
    else:
        graph.target = graph.add_run(record, record.transform)
        if upstream:
            state.upstream([(record, record.transform)])
        if downstream:
            outputs = list(
                session.scalars(
                    sa.select(Artifact).where(Artifact.run_id == record.id).order_by(Artifact.id)
                )
            )
            if state.within(1):
                for artifact in outputs:
                    state.edge(graph.target, graph.add_artifact(artifact))
                state.downstream(outputs, 1)
    return graph
