"""Durable execution figures: read the history, count, record on the execution, emit EMF.

On AWS the recorder pages ``GetDurableExecutionHistory`` (:func:`fetch_history`); local
mode reads the testing runner's history. Both feed the same counting code
(:func:`albums.domain.durable_metering.usage_from_history`) and the same recording
(:func:`record_durable_metrics`), so the figures of the two environments are comparable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import IO, Any

from albums.adapters.repository import AlbumRepository
from albums.domain import keys
from albums.domain.cost import WorkflowUsage, durable_functions_cost, lambda_gb_seconds
from albums.domain.durable_metering import DurableUsage, usage_from_history
from albums.domain.errors import ExecutionNotFoundError
from albums.domain.models import ExecutionMetrics, WorkflowType
from albums.observability import emit_execution_metrics, execution_context, get_logger

PATTERN = WorkflowType.DURABLE_FUNCTIONS
#: Memory of the orchestrator function (Terraform's default) for GB-seconds.
DEFAULT_MEMORY_MB = 1024
LOGGER = get_logger()


def fetch_history(lambda_client: Any, execution_arn: str) -> list[dict[str, Any]]:
    """Return every event of a durable execution's history, execution data included.

    Parameters
    ----------
    lambda_client
        A boto3 Lambda client.
    execution_arn
        The durable execution's ARN.
    """
    events: list[dict[str, Any]] = []
    request: dict[str, Any] = {"DurableExecutionArn": execution_arn, "IncludeExecutionData": True}
    while True:
        page = lambda_client.get_durable_execution_history(**request)
        events.extend(page.get("Events", []))
        marker = page.get("NextMarker")
        if not marker:
            return events
        request["Marker"] = marker


def invocation_durations_ms(events: Sequence[Mapping[str, Any]]) -> list[float]:
    """Return each handler invocation's duration from ``InvocationCompleted`` details."""
    durations = []
    for event in events:
        details = event.get("InvocationCompletedDetails")
        if event.get("EventType") != "InvocationCompleted" or not isinstance(details, Mapping):
            continue
        start, end = details.get("StartTimestamp"), details.get("EndTimestamp")
        if start is not None and end is not None and hasattr(end, "__sub__"):
            durations.append(max(0.0, (end - start).total_seconds() * 1000))
    return durations


def durable_metrics(
    usage: DurableUsage,
    *,
    durations_ms: Sequence[float] = (),
    memory_mb: int = DEFAULT_MEMORY_MB,
) -> ExecutionMetrics:
    """Return the figures recorded for a durable execution.

    ``cost_usd`` is the orchestration (billable operations and data written and retained)
    plus the orchestrator's own Lambda requests and, when invocation durations are known,
    its GB-seconds.
    """
    gb_seconds = sum(
        (lambda_gb_seconds(Decimal(str(ms)), memory_mb) for ms in durations_ms), Decimal(0)
    )
    cost = durable_functions_cost(
        WorkflowUsage(
            durable_operations=usage.billable_operations,
            durable_bytes_written=usage.bytes_written,
            lambda_requests=usage.invocations,
            lambda_gb_seconds=gb_seconds,
        )
    )
    return ExecutionMetrics(
        duration_ms=usage.duration_ms or 0,
        durable_operations=usage.billable_operations,
        replays=usage.replays,
        lambda_gb_seconds=gb_seconds if durations_ms else None,
        cost_usd=cost.total.quantize(Decimal("0.00000001")),
        extra={
            "Checkpoints": usage.checkpoints,
            "BytesWritten": usage.bytes_written,
            "Invocations": usage.invocations,
        },
    )


def record_durable_metrics(
    repository: AlbumRepository,
    execution_arn: str,
    events: Sequence[Mapping[str, Any]],
    *,
    durations_ms: Sequence[float] | None = None,
    memory_mb: int = DEFAULT_MEMORY_MB,
    stream: IO[str] | None = None,
) -> dict[str, Any]:
    """Count an ended execution's history, record the figures and emit them as EMF.

    Parameters
    ----------
    repository
        The ``ldf#`` tenant's repository.
    execution_arn
        The durable execution's ARN (the execution id is derived from it).
    events
        The complete history (see :func:`fetch_history`).
    durations_ms
        Handler invocation durations; ``None`` reads them from the history.
    memory_mb
        The orchestrator's memory, for GB-seconds.
    stream
        Where the EMF line goes (``None``: stdout).

    Returns
    -------
    dict
        ``{"executionId", "status", "durableOperations", "replays", "checkpoints",
        "bytesWritten", "recorded"}``; ``recorded`` is false when the execution has no
        record (an event rejected before anything was written).
    """
    execution_id = keys.execution_id_for(PATTERN, execution_arn)
    usage = usage_from_history(events)
    measured = invocation_durations_ms(events) if durations_ms is None else list(durations_ms)
    metrics = durable_metrics(usage, durations_ms=measured, memory_mb=memory_mb)
    summary: dict[str, Any] = {
        "executionId": execution_id,
        "durableStatus": usage.status,
        "durableOperations": usage.billable_operations,
        "replays": usage.replays,
        "checkpoints": usage.checkpoints,
        "bytesWritten": usage.bytes_written,
    }
    with execution_context(LOGGER, execution_id, PATTERN):
        try:
            repository.get_execution(execution_id)
        except ExecutionNotFoundError:
            LOGGER.info("ended execution has no record; figures logged only", extra=summary)
            return {**summary, "status": None, "recorded": False}
        record = repository.record_metrics(execution_id, metrics)
        if record.status.is_terminal:
            emit_execution_metrics(
                PATTERN, record.status, metrics, execution_id=execution_id, stream=stream
            )
        LOGGER.info("execution figures recorded", extra=summary)
        return {**summary, "status": str(record.status), "recorded": True}


def record_durable_execution(
    lambda_client: Any, repository: AlbumRepository, execution_arn: str
) -> dict[str, Any]:
    """Fetch an ended execution's history from AWS and record its figures.

    What the execution recorder runs for a durable execution's status-change event.
    """
    return record_durable_metrics(
        repository, execution_arn, fetch_history(lambda_client, execution_arn)
    )
