"""``make bench``'s figures, goals, import timing and artifact sizes (no local runs here)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from albums_cli import bench
from albums_cli.report import build_report
from tests.unit.test_report_build import LDF, SF, dataset


def test_goals_compare_in_their_direction_and_describe_themselves() -> None:
    assert bench.OVERHEAD_GOAL.met(1.1)
    assert not bench.OVERHEAD_GOAL.met(1.11)
    assert bench.PARALLEL_GOAL.met(0.95)
    assert not bench.PARALLEL_GOAL.met(0.5)
    assert not bench.PARALLEL_GOAL.met(None)
    assert bench.OVERHEAD_GOAL.describe() == "<= 1.1"
    assert bench.FUNCTION_ZIP_GOAL.describe() == "<= 100 KB"
    assert bench.LAYER_GOAL.describe() == "<= 20 MB"
    assert bench.IMPORT_GOAL.describe() == "<= 150 ms"


def test_workflow_figures_overhead_parallel_efficiency_and_cost() -> None:
    data = dataset()
    report = build_report(data)

    sf = bench.workflow_figures(
        data.patterns[SF], report, vision_latency_s=1.5, price_latency_s=0.4
    )

    assert sf["e2e_latency_s_median"] == 4.5
    assert sf["e2e_latency_excluding_review_s_median"] == 4.0
    assert sf["critical_path_s"] == 1.9
    assert sf["overhead_ratio"] == pytest.approx(4.0 / 1.9, abs=1e-3)
    assert sf["price_phase_s_median"] == 0.4
    assert sf["parallel_efficiency"] == 1.0
    assert sf["price_calls_concurrent"] is True
    assert sf["transitions_per_workflow"] == 14.0
    assert sf["cost_per_1m_usd"] == pytest.approx(
        report["patterns"]["step-functions"]["cost_per_1k_usd"]["total"] * 1000, abs=0.01
    )
    ldf = bench.workflow_figures(
        data.patterns[LDF], report, vision_latency_s=1.5, price_latency_s=0.4
    )
    assert ldf["durable_operations_per_workflow"] == 16.0
    assert ldf["replays_per_workflow"] == 1.0


def test_six_calls_that_take_six_latencies_are_reported_as_not_concurrent() -> None:
    data = dataset()
    report = build_report(data)
    # The synthetic price phase is 0.4 s; a 0.1 s call would then have run one at a time.
    sf = bench.workflow_figures(
        data.patterns[SF], report, vision_latency_s=1.5, price_latency_s=0.1
    )

    assert sf["price_calls_concurrent"] is False
    assert sf["parallel_efficiency"] == 0.25


def test_merged_datasets_add_executions_and_compute() -> None:
    merged = bench.merge_datasets([dataset(2), dataset(3)])

    assert len(merged.patterns[SF].samples) == 5
    assert merged.patterns[SF].compute.requests == 12 * 5
    assert merged.run.uploads == 8
    with pytest.raises(bench.BenchError):
        bench.merge_datasets([])


def write_dist(folder: Path, sizes: dict[str, int]) -> Path:
    folder.mkdir()
    artifacts = []
    for name, size in sizes.items():
        (folder / name).write_bytes(b"x" * size)
        kind = "layer" if name.startswith("shared_layer") else "function"
        artifacts.append({"file": name, "kind": kind, "unzipped_bytes": size * 3})
    (folder / "manifest.json").write_text(json.dumps({"artifacts": artifacts}))
    return folder


def test_artifact_sizes_are_judged_against_the_zip_and_layer_goals(tmp_path: Path) -> None:
    dist = write_dist(
        tmp_path / "dist",
        {"small.zip": 2_000, "big.zip": 150 * 1024, "shared_layer.zip": 3_000_000},
    )

    rows = {row["file"]: row for row in bench.artifact_sizes(dist)}

    assert rows["small.zip"]["bytes"] == 2_000
    assert rows["small.zip"]["pass"] is True
    assert rows["big.zip"]["pass"] is False
    assert rows["shared_layer.zip"]["kind"] == "layer"
    assert rows["shared_layer.zip"]["goal"] == "<= 20 MB"
    assert rows["shared_layer.zip"]["pass"] is True


def test_a_missing_manifest_says_to_run_make_package(tmp_path: Path) -> None:
    with pytest.raises(bench.BenchError, match="run `make package` first"):
        bench.artifact_sizes(tmp_path)


def test_import_times_take_the_median_of_fresh_interpreters() -> None:
    calls: list[tuple[str, bool]] = []
    answers = iter([999.0, 120.0, 180.0, 140.0, 700.0])

    def fake(module: str, *, bytecode: bool = True) -> float:
        calls.append((module, bytecode))
        return next(answers)

    results = bench.import_times(["x.handler"], runs=3, measure=fake)

    # One warm-up import, three timed ones, one without bytecode.
    assert calls == [("x.handler", True)] * 4 + [("x.handler", False)]
    assert results["x.handler"]["runs_ms"] == [120.0, 180.0, 140.0]
    assert results["x.handler"]["median_ms"] == 140.0
    assert results["x.handler"]["no_bytecode_ms"] == 700.0
    assert results["x.handler"]["pass"] is True


def test_import_ms_imports_in_a_fresh_interpreter_and_reports_failures() -> None:
    assert bench.import_ms("albums.domain.errors") > 0
    with pytest.raises(bench.BenchError, match="importing no_such_module failed"):
        bench.import_ms("no_such_module")


def test_every_handler_module_is_measured() -> None:
    modules = bench.handler_modules()

    assert "price_estimator.handler" in modules
    assert modules[-1] == "orchestrator.handler"
    assert len(modules) == len(list((bench.REPO_ROOT / "functions").glob("*/handler.py"))) + 1


def results_for(tmp_path: Path) -> dict[str, Any]:
    data = dataset()
    report = build_report(data)
    patterns = {
        pattern.value: bench.workflow_figures(
            data.patterns[pattern], report, vision_latency_s=1.5, price_latency_s=0.4
        )
        for pattern in (SF, LDF)
    }
    imports = {
        "a.handler": {"median_ms": 90.0, "no_bytecode_ms": 300.0, "goal": "<= 150 ms", "pass": True}
    }
    artifacts = bench.artifact_sizes(write_dist(tmp_path / "dist", {"a.zip": 1000}))
    return bench.build_results(
        settings={"rounds": 1}, patterns=patterns, imports=imports, artifacts=artifacts
    )


def test_results_list_every_goal_with_pass_or_fail(tmp_path: Path) -> None:
    results = results_for(tmp_path)

    judged = {(goal["figure"], goal["subject"]): goal["pass"] for goal in results["goals"]}
    assert judged[("orchestration overhead ratio", "step-functions")] is False  # 2.1
    assert judged[("parallel efficiency of the 6 price estimates", "durable-functions")] is True
    assert judged[("state transitions per workflow", "step-functions")] is True
    assert judged[("billable durable operations per workflow", "durable-functions")] is True
    assert judged[("handler import, bytecode cached", "a.handler")] is True
    assert judged[("function zip", "a.zip")] is True
    assert results["all_goals_met"] is False
    assert any("runs the six price calls concurrently" in note for note in results["local_mode"])
    assert json.loads(json.dumps(results)) == results


def test_the_table_shows_each_figure_against_its_goal(tmp_path: Path) -> None:
    out = io.StringIO()

    bench.print_table(results_for(tmp_path), out)

    text = out.getvalue()
    assert "overhead ratio (/ 1.9 s critical path)" in text
    assert "2.105 FAIL" in text
    assert "a.handler" in text
    assert "1,000 pass" in text
    assert "goals met: missed orchestration overhead ratio (step-functions)" in text


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--rounds", "0"], "'0' must be at least 1"),
        (["--price-latency", "0"], "'0' must be more than 0"),
        (["--uploads", "x"], "'x' is not a whole number"),
    ],
)
def test_bad_options_are_a_usage_error(
    arguments: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        bench.main(arguments)

    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_without_artifacts_the_bench_stops_before_running(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = bench.main(["--dist", str(tmp_path / "none"), "--out", str(tmp_path / "out")])

    assert code == 2
    assert "run `make package` first" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
