"""Drawings of a lineage graph: DOT, Mermaid, and SVG with or without graphviz.

With graphviz's ``dot`` on PATH any format dot writes is written by dot; otherwise the layered
layout below is written as SVG in pure Python, so that a machine without graphviz still gets a
picture. In a notebook a drawing can be shown inline (`notebook_display`).
"""

from __future__ import annotations

import itertools
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape, quoteattr

from lamin_core.errors import StorageError, ValidationError

if TYPE_CHECKING:
    from lamin_core.lineage.graph import LineageGraph

__all__ = [
    "NODE_GAP",
    "PYTHON_FORMATS",
    "layers",
    "layout",
    "node_width",
    "notebook_display",
    "render",
    "render_by_suffix",
    "render_svg",
    "show",
    "to_dot",
    "to_mermaid",
]


# Colours of the kinds of node, shared by the DOT source and the pure-Python SVG: artifacts and
# runs of a lineage graph, records of a hierarchy (`lamin_core.lineage.hierarchy`).
STYLE = {
    "artifact": {"fill": "#dbeafe", "stroke": "#1d4ed8", "target_fill": "#93c5fd"},
    "run": {"fill": "#ffedd5", "stroke": "#c2410c", "target_fill": "#ffedd5"},
    "record": {"fill": "#f0fdf4", "stroke": "#065f46", "target_fill": "#10b981"},
}
BOXED = ("artifact", "record")  # drawn as rounded boxes; runs as components


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
        shape = "box" if kind in BOXED else "component"
        lines.append(
            f"  {_dot_string(node)} [label={_dot_string(label)}, tooltip={_dot_string(tooltip)},"
            f' shape={shape}, fillcolor="{fill}", color="{style["stroke"]}"];'
        )
    lines += [f"  {_dot_string(a)} -> {_dot_string(b)};" for a, b in graph.edges]
    lines.append("}")
    return "\n".join(lines) + "\n"


def _mermaid_label(text: str) -> str:
    # Mermaid reads entity codes in quoted labels; a raw quote or bracket would end the label
    for char, code in (("&", "#amp;"), ('"', "#quot;"), ("<", "#lt;"), (">", "#gt;")):
        text = text.replace(char, code)
    return f'"{text}"'


def to_mermaid(graph: LineageGraph) -> str:
    """Return the graph as a Mermaid flowchart (top to bottom, inputs first).

    Artifacts are rounded boxes, runs subroutine boxes; the start is highlighted. Node ids are
    ``n0``, ``n1``, ... in the order of `graph.nodes`, since Mermaid ids cannot hold a colon.
    """
    ids = {node: f"n{index}" for index, node in enumerate(graph.nodes)}
    lines = ["flowchart TB"]
    for node, (label, kind, _) in graph.nodes.items():
        opening, closing = ("(", ")") if kind in BOXED else ("[[", "]]")
        lines.append(f"    {ids[node]}{opening}{_mermaid_label(label)}{closing}")
    lines += [f"    {ids[a]} --> {ids[b]}" for a, b in graph.edges]
    for kind, style in STYLE.items():
        lines.append(f"    classDef {kind} fill:{style['fill']},stroke:{style['stroke']}")
        members = [
            ids[n] for n, (_, k, _) in graph.nodes.items() if k == kind and n != graph.target
        ]
        if members:
            lines.append(f"    class {','.join(members)} {kind}")
    if graph.target in ids:
        kind = graph.nodes[graph.target][1]
        style = STYLE[kind]
        lines.append(
            f"    style {ids[graph.target]} fill:{style['target_fill']},stroke:{style['stroke']},"
            "stroke-width:2px"
        )
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
        radius = 8 if kind in BOXED else 2
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


def _draw(graph: LineageGraph, target: Path, fmt: str) -> None:
    """Write the drawing to `target` in format `fmt` (a graphviz output format)."""
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


def render(graph: LineageGraph, target: Path, fmt: str) -> Path:
    """Write the drawing to `target` in format `fmt`; return `target`.

    Raises:
        ValidationError: `fmt` needs graphviz, which is missing, or dot refused it.
        StorageError: the file cannot be written.
    """
    try:
        _draw(graph, target, fmt)
    except OSError as error:
        raise StorageError(
            f"Cannot write the lineage drawing to {str(target)!r}: {error}. Pass a path in a "
            "folder you can write to."
        ) from error
    return target


def render_by_suffix(graph: LineageGraph, target: Path) -> Path:
    """Write the drawing to `target`, in the format its suffix names; return `target`.

    Raises:
        ValidationError: the suffix names no format, or one that needs graphviz, which is missing.
        StorageError: the file cannot be written.
    """
    fmt = target.suffix.lstrip(".").lower()
    if not fmt:
        raise ValidationError(
            f"Cannot tell the image format of {str(target)!r}: it has no suffix. Use a path "
            "ending in .svg, .png, .pdf or .dot."
        )
    return render(graph, target, fmt)


def notebook_display() -> Any:
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


def show(graph: LineageGraph, path: Path | None, *, name: str, what: str) -> Path | None:
    """Draw `graph`: to `path` if given, inline in a notebook, else to a temporary SVG file.

    Args:
        graph: The graph to draw.
        path: Where to save the drawing (its suffix picks the format), or None.
        name: The stem of the temporary file (``lineage-<uid>``).
        what: What the drawing shows, for the message naming the file.

    Returns:
        The file written, or None when the drawing was only shown inline.
    """
    if path is not None:
        return render_by_suffix(graph, path.expanduser())
    display = notebook_display()
    if display is not None:
        from IPython.display import SVG

        with tempfile.TemporaryDirectory() as scratch:
            drawing = render(graph, Path(scratch) / "drawing.svg", "svg")
            display(SVG(drawing.read_text()))
        return None
    folder = Path(tempfile.mkdtemp(prefix="lamin-lineage-"))
    target = render(graph, folder / f"{name}.svg", "svg")
    print(f"→ {what} drawn to {target} (open it in a browser)")
    return target
