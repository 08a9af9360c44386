"""The Step Functions resumer: task tokens answered, service errors typed."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from albums.adapters.task_tokens import TaskTokenResumer
from albums.domain.errors import InvalidRecordError, TaskNotPendingError, TransientError
from albums.workflow import REJECTION_ERROR


@pytest.fixture
def stubbed() -> Any:
    client = boto3.client("stepfunctions", region_name="us-east-1")
    with Stubber(client) as stubber:
        yield client, stubber


def test_success_sends_the_decision_as_the_task_output(stubbed: Any) -> None:
    client, stubber = stubbed
    result = {"corrections": [{"albumIndex": 3, "year": 1976}]}
    stubber.add_response(
        "send_task_success",
        {},
        {"taskToken": "token-1", "output": json.dumps(result, separators=(",", ":"))},
    )
    TaskTokenResumer(client).succeed("token-1", result)
    stubber.assert_no_pending_responses()


def test_failure_sends_the_rejection_with_its_reason(stubbed: Any) -> None:
    client, stubber = stubbed
    stubber.add_response(
        "send_task_failure",
        {},
        {"taskToken": "token-1", "error": REJECTION_ERROR, "cause": "blurry photo"},
    )
    TaskTokenResumer(client).fail("token-1", error=REJECTION_ERROR, message="blurry photo")
    stubber.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("TaskTimedOut", 400, TaskNotPendingError),
        ("TaskDoesNotExist", 400, TaskNotPendingError),
        ("InvalidToken", 400, TaskNotPendingError),
        ("ThrottlingException", 400, TransientError),
        ("ServiceUnavailable", 503, TransientError),
        ("InternalFailure", 500, TransientError),
        ("AccessDeniedException", 400, ClientError),
    ],
)
def test_service_errors_are_typed(
    stubbed: Any, code: str, status: int, expected: type[Exception]
) -> None:
    client, stubber = stubbed
    stubber.add_client_error("send_task_success", code, http_status_code=status)
    with pytest.raises(expected):
        TaskTokenResumer(client).succeed("token-1", {"corrections": []})


def test_bad_arguments_are_refused_before_any_call(stubbed: Any) -> None:
    client, _ = stubbed
    with pytest.raises(InvalidRecordError):
        TaskTokenResumer(client).succeed("token-1", [])  # type: ignore[arg-type]
    with pytest.raises(InvalidRecordError):
        TaskTokenResumer(client).fail("token-1", error=" ", message="x")
    with pytest.raises(InvalidRecordError):
        TaskTokenResumer(client).succeed("", {})
