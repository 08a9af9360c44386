"""The comparison report: figures from a :class:`~albums_cli.dataset.Dataset`, written out.

- :func:`build_report`: plain JSON with the figures of issue 6 (``report.json``): per
  pattern executions, outcomes, latency percentiles, median seconds per workflow step,
  transitions or durable operations and replays, Lambda GB-seconds, the cost per 1,000
  workflows by component; and a month's cost at each volume of
  :data:`albums.domain.cost.VOLUME_STEPS` with the free tiers.
- :func:`write_report`: ``report.json``, ``report.md`` (:mod:`albums_cli.report_markdown`)
  and the PNG charts (:mod:`albums_cli.charts`).

The data comes from :func:`collect_local` (local mode, re-exported here for the demo) or
:func:`collect_deployed` (a deployed environment).
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

from albums.domain.cost import (
    VOLUME_STEPS,
    CostBreakdown,
    PriceTable,
    WorkflowUsage,
    monthly_cost,
    workflow_cost,
)
from albums.domain.models import ExecutionStatus
from albums.domain.step_timing import TIMED_STEPS
from albums.workflow_contract import Step
from albums_cli.dataset import (
    LABELS,
    LDF,
    PATTERNS,
    SF,
    ComputeTotals,
    Dataset,
    ExecutionSample,
    PatternData,
    ReportError,
    RunInfo,
    collect_local,
)
from albums_cli.deployed_report import collect_deployed
from albums_cli.report_markdown import REVIEW_WAIT, render_markdown

__all__ = [
    "ComputeTotals",
    "Dataset",
    "ExecutionSample",
    "PatternData",
    "ReportError",
    "RunInfo",
    "build_report",
    "collect_deployed",
    "collect_local",
    "write_report",
]

#: Files :func:`write_report` writes besides the charts.
REPORT_JSON: Final = "report.json"
REPORT_MD: Final = "report.md"
_ENDED_OK: Final = frozenset({ExecutionStatus.COMPLETED, ExecutionStatus.COMPLETED_WITH_ERRORS})


def percentile(values: Sequence[float], q: float) -> float | None:
    """Return the ``q``-th percentile (0..100, linear interpolation), ``None`` when empty."""
    if not 0 <= q <= 100:
        raise ReportError(f"percentile must be 0..100, got {q}")
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    lower, upper = math.floor(position), math.ceil(position)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _usd(value: Decimal) -> float:
    return float(value.quantize(Decimal("0.00000001")))


def _breakdown(cost: CostBreakdown, factor: Decimal = Decimal(1)) -> dict[str, float]:
    return {
        "orchestration": _usd(cost.orchestration * factor),
        "compute": _usd(cost.compute * factor),
        "storage": _usd(cost.storage * factor),
        "total": _usd(cost.total * factor),
    }


def total_usage(data: PatternData) -> WorkflowUsage:
    """Return the usage of every sample of a pattern together (its whole run)."""
    samples = data.samples
    units = [s.request_units for s in samples if s.request_units is not None]
    return WorkflowUsage(
        state_transitions=sum(s.orchestration_units for s in samples) if data.pattern is SF else 0,
        durable_operations=(
            sum(s.orchestration_units for s in samples) if data.pattern is LDF else 0
        ),
        durable_bytes_written=sum(s.durable_bytes_written for s in samples),
        lambda_gb_seconds=data.compute.gb_seconds,
        lambda_requests=data.compute.requests,
        dynamodb_write_units=sum((u.write_units for u in units), Decimal(0)),
        dynamodb_read_units=sum((u.read_units for u in units), Decimal(0)),
    )


def _month_usage(total: WorkflowUsage, executions: int, workflows: int) -> WorkflowUsage:
    """Scale a run's usage to ``workflows`` (counts rounded to whole units)."""
    factor = Decimal(workflows) / executions

    def count(value: int) -> int:
        return int((value * factor).to_integral_value())

    return WorkflowUsage(
        state_transitions=count(total.state_transitions),
        durable_operations=count(total.durable_operations),
        durable_bytes_written=count(total.durable_bytes_written),
        durable_retention_days=total.durable_retention_days,
        lambda_gb_seconds=total.lambda_gb_seconds * factor,
        lambda_requests=count(total.lambda_requests),
        dynamodb_write_units=total.dynamodb_write_units * factor,
        dynamodb_read_units=total.dynamodb_read_units * factor,
    )


def _per_step(samples: Sequence[ExecutionSample]) -> dict[str, float]:
    """Median seconds per step over the samples that ran it (review wait on its own)."""
    collected: dict[str, list[float]] = {}
    for sample in samples:
        if sample.timings is None:
            continue
        for step, seconds in sample.timings.steps_excluding_review_s.items():
            collected.setdefault(step, []).append(seconds)
        if sample.timings.review_wait_s or Step.WAIT_FOR_VALIDATION in sample.timings.steps_s:
            collected.setdefault(REVIEW_WAIT, []).append(sample.timings.review_wait_s)
    order = [*TIMED_STEPS, REVIEW_WAIT]
    return {
        step: round(statistics.median(collected[step]), 4) for step in order if step in collected
    }


def _mean(values: Sequence[float]) -> float:
    return round(statistics.fmean(values), 4) if values else 0.0


def pattern_figures(data: PatternData, prices: PriceTable) -> dict[str, Any]:
    """Return one pattern's entry of ``report.json`` (see the module docstring)."""
    samples = data.samples
    count = len(samples)
    durations = [s.duration_s for s in samples]
    active = [s.timings.active_s if s.timings else s.duration_s for s in samples]
    estimates = [e for s in samples if s.timings for e in s.timings.estimate_run_s]
    usage = total_usage(data)
    figures: dict[str, Any] = {
        "executions": count,
        "completed": sum(1 for s in samples if s.status in _ENDED_OK),
        "completed_with_errors": sum(
            1 for s in samples if s.status is ExecutionStatus.COMPLETED_WITH_ERRORS
        ),
        "rejected": sum(1 for s in samples if s.status is ExecutionStatus.REJECTED),
        "failed": sum(1 for s in samples if s.status is ExecutionStatus.FAILED),
        "albums_priced": sum(s.albums_priced for s in samples),
        "latency_s": {
            "p50": _seconds(percentile(durations, 50)),
            "p95": _seconds(percentile(durations, 95)),
        },
        "latency_excluding_review_s": {
            "p50": _seconds(percentile(active, 50)),
            "p95": _seconds(percentile(active, 95)),
        },
        "per_step_s": _per_step(samples),
    }
    units = [float(s.orchestration_units) for s in samples]
    if data.pattern is SF:
        figures["transitions_per_workflow"] = _mean(units)
        figures["estimate_run_s_median"] = _seconds(percentile(estimates, 50))
        counted = [
            s.table_write_invocations for s in samples if s.table_write_invocations is not None
        ]
        figures["lambda_invocations_for_table_writes_per_workflow"] = (
            _mean([float(n) for n in counted]) if counted else None
        )
    else:
        figures["durable_operations_per_workflow"] = _mean(units)
        figures["replays_per_workflow"] = _mean([float(s.replays) for s in samples])
        figures["checkpoint_bytes_per_workflow"] = _mean(
            [float(s.durable_bytes_written) for s in samples]
        )
    per_workflow = Decimal(1) / count if count else Decimal(0)
    figures["lambda_gb_seconds_per_workflow"] = round(
        float(data.compute.gb_seconds * per_workflow), 4
    )
    figures["lambda_requests_per_workflow"] = round(float(data.compute.requests * per_workflow), 2)
    figures["dynamodb_write_units_per_workflow"] = round(
        float(usage.dynamodb_write_units * per_workflow), 2
    )
    cost = workflow_cost(usage, data.pattern, prices)
    figures["cost_per_1k_usd"] = _breakdown(cost, per_workflow * 1000)
    figures["compute_measured_as"] = data.compute.source
    return figures


def volume_table(dataset: Dataset) -> dict[str, Any]:
    """Return a month's cost of each pattern at every volume, free tiers included."""
    table: dict[str, Any] = {"workflows_per_month": list(VOLUME_STEPS), "free_tier": True}
    for pattern in PATTERNS:
        data = dataset.patterns[pattern]
        rows = []
        if data.samples:
            total = total_usage(data)
            for workflows in VOLUME_STEPS:
                month = _month_usage(total, len(data.samples), workflows)
                cost = monthly_cost(month, 1, pattern, dataset.prices, include_free_tier=True)
                rows.append({"workflows_per_month": workflows, **_breakdown(cost)})
        table[pattern.value] = rows
    return table


def _method(dataset: Dataset) -> dict[str, list[str]]:
    """Return what was measured, simulated and estimated (report.md and report.json)."""
    run = dataset.run
    measured = [
        "per-step and end-to-end latency: execution history timestamps of each pattern",
        "state transitions and billable durable operations, replays and checkpoint bytes: "
        "counted from each execution's history (the execution recorder's code)",
        *(f"Lambda compute, {LABELS[p]}: {dataset.patterns[p].compute.source}" for p in PATTERNS),
        "albums, prices and statuses: read back from the table",
    ]
    estimated = [
        "cost: measured counts x the dated price table (list prices, us-east-1)",
        "DynamoDB request units: the repository's writes per workflow at the stored item "
        "sizes (neither moto nor the histories report consumed capacity)",
    ]
    if run.mode == "deployed":
        return {"measured": measured, "simulated": [], "estimated": estimated}
    simulated = [
        f"vision: the local stand-in (sample photos), {run.vision_latency_s or 0:g} s per call",
        f"price source: the deterministic estimator, {run.price_latency_s or 0:g} s per call, "
        f"{(run.fail_rate or 0):.0%} of calls failing transiently",
        "Step Functions: moto executes the real ASL in-process; Lambda tasks run in-process",
        "durable functions: the SDK's testing runner runs the real handler in-process "
        "(real checkpoints and replays, no network between function and service)",
        "the reviewer: scripted answers, sent as soon as each task is ready",
    ]
    return {"measured": measured, "simulated": simulated, "estimated": estimated}


def build_report(dataset: Dataset) -> dict[str, Any]:
    """Return the report as plain JSON (what ``report.json`` holds).

    Top level: ``mode``, ``vision``, ``uploads``, ``prices_as_of``, ``equivalent``,
    ``differences``, ``settings``, ``patterns`` (``step-functions``,
    ``durable-functions``: see :func:`pattern_figures`), ``volume`` and ``method``.
    """
    run = dataset.run
    return {
        "mode": run.mode,
        "vision": run.vision,
        "uploads": run.uploads,
        "prices_as_of": dataset.prices.as_of.isoformat(),
        "equivalent": dataset.equivalent,
        "differences": list(dataset.differences),
        "settings": {
            "vision_latency_s": run.vision_latency_s,
            "price_latency_s": run.price_latency_s,
            "fail_rate": run.fail_rate,
            "since": run.since,
            "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        },
        "patterns": {
            pattern.value: pattern_figures(dataset.patterns[pattern], dataset.prices)
            for pattern in PATTERNS
        },
        "volume": volume_table(dataset),
        "method": _method(dataset),
    }


# --- writing the report -------------------------------------------------------------------


def write_report(out_dir: Path | str, report: Mapping[str, Any]) -> list[Path]:
    """Write ``report.json``, ``report.md`` and the charts into ``out_dir``; return the paths.

    Raises
    ------
    ReportError
        The folder cannot be created or written.
    """
    from albums_cli import charts  # noqa: PLC0415 - matplotlib only when writing

    folder = Path(out_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        json_path = folder / REPORT_JSON
        json_path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        written.append(json_path)
        chart_paths = charts.write_charts(folder, report)
        md_path = folder / REPORT_MD
        md_path.write_text(render_markdown(report, chart_paths), encoding="utf-8")
        written.append(md_path)
    except OSError as error:
        raise ReportError(f"cannot write the report into {folder}: {error}") from error
    return [*written, *chart_paths]


def since_from_text(text: str, *, now: datetime | None = None) -> datetime:
    """Parse ``--since``: an ISO-8601 time (UTC when no zone) or an age like ``24h``/``7d``.

    Raises
    ------
    ReportError
        The text is neither.
    """
    moment = now or datetime.now(UTC)
    units = {"m": 60, "h": 3600, "d": 86400}
    stripped = text.strip()
    if stripped[:-1].isdigit() and stripped[-1:] in units:
        return moment - timedelta(seconds=int(stripped[:-1]) * units[stripped[-1]])
    try:
        parsed = datetime.fromisoformat(stripped.replace("Z", "+00:00"))
    except ValueError:
        raise ReportError(
            f"--since {text!r} is neither an ISO-8601 time nor an age like 30m, 24h or 7d"
        ) from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
