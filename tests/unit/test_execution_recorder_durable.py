"""The execution recorder's durable branch: which execution it records, and bad events."""

from __future__ import annotations

from typing import Any

import pytest

from albums.domain.errors import InvalidUploadEventError
from albums.domain.models import WorkflowType
from execution_recorder import handler as execution_recorder

ARN = (
    "arn:aws:lambda:us-east-1:123456789012:function:album-orchestrator:live"
    "/durable-execution/7b1e0c/9d8f"
)


def test_durable_status_events_record_the_named_execution(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[Any, Any, str]] = []

    def record(lambda_client: Any, repository: Any, arn: str) -> dict[str, Any]:
        calls.append((lambda_client, repository, arn))
        return {"recorded": True}

    sentinel = {"lambda": object(), "dynamodb": object()}
    monkeypatch.setattr(execution_recorder, "record_durable_execution", record)
    monkeypatch.setattr(execution_recorder.clients, "get", lambda service: sentinel[service])
    monkeypatch.setenv("TABLE_NAME", "albums-test")
    for field in ("durableExecutionArn", "executionArn"):
        event = {"source": "aws.lambda", "detail": {field: ARN, "status": "SUCCEEDED"}}
        assert execution_recorder.handler(event, None) == {"recorded": True}
    assert [arn for _, _, arn in calls] == [ARN, ARN]
    lambda_client, repository, _ = calls[0]
    assert lambda_client is sentinel["lambda"]
    assert repository.workflow_type is WorkflowType.DURABLE_FUNCTIONS


@pytest.mark.parametrize("detail", [{}, {"durableExecutionArn": ""}, "x", None])
def test_durable_events_without_an_execution_are_refused(
    detail: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TABLE_NAME", "albums-test")
    with pytest.raises(InvalidUploadEventError, match="durableExecutionArn"):
        execution_recorder.handler({"source": "aws.lambda", "detail": detail}, None)
