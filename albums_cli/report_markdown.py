"""``report.md``: the comparison report as Markdown, from ``report.json``'s content.

A side-by-side table, the median seconds per step, the cost breakdown and the cost as
volume grows, what drives each difference (sentences built from the figures), how the
numbers were obtained, and what local mode can and cannot show.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from albums.domain.step_timing import TIMED_STEPS
from albums.workflow_contract import Step
from albums_cli.dataset import LABELS, LDF, SF, ran_at_once

#: The per-step entry that holds the reviewer's time (not a workflow step of its own).
REVIEW_WAIT: Final = "review_wait"


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _row(label: str, left: Any, right: Any) -> str:
    return f"| {label} | {left} | {right} |"


def _side_by_side(sf: Mapping[str, Any], ldf: Mapping[str, Any]) -> list[str]:
    lines = [
        "| | Step Functions | durable functions |",
        "|---|---:|---:|",
        _row("executions", sf["executions"], ldf["executions"]),
        _row("completed", sf["completed"], ldf["completed"]),
        _row("failed", sf["failed"], ldf["failed"]),
        _row("albums priced", sf["albums_priced"], ldf["albums_priced"]),
    ]
    for key, label in (
        ("latency_s", "latency"),
        ("latency_excluding_review_s", "latency without the review wait"),
    ):
        for q in ("p50", "p95"):
            lines.append(_row(f"{label} {q} (s)", _fmt(sf[key][q]), _fmt(ldf[key][q])))
    lines += [
        _row(
            "transitions / billable durable operations per workflow",
            _fmt(sf["transitions_per_workflow"], 1),
            _fmt(ldf["durable_operations_per_workflow"], 1),
        ),
        _row("replays per workflow", "-", _fmt(ldf["replays_per_workflow"], 1)),
        _row(
            "Lambda requests per workflow",
            _fmt(sf["lambda_requests_per_workflow"], 1),
            _fmt(ldf["lambda_requests_per_workflow"], 1),
        ),
        _row(
            "Lambda invocations for table writes per workflow",
            _fmt(sf.get("lambda_invocations_for_table_writes_per_workflow"), 1),
            "-",
        ),
        _row(
            "Lambda GB-seconds per workflow",
            _fmt(sf["lambda_gb_seconds_per_workflow"], 3),
            _fmt(ldf["lambda_gb_seconds_per_workflow"], 3),
        ),
        _row(
            "cost per 1,000 workflows (USD)",
            _fmt(sf["cost_per_1k_usd"]["total"], 4),
            _fmt(ldf["cost_per_1k_usd"]["total"], 4),
        ),
    ]
    return lines


def _per_step_table(sf: Mapping[str, Any], ldf: Mapping[str, Any]) -> list[str]:
    steps = [s for s in [*TIMED_STEPS, REVIEW_WAIT] if s in sf or s in ldf]
    lines = ["| step (median s) | Step Functions | durable functions |", "|---|---:|---:|"]
    lines += [_row(step, _fmt(sf.get(step), 3), _fmt(ldf.get(step), 3)) for step in steps]
    return lines


def _cost_table(sf: Mapping[str, Any], ldf: Mapping[str, Any]) -> list[str]:
    lines = [
        "| per 1,000 workflows (USD) | Step Functions | durable functions |",
        "|---|---:|---:|",
    ]
    for part in ("orchestration", "compute", "storage", "total"):
        lines.append(_row(part, _fmt(sf[part], 4), _fmt(ldf[part], 4)))
    return lines


def _volume_lines(volume: Mapping[str, Any]) -> list[str]:
    sf_rows = {row["workflows_per_month"]: row for row in volume.get(SF.value, [])}
    ldf_rows = {row["workflows_per_month"]: row for row in volume.get(LDF.value, [])}
    lines = [
        "| workflows / month | Step Functions (USD) | durable functions (USD) |",
        "|---:|---:|---:|",
    ]
    for workflows in volume["workflows_per_month"]:
        left, right = sf_rows.get(workflows), ldf_rows.get(workflows)
        lines.append(
            f"| {workflows:,} | {_fmt(left['total'] if left else None)} | "
            f"{_fmt(right['total'] if right else None)} |"
        )
    return lines


def _ratio(left: float, right: float) -> str:
    if not left or not right:
        return "n/a"
    return f"{max(left, right) / min(left, right):.1f}x"


def _drivers(report: Mapping[str, Any]) -> list[str]:
    """Sentences on what drives each difference, from the figures themselves."""
    sf, ldf = report["patterns"][SF.value], report["patterns"][LDF.value]
    sf_cost, ldf_cost = sf["cost_per_1k_usd"], ldf["cost_per_1k_usd"]
    cheaper = LABELS[SF] if sf_cost["total"] <= ldf_cost["total"] else LABELS[LDF]
    lines = [
        f"- **Total**: {cheaper} is cheaper here ({_ratio(sf_cost['total'], ldf_cost['total'])}"
        " per workflow).",
        f"- **Orchestration** ({_ratio(sf_cost['orchestration'], ldf_cost['orchestration'])}): "
        f"Step Functions bills every state transition ({sf['transitions_per_workflow']:.1f} per "
        "workflow at $0.025 per 1,000; each Map iteration's states and every retry count); "
        f"durable functions bill operations ({ldf['durable_operations_per_workflow']:.1f} per "
        "workflow at $8.00 per million; the wait for the reviewer is 3, each retry 1) plus "
        f"{ldf.get('checkpoint_bytes_per_workflow', 0):,.0f} bytes of checkpoint data written "
        "and retained per workflow.",
        f"- **Compute** ({_ratio(sf_cost['compute'], ldf_cost['compute'])}): Step Functions "
        "runs Lambdas only where code must run, the vision call, the reviewer's notification "
        f"and the six prices ({sf['lambda_requests_per_workflow']:.1f} requests, "
        f"{sf['lambda_gb_seconds_per_workflow']:.3f} GB-s per workflow): the image processor "
        "is billed while the vision model answers and each of the six price Lambdas while "
        "its price call answers; its table writes are direct DynamoDB integrations "
        f"({_fmt(sf.get('lambda_invocations_for_table_writes_per_workflow'), 1)} Lambda "
        "invocations for them), paid as state transitions only. The durable orchestrator is "
        "one function "
        f"({ldf['lambda_requests_per_workflow']:.1f} invocations, "
        f"{ldf['lambda_gb_seconds_per_workflow']:.3f} GB-s per workflow): it is billed for the "
        "vision wait too, but the six price calls run concurrently inside one invocation, "
        f"and each of its {ldf['replays_per_workflow']:.1f} replays re-runs the handler up to "
        "where it stopped (completed steps are read from checkpoints, not re-run). Neither "
        "pays compute while waiting for the reviewer.",
        "- **Storage**: both patterns write the same items, so DynamoDB costs the same within "
        "item-size differences "
        f"({sf['dynamodb_write_units_per_workflow']:.0f} vs "
        f"{ldf['dynamodb_write_units_per_workflow']:.0f} write units per workflow).",
        "- **Design trade-off**: the state machine builds its items in JSONata and the durable "
        "function through the Python records (albums.domain.records), so the item shapes are "
        "declared twice; the equivalence tests compare every stored item of both patterns "
        "field for field, and run the key rules of both over the whole key corpus.",
    ]
    steps = {
        step: (sf["per_step_s"].get(step), ldf["per_step_s"].get(step)) for step in TIMED_STEPS
    }
    gaps = sorted(
        (
            (abs(a - b), step, a, b)
            for step, (a, b) in steps.items()
            if a is not None and b is not None
        ),
        reverse=True,
    )[:3]
    if gaps:
        described = "; ".join(f"{step} {a:.3f} s vs {b:.3f} s" for _, step, a, b in gaps)
        lines.append(
            "- **Latency**: the largest per-step differences (Step Functions vs durable, "
            f"median) are {described}. Time between steps (a state transition, a "
            "checkpoint, a replay) is counted in the step that follows it. Pausing for "
            "the reviewer differs by design: Step Functions keeps the waiting state and "
            "resumes it when the task token is answered; the durable function ends its "
            "invocation and the answer starts a new one that replays the handler up to "
            "the wait (WaitForValidation holds that resume, the review wait itself is "
            "reported apart)."
        )
    return lines


def _price_phase_lines(report: Mapping[str, Any]) -> list[str]:
    """Say whether each engine ran the six price calls at once, from the figures."""
    settings = report["settings"]
    call = settings.get("price_latency_s") or 0
    if not call:
        return []
    if settings.get("fail_rate"):
        return [
            "- Retried price calls lengthen the price phase, so it does not show here "
            "whether the six calls ran at once; `make bench` measures that without failures."
        ]
    lines = []
    for key, label in ((SF.value, LABELS[SF]), (LDF.value, LABELS[LDF])):
        phase = report["patterns"][key]["per_step_s"].get(Step.ESTIMATE_PRICES.value)
        if phase is None:
            continue
        how = "at once" if ran_at_once(phase, call) else "one after the other"
        lines.append(
            f"- {label}: the price phase took {phase:.2f} s (median) for six calls of "
            f"{call:g} s each: the local engine ran them {how}."
        )
    return lines


def _caveats(report: Mapping[str, Any]) -> list[str]:
    if report["mode"] != "local":
        return [
            "- Per-step times come from the services' own history timestamps; durable "
            "step starts are checkpointed asynchronously, so every step is timed from the "
            "previous step's end to its own end in both patterns.",
        ]
    lines = [
        "- Local latency is not AWS latency: moto runs the state machine and the testing "
        "runner runs the durable function in this process, on this machine's cores, "
        "with no network hop between orchestrator and functions. What local mode shows "
        "is the shape (which steps wait, what runs in parallel, what each pattern "
        "counts and bills), not AWS's absolute overheads.",
        "- The durable runner timestamps a checkpoint when it processes it; step ends "
        "are synchronous checkpoints, so both patterns are timed from step end to step "
        "end.",
        "- The reviewer answers both patterns' tasks one after the other as soon as "
        "they are ready, so the review wait differs by pattern; it is reported on its "
        "own and left out of the per-step human validation time.",
    ]
    lines += _price_phase_lines(report)
    if report["settings"].get("fail_rate"):
        lines.append(
            "- With injected failures, local Step Functions skips the ASL Retry backoff "
            "(moto's sleep is patched to 0) while the durable runner adds each backoff "
            "to its clock as AWS would wait it: durable latencies include the backoff, "
            "Step Functions latencies do not."
        )
    return lines


def render_markdown(report: Mapping[str, Any], charts: Sequence[Path] = ()) -> str:
    """Return ``report.md`` for a report built by :func:`build_report`."""
    sf, ldf = report["patterns"][SF.value], report["patterns"][LDF.value]
    settings = report["settings"]
    title = "local mode" if report["mode"] == "local" else "deployed environment"
    lines = [
        f"# Step Functions vs durable functions — {title}",
        "",
        f"- vision: `{report['vision']}`"
        + (
            " (the local stand-in reading sample photos, not Bedrock)"
            if report["mode"] == "local"
            else ""
        ),
        f"- uploads: {report['uploads']}; prices as of {report['prices_as_of']}",
    ]
    if report["mode"] == "local":
        lines.append(
            f"- simulated latency: vision {_fmt(settings['vision_latency_s'])} s, price "
            f"{_fmt(settings['price_latency_s'])} s per call; injected price failure rate "
            f"{_fmt(settings['fail_rate'])}"
        )
    else:
        lines.append(f"- executions created since {settings['since']}")
    verdict = "yes" if report["equivalent"] else "**NO**"
    lines += [
        f"- both patterns stored the same albums and prices for every upload: {verdict}",
        "",
        "## Side by side",
        "",
        *_side_by_side(sf, ldf),
        "",
        "## Per step",
        "",
        *_per_step_table(sf["per_step_s"], ldf["per_step_s"]),
        "",
        "## Cost per 1,000 workflows",
        "",
        *_cost_table(sf["cost_per_1k_usd"], ldf["cost_per_1k_usd"]),
        "",
        "## Cost as volume grows (a month, free tiers included)",
        "",
        *_volume_lines(report["volume"]),
        "",
        "## What drives each difference",
        "",
        *_drivers(report),
        "",
        "## How the numbers were obtained",
        "",
    ]
    method = report["method"]
    for kind in ("measured", "simulated", "estimated"):
        if method.get(kind):
            lines.append(f"**{kind.capitalize()}**")
            lines.append("")
            lines += [f"- {item}" for item in method[kind]]
            lines.append("")
    lines += [
        "**What local mode can and cannot show**" if report["mode"] == "local" else "**Caveats**",
        "",
        *_caveats(report),
    ]
    if report["differences"]:
        lines += ["", "Uploads on which the patterns differ: " + ", ".join(report["differences"])]
    if charts:
        lines += ["", "## Charts", ""]
        lines += [f"![{path.stem}]({path.name})" for path in charts]
    return "\n".join(lines) + "\n"
