"""The report's PNG charts, drawn headless from ``report.json`` with matplotlib.

- ``latency_per_step.png``: median seconds per workflow step, both patterns side by side
  (the reviewer's wait is its own bar);
- ``cost_per_1k.png``: cost of 1,000 workflows by component (orchestration, compute,
  storage), stacked;
- ``cost_by_volume.png``: a month's cost from 1,000 to 10 million workflows, free tiers
  included, on log axes.

Figures are built with :class:`matplotlib.figure.Figure` and the Agg canvas, never
``pyplot``: no display, no global state, safe to call from any thread.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

LATENCY_CHART: Final = "latency_per_step.png"
COST_CHART: Final = "cost_per_1k.png"
VOLUME_CHART: Final = "cost_by_volume.png"
_PATTERNS: Final = (
    ("step-functions", "Step Functions"),
    ("durable-functions", "durable functions"),
)
_COLOURS: Final = {"step-functions": "#d95f02", "durable-functions": "#1b9e77"}
_COMPONENT_COLOURS: Final = {"orchestration": "#7570b3", "compute": "#e7298a", "storage": "#66a61e"}
_DPI: Final = 110


def _figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415
    from matplotlib.figure import Figure  # noqa: PLC0415 - matplotlib only when drawing

    figure = Figure(figsize=(width, height), dpi=_DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Any, path: Path) -> Path:
    # No timestamp in the PNG: the same report draws the same bytes.
    figure.savefig(path, format="png", metadata={"Software": None})
    return path


def _step_order(report: Mapping[str, Any]) -> list[str]:
    from albums.domain.step_timing import TIMED_STEPS  # noqa: PLC0415

    known = [*TIMED_STEPS, "review_wait"]
    present = set()
    for key, _ in _PATTERNS:
        present.update(report["patterns"][key]["per_step_s"])
    return [step for step in known if step in present]


def latency_chart(report: Mapping[str, Any], path: Path) -> Path:
    """Draw the median latency of every step of both patterns (horizontal bars)."""
    steps = _step_order(report)
    figure = _figure(8, 1.2 + 0.5 * max(1, len(steps)))
    axes = figure.add_subplot()
    height = 0.38
    for offset, (key, label) in enumerate(_PATTERNS):
        values = [report["patterns"][key]["per_step_s"].get(step, 0.0) for step in steps]
        positions = [index + (offset - 0.5) * height for index in range(len(steps))]
        bars = axes.barh(positions, values, height=height, label=label, color=_COLOURS[key])
        axes.bar_label(bars, fmt="%.2f", padding=2, fontsize=8)
    axes.set_yticks(range(len(steps)), [step.replace("_", " ") for step in steps])
    axes.invert_yaxis()
    axes.set_xlabel("median seconds (review wait: the reviewer's time, not orchestration)")
    axes.set_title(f"Per-step latency ({report['mode']} mode, {report['uploads']} uploads)")
    axes.legend(loc="lower right")
    axes.grid(axis="x", alpha=0.3)
    return _save(figure, path)


def cost_chart(report: Mapping[str, Any], path: Path) -> Path:
    """Draw the cost of 1,000 workflows of each pattern, stacked by component."""
    figure = _figure(6.5, 4.5)
    axes = figure.add_subplot()
    labels = [label for _, label in _PATTERNS]
    bottoms = [0.0 for _ in _PATTERNS]
    for component, colour in _COMPONENT_COLOURS.items():
        values = [report["patterns"][key]["cost_per_1k_usd"][component] for key, _ in _PATTERNS]
        axes.bar(labels, values, bottom=bottoms, label=component, color=colour, width=0.55)
        bottoms = [bottom + value for bottom, value in zip(bottoms, values, strict=True)]
    for index, total in enumerate(bottoms):
        axes.annotate(
            f"${total:.4f}",
            (index, total),
            ha="center",
            va="bottom",
            xytext=(0, 3),
            textcoords="offset points",
        )
    axes.set_ylabel("USD per 1,000 workflows")
    axes.set_ylim(0, max([*bottoms, 1e-9]) * 1.2)
    axes.set_title(f"Cost per 1,000 workflows (prices as of {report['prices_as_of']})")
    axes.legend()
    axes.grid(axis="y", alpha=0.3)
    return _save(figure, path)


def volume_chart(report: Mapping[str, Any], path: Path) -> Path:
    """Draw a month's cost of each pattern as volume grows, and its cost per 1,000 workflows.

    Left: total USD per month (log-log). Right: USD per 1,000 workflows at that volume,
    where the free tiers show (they cover a larger share of a small month).
    """
    volume = report["volume"]
    figure = _figure(11, 4.5)
    total_axes, unit_axes = figure.subplots(1, 2)
    for key, label in _PATTERNS:
        rows: Sequence[Mapping[str, Any]] = volume.get(key, [])
        points = [(row["workflows_per_month"], row["total"]) for row in rows if row["total"] > 0]
        if not points:
            continue
        xs, ys = zip(*points, strict=True)
        total_axes.plot(xs, ys, marker="o", label=label, color=_COLOURS[key])
        unit_axes.plot(
            xs,
            [total / workflows * 1000 for workflows, total in points],
            marker="o",
            label=label,
            color=_COLOURS[key],
        )
    total_axes.set_yscale("log")
    total_axes.set_ylabel("USD per month")
    total_axes.set_title("A month's cost (free tiers included)")
    unit_axes.set_ylabel("USD per 1,000 workflows")
    unit_axes.set_ylim(bottom=0)
    unit_axes.set_title("Cost per 1,000 workflows at that volume")
    for axes in (total_axes, unit_axes):
        axes.set_xscale("log")
        axes.set_xlabel("workflows per month")
        if axes.get_legend_handles_labels()[0]:  # no executions in the window: no lines
            axes.legend()
        axes.grid(which="both", alpha=0.3)
    return _save(figure, path)


def write_charts(folder: Path, report: Mapping[str, Any]) -> list[Path]:
    """Draw the three charts into ``folder``; return their paths."""
    return [
        latency_chart(report, folder / LATENCY_CHART),
        cost_chart(report, folder / COST_CHART),
        volume_chart(report, folder / VOLUME_CHART),
    ]
