"""The Step Functions pattern end to end: the real ASL in moto, the real handlers in-process.

Every scenario starts from an S3 upload whose "Object Created" event the local stack
delivers through the EventBridge rule to the state machine target.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from albums import step_data as step_data_shapes
from albums.adapters.stepfunctions import count_lambda_invocations, count_table_write_invocations
from albums.domain.models import (
    AlbumCorrection,
    ExecutionStatus,
    PriceStatus,
    TaskStatus,
)
from albums.domain.pricing import DeterministicPriceEstimator
from albums.workflow_contract import Step, asl_retriers
from localmode.stepfunctions import ExecutionEndedError, StepFunctionsPattern
from tests.integration.sfn_support import (
    entered_states,
    repository,
    sfn_stack,
    upload,
)
from tests.step_data_support import problems, step_functions_step_data
from tests.table import sample_albums, scan_items

pytestmark = pytest.mark.integration

#: The design target for the happy path (a seed-faithful definition costs 39).
#: The goal: no more transitions than the JSONPath definition with its store Lambdas had.
MAX_HAPPY_PATH_TRANSITIONS = 14

#: What an execution that gets as far as the review passes on (albums.step_data shapes,
#: and each Lambda's payload and result).
UNTIL_REVIEW = Counter(
    {
        "upload": 1,
        "image_processor payload": 1,
        "image_processor result": 1,
        "albums": 1,
        "validation_notifier payload": 1,
        "validation_notifier result": 1,
    }
)
#: ... then, answered: the answer (SendTaskSuccess output and $decision) and six prices.
ANSWERED = UNTIL_REVIEW + Counter(
    {
        "decision": 2,
        "corrections": 1,
        "validated-albums": 1,
        "price_estimator payload": 6,
        "price_estimator result": 6,
        "price-result": 6,
        "price-results": 1,
        "outcome": 1,
    }
)


def step_data(pattern: StepFunctionsPattern, execution_arn: str) -> Counter[str]:
    """Check the execution's step data against albums.step_data; return what was checked."""
    return step_functions_step_data(pattern.history(execution_arn), pattern.function_arns)


def test_happy_path_pauses_for_validation_then_completes_within_14_transitions() -> None:
    albums = sample_albums()
    with sfn_stack() as (stack, pattern):
        arn, _ = upload(stack, pattern, albums)
        execution_id = pattern.execution_id(arn)
        task = pattern.wait_for_validation(arn)

        # Paused at WaitForValidation, without compute: no Lambda is running meanwhile.
        assert pattern.describe(arn)["status"] == "RUNNING"
        assert entered_states(pattern.history(arn))[-1] == "WaitForValidation"
        assert repository(stack).get_execution(execution_id).status is (
            ExecutionStatus.AWAITING_VALIDATION
        )
        assert task.status is TaskStatus.PENDING
        assert [a.to_dict() for a in task.albums] == [a.to_dict() for a in albums]

        corrections = (AlbumCorrection(index=1, year=1960), AlbumCorrection(index=4, year=1983))
        pattern.approve(arn, corrections)
        described = pattern.wait_for_end(arn)

        assert described["status"] == "SUCCEEDED"
        output = json.loads(described["output"])
        # The durable function's outcome, key for key: the between-steps contract.
        assert sorted(output) == [
            "albums",
            "executionId",
            "prices",
            "status",
            "validationTimedOut",
            "workflowType",
        ]
        assert (output["executionId"], output["workflowType"], output["status"]) == (
            execution_id,
            "step-functions",
            "completed",
        )
        assert output["validationTimedOut"] is False
        assert [price["albumIndex"] for price in output["prices"]] == [1, 2, 3, 4, 5, 6]
        assert step_data(pattern, arn) == ANSWERED
        record = repository(stack).get_execution(execution_id)
        assert record.status is ExecutionStatus.COMPLETED
        stored = repository(stack).get_albums(execution_id)
        assert [r.album.year for r in stored] == [1960, 1969, 1977, 1983, 1991, 1997]
        assert [r.year_original for r in stored] == [a.year for a in albums]
        assert all(r.year_validated for r in stored)
        assert all(r.price_status is PriceStatus.PRICED for r in stored)
        estimator = DeterministicPriceEstimator()
        assert [r.price for r in stored] == [estimator.estimate(r.album) for r in stored]
        closed = repository(stack).get_task(task.task_id)
        assert closed.status is TaskStatus.COMPLETED

        transitions = pattern.transitions(arn)
        history = pattern.history(arn)
        print(f"\nStep Functions happy path: {transitions} billed state transitions")
        assert transitions <= MAX_HAPPY_PATH_TRANSITIONS
        # Lambdas only where code must run: one vision call, the notifier, six prices; the
        # table writes are the state machine's own direct DynamoDB calls.
        assert count_lambda_invocations(history) == 8
        assert count_table_write_invocations(history) == 0
        assert record.metrics is not None
        assert record.metrics.transitions == transitions
        assert record.metrics.duration_ms > 0
        assert record.metrics.cost_usd is not None
        assert record.metrics.cost_usd > 0


def test_validation_timeout_keeps_the_original_data() -> None:
    albums = sample_albums()
    with sfn_stack(timeout=2, heartbeat=1) as (stack, pattern):
        arn, _ = upload(stack, pattern, albums)
        task = pattern.wait_for_validation(arn)
        described = pattern.wait_for_end(arn, timeout=20)

        assert described["status"] == "SUCCEEDED"
        execution_id = pattern.execution_id(arn)
        assert repository(stack).get_execution(execution_id).status is ExecutionStatus.COMPLETED
        stored = repository(stack).get_albums(execution_id)
        assert [r.album for r in stored] == list(albums)
        assert not any(r.year_validated for r in stored)
        assert all(r.price_status is PriceStatus.PRICED for r in stored)
        assert repository(stack).get_task(task.task_id).status is TaskStatus.TIMEOUT
        assert {"ExpireValidationTask", "ApplyValidation"} <= set(
            entered_states(pattern.history(arn))
        )
        # No answer: $decision is null and $corrections empty, the rest as answered.
        assert step_data(pattern, arn) == ANSWERED - Counter({"decision": 2}) + Counter(
            {"no decision": 1}
        )


def test_rejection_ends_rejected_without_prices() -> None:
    with sfn_stack() as (stack, pattern):
        arn, _ = upload(stack, pattern, sample_albums())
        task = pattern.reject(arn, "these are CDs, not records")
        described = pattern.wait_for_end(arn)

        assert described["status"] == "SUCCEEDED"
        execution_id = pattern.execution_id(arn)
        record = repository(stack).get_execution(execution_id)
        assert record.status is ExecutionStatus.REJECTED
        # The SendTaskFailure cause (moto drops it; local mode patches) is the reason.
        assert record.rejection_reason == "these are CDs, not records"
        assert repository(stack).get_task(task.task_id).status is TaskStatus.REJECTED
        stored = repository(stack).get_albums(execution_id)
        assert all(r.price_status is None and r.price is None for r in stored)
        assert "EstimatePrices" not in entered_states(pattern.history(arn))
        assert step_data(pattern, arn) == UNTIL_REVIEW + Counter({"outcome": 1})


def test_vision_throttled_twice_then_fine_completes_after_backoff() -> None:
    """Properties 9 and 28: the ASL Retry retries throttling with exponential backoff."""
    with sfn_stack() as (stack, pattern):
        stack.vision.throttle_next(2)
        arn, _ = upload(stack, pattern, sample_albums())
        pattern.approve(arn)
        described = pattern.wait_for_end(arn)

        assert described["status"] == "SUCCEEDED"
        assert stack.vision.calls == 3
        history = pattern.history(arn)
        process_attempts = [
            e
            for e in history
            if e["type"] == "TaskScheduled"
            and "image_processor" in e["taskScheduledEventDetails"]["parameters"]
        ]
        assert len(process_attempts) == 3
        assert pattern.retry_sleeps is not None
        # The contract's vision policy: 2 s, x2, FULL jitter (each wait anywhere up to its cap).
        (vision,) = asl_retriers(Step.PROCESS_IMAGE)
        caps = [vision["IntervalSeconds"] * vision["BackoffRate"] ** n for n in range(2)]
        assert vision["JitterStrategy"] == "FULL"
        assert len(pattern.retry_sleeps.requested) == 2
        assert all(
            0 <= s <= cap for s, cap in zip(pattern.retry_sleeps.requested, caps, strict=True)
        )
        status = repository(stack).get_execution(pattern.execution_id(arn)).status
        assert status is ExecutionStatus.COMPLETED


def test_vision_throttled_always_fails_with_error_cause_and_step() -> None:
    """Properties 9, 28 and 32: retries exhausted, the record becomes failed."""
    with sfn_stack() as (stack, pattern):
        stack.vision.fail_always("ThrottlingException")
        arn, _ = upload(stack, pattern, sample_albums())
        described = pattern.wait_for_end(arn)

        assert described["status"] == "FAILED"
        assert described["error"] == "VisionThrottledError"
        assert stack.vision.calls == 4  # the first call and 3 retries
        record = repository(stack).get_execution(pattern.execution_id(arn))
        assert record.status is ExecutionStatus.FAILED
        assert record.failure is not None
        assert record.failure.error == "VisionThrottledError"
        assert record.failure.step == "ProcessImage"
        assert "ThrottlingException" in record.failure.cause
        assert record.metrics is not None
        assert record.metrics.transitions is not None


def test_one_price_fails_for_good_another_recovers_and_the_rest_are_unaffected() -> None:
    """Properties 21 and 24: per-album Retry and Catch in the Map."""
    with sfn_stack() as (stack, pattern):
        pattern.prices.fail_permanently(3)
        pattern.prices.fail_transiently(5, 2)
        arn, _ = upload(stack, pattern, sample_albums())
        pattern.approve(arn)
        described = pattern.wait_for_end(arn)

        assert described["status"] == "SUCCEEDED"
        assert json.loads(described["output"])["status"] == "completed_with_errors"
        stored = repository(stack).get_albums(pattern.execution_id(arn))
        statuses = {r.index: r.price_status for r in stored}
        assert statuses == {
            i: PriceStatus.FAILED if i == 3 else PriceStatus.PRICED for i in range(1, 7)
        }
        assert stored[2].price_error == "PriceEstimationError"
        assert stored[2].price_error_message == "no price can be found for album 3"
        # Only album 5 was retried (twice), album 3 failed at once, the others ran once.
        assert dict(pattern.prices.calls) == {1: 1, 2: 1, 3: 1, 4: 1, 5: 3, 6: 1}
        record = repository(stack).get_execution(pattern.execution_id(arn))
        assert record.status is ExecutionStatus.COMPLETED_WITH_ERRORS
        # Album 3's result is its Catch's (no Lambda result); album 5's after retries.
        assert step_data(pattern, arn) == ANSWERED - Counter({"price_estimator result": 1}) + (
            Counter({"price_estimator payload": 2})
        )


def test_the_same_upload_event_twice_runs_one_workflow() -> None:
    with sfn_stack() as (stack, pattern):
        first, event = upload(stack, pattern, sample_albums())
        stack.deliver(event)
        second = pattern.started[-1]
        assert second != first

        # Both executions race for the claim; exactly one wins and pauses for validation.
        paused, ended = [], []
        for arn in (first, second):
            try:
                pattern.wait_for_validation(arn)
                paused.append(arn)
            except ExecutionEndedError:
                ended.append(arn)
        ((winner,), (loser,)) = (paused, ended)
        duplicate = pattern.wait_for_end(loser)
        assert duplicate["status"] == "SUCCEEDED"
        output = json.loads(duplicate["output"])
        assert output["status"] == "duplicate"
        assert output["duplicateOf"] == pattern.execution_id(winner)
        assert entered_states(pattern.history(loser)) == [
            "CheckUpload",
            "AcceptUpload",
            "ReadClaim",
            "IsOwnClaim",
            "RecordDuplicate",
            "Duplicate",
        ]
        assert step_data(pattern, loser) == {"upload": 1, "outcome": 1}

        pattern.approve(winner)
        assert pattern.wait_for_end(winner)["status"] == "SUCCEEDED"
        assert step_data(pattern, winner) == ANSWERED
        records = {r.execution_id: r.status for r in repository(stack).list_executions().items}
        assert records == {
            pattern.execution_id(winner): ExecutionStatus.COMPLETED,
            pattern.execution_id(loser): ExecutionStatus.DUPLICATE,
        }
        tasks = [
            item for item in scan_items(stack.dynamodb, stack.table_name) if "#task#" in item["pk"]
        ]
        assert len(tasks) == 1


def test_an_invalid_key_ends_as_rejected_and_writes_nothing() -> None:
    with sfn_stack() as (stack, pattern):
        stack.put_upload("uploads/../secrets.jpg", b"not an image")
        (arn,) = pattern.started
        described = pattern.wait_for_end(arn)

        assert described["status"] == "SUCCEEDED"
        output = json.loads(described["output"])
        assert output["status"] == "rejected"
        assert output["reason"].startswith("InvalidS3KeyError")
        assert step_data(pattern, arn) == {"outcome": 1}
        assert scan_items(stack.dynamodb, stack.table_name) == []
        assert pattern.recorded[arn]["recorded"] is False
        assert stack.vision.calls == 0


def test_stopping_leftover_executions_ends_them_at_once_and_the_recorder_marks_them_failed() -> (
    None
):
    with sfn_stack() as (stack, pattern):
        arn, _ = upload(stack, pattern, sample_albums())
        pattern.wait_for_validation(arn)
        assert pattern.stop_all() == [arn]  # what teardown does with whatever still runs
        # Ends now, not after the 119 s heartbeat. moto reports the woken wait as a
        # States.Timeout failure where AWS would say ABORTED.
        described = pattern.wait_for_end(arn, timeout=5)

        assert described["status"] in ("ABORTED", "FAILED")
        record = repository(stack).get_execution(pattern.execution_id(arn))
        assert record.status is ExecutionStatus.FAILED
        assert record.failure is not None
        assert record.failure.step == "StateMachine"
        assert pattern.stop_all() == []


@pytest.mark.parametrize(
    "correction",
    [
        {"albumIndex": 1, "year": 1800},
        {"albumIndex": 2, "year": 1970, "albumName": "   "},
        {"albumIndex": 3, "year": 1970, "artist": "x" * 201},
        {"albumIndex": 7, "year": 1970},
    ],
    ids=["year-before-1900", "blank-name", "artist-too-long", "no-such-album"],
)
def test_an_answer_outside_the_decision_shape_fails_the_execution(
    correction: dict[str, Any],
) -> None:
    """Sent straight to SendTaskSuccess (the validation API would have refused it first):
    the execution fails before anything reviewed is stored, as the durable function's
    ApplyValidation refuses it. The state machine names the step that read the answer."""
    answer = {"corrections": [correction]}
    assert problems(step_data_shapes.DECISION, answer)
    with sfn_stack() as (stack, pattern):
        arn, _ = upload(stack, pattern, sample_albums())
        task = pattern.wait_for_validation(arn)
        stack.stepfunctions.send_task_success(
            taskToken=task.resume_token, output=json.dumps(answer)
        )
        described = pattern.wait_for_end(arn)
        record = repository(stack).get_execution(pattern.execution_id(arn))
        stored = repository(stack).get_albums(pattern.execution_id(arn))

    assert described["status"] == "FAILED"
    assert record.status is ExecutionStatus.FAILED
    assert record.failure is not None
    assert record.failure.step == "WaitForValidation"
    assert "InvalidAlbumError" in record.failure.cause
    assert not any(album.year_validated or album.price_status for album in stored)
