"""``make bench`` end to end, scaled down: one local run, one handler, a tiny dist/."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from albums_cli import bench

pytestmark = pytest.mark.integration


def test_bench_writes_every_figure_against_its_goal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / "price_estimator.zip").write_bytes(b"z" * 1500)
    (dist / "shared_layer.zip").write_bytes(b"z" * 4000)
    (dist / "manifest.json").write_text(
        json.dumps(
            {
                "artifacts": [
                    {"file": "price_estimator.zip", "kind": "function"},
                    {"file": "shared_layer.zip", "kind": "layer"},
                ]
            }
        )
    )
    monkeypatch.setattr(bench, "handler_modules", lambda: ["price_estimator.handler"])
    out = io.StringIO()

    code = bench.main(
        [
            "--rounds=1",
            "--uploads=1",
            "--vision-latency=0.2",
            "--price-latency=0.3",
            "--import-runs=1",
            f"--dist={dist}",
            f"--out={tmp_path / 'bench'}",
        ],
        out=out,
    )

    assert code == 0
    results = json.loads((tmp_path / "bench" / "results.json").read_text())
    for key in ("step-functions", "durable-functions"):
        figures = results["patterns"][key]
        assert figures["completed"] == figures["executions"] == 1
        assert figures["e2e_latency_s_median"] >= 0.5
        assert figures["critical_path_s"] == pytest.approx(0.5)
        assert figures["overhead_ratio"] >= 1.0
        assert 0 < figures["parallel_efficiency"] <= 1.0
        assert figures["price_calls_concurrent"] is True
        assert figures["cost_per_1m_usd"] > 0
    assert results["patterns"]["step-functions"]["transitions_per_workflow"] == 14.0
    assert results["patterns"]["durable-functions"]["durable_operations_per_workflow"] == 16.0
    assert results["handler_imports"]["price_estimator.handler"]["median_ms"] > 0
    assert [a["bytes"] for a in results["artifacts"]] == [1500, 4000]
    sf = results["patterns"]["step-functions"]
    assert sf["lambda_requests_per_workflow"] == 8.0  # vision, the notifier, six prices
    assert sf["lambda_invocations_for_table_writes_per_workflow"] == 0.0
    # Overhead and parallelism per pattern, the four orchestration figures, one import,
    # two artifacts.
    assert len(results["goals"]) == 4 + 4 + 1 + 2
    orchestration = {
        (goal["figure"], goal["subject"]): goal["pass"]
        for goal in results["goals"]
        if goal["figure"].endswith("per workflow")
    }
    assert orchestration == {
        ("state transitions per workflow", "step-functions"): True,
        ("billable durable operations per workflow", "durable-functions"): True,
        ("Lambda requests per workflow", "step-functions"): True,
        ("Lambda invocations for table writes per workflow", "step-functions"): True,
    }
    assert (tmp_path / "bench" / "report" / "report.json").exists()
    text = out.getvalue()
    assert "overhead ratio" in text
    assert "goals met" in text
