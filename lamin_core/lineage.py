"""Lineage: the chain of runs, transforms and input artifacts behind an artifact, and its drawing.

`lineage_graph` walks the catalog once into a small graph. `view_lineage` draws it: with
graphviz's ``dot`` when it is on PATH (any format dot writes), otherwise with the layered layout
below, written as SVG in pure Python, so that a machine without graphviz still gets a picture.
In a notebook the picture is shown inline; in a script it is saved to a file whose path is printed.
"""

from __future__ import annotations

import itertools
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape, quoteattr

from lamin_core.errors import StorageError, ValidationError

if TYPE_CHECKING:
    from lamin_core.models import Artifact

__all__ = [
    "LineageGraph",
    "describe_lineage",
    "layout",
    "lineage_edges",
    "lineage_graph",
    "node_width",
    "render_svg",
    "to_dot",
    "view_lineage",
]


@dataclass
class LineageGraph:
    """Nodes (artifacts and runs of transforms) and the edges that lead to one artifact.

    Attributes:
        nodes: node id -> (label, kind, tooltip); kind is ``"artifact"`` or ``"run"``.
        edges: (upstream id, downstream id) pairs, inputs -> run -> output.
        target: the id of the artifact whose lineage this is.
    """

    nodes: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    edges: list[tuple[str, str]] = field(default_factory=list)
    target: str = ""


def _label(artifact: Artifact) -> str:
    return artifact.key or artifact.uid


def lineage_graph(artifact: Artifact, *, max_depth: int = 20) -> LineageGraph:
    """Return the graph of runs and input artifacts upstream of `artifact`."""
    graph = LineageGraph(target=f"artifact:{artifact.id}")
    seen: set[int] = set()
    frontier = [(artifact, 0)]
    while frontier:
        current, depth = frontier.pop()
        node = f"artifact:{current.id}"
        graph.nodes.setdefault(node, (_label(current), "artifact", f"Artifact {current.uid}"))
        if current.id in seen or depth >= max_depth:
            continue
        seen.add(current.id)
        run = current.run
        if run is None:
            continue
        run_node = f"run:{run.id}"
        transform = run.transform
        graph.nodes.setdefault(
            run_node,
            (
                f"{transform.key} (run {run.uid[:8]})",
                "run",
                f"Transform {transform.uid} ({transform.type}), Run {run.uid}",
            ),
        )
        if (run_node, node) not in graph.edges:
            graph.edges.append((run_node, node))
        for upstream in run.input_artifacts:
            upstream_node = f"artifact:{upstream.id}"
            graph.nodes.setdefault(
                upstream_node, (_label(upstream), "artifact", f"Artifact {upstream.uid}")
            )
            if (upstream_node, run_node) not in graph.edges:
                graph.edges.append((upstream_node, run_node))
            frontier.append((upstream, depth + 1))
    return graph


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
        return f"{_label(artifact)}: no recorded run"
    return "\n".join(f"{upstream} -> {downstream}" for upstream, downstream in edges)


# Colours of the two kinds of node, shared by the DOT source and the pure-Python SVG.
STYLE = {
    "artifact": {"fill": "#dbeafe", "stroke": "#1d4ed8", "target_fill": "#93c5fd"},
    "run": {"fill": "#ffedd5", "stroke": "#c2410c", "target_fill": "#ffedd5"},
}


def _dot_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_dot(graph: LineageGraph) -> str:
    """Return the graph as graphviz DOT source (top to bottom, inputs first)."""
    lines = [
        "digraph lineage {",
        '  rankdir="TB";',
        '  node [fontname="Helvetica", fontsize=11, shape=box, style="rounded,filled"];',
    ]
    for node, (label, kind, tooltip) in graph.nodes.items():
        style = STYLE[kind]
        fill = style["target_fill"] if node == graph.target else style["fill"]
        shape = "box" if kind == "artifact" else "component"
        lines.append(
            f"  {_dot_string(node)} [label={_dot_string(label)}, tooltip={_dot_string(tooltip)},"
            f' shape={shape}, fillcolor="{fill}", color="{style["stroke"]}"];'
        )
    lines += [f"  {_dot_string(a)} -> {_dot_string(b)};" for a, b in graph.edges]
    lines.append("}")
    return "\n".join(lines) + "\n"


# Layout constants of the pure-Python SVG, in pixels.
CHAR_WIDTH, NODE_HEIGHT, LAYER_GAP, NODE_GAP, MARGIN = 7.0, 34.0, 46.0, 24.0, 16.0


def layers(graph: LineageGraph) -> list[list[str]]:
    """Return the nodes in rows: every node one row below its lowest upstream node.

    The order within a row follows the average position of the upstream nodes (a few
    barycenter sweeps), which keeps edges from crossing in the usual small lineage graphs.
    """
    upstream: dict[str, list[str]] = {node: [] for node in graph.nodes}
    for a, b in graph.edges:
        upstream[b].append(a)
    depth: dict[str, int] = {}

    def level(node: str, path: frozenset[str] = frozenset()) -> int:
        if node not in depth:
            parents = [p for p in upstream[node] if p not in path]  # a cycle is cut, not followed
            depth[node] = 1 + max((level(p, path | {node}) for p in parents), default=-1)
        return depth[node]

    rows: list[list[str]] = []
    for node in graph.nodes:
        index = level(node)
        rows += [[] for _ in range(index + 1 - len(rows))]
        rows[index].append(node)
    downstream: dict[str, list[str]] = {node: [] for node in graph.nodes}
    for a, b in graph.edges:
        downstream[a].append(b)
    for _ in range(2):
        for neighbours, ordered in ((upstream, rows[1:]), (downstream, rows[-2::-1])):
            for row in ordered:
                position = {n: i for r in rows for i, n in enumerate(r)}
                row.sort(
                    key=lambda n: (
                        sum(position[m] for m in neighbours[n]) / len(neighbours[n])
                        if neighbours[n]
                        else position[n]
                    )
                )
    return rows


def node_width(label: str) -> float:
    """Return the width of a node's box: its label's estimated width plus padding."""
    return max(90.0, CHAR_WIDTH * len(label) + 24)


def _place(row: list[str], desired: dict[str, float], width: dict[str, float]) -> None:
    """Move the nodes of `row` as close to `desired` as their order and gaps allow."""

    def gap(a: str, b: str) -> float:
        return (width[a] + width[b]) / 2 + NODE_GAP

    left = [desired[row[0]]]  # pushed right where needed
    for a, b in itertools.pairwise(row):
        left.append(max(desired[b], left[-1] + gap(a, b)))
    right = [desired[row[-1]]]  # pushed left where needed
    for b, a in itertools.pairwise(row[::-1]):  # a left of b
        right.append(min(desired[a], right[-1] - gap(a, b)))
    for node, x_left, x_right in zip(row, left, right[::-1]):
        desired[node] = (x_left + x_right) / 2  # the mean of two valid placements is valid


def layout(graph: LineageGraph) -> tuple[dict[str, tuple[float, float]], float, float]:
    """Return node centres, width and height of the drawing (rows top to bottom).

    Each row is packed first; then each node moves below the mean position of its inputs, and
    each input that nothing feeds above the mean of its consumers, so edges run as straight as
    they can.
    """
    rows = layers(graph)
    width = {n: node_width(graph.nodes[n][0]) for n in graph.nodes}
    x: dict[str, float] = {}
    for row in rows:
        position = 0.0
        for node in row:
            x[node] = position + width[node] / 2
            position += width[node] + NODE_GAP
    upstream: dict[str, list[str]] = {node: [] for node in graph.nodes}
    downstream: dict[str, list[str]] = {node: [] for node in graph.nodes}
    for a, b in graph.edges:
        upstream[b].append(a)
        downstream[a].append(b)
    # downwards every node follows its inputs; upwards only the inputs nothing feeds follow
    for neighbours, ordered in ((upstream, rows[1:]), (downstream, rows[-2::-1])):
        for row in ordered:
            for node in row:
                follows = neighbours is upstream or not upstream[node]
                if neighbours[node] and follows:
                    x[node] = sum(x[m] for m in neighbours[node]) / len(neighbours[node])
            _place(row, x, width)
    left = min((x[n] - width[n] / 2 for n in graph.nodes), default=0.0)
    right = max((x[n] + width[n] / 2 for n in graph.nodes), default=0.0)
    centre = {
        node: (
            MARGIN + x[node] - left,
            MARGIN + index * (NODE_HEIGHT + LAYER_GAP) + NODE_HEIGHT / 2,
        )
        for index, row in enumerate(rows)
        for node in row
    }
    height = len(rows) * NODE_HEIGHT + (len(rows) - 1) * LAYER_GAP + 2 * MARGIN
    return centre, right - left + 2 * MARGIN, height


def render_svg(graph: LineageGraph) -> str:
    """Return the graph drawn as a standalone SVG document, without graphviz."""
    centre, total_width, total_height = layout(graph)
    width = {n: node_width(graph.nodes[n][0]) for n in graph.nodes}
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{total_width:.0f}" '
        f'height="{total_height:.0f}" viewBox="0 0 {total_width:.0f} {total_height:.0f}" '
        'font-family="Helvetica, Arial, sans-serif" font-size="12">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" '
        'markerWidth="8" markerHeight="8" orient="auto-start-reverse">'
        '<path d="M 0 0 L 10 5 L 0 10 z" fill="#555"/></marker></defs>',
    ]
    for a, b in graph.edges:
        (x1, y1), (x2, y2) = centre[a], centre[b]
        y1, y2 = y1 + NODE_HEIGHT / 2, y2 - NODE_HEIGHT / 2
        bend = (y2 - y1) / 2
        parts.append(
            f'<path class="edge" d="M {x1:.1f} {y1:.1f} C {x1:.1f} {y1 + bend:.1f} '
            f'{x2:.1f} {y2 - bend:.1f} {x2:.1f} {y2:.1f}" fill="none" stroke="#555" '
            'marker-end="url(#arrow)"/>'
        )
    for node, (label, kind, tooltip) in graph.nodes.items():
        (x, y), style = centre[node], STYLE[kind]
        fill = style["target_fill"] if node == graph.target else style["fill"]
        radius = 8 if kind == "artifact" else 2
        parts.append(
            f'<g class="node {kind}" id={quoteattr(node)}><title>{escape(tooltip)}</title>'
            f'<rect x="{x - width[node] / 2:.1f}" y="{y - NODE_HEIGHT / 2:.1f}" '
            f'width="{width[node]:.1f}" height="{NODE_HEIGHT:.0f}" rx="{radius}" '
            f'fill="{fill}" stroke="{style["stroke"]}"/>'
            f'<text x="{x:.1f}" y="{y + 4:.1f}" text-anchor="middle">{escape(label)}</text></g>'
        )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


# Formats written without graphviz; with dot, any format dot knows is written by dot.
PYTHON_FORMATS = ("svg", "dot", "gv")


def _render(graph: LineageGraph, target: Path) -> None:
    """Write the drawing to `target`, in the format its suffix names."""
    fmt = target.suffix.lstrip(".").lower()
    if not fmt:
        raise ValidationError(
            f"Cannot tell the image format of {str(target)!r}: it has no suffix. Use a path "
            "ending in .svg, .png, .pdf or .dot."
        )
    source = to_dot(graph)
    if fmt in ("dot", "gv"):
        target.write_text(source)
        return
    dot = shutil.which("dot")
    if dot is None:
        if fmt != "svg":
            raise ValidationError(
                f"Cannot write {str(target)!r}: .{fmt} needs graphviz's `dot` program, which is "
                "not on PATH. Save as .svg (drawn without graphviz), or install graphviz "
                "(apt-get install graphviz, brew install graphviz)."
            )
        target.write_text(render_svg(graph))
        return
    done = subprocess.run(
        [dot, f"-T{fmt}", "-o", str(target)],
        input=source,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise ValidationError(
            f"graphviz's dot could not write {str(target)!r} as {fmt!r}: "
            f"{done.stderr.strip() or f'exit code {done.returncode}'}. Use .svg, .png or .pdf."
        )


def _notebook_display() -> Any:
    """Return IPython's `display` when running in a notebook kernel, else None."""
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        return None
    shell = get_ipython()
    if shell is None or "IPKernelApp" not in getattr(shell, "config", {}):
        return None  # a terminal IPython cannot show pictures: save to a file as in a script
    return display


def view_lineage(artifact: Artifact, path: str | Path | None = None) -> Path | None:
    """Draw the lineage of `artifact`: show it inline in a notebook, else save it to a file.

    Args:
        artifact: The artifact whose upstream runs, transforms and inputs are drawn.
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
    if path is None:
        display = _notebook_display()
        if display is not None:
            from IPython.display import SVG

            with tempfile.TemporaryDirectory() as scratch:
                drawing = Path(scratch) / "lineage.svg"
                _render(graph, drawing)
                display(SVG(drawing.read_text()))
            return None
        folder = Path(tempfile.mkdtemp(prefix="lamin-lineage-"))
        target = folder / f"lineage-{artifact.uid}.svg"
    else:
        target = Path(path).expanduser()
    try:
        _render(graph, target)
    except OSError as error:
        raise StorageError(
            f"Cannot write the lineage drawing to {str(target)!r}: {error}. Pass a path in a "
            "folder you can write to."
        ) from error
    if path is None:
        print(f"→ lineage of {_label(artifact)!r} drawn to {target} (open it in a browser)")
    return target
