"""Reviewer notifications: one SNS message per upload, with the signed review link.

:class:`SnsNotifier` implements :class:`albums.workflow.ValidationNotifier` for both
patterns. Each pattern's execution creates its own validation task for the same upload,
and a reviewer answers the *upload* once (the review service resumes both), so the
reviewer gets one message per upload: :class:`NotificationGate` lets the first notifier of
an upload publish and the other stand down (a conditional write on the table).

The message (:func:`validation_message`) carries the signed link (when the page's base URL
is configured), the expiry and the six detected albums. It never carries the resume token
(a task token resumes the workflow; whoever holds it can answer for the reviewer). E-mail
subscribers get it as readable text, every other protocol as JSON (SNS
``MessageStructure=json``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import ClientError

from albums.adapters import clients
from albums.adapters.signing_keys import shared_key_source
from albums.domain.errors import ConfigurationError, TransientError
from albums.domain.records import ValidationTask, check_upload_id, parse_timestamp
from albums.domain.signing import ReviewLinks
from albums.observability import get_logger
from albums.settings import Settings

if TYPE_CHECKING:
    from types_boto3_sns.client import SNSClient

LOGGER = get_logger()

#: ``type`` of the message body, so subscribers can tell our messages apart.
MESSAGE_TYPE: Final = "album-validation-requested"
#: SNS subjects are at most 100 characters.
_MAX_SUBJECT: Final = 100
_TRANSIENT_CODES: Final = frozenset(
    {"Throttling", "ThrottlingException", "ThrottledException", "InternalError", "InternalFailure"}
)
#: The gate's items are kept this long (DynamoDB TTL), far beyond any review.
GATE_RETENTION: Final = timedelta(days=30)
_GATE_CLAIMED: Final = "claimed"
_GATE_FAILED: Final = "failed"


def validation_message(task: ValidationTask, review_url: str | None) -> dict[str, Any]:
    """Return the JSON body published for ``task``'s upload (no resume token in it).

    Parameters
    ----------
    task
        The pending validation task (of whichever pattern notifies first).
    review_url
        The signed link to the validation page, or ``None`` when no page is deployed.
    """
    return {
        "type": MESSAGE_TYPE,
        "uploadId": task.upload_id,
        "reviewUrl": review_url,
        "expiresAt": task.expires_at,
        "albums": [album.to_dict() for album in task.albums],
        "taskId": task.task_id,
        "executionId": task.execution_id,
        "workflowType": str(task.workflow_type),
    }


def email_text(message: dict[str, Any]) -> str:
    """Return the message as the plain text an e-mail subscriber reads."""
    lines = ["Six albums were read from an uploaded photo and wait for your review.", ""]
    if message["reviewUrl"]:
        lines += ["Review them (accept, correct a year, or reject):", message["reviewUrl"], ""]
    else:
        lines += [f"Answer with: albums validate {message['taskId']}", ""]
    lines.append(f"The link expires at {message['expiresAt']} (UTC).")
    lines.append("Without an answer by then the workflows continue with the detected data.")
    lines.append("")
    for album in message["albums"]:
        lines.append(
            f"{album['albumIndex']}. {album['artist']} - {album['albumName']} ({album['year']})"
        )
    lines += ["", f"Upload {message['uploadId']}"]
    return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class NotificationGate:
    """One notification per upload across both patterns: the first claim wins.

    The claim is an item ``pk = review#upload#{uploadId}``, ``sk = notification`` written
    with ``attribute_not_exists(pk)``. It belongs to no pattern (it is the one item both
    tenants share), carries no GSI keys, and expires with DynamoDB TTL. A claim whose
    publish failed is marked ``failed`` and may be claimed again.

    Parameters
    ----------
    client
        A boto3 DynamoDB client.
    table_name
        The table.
    """

    client: Any
    table_name: str

    @staticmethod
    def key(upload_id: str) -> dict[str, dict[str, str]]:
        """Return the gate item's key for an upload."""
        return {
            "pk": {"S": f"review#upload#{check_upload_id(upload_id)}"},
            "sk": {"S": "notification"},
        }

    def claim(self, upload_id: str, task: ValidationTask) -> bool:
        """Claim the upload's notification for ``task``; ``False`` when another holds it."""
        now = datetime.now(UTC)
        ttl = int((now + GATE_RETENTION).timestamp())
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item={
                    **self.key(upload_id),
                    "entityType": {"S": "notification"},
                    "status": {"S": _GATE_CLAIMED},
                    "taskId": {"S": task.task_id},
                    "createdAt": {"S": now.isoformat()},
                    "ttl": {"N": str(ttl)},
                },
                ConditionExpression="attribute_not_exists(pk) OR #status = :failed",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":failed": {"S": _GATE_FAILED}},
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def release(self, upload_id: str) -> None:
        """Mark a claim whose publish failed, so the other pattern's notifier may publish."""
        self.client.update_item(
            TableName=self.table_name,
            Key=self.key(upload_id),
            UpdateExpression="SET #status = :failed",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={":failed": {"S": _GATE_FAILED}},
        )


@dataclass(frozen=True, slots=True)
class SnsNotifier:
    """Publish one message per upload to an SNS topic.

    Parameters
    ----------
    client
        A boto3 SNS client.
    topic_arn
        The notification topic.
    links
        Makes the signed link to the validation page (``None``: no page deployed; the
        message tells the reviewer to use ``albums validate``).
    gate
        Keeps it to one message per upload across both patterns (``None``: one message
        per task).
    """

    client: SNSClient
    topic_arn: str
    links: ReviewLinks | None = None
    gate: NotificationGate | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.topic_arn, str) or not self.topic_arn.startswith("arn:"):
            raise ConfigurationError(
                f"NOTIFICATION_TOPIC_ARN must be an SNS topic ARN, got {self.topic_arn!r}"
            )

    def notify(self, task: ValidationTask) -> None:
        """Publish the message for ``task``'s upload, unless it was published already.

        Raises
        ------
        TransientError
            When SNS throttles or fails transiently.
        botocore.exceptions.ClientError
            For any other SNS error (e.g. the topic does not exist).
        """
        if self.gate is not None and not self.gate.claim(task.upload_id, task):
            LOGGER.info(
                "the reviewer was already notified about this upload",
                extra={"taskId": task.task_id, "uploadId": task.upload_id},
            )
            return
        try:
            self._publish(task)
        except Exception:
            if self.gate is not None:
                self.gate.release(task.upload_id)
            raise

    def _publish(self, task: ValidationTask) -> None:
        url = (
            None
            if self.links is None
            else self.links.link_for(task.upload_id, parse_timestamp(task.expires_at))
        )
        message = validation_message(task, url)
        subject = f"Albums to review: {len(task.albums)} albums, expires {task.expires_at[:16]}Z"
        try:
            self.client.publish(
                TopicArn=self.topic_arn,
                Subject=subject[:_MAX_SUBJECT],
                MessageStructure="json",
                Message=json.dumps(
                    {
                        "default": json.dumps(message, separators=(",", ":")),
                        "email": email_text(message),
                    }
                ),
                MessageAttributes={
                    "type": {"DataType": "String", "StringValue": MESSAGE_TYPE},
                    "uploadId": {"DataType": "String", "StringValue": task.upload_id},
                },
            )
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            if code in _TRANSIENT_CODES:
                raise TransientError(f"SNS publish failed transiently ({code})") from error
            raise


def notifier_from_settings(settings: Settings) -> SnsNotifier | None:
    """Return the production notifier for both patterns, or ``None`` without a topic.

    Links are signed when the page's base URL (``VALIDATION_BASE_URL``) is set, with the
    key of ``SIGNING_SECRET_ARN`` (read through a per-process cache); the gate keeps it to
    one message per upload.

    Raises
    ------
    ConfigurationError
        When a base URL is set without a signing secret.
    """
    if not settings.notification_topic_arn:
        return None
    links = None
    if settings.validation_base_url:
        if not settings.signing_secret_arn:
            raise ConfigurationError("VALIDATION_BASE_URL is set but SIGNING_SECRET_ARN is not")
        source = shared_key_source(clients.get("secretsmanager"), settings.signing_secret_arn)
        links = ReviewLinks(settings.validation_base_url, source.signing_key)
    return SnsNotifier(
        clients.get("sns"),
        settings.notification_topic_arn,
        links=links,
        gate=NotificationGate(clients.get("dynamodb"), settings.table_name),
    )
