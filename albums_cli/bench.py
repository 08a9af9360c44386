"""``make bench``: both patterns measured locally, handler imports, artifact sizes, vs goals.

``python -m albums_cli.bench [--rounds N] [--uploads N] [--vision-latency S]
[--price-latency S] [--import-runs N] [--dist DIR] [--out DIR] [--strict]``

1. **Workflows**: ``rounds`` local runs (:func:`localmode.demo.run_local`) of ``uploads``
   sample photos each, with simulated vision and price latencies and no injected
   failures. Per pattern, over every execution: median end-to-end latency (with and
   without the reviewer's wait); the orchestration overhead ratio, end-to-end without the
   review wait / critical path (one vision call + one price call: the six price calls can
   all run at once); the parallel efficiency of the six price estimates, one price call's
   latency / the price phase's wall time; transitions or billable durable operations per
   workflow; cost per million workflows. Whether each local engine runs the six price
   calls concurrently is read off the same figures (six calls one after the other would
   take six price latencies).
2. **Handler imports**: every handler module imported in a fresh interpreter, several
   times; the median, with bytecode caches warm (the import work), and once more with
   no bytecode (the artifacts ship no ``.pyc``, so a cold start compiles what it imports).
3. **Artifacts**: bytes of each artifact in ``dist/`` (``make package``), from its
   ``manifest.json``.

Each figure is reported against its goal with pass/fail; ``results.json`` and the merged
comparison report go to ``--out`` (default ``out/bench``). The exit code is 0 when the
bench ran, 1 with ``--strict`` when a goal is missed, 2 on bad options or when it could
not run.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import statistics
import subprocess  # nosec B404  # runs our own interpreter only, never a shell
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Final, TextIO

from albums.domain.models import ALBUMS_PER_IMAGE
from albums.workflow_contract import Step
from albums_cli.console import number_argument
from albums_cli.dataset import (
    LDF,
    PATTERNS,
    SF,
    ComputeTotals,
    Dataset,
    PatternData,
    RunInfo,
    ran_at_once,
)
from albums_cli.report import build_report, write_report

REPO_ROOT: Final = Path(__file__).resolve().parent.parent
DEFAULT_OUT: Final = Path("out/bench")
DEFAULT_DIST: Final = Path("dist")
KB: Final = 1024
MB: Final = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Goal:
    """A figure's goal: ``value <= limit`` (``at_most``) or ``value >= limit``."""

    figure: str
    limit: float
    at_most: bool
    unit: str

    def met(self, value: float | None) -> bool:
        """Whether ``value`` meets the goal (a missing value does not)."""
        if value is None:
            return False
        return value <= self.limit if self.at_most else value >= self.limit

    def describe(self) -> str:
        """Return the goal as text, e.g. ``<= 1.1`` or ``<= 100 KB``."""
        limit = f"{self.limit:g}{self.unit}"
        if self.unit == " bytes":
            limit = f"{self.limit / MB:g} MB" if self.limit >= MB else f"{self.limit / KB:g} KB"
        return f"{'<=' if self.at_most else '>='} {limit}"


OVERHEAD_GOAL: Final = Goal("orchestration overhead ratio", 1.10, at_most=True, unit="")
PARALLEL_GOAL: Final = Goal("parallel efficiency of the 6 price estimates", 0.9, False, "")
TRANSITIONS_GOAL: Final = Goal("state transitions per workflow", 14, at_most=True, unit="")
OPERATIONS_GOAL: Final = Goal("billable durable operations per workflow", 16, True, "")
#: One vision call, one notifier, six prices: the Lambdas where code must run, no more.
LAMBDA_REQUESTS_GOAL: Final = Goal("Lambda requests per workflow", 8, at_most=True, unit="")
TABLE_WRITE_INVOCATIONS_GOAL: Final = Goal(
    "Lambda invocations for table writes per workflow", 0, at_most=True, unit=""
)
IMPORT_GOAL: Final = Goal("handler import, bytecode cached", 150, at_most=True, unit=" ms")
FUNCTION_ZIP_GOAL: Final = Goal("function zip", 100 * KB, at_most=True, unit=" bytes")
LAYER_GOAL: Final = Goal("layer zip", 20 * MB, at_most=True, unit=" bytes")


class BenchError(RuntimeError):
    """The bench could not run (the message says what to do)."""


def _goal_entry(goal: Goal, subject: str, value: float | None) -> dict[str, Any]:
    return {
        "figure": goal.figure,
        "subject": subject,
        "value": value,
        "goal": goal.describe(),
        "pass": goal.met(value),
    }


def _median(values: Sequence[float]) -> float | None:
    return round(statistics.median(values), 4) if values else None


# --- workflows ---------------------------------------------------------------------------


def merge_datasets(datasets: Sequence[Dataset]) -> Dataset:
    """Return one dataset with every run's executions and compute (for one report)."""
    if not datasets:
        raise BenchError("no runs to merge")
    first = datasets[0]
    patterns = {}
    for pattern in PATTERNS:
        parts = [dataset.patterns[pattern] for dataset in datasets]
        patterns[pattern] = PatternData(
            pattern,
            tuple(sample for part in parts for sample in part.samples),
            ComputeTotals(
                gb_seconds=sum((part.compute.gb_seconds for part in parts), Decimal(0)),
                requests=sum(part.compute.requests for part in parts),
                source=parts[0].compute.source,
            ),
        )
    differences = tuple(d for dataset in datasets for d in dataset.differences)
    return Dataset(
        run=RunInfo(
            mode=first.run.mode,
            vision=first.run.vision,
            uploads=sum(dataset.run.uploads for dataset in datasets),
            vision_latency_s=first.run.vision_latency_s,
            price_latency_s=first.run.price_latency_s,
            fail_rate=first.run.fail_rate,
        ),
        patterns=patterns,
        equivalent=all(dataset.equivalent for dataset in datasets),
        differences=differences,
        prices=first.prices,
    )


def workflow_figures(
    data: PatternData, report: Mapping[str, Any], *, vision_latency_s: float, price_latency_s: float
) -> dict[str, Any]:
    """Return the bench figures of one pattern (see the module docstring)."""
    figures = report["patterns"][data.pattern.value]
    timed = [s.timings for s in data.samples if s.timings is not None]
    end_to_end = [t.duration_s for t in timed]
    active = [t.active_s for t in timed]
    phases = [t.steps_s[Step.ESTIMATE_PRICES] for t in timed if Step.ESTIMATE_PRICES in t.steps_s]
    critical_path = vision_latency_s + price_latency_s
    active_median = _median(active)
    phase_median = _median(phases)
    overhead = (
        round(active_median / critical_path, 3) if active_median and critical_path > 0 else None
    )
    efficiency = (
        round(price_latency_s / phase_median, 3) if phase_median and price_latency_s > 0 else None
    )
    orchestration_key = (
        "transitions_per_workflow" if data.pattern is SF else "durable_operations_per_workflow"
    )
    result: dict[str, Any] = {
        "executions": figures["executions"],
        "completed": figures["completed"],
        "e2e_latency_s_median": _median(end_to_end),
        "e2e_latency_excluding_review_s_median": active_median,
        "review_wait_s_median": _median([t.review_wait_s for t in timed]),
        "critical_path_s": round(critical_path, 4),
        "overhead_ratio": overhead,
        "price_phase_s_median": phase_median,
        "one_price_call_s": price_latency_s,
        "parallel_efficiency": efficiency,
        "price_calls_concurrent": (
            ran_at_once(phase_median, price_latency_s)
            if phase_median is not None and price_latency_s > 0
            else None
        ),
        "six_calls_one_after_the_other_s": round(ALBUMS_PER_IMAGE * price_latency_s, 4),
        orchestration_key: figures[orchestration_key],
        "lambda_requests_per_workflow": figures["lambda_requests_per_workflow"],
        "lambda_gb_seconds_per_workflow": figures["lambda_gb_seconds_per_workflow"],
        "cost_per_1m_usd": round(figures["cost_per_1k_usd"]["total"] * 1000, 2),
        "cost_per_1m_usd_breakdown": {
            part: round(value * 1000, 2) for part, value in figures["cost_per_1k_usd"].items()
        },
        "per_step_s": figures["per_step_s"],
    }
    if data.pattern is SF:
        result["price_lambda_run_s_median"] = figures.get("estimate_run_s_median")
        result["lambda_invocations_for_table_writes_per_workflow"] = figures.get(
            "lambda_invocations_for_table_writes_per_workflow"
        )
    else:
        result["replays_per_workflow"] = figures["replays_per_workflow"]
    return result


def run_workflows(
    *,
    rounds: int,
    uploads: int,
    vision_latency_s: float,
    price_latency_s: float,
    progress: TextIO,
) -> list[Dataset]:
    """Run ``rounds`` local demos without writing reports; return their datasets."""
    from localmode.demo import DemoError, DemoOptions, run_local  # noqa: PLC0415

    datasets = []
    for number in range(rounds):
        began = time.perf_counter()
        options = DemoOptions(
            uploads=uploads,
            vision_latency_s=vision_latency_s,
            price_latency_s=price_latency_s,
            seed=number,
        )
        try:
            run = run_local(options, out_dir=None, out=io.StringIO())
        except DemoError as error:
            raise BenchError(f"local run {number + 1} did not finish: {error}") from error
        if not run.succeeded:
            raise BenchError(
                f"local run {number + 1}: not every execution completed with equal results"
            )
        datasets.append(run.dataset)
        print(
            f"  run {number + 1}/{rounds}: {uploads} uploads x 2 patterns in "
            f"{time.perf_counter() - began:.1f} s",
            file=progress,
            flush=True,
        )
    return datasets


# --- handler imports -----------------------------------------------------------------------


def handler_modules(root: Path = REPO_ROOT) -> list[str]:
    """Every Lambda handler module: ``functions/*/handler.py`` and the orchestrator's."""
    modules = [
        f"{path.parent.name}.handler" for path in sorted((root / "functions").glob("*/handler.py"))
    ]
    if (root / "orchestrator" / "handler.py").exists():
        modules.append("orchestrator.handler")
    return modules


_IMPORT_PROBE: Final = (
    "import importlib, sys, time\n"
    "began = time.perf_counter()\n"
    "importlib.import_module(sys.argv[1])\n"
    "print((time.perf_counter() - began) * 1000)\n"
)


def import_ms(module: str, *, bytecode: bool = True, python: str = sys.executable) -> float:
    """Import ``module`` in a fresh interpreter; return the milliseconds the import took.

    ``bytecode=False`` points the bytecode cache at an empty folder and writes nothing, so
    every module is compiled from source, as in an artifact that ships no ``.pyc``.

    Raises
    ------
    BenchError
        The import failed (the interpreter's last error line is in the message).
    """
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": os.pathsep.join(
            str(REPO_ROOT / part) for part in ("shared_layer", "functions", ".")
        ),
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    with tempfile.TemporaryDirectory() as empty_cache:
        if not bytecode:
            env |= {"PYTHONPYCACHEPREFIX": empty_cache, "PYTHONDONTWRITEBYTECODE": "1"}
        completed = subprocess.run(  # noqa: S603 - our own interpreter and probe  # nosec B603
            [python, "-c", _IMPORT_PROBE, module],
            capture_output=True,
            text=True,
            env=env,
            cwd=REPO_ROOT,
            check=False,
            timeout=120,
        )
    if completed.returncode != 0:
        last = (completed.stderr.strip().splitlines() or ["no output"])[-1]
        raise BenchError(f"importing {module} failed: {last}")
    return float(completed.stdout.strip().splitlines()[-1])


def import_times(
    modules: Sequence[str], runs: int, measure: Callable[..., float] = import_ms
) -> dict[str, dict[str, Any]]:
    """Median import time of each module over ``runs`` fresh interpreters, vs the goal."""
    results = {}
    for module in modules:
        measure(module)  # the first import writes the bytecode cache
        samples = [round(measure(module), 1) for _ in range(runs)]
        median = round(statistics.median(samples), 1)
        results[module] = {
            "median_ms": median,
            "runs_ms": samples,
            "no_bytecode_ms": round(measure(module, bytecode=False), 1),
            "goal": IMPORT_GOAL.describe(),
            "pass": IMPORT_GOAL.met(median),
        }
    return results


# --- artifacts -----------------------------------------------------------------------------


def artifact_sizes(dist: Path) -> list[dict[str, Any]]:
    """Bytes of each artifact of ``dist/manifest.json``, vs its goal.

    Raises
    ------
    BenchError
        There is no manifest (run ``make package``) or it is not valid.
    """
    manifest_path = dist / "manifest.json"
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        artifacts = manifest["artifacts"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise BenchError(f"no usable {manifest_path}: run `make package` first ({error})") from None
    rows = []
    for artifact in artifacts:
        path = dist / artifact["file"]
        size = path.stat().st_size if path.exists() else None
        goal = LAYER_GOAL if artifact.get("kind") == "layer" else FUNCTION_ZIP_GOAL
        rows.append(
            {
                "file": artifact["file"],
                "kind": artifact.get("kind", "function"),
                "bytes": size,
                "unzipped_bytes": artifact.get("unzipped_bytes"),
                "goal": goal.describe(),
                "pass": goal.met(size),
            }
        )
    return rows


# --- results -------------------------------------------------------------------------------


def local_mode_notes(patterns: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Return what local mode can and cannot show, with this bench's own evidence."""
    notes = []
    for key, label, engine in (
        (SF.value, "Step Functions", "moto's ASL interpreter"),
        (LDF.value, "durable functions", "the SDK's testing runner"),
    ):
        figures = patterns[key]
        concurrent = figures["price_calls_concurrent"]
        if concurrent is None:
            continue
        how = "concurrently" if concurrent else "NOT concurrently"
        notes.append(
            f"{engine} runs the six price calls {how} ({label}: price phase "
            f"{figures['price_phase_s_median']} s for six calls of "
            f"{figures['one_price_call_s']} s each); the parallel efficiency is "
            f"{'the fan-out overhead of that engine' if concurrent else 'therefore not AWS-like'}."
        )
    notes += [
        "Overhead is measured in-process: moto and the testing runner orchestrate in this "
        "process (Python threads on this machine's cores, no network to a service), so the "
        "ratios show where each pattern spends time between steps here, not AWS's latency.",
        "The durable runner checkpoints in-process and ends an invocation at the reviewer's "
        "wait; the answer starts a new invocation that replays the handler: that resume "
        "is part of the durable overhead.",
        "The critical path uses the simulated latencies (one vision call + one price call); "
        "the reviewer's wait is measured from the history and left out.",
        "Handler imports are measured with this machine's interpreter "
        f"({platform.python_implementation()} {platform.python_version()}, "
        f"{platform.machine()}) and the project's virtual environment; Lambda runs "
        "python3.13 on arm64 with boto3 from the runtime.",
    ]
    return notes


def build_results(
    *,
    settings: Mapping[str, Any],
    patterns: Mapping[str, Mapping[str, Any]],
    imports: Mapping[str, Mapping[str, Any]],
    artifacts: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """Assemble ``results.json`` with a flat list of every goal and whether it was met."""
    goals = []
    for key in (SF.value, LDF.value):
        figures = patterns[key]
        goals.append(_goal_entry(OVERHEAD_GOAL, key, figures["overhead_ratio"]))
        goals.append(_goal_entry(PARALLEL_GOAL, key, figures["parallel_efficiency"]))
    goals.append(
        _goal_entry(TRANSITIONS_GOAL, SF.value, patterns[SF.value]["transitions_per_workflow"])
    )
    goals.append(
        _goal_entry(
            OPERATIONS_GOAL, LDF.value, patterns[LDF.value]["durable_operations_per_workflow"]
        )
    )
    goals.append(
        _goal_entry(
            LAMBDA_REQUESTS_GOAL, SF.value, patterns[SF.value]["lambda_requests_per_workflow"]
        )
    )
    goals.append(
        _goal_entry(
            TABLE_WRITE_INVOCATIONS_GOAL,
            SF.value,
            patterns[SF.value].get("lambda_invocations_for_table_writes_per_workflow"),
        )
    )
    goals += [_goal_entry(IMPORT_GOAL, m, figures["median_ms"]) for m, figures in imports.items()]
    for artifact in artifacts:
        goal = LAYER_GOAL if artifact["kind"] == "layer" else FUNCTION_ZIP_GOAL
        goals.append(_goal_entry(goal, artifact["file"], artifact["bytes"]))
    return {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "settings": dict(settings),
        "patterns": {key: dict(value) for key, value in patterns.items()},
        "handler_imports": {key: dict(value) for key, value in imports.items()},
        "artifacts": [dict(row) for row in artifacts],
        "goals": goals,
        "all_goals_met": all(goal["pass"] for goal in goals),
        "local_mode": local_mode_notes(patterns),
    }


def _verdict(passed: bool) -> str:
    return "pass" if passed else "FAIL"


def print_table(results: Mapping[str, Any], out: TextIO) -> None:
    """Print the short table of every figure against its goal."""
    sf, ldf = results["patterns"][SF.value], results["patterns"][LDF.value]
    print(f"\n{'figure':46}{'Step Functions':>16}{'durable':>12}  goal", file=out)

    def row(label: str, left: Any, right: Any, goal: str = "") -> None:
        print(f"{label:46}{left!s:>16}{right!s:>12}  {goal}", file=out)

    row(
        "executions (completed)",
        f"{sf['completed']}/{sf['executions']}",
        f"{ldf['completed']}/{ldf['executions']}",
    )
    row("e2e latency median (s)", sf["e2e_latency_s_median"], ldf["e2e_latency_s_median"])
    row(
        "e2e without review wait, median (s)",
        sf["e2e_latency_excluding_review_s_median"],
        ldf["e2e_latency_excluding_review_s_median"],
    )
    by_subject = {(g["figure"], g["subject"]): g for g in results["goals"]}

    def judged(goal: Goal, subject: str) -> str:
        entry = by_subject[(goal.figure, subject)]
        return f"{entry['value']} {_verdict(entry['pass'])}"

    row(
        f"overhead ratio (/ {sf['critical_path_s']} s critical path)",
        judged(OVERHEAD_GOAL, SF.value),
        judged(OVERHEAD_GOAL, LDF.value),
        OVERHEAD_GOAL.describe(),
    )
    row(
        f"parallel efficiency ({sf['one_price_call_s']} s / phase)",
        judged(PARALLEL_GOAL, SF.value),
        judged(PARALLEL_GOAL, LDF.value),
        PARALLEL_GOAL.describe(),
    )
    row(
        "transitions / billable durable ops",
        judged(TRANSITIONS_GOAL, SF.value),
        judged(OPERATIONS_GOAL, LDF.value),
        f"{TRANSITIONS_GOAL.describe()} / {OPERATIONS_GOAL.describe()}",
    )
    row(
        "Lambda requests per workflow",
        judged(LAMBDA_REQUESTS_GOAL, SF.value),
        ldf["lambda_requests_per_workflow"],
        LAMBDA_REQUESTS_GOAL.describe(),
    )
    row(
        "Lambda invocations for table writes",
        judged(TABLE_WRITE_INVOCATIONS_GOAL, SF.value),
        "-",
        TABLE_WRITE_INVOCATIONS_GOAL.describe(),
    )
    row("cost per 1M workflows (USD)", sf["cost_per_1m_usd"], ldf["cost_per_1m_usd"])
    print(f"\n{'handler import, median ms (no bytecode)':46}{'':28}  goal", file=out)
    for module, figures in results["handler_imports"].items():
        value = f"{figures['median_ms']} ({figures['no_bytecode_ms']}) {_verdict(figures['pass'])}"
        print(f"  {module:44}{value:>28}  {figures['goal']}", file=out)
    print(f"\n{'artifact bytes':46}{'':28}  goal", file=out)
    for artifact in results["artifacts"]:
        size = "missing" if artifact["bytes"] is None else f"{artifact['bytes']:,}"
        print(
            f"  {artifact['file']:44}{size + ' ' + _verdict(artifact['pass']):>28}  "
            f"{artifact['goal']}",
            file=out,
        )
    failed = [g for g in results["goals"] if not g["pass"]]
    print(
        f"\n{len(results['goals']) - len(failed)} of {len(results['goals'])} goals met"
        + (
            ": missed " + ", ".join(f"{g['figure']} ({g['subject']})" for g in failed)
            if failed
            else ""
        ),
        file=out,
    )


# --- command line ------------------------------------------------------------------------


_positive_int = number_argument(
    int, "a whole number", lambda value: value >= 1, "{text} must be at least 1"
)
_positive_seconds = number_argument(
    float, "a number of seconds", lambda value: value > 0, "{text} must be more than 0"
)


def build_parser() -> argparse.ArgumentParser:
    """Return the bench's argument parser."""
    parser = argparse.ArgumentParser(
        prog="python -m albums_cli.bench", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--rounds", type=_positive_int, default=5, help="local runs (default 5)")
    parser.add_argument(
        "--uploads", type=_positive_int, default=2, help="uploads per run (default 2)"
    )
    parser.add_argument(
        "--vision-latency",
        type=_positive_seconds,
        default=1.5,
        metavar="S",
        help="simulated seconds per vision call (default 1.5)",
    )
    parser.add_argument(
        "--price-latency",
        type=_positive_seconds,
        default=0.4,
        metavar="S",
        help="simulated seconds per price call (default 0.4)",
    )
    parser.add_argument(
        "--import-runs", type=_positive_int, default=5, help="fresh interpreters per handler"
    )
    parser.add_argument("--dist", type=Path, default=DEFAULT_DIST, help="artifacts (make package)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results folder")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a goal is missed")
    return parser


def main(argv: Sequence[str] | None = None, *, out: TextIO = sys.stdout) -> int:
    """Run the bench; write ``results.json`` and the merged report; print the table."""
    arguments = build_parser().parse_args(argv)
    began = time.perf_counter()
    settings = {
        "rounds": arguments.rounds,
        "uploads_per_round": arguments.uploads,
        "vision_latency_s": arguments.vision_latency,
        "price_latency_s": arguments.price_latency,
        "fail_rate": 0.0,
        "import_runs": arguments.import_runs,
    }
    try:
        artifacts = artifact_sizes(arguments.dist)
        print(
            f"bench: {arguments.rounds} local runs of {arguments.uploads} uploads "
            f"(vision {arguments.vision_latency} s, price {arguments.price_latency} s)",
            file=out,
            flush=True,
        )
        datasets = run_workflows(
            rounds=arguments.rounds,
            uploads=arguments.uploads,
            vision_latency_s=arguments.vision_latency,
            price_latency_s=arguments.price_latency,
            progress=out,
        )
        merged = merge_datasets(datasets)
        report = build_report(merged)
        patterns = {
            pattern.value: workflow_figures(
                merged.patterns[pattern],
                report,
                vision_latency_s=arguments.vision_latency,
                price_latency_s=arguments.price_latency,
            )
            for pattern in PATTERNS
        }
        print("bench: handler imports in fresh interpreters", file=out, flush=True)
        imports = import_times(handler_modules(), arguments.import_runs)
    except BenchError as error:
        print(f"bench: {error}", file=sys.stderr)
        return 2
    results = build_results(
        settings=settings, patterns=patterns, imports=imports, artifacts=artifacts
    )
    results["duration_s"] = round(time.perf_counter() - began, 1)
    arguments.out.mkdir(parents=True, exist_ok=True)
    results_path = arguments.out / "results.json"
    results_path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    write_report(arguments.out / "report", report)
    print_table(results, out)
    for note in results["local_mode"]:
        print(f"- {note}", file=out)
    print(f"\nresults: {results_path} (report: {arguments.out / 'report'}/)", file=out)
    return 1 if arguments.strict and not results["all_goals_met"] else 0


if __name__ == "__main__":
    sys.exit(main())
