"""What a Step Functions history says about Lambda use: every invocation, and the ones
made for steps that only write the table (which the direct integrations make zero)."""

from __future__ import annotations

from typing import Any

from albums.adapters.stepfunctions import count_lambda_invocations, count_table_write_invocations


def entered(name: str) -> dict[str, Any]:
    return {"type": "TaskStateEntered", "stateEnteredEventDetails": {"name": name}}


def scheduled(resource_type: str) -> dict[str, Any]:
    return {"type": "TaskScheduled", "taskScheduledEventDetails": {"resourceType": resource_type}}


HISTORY = [
    {"type": "ExecutionStarted"},
    {"type": "ChoiceStateEntered", "stateEnteredEventDetails": {"name": "CheckUpload"}},
    entered("AcceptUpload"),
    scheduled("dynamodb"),
    entered("ProcessImage"),
    scheduled("lambda"),
    scheduled("lambda"),  # a retry
    entered("StoreInitialData"),
    scheduled("aws-sdk:dynamodb"),
    entered("WaitForValidation"),
    scheduled("lambda"),
]


def test_only_lambda_tasks_count_as_invocations() -> None:
    assert count_lambda_invocations(HISTORY) == 3
    legacy = [{"type": "LambdaFunctionScheduled"}, {"type": "LambdaFunctionScheduled"}]
    assert count_lambda_invocations(legacy) == 2


def test_direct_table_writes_make_no_table_write_invocations() -> None:
    assert count_table_write_invocations(HISTORY) == 0


def test_a_lambda_in_a_table_step_or_its_own_states_is_a_table_write_invocation() -> None:
    """A store step run by a Lambda (as before the direct integrations) is counted, in the
    step's own state and in the state machine's states that belong to a store step."""
    history = [
        entered("AcceptUpload"),
        scheduled("lambda"),
        entered("ReadClaim"),
        scheduled("lambda"),
        entered("StoreResults"),
        {"type": "LambdaFunctionScheduled"},
        entered("EstimatePrice"),
        scheduled("lambda"),  # where code must run: not a table write
    ]
    assert count_table_write_invocations(history) == 3
