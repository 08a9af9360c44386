"""Execution recorder: transitions, duration and metrics of every ended execution.

Triggered by EventBridge when an execution ends. The handler dispatches on the event's
``source``; each pattern has one branch in :data:`RECORDERS`:

- ``aws.states`` ("Step Functions Execution Status Change"): reads the execution's whole
  history (``GetExecutionHistory``, every page), counts the billed state transitions
  (every state entered + every retry, :func:`albums.domain.cost.count_state_transitions`),
  takes the duration from ``DescribeExecution``, writes both (and the Step Functions
  cost: transitions + Lambda requests) on the execution record and emits the EMF metrics
  under the Step Functions namespace. An execution that ended without reaching its own
  failure handling (aborted, timed out) is marked ``failed`` here, so no record stays
  ``running`` forever.

- ``aws.lambda`` ("Durable Execution Status Change"): reads the durable execution's
  history (``GetDurableExecutionHistory``, every page) and records billable durable
  operations, replays, checkpoints, bytes written, duration and cost on the execution
  record, with the EMF metrics under the durable namespace
  (:func:`albums.adapters.durable_history.record_durable_execution`). The event is the
  published one (AWS Lambda developer guide, "Monitoring durable functions", section
  "EventBridge events", https://docs.aws.amazon.com/lambda/latest/dg/durable-monitoring.html):
  source ``aws.lambda``, detail-type ``Durable Execution Status Change``, detail
  ``durableExecutionArn``, ``durableExecutionName``, ``functionArn`` (version-qualified),
  ``status`` (``RUNNING``, ``SUCCEEDED``, ``STOPPED``, ``FAILED``, ``TIMED_OUT``),
  ``startTimestamp`` and, for the terminal statuses, ``endTimestamp``. The recorder needs
  ``durableExecutionArn`` and an ended ``status``; anything else is refused with
  :class:`~albums.domain.errors.InvalidUploadEventError` (the ``durable-execution-ended``
  rule delivers only ended statuses, so a ``RUNNING`` event here is a wiring mistake).

Local mode calls :func:`record_step_functions_execution` and the durable recorder directly
with its moto clients and the runner's history.

Lambda handler string: ``execution_recorder.handler.handler``
(the zip holds ``execution_recorder/`` at its root).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, Final

from albums import workflow
from albums.adapters import clients
from albums.adapters.durable_history import record_durable_execution
from albums.adapters.repository import AlbumRepository
from albums.adapters.stepfunctions import PATTERN, ExecutionMeasurement, measure_execution
from albums.domain.cost import WorkflowUsage, step_functions_cost
from albums.domain.errors import ExecutionNotFoundError, InvalidUploadEventError
from albums.domain.models import ExecutionMetrics, WorkflowType
from albums.observability import emit_execution_metrics, execution_context, get_logger
from albums.settings import Settings

LOGGER = get_logger()

#: Step Functions statuses of an execution that ended without its own success path.
_ABNORMAL_END = frozenset({"FAILED", "TIMED_OUT", "ABORTED"})

#: detail-type of Lambda's durable execution status events ("Monitoring durable functions").
DURABLE_STATUS_DETAIL_TYPE: Final = "Durable Execution Status Change"
#: The durable statuses that end an execution (the events also report ``RUNNING``).
DURABLE_ENDED_STATUSES: Final = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "STOPPED"})


def step_functions_metrics(measurement: ExecutionMeasurement) -> ExecutionMetrics:
    """Return the figures recorded for a measured Step Functions execution.

    ``cost_usd`` is the orchestration (transitions) plus the Lambda requests; Lambda
    compute is left out because the history does not hold billed durations.
    """
    usage = WorkflowUsage(
        state_transitions=measurement.transitions,
        lambda_requests=measurement.lambda_invocations,
    )
    cost = step_functions_cost(usage)
    return ExecutionMetrics(
        duration_ms=measurement.duration_ms,
        transitions=measurement.transitions,
        cost_usd=cost.total.quantize(Decimal("0.00000001")),
        extra={"LambdaInvocations": measurement.lambda_invocations},
    )


def record_step_functions_execution(
    sfn_client: Any, repository: AlbumRepository, execution_arn: str
) -> dict[str, Any]:
    """Measure an ended execution, record the figures on its record and emit metrics.

    Returns
    -------
    dict
        ``{"executionId", "status", "transitions", "durationMs", "recorded"}``;
        ``recorded`` is false when the execution has no record (an event the accept step
        rejected before anything was written): the figures are then only logged.
    """
    measurement = measure_execution(sfn_client, execution_arn)
    execution_id = measurement.execution_id
    metrics = step_functions_metrics(measurement)
    summary: dict[str, Any] = {
        "executionId": execution_id,
        "sfnStatus": measurement.status,
        "transitions": measurement.transitions,
        "durationMs": measurement.duration_ms,
    }
    with execution_context(LOGGER, execution_id, PATTERN):
        try:
            record = repository.get_execution(execution_id)
        except ExecutionNotFoundError:
            LOGGER.info("ended execution has no record; figures logged only", extra=summary)
            return {**summary, "status": None, "recorded": False}
        if not record.status.is_terminal and measurement.status in _ABNORMAL_END:
            described = sfn_client.describe_execution(executionArn=execution_arn)
            workflow.record_failure(
                repository,
                execution_id=execution_id,
                error=str(described.get("error") or f"Execution{measurement.status.title()}"),
                cause=str(described.get("cause") or f"the execution ended {measurement.status}"),
                step="StateMachine",
            )
        record = repository.record_metrics(execution_id, metrics)
        if record.status.is_terminal:
            emit_execution_metrics(PATTERN, record.status, metrics, execution_id=execution_id)
        LOGGER.info("execution figures recorded", extra=summary)
        return {**summary, "status": str(record.status), "recorded": True}


def _step_functions_branch(event: dict[str, Any], settings: Settings) -> dict[str, Any]:
    detail = event.get("detail")
    arn = detail.get("executionArn") if isinstance(detail, dict) else None
    if not isinstance(arn, str) or not arn:
        raise InvalidUploadEventError("status-change event has no detail.executionArn")
    repository = AlbumRepository(clients.get("dynamodb"), settings.table_name, PATTERN)
    return record_step_functions_execution(clients.get("stepfunctions"), repository, arn)


def durable_execution_arn(event: dict[str, Any]) -> str:
    """Return the ended durable execution a "Durable Execution Status Change" event names.

    Raises
    ------
    InvalidUploadEventError
        When the event is not that detail-type, has no ``detail`` object, no non-empty
        ``detail.durableExecutionArn`` string, or a ``detail.status`` that does not end
        an execution.
    """
    detail_type = event.get("detail-type")
    if detail_type != DURABLE_STATUS_DETAIL_TYPE:
        raise InvalidUploadEventError(
            f"aws.lambda event of detail-type {detail_type!r} is not a "
            f"{DURABLE_STATUS_DETAIL_TYPE!r} event"
        )
    detail = event.get("detail")
    if not isinstance(detail, dict):
        raise InvalidUploadEventError("durable status-change event has no detail object")
    arn = detail.get("durableExecutionArn")
    if not isinstance(arn, str) or not arn:
        raise InvalidUploadEventError(
            "durable status-change event has no detail.durableExecutionArn string"
        )
    status = detail.get("status")
    if not isinstance(status, str) or status not in DURABLE_ENDED_STATUSES:
        raise InvalidUploadEventError(
            f"durable execution {arn} has status {status!r}: only an ended one "
            f"({', '.join(sorted(DURABLE_ENDED_STATUSES))}) can be recorded"
        )
    return arn


def _durable_branch(event: dict[str, Any], settings: Settings) -> dict[str, Any]:
    arn = durable_execution_arn(event)
    repository = AlbumRepository(
        clients.get("dynamodb"), settings.table_name, WorkflowType.DURABLE_FUNCTIONS
    )
    return record_durable_execution(clients.get("lambda"), repository, arn)


#: One branch per event source.
RECORDERS: dict[str, Callable[[dict[str, Any], Settings], dict[str, Any]]] = {
    "aws.states": _step_functions_branch,
    "aws.lambda": _durable_branch,
}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:  # noqa: ARG001 - Lambda signature
    """Lambda entry point: record an ended execution (see the module docstring).

    Raises
    ------
    InvalidUploadEventError
        The event comes from a source without a recorder, or lacks the execution.
    """
    source = event.get("source") if isinstance(event, dict) else None
    branch = RECORDERS.get(str(source))
    if branch is None:
        raise InvalidUploadEventError(f"no recorder for events from {source!r}")
    return branch(event, Settings.from_env())
