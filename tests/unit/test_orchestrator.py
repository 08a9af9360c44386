"""Unit tests of the durable pattern's pieces: retry policy, metering, callbacks, history."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from aws_durable_execution_sdk_python.config import JitterStrategy
from botocore.stub import Stubber

from albums.adapters.durable_callbacks import LambdaCallbackResumer, encode_result
from albums.adapters.durable_history import durable_metrics, fetch_history
from albums.domain.cost import CostModelError, DurableOperationKind
from albums.domain.durable_metering import operations_from_history, usage_from_history
from albums.domain.errors import (
    ConfigurationError,
    InvalidRecordError,
    PriceEstimationError,
    PriceSourceUnavailableError,
    TaskNotPendingError,
    TransientError,
    VisionThrottledError,
)
from albums.workflow import REJECTION_ERROR, ValidationDecision
from albums.workflow_contract import Step
from orchestrator.config import LOCAL_RETRY_JITTER, OrchestratorConfig, RetryPolicy
from orchestrator.flow import error_name

CALLBACK_ID = "eyJhcm4iOiJ4In0="
T0 = datetime(2026, 11, 1, tzinfo=UTC)


# --- retry policy ------------------------------------------------------------------------


def policy(**changes: Any) -> RetryPolicy:
    """The packaged contract's price policy without jitter, with ``changes``."""
    base = OrchestratorConfig.local().price_retry
    return dataclasses.replace(base, **changes)


def test_retry_policy_retries_transient_errors_with_exponential_backoff() -> None:
    strategy = policy(max_attempts=3, initial_delay_seconds=2, error_types=(TransientError,))
    first = strategy.strategy()(VisionThrottledError("slow down"), 1)
    second = strategy.strategy()(PriceSourceUnavailableError("down"), 2)
    third = strategy.strategy()(VisionThrottledError("slow down"), 3)
    assert (first.should_retry, first.delay_seconds) == (True, 2)
    assert (second.should_retry, second.delay_seconds) == (True, 4)
    assert not third.should_retry  # three attempts in all


def test_retry_policy_never_retries_permanent_errors() -> None:
    strategy = policy().strategy()
    assert not strategy(PriceEstimationError("no price"), 1).should_retry
    assert not strategy(ValueError("bug"), 1).should_retry


def test_retry_policy_retries_only_its_own_error_classes() -> None:
    price = policy(error_types=(PriceSourceUnavailableError,)).strategy()
    assert price(PriceSourceUnavailableError("down"), 1).should_retry
    assert not price(VisionThrottledError("slow down"), 1).should_retry


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_attempts": 0},
        {"initial_delay_seconds": 0},
        {"backoff_rate": 0.5},
        {"max_attempts": True},
        {"error_types": ()},
        {"error_types": ("TransientError",)},
    ],
)
def test_retry_policy_refuses_bad_settings(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        policy(**kwargs)


def test_orchestrator_config_bounds_the_review_timeout() -> None:
    assert OrchestratorConfig.local(1).validation_timeout_seconds == 1
    with pytest.raises(ConfigurationError):
        OrchestratorConfig(validation_timeout_seconds=0)


def test_local_mode_overrides_the_jitter_and_nothing_else() -> None:
    deployed, local = OrchestratorConfig(), OrchestratorConfig.local()
    assert deployed.retry_jitter_override is None
    assert local.retry_jitter_override is LOCAL_RETRY_JITTER is JitterStrategy.NONE
    for step in Step:
        if step is Step.ESTIMATE_PRICES:
            continue
        assert deployed.retry_policy(step).jitter is JitterStrategy.FULL
        assert local.retry_policy(step) == dataclasses.replace(
            deployed.retry_policy(step), jitter=JitterStrategy.NONE
        )
    assert local.describe() == {
        "validationTimeoutSeconds": 2,
        "visionMaxAttempts": 4,
        "priceMaxAttempts": 4,
        "retryJitterOverride": "NONE",
    }
    assert deployed.describe()["retryJitterOverride"] is None
    with pytest.raises(ConfigurationError, match="jitter"):
        OrchestratorConfig(retry_jitter_override="SOME")  # type: ignore[arg-type]


def test_the_map_itself_has_no_retry_policy() -> None:
    with pytest.raises(ConfigurationError, match="EstimatePrices"):
        OrchestratorConfig().retry_strategy(Step.ESTIMATE_PRICES)


def test_operation_names_are_stable() -> None:
    assert Step.ESTIMATE_PRICE.for_album(3) == "EstimatePrice-3"
    assert [step.value for step in Step][:4] == [
        "AcceptUpload",
        "ProcessImage",
        "StoreInitialData",
        "WaitForValidation",
    ]


def test_error_name_is_the_step_body_error() -> None:
    from aws_durable_execution_sdk_python import StepError

    failed = StepError("x", error_type="albums.domain.errors.VisionThrottledError")
    assert error_name(failed) == "VisionThrottledError"
    assert error_name(TransientError("x")) == "TransientError"


# --- metering ----------------------------------------------------------------------------


def _event(kind: str, op: str | None = None, **extra: Any) -> dict[str, Any]:
    event: dict[str, Any] = {"EventType": kind, "EventTimestamp": T0}
    if op is not None:
        event["Id"] = op
    event.update(extra)
    return event


RESULT = {"Result": {"Payload": "12345"}}
HISTORY = [
    _event("ExecutionStarted", "exec", ExecutionStartedDetails={"Input": {"Payload": "{}"}}),
    _event("StepStarted", "a", SubType="Step", Name="A"),
    _event("StepFailed", "a", SubType="Step", Name="A"),
    _event("InvocationCompleted"),
    _event("StepStarted", "a", SubType="Step", Name="A"),
    _event(
        "StepSucceeded",
        "a",
        SubType="Step",
        Name="A",
        StepSucceededDetails={"Result": {"Payload": "12345"}},
    ),
    _event("ContextStarted", "w", SubType="WaitForCallback", Name="W"),
    _event("CallbackStarted", "w1", SubType="Callback", Name="W create callback id", ParentId="w"),
    _event("StepStarted", "w2", SubType="Step", Name="W submitter", ParentId="w"),
    _event("StepSucceeded", "w2", SubType="Step", Name="W submitter", ParentId="w"),
    _event("CallbackSucceeded", "w1", SubType="Callback", ParentId="w"),
    _event("ContextSucceeded", "w", SubType="WaitForCallback", Name="W"),
    _event("ContextStarted", "m", SubType="Map", Name="M"),
    _event("ContextStarted", "i1", SubType="MapIteration", Name="map-item-0", ParentId="m"),
    _event("StepStarted", "p1", SubType="Step", Name="P1", ParentId="i1"),
    _event("StepSucceeded", "p1", SubType="Step", Name="P1", ParentId="i1"),
    _event("ContextStarted", "i2", SubType="MapIteration", Name="map-item-1", ParentId="m"),
    _event("StepStarted", "p2", SubType="Step", Name="P2", ParentId="i2"),
    _event("StepSucceeded", "p2", SubType="Step", Name="P2", ParentId="i2"),
    _event("ContextSucceeded", "m", SubType="Map", Name="M"),
    _event("WaitStarted", "z", SubType="Wait", Name="Z"),
    _event("WaitSucceeded", "z", SubType="Wait", Name="Z"),
    _event("ContextStarted", "c", SubType="RunInChildContext", Name="C"),
    _event("InvocationCompleted"),
    {
        "EventType": "ExecutionSucceeded",
        "EventTimestamp": T0 + timedelta(seconds=3),
        "Id": "exec",
        "ExecutionSucceededDetails": {"Result": {"Payload": "{}"}},
    },
]


def test_operations_follow_the_published_metering() -> None:
    operations = operations_from_history(HISTORY)
    kinds = [operation.kind for operation in operations]
    assert kinds == [
        DurableOperationKind.EXECUTION,
        DurableOperationKind.STEP,
        DurableOperationKind.WAIT_FOR_CALLBACK,
        DurableOperationKind.MAP,
        DurableOperationKind.STEP,
        DurableOperationKind.STEP,
        DurableOperationKind.WAIT,
        DurableOperationKind.CHILD_CONTEXT,
    ]
    assert operations[1].attempts == 2
    assert operations[3].branches == 2
    usage = usage_from_history(HISTORY)
    # start 1 + step 2 + wait_for_callback 3 + map (1 + 2) + steps 2 + wait 1 + context 1
    assert usage.billable_operations == 13
    assert (usage.invocations, usage.replays) == (2, 1)
    assert usage.duration_ms == 3000
    assert usage.status == "SUCCEEDED"
    assert usage.bytes_written == len("{}") * 2 + len("12345")
    assert usage.checkpoints == len(HISTORY) - 4  # start, 2 invocations, end excluded


def test_metering_refuses_malformed_events() -> None:
    with pytest.raises(CostModelError):
        operations_from_history([{"Id": "x"}])
    with pytest.raises(CostModelError):
        operations_from_history([{"EventType": "StepStarted"}])


def test_durable_metrics_price_the_usage() -> None:
    metrics = durable_metrics(usage_from_history(HISTORY), durations_ms=[100.0, 50.0])
    assert metrics.durable_operations == 13
    assert metrics.replays == 1
    assert metrics.lambda_gb_seconds is not None
    assert metrics.lambda_gb_seconds > 0
    assert metrics.cost_usd is not None
    assert metrics.cost_usd > 0
    assert metrics.extra["Invocations"] == 2


# --- callbacks (botocore Stubber checks the requests against the service model) ---------


def _lambda() -> Any:
    return boto3.client("lambda", region_name="us-east-1")


def test_success_sends_the_decision_as_json() -> None:
    client = _lambda()
    decision = ValidationDecision.from_payload({"corrections": [{"albumIndex": 2, "year": 1968}]})
    with Stubber(client) as stub:
        stub.add_response(
            "send_durable_execution_callback_success",
            {},
            {"CallbackId": CALLBACK_ID, "Result": encode_result(decision.to_dict())},
        )
        LambdaCallbackResumer(client).succeed(CALLBACK_ID, decision.to_dict())
        stub.assert_no_pending_responses()
    assert json.loads(encode_result(decision.to_dict())) == decision.to_dict()


def test_failure_sends_the_rejection() -> None:
    client = _lambda()
    with Stubber(client) as stub:
        stub.add_response(
            "send_durable_execution_callback_failure",
            {},
            {
                "CallbackId": CALLBACK_ID,
                "Error": {"ErrorType": REJECTION_ERROR, "ErrorMessage": "blurry photo"},
            },
        )
        LambdaCallbackResumer(client).fail(
            CALLBACK_ID, error=REJECTION_ERROR, message="blurry photo"
        )
        stub.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("ResourceNotFoundException", 404, TaskNotPendingError),
        ("InvalidParameterValueException", 400, TaskNotPendingError),
        ("TooManyRequestsException", 429, TransientError),
        ("ServiceException", 500, TransientError),
    ],
)
def test_service_errors_become_typed_errors(
    code: str, status: int, expected: type[Exception]
) -> None:
    client = _lambda()
    with Stubber(client) as stub:
        stub.add_client_error(
            "send_durable_execution_callback_success",
            service_error_code=code,
            http_status_code=status,
        )
        with pytest.raises(expected):
            LambdaCallbackResumer(client).succeed(CALLBACK_ID, {"corrections": []})


def test_bad_input_sends_nothing() -> None:
    client = _lambda()
    with Stubber(client) as stub:
        with pytest.raises(InvalidRecordError):
            LambdaCallbackResumer(client).succeed("", {"corrections": []})
        with pytest.raises(InvalidRecordError):
            LambdaCallbackResumer(client).fail(CALLBACK_ID, error=" ", message="x")
        stub.assert_no_pending_responses()


def test_history_is_read_page_by_page() -> None:
    client = _lambda()
    arn = "arn:aws:lambda:us-east-1:123456789012:function:orch:live/durable-execution/e1/i1"
    first = {"EventType": "ExecutionStarted", "EventId": 1, "Id": "e1", "EventTimestamp": T0}
    second = {"EventType": "InvocationCompleted", "EventId": 2, "EventTimestamp": T0}
    with Stubber(client) as stub:
        stub.add_response(
            "get_durable_execution_history",
            {"Events": [first], "NextMarker": "m1"},
            {"DurableExecutionArn": arn, "IncludeExecutionData": True},
        )
        stub.add_response(
            "get_durable_execution_history",
            {"Events": [second]},
            {"DurableExecutionArn": arn, "IncludeExecutionData": True, "Marker": "m1"},
        )
        events = fetch_history(client, arn)
    assert [e["EventType"] for e in events] == ["ExecutionStarted", "InvocationCompleted"]
    assert usage_from_history(events).invocations == 1
