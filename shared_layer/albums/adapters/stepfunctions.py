"""Step Functions glue shared by the pattern's Lambdas and its local harness.

- :func:`execution_id_of`: the execution id of a task payload's ``executionArn``
  (``$$.Execution.Id``), so every Lambda derives the same id without passing it around.
- :func:`error_message_of`: the readable message inside a Catch's ``Cause`` (a Lambda
  error's ``Cause`` is its JSON error payload).
- :func:`execution_history` and :func:`measure_execution`: the billed transitions and
  duration of an ended execution, read from ``GetExecutionHistory`` (every page).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import ClientError

from albums.domain import keys
from albums.domain.cost import count_state_transitions
from albums.domain.errors import ExecutionNotFoundError, InvalidRecordError
from albums.domain.models import WorkflowType
from albums.workflow_contract import Integration, load_contract, step_of_state

if TYPE_CHECKING:
    from types_boto3_stepfunctions.client import SFNClient

PATTERN: Final = WorkflowType.STEP_FUNCTIONS
#: History events that start one Lambda invocation (retries included). ``TaskScheduled``
#: starts any integration's call (DynamoDB too): only a ``lambda`` resource type counts.
_LAMBDA_SCHEDULED: Final = "LambdaFunctionScheduled"
_TASK_SCHEDULED: Final = "TaskScheduled"
_LAMBDA_RESOURCE_TYPE: Final = "lambda"
_MAX_MESSAGE: Final = 4000
#: Error codes meaning "no such execution" (a malformed ARN names none either).
_NO_SUCH_EXECUTION: Final = frozenset({"ExecutionDoesNotExist", "InvalidArn"})


def execution_id_of(payload: object) -> str:
    """Return the execution id for a task payload's ``executionArn``.

    Raises
    ------
    InvalidRecordError
        When the payload is not an object with a non-empty ``executionArn`` string.
    """
    arn = payload.get("executionArn") if isinstance(payload, dict) else None
    if not isinstance(arn, str) or not arn:
        raise InvalidRecordError("the state machine payload has no executionArn")
    return keys.execution_id_for(PATTERN, arn)


def error_message_of(cause: object) -> str:
    """Return the message of a Catch ``Cause``.

    A Lambda error's cause is its error payload as JSON; its ``errorMessage`` is what a
    person wants to read. Any other cause (a States.* error, plain text) is kept whole.
    """
    if not isinstance(cause, str):
        return "" if cause is None else json.dumps(cause)
    try:
        parsed = json.loads(cause)
    except ValueError:
        return cause[:_MAX_MESSAGE]
    if isinstance(parsed, dict) and isinstance(parsed.get("errorMessage"), str):
        return str(parsed["errorMessage"])[:_MAX_MESSAGE]
    return cause[:_MAX_MESSAGE]


def execution_history(client: SFNClient, execution_arn: str) -> list[dict[str, Any]]:
    """Return every event of an execution's history, oldest first (all pages)."""
    events: list[dict[str, Any]] = []
    paginator = client.get_paginator("get_execution_history")
    for page in paginator.paginate(executionArn=execution_arn, includeExecutionData=False):
        events.extend(dict(event) for event in page["events"])
    return events


@dataclass(frozen=True, slots=True)
class ExecutionMeasurement:
    """What an ended execution's history says about its cost and duration."""

    execution_arn: str
    status: str
    transitions: int
    duration_ms: int
    lambda_invocations: int

    def __post_init__(self) -> None:
        for name in ("transitions", "duration_ms", "lambda_invocations"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InvalidRecordError(f"{name} must be a non-negative integer, got {value!r}")

    @property
    def execution_id(self) -> str:
        """The execution id (``sf-{name}``) the table knows the execution by."""
        return keys.execution_id_for(PATTERN, self.execution_arn)


def measure_execution(
    client: SFNClient, execution_arn: str, events: list[dict[str, Any]] | None = None
) -> ExecutionMeasurement:
    """Measure an ended execution from ``DescribeExecution`` and its full history.

    Parameters
    ----------
    client
        A Step Functions client.
    execution_arn
        The execution.
    events
        Its history, when the caller has read it already.

    Raises
    ------
    ExecutionNotFoundError
        When Step Functions knows no execution by that ARN (or it is no execution ARN).
    """
    try:
        described = client.describe_execution(executionArn=execution_arn)
        history = execution_history(client, execution_arn) if events is None else events
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in _NO_SUCH_EXECUTION:
            raise ExecutionNotFoundError(
                f"Step Functions has no execution {execution_arn[:300]!r}"
            ) from error
        raise
    started = described["startDate"]
    stopped = described.get("stopDate") or _last_timestamp(history) or started
    return ExecutionMeasurement(
        execution_arn=execution_arn,
        status=str(described["status"]),
        transitions=count_state_transitions(history),
        duration_ms=max(0, round((stopped - started).total_seconds() * 1000)),
        lambda_invocations=count_lambda_invocations(history),
    )


def count_lambda_invocations(history: Sequence[Mapping[str, Any]]) -> int:
    """Return the Lambda invocations an execution's history started, retries included.

    A task state of a direct service integration (``dynamodb``, ``aws-sdk:dynamodb``) is
    scheduled like a Lambda task; its ``resourceType`` tells them apart.
    """
    return sum(1 for event in history if _schedules_lambda(event))


def _schedules_lambda(event: Mapping[str, Any]) -> bool:
    kind = event.get("type")
    if kind == _TASK_SCHEDULED:
        details = event.get("taskScheduledEventDetails") or {}
        return bool(details.get("resourceType") == _LAMBDA_RESOURCE_TYPE)
    return kind == _LAMBDA_SCHEDULED


def count_table_write_invocations(history: Sequence[Mapping[str, Any]]) -> int:
    """Return the Lambda invocations an execution made for steps that only write the table.

    A step whose integration the workflow contract names ``dynamodb`` is a table write: the
    state machine makes it a direct DynamoDB call. A Lambda scheduled in such a step's
    state (the step itself or a state of its own, such as ``ReadClaim``) would be an extra
    invoke, cold start and compute that the direct integration avoids; the figure shows
    that there are none.
    """
    contract = load_contract()
    count = 0
    current: str | None = None
    for event in history:
        kind = str(event.get("type", ""))
        if kind.endswith("StateEntered"):
            current = (event.get("stateEnteredEventDetails") or {}).get("name")
            continue
        step = step_of_state(current) if current and _schedules_lambda(event) else None
        if step is not None and contract.steps[step].integration is Integration.DYNAMODB:
            count += 1
    return count


def _last_timestamp(events: list[dict[str, Any]]) -> datetime | None:
    stamps = [e["timestamp"] for e in events if isinstance(e.get("timestamp"), datetime)]
    return max(stamps) if stamps else None
