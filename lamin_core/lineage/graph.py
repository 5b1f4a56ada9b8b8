"""`LineageGraph`: artifacts and runs of transforms, linked input -> run -> output.

The graph is a plain value: node ids, labels and edges, plus the records behind the nodes, so
that it can be drawn (`to_svg`, `to_png`, `to_dot`, `to_mermaid`), handed to networkx, or read
(`graph.artifacts`: what a walk found). `lamin_core.lineage.walk` fills it from the catalog.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from lamin_core.lineage.drawing import render, to_dot, to_mermaid

if TYPE_CHECKING:
    from lamin_core.models import Artifact, Collection, Run, Transform

__all__ = ["ARTIFACT", "RUN", "LineageGraph", "artifact_label", "artifact_node", "run_node"]

ARTIFACT, RUN = "artifact", "run"


def artifact_node(artifact: Artifact) -> str:
    """Return the node id of an artifact."""
    return f"{ARTIFACT}:{artifact.id}"


def run_node(run: Run) -> str:
    """Return the node id of a run."""
    return f"{RUN}:{run.id}"


def artifact_label(artifact: Artifact | Collection) -> str:
    """Return the label an artifact is drawn with: its key, else its uid."""
    return artifact.key or artifact.uid


@dataclass
class LineageGraph:
    """Artifacts and runs of transforms, and the edges input -> run -> output between them.

    `ln.lineage(artifact)` returns one. The record it started from is `start` (drawn
    highlighted); `artifacts` and `runs` list the others, nearest first.

    Attributes:
        nodes: node id -> (label, kind, tooltip); kind is ``"artifact"`` or ``"run"``.
        edges: (upstream id, downstream id) pairs: input -> run, run -> output.
        target: the node id of the record the graph was walked from.
        records: node id -> the Artifact or Run behind the node.
        start: the Artifact or Run the graph was walked from (None for a graph built by hand).

    Examples:
        >>> graph = ln.lineage(artifact, upstream=False)  # what was derived from artifact
        >>> [a.key for a in graph.artifacts]
        ['derived/out.parquet', 'final/result.parquet']
        >>> graph.to_svg("lineage.svg")
        PosixPath('lineage.svg')
    """

    nodes: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    edges: list[tuple[str, str]] = field(default_factory=list)
    target: str = ""
    records: dict[str, Artifact | Collection | Run] = field(default_factory=dict, repr=False)
    start: Artifact | Collection | Run | None = field(default=None, repr=False)

    def add_artifact(self, artifact: Artifact) -> str:
        """Add an artifact's node (once); return its id."""
        node = artifact_node(artifact)
        if node not in self.nodes:
            self.nodes[node] = (artifact_label(artifact), ARTIFACT, f"Artifact {artifact.uid}")
            self.records[node] = artifact
        return node

    def add_collection(self, collection: Collection) -> str:
        """Add a collection's node (once, drawn as an artifact); return its id."""
        node = f"collection:{collection.id}"
        if node not in self.nodes:
            label = f"{collection.key} (collection)"
            self.nodes[node] = (label, ARTIFACT, f"Collection {collection.uid}")
            self.records[node] = collection
        return node

    def add_run(self, run: Run, transform: Transform) -> str:
        """Add a run's node (once), labelled by its transform's key; return its id."""
        node = run_node(run)
        if node not in self.nodes:
            self.nodes[node] = (
                f"{transform.key or transform.uid} (run {run.uid[:8]})",
                RUN,
                f"Transform {transform.uid} ({transform.type}), Run {run.uid}",
            )
            self.records[node] = run
        return node

    def _records(self, kind: str) -> list[Any]:
        return [
            self.records[node]
            for node, (_, node_kind, _) in self.nodes.items()
            if node_kind == kind and node != self.target and node in self.records
        ]

    @property
    def artifacts(self) -> list[Artifact]:
        """The artifacts of the graph other than the start, nearest first.

        Upstream, the inputs the start was made from; downstream, what was derived from it.
        """
        return self._records(ARTIFACT)

    @property
    def runs(self) -> list[Run]:
        """The runs of the graph other than the start, nearest first."""
        return self._records(RUN)

    @property
    def transforms(self) -> list[Transform]:
        """The transforms of the graph's runs (the start's too, when it is a run), once each."""
        unique: dict[int, Transform] = {}
        for node, record in self.records.items():
            if self.nodes[node][1] == RUN:
                run = cast("Run", record)
                unique.setdefault(run.transform_id, run.transform)
        return list(unique.values())

    def to_dot(self) -> str:
        """Return the graph as graphviz DOT source (top to bottom, inputs first)."""
        return to_dot(self)

    def to_mermaid(self) -> str:
        """Return the graph as a Mermaid flowchart (GitHub and many wikis draw it in Markdown)."""
        return to_mermaid(self)

    def to_svg(self, path: str | Path) -> Path:
        """Draw the graph as SVG to `path`: with graphviz when `dot` is installed, else in Python.

        Raises:
            StorageError: the file cannot be written.
        """
        return render(self, Path(path).expanduser(), "svg")

    def to_png(self, path: str | Path) -> Path:
        """Draw the graph as PNG to `path` with graphviz.

        Raises:
            ValidationError: graphviz's `dot` is not installed (`to_svg` needs no graphviz).
            StorageError: the file cannot be written.
        """
        return render(self, Path(path).expanduser(), "png")

    def to_networkx(self) -> Any:
        """Return the graph as a `networkx.DiGraph` (networkx must be installed).

        Nodes keep their ids (``"artifact:<id>"``, ``"run:<id>"``) with the attributes
        ``label``, ``kind``, ``uid`` and ``record``; edges run input -> run -> output.

        Raises:
            ImportError: networkx is not installed.
        """
        try:
            import networkx as nx  # optional: lamin_core does not depend on it
        except ImportError as error:
            raise ImportError(
                "LineageGraph.to_networkx() needs networkx, which is not installed: "
                "pip install networkx. Without it, use graph.nodes and graph.edges, "
                "graph.to_dot() or graph.to_mermaid()."
            ) from error
        digraph = nx.DiGraph()
        for node, (label, kind, _) in self.nodes.items():
            record = self.records.get(node)
            digraph.add_node(
                node,
                label=label,
                kind=kind,
                uid=getattr(record, "uid", None),
                record=record,
                is_start=node == self.target,
            )
        digraph.add_edges_from(self.edges)
        return digraph
