"""The local main job: sample uploads through both patterns, side by side, and the report.

:func:`run_local` (what ``albums demo`` and ``make demo`` run) starts the local stack, plugs
in both patterns and the validation page and API on 127.0.0.1, puts N sample shelf photos
into the uploads bucket (the EventBridge rule starts both patterns for each), answers every
upload's validation through that API (scripted corrections; with ``interactive`` a person
opens the printed links instead), which resumes both patterns at once, waits for every
execution to end, collects what both patterns did and writes the comparison report.

Vision is the local stand-in (labelled so) and may sleep a simulated latency; the price
source may sleep too and fail a share of calls transiently. Everything else is the real
code: the handlers, the ASL executed by moto, the durable handler under the SDK's test
runner, the repository on moto's DynamoDB.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TextIO

from albums.domain import keys
from albums.domain.models import AlbumCorrection, ExecutionStatus, WorkflowType
from albums.observability import get_logger
from localmode import samples
from localmode.durable import LocalDurable
from localmode.pricing import ProgrammablePriceSource
from localmode.stack import LocalStack
from localmode.stepfunctions import StepFunctionsPattern
from localmode.validation_server import ValidationServer
from localmode.vision import STAND_IN_MODEL

SF: Final = WorkflowType.STEP_FUNCTIONS
LDF: Final = WorkflowType.DURABLE_FUNCTIONS
PATTERN_LABELS: Final[Mapping[WorkflowType, str]] = {
    SF: "Step Functions",
    LDF: "durable functions",
}
MAX_UPLOADS: Final = 100
DEFAULT_OUT: Final = Path("out/demo")


class DemoError(RuntimeError):
    """The demo could not run or did not finish; the message says what to do."""


@dataclass(frozen=True, slots=True)
class DemoOptions:
    """How one local run is set up.

    Parameters
    ----------
    uploads
        Sample photos to upload (1 to ``MAX_UPLOADS``); the 5 sample shelves repeat.
    vision_latency_s, price_latency_s
        Simulated latency of each vision call and each price call.
    fail_rate
        Share of price calls that fail transiently (retried by both patterns).
    seed
        Makes the injected price failures reproducible.
    interactive
        Wait for a person to answer each validation in the validation page.
    timeout_s
        Longest wait for every execution to pause for validation, then to end.
    """

    uploads: int = 5
    vision_latency_s: float = 0.0
    price_latency_s: float = 0.0
    fail_rate: float = 0.0
    seed: int = 0
    interactive: bool = False
    timeout_s: float = 120.0

    def __post_init__(self) -> None:
        if not 1 <= self.uploads <= MAX_UPLOADS:
            raise ValueError(f"uploads must be between 1 and {MAX_UPLOADS}")
        if self.vision_latency_s < 0 or self.price_latency_s < 0:
            raise ValueError("latencies must not be negative")
        if not 0 <= self.fail_rate < 1:
            raise ValueError("fail rate must be at least 0 and below 1")
        if self.timeout_s <= 0:
            raise ValueError("timeout must be positive")


@dataclass(frozen=True, slots=True)
class Upload:
    """One sample photo put into the bucket, and what the reviewer will correct."""

    key: str
    upload_id: str
    corrections: tuple[AlbumCorrection, ...]


@dataclass(slots=True)
class LocalRun:
    """What one local run did: the collected dataset, the report and where it was written."""

    options: DemoOptions
    uploads: tuple[Upload, ...]
    wall_time_s: float
    dataset: Any = None
    report: dict[str, Any] = field(default_factory=dict)
    report_paths: list[Path] = field(default_factory=list)

    @property
    def succeeded(self) -> bool:
        """Whether both patterns completed every upload and stored equal results."""
        patterns = self.report.get("patterns", {})
        return bool(self.report.get("equivalent")) and all(
            figures.get("completed") == self.options.uploads for figures in patterns.values()
        )


# --- progress ---------------------------------------------------------------------------


class Progress:
    """Executions started / waiting for validation / done, per pattern.

    On a terminal one line is redrawn in place; otherwise a plain line is printed whenever
    the counts change (logs and CI stay readable).
    """

    def __init__(self, out: TextIO, *, interval_s: float = 0.25) -> None:
        self.out = out
        self.interval_s = interval_s
        self.live = bool(getattr(out, "isatty", lambda: False)())
        self._lock = threading.Lock()
        self._last = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def say(self, message: str) -> None:
        """Print one event line (above the live counts on a terminal)."""
        with self._lock:
            prefix = "\r\x1b[2K" if self.live and self._last else ""
            print(f"{prefix}[{time.strftime('%H:%M:%S')}] {message}", file=self.out, flush=True)
            if self.live and self._last:
                print(self._last, end="", file=self.out, flush=True)

    def show(self, counts: Mapping[WorkflowType, Mapping[str, int]]) -> None:
        """Show the current counts (only when they changed)."""
        line = "   ".join(
            f"{PATTERN_LABELS[pattern]}: {c['started']} started, {c['waiting']} waiting, "
            f"{c['done']} done"
            for pattern, c in counts.items()
        )
        with self._lock:
            if line == self._last:
                return
            self._last = line
            if self.live:
                print(f"\r\x1b[2K{line}", end="", file=self.out, flush=True)
            else:
                print(f"[{time.strftime('%H:%M:%S')}] {line}", file=self.out, flush=True)

    @contextmanager
    def watching(
        self, count: Callable[[], Mapping[WorkflowType, Mapping[str, int]]]
    ) -> Iterator[None]:
        """Poll ``count`` in the background and show it until the block ends."""

        def loop() -> None:
            while not self._stop.wait(self.interval_s):
                self.show(count())

        self._stop.clear()
        self._thread = threading.Thread(target=loop, name="demo-progress", daemon=True)
        self._thread.start()
        try:
            yield
        finally:
            self._stop.set()
            self._thread.join()
            self.show(count())
            if self.live:
                print(file=self.out, flush=True)


def execution_counts(stack: LocalStack) -> dict[WorkflowType, dict[str, int]]:
    """Count each pattern's executions: started, waiting for validation, ended."""
    counts: dict[WorkflowType, dict[str, int]] = {}
    for pattern in (SF, LDF):
        statuses = [
            record.status
            for record in stack.repository(pattern).iter_executions()
            if record.status is not ExecutionStatus.DUPLICATE
        ]
        counts[pattern] = {
            "started": len(statuses),
            "waiting": sum(s is ExecutionStatus.AWAITING_VALIDATION for s in statuses),
            "done": sum(s.is_terminal for s in statuses),
        }
    return counts


# --- the run ----------------------------------------------------------------------------


def run_local(
    options: DemoOptions,
    *,
    out_dir: Path | None = DEFAULT_OUT,
    out: TextIO = sys.stdout,
) -> LocalRun:
    """Run ``options.uploads`` sample photos through both patterns and write the report.

    Raises
    ------
    DemoError
        When an execution does not pause or end in time (the message names it).
    """
    from albums_cli import report  # noqa: PLC0415 - matplotlib is only needed here

    progress = Progress(out)
    began = time.perf_counter()
    with quiet_logs(), _local_patterns(options) as (stack, step_functions, durable, server):
        uploads = _upload_samples(stack, options, progress)
        with progress.watching(lambda: execution_counts(stack)):
            _wait_for_every_review(step_functions, durable, options)
            if options.interactive:
                _print_links(server, uploads, progress)
            else:
                _answer_through_the_api(server, uploads, progress)
            _wait_for_every_end(step_functions, durable, options)
        run_info = report.RunInfo(
            mode="local",
            vision=STAND_IN_MODEL,
            uploads=options.uploads,
            vision_latency_s=options.vision_latency_s,
            price_latency_s=options.price_latency_s,
            fail_rate=options.fail_rate,
        )
        dataset = report.collect_local(stack, step_functions, durable, run=run_info)
    run = LocalRun(options, uploads, time.perf_counter() - began, dataset)
    run.report = report.build_report(dataset)
    if out_dir is not None:
        run.report_paths = report.write_report(out_dir, run.report)
    print_summary(run, out)
    return run


@contextmanager
def _local_patterns(
    options: DemoOptions,
) -> Iterator[tuple[LocalStack, StepFunctionsPattern, LocalDurable, ValidationServer]]:
    """Enter the local stack, both patterns and the validation server, as ``options`` asks."""

    def prices() -> ProgrammablePriceSource:
        # One source per pattern: each meets the same (seeded) faults.
        return ProgrammablePriceSource(
            latency_s=options.price_latency_s, fail_rate=options.fail_rate, seed=options.seed
        )

    with (
        LocalStack() as stack,  # reviews may take an hour: time for a person too
        StepFunctionsPattern(stack, prices=prices()) as step_functions,
        LocalDurable(stack, price_source=prices()) as durable,
        ValidationServer(stack, durable_resumer=durable.resumer) as server,
    ):
        stack.vision.latency_s = options.vision_latency_s
        yield stack, step_functions, durable, server


@contextmanager
def quiet_logs() -> Iterator[None]:
    """Keep the handlers' INFO logs, EMF lines and retried failures out of the demo's output.

    The durable SDK logs every failed step attempt with its traceback; with ``fail_rate``
    those are the injected, retried price failures the report counts anyway.
    """
    logger = get_logger()
    level = logger.log_level
    sdk_logger = logging.getLogger("aws_durable_execution_sdk_python")
    sdk_level = sdk_logger.level
    previous = os.environ.get("POWERTOOLS_METRICS_DISABLED")
    logger.setLevel("WARNING")
    sdk_logger.setLevel(logging.CRITICAL)
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
    try:
        yield
    finally:
        logger.setLevel(level)
        sdk_logger.setLevel(sdk_level)
        if previous is None:
            os.environ.pop("POWERTOOLS_METRICS_DISABLED", None)
        else:
            os.environ["POWERTOOLS_METRICS_DISABLED"] = previous


def _upload_samples(
    stack: LocalStack, options: DemoOptions, progress: Progress
) -> tuple[Upload, ...]:
    uploads = []
    for number in range(options.uploads):
        shelf = samples.shelf(number)
        stack.vision.register(shelf.image(), shelf.detected())
        key = f"uploads/demo/{number + 1:03d}-{shelf.name}.jpg"
        event = stack.put_upload(key, shelf.image())
        upload = keys.parse_object_created_event(event)
        corrections = tuple(
            AlbumCorrection(index=c["albumIndex"], year=c["year"]) for c in shelf.corrections()
        )
        uploads.append(Upload(key, upload.upload_id, corrections))
    progress.say(f"uploaded {len(uploads)} sample photos to s3://{stack.bucket}/uploads/demo/")
    return tuple(uploads)


def _wait_for_every_review(
    step_functions: StepFunctionsPattern, durable: LocalDurable, options: DemoOptions
) -> None:
    """Wait until every execution of both patterns has paused for its validation.

    Paused, not just "its task exists": a durable execution answered before it suspends
    runs on without a replay, and the report would measure a reviewer faster than its
    own notifier.
    """
    try:
        for arn in step_functions.started:
            step_functions.wait_for_validation(arn, timeout=options.timeout_s)
        for arn in durable.started:
            durable.wait_for_task(keys.execution_id_for(LDF, arn), timeout=options.timeout_s)
            durable.wait_suspended(arn, timeout=options.timeout_s)
    except (TimeoutError, RuntimeError) as error:
        raise DemoError(f"an execution did not pause for validation: {error}") from error


def _answer_through_the_api(
    server: ValidationServer, uploads: Sequence[Upload], progress: Progress
) -> None:
    """Answer each upload once through the validation API; it resumes both patterns."""
    for upload in uploads:
        link = server.link_for(upload.upload_id)
        years = {correction.index: correction.year for correction in upload.corrections}
        result = server.client.correct_years(link, years)
        resumed = result.body.get("resumed", []) if result.status == 200 else []
        if len(resumed) != len(PATTERN_LABELS):
            raise DemoError(
                f"the validation API answered {upload.key} with {result.status}: "
                f"{result.body} (expected both patterns resumed)"
            )
    progress.say(
        f"answered {len(uploads)} validations through the validation API at "
        f"{server.base_url} (each resumed both patterns)"
    )


def _print_links(server: ValidationServer, uploads: Sequence[Upload], progress: Progress) -> None:
    """Print each upload's signed link for a person to open; the run waits for the answers."""
    progress.say("every upload waits for validation: open each link, check the years, submit")
    for upload in uploads:
        progress.say(f"{upload.key}: {server.link_for(upload.upload_id)}")


def _wait_for_every_end(
    step_functions: StepFunctionsPattern, durable: LocalDurable, options: DemoOptions
) -> None:
    try:
        for arn in step_functions.started:
            step_functions.wait_for_end(arn, timeout=options.timeout_s)
        for arn in durable.started:
            durable.wait(arn, timeout=options.timeout_s)
    except TimeoutError as error:
        raise DemoError(f"{error}; try a longer --timeout") from error


# --- output -----------------------------------------------------------------------------


def _one_decimal(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def print_summary(run: LocalRun, out: TextIO) -> None:
    """Print the side-by-side table from the report, and where the report is."""
    report = run.report
    patterns = report["patterns"]
    sf, ldf = patterns["step-functions"], patterns["durable-functions"]
    print(f"\nLocal mode — vision: {report['vision']} (sample photos, not Bedrock)", file=out)
    print(
        f"uploads: {report['uploads']}   prices as of {report['prices_as_of']}   "
        f"wall time {run.wall_time_s:.1f} s\n",
        file=out,
    )
    print(f"{'':36}{'Step Functions':>16}{'durable functions':>20}", file=out)
    rows = [
        ("executions", sf["executions"], ldf["executions"]),
        ("completed", sf["completed"], ldf["completed"]),
        ("failed", sf["failed"], ldf["failed"]),
        ("albums priced", sf["albums_priced"], ldf["albums_priced"]),
        ("latency p50 (s)", f"{sf['latency_s']['p50']:.2f}", f"{ldf['latency_s']['p50']:.2f}"),
        ("latency p95 (s)", f"{sf['latency_s']['p95']:.2f}", f"{ldf['latency_s']['p95']:.2f}"),
        (
            "transitions / durable ops per run",
            f"{sf['transitions_per_workflow']:.1f}",
            f"{ldf['durable_operations_per_workflow']:.1f}",
        ),
        ("replays per run", "-", f"{ldf['replays_per_workflow']:.1f}"),
        (
            "Lambda requests per run",
            f"{sf['lambda_requests_per_workflow']:.1f}",
            f"{ldf['lambda_requests_per_workflow']:.1f}",
        ),
        (
            "Lambda invocations for table writes",
            _one_decimal(sf.get("lambda_invocations_for_table_writes_per_workflow")),
            "-",
        ),
        (
            "Lambda GB-s per run",
            f"{sf['lambda_gb_seconds_per_workflow']:.3f}",
            f"{ldf['lambda_gb_seconds_per_workflow']:.3f}",
        ),
        (
            "cost per 1,000 workflows (USD)",
            f"{sf['cost_per_1k_usd']['total']:.4f}",
            f"{ldf['cost_per_1k_usd']['total']:.4f}",
        ),
    ]
    for label, left, right in rows:
        print(f"{label:36}{left!s:>16}{right!s:>20}", file=out)
    verdict = "yes" if report["equivalent"] else "NO"
    print(f"\nboth patterns stored the same albums and prices: {verdict}", file=out)
    if run.report_paths:
        folder = run.report_paths[0].parent
        names = ", ".join(path.name for path in run.report_paths)
        print(f"report written to {folder}/: {names}", file=out)
