"""The durable pattern end to end in local mode: the scenario matrix of both patterns.

S3 put → EventBridge delivery → a durable execution in the testing runner → the
orchestrator's steps on moto → the reviewer's callback. Every assertion reads the table
(what a user sees) or the execution's durable history (what AWS would bill).
"""

from __future__ import annotations

import json
import time

import pytest

from albums.adapters.repository import AlbumRepository
from albums.domain import keys
from albums.domain.models import AlbumCorrection, ExecutionStatus, PriceStatus, TaskStatus
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

pytestmark = pytest.mark.integration


def test_happy_path_with_corrected_years() -> None:
    with durable_stack() as (stack, durable):
        corrections = (AlbumCorrection(1, 1958), AlbumCorrection(4, 1976, album_name="Rumours"))
        run = run_upload(stack, durable, approve(corrections))
        repository = stack.repository(PATTERN)

        assert run.status == "SUCCEEDED"
        assert run.result["status"] == "completed"
        # The handler's result is plain JSON (no Decimal survives).
        assert json.loads(json.dumps(run.result)) == run.result
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
