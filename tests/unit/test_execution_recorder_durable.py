"""The execution recorder's durable branch: which execution it records, and bad events.

The events are Lambda's published "Durable Execution Status Change" (AWS Lambda
developer guide, "Monitoring durable functions", section "EventBridge events").
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from albums.adapters import clients
from albums.domain.errors import InvalidUploadEventError
from albums.domain.models import WorkflowType
from execution_recorder import handler as execution_recorder
from tests.table import create_table

T0 = datetime(2025, 11, 20, 13, 8, 22, tzinfo=UTC)

ARN = (
    "arn:aws:lambda:us-east-1:123456789012:function:album-orchestrator:$LATEST"
    "/durable-execution/090c4189-b18b-4296-9d0c-cfd01dc3a122/9f7d84c9-ea3d-3ffc-b3e5-5ec51c34ffc9"
)


def status_event(status: str = "SUCCEEDED") -> dict[str, Any]:
    """A status-change event as the guide's example shows it (an ended one here)."""
    return {
        "version": "0",
        "id": "d019b03c-a8a3-9d58-85de-241e96206538",
        "detail-type": "Durable Execution Status Change",
        "source": "aws.lambda",
        "account": "123456789012",
        "time": "2025-11-20T13:08:22Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {
            "durableExecutionArn": ARN,
            "durableExecutionName": "order-123",
            "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:album-orchestrator:2",
            "status": status,
            "startTimestamp": "2025-11-20T13:08:22.345Z",
            "endTimestamp": "2025-11-20T13:09:01.002Z",
        },
    }


class Recorded:
    """Calls of the durable recorder (no AWS) and the Lambda client the handler passed."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, Any, str]] = []
        self.lambda_client = object()

    def record(self, lambda_client: Any, repository: Any, arn: str) -> dict[str, Any]:
        self.calls.append((lambda_client, repository, arn))
        return {"recorded": True}


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> Recorded:
    found = Recorded()
    sentinel = {"lambda": found.lambda_client, "dynamodb": object()}
    monkeypatch.setattr(execution_recorder, "record_durable_execution", found.record)
    monkeypatch.setattr(clients, "get", lambda service: sentinel[service])
    monkeypatch.setenv("TABLE_NAME", "albums-test")
    return found


@pytest.mark.parametrize("status", ["SUCCEEDED", "FAILED", "TIMED_OUT", "STOPPED"])
def test_every_ended_status_records_the_named_execution(status: str, recorded: Recorded) -> None:
    assert execution_recorder.handler(status_event(status), None) == {"recorded": True}
    ((lambda_client, repository, arn),) = recorded.calls
    assert arn == ARN
    assert lambda_client is recorded.lambda_client
    assert repository.workflow_type is WorkflowType.DURABLE_FUNCTIONS


def test_the_published_shape_is_read_field_for_field() -> None:
    event = status_event()
    assert execution_recorder.durable_execution_arn(event) == ARN
    # executionArn is the Step Functions field: a durable event carrying only that is refused.
    del event["detail"]["durableExecutionArn"]
    event["detail"]["executionArn"] = ARN
    with pytest.raises(InvalidUploadEventError, match=r"detail\.durableExecutionArn"):
        execution_recorder.durable_execution_arn(event)


_DROP = object()


def _with(path: str, value: Any) -> dict[str, Any]:
    event = copy.deepcopy(status_event())
    *parents, key = path.split(".")
    target: Any = event
    for parent in parents:
        target = target[parent]
    if value is _DROP:
        del target[key]
    else:
        target[key] = value
    return event


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (_with("detail-type", "AWS API Call via CloudTrail"), "is not a 'Durable Execution"),
        (_with("detail-type", _DROP), "detail-type None"),
        (_with("detail", _DROP), "no detail object"),
        (_with("detail", "x"), "no detail object"),
        (_with("detail", None), "no detail object"),
        (_with("detail.durableExecutionArn", _DROP), "durableExecutionArn"),
        (_with("detail.durableExecutionArn", ""), "durableExecutionArn"),
        (_with("detail.durableExecutionArn", [ARN]), "durableExecutionArn"),
        (_with("detail.status", "RUNNING"), "status 'RUNNING'"),
        (_with("detail.status", _DROP), "status None"),
        (_with("detail.status", ["FAILED"]), "status \\['FAILED'\\]"),
    ],
)
def test_malformed_durable_events_are_refused_with_a_typed_error(
    event: dict[str, Any], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TABLE_NAME", "albums-test")
    with pytest.raises(InvalidUploadEventError, match=message):
        execution_recorder.handler(event, None)


def test_the_durable_branch_reads_the_history_with_its_own_client(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """End to end through the handler, so the suite records the calls this branch makes
    (the IAM coverage check judges them against the recorder's role)."""
    monkeypatch.setenv("TABLE_NAME", "albums-recorder")
    with mock_aws():
        clients.reset()
        create_table(boto3.client("dynamodb", region_name="us-east-1"), "albums-recorder")
        lambda_client = boto3.client("lambda", region_name="us-east-1")
        started = {"EventType": "ExecutionStarted", "EventId": 1, "Id": "e1", "EventTimestamp": T0}
        with Stubber(lambda_client) as stub, clients.overridden(**{"lambda": lambda_client}):
            stub.add_response(
                "get_durable_execution_history",
                {"Events": [started]},
                {"DurableExecutionArn": ARN, "IncludeExecutionData": True},
            )
            outcome = execution_recorder.handler(status_event(), None)
            stub.assert_no_pending_responses()
        clients.reset()
    # No execution record exists for it in this table: nothing is written, and it says so.
    assert outcome["recorded"] is False
