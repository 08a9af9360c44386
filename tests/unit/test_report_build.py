"""The comparison report built from a dataset: figures, costs, volume table, files."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from albums.domain.cost import VOLUME_STEPS, load_price_table
from albums.domain.models import ExecutionStatus, WorkflowType
from albums.domain.step_timing import StepTimings
from albums.domain.storage_estimate import RequestUnits
from albums_cli.report import (
    ComputeTotals,
    Dataset,
    ExecutionSample,
    PatternData,
    ReportError,
    RunInfo,
    build_report,
    percentile,
    since_from_text,
    write_report,
)
from albums_cli.report_markdown import render_markdown

SF = WorkflowType.STEP_FUNCTIONS
LDF = WorkflowType.DURABLE_FUNCTIONS
PRICES = load_price_table()
RUN = RunInfo(
    mode="local",
    vision="local-stand-in",
    uploads=4,
    vision_latency_s=1.5,
    price_latency_s=0.4,
    fail_rate=0.0,
)
UNITS = RequestUnits(write_units=Decimal(51), read_units=Decimal(1))


def timings(duration: float, review: float) -> StepTimings:
    rest = duration - review - 2.2
    return StepTimings(
        duration_s=duration,
        steps_s={
            "AcceptUpload": 0.1,
            "ProcessImage": 1.6,
            "WaitForValidation": review + 0.1,
            "EstimatePrices": 0.4,
            "StoreResults": rest,
        },
        review_wait_s=review,
        estimate_run_s=(0.4, 0.41),
    )


def sample(
    pattern: WorkflowType,
    number: int,
    duration: float,
    *,
    status: ExecutionStatus = ExecutionStatus.COMPLETED,
) -> ExecutionSample:
    durable = pattern is LDF
    return ExecutionSample(
        execution_id=f"{pattern.tenant}-run{number}",
        upload_id=f"upload-{number}",
        status=status,
        albums_priced=6 if status is ExecutionStatus.COMPLETED else 0,
        duration_s=duration,
        timings=timings(duration, review=0.5),
        orchestration_units=16 if durable else 14,
        replays=1 if durable else 0,
        durable_bytes_written=8192 if durable else 0,
        lambda_requests=2 if durable else None,
        lambda_gb_seconds=Decimal("2.5") if durable else None,
        request_units=UNITS,
    )


def dataset(samples_per_pattern: int = 4) -> Dataset:
    durations = [3.0, 4.0, 5.0, 6.0][:samples_per_pattern]
    sf = tuple(sample(SF, n, d) for n, d in enumerate(durations))
    ldf = tuple(sample(LDF, n, d + 1) for n, d in enumerate(durations))
    return Dataset(
        run=RUN,
        patterns={
            SF: PatternData(SF, sf, ComputeTotals(Decimal(4) * len(sf), 12 * len(sf), "registry")),
            LDF: PatternData(LDF, ldf, ComputeTotals(Decimal("2.5") * len(ldf), 2 * len(ldf), "x")),
        },
        equivalent=True,
        prices=PRICES,
    )


def test_report_has_every_field_issue_6_asks_for_and_survives_json() -> None:
    report = build_report(dataset())

    assert {"mode", "vision", "uploads", "prices_as_of", "equivalent", "patterns"} <= set(report)
    assert report["prices_as_of"] == PRICES.as_of.isoformat()
    common = {
        "executions",
        "completed",
        "failed",
        "albums_priced",
        "latency_s",
        "per_step_s",
        "lambda_gb_seconds_per_workflow",
        "cost_per_1k_usd",
    }
    sf, ldf = report["patterns"]["step-functions"], report["patterns"]["durable-functions"]
    assert common | {"transitions_per_workflow"} <= set(sf)
    assert common | {"durable_operations_per_workflow", "replays_per_workflow"} <= set(ldf)
    for figures in (sf, ldf):
        assert set(figures["latency_s"]) == {"p50", "p95"}
        assert set(figures["cost_per_1k_usd"]) == {"orchestration", "compute", "storage", "total"}
    assert json.loads(json.dumps(report)) == report


def test_outcomes_latency_percentiles_and_per_step_medians() -> None:
    sf = build_report(dataset())["patterns"]["step-functions"]

    assert (sf["executions"], sf["completed"], sf["failed"], sf["albums_priced"]) == (4, 4, 0, 24)
    assert sf["latency_s"] == {"p50": 4.5, "p95": 5.85}
    assert sf["latency_excluding_review_s"] == {"p50": 4.0, "p95": 5.35}
    steps = sf["per_step_s"]
    assert steps["ProcessImage"] == 1.6
    assert steps["WaitForValidation"] == 0.1  # the review wait is taken out ...
    assert steps["review_wait"] == 0.5  # ... and reported on its own
    assert sf["estimate_run_s_median"] == 0.405


def test_orchestration_counts_and_compute_per_workflow() -> None:
    report = build_report(dataset())
    sf, ldf = report["patterns"]["step-functions"], report["patterns"]["durable-functions"]

    assert sf["transitions_per_workflow"] == 14.0
    assert ldf["durable_operations_per_workflow"] == 16.0
    assert ldf["replays_per_workflow"] == 1.0
    assert sf["lambda_gb_seconds_per_workflow"] == 4.0
    assert ldf["lambda_requests_per_workflow"] == 2.0


def test_cost_per_1k_workflows_by_component_from_the_price_table() -> None:
    report = build_report(dataset())
    sf = report["patterns"]["step-functions"]["cost_per_1k_usd"]
    ldf = report["patterns"]["durable-functions"]["cost_per_1k_usd"]

    # 14 transitions at $0.025 per 1,000.
    assert sf["orchestration"] == pytest.approx(0.35)
    # 4 GB-s at $0.0000133334 and 12 requests at $0.20 per million, per workflow.
    assert sf["compute"] == pytest.approx(1000 * (4 * 0.0000133334 + 12 * 0.0000002), abs=1e-7)
    # 51 write units at $0.625 and 1 read unit at $0.125 per million.
    assert sf["storage"] == pytest.approx(1000 * (51 * 0.625 + 0.125) / 1e6)
    written_gb = 8192 / 2**30
    expected = 16 * 8.0 / 1e6 + written_gb * 0.25 + written_gb * 14 / 30 * 0.15
    assert ldf["orchestration"] == pytest.approx(1000 * expected, abs=1e-7)
    for cost in (sf, ldf):
        assert cost["total"] == pytest.approx(
            cost["orchestration"] + cost["compute"] + cost["storage"], abs=1e-7
        )
        assert cost["total"] > 0


def test_volume_table_prices_a_month_with_free_tiers() -> None:
    volume = build_report(dataset())["volume"]

    assert volume["workflows_per_month"] == list(VOLUME_STEPS)
    sf_rows = volume["step-functions"]
    assert [row["workflows_per_month"] for row in sf_rows] == list(VOLUME_STEPS)
    # 14,000 transitions a month, 4,000 free; 4,000 GB-s and 12,000 requests are free.
    assert sf_rows[0]["orchestration"] == pytest.approx(10_000 * 0.000025)
    assert sf_rows[0]["compute"] == 0
    # At 10M the free tier is a rounding error: the month costs 10,000x 1,000 workflows.
    per_1k = build_report(dataset())["patterns"]["step-functions"]["cost_per_1k_usd"]["total"]
    assert sf_rows[-1]["total"] == pytest.approx(per_1k * 10_000, rel=0.01)
    for key in ("step-functions", "durable-functions"):
        totals = [row["total"] for row in volume[key]]
        assert totals == sorted(totals)
        assert totals[0] > 0


def test_a_pattern_without_executions_still_builds_a_report() -> None:
    full = dataset()
    empty = Dataset(
        run=RUN,
        patterns={
            SF: full.patterns[SF],
            LDF: PatternData(LDF, (), ComputeTotals(Decimal(0), 0, "")),
        },
        equivalent=False,
        differences=("upload-0",),
        prices=PRICES,
    )

    report = build_report(empty)

    ldf = report["patterns"]["durable-functions"]
    assert ldf["executions"] == 0
    assert ldf["latency_s"] == {"p50": None, "p95": None}
    assert report["volume"]["durable-functions"] == []
    assert report["equivalent"] is False
    assert report["differences"] == ["upload-0"]


def test_a_dataset_needs_both_patterns() -> None:
    with pytest.raises(ReportError, match="no data for durable-functions"):
        Dataset(run=RUN, patterns={SF: dataset().patterns[SF]}, equivalent=True, prices=PRICES)


def test_run_info_refuses_an_unknown_mode() -> None:
    with pytest.raises(ReportError, match="mode must be"):
        RunInfo(mode="cloud", vision="x", uploads=1)


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [([], 50, None), ([2.0], 95, 2.0), ([1.0, 2.0, 3.0, 4.0], 50, 2.5), ([1.0, 3.0], 95, 2.9)],
)
def test_percentile_interpolates_linearly(
    values: list[float], q: float, expected: float | None
) -> None:
    assert percentile(values, q) == pytest.approx(expected)


def test_since_accepts_an_age_or_an_iso_time_and_refuses_anything_else() -> None:
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

    assert since_from_text("24h", now=now) == now - timedelta(hours=24)
    assert since_from_text("7d", now=now) == now - timedelta(days=7)
    assert since_from_text("2026-11-01T00:00:00Z") == datetime(2026, 11, 1, tzinfo=UTC)
    assert since_from_text("2026-11-01") == datetime(2026, 11, 1, tzinfo=UTC)
    with pytest.raises(ReportError, match="neither an ISO-8601 time nor an age"):
        since_from_text("last week")


def test_write_report_writes_json_markdown_and_three_png_charts(tmp_path: Path) -> None:
    report = build_report(dataset())

    paths = write_report(tmp_path / "report", report)

    names = [path.name for path in paths]
    assert names == [
        "report.json",
        "report.md",
        "latency_per_step.png",
        "cost_per_1k.png",
        "cost_by_volume.png",
    ]
    assert json.loads(paths[0].read_text()) == report
    for chart in paths[2:]:
        assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    markdown = paths[1].read_text()
    for heading in (
        "## Side by side",
        "## Per step",
        "## Cost per 1,000 workflows",
        "## Cost as volume grows",
        "## What drives each difference",
        "## How the numbers were obtained",
    ):
        assert heading in markdown
    assert "| transitions / billable durable operations per workflow | 14.0 | 16.0 |" in markdown
    assert "**Simulated**" in markdown
    assert "vision: the local stand-in (sample photos), 1.5 s per call" in markdown
    # 0.4 s price phase for 0.4 s calls: the engines ran the six calls at once.
    assert "the local engine ran them at once" in markdown
    assert "![cost_by_volume](cost_by_volume.png)" in markdown


def test_a_deployed_report_says_nothing_is_simulated() -> None:
    deployed = Dataset(
        run=RunInfo(mode="deployed", vision="anthropic.claude", uploads=4, since="2026-11-01"),
        patterns=dataset().patterns,
        equivalent=True,
        prices=PRICES,
    )

    markdown = render_markdown(build_report(deployed))

    assert "deployed environment" in markdown
    assert "**Simulated**" not in markdown
    assert "executions created since 2026-11-01" in markdown


def test_write_report_into_an_unwritable_place_is_a_report_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")

    with pytest.raises(ReportError, match="cannot write the report"):
        write_report(blocker / "report", build_report(dataset()))


@pytest.mark.parametrize(
    ("price_latency_s", "fail_rate", "expected", "absent"),
    [
        (0.05, 0.0, "the local engine ran them one after the other", "Retried price calls"),
        (0.1, 0.0, "the local engine ran them one after the other", "Retried price calls"),
        (0.2, 0.0, "the local engine ran them at once", "Retried price calls"),
        (0.4, 0.3, "Retried price calls lengthen the price phase", "the local engine ran"),
    ],
)
def test_markdown_reads_the_price_phase_only_when_nothing_was_retried(
    price_latency_s: float, fail_rate: float, expected: str, absent: str
) -> None:
    run = RunInfo(
        mode="local",
        vision="local-stand-in",
        uploads=4,
        vision_latency_s=1.5,
        price_latency_s=price_latency_s,
        fail_rate=fail_rate,
    )
    data = Dataset(run=run, patterns=dataset().patterns, equivalent=True, prices=PRICES)

    markdown = render_markdown(build_report(data))

    assert expected in markdown
    assert absent not in markdown
    assert ("skips the ASL Retry backoff" in markdown) is bool(fail_rate)
