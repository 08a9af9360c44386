"""Smoke tests of the moto internals :mod:`localmode.stepfunctions` patches (moto 5.2.x).

Each test runs a tiny state machine through moto's ASL interpreter with the patch active
and fails if a moto upgrade moves or changes the patched internal.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from localmode.stack import LocalStack
from localmode.stepfunctions import (
    _interrupt_waits,
    early_answers_kept,
    scaled_retry_sleep,
    send_task_failure_keeps_cause,
)

ROLE = "arn:aws:iam::123456789012:role/test-states"


class FlakyError(Exception):
    pass


@pytest.fixture
def stack() -> Iterator[LocalStack]:
    with LocalStack() as local:
        yield local


def run(stack: LocalStack, definition: dict[str, Any], timeout: float = 10.0) -> dict[str, Any]:
    machine = stack.stepfunctions.create_state_machine(
        name=f"smoke-{time.monotonic_ns()}", definition=json.dumps(definition), roleArn=ROLE
    )["stateMachineArn"]
    arn = stack.stepfunctions.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
    return wait(stack, arn, timeout)


def wait(stack: LocalStack, arn: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while (described := stack.stepfunctions.describe_execution(executionArn=arn))[
        "status"
    ] == "RUNNING":
        assert time.monotonic() < deadline, "execution still running"
        time.sleep(0.02)
    return dict(described)


def test_retry_backoff_sleep_is_scaled(stack: LocalStack) -> None:
    """Patched internal: ``moto...retry.retrier_decl.time`` (the ``sleep`` of ``Retry``)."""
    calls = {"n": 0}

    def flaky(event: Any, context: Any) -> dict[str, int]:
        calls["n"] += 1
        if calls["n"] < 3:
            raise FlakyError("not yet")
        return {"attempts": calls["n"]}

    function = stack.add_lambda("flaky", flaky)
    definition = {
        "StartAt": "Call",
        "States": {
            "Call": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": function, "Payload": {}},
                "OutputPath": "$.Payload",
                "Retry": [
                    {
                        "ErrorEquals": ["FlakyError"],
                        "IntervalSeconds": 30,
                        "MaxAttempts": 3,
                        "BackoffRate": 2,
                    }
                ],
                "End": True,
            }
        },
    }
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

    original = retrier_decl.time  # type: ignore[attr-defined]
    started = time.monotonic()
    with scaled_retry_sleep(0.0) as shim:
        assert retrier_decl.time is shim  # type: ignore[attr-defined]
        described = run(stack, definition)
    assert retrier_decl.time is original  # type: ignore[attr-defined]
    assert time.monotonic() - started < 5
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == {"attempts": 3}
    assert shim.requested == [30, 60]


def callback_definition(function: str, catch_next: str = "Caught") -> dict[str, Any]:
    return {
        "StartAt": "Wait",
        "States": {
            "Wait": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "Parameters": {"FunctionName": function, "Payload": {"token.$": "$$.Task.Token"}},
                "TimeoutSeconds": 60,
                "HeartbeatSeconds": 30,
                "Catch": [
                    {"ErrorEquals": ["Rejected"], "ResultPath": "$.error", "Next": catch_next}
                ],
                "End": True,
            },
            "Caught": {"Type": "Pass", "End": True},
        },
    }


def test_send_task_failure_keeps_its_cause(stack: LocalStack) -> None:
    """Patched internal: ``StepFunctionResponse.send_task_failure`` (moto drops ``cause``)."""
    tokens: list[str] = []
    function = stack.add_lambda("hold", lambda event, context: tokens.append(event["token"]))
    machine = stack.stepfunctions.create_state_machine(
        name="smoke-failure", definition=json.dumps(callback_definition(function)), roleArn=ROLE
    )["stateMachineArn"]
    with send_task_failure_keeps_cause(), early_answers_kept():
        arn = stack.stepfunctions.start_execution(stateMachineArn=machine, input="{}")[
            "executionArn"
        ]
        deadline = time.monotonic() + 5
        while not tokens:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        stack.stepfunctions.send_task_failure(
            taskToken=tokens[0], error="Rejected", cause="wrong shelf"
        )
        described = wait(stack, arn, 5)
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"])["error"] == {"Error": "Rejected", "Cause": "wrong shelf"}


def test_an_answer_sent_before_the_wait_starts_is_kept(stack: LocalStack) -> None:
    """Patched internal: ``CallbackEndpoint.setup_heartbeat_endpoint`` (early answers)."""

    def answers_at_once(event: Any, context: Any) -> None:
        # The reviewer answers while the notifier is still running.
        stack.stepfunctions.send_task_success(taskToken=event["token"], output='{"ok": true}')

    function = stack.add_lambda("answers", answers_at_once)
    started = time.monotonic()
    with early_answers_kept():
        described = run(stack, callback_definition(function), timeout=10)
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == {"ok": True}
    assert time.monotonic() - started < 10  # not the 30 s heartbeat


def test_stopped_waits_are_woken(stack: LocalStack) -> None:
    """Patched internal: the execution's ``callback_pool_manager._pool`` endpoints."""
    function = stack.add_lambda("waits", lambda event, context: None)
    machine = stack.stepfunctions.create_state_machine(
        name="smoke-stop", definition=json.dumps(callback_definition(function)), roleArn=ROLE
    )["stateMachineArn"]
    arn = stack.stepfunctions.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
    time.sleep(0.3)
    stack.stepfunctions.stop_execution(executionArn=arn)
    _interrupt_waits(arn)
    described = wait(stack, arn, 5)
    assert described["status"] != "RUNNING"
