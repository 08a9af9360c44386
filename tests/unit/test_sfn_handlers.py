"""The Step Functions pattern's Lambda handlers, called directly with state machine payloads.

Each test runs in a :class:`LocalStack` (moto: table, bucket, topic; the Bedrock
stand-in), so handlers build their clients lazily inside the mock as on Lambda.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from PIL import Image

from accept_upload import handler as accept_upload
from albums.adapters.repository import AlbumRepository
from albums.domain import keys
from albums.domain.errors import (
    ImageError,
    InvalidAlbumError,
    InvalidRecordError,
    InvalidUploadEventError,
    PriceEstimationError,
    PriceSourceUnavailableError,
    TaskNotFoundError,
    VisionNotJsonError,
    VisionThrottledError,
)
from albums.domain.models import (
    AlbumCorrection,
    ExecutionStatus,
    PriceStatus,
    TaskStatus,
    WorkflowType,
)
from albums.domain.pricing import DeterministicPriceEstimator
from albums.domain.records import parse_timestamp
from albums.workflow import ValidationDecision
from execution_recorder import handler as execution_recorder
from image_processor import handler as image_processor
from localmode.pricing import ProgrammablePriceSource
from localmode.stack import LocalStack, object_created_event
from price_estimator import handler as price_estimator
from tests.table import sample_albums, scan_items
from validation_notifier import handler as validation_notifier
from workflow_store import handler as workflow_store

SF = WorkflowType.STEP_FUNCTIONS
ARN = "arn:aws:states:us-east-1:123456789012:execution:album-registration:run-1"
EXECUTION_ID = keys.execution_id_for(SF, ARN)
ALBUMS = [album.to_dict() for album in sample_albums()]
VISION_ALBUMS = [{k: v for k, v in a.items() if k != "albumIndex"} for a in ALBUMS]


def jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 12), "blue").save(buffer, format="JPEG")
    return buffer.getvalue()


@pytest.fixture
def stack() -> Iterator[LocalStack]:
    with LocalStack() as local:
        yield local


@pytest.fixture
def repository(stack: LocalStack) -> AlbumRepository:
    return stack.repository(SF)


def upload_event(stack: LocalStack, key: str = "uploads/shelf.jpg") -> dict[str, Any]:
    response = stack.s3.put_object(Bucket=stack.bucket, Key=key, Body=jpeg())
    return object_created_event(
        bucket=stack.bucket,
        key=key,
        size=len(jpeg()),
        etag=response["ETag"].strip('"'),
        version_id=response["VersionId"],
    )


def accepted(stack: LocalStack, arn: str = ARN) -> dict[str, Any]:
    outcome = accept_upload.handler({"event": upload_event(stack), "executionArn": arn}, None)
    assert outcome["status"] == "accepted"
    return outcome


def stored(stack: LocalStack) -> dict[str, Any]:
    outcome = accepted(stack)
    workflow_store.handler(
        {
            "action": "store_initial_data",
            "executionArn": ARN,
            "upload": outcome["upload"],
            "albums": ALBUMS,
        },
        None,
    )
    return outcome


def awaiting(stack: LocalStack) -> dict[str, Any]:
    outcome = stored(stack)
    validation_notifier.handler(
        {
            "taskToken": "token-1",
            "executionArn": ARN,
            "uploadId": outcome["upload"]["uploadId"],
            "albums": ALBUMS,
            "timeoutSeconds": 3600,
        },
        None,
    )
    return outcome


# --- accept ------------------------------------------------------------------------------


def test_accept_claims_the_upload_and_writes_a_running_record(
    stack: LocalStack, repository: AlbumRepository
) -> None:
    outcome = accepted(stack)
    assert outcome["executionId"] == EXECUTION_ID
    assert repository.get_execution(EXECUTION_ID).status is ExecutionStatus.RUNNING
    claim = repository.get_claim(outcome["upload"]["uploadId"])
    assert claim is not None
    assert claim.execution_id == EXECUTION_ID


def test_accept_marks_a_second_delivery_duplicate(
    stack: LocalStack, repository: AlbumRepository
) -> None:
    event = upload_event(stack)
    accept_upload.handler({"event": event, "executionArn": ARN}, None)
    other = ARN.replace("run-1", "run-2")
    outcome = accept_upload.handler({"event": event, "executionArn": other}, None)
    assert (outcome["status"], outcome["duplicateOf"]) == ("duplicate", EXECUTION_ID)
    record = repository.get_execution(keys.execution_id_for(SF, other))
    assert record.status is ExecutionStatus.DUPLICATE


def test_accept_rejects_a_bad_key_and_writes_nothing(stack: LocalStack) -> None:
    event = upload_event(stack, key="uploads/notes.txt")
    outcome = accept_upload.handler({"event": event, "executionArn": ARN}, None)
    assert outcome["status"] == "rejected"
    assert outcome["reason"].startswith("InvalidS3KeyError")
    assert scan_items(stack.dynamodb, stack.table_name) == []


def test_accept_without_execution_arn_is_a_typed_error(stack: LocalStack) -> None:
    with pytest.raises(InvalidRecordError, match="executionArn"):
        accept_upload.handler({"event": upload_event(stack)}, None)
    assert scan_items(stack.dynamodb, stack.table_name) == []


# --- image processor ---------------------------------------------------------------------


def test_image_processor_returns_the_six_albums_the_model_sees(stack: LocalStack) -> None:
    outcome = accepted(stack)
    stack.vision.register(jpeg(), VISION_ALBUMS)
    result = image_processor.handler({"executionArn": ARN, "upload": outcome["upload"]}, None)
    assert result["albums"] == ALBUMS
    assert result["modelId"] == "local-stand-in"
    assert stack.vision.calls == 1


def test_image_processor_raises_typed_errors_without_retrying_itself(stack: LocalStack) -> None:
    outcome = accepted(stack)
    payload = {"executionArn": ARN, "upload": outcome["upload"]}
    stack.vision.register(jpeg(), VISION_ALBUMS)
    stack.vision.throttle_next(1)
    with pytest.raises(VisionThrottledError):
        image_processor.handler(payload, None)
    assert stack.vision.calls == 1  # one call: the state machine's Retry does the retrying
    stack.vision.malformed_next(1)
    with pytest.raises(VisionNotJsonError):
        image_processor.handler(payload, None)
    stack.s3.delete_object(
        Bucket=stack.bucket, Key=outcome["upload"]["key"], VersionId=outcome["upload"]["versionId"]
    )
    with pytest.raises(ImageError):
        image_processor.handler(payload, None)
    with pytest.raises(InvalidUploadEventError):
        image_processor.handler({"executionArn": ARN, "upload": None}, None)


# --- workflow store ----------------------------------------------------------------------


def test_store_initial_data_writes_six_albums(
    stack: LocalStack, repository: AlbumRepository
) -> None:
    stored(stack)
    assert [record.album.to_dict() for record in repository.get_albums(EXECUTION_ID)] == ALBUMS


def test_store_refuses_malformed_albums_and_writes_nothing(stack: LocalStack) -> None:
    outcome = accepted(stack)
    before = scan_items(stack.dynamodb, stack.table_name)
    with pytest.raises(InvalidAlbumError):
        workflow_store.handler(
            {
                "action": "store_initial_data",
                "executionArn": ARN,
                "upload": outcome["upload"],
                "albums": ALBUMS[:5],
            },
            None,
        )
    assert scan_items(stack.dynamodb, stack.table_name) == before
    with pytest.raises(InvalidRecordError, match="unknown action"):
        workflow_store.handler({"action": "drop_table", "executionArn": ARN}, None)


def test_notifier_creates_the_pending_task_and_publishes_one_message(
    stack: LocalStack, repository: AlbumRepository
) -> None:
    queue_url = stack_queue(stack)
    outcome = stored(stack)
    before = datetime.now(UTC)
    result = validation_notifier.handler(
        {
            "taskToken": "secret-token",
            "executionArn": ARN,
            "uploadId": outcome["upload"]["uploadId"],
            "albums": ALBUMS,
            "timeoutSeconds": 600,
        },
        None,
    )
    task = repository.get_task(result["taskId"])
    assert (task.status, task.resume_token) == (TaskStatus.PENDING, "secret-token")
    expires = parse_timestamp(task.expires_at)
    assert before + timedelta(seconds=599) <= expires <= datetime.now(UTC) + timedelta(seconds=601)
    assert repository.get_execution(EXECUTION_ID).status is ExecutionStatus.AWAITING_VALIDATION
    messages = stack.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    assert len(messages) == 1
    body = json.loads(json.loads(messages[0]["Body"])["Message"])
    assert body["taskId"] == task.task_id
    assert body["albums"] == ALBUMS
    assert body["expiresAt"] == task.expires_at
    assert "secret-token" not in messages[0]["Body"]


def stack_queue(stack: LocalStack) -> str:
    import boto3

    sqs = boto3.client("sqs", region_name="us-east-1")
    stack.sqs = sqs  # type: ignore[attr-defined]
    url = sqs.create_queue(QueueName="reviewers")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    stack.sns.subscribe(
        TopicArn=stack.topic_arn,
        Protocol="sqs",
        Endpoint=arn,
        Attributes={"RawMessageDelivery": "false"},
    )
    return str(url)


def test_notifier_without_a_token_writes_nothing(
    stack: LocalStack, repository: AlbumRepository
) -> None:
    outcome = stored(stack)
    with pytest.raises(InvalidRecordError, match="taskToken"):
        validation_notifier.handler(
            {"executionArn": ARN, "uploadId": outcome["upload"]["uploadId"], "albums": ALBUMS},
            None,
        )
    with pytest.raises(TaskNotFoundError):
        repository.get_task(keys.task_id_for(SF, EXECUTION_ID))


def test_apply_validation_stores_the_corrections_and_closes_the_task(
    stack: LocalStack, repository: AlbumRepository
) -> None:
    awaiting(stack)
    decision = ValidationDecision((AlbumCorrection(index=3, year=1976),))
    result = workflow_store.handler(
        {
            "action": "apply_validation",
            "executionArn": ARN,
            "albums": ALBUMS,
            "decision": decision.to_dict(),
        },
        None,
    )
    assert result["albums"][2] == {
        **ALBUMS[2],
        "year": 1976,
        "yearOriginal": 1977,
        "yearValidated": True,
    }
    record = repository.get_albums(EXECUTION_ID)[2]
    assert (record.album.year, record.year_original, record.year_validated) == (1976, 1977, True)
    task = repository.get_task(keys.task_id_for(SF, EXECUTION_ID))
    assert task.status is TaskStatus.COMPLETED
    assert task.corrections == decision.corrections


def test_timeout_keeps_the_original_data_and_marks_the_task_timeout(
    stack: LocalStack, repository: AlbumRepository
) -> None:
    awaiting(stack)
    result = workflow_store.handler(
        {"action": "timeout", "executionArn": ARN, "albums": ALBUMS}, None
    )
    assert [a["year"] for a in result["albums"]] == [a["year"] for a in ALBUMS]
    assert not any(a["yearValidated"] for a in result["albums"])
    task = repository.get_task(keys.task_id_for(SF, EXECUTION_ID))
    assert task.status is TaskStatus.TIMEOUT


def test_reject_ends_the_execution_rejected_with_the_reason(
    stack: LocalStack, repository: AlbumRepository
) -> None:
    awaiting(stack)
    result = workflow_store.handler(
        {"action": "reject", "executionArn": ARN, "reason": "not my shelf"}, None
    )
    assert result["status"] == "rejected"
    record = repository.get_execution(EXECUTION_ID)
    assert (record.status, record.rejection_reason) == (ExecutionStatus.REJECTED, "not my shelf")
    assert repository.get_task(keys.task_id_for(SF, EXECUTION_ID)).status is TaskStatus.REJECTED


def test_store_results_records_prices_and_per_album_failures(
    stack: LocalStack, repository: AlbumRepository
) -> None:
    awaiting(stack)
    workflow_store.handler({"action": "timeout", "executionArn": ARN, "albums": ALBUMS}, None)
    results: list[dict[str, Any]] = [
        price_estimator.handler({"executionArn": ARN, "album": album}, None) for album in ALBUMS
    ]
    cause = json.dumps({"errorType": "PriceEstimationError", "errorMessage": "no market data"})
    results[4] = {"albumIndex": 5, "error": "PriceEstimationError", "cause": cause}
    result = workflow_store.handler(
        {"action": "store_results", "executionArn": ARN, "results": results}, None
    )
    assert result["status"] == "completed_with_errors"
    records = repository.get_albums(EXECUTION_ID)
    assert [r.price_status for r in records] == [PriceStatus.PRICED] * 4 + [
        PriceStatus.FAILED,
        PriceStatus.PRICED,
    ]
    assert (records[4].price_error, records[4].price_error_message) == (
        "PriceEstimationError",
        "no market data",
    )
    assert repository.get_execution(EXECUTION_ID).status is ExecutionStatus.COMPLETED_WITH_ERRORS


def test_store_results_refuses_an_incomplete_set_and_writes_nothing(stack: LocalStack) -> None:
    awaiting(stack)
    workflow_store.handler({"action": "timeout", "executionArn": ARN, "albums": ALBUMS}, None)
    before = scan_items(stack.dynamodb, stack.table_name)
    results = [{"albumIndex": i, "error": "X", "cause": "y"} for i in range(1, 6)]
    with pytest.raises(InvalidAlbumError):
        workflow_store.handler(
            {"action": "store_results", "executionArn": ARN, "results": results}, None
        )
    with pytest.raises(InvalidAlbumError, match="neither"):
        workflow_store.handler(
            {"action": "store_results", "executionArn": ARN, "results": [{"albumIndex": 1}]},
            None,
        )
    assert scan_items(stack.dynamodb, stack.table_name) == before


def test_fail_records_error_cause_and_step(stack: LocalStack, repository: AlbumRepository) -> None:
    stored(stack)
    cause = json.dumps({"errorType": "VisionThrottledError", "errorMessage": "slow down"})
    result = workflow_store.handler(
        {
            "action": "fail",
            "executionArn": ARN,
            "error": "VisionThrottledError",
            "cause": cause,
            "step": "ProcessImage",
        },
        None,
    )
    assert result["status"] == "failed"
    failure = repository.get_execution(EXECUTION_ID).failure
    assert failure is not None
    assert (failure.error, failure.cause, failure.step) == (
        "VisionThrottledError",
        "slow down",
        "ProcessImage",
    )


def test_fail_without_a_record_only_logs(stack: LocalStack) -> None:
    result = workflow_store.handler(
        {"action": "fail", "executionArn": ARN, "error": "X", "cause": "y", "step": "Accept"},
        None,
    )
    assert result["status"] == "failed"
    assert scan_items(stack.dynamodb, stack.table_name) == []


# --- price estimator ---------------------------------------------------------------------


def test_price_estimator_prices_one_album_deterministically() -> None:
    album = {**ALBUMS[1], "yearOriginal": 1969, "yearValidated": True}
    result = price_estimator.handler({"executionArn": ARN, "album": album}, None)
    expected = DeterministicPriceEstimator().estimate(sample_albums()[1])
    assert result == {"albumIndex": 2, "estimate": expected.to_dict()}
    assert price_estimator.handler({"executionArn": ARN, "album": album}, None) == result


def test_price_estimator_passes_source_errors_through() -> None:
    source = ProgrammablePriceSource()
    source.fail_transiently(1, 1)
    source.fail_permanently(2)
    with pytest.raises(PriceSourceUnavailableError):
        price_estimator.estimate({"executionArn": ARN, "album": ALBUMS[0]}, source)
    assert (
        price_estimator.estimate({"executionArn": ARN, "album": ALBUMS[0]}, source)["albumIndex"]
        == 1
    )
    with pytest.raises(PriceEstimationError):
        price_estimator.estimate({"executionArn": ARN, "album": ALBUMS[1]}, source)
    with pytest.raises(InvalidAlbumError):
        price_estimator.estimate({"executionArn": ARN, "album": "Abbey Road"}, source)


# --- execution recorder ------------------------------------------------------------------


def test_recorder_refuses_events_of_unknown_sources() -> None:
    with pytest.raises(InvalidUploadEventError, match="no recorder"):
        execution_recorder.handler({"source": "aws.s3", "detail": {}}, None)
    with pytest.raises(InvalidUploadEventError, match="executionArn"):
        execution_recorder.RECORDERS["aws.states"]({"detail": {}}, None)  # type: ignore[arg-type]
