"""The Step Functions pattern's Lambda handlers, called directly with state machine payloads.

The state machine writes the table itself; these three Lambdas are where code must run.

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

from albums import workflow
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
    ExecutionStatus,
    TaskStatus,
    WorkflowType,
)
from albums.domain.pricing import DeterministicPriceEstimator
from albums.domain.records import parse_timestamp
from execution_recorder import handler as execution_recorder
from image_processor import handler as image_processor
from localmode.pricing import ProgrammablePriceSource
from localmode.stack import LocalStack, object_created_event
from price_estimator import handler as price_estimator
from tests.table import sample_albums
from validation_notifier import handler as validation_notifier

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


def stored(stack: LocalStack) -> dict[str, Any]:
    """Claim an upload and store its initial data, as the state machine's own states do."""
    repository = stack.repository(SF)
    outcome = workflow.accept_upload(repository, upload_event(stack), EXECUTION_ID)
    assert outcome.upload is not None
    workflow.store_initial_data(repository, EXECUTION_ID, outcome.upload, sample_albums())
    return outcome.to_dict()


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


# --- image processor ---------------------------------------------------------------------


def test_image_processor_returns_the_six_albums_the_model_sees(stack: LocalStack) -> None:
    outcome = stored(stack)
    stack.vision.register(jpeg(), VISION_ALBUMS)
    result = image_processor.handler({"executionArn": ARN, "upload": outcome["upload"]}, None)
    assert result["albums"] == ALBUMS
    assert result["modelId"] == "local-stand-in"
    assert stack.vision.calls == 1


def test_image_processor_raises_typed_errors_without_retrying_itself(stack: LocalStack) -> None:
    outcome = stored(stack)
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


# --- validation notifier -----------------------------------------------------------------


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
