"""The durable pattern end to end in local mode: the scenario matrix of both patterns.

S3 put → EventBridge delivery → a durable execution in the testing runner → the
orchestrator's steps on moto → the reviewer's callback. Every assertion reads the table
(what a user sees) or the execution's durable history (what AWS would bill).
"""

from __future__ import annotations

import json
import time
from collections import Counter

import pytest

from albums import step_data as step_data_shapes
from albums.adapters.repository import AlbumRepository
from albums.domain import keys
from albums.domain.models import AlbumCorrection, ExecutionStatus, PriceStatus, TaskStatus
from albums.workflow_contract import Step
from localmode.durable import LocalDurable
from localmode.pricing import ProgrammablePriceSource
from localmode.stack import object_created_event
from tests.durable_harness import (
    ALBUMS,
    PATTERN,
    approve,
    durable_stack,
    no_answer,
    reject,
    run_upload,
    upload,
)
from tests.integration.fault_support import durable_step_attempts
from tests.step_data_support import (
    durable_operation_names,
    durable_step_data,
    problems,
    unknown_operation_names,
)

pytestmark = pytest.mark.integration

#: What an execution that gets as far as the review passes on (albums.step_data shapes;
#: "nothing": StoreInitialData and the callback's submitter, which hand nothing on).
UNTIL_REVIEW = Counter({"accept-outcome": 1, "albums": 1, "nothing": 2})
#: ... then, answered: the answer (the callback's and the wait's result) and six prices.
ANSWERED = UNTIL_REVIEW + Counter(
    {
        "decision": 2,
        "validated-albums": 1,
        "price-estimate": 6,
        "price-results": 1,
        "completion-status": 1,
        "outcome": 1,
    }
)


def step_data(durable: LocalDurable, arn: str) -> Counter[str]:
    """Check the execution's step data against albums.step_data; return what was checked."""
    return durable_step_data(durable.history(arn))


def test_happy_path_with_corrected_years() -> None:
    with durable_stack() as (stack, durable):
        corrections = (AlbumCorrection(1, 1958), AlbumCorrection(4, 1976, album_name="Rumours"))
        run = run_upload(stack, durable, approve(corrections))
        repository = stack.repository(PATTERN)

        assert run.status == "SUCCEEDED"
        assert run.result["status"] == "completed"
        # The handler's result is plain JSON (no Decimal survives).
        assert json.loads(json.dumps(run.result)) == run.result
        assert step_data(durable, run.arn) == ANSWERED
        record = repository.get_execution(run.execution_id)
        assert record.status is ExecutionStatus.COMPLETED
        albums = repository.get_albums(run.execution_id)
        assert [a.album.year for a in albums] == [1958, 1969, 1971, 1976, 1980, 1984]
        assert [a.year_original for a in albums] == [a["year"] for a in ALBUMS]
        assert all(a.year_validated for a in albums)
        assert all(a.price_status is PriceStatus.PRICED and a.price for a in albums)
        task = repository.get_task(keys.task_id_for(PATTERN, run.execution_id))
        assert task.status is TaskStatus.COMPLETED
        assert [c.index for c in task.corrections] == [1, 4]
        # Figures recorded on the execution record, from the runner's history.
        assert record.metrics is not None
        assert record.metrics.durable_operations == run.usage.billable_operations <= 20
        assert record.metrics.replays == run.usage.replays
        assert record.metrics.extra["Checkpoints"] > 0
        assert record.metrics.extra["BytesWritten"] > 0


def test_validation_timeout_continues_with_the_original_data() -> None:
    with durable_stack(validation_timeout_seconds=1) as (stack, durable):
        run = run_upload(stack, durable, no_answer)
        repository = stack.repository(PATTERN)

        assert run.result["status"] == "completed"
        assert run.result["validationTimedOut"] is True
        # No answer: neither the callback nor the wait has a result.
        assert step_data(durable, run.arn) == ANSWERED - Counter({"decision": 2})
        albums = repository.get_albums(run.execution_id)
        assert [a.album.year for a in albums] == [a["year"] for a in ALBUMS]
        assert not any(a.year_validated for a in albums)
        task = repository.get_task(keys.task_id_for(PATTERN, run.execution_id))
        assert task.status is TaskStatus.TIMEOUT


def test_rejection_ends_the_execution_as_rejected_without_prices() -> None:
    with durable_stack() as (stack, durable):
        run = run_upload(stack, durable, reject("not a record shelf"))
        repository = stack.repository(PATTERN)

        assert run.status == "SUCCEEDED"
        assert run.result["status"] == "rejected"
        record = repository.get_execution(run.execution_id)
        assert record.status is ExecutionStatus.REJECTED
        assert record.rejection_reason == "not a record shelf"
        assert step_data(durable, run.arn) == UNTIL_REVIEW + Counter({"nothing": 1, "outcome": 1})
        assert all(a.price_status is None for a in repository.get_albums(run.execution_id))
        task = repository.get_task(keys.task_id_for(PATTERN, run.execution_id))
        assert task.status is TaskStatus.REJECTED


def test_vision_throttled_twice_then_fine() -> None:
    with durable_stack() as (stack, durable):
        stack.vision.throttle_next(2)
        run = run_upload(stack, durable, approve())

        assert run.result["status"] == "completed"
        assert stack.vision.calls == 3
        assert durable_step_attempts(durable.history(run.arn), "ProcessImage") == 3
        # Each retry is a billed operation: 16 + 2.
        assert run.usage.billable_operations == 18
        assert run.usage.replays >= 2


def test_vision_always_failing_marks_the_execution_failed() -> None:
    with durable_stack() as (stack, durable):
        stack.vision.fail_always("ThrottlingException")
        run = run_upload(stack, durable, None)

        assert run.status == "FAILED"
        assert stack.vision.calls == 4  # 1 + 3 retries, as the state machine
        record = stack.repository(PATTERN).get_execution(run.execution_id)
        assert record.status is ExecutionStatus.FAILED
        assert record.failure is not None
        assert record.failure.error == "VisionThrottledError"
        assert record.failure.step == "ProcessImage"
        assert "ThrottlingException" in record.failure.cause


def test_one_price_fails_permanently_and_one_recovers() -> None:
    prices = ProgrammablePriceSource()
    prices.fail_permanently(2)
    prices.fail_transiently(5, times=2)
    with durable_stack(price_source=prices) as (stack, durable):
        run = run_upload(stack, durable, approve())
        repository = stack.repository(PATTERN)

        assert run.result["status"] == "completed_with_errors"
        albums = {a.index: a for a in repository.get_albums(run.execution_id)}
        assert albums[2].price_status is PriceStatus.FAILED
        assert albums[2].price_error == "PriceEstimationError"
        assert albums[5].price_status is PriceStatus.PRICED
        assert all(albums[i].price_status is PriceStatus.PRICED for i in (1, 3, 4, 5, 6))
        history = durable.history(run.arn)
        assert durable_step_attempts(history, "EstimatePrice-5") == 3
        assert durable_step_attempts(history, "EstimatePrice-2") == 1  # permanent: not retried
        # Album 2's step failed: its price result is the map branch's, in price-results.
        assert step_data(durable, run.arn) == ANSWERED - Counter({"price-estimate": 1})
        record = repository.get_execution(run.execution_id)
        assert record.status is ExecutionStatus.COMPLETED_WITH_ERRORS


def _wait_for_claim(repository: AlbumRepository, upload_id: str) -> str:
    deadline = time.monotonic() + 10
    while (claim := repository.get_claim(upload_id)) is None:
        assert time.monotonic() < deadline, "nobody claimed the upload"
        time.sleep(0.01)
    return claim.execution_id


def test_the_same_event_twice_runs_one_workflow() -> None:
    with durable_stack() as (stack, durable):
        event = upload(stack)
        stack.deliver(event)
        repository = stack.repository(PATTERN)
        upload_id = keys.parse_object_created_event(event).upload_id
        holder = _wait_for_claim(repository, upload_id)
        approve()(durable, holder)
        runs = [durable.wait(arn) for arn in durable.started]

        statuses = sorted(run.result["status"] for run in runs)
        assert statuses == ["completed", "duplicate"]
        duplicate = next(run for run in runs if run.result["status"] == "duplicate")
        assert duplicate.result["duplicateOf"] == holder
        assert step_data(durable, duplicate.arn) == {"accept-outcome": 1, "outcome": 1}
        (winner,) = [run for run in runs if run is not duplicate]
        assert step_data(durable, winner.arn) == ANSWERED
        assert len(runs) == 2
        assert repository.get_albums(duplicate.execution_id) == ()
        assert stack.vision.calls == 1


def test_an_invalid_key_is_rejected_and_nothing_is_written() -> None:
    with durable_stack() as (stack, durable):
        event = object_created_event(
            bucket=stack.bucket, key="uploads/../secret.png", size=3, etag="abc", version_id="v1"
        )
        before = stack.dynamodb.scan(TableName=stack.table_name)["Items"]
        arn = durable.start(event)
        run = durable.wait(arn)

        assert run.result["status"] == "rejected"
        assert "InvalidS3KeyError" in run.result["reason"]
        assert step_data(durable, arn) == {"accept-outcome": 1, "outcome": 1}
        after = stack.dynamodb.scan(TableName=stack.table_name)["Items"]
        assert after == before


def test_an_invoke_of_the_function_starts_a_durable_execution() -> None:
    with durable_stack() as (stack, durable):
        event = upload(stack)
        response = stack.lambda_.invoke(
            FunctionName="album-orchestrator", Payload=json.dumps(event).encode()
        )
        body = json.loads(response["Payload"].read())
        assert body["DurableExecutionArn"] in durable.started


def test_operation_names_are_the_contract_steps() -> None:
    """The durable history names its operations with the contract's Step vocabulary.

    Top level: Step values, in workflow order; in the map: EstimatePrice-<n>; in the
    callback wait: the two children the SDK names after it. (The state machine's side,
    its state names, is tests/unit/test_report_step_timing.py's.)
    """
    vocabulary = {step.value for step in Step}
    with durable_stack() as (stack, durable):
        paths = {
            "happy": (
                run_upload(stack, durable, approve()),
                [
                    Step.ACCEPT_UPLOAD,
                    Step.PROCESS_IMAGE,
                    Step.STORE_INITIAL_DATA,
                    Step.WAIT_FOR_VALIDATION,
                    Step.APPLY_VALIDATION,
                    Step.ESTIMATE_PRICES,
                    Step.STORE_RESULTS,
                ],
            ),
            "rejection": (
                run_upload(stack, durable, reject("not a record shelf")),
                [
                    Step.ACCEPT_UPLOAD,
                    Step.PROCESS_IMAGE,
                    Step.STORE_INITIAL_DATA,
                    Step.WAIT_FOR_VALIDATION,
                    Step.REJECT_EXECUTION,
                ],
            ),
        }
        for path, (run, steps) in paths.items():
            history = durable.history(run.arn)
            names = durable_operation_names(history)

            assert set(names[""]) - vocabulary == set(), path
            assert names[""] == [step.value for step in steps], path
            assert unknown_operation_names(history) == [], path
        prices = durable_operation_names(durable.history(paths["happy"][0].arn))
        assert prices[Step.ESTIMATE_PRICES] == [
            Step.ESTIMATE_PRICE.for_album(n) for n in range(1, 7)
        ]


def test_an_answer_outside_the_decision_shape_fails_the_execution() -> None:
    """Sent straight to the callback: the validation API would have refused it first."""
    answer = {"corrections": [{"albumIndex": 1, "year": 1800}]}
    assert problems(step_data_shapes.DECISION, answer)
    with durable_stack() as (stack, durable):

        def send(durable: LocalDurable, execution_id: str) -> None:
            durable.resumer.succeed(durable.wait_for_task(execution_id), answer)

        run = run_upload(stack, durable, send)
        record = stack.repository(PATTERN).get_execution(run.execution_id)

    assert run.status == "FAILED"
    assert record.failure is not None
    assert (record.failure.error, record.failure.step) == ("InvalidAlbumError", "ApplyValidation")
