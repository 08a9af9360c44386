"""The local main job: sample uploads through both patterns, side by side.

``python -m localmode.demo [--uploads N]`` (what ``make demo`` runs) starts the local
stack, plugs in both patterns, puts N sample shelf photos into the uploads bucket (the
EventBridge rule starts both patterns for each), answers every validation with the
scripted corrections (Step Functions: ``SendTaskSuccess`` with the stored task token;
durable: the runner's callback with the stored callback id), waits for every execution,
and prints what each pattern did and whether both stored the same albums and prices.

Vision is the local stand-in (labelled so); everything else is the real code: the
handlers, the ASL executed by moto, the durable handler under the SDK's test runner, the
repository on moto's DynamoDB.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TextIO

from albums.domain import cost, keys
from albums.domain.models import AlbumCorrection, ExecutionStatus, WorkflowType
from albums.domain.records import AlbumRecord, ExecutionRecord
from albums.observability import get_logger
from albums.workflow import ValidationDecision
from localmode import samples
from localmode.durable import LocalDurable
from localmode.stack import LocalStack
from localmode.stepfunctions import StepFunctionsPattern
from localmode.vision import STAND_IN_MODEL

SF = WorkflowType.STEP_FUNCTIONS
LDF = WorkflowType.DURABLE_FUNCTIONS


@dataclass(frozen=True, slots=True)
class PatternSummary:
    """What one pattern did over all uploads."""

    workflow_type: WorkflowType
    executions: int
    completed: int
    albums_priced: int
    latency_s: tuple[float, ...]
    orchestration_per_workflow: float
    cost_per_1k_usd: float


@dataclass(frozen=True, slots=True)
class DemoResult:
    """Both patterns' summaries and whether they agree on every upload."""

    uploads: int
    summaries: dict[WorkflowType, PatternSummary]
    equivalent: bool
    differences: tuple[str, ...]


def run_demo(uploads: int = 5, *, out: TextIO = sys.stdout) -> DemoResult:
    """Run ``uploads`` sample photos through both patterns and summarise them."""
    if not 1 <= uploads <= 100:
        raise ValueError("uploads must be between 1 and 100")
    with _quiet():
        return _run(uploads, out)


@contextmanager
def _quiet() -> Iterator[None]:
    """Keep the handlers' INFO logs and EMF lines out of the demo's own output."""
    logger = get_logger()
    level = logger.log_level
    previous = os.environ.get("POWERTOOLS_METRICS_DISABLED")
    logger.setLevel("WARNING")
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
    try:
        yield
    finally:
        logger.setLevel(level)
        if previous is None:
            os.environ.pop("POWERTOOLS_METRICS_DISABLED", None)
        else:
            os.environ["POWERTOOLS_METRICS_DISABLED"] = previous


def _run(uploads: int, out: TextIO) -> DemoResult:
    with (
        LocalStack() as stack,
        StepFunctionsPattern(stack) as step_functions,
        LocalDurable(stack) as durable,
    ):
        keys_by_upload = []
        for number in range(uploads):
            shelf = samples.shelf(number)
            stack.vision.register(shelf.image(), shelf.detected())
            key = f"uploads/demo/{number + 1:03d}-{shelf.name}.jpg"
            stack.put_upload(key, shelf.image())
            keys_by_upload.append((key, shelf))
            _progress(out, f"uploaded {key}")
        sf_arns = step_functions.started
        ldf_arns = durable.started
        _progress(
            out, f"started {len(sf_arns)} Step Functions and {len(ldf_arns)} durable executions"
        )

        corrections = {key: shelf.corrections() for key, shelf in keys_by_upload}
        for arn in sf_arns:
            task = step_functions.wait_for_validation(arn)
            key = _upload_key(stack, SF, task.execution_id)
            step_functions.approve(arn, _as_corrections(corrections[key]))
        for arn in ldf_arns:
            execution_id = keys.execution_id_for(LDF, arn)
            callback_id = durable.wait_for_task(execution_id, timeout=30)
            key = _upload_key(stack, LDF, execution_id)
            decision = ValidationDecision(_as_corrections(corrections[key]))
            durable.resumer.succeed(callback_id, decision.to_dict())
        _progress(out, "answered every validation with the scripted corrections")

        for arn in sf_arns:
            step_functions.wait_for_end(arn, timeout=60)
        for arn in ldf_arns:
            durable.wait(arn, timeout=60)
        _progress(out, "every execution ended")

        summaries = {pattern: _summarise(stack, pattern) for pattern in (SF, LDF)}
        differences = _compare(stack)
    result = DemoResult(uploads, summaries, not differences, tuple(differences))
    _print_result(result, out)
    return result


def _progress(out: TextIO, message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=out, flush=True)


def _as_corrections(raw: Sequence[dict[str, int]]) -> tuple[AlbumCorrection, ...]:
    return tuple(AlbumCorrection(index=c["albumIndex"], year=c["year"]) for c in raw)


def _upload_key(stack: LocalStack, pattern: WorkflowType, execution_id: str) -> str:
    return stack.repository(pattern).get_execution(execution_id).upload.key


def _records(stack: LocalStack, pattern: WorkflowType) -> list[ExecutionRecord]:
    repository = stack.repository(pattern)
    records: list[ExecutionRecord] = []
    token = None
    while True:
        page = repository.list_executions(100, next_token=token)
        records.extend(page.items)
        token = page.next_token
        if token is None:
            return records


def _summarise(stack: LocalStack, pattern: WorkflowType) -> PatternSummary:
    repository = stack.repository(pattern)
    records = [r for r in _records(stack, pattern) if r.status is not ExecutionStatus.DUPLICATE]
    completed = [r for r in records if r.status is ExecutionStatus.COMPLETED]
    priced = sum(
        1
        for record in completed
        for album in repository.get_albums(record.execution_id)
        if album.price is not None
    )
    latencies = tuple(r.metrics.duration_ms / 1000 for r in records if r.metrics is not None)
    orchestration = [
        (r.metrics.transitions if pattern is SF else r.metrics.durable_operations) or 0
        for r in records
        if r.metrics is not None
    ]
    costs = [float(r.metrics.cost_usd) for r in records if r.metrics and r.metrics.cost_usd]
    return PatternSummary(
        workflow_type=pattern,
        executions=len(records),
        completed=len(completed),
        albums_priced=priced,
        latency_s=latencies,
        orchestration_per_workflow=statistics.mean(orchestration) if orchestration else 0.0,
        cost_per_1k_usd=statistics.mean(costs) * 1000 if costs else 0.0,
    )


def _comparable(album: AlbumRecord) -> tuple[Any, ...]:
    return (album.album, album.year_original, album.year_validated, album.price)


def _compare(stack: LocalStack) -> list[str]:
    """Return every upload on which the two patterns stored different albums or prices."""
    by_upload: dict[WorkflowType, dict[str, list[tuple[Any, ...]]]] = {}
    for pattern in (SF, LDF):
        repository = stack.repository(pattern)
        by_upload[pattern] = {
            record.upload.upload_id: [
                _comparable(a) for a in repository.get_albums(record.execution_id)
            ]
            for record in _records(stack, pattern)
            if record.status is not ExecutionStatus.DUPLICATE
        }
    differences = []
    for upload_id in sorted(set(by_upload[SF]) | set(by_upload[LDF])):
        if by_upload[SF].get(upload_id) != by_upload[LDF].get(upload_id):
            differences.append(upload_id)
    return differences


def _print_result(result: DemoResult, out: TextIO) -> None:
    prices = cost.load_price_table()
    print(f"\nLocal mode — vision: {STAND_IN_MODEL} (sample photos, not Bedrock)", file=out)
    print(f"uploads: {result.uploads}   prices as of {prices.as_of}\n", file=out)
    header = f"{'':34}{'Step Functions':>18}{'durable functions':>20}"
    print(header, file=out)
    sf, ldf = result.summaries[SF], result.summaries[LDF]
    rows: list[tuple[str, str, str]] = [
        ("executions", str(sf.executions), str(ldf.executions)),
        ("completed", str(sf.completed), str(ldf.completed)),
        ("albums priced", str(sf.albums_priced), str(ldf.albums_priced)),
        ("median latency (s, local)", _median(sf.latency_s), _median(ldf.latency_s)),
        (
            "transitions / durable ops per run",
            f"{sf.orchestration_per_workflow:.1f}",
            f"{ldf.orchestration_per_workflow:.1f}",
        ),
        (
            "cost per 1,000 workflows (USD)",
            f"{sf.cost_per_1k_usd:.4f}",
            f"{ldf.cost_per_1k_usd:.4f}",
        ),
    ]
    for label, left, right in rows:
        print(f"{label:34}{left:>18}{right:>20}", file=out)
    verdict = "yes" if result.equivalent else f"NO ({len(result.differences)} uploads differ)"
    print(f"\nboth patterns stored the same albums and prices: {verdict}", file=out)
    print(
        "Latency here is local wall time with no simulated service latency; the comparison "
        "report with charts and `make bench` come with the demo issue.",
        file=out,
    )


def _median(values: Sequence[float]) -> str:
    return f"{statistics.median(values):.2f}" if values else "n/a"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo from the command line."""
    parser = argparse.ArgumentParser(prog="python -m localmode.demo", description=__doc__)
    parser.add_argument("--uploads", type=int, default=5, help="sample photos to upload (1-100)")
    arguments = parser.parse_args(argv)
    try:
        result = run_demo(arguments.uploads)
    except ValueError as error:
        parser.error(str(error))
    ok = result.equivalent and all(
        summary.completed == summary.executions for summary in result.summaries.values()
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
