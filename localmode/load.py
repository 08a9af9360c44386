"""Load in local mode: many uploads at once through both patterns; nothing lost or stuck.

``python -m localmode.load [--uploads 100] [--out out/load] [--timeout 300]`` (what
``make load`` runs) starts the local stack with both patterns, puts every sample photo
into the uploads bucket at the same moment (one thread per upload, released together;
each put goes through the EventBridge rule to both patterns' targets), answers every
validation concurrently through the validation API on 127.0.0.1 (a thread pool; one
answer per upload, on its signed link, resumes both patterns), waits for every execution
to end, and then audits the table:

- **lost**: an upload whose pattern has no claim, or whose claiming execution did not end
  ``completed`` with its six albums validated (the reviewer's years) and priced;
- **duplicated**: an execution that worked on an upload without holding its claim (its
  record, albums and task count), albums or a task written by a duplicate delivery or by
  no recorded execution, and vision calls beyond one per upload and pattern;
- **stuck**: an execution still running when the timeout is up.

It writes ``results.json`` (throughput in workflows per second and latency p50/p95 per
pattern, the counts above and every problem found) and exits 1 when anything is lost,
duplicated or stuck, or an execution ended other than ``completed``.

Both patterns run side by side in this one process, so the figures are
those of local mode under load — useful to compare the patterns with each other and
runs with runs, not as AWS latencies. Vision is the local stand-in (labelled so).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, TextIO

from boto3.dynamodb.types import TypeDeserializer

from albums.adapters.repository import AlbumRepository
from albums.domain import keys
from albums.domain.errors import AlbumRegistrationError
from albums.domain.models import AlbumCorrection, ExecutionStatus, PriceStatus, WorkflowType
from albums.domain.records import (
    AlbumRecord,
    EntityType,
    ExecutionRecord,
    UploadClaim,
    ValidationTask,
    parse_timestamp,
)
from albums.domain.step_timing import (
    StepTimingError,
    StepTimings,
    durable_step_timings,
    step_functions_step_timings,
)
from localmode import samples
from localmode.demo import quiet_logs
from localmode.durable import LocalDurable
from localmode.pricing import ProgrammablePriceSource
from localmode.stack import LocalStack
from localmode.stepfunctions import StepFunctionsPattern
from localmode.validation_server import ValidationServer
from localmode.vision import STAND_IN_MODEL

SF: Final = WorkflowType.STEP_FUNCTIONS
LDF: Final = WorkflowType.DURABLE_FUNCTIONS
PATTERNS: Final = (SF, LDF)
MAX_UPLOADS: Final = 500
DEFAULT_OUT: Final = Path("out/load")
RESULTS_FILE: Final = "results.json"
#: How the figures are made (written into ``results.json``).
METHOD: Final = (
    "every upload put at the same moment from its own thread, each delivered through the "
    "EventBridge rule to both patterns",
    "each review answered once through the validation API on 127.0.0.1 (signed link, one "
    "answer resumes both patterns) as soon as both patterns wait for it, by a thread pool",
    "latency: execution start to end from each pattern's own history; 'excluding review' "
    "leaves out the wait for the reviewer",
    "throughput: ended executions of a pattern / seconds from the first put to its last end",
    "both patterns share one Python process: figures compare the patterns and runs in local "
    "mode, not AWS latencies",
)
#: Longest pause between two reads while waiting for a claim to appear (seconds).
_MAX_POLL_S: Final = 0.2


class LoadError(RuntimeError):
    """The load run could not be set up or run (not: it ran and found problems)."""


@dataclass(frozen=True, slots=True)
class LoadOptions:
    """How one load run is set up.

    Parameters
    ----------
    uploads
        Photos put at once (1 to ``MAX_UPLOADS``); the sample shelves repeat under new keys.
    answer_workers
        Threads answering validations concurrently.
    timeout_s
        Longest the whole run may take from the first put; an execution still running
        then counts as stuck.
    vision_latency_s, price_latency_s
        Simulated latency of each vision call and each price call.
    """

    uploads: int = 100
    answer_workers: int = 16
    timeout_s: float = 300.0
    vision_latency_s: float = 0.0
    price_latency_s: float = 0.0

    def __post_init__(self) -> None:
        if not 1 <= self.uploads <= MAX_UPLOADS:
            raise ValueError(f"uploads must be between 1 and {MAX_UPLOADS}")
        if not 1 <= self.answer_workers <= MAX_UPLOADS:
            raise ValueError(f"answer workers must be between 1 and {MAX_UPLOADS}")
        if self.timeout_s <= 0:
            raise ValueError("timeout must be positive")
        if self.vision_latency_s < 0 or self.price_latency_s < 0:
            raise ValueError("latencies must not be negative")


@dataclass(frozen=True, slots=True)
class PlannedUpload:
    """One photo to put, what the reviewer corrects, and the years that must end stored."""

    key: str
    image: bytes
    detected: tuple[Mapping[str, Any], ...]
    corrections: tuple[AlbumCorrection, ...]
    expected_years: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class PutUpload:
    """A planned upload once it is in the bucket (its identity is known only then)."""

    plan: PlannedUpload
    upload_id: str


# --- the audit (pure: the table's items in, counts and problems out) -----------------------


@dataclass(slots=True)
class PatternAudit:
    """What the table says about one pattern after the run.

    ``completed`` counts uploads whose claiming execution ended ``completed`` with the
    expected data; ``lost`` the others; ``duplicated`` every surplus execution or item.
    """

    pattern: WorkflowType
    uploads: int
    completed: int = 0
    lost: int = 0
    duplicated: int = 0
    problems: list[str] = field(default_factory=list)
    #: Per upload id: ``(album name, artist, year, price estimate)`` of each album.
    stored: dict[str, tuple[tuple[Any, ...], ...]] = field(default_factory=dict)

    def problem(self, message: str) -> None:
        """Record one problem, named by its pattern."""
        self.problems.append(f"{self.pattern}: {message}")


@dataclass(slots=True)
class _PatternItems:
    """One pattern's items, parsed and grouped by what they belong to."""

    claims: dict[str, UploadClaim] = field(default_factory=dict)
    executions: dict[str, ExecutionRecord] = field(default_factory=dict)
    albums: defaultdict[str, list[AlbumRecord]] = field(default_factory=lambda: defaultdict(list))
    tasks: defaultdict[str, list[ValidationTask]] = field(default_factory=lambda: defaultdict(list))


_PARSERS: Final[Mapping[str, Callable[[Mapping[str, Any]], Any]]] = {
    EntityType.CLAIM.value: UploadClaim.from_item,
    EntityType.EXECUTION.value: ExecutionRecord.from_item,
    EntityType.ALBUM.value: AlbumRecord.from_item,
    EntityType.TASK.value: ValidationTask.from_item,
}


def _group(audit: PatternAudit, items: Iterable[Mapping[str, Any]]) -> _PatternItems:
    grouped = _PatternItems()
    for item in items:
        if item.get("workflowType") != audit.pattern.value:
            continue
        parser = _PARSERS.get(str(item.get("entityType")))
        if parser is None:
            audit.problem(f"an item of unknown kind: {item.get('pk')} {item.get('sk')}")
            continue
        try:
            record = parser(item)
        except AlbumRegistrationError as error:
            audit.problem(f"a malformed item {item.get('pk')} {item.get('sk')}: {error}")
            continue
        if isinstance(record, UploadClaim):
            grouped.claims[record.upload.upload_id] = record
        elif isinstance(record, ExecutionRecord):
            grouped.executions[record.execution_id] = record
        elif isinstance(record, AlbumRecord):
            grouped.albums[record.execution_id].append(record)
        else:
            grouped.tasks[record.execution_id].append(record)
    return grouped


def audit_pattern(
    pattern: WorkflowType,
    items: Iterable[Mapping[str, Any]],
    expected_years: Mapping[str, Sequence[int]],
) -> PatternAudit:
    """Audit one pattern's items of the table against the uploads that were put.

    Parameters
    ----------
    pattern
        The pattern to audit (items of the other pattern are skipped).
    items
        Every item of the table, as plain values (a deserialised scan).
    expected_years
        Per upload id, the six years that must end stored (the reviewer's answer).
    """
    audit = PatternAudit(pattern, uploads=len(expected_years))
    grouped = _group(audit, items)
    holders = {upload_id: claim.execution_id for upload_id, claim in grouped.claims.items()}
    for record in grouped.executions.values():
        owned = _owned(grouped, record.execution_id)
        upload_id = record.upload.upload_id
        if record.status is ExecutionStatus.DUPLICATE:
            # A duplicate delivery writes its own record, pointing at the holder, and no more.
            if owned:
                audit.duplicated += owned
                audit.problem(f"duplicate {record.execution_id} wrote {owned} albums or tasks")
        elif holders.get(upload_id) != record.execution_id:
            audit.duplicated += 1 + owned
            audit.problem(f"{record.execution_id} processed {upload_id} without its claim")
    for execution_id in (set(grouped.albums) | set(grouped.tasks)) - set(grouped.executions):
        audit.duplicated += _owned(grouped, execution_id)
        audit.problem(f"albums or a task of execution {execution_id}, which has no record")
    for upload_id, years in expected_years.items():
        problem = _upload_problem(grouped, upload_id, years)
        if problem is None:
            audit.completed += 1
            record = grouped.executions[holders[upload_id]]
            audit.stored[upload_id] = tuple(
                (
                    a.album.album_name,
                    a.album.artist,
                    a.album.year,
                    a.price and a.price.price_estimate,
                )
                for a in sorted(grouped.albums[record.execution_id], key=lambda a: a.index)
            )
        else:
            audit.lost += 1
            audit.problem(f"upload {upload_id}: {problem}")
    return audit


def _owned(grouped: _PatternItems, execution_id: str) -> int:
    """Count the album and task items of an execution."""
    return len(grouped.albums.get(execution_id, ())) + len(grouped.tasks.get(execution_id, ()))


def _upload_problem(grouped: _PatternItems, upload_id: str, years: Sequence[int]) -> str | None:
    """Say why the upload did not end ``completed`` with the expected data (``None``: it did)."""
    claim = grouped.claims.get(upload_id)
    record = grouped.executions.get(claim.execution_id) if claim is not None else None
    if claim is None or record is None:
        return "no execution claimed it" if claim is None else "its claimant has no record"
    if record.status is not ExecutionStatus.COMPLETED:
        return f"execution {record.execution_id} is {record.status}"
    albums = sorted(grouped.albums.get(record.execution_id, ()), key=lambda a: a.index)
    problems = []
    if [a.index for a in albums] != list(range(1, len(years) + 1)):
        problems.append(f"albums {[a.index for a in albums]} stored, expected 1..{len(years)}")
    elif [a.album.year for a in albums] != list(years) or not all(a.year_validated for a in albums):
        problems.append(f"years {[a.album.year for a in albums]} stored, expected {list(years)}")
    if not all(a.price_status is PriceStatus.PRICED for a in albums):
        problems.append("not every album is priced")
    tasks = grouped.tasks.get(record.execution_id, ())
    if len(tasks) != 1:
        problems.append(f"{len(tasks)} validation tasks, expected 1")
    return "; ".join(problems) or None


# --- running executions: what each one did ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExecutionEnd:
    """How one execution ended, from its pattern's own view (``None``: still running)."""

    pattern: WorkflowType
    arn: str
    status: str | None
    result_status: str | None = None
    ended_at: datetime | None = None
    timings: StepTimings | None = None


@dataclass(slots=True)
class LoadReport:
    """What a load run did and found; :meth:`to_dict` is ``results.json``."""

    options: LoadOptions
    started_at: datetime
    put_s: float
    wall_time_s: float
    audits: Mapping[WorkflowType, PatternAudit]
    ends: Mapping[WorkflowType, Sequence[ExecutionEnd]]
    answer_problems: Sequence[str]
    #: Calls the vision stand-in answered: one per upload and pattern when nothing repeats.
    vision_calls: int = 0

    def stuck(self, pattern: WorkflowType) -> int:
        """Count the executions of ``pattern`` still running when the time was up."""
        return sum(1 for end in self.ends[pattern] if end.status is None)

    def not_completed(self, pattern: WorkflowType) -> list[ExecutionEnd]:
        """Return the ended executions of ``pattern`` whose outcome was not ``completed``."""
        return [
            end
            for end in self.ends[pattern]
            if end.status is not None and end.result_status != ExecutionStatus.COMPLETED.value
        ]

    @property
    def equivalent(self) -> bool:
        """Whether both patterns stored the same albums, years and prices for every upload."""
        return self.audits[SF].stored == self.audits[LDF].stored

    @property
    def problems(self) -> list[str]:
        """Every problem found, the audit's and the run's."""
        found = list(self.answer_problems)
        for pattern in PATTERNS:
            started = len(self.ends[pattern])
            if started != self.options.uploads:
                found.append(f"{pattern}: {started} executions for {self.options.uploads} uploads")
            found.extend(self.audits[pattern].problems)
            found.extend(
                f"{pattern}: execution {end.arn} is still running"
                for end in self.ends[pattern]
                if end.status is None
            )
            found.extend(
                f"{pattern}: execution {end.arn} ended {end.status} / {end.result_status}"
                for end in self.not_completed(pattern)
            )
        if not self.equivalent:
            found.append("the patterns stored different albums, years or prices")
        expected_calls = self.options.uploads * len(PATTERNS)
        if self.vision_calls != expected_calls:
            found.append(f"{self.vision_calls} vision calls, expected {expected_calls}")
        return found

    @property
    def passed(self) -> bool:
        """Nothing lost, duplicated or stuck, and every execution completed."""
        return not self.problems

    def pattern_figures(self, pattern: WorkflowType) -> dict[str, Any]:
        """One pattern's counts, throughput and latencies."""
        ends = self.ends[pattern]
        ended = [end for end in ends if end.status is not None]
        last = max((end.ended_at for end in ended if end.ended_at is not None), default=None)
        span_s = (last - self.started_at).total_seconds() if last is not None else None
        timings = [end.timings for end in ended if end.timings is not None]
        audit = self.audits[pattern]
        return {
            "uploads": audit.uploads,
            "executions_started": len(ends),
            "terminal": len(ended),
            "completed": audit.completed,
            "lost": audit.lost,
            "duplicated": audit.duplicated,
            "stuck": self.stuck(pattern),
            "not_completed": len(self.not_completed(pattern)),
            "throughput_workflows_per_s": (
                round(len(ended) / span_s, 3) if span_s and span_s > 0 else None
            ),
            "first_put_to_last_end_s": None if span_s is None else round(span_s, 3),
            "latency_s": latency_figures([t.duration_s for t in timings]),
            "latency_excluding_review_s": latency_figures([t.active_s for t in timings]),
        }

    def to_dict(self) -> dict[str, Any]:
        """Return the results as plain JSON."""
        patterns = {str(p): self.pattern_figures(p) for p in PATTERNS}
        return {
            "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "mode": "local",
            "vision": f"{STAND_IN_MODEL} (sample photos, not Bedrock)",
            "uploads": self.options.uploads,
            "options": {
                "answer_workers": self.options.answer_workers,
                "timeout_s": self.options.timeout_s,
                "vision_latency_s": self.options.vision_latency_s,
                "price_latency_s": self.options.price_latency_s,
            },
            "cpus": os.cpu_count(),
            "method": METHOD,
            "put_all_s": round(self.put_s, 3),
            "wall_time_s": round(self.wall_time_s, 3),
            "patterns": patterns,
            "lost": sum(f["lost"] for f in patterns.values()),
            "duplicated": sum(f["duplicated"] for f in patterns.values()),
            "stuck": sum(f["stuck"] for f in patterns.values()),
            "equivalent": self.equivalent,
            "vision_calls": self.vision_calls,
            "passed": self.passed,
            "problems": self.problems,
        }


def latency_figures(values: Sequence[float]) -> dict[str, float | None]:
    """Return p50, p95 and max of ``values`` in seconds (``None`` when there are none).

    Percentiles interpolate linearly between the nearest ranks (the report's method).
    """
    if not values:
        return {"p50": None, "p95": None, "max": None}
    ordered = sorted(values)
    p95 = (
        statistics.quantiles(ordered, n=20, method="inclusive")[-1]
        if len(ordered) > 1
        else ordered[0]
    )
    return {
        "p50": round(statistics.median(ordered), 3),
        "p95": round(p95, 3),
        "max": round(ordered[-1], 3),
    }


# --- the run -----------------------------------------------------------------------------------


def plan_uploads(count: int) -> list[PlannedUpload]:
    """Return ``count`` uploads of the sample shelves (repeated under new keys)."""
    planned = []
    for number in range(count):
        shelf = samples.shelf(number)
        planned.append(
            PlannedUpload(
                key=f"uploads/load/{number + 1:04d}-{shelf.name}.jpg",
                image=shelf.image(),
                detected=tuple(shelf.detected()),
                corrections=tuple(
                    AlbumCorrection(index=c["albumIndex"], year=c["year"])
                    for c in shelf.corrections()
                ),
                expected_years=tuple(album.year for album in shelf.albums),
            )
        )
    return planned


@contextmanager
def load_patterns(
    options: LoadOptions,
) -> Iterator[tuple[LocalStack, StepFunctionsPattern, LocalDurable, ValidationServer]]:
    """Yield the local stack, both patterns and the validation API, set up for a load run.

    The review timeout is beyond the run's: an unanswered review shows up as a stuck
    execution, not as a timeout that quietly completes with the detected years.
    """
    review_timeout = int(options.timeout_s) + 600
    with (
        LocalStack(validation_timeout_seconds=review_timeout) as stack,
        StepFunctionsPattern(
            stack, prices=ProgrammablePriceSource(latency_s=options.price_latency_s)
        ) as step_functions,
        LocalDurable(
            stack,
            price_source=ProgrammablePriceSource(latency_s=options.price_latency_s),
            execution_timeout=review_timeout + 60,
            metrics_stream=io.StringIO(),
        ) as durable,
        ValidationServer(stack, durable_resumer=durable.resumer) as server,
    ):
        stack.vision.latency_s = options.vision_latency_s
        yield stack, step_functions, durable, server


def put_all_at_once(stack: LocalStack, planned: Sequence[PlannedUpload]) -> list[PutUpload]:
    """Put every upload from its own thread, all released at the same moment.

    Each put delivers its "Object Created" event through the rule to both patterns.

    Raises
    ------
    LoadError
        When a put failed (its error is the cause).
    """
    for plan in planned:
        stack.vision.register(plan.image, plan.detected)
    gate = threading.Barrier(len(planned))

    def put(plan: PlannedUpload) -> PutUpload:
        gate.wait()
        event = stack.put_upload(plan.key, plan.image)
        return PutUpload(plan, keys.parse_object_created_event(event).upload_id)

    with ThreadPoolExecutor(max_workers=len(planned), thread_name_prefix="load-put") as pool:
        futures = [pool.submit(put, plan) for plan in planned]
        try:
            return [future.result() for future in futures]
        except Exception as error:
            raise LoadError(f"an upload could not be put: {error!r}") from error


class Deadline:
    """A moment ``seconds`` from now, shared by every wait of a run."""

    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds

    def left(self) -> float:
        """Seconds until the deadline (at least 0.1: a last short wait)."""
        return max(0.1, self.at - time.monotonic())

    def passed(self) -> bool:
        """Whether the deadline has passed."""
        return time.monotonic() >= self.at


def wait_for_claim(repository: AlbumRepository, upload_id: str, deadline: Deadline) -> str:
    """Wait until the pattern claims the upload; return the claiming execution's id.

    Raises
    ------
    TimeoutError
        When nobody claims it before the deadline.
    """
    pause = 0.02
    while (claim := repository.get_claim(upload_id)) is None:
        if deadline.passed():
            raise TimeoutError(f"no {repository.workflow_type} execution claimed {upload_id}")
        time.sleep(pause)
        pause = min(_MAX_POLL_S, pause * 2)
    return claim.execution_id


def answer_all(
    server: ValidationServer,
    step_functions: StepFunctionsPattern,
    durable: LocalDurable,
    uploads: Sequence[PutUpload],
    *,
    workers: int,
    deadline: Deadline,
) -> list[str]:
    """Answer every upload once through the validation API, once both patterns wait for it.

    Returns the problems (an upload whose answer did not resume both patterns).
    """
    stack = server.stack
    sf_arns = {step_functions.execution_id(arn): arn for arn in step_functions.started}
    both = sorted(str(pattern) for pattern in PATTERNS)

    def answer(upload: PutUpload) -> str | None:
        try:
            sf_id = wait_for_claim(stack.repository(SF), upload.upload_id, deadline)
            step_functions.wait_for_validation(sf_arns[sf_id], timeout=deadline.left())
            ldf_id = wait_for_claim(stack.repository(LDF), upload.upload_id, deadline)
            durable.wait_for_task(ldf_id, timeout=deadline.left())
            years = {c.index: c.year for c in upload.plan.corrections}
            result = server.client.correct_years(server.link_for(upload.upload_id), years)
        except Exception as error:  # reported with the upload; the audit counts the effect
            return f"upload {upload.upload_id}: its review could not be answered: {error!r}"
        resumed = sorted(result.body.get("resumed", [])) if result.status == 200 else []
        if resumed != both:
            return f"upload {upload.upload_id}: the API answered {result.status} {result.body}"
        return None

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="load-answer") as pool:
        return [problem for problem in pool.map(answer, uploads) if problem is not None]


def wait_for_every_end(
    step_functions: StepFunctionsPattern, durable: LocalDurable, deadline: Deadline
) -> dict[WorkflowType, list[ExecutionEnd]]:
    """Wait for every execution of both patterns to end, until the deadline."""
    ends: dict[WorkflowType, list[ExecutionEnd]] = {SF: [], LDF: []}
    for arn in list(step_functions.started):
        ends[SF].append(_step_functions_end(step_functions, arn, deadline))
    for arn in durable.started:
        ends[LDF].append(_durable_end(durable, arn, deadline))
    return ends


def _step_functions_end(
    step_functions: StepFunctionsPattern, arn: str, deadline: Deadline
) -> ExecutionEnd:
    try:
        described = step_functions.wait_for_end(arn, timeout=deadline.left())
    except TimeoutError:
        return ExecutionEnd(SF, arn, None)
    history = step_functions.history(arn)
    output = json.loads(described.get("output") or "{}")
    return ExecutionEnd(
        SF,
        arn,
        str(described["status"]),
        result_status=output.get("status") if isinstance(output, dict) else None,
        ended_at=parse_timestamp(described["stopDate"]) if described.get("stopDate") else None,
        timings=_timings(step_functions_step_timings, history),
    )


def _durable_end(durable: LocalDurable, arn: str, deadline: Deadline) -> ExecutionEnd:
    try:
        run = durable.wait(arn, timeout=deadline.left())
    except TimeoutError:
        return ExecutionEnd(LDF, arn, None)
    history = durable.history(arn)
    last = history[-1].get("EventTimestamp") if history else None
    return ExecutionEnd(
        LDF,
        arn,
        run.status,
        result_status=run.result.get("status") if isinstance(run.result, dict) else None,
        ended_at=parse_timestamp(last) if isinstance(last, datetime | str) else None,
        timings=_timings(durable_step_timings, history),
    )


def _timings(
    read: Callable[[Iterable[Mapping[str, Any]]], StepTimings], history: Sequence[Mapping[str, Any]]
) -> StepTimings | None:
    try:
        return read(history)
    except StepTimingError:
        return None


def scan_table(stack: LocalStack) -> list[dict[str, Any]]:
    """Every item of the local table as plain values (all pages)."""
    deserializer = TypeDeserializer()
    items: list[dict[str, Any]] = []
    request: dict[str, Any] = {"TableName": stack.table_name, "ConsistentRead": True}
    while True:
        page = stack.dynamodb.scan(**request)
        items.extend(
            {name: deserializer.deserialize(value) for name, value in item.items()}
            for item in page.get("Items", [])
        )
        if "LastEvaluatedKey" not in page:
            return items
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def run_load(
    options: LoadOptions, *, out_dir: Path | None = DEFAULT_OUT, out: TextIO = sys.stdout
) -> LoadReport:
    """Run ``options.uploads`` uploads at once through both patterns and audit the table.

    Writes ``results.json`` into ``out_dir`` (unless ``None``) and prints a summary.

    Raises
    ------
    LoadError
        When the run could not be set up or an upload could not be put.
    """
    planned = plan_uploads(options.uploads)
    began = time.perf_counter()
    with quiet_logs(), load_patterns(options) as (stack, step_functions, durable, server):
        deadline = Deadline(options.timeout_s)
        started_at = datetime.now(UTC)
        putting = time.perf_counter()
        uploads = put_all_at_once(stack, planned)
        put_s = time.perf_counter() - putting
        print(f"put {len(uploads)} uploads at once in {put_s:.2f} s", file=out, flush=True)
        answer_problems = answer_all(
            server,
            step_functions,
            durable,
            uploads,
            workers=options.answer_workers,
            deadline=deadline,
        )
        ends = wait_for_every_end(step_functions, durable, deadline)
        items = scan_table(stack)
        vision_calls = stack.vision.calls
    expected = {upload.upload_id: upload.plan.expected_years for upload in uploads}
    report = LoadReport(
        options=options,
        started_at=started_at,
        put_s=put_s,
        wall_time_s=time.perf_counter() - began,
        audits={pattern: audit_pattern(pattern, items, expected) for pattern in PATTERNS},
        ends=ends,
        answer_problems=answer_problems,
        vision_calls=vision_calls,
    )
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / RESULTS_FILE).write_text(json.dumps(report.to_dict(), indent=2) + "\n")
    print_summary(report, out, out_dir)
    return report


def print_summary(report: LoadReport, out: TextIO, out_dir: Path | None) -> None:
    """Print the per-pattern figures and every problem found."""
    print(
        f"\nLoad — {report.options.uploads} uploads at once, both patterns, local mode "
        f"(vision: {STAND_IN_MODEL}); wall time {report.wall_time_s:.1f} s\n",
        file=out,
    )
    figures = {pattern: report.pattern_figures(pattern) for pattern in PATTERNS}
    rows = [
        ("executions", "executions_started"),
        ("completed", "completed"),
        ("lost", "lost"),
        ("duplicated", "duplicated"),
        ("stuck", "stuck"),
        ("throughput (workflows/s)", "throughput_workflows_per_s"),
    ]
    print(f"{'':30}{'Step Functions':>16}{'durable functions':>20}", file=out)
    for label, name in rows:
        print(f"{label:30}{figures[SF][name]!s:>16}{figures[LDF][name]!s:>20}", file=out)
    for label, name in (
        ("latency", "latency_s"),
        ("latency excl. review", "latency_excluding_review_s"),
    ):
        for q in ("p50", "p95"):
            left, right = figures[SF][name][q], figures[LDF][name][q]
            print(f"{f'{label} {q} (s)':30}{left!s:>16}{right!s:>20}", file=out)
    problems = report.problems
    print(f"\n{'PASSED' if report.passed else 'FAILED'}: {len(problems)} problems", file=out)
    for problem in problems[:50]:
        print(f"  - {problem}", file=out)
    if len(problems) > 50:
        print(f"  ... and {len(problems) - 50} more (see {RESULTS_FILE})", file=out)
    if out_dir is not None:
        print(f"results written to {out_dir / RESULTS_FILE}", file=out)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: run the load and exit 1 when anything is lost, duplicated or stuck."""
    parser = argparse.ArgumentParser(
        prog="python -m localmode.load", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--uploads", type=int, default=100, help="uploads put at once (100)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results folder (out/load)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds for the run (300)")
    parser.add_argument("--answer-workers", type=int, default=16, help="answering threads (16)")
    parser.add_argument("--vision-latency", type=float, default=0.0, help="seconds per call")
    parser.add_argument("--price-latency", type=float, default=0.0, help="seconds per call")
    arguments = parser.parse_args(argv)
    try:
        options = LoadOptions(
            uploads=arguments.uploads,
            answer_workers=arguments.answer_workers,
            timeout_s=arguments.timeout,
            vision_latency_s=arguments.vision_latency,
            price_latency_s=arguments.price_latency,
        )
    except ValueError as error:
        parser.error(str(error))
    try:
        report = run_load(options, out_dir=arguments.out)
    except LoadError as error:
        print(f"load: {error}", file=sys.stderr)
        return 2
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
