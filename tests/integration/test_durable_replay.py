"""Replay safety of the durable orchestrator: full replay, a crash mid-step, a renamed step.

Also the operation count of the happy path (the cost design target, printed).
"""

from __future__ import annotations

import json
from collections import Counter
from enum import StrEnum
from typing import Any

import pytest
from aws_durable_execution_sdk_python.execution import (
    DurableExecutionInvocationInputWithClient,
    InitialExecutionState,
)
from aws_durable_execution_sdk_python.lambda_service import OperationAction, OperationUpdate
from aws_durable_execution_sdk_python_testing.invoker import create_test_lambda_context
from aws_durable_execution_sdk_python_testing.model import Event, events_to_operations

from albums.adapters.repository import AlbumRepository
from albums.domain.models import ExecutionStatus
from albums.workflow_contract import Step
from localmode.durable import LocalDurable, replace_service_client
from orchestrator import flow
from orchestrator.config import OrchestratorConfig
from tests.durable_harness import PATTERN, approve, durable_stack, execution_id, run_upload, upload

pytestmark = pytest.mark.integration

#: The design target: billable durable operations of the happy path.
MAX_HAPPY_PATH_OPERATIONS = 20


class RefusingServiceClient:
    """A durable service client that fails the test on any checkpoint or state read."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def checkpoint(self, *args: Any, **kwargs: Any) -> Any:
        self.calls.append("checkpoint")
        raise AssertionError("a full replay must not checkpoint")

    def get_execution_state(self, *args: Any, **kwargs: Any) -> Any:
        self.calls.append("get_execution_state")
        raise AssertionError("a full replay must not read more state")


def replay_input(durable: LocalDurable, arn: str, client: Any) -> Any:
    """The invocation input holding the execution's complete recorded history."""
    events = durable.runner.get_execution_history(arn, include_execution_data=True).events
    operations = events_to_operations(events)
    return DurableExecutionInvocationInputWithClient(
        durable_execution_arn=arn,
        checkpoint_token="replay-token",
        initial_execution_state=InitialExecutionState(operations=operations, next_marker=""),
        service_client=client,
    )


def table_items(stack: Any) -> list[dict[str, Any]]:
    items = stack.dynamodb.scan(TableName=stack.table_name, ConsistentRead=True)["Items"]
    return sorted(items, key=lambda item: (item["pk"]["S"], item["sk"]["S"]))


def test_happy_path_costs_at_most_20_billable_operations() -> None:
    with durable_stack() as (stack, durable):
        run = run_upload(stack, durable, approve())
        record = stack.repository(PATTERN).get_execution(run.execution_id)

    billable = run.usage.billable_operations
    print(
        f"\nhappy path: {billable} billable durable operations, {run.usage.replays} replays, "
        f"{run.usage.checkpoints} checkpointed updates, {run.usage.bytes_written} bytes written"
    )
    assert billable <= MAX_HAPPY_PATH_OPERATIONS
    assert billable == 16  # see orchestrator.flow's docstring for the breakdown
    assert record.metrics is not None
    assert record.metrics.durable_operations == billable
    # Every operation is named.
    assert all(run.usage.operation_names)
    assert {"AcceptUpload", "ProcessImage", "StoreInitialData", "WaitForValidation"} <= set(
        run.usage.operation_names
    )


def test_full_replay_returns_the_same_result_and_runs_no_step() -> None:
    with durable_stack() as (stack, durable):
        run = run_upload(stack, durable, approve())
        items = table_items(stack)
        vision_calls = stack.vision.calls
        client = RefusingServiceClient()

        output = durable.handler(
            replay_input(durable, run.arn, client), create_test_lambda_context()
        )

        assert client.calls == []
        assert output["Status"] == "SUCCEEDED"
        assert json.loads(output["Result"]) == run.result
        assert stack.vision.calls == vision_calls
        assert table_items(stack) == items


class _Crash(Exception):  # noqa: N818 - stands for the process dying
    """The process died before its checkpoint reached the service."""


def test_a_crash_before_the_checkpoint_reruns_the_step_without_duplicates(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stored = Counter[str]()
    original = AlbumRepository.store_initial_data

    def counting(self: AlbumRepository, *args: Any, **kwargs: Any) -> None:
        stored["calls"] += 1
        original(self, *args, **kwargs)

    monkeypatch.setattr(AlbumRepository, "store_initial_data", counting)
    crashed: list[str] = []

    class CrashingClient:
        """Loses the first SUCCEED checkpoint of StoreInitialData (its write is done)."""

        def __init__(self, inner: Any) -> None:
            self._inner = inner

        def checkpoint(self, **request: Any) -> Any:
            updates: list[OperationUpdate] = request["updates"]
            for update in updates:
                if (
                    update.name == "StoreInitialData"
                    and update.action is OperationAction.SUCCEED
                    and not crashed
                ):
                    crashed.append(update.operation_id)
                    raise _Crash("the process died before the checkpoint")
            return self._inner.checkpoint(**request)

        def __getattr__(self, name: str) -> Any:
            return getattr(self._inner, name)

    def wrap(handler: Any) -> Any:
        def crashing(event: Any, context: Any) -> Any:
            if isinstance(event, DurableExecutionInvocationInputWithClient):
                event = replace_service_client(event, CrashingClient(event.service_client))
            return handler(event, context)

        return crashing

    with durable_stack(wrap=wrap) as (stack, durable):
        # The runner re-invokes a crashed invocation after a back-off (5 s by default).
        durable.runner._executor.RETRY_BACKOFF_SECONDS = 0
        run = run_upload(stack, durable, approve(), timeout=30)
        repository = stack.repository(PATTERN)

        assert crashed, "the crash was not injected"
        assert stored["calls"] == 2  # the step ran again after the crash
        assert run.result["status"] == "completed"
        record = repository.get_execution(run.execution_id)
        assert record.status is ExecutionStatus.COMPLETED
        items = table_items(stack)
        execution_items = [i for i in items if i["pk"]["S"].endswith(run.execution_id)]
        sort_keys = sorted(item["sk"]["S"] for item in execution_items)
        assert sort_keys == [f"album#{n}" for n in range(1, 7)] + ["meta"]
        assert all(
            i["priceStatus"]["S"] == "priced" for i in execution_items if "album" in i["sk"]["S"]
        )


class _OperationNames(StrEnum):
    """What the orchestrator asks of its step names, without members of its own."""

    def for_album(self, index: int) -> str:
        return f"{self.value}-{index}"


#: The orchestrator's operation names, derived from the contract, with ``ProcessImage``
#: renamed (so the copy cannot drift from the real names).
RenamedStep: Any = _OperationNames(  # type: ignore[call-arg]
    "RenamedStep",
    {step.name: "ProcessPhoto" if step is Step.PROCESS_IMAGE else step.value for step in Step},
)


def test_renaming_a_step_between_runs_is_a_non_determinism_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Operation names are part of the replay contract: never rename one in flight.

    The execution pauses in ``WaitForValidation``; a new version renames ``ProcessImage``;
    the resumed replay meets the old name in the history and the SDK stops the execution
    with ``NonDeterministicExecutionError`` instead of running on with mismatched data.
    """
    with durable_stack() as (stack, durable):
        upload(stack)
        arn = durable.started[0]
        callback_id = durable.wait_for_task(execution_id(arn))
        durable.wait_suspended(arn)
        monkeypatch.setattr(flow, "Step", RenamedStep)
        # The renamed step keeps its retry policy: the contract knows it by its member.
        policy_of = OrchestratorConfig.retry_policy
        monkeypatch.setattr(
            OrchestratorConfig,
            "retry_policy",
            lambda config, step: policy_of(config, Step[RenamedStep(step).name]),
        )
        durable.resumer.succeed(callback_id, {"corrections": []})
        run = durable.wait(arn)

    assert run.status == "FAILED"
    assert run.error is not None
    assert run.error["ErrorType"].endswith("NonDeterministicExecutionError")
    assert "ProcessImage" in run.error["ErrorMessage"]
    assert "ProcessPhoto" in run.error["ErrorMessage"]


def test_history_events_are_the_api_shape() -> None:
    """The local history feeds the same counting code as GetDurableExecutionHistory."""
    with durable_stack() as (stack, durable):
        run = run_upload(stack, durable, approve())
        events = durable.history(run.arn)
    assert all(Event.from_dict(event).event_type == event["EventType"] for event in events)
    assert events[0]["EventType"] == "ExecutionStarted"
    assert events[-1]["EventType"] == "ExecutionSucceeded"
