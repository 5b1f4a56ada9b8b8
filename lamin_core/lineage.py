"""Lineage: the chain of runs, transforms and input artifacts behind an artifact."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lamin_core.models import Artifact


def lineage_edges(artifact: Artifact, *, max_depth: int = 20) -> list[tuple[str, str]]:
    """Return the (upstream, downstream) edges that lead to `artifact`, as display labels.

    Artifacts are labelled by key (or uid), runs by their transform's key.
    """
    edges: list[tuple[str, str]] = []
    seen: set[int] = set()
    frontier = [(artifact, 0)]
    while frontier:
        current, depth = frontier.pop()
        if current.id in seen or depth >= max_depth:
            continue
        seen.add(current.id)
        run = current.run
        if run is None:
            continue
        run_label = f"{run.transform.key} (run {run.uid[:8]})"
        edges.append((run_label, _label(current)))
        for upstream in run.input_artifacts:
            edges.append((_label(upstream), run_label))
            frontier.append((upstream, depth + 1))
    return edges


def _label(artifact: Artifact) -> str:
    return artifact.key or artifact.uid


def describe_lineage(artifact: Artifact) -> str:
    """Return the lineage of `artifact` as indented text, newest first."""
    edges = lineage_edges(artifact)
    if not edges:
        return f"{_label(artifact)}: no recorded run"
    return "\n".join(f"{upstream} -> {downstream}" for upstream, downstream in edges)
