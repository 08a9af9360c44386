"""The comparison's data: what every ended execution of both patterns did.

A :class:`Dataset` holds, per pattern, one :class:`ExecutionSample` per ended execution:
status, albums priced, per-step timings from its history (:mod:`albums.domain.step_timing`),
transitions or billable durable operations and replays, and the DynamoDB request units its
items imply (:mod:`albums.domain.storage_estimate`); the pattern's Lambda compute
(:class:`ComputeTotals`); and whether both patterns stored equal albums and prices for
every upload. :func:`collect_local` builds one from the local stack after a demo run;
:func:`albums_cli.deployed_report.collect_deployed` from a deployed environment.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

from albums.adapters.stepfunctions import count_table_write_invocations
from albums.domain import keys
from albums.domain.cost import (
    PriceTable,
    count_state_transitions,
    lambda_gb_seconds,
    load_price_table,
)
from albums.domain.durable_metering import usage_from_history
from albums.domain.errors import AlbumRegistrationError, TaskNotFoundError
from albums.domain.models import (
    ALBUMS_PER_IMAGE,
    ExecutionMetrics,
    ExecutionStatus,
    WorkflowType,
)
from albums.domain.records import AlbumRecord, ExecutionRecord, parse_timestamp
from albums.domain.step_timing import (
    StepTimingError,
    StepTimings,
    durable_step_timings,
    step_functions_step_timings,
)
from albums.domain.storage_estimate import (
    RequestUnits,
    StoredItems,
    item_size,
    workflow_request_units,
)

if TYPE_CHECKING:
    from albums.adapters.repository import AlbumRepository
    from localmode.durable import LocalDurable
    from localmode.stack import LocalStack
    from localmode.stepfunctions import StepFunctionsPattern

SF: Final = WorkflowType.STEP_FUNCTIONS
LDF: Final = WorkflowType.DURABLE_FUNCTIONS
PATTERNS: Final = (SF, LDF)
LABELS: Final[Mapping[WorkflowType, str]] = {SF: "Step Functions", LDF: "durable functions"}


class ReportError(AlbumRegistrationError):
    """The report cannot be collected or written; the message says what to do."""

    code = "report_failed"


# --- the dataset ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RunInfo:
    """How the measured run was set up (it goes into the report as it is).

    Parameters
    ----------
    mode
        ``local`` or ``deployed``.
    vision
        ``local-stand-in`` or the Bedrock model id.
    uploads
        Photos uploaded (local), or executions found (deployed).
    vision_latency_s, price_latency_s, fail_rate
        The simulated latencies and injected failure rate (local mode only).
    since
        Start of the reporting window (deployed mode only), ISO-8601.
    """

    mode: str
    vision: str
    uploads: int
    vision_latency_s: float | None = None
    price_latency_s: float | None = None
    fail_rate: float | None = None
    since: str | None = None

    def __post_init__(self) -> None:
        if self.mode not in ("local", "deployed"):
            raise ReportError(f"mode must be 'local' or 'deployed', got {self.mode!r}")
        if isinstance(self.uploads, bool) or not isinstance(self.uploads, int) or self.uploads < 0:
            raise ReportError(f"uploads must be a non-negative integer, got {self.uploads!r}")


@dataclass(frozen=True, slots=True)
class ExecutionSample:
    """What one ended execution did.

    Parameters
    ----------
    execution_id, upload_id
        The execution and the upload it processed.
    status
        Its terminal status.
    albums_priced
        Albums that got a price.
    duration_s
        Start to end, from the history (or the recorded duration when it is gone).
    timings
        Per-step timings; ``None`` when the history could not be read.
    orchestration_units
        Billed state transitions (Step Functions) or billable durable operations.
    replays
        Durable handler invocations after the first (0 for Step Functions).
    durable_bytes_written
        Checkpoint data written (durable only).
    lambda_requests
        Lambda requests of this execution when known per execution, else ``None``.
    lambda_gb_seconds
        Lambda GB-seconds of this execution when known per execution, else ``None``.
    request_units
        Estimated DynamoDB request units of its items.
    table_write_invocations
        Step Functions: Lambda invocations made for steps that only write the table, counted
        from the history (``None`` without one, and for the durable pattern, whose one
        function runs every step).
    """

    execution_id: str
    upload_id: str
    status: ExecutionStatus
    albums_priced: int
    duration_s: float
    timings: StepTimings | None
    orchestration_units: int
    replays: int = 0
    durable_bytes_written: int = 0
    lambda_requests: int | None = None
    lambda_gb_seconds: Decimal | None = None
    request_units: RequestUnits | None = None
    table_write_invocations: int | None = None


@dataclass(frozen=True, slots=True)
class ComputeTotals:
    """Lambda compute of a pattern over the whole run, and how it was measured."""

    gb_seconds: Decimal
    requests: int
    source: str


@dataclass(frozen=True, slots=True)
class PatternData:
    """Every ended execution of one pattern, and the pattern's Lambda compute."""

    pattern: WorkflowType
    samples: tuple[ExecutionSample, ...]
    compute: ComputeTotals


@dataclass(frozen=True, slots=True)
class Dataset:
    """Everything the report is computed from."""

    run: RunInfo
    patterns: Mapping[WorkflowType, PatternData]
    equivalent: bool
    differences: tuple[str, ...] = ()
    prices: PriceTable = field(default_factory=load_price_table)

    def __post_init__(self) -> None:
        missing = [p.value for p in PATTERNS if p not in self.patterns]
        if missing:
            raise ReportError(f"the dataset has no data for {', '.join(missing)}")


# --- collecting -------------------------------------------------------------------------


#: One pattern's samples, and each upload's albums in comparable form.
Collected = tuple[list[ExecutionSample], dict[str, list[tuple[Any, ...]]]]
HistoryReader = Callable[[str], Sequence[Mapping[str, Any]] | None]


def terminal_records(
    repository: AlbumRepository, *, since: datetime | None = None, limit: int | None = None
) -> list[ExecutionRecord]:
    """Return the ended, non-duplicate executions, newest first, created at or after ``since``."""
    records: list[ExecutionRecord] = []
    cutoff = None if since is None else since.astimezone(UTC)
    for record in repository.iter_executions():
        if cutoff is not None and parse_timestamp(record.created_at) < cutoff:
            break
        if record.status.is_terminal and record.status is not ExecutionStatus.DUPLICATE:
            records.append(record)
            if limit is not None and len(records) >= limit:
                break
    return records


def _stored_items(
    repository: AlbumRepository, record: ExecutionRecord, albums: Sequence[AlbumRecord]
) -> StoredItems:
    task_size = None
    if record.task_id is not None:
        try:
            task_size = item_size(repository.get_task(record.task_id).to_item())
        except TaskNotFoundError:
            task_size = None
    claim = repository.get_claim(record.upload.upload_id)
    return StoredItems(
        claim=item_size(claim.to_item()) if claim is not None else 0,
        execution=item_size(record.to_item()),
        albums=tuple(item_size(album.to_item()) for album in albums),
        task=task_size,
    )


def _step_functions_figures(
    history: Sequence[Mapping[str, Any]] | None, metrics: ExecutionMetrics | None
) -> dict[str, Any]:
    """Transitions (counted from the history, else as recorded) and Lambda requests."""
    recorded = metrics.transitions if metrics is not None else None
    return {
        "orchestration_units": count_state_transitions(history) if history else recorded or 0,
        "lambda_requests": metrics.extra.get("LambdaInvocations") if metrics else None,
        "table_write_invocations": (count_table_write_invocations(history) if history else None),
    }


def _durable_figures(
    history: Sequence[Mapping[str, Any]] | None, metrics: ExecutionMetrics | None
) -> dict[str, Any]:
    """Operations, replays, bytes and invocations (from the history, else as recorded)."""
    gb_seconds = metrics.lambda_gb_seconds if metrics is not None else None
    if history:
        usage = usage_from_history(history)
        return {
            "orchestration_units": usage.billable_operations,
            "replays": usage.replays,
            "durable_bytes_written": usage.bytes_written,
            "lambda_requests": usage.invocations,
            "lambda_gb_seconds": gb_seconds,
        }
    if metrics is None:
        return {"orchestration_units": 0}
    return {
        "orchestration_units": metrics.durable_operations or 0,
        "replays": metrics.replays or 0,
        "durable_bytes_written": metrics.extra.get("BytesWritten", 0),
        "lambda_requests": metrics.extra.get("Invocations"),
        "lambda_gb_seconds": gb_seconds,
    }


def _timings(
    pattern: WorkflowType, history: Sequence[Mapping[str, Any]] | None
) -> StepTimings | None:
    if not history:
        return None
    read = step_functions_step_timings if pattern is SF else durable_step_timings
    try:
        return read(history)
    except StepTimingError:
        return None  # an unusable history leaves the recorded figures only


def _sample(
    pattern: WorkflowType,
    repository: AlbumRepository,
    record: ExecutionRecord,
    history: Sequence[Mapping[str, Any]] | None,
) -> tuple[ExecutionSample, list[tuple[Any, ...]]]:
    """Return one execution's sample, and its albums in comparable form (for equivalence)."""
    albums = repository.get_albums(record.execution_id)
    metrics = record.metrics
    timings = _timings(pattern, history)
    recorded_s = metrics.duration_ms / 1000 if metrics is not None else 0.0
    figures = (
        _step_functions_figures(history, metrics)
        if pattern is SF
        else _durable_figures(history, metrics)
    )
    sample = ExecutionSample(
        execution_id=record.execution_id,
        upload_id=record.upload.upload_id,
        status=record.status,
        albums_priced=sum(1 for album in albums if album.price is not None),
        duration_s=timings.duration_s if timings is not None else recorded_s,
        timings=timings,
        request_units=workflow_request_units(
            _stored_items(repository, record, albums), record.status
        ),
        **figures,
    )
    comparable = [
        (album.album, album.year_original, album.year_validated, album.price) for album in albums
    ]
    return sample, comparable


def collect_pattern(
    pattern: WorkflowType,
    repository: AlbumRepository,
    records: Iterable[ExecutionRecord],
    history_of: HistoryReader,
) -> Collected:
    """Return one pattern's samples (oldest first) and each upload's albums, comparable.

    Parameters
    ----------
    pattern
        The pattern the records belong to.
    repository
        That pattern's repository (albums, tasks and claims are read through it).
    records
        Its ended executions.
    history_of
        Reads an execution's history by execution id (``None`` when it is gone).
    """
    samples: list[ExecutionSample] = []
    stored: dict[str, list[tuple[Any, ...]]] = {}
    for record in records:
        sample, comparable = _sample(pattern, repository, record, history_of(record.execution_id))
        samples.append(sample)
        stored[record.upload.upload_id] = comparable
    samples.reverse()  # oldest first reads naturally in the report
    return samples, stored


def differences_between(stored: Mapping[WorkflowType, Mapping[str, Any]]) -> tuple[str, ...]:
    """Return the uploads on which the patterns stored different albums or prices."""
    uploads = set(stored[SF]) | set(stored[LDF])
    return tuple(
        upload for upload in sorted(uploads) if stored[SF].get(upload) != stored[LDF].get(upload)
    )


def durable_compute(samples: Sequence[ExecutionSample], source: str) -> ComputeTotals:
    """Return the durable pattern's compute: the GB-seconds and invocations of its samples."""
    return ComputeTotals(
        gb_seconds=sum((s.lambda_gb_seconds or Decimal(0) for s in samples), Decimal(0)),
        requests=sum(s.lambda_requests or 0 for s in samples),
        source=source,
    )


def ran_at_once(phase_s: float, call_s: float, calls: int = ALBUMS_PER_IMAGE) -> bool:
    """Return whether ``calls`` calls of ``call_s`` each that took ``phase_s`` ran at once.

    At once they take about one call, one after the other at least ``calls``; the phase
    is judged by the nearer of the two (fixed orchestration overhead shifts it up).
    """
    return phase_s < (1 + calls) / 2 * call_s


def dataset_of(
    run: RunInfo,
    collected: Mapping[WorkflowType, Collected],
    compute: Mapping[WorkflowType, ComputeTotals],
) -> Dataset:
    """Return the dataset of both patterns' collected samples and compute.

    ``equivalent`` holds when both patterns have executions and stored the same albums
    and prices for every upload.
    """
    differences = differences_between({p: collected[p][1] for p in PATTERNS})
    return Dataset(
        run=run,
        patterns={p: PatternData(p, tuple(collected[p][0]), compute[p]) for p in PATTERNS},
        equivalent=not differences and all(collected[p][0] for p in PATTERNS),
        differences=differences,
    )


def collect_local(
    stack: LocalStack,
    step_functions: StepFunctionsPattern,
    durable: LocalDurable,
    *,
    run: RunInfo,
) -> Dataset:
    """Collect both patterns' figures from a local run, after every execution ended.

    Call it inside the stack's context. Step Functions compute is the in-process run time
    of every invocation of the pattern's Lambdas (the stack's registry) at their memory;
    durable compute is the orchestrator's measured invocations (recorded on each
    execution when it ended).

    Parameters
    ----------
    stack
        The local stack the run used.
    step_functions
        The Step Functions pattern (its started executions and their histories).
    durable
        The durable pattern (its started executions and the runner's histories).
    run
        The run's settings, reported as they are.
    """
    from localmode.lambdas import function_name_of  # noqa: PLC0415 - local mode only

    sf_arns = {keys.execution_id_for(SF, arn): arn for arn in step_functions.started}
    ldf_arns = {keys.execution_id_for(LDF, arn): arn for arn in durable.started}

    def sf_history(execution_id: str) -> list[dict[str, Any]] | None:
        arn = sf_arns.get(execution_id)
        return step_functions.history(arn) if arn is not None else None

    def ldf_history(execution_id: str) -> list[dict[str, Any]] | None:
        arn = ldf_arns.get(execution_id)
        return durable.history(arn) if arn is not None else None

    sf_samples, sf_stored = collect_pattern(
        SF, stack.repository(SF), terminal_records(stack.repository(SF)), sf_history
    )
    ldf_samples, ldf_stored = collect_pattern(
        LDF, stack.repository(LDF), terminal_records(stack.repository(LDF)), ldf_history
    )
    functions = {function_name_of(arn) for arn in step_functions.function_arns.values()}
    invocations = [i for i in stack.registry.invocations if i.function_name in functions]
    sf_compute = ComputeTotals(
        gb_seconds=sum(
            (lambda_gb_seconds(Decimal(str(i.duration_ms)), i.memory_mb) for i in invocations),
            Decimal(0),
        ),
        requests=len(invocations),
        source="in-process run time of every invocation of the state machine's Lambdas",
    )
    ldf_compute = durable_compute(
        ldf_samples, "in-process run time of every orchestrator invocation (replays included)"
    )
    return dataset_of(
        run,
        {SF: (sf_samples, sf_stored), LDF: (ldf_samples, ldf_stored)},
        {SF: sf_compute, LDF: ldf_compute},
    )
