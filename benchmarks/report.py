"""Turn the results of a benchmark run into `latest.json`, `latest.md` and the plots.

Every figure in the report is read from the results of the run that writes it; nothing is typed
in. The ratio is always the reference side's median time divided by ours (above 1: lamin_core
is faster), and the spread is half the range of the timed repeats relative to their median.
"""

import json
import statistics
from pathlib import Path
from typing import Any

from benchmarks import plans


def _by_side(results: list[dict[str, Any]]) -> dict[tuple[str, int, str, str], dict[str, Any]]:
    return {(r["workload"], r["size"], r.get("db", "sqlite"), r["side"]): r for r in results}


def spread(result: dict[str, Any]) -> float | None:
    """Return half the range of the timed repeats relative to their median (0.05 = ±5%)."""
    times = result.get("times_s") or []
    if len(times) < 2 or "median_s" not in result:
        return None
    return (max(times) - min(times)) / 2 / result["median_s"]


def compare(cases: list[plans.Case], results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pair our result with the reference's per case: checks, speedup, target verdict."""
    found = _by_side(results)
    rows = []
    for case in cases:
        spec = case.spec
        ours = found.get((case.workload, case.size, case.db, plans.OURS), {})
        ref = found.get((case.workload, case.size, case.db, spec.reference), {})
        row: dict[str, Any] = {
            "workload": case.workload,
            "size": case.size,
            "db": case.db,
            "records": ours.get("records") or ref.get("records") or case.size,
            "size_unit": spec.size_unit,
            "params": case.params,
            "reference": spec.reference_label,
            "ours_error": ours.get("error"),
            "reference_error": ref.get("error"),
            "capped": ref.get("capped"),
        }
        if "check" in ours and "check" in ref:
            row["check"] = "match" if ours["check"] == ref["check"] else "MISMATCH"
        elif spec.reference is None and "check" in ours:
            row["check"] = "ours only"
        else:
            row["check"] = "n/a"
        speedup = None
        if ours.get("median_s") and ref.get("median_s"):
            speedup = ref["median_s"] / ours["median_s"]
        row["speedup"] = None if speedup is None else round(speedup, 3)
        target = spec.target(row["records"])
        if target is not None:
            row["target"] = target.text
            row["target_met"] = target.met(ours, ref, speedup)
            value = ours.get(target.metric)
            if target.ours_max_s is not None and value is not None and value > target.ours_max_s:
                limit = f"{_duration(value)} > {_duration(target.ours_max_s)}"
                row["ours_over_limit"] = f"ours {limit}"
        else:
            row["target"] = None
            row["target_met"] = None
        rows.append(row)
    return rows


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.3g} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds:.3g} s"


def _cell(result: dict[str, Any]) -> str:
    """One side's figures for the summary table."""
    if not result:
        return "not run"
    if "median_s" not in result:
        return f"**error**: {result.get('error', 'no result')}"
    text = _duration(result["median_s"])
    if result.get("item_p50_s") is not None:
        text += f" (p50 {_duration(result['item_p50_s'])}/{result['unit']})"
    elif result.get("per_item_s") is not None:
        text += f" ({_duration(result['per_item_s'])}/{result['unit']})"
    extra = [f"n={len(result['times_s'])}"]
    if (s := spread(result)) is not None:
        extra.append(f"±{s:.0%}")
    # a whole-process workload reports each child's peak memory (the side's own is irrelevant)
    children = [
        f"{name.removesuffix('_peak_mb')} peak {value:.0f} MB"
        for name, value in (result.get("observed") or {}).items()
        if name.endswith("_peak_mb")
    ]
    extra += children or [f"{result['peak_mem_mb']:.0f} MB"]
    statements = (result.get("observed") or {}).get("sql_statements_per_save")
    if statements is not None:  # register_df: round trips per save, beside BEGIN/COMMIT
        extra.append(f"{statements:g} SQL statements/save")
    return f"{text}; {', '.join(extra)}"


def _size_text(row: dict[str, Any]) -> str:
    text = f"{row['records']:,} {row['size_unit']}"
    if row["params"]:
        shown = [f"{k}={int(v):,}" if v.isdigit() else f"{k}={v}" for k, v in row["params"].items()]
        text += " (" + ", ".join(shown) + ")"
    return text


def _verdict(row: dict[str, Any]) -> str:
    if row["target"] is None:
        return "-"
    verdict = {True: "yes", False: "**no**", None: "unknown (missing result)"}[row["target_met"]]
    if row.get("ours_over_limit"):
        verdict += f" ({row['ours_over_limit']})"
    return verdict


def _versions(results: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    versions: dict[str, dict[str, str]] = {}
    for result in results:
        versions.setdefault(result["side"], {}).update(result.get("versions") or {})
    return versions


def to_markdown(
    meta: dict[str, Any], results: list[dict[str, Any]], rows: list[dict[str, Any]]
) -> str:
    """Render the run as markdown: summary table, per-side details, caps and errors, versions."""
    found = _by_side(results)
    m = meta["machine"]
    lines = [
        f"# Benchmark results ({meta['mode']} run)",
        "",
        f"- date: {meta['date']} (took {meta['duration_s'] / 60:.1f} min)",
        f"- machine: {m.get('cores')} cores, {m.get('memory_gib')} GiB memory, "
        f"{m.get('cpu', 'unknown CPU')}; {m.get('platform')}",
        f"- load average at start / end: {m.get('load_average')} / {m.get('load_average_end')} "
        "(the machine is shared; sides ran alternately, repeat by repeat)",
        f"- code: {meta.get('revision', 'unknown')}; command: `{meta['command']}`",
        *(
            [f"- report re-rendered from latest.json on {meta['rerendered']}"]
            if meta.get("rerendered")
            else []
        ),
        *(
            f"- {', '.join(part['workloads'])}: from the run of {part['date']} (took "
            f"{part['duration_s'] / 60:.1f} min, code {part.get('revision', 'unknown')}, "
            f"command `{part['command']}`), which replaced this run's rows of them"
            for part in meta.get("merged", [])
        ),
        "",
        "Times are medians of the timed repeats after one warm-up (n = repeats, ± = half the "
        "range relative to the median, MB = peak RSS during the timed repeats). Ratio = "
        "reference time ÷ lamin_core time: above 1, lamin_core is faster.",
        "",
        "| workload | size | lamin_core | reference | reference time | ratio | target | met? "
        "| checks |",
        "|---|---:|---|---|---|---:|---|---|---|",
    ]
    for row in rows:
        db = row.get("db", "sqlite")
        ours = found.get((row["workload"], row["size"], db, plans.OURS), {})
        ref_side = plans.SPECS[row["workload"]].reference
        ref = found.get((row["workload"], row["size"], db, ref_side), {})
        ref_cell = _cell(ref) if ref_side else "-"
        ref_cell += " — capped" if row["capped"] else ""
        ratio = f"{row['speedup']:.2f}x" if row["speedup"] is not None else "-"
        lines.append(
            f"| {row['workload']} | {_size_text(row)} | {_cell(ours)} | {row['reference']} "
            f"| {ref_cell} | {ratio} | {row['target'] or '-'} | {_verdict(row)} | {row['check']} |"
        )
    lines += [
        "",
        "## Per side",
        "",
        "| workload | size | side | median | min - max | CPU median | per item | p50 per item "
        "| CPU p50 per item | peak MB | setup | check |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        if "median_s" not in r:
            continue
        check = json.dumps(r.get("check"), ensure_ascii=False)
        check = check if len(check) <= 90 else check[:87] + "..."
        per_item = f"{_duration(r['per_item_s'])}/{r['unit']}" if r.get("per_item_s") else "-"
        lines.append(
            f"| {r['workload']} | {r.get('records', r['size']):,} | {r['side']} "
            f"| {_duration(r['median_s'])} | {_duration(min(r['times_s']))} - "
            f"{_duration(max(r['times_s']))} | {_duration(statistics.median(r['cpu_times_s']))} "
            f"| {per_item} | {_duration(r.get('item_p50_s'))} "
            f"| {_duration(r.get('item_cpu_p50_s'))} | {r['peak_mem_mb']:.0f} "
            f"| {r['setup_s']:.1f} s | `{check}` |"
        )
    search_rows = [r for r in results if r.get("observed") and "top_hit" in r["observed"]]
    if search_rows:
        lines += ["", "## Search: top hit per query (rankings differ by design; not checked)", ""]
        for r in search_rows:
            queries = r["notes"]["queries"]
            pairs = ", ".join(
                f"{q!r} → {hit!r} ({n})"
                for q, hit, n in zip(queries, r["observed"]["top_hit"], r["observed"]["n_hits"])
            )
            lines.append(f"- {r['workload']} {r.get('records', r['size']):,}, {r['side']}: {pairs}")
    problems = [r for r in results if r.get("error") or r.get("capped")]
    lines += ["", "## Capped, failed or missing", ""]
    if not problems and not meta.get("not_run"):
        lines.append("Nothing: every side ran every planned repeat.")
    for r in problems:
        what = r.get("error") or f"capped: {r['capped']}"
        lines.append(f"- {r['workload']} size {r['size']:,}, {r['side']}: {what}")
    for text in meta.get("not_run", []):
        lines.append(f"- not run: {text}")
    lines += ["", "## Versions", ""]
    for side, versions in _versions(results).items():
        text = ", ".join(f"{name} {version}" for name, version in sorted(versions.items()))
        lines.append(f"- {side}: {text}")
    return "\n".join(lines) + "\n"


def plot_ratios(rows: list[dict[str, Any]], path: Path, title: str) -> None:
    """Draw the ratio of every case as a horizontal bar (log scale), coloured by target."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    shown = [row for row in rows if row["speedup"] is not None]
    labels = [
        f"{row['workload']}, {row['records']:,} {row['size_unit']}\nvs {row['reference']}"
        for row in shown
    ]
    ratios = [row["speedup"] for row in shown]
    colours = [
        {True: "#2e7d32", False: "#c62828", None: "#757575"}[row["target_met"]] for row in shown
    ]
    fig, ax = plt.subplots(figsize=(10, 0.6 * len(shown) + 1.8))
    bars = ax.barh(range(len(shown)), ratios, color=colours)
    for bar, row in zip(bars, shown):
        if row["capped"]:
            bar.set_hatch("//")
        label = f"{row['speedup']:.3g}x" + (" (capped)" if row["capped"] else "")
        if row.get("ours_over_limit"):
            label += f"; {row['ours_over_limit']}"
        ax.text(bar.get_width() * 1.05, bar.get_y() + bar.get_height() / 2, label, va="center")
        target = plans.SPECS[row["workload"]].target(row["records"])
        if target is not None and target.min_speedup is not None:  # where the bar must reach
            middle = bar.get_y() + bar.get_height() / 2
            ax.plot([target.min_speedup], [middle], "k|", markersize=22, markeredgewidth=2.5)
    ax.axvline(1.0, color="black", linewidth=1)
    ax.set_xscale("log")
    ax.set_yticks(range(len(shown)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("reference time ÷ lamin_core time (log scale; > 1: lamin_core faster)")
    ax.set_title(title, fontsize=10)
    ax.set_xlim(min([*ratios, 0.5]) / 2, max([*ratios, 2]) * 4)
    legend = [
        Patch(color="#2e7d32", label="target met"),
        Patch(color="#c62828", label="target missed"),
        Patch(color="#757575", label="no target at this size"),
        Patch(facecolor="white", edgecolor="black", hatch="//", label="reference side capped"),
        Line2D(
            [],
            [],
            color="black",
            marker="|",
            linestyle="none",
            markersize=12,
            markeredgewidth=2.5,
            label="ratio the target asks for",
        ),
    ]
    ax.legend(handles=legend, loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_scaling(results: list[dict[str, Any]], path: Path, title: str) -> bool:
    """Draw time per query against catalog size for the scaling workloads (log-log).

    Returns:
        False when there is nothing to draw (fewer than two sizes of a scaling workload).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series: dict[tuple[str, str, str], list[dict[str, Any]]] = {
        (r["workload"], r["side"], r.get("db", "sqlite")): []
        for r in results
        if r["workload"] in plans.SCALING
    }
    for r in results:
        key = (r["workload"], r["side"], r.get("db", "sqlite"))
        if key in series and r.get("per_item_s"):
            series[key].append(r)
    if not any(len(points) >= 2 for points in series.values()):
        return False
    fig, axes = plt.subplots(1, len(plans.SCALING), figsize=(11, 4.5))
    styles = {plans.OURS: ("#1565c0", "o", "lamin_core"), "lamindb": ("#ef6c00", "s", "LaminDB")}
    for ax, workload in zip(axes, plans.SCALING):
        for (name, side, db), points in series.items():
            if name != workload or side not in styles:
                continue
            colour, marker, label = styles[side]
            line = "--" if db == "postgresql" else "-"
            label += " (PostgreSQL)" if db == "postgresql" else ""
            points.sort(key=lambda r: r.get("records", r["size"]))
            xs = [r.get("records", r["size"]) for r in points]
            ys = [r["per_item_s"] for r in points]
            ax.plot(xs, ys, color=colour, marker=marker, linestyle=line, label=label)
            for x, y, r in zip(xs, ys, points):
                if r.get("capped"):
                    ax.plot([x], [y], "o", ms=14, mfc="none", mec="red")
                    ax.annotate(
                        "capped",
                        (x, y),
                        xytext=(8, -14),
                        textcoords="offset points",
                        fontsize=8,
                        color="red",
                    )
        ax.set_xscale("log")
        ax.set_yscale("log")
        unit = plans.SPECS[workload].size_unit
        ax.set_xlabel(f"catalog size ({unit})")
        ax.set_ylabel("time per query: median repeat ÷ queries (s)")
        ax.set_title(workload, fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def rerender(out: Path) -> None:
    """Write latest.md and the plots again from `out`/latest.json (e.g. after a target changed).

    Every figure still comes from the run recorded there; the comparison (ratios, verdicts) is
    recomputed with the current targets, and the report says when it was re-rendered.
    """
    import datetime as dt

    payload = json.loads((out / "latest.json").read_text())
    meta, results = payload["meta"], payload["results"]
    cases = [
        plans.Case(row["workload"], row["size"], repeat=0, params=row["params"])
        for row in payload["comparison"]
    ]
    meta["rerendered"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    write(out, meta, results, compare(cases, results), scaling=meta["mode"] == "full")


def _row_key(row: dict[str, Any]) -> tuple[str, int, str]:
    return (row["workload"], row["size"], row.get("db", "sqlite"))


def merge(out: Path, other: Path) -> None:
    """Put the rows of the run in `other`/latest.json into the report in `out`, replacing the
    rows of the same workload, size and database, and write the report again.

    For a workload re-run on its own (`--workloads`) after a full run: the report says which rows
    came from which run (date, code, command).
    """
    payload = json.loads((out / "latest.json").read_text())
    extra = json.loads((other / "latest.json").read_text())
    replaced = {_row_key(row) for row in extra["comparison"]}
    rows = [row for row in payload["comparison"] if _row_key(row) not in replaced]
    rows += extra["comparison"]
    results = [r for r in payload["results"] if _row_key(r) not in replaced]
    results += extra["results"]
    meta = payload["meta"]
    part = {k: extra["meta"].get(k) for k in ("date", "duration_s", "revision", "command")}
    part["workloads"] = sorted({row["workload"] for row in extra["comparison"]})
    meta.setdefault("merged", []).append(part)
    order = {key: index for index, key in enumerate(_row_key(c) for c in _plan_order(meta))}
    rows.sort(key=lambda row: order.get(_row_key(row), len(order)))
    cases = [
        plans.Case(row["workload"], row["size"], repeat=0, params=row["params"]) for row in rows
    ]
    write(out, meta, results, compare(cases, results), scaling=meta["mode"] == "full")


def _plan_order(meta: dict[str, Any]) -> list[dict[str, Any]]:
    """The cases of the run's plan, in order, as rows (workload, size, db)."""
    cases = plans.FULL if meta["mode"] == "full" else [*plans.QUICK, *plans.POSTGRES_QUICK]
    return [{"workload": c.workload, "size": c.size, "db": c.db} for c in cases]


def write(
    out: Path,
    meta: dict[str, Any],
    results: list[dict[str, Any]],
    rows: list[dict[str, Any]],
    *,
    scaling: bool,
) -> None:
    """Write latest.json, latest.md, ratios.png and (with `scaling`) scaling.png into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    payload = {"meta": meta, "comparison": rows, "results": results}
    (out / "latest.json").write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    markdown = to_markdown(meta, results, rows)
    quality = out / "search_quality.md"  # written by search_quality.py in the same run
    if quality.exists():
        markdown += "\n" + quality.read_text()
    (out / "latest.md").write_text(markdown)
    m = meta["machine"]
    title = (
        f"lamin_core vs LaminDB / reference, {meta['mode']} run, {meta['date'][:10]}, "
        f"{m.get('cores')} cores, {m.get('memory_gib')} GiB"
    )
    plot_ratios(rows, out / "ratios.png", title)
    if scaling:
        plot_scaling(results, out / "scaling.png", title)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=rerender.__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="a folder holding latest.json")
    parser.add_argument(
        "--merge", type=Path, help="a folder holding another run's latest.json: see merge()"
    )
    args = parser.parse_args()
    if args.merge:
        merge(args.out, args.merge)
    else:
        rerender(args.out)
