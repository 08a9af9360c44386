"""Reviewer notifications: one message per upload, with the signed link and the albums."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from albums.adapters import clients
from albums.adapters.notifications import (
    MESSAGE_TYPE,
    NotificationGate,
    SnsNotifier,
    notifier_from_settings,
)
from albums.domain import keys
from albums.domain.errors import ConfigurationError, TransientError
from albums.domain.models import TaskStatus, WorkflowType
from albums.domain.records import ValidationTask
from albums.domain.signing import ReviewLinks, SigningKey, verify_link_token
from albums.settings import Settings
from tests.table import FIXED_NOW, create_table, sample_albums, sample_upload

TABLE = "albums-notify"
TOPIC = "arn:aws:sns:us-east-1:123456789012:validation"
KEY = SigningKey("k1", b"s" * 40)
UPLOAD = sample_upload("shelf").upload_id


def task(pattern: WorkflowType, upload_id: str = UPLOAD) -> ValidationTask:
    execution_id = keys.execution_id_for(pattern, f"run-{upload_id[:6]}")
    return ValidationTask(
        task_id=keys.task_id_for(pattern, execution_id),
        execution_id=execution_id,
        workflow_type=pattern,
        upload_id=upload_id,
        status=TaskStatus.PENDING,
        albums=sample_albums(),
        resume_token="SECRET-TASK-TOKEN",
        expires_at="2026-03-14T10:26:53.589Z",
        created_at="2026-03-14T09:26:53.589Z",
        updated_at="2026-03-14T09:26:53.589Z",
    )


class RecordingSns:
    def __init__(self, failures: int = 0, code: str = "InternalError") -> None:
        self.published: list[dict[str, Any]] = []
        self.failures = failures
        self.code = code

    def publish(self, **request: Any) -> dict[str, str]:
        if self.failures:
            self.failures -= 1
            raise ClientError({"Error": {"Code": self.code, "Message": "down"}}, "Publish")
        self.published.append(request)
        return {"MessageId": str(len(self.published))}


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_table(client, TABLE)
        yield client


def notifier(sns: RecordingSns, dynamodb: Any, *, links: bool = True) -> SnsNotifier:
    return SnsNotifier(
        sns,  # type: ignore[arg-type]
        TOPIC,
        links=ReviewLinks("https://review.example.on.aws", lambda: KEY) if links else None,
        gate=NotificationGate(dynamodb, TABLE),
    )


def test_both_patterns_notify_one_message_per_upload(dynamodb: Any) -> None:
    sns = RecordingSns()
    notify = notifier(sns, dynamodb)
    notify.notify(task(WorkflowType.STEP_FUNCTIONS))
    notify.notify(task(WorkflowType.DURABLE_FUNCTIONS))
    notify.notify(task(WorkflowType.STEP_FUNCTIONS))  # a retried notifier
    assert len(sns.published) == 1
    notify.notify(task(WorkflowType.DURABLE_FUNCTIONS, sample_upload("other").upload_id))
    assert len(sns.published) == 2


def test_the_message_has_the_signed_link_the_expiry_and_the_albums(dynamodb: Any) -> None:
    sns = RecordingSns()
    notifier(sns, dynamodb).notify(task(WorkflowType.DURABLE_FUNCTIONS))
    request = sns.published[0]
    assert request["MessageStructure"] == "json"
    assert "SECRET-TASK-TOKEN" not in json.dumps(request)
    structure = json.loads(request["Message"])
    body = json.loads(structure["default"])
    assert body["type"] == MESSAGE_TYPE
    assert body["uploadId"] == UPLOAD
    assert body["expiresAt"] == "2026-03-14T10:26:53.589Z"
    assert body["albums"] == [album.to_dict() for album in sample_albums()]
    link = body["reviewUrl"]
    assert link.startswith("https://review.example.on.aws/review#t=")
    claims = verify_link_token(link.split("#t=")[1], {"k1": KEY}.get, FIXED_NOW)
    assert claims.upload_id == UPLOAD
    assert claims.expires_at == datetime(2026, 3, 14, 10, 26, 53, tzinfo=UTC)
    assert link in structure["email"]
    assert "1. Miles Davis - Kind of Blue (1959)" in structure["email"]
    assert len(request["Subject"]) <= 100


def test_a_failed_publish_lets_the_other_pattern_notify(dynamodb: Any) -> None:
    sns = RecordingSns(failures=1)
    notify = notifier(sns, dynamodb)
    with pytest.raises(TransientError):
        notify.notify(task(WorkflowType.STEP_FUNCTIONS))
    notify.notify(task(WorkflowType.DURABLE_FUNCTIONS))
    assert len(sns.published) == 1


def test_other_sns_errors_are_raised_as_they_are(dynamodb: Any) -> None:
    sns = RecordingSns(failures=1, code="NotFound")
    with pytest.raises(ClientError):
        notifier(sns, dynamodb).notify(task(WorkflowType.STEP_FUNCTIONS))


def test_without_a_page_the_message_points_to_the_cli(dynamodb: Any) -> None:
    sns = RecordingSns()
    notifier(sns, dynamodb, links=False).notify(task(WorkflowType.STEP_FUNCTIONS))
    structure = json.loads(sns.published[0]["Message"])
    assert json.loads(structure["default"])["reviewUrl"] is None
    assert "albums validate sf-" in structure["email"]


def test_the_gate_item_expires_and_names_its_task(dynamodb: Any) -> None:
    gate = NotificationGate(dynamodb, TABLE)
    first = task(WorkflowType.STEP_FUNCTIONS)
    assert gate.claim(UPLOAD, first)
    assert not gate.claim(UPLOAD, task(WorkflowType.DURABLE_FUNCTIONS))
    item = dynamodb.get_item(TableName=TABLE, Key=NotificationGate.key(UPLOAD))["Item"]
    assert item["taskId"]["S"] == first.task_id
    assert int(item["ttl"]["N"]) > (datetime.now(UTC) + timedelta(days=29)).timestamp()
    gate.release(UPLOAD)
    assert gate.claim(UPLOAD, first)


def test_settings_build_the_notifier(dynamodb: Any) -> None:
    clients.reset()
    base = {"TABLE_NAME": TABLE, "NOTIFICATION_TOPIC_ARN": TOPIC}
    assert notifier_from_settings(Settings.from_env({"TABLE_NAME": TABLE})) is None
    plain = notifier_from_settings(Settings.from_env(base))
    assert plain is not None
    assert plain.links is None
    assert plain.gate is not None
    with pytest.raises(ConfigurationError, match="SIGNING_SECRET_ARN"):
        notifier_from_settings(
            Settings.from_env({**base, "VALIDATION_BASE_URL": "https://x.on.aws"})
        )
    secrets = boto3.client("secretsmanager", region_name="us-east-1")
    arn = secrets.create_secret(Name="k", SecretString="z" * 40)["ARN"]
    signed = notifier_from_settings(
        Settings.from_env(
            {**base, "VALIDATION_BASE_URL": "https://x.on.aws/", "SIGNING_SECRET_ARN": arn}
        )
    )
    assert signed is not None
    assert signed.links is not None
    assert signed.links.link_for(UPLOAD, FIXED_NOW).startswith("https://x.on.aws/review#t=v1.")
    clients.reset()
