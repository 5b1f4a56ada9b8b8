"""Lineage: the runs, transforms and artifacts around an artifact, as a graph and drawings.

`lineage` walks the catalog (`walk`: a few statements per level, not per node) into a
`LineageGraph` (`graph`), which draws itself (`drawing`: DOT, Mermaid, SVG with or without
graphviz) or becomes a networkx graph. `view_lineage` (``artifact.view_lineage()``) draws the
upstream graph of an artifact: inline in a notebook, otherwise to a file whose path is printed.
`openlineage` turns Runs into OpenLineage events.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from lamin_core.lineage.drawing import (
    NODE_GAP,
    layout,
    node_width,
    render_svg,
    show,
    to_dot,
    to_mermaid,
)
from lamin_core.lineage.graph import LineageGraph, artifact_label
from lamin_core.lineage.walk import check_arguments, walk

if TYPE_CHECKING:
    from lamin_core.models import Artifact, Collection, Run

__all__ = [
    "NODE_GAP",
    "LineageGraph",
    "describe_lineage",
    "layout",
    "lineage",
    "lineage_edges",
    "lineage_graph",
    "node_width",
    "render_svg",
    "to_dot",
    "to_mermaid",
    "view_lineage",
]


def lineage(
    record: Artifact | Collection | Run,
    *,
    upstream: bool = True,
    downstream: bool = True,
    depth: int | None = None,
) -> LineageGraph:
    """Return the graph of artifacts, runs and transforms around an artifact or a run.

    Upstream is what `record` was made from: the run that made it, that run's inputs, the runs
    that made those, and so on. Downstream is what was derived from it: the runs that read it,
    their outputs, the runs that read those, and so on.

    Args:
        record: An Artifact; a Collection (its members and what made them are upstream); or
            a Run (its inputs are upstream, its outputs downstream).
        upstream: Include what `record` was made from.
        downstream: Include what was derived from `record`.
        depth: How many runs to cross in each direction (1: the run that made an artifact and
            its inputs, the runs that read it and their outputs); None: all of them.

    Returns:
        The graph; `graph.artifacts` and `graph.runs` list its records other than `record`,
        nearest first.

    Raises:
        ValidationError: `record` is neither an Artifact nor a Run, or `depth` is negative.

    Examples:
        >>> ln.lineage(raw, upstream=False).artifacts  # everything derived from raw
        [Artifact(key='derived/out.parquet', ...), Artifact(key='final/result.parquet', ...)]
        >>> ln.lineage(result, downstream=False, depth=1).to_mermaid()
        >>> ln.lineage(result).to_svg("lineage.svg")
    """
    check_arguments(record, depth)
    instance = record._instance()
    with instance.reading() as session:
        return walk(session, record, upstream=upstream, downstream=downstream, depth=depth)


def lineage_graph(artifact: Artifact | Collection, *, max_depth: int = 20) -> LineageGraph:
    """Return the graph of runs and input artifacts upstream of `artifact`."""
    return lineage(artifact, downstream=False, depth=max_depth)


def lineage_edges(artifact: Artifact, *, max_depth: int = 20) -> list[tuple[str, str]]:
    """Return the (upstream, downstream) edges that lead to `artifact`, as display labels.

    Artifacts are labelled by key (or uid), runs by their transform's key.
    """
    graph = lineage_graph(artifact, max_depth=max_depth)
    return [(graph.nodes[a][0], graph.nodes[b][0]) for a, b in graph.edges]


def describe_lineage(artifact: Artifact) -> str:
    """Return the lineage of `artifact` as text, one ``upstream -> downstream`` edge a line."""
    edges = lineage_edges(artifact)
    if not edges:
        return f"{artifact_label(artifact)}: no recorded run"
    return "\n".join(f"{upstream} -> {downstream}" for upstream, downstream in edges)


def view_lineage(artifact: Artifact | Collection, path: str | Path | None = None) -> Path | None:
    """Draw the lineage of `artifact`: show it inline in a notebook, else save it to a file.

    Args:
        artifact: The artifact (or collection) whose upstream runs, transforms and inputs are
            drawn.
        path: Where to save the drawing; its suffix picks the format (.svg, .dot, and with
            graphviz also .png, .pdf). Without it, a notebook shows the drawing inline and a
            script saves an SVG in a temporary folder and prints its path.

    Returns:
        The path of the file written, or None when the drawing was only shown inline.

    Raises:
        ValidationError: the suffix names no format, or one that needs graphviz, which is missing.
        StorageError: the file cannot be written.
    """
    graph = lineage_graph(artifact)
    return show(
        graph,
        None if path is None else Path(path),
        name=f"lineage-{artifact.uid}",
        what=f"lineage of {artifact_label(artifact)!r}",
    )
