"""The local main job end to end: sample uploads through both patterns, and the report."""

from __future__ import annotations

import io
import json
import re
import threading
import time
from pathlib import Path

import pytest

from albums_cli.main import main
from localmode.demo import DemoOptions, LocalRun, run_local
from localmode.validation_server import ReviewClient


@pytest.mark.integration
def test_demo_runs_both_patterns_to_completion_and_writes_the_report(tmp_path: Path) -> None:
    out = io.StringIO()
    # Small simulated latencies and a fail rate: timings mean something and retries happen.
    options = DemoOptions(uploads=2, vision_latency_s=0.2, price_latency_s=0.05, fail_rate=0.3)
    run = run_local(options, out_dir=tmp_path, out=out)

    assert run.succeeded
    report = json.loads((tmp_path / "report.json").read_text())
    assert report == run.report
    assert report["mode"] == "local"
    assert report["vision"] == "local-stand-in"
    assert report["uploads"] == 2
    assert report["equivalent"] is True
    for name in ("step-functions", "durable-functions"):
        figures = report["patterns"][name]
        assert figures["executions"] == figures["completed"] == 2
        assert figures["failed"] == 0
        assert figures["albums_priced"] == 12
        # The simulated vision call alone takes 0.2 s of every run.
        assert figures["latency_s"]["p95"] >= figures["latency_s"]["p50"] >= 0.2
        assert figures["cost_per_1k_usd"]["total"] > 0
    assert 0 < report["patterns"]["step-functions"]["transitions_per_workflow"] <= 20
    assert 0 < report["patterns"]["durable-functions"]["durable_operations_per_workflow"] <= 20
    for path in run.report_paths:
        assert path.stat().st_size > 0
    assert {p.suffix for p in run.report_paths} >= {".json", ".md", ".png"}

    text = out.getvalue()
    assert "uploaded 2 sample photos" in text
    assert "answered 2 validations through the validation API" in text
    assert "both patterns stored the same albums and prices: yes" in text
    assert f"report written to {tmp_path}/" in text


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--uploads", "0"], "uploads must be between 1 and 100"),
        (["--uploads", "many"], "'many' is not a whole number"),
        (["--vision-latency", "-1"], "'-1' must be 0 or more"),
        (["--fail-rate", "1"], "'1' must be at least 0 and below 1"),
        (["--fail-rate", "x"], "'x' is not a rate between 0 and 1"),
    ],
)
def test_demo_refuses_bad_options_with_a_usage_error(
    arguments: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["demo", *arguments])
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.integration
def test_interactive_demo_waits_for_a_person_answering_through_the_printed_links(
    tmp_path: Path,
) -> None:
    out = io.StringIO()
    finished: list[LocalRun] = []
    demo = threading.Thread(
        target=lambda: finished.append(
            run_local(
                DemoOptions(uploads=1, interactive=True, timeout_s=60), out_dir=tmp_path, out=out
            )
        ),
        daemon=True,
    )
    demo.start()
    deadline = time.monotonic() + 60
    while not (links := re.findall(r"http://127\.0\.0\.1:\d+/\S+", out.getvalue())):
        assert time.monotonic() < deadline, out.getvalue()
        assert demo.is_alive(), out.getvalue()
        time.sleep(0.1)
    time.sleep(0.5)
    assert demo.is_alive(), "the demo must wait for the person"

    # The person corrects album 1 to 1971 in the page (the page calls this API).
    result = ReviewClient().correct_years(links[0], {1: 1971}).raise_for_status()
    assert sorted(result.body["resumed"]) == ["durable-functions", "step-functions"]
    demo.join(timeout=60)

    assert finished, out.getvalue()
    assert finished[0].report["equivalent"] is True
    for name in ("step-functions", "durable-functions"):
        assert finished[0].report["patterns"][name]["completed"] == 1
