"""Reviewer notifications: one SNS message per validation task.

:class:`SnsNotifier` implements :class:`albums.workflow.ValidationNotifier`. The message is
JSON a subscriber (e-mail, chat, a queue) can read as it is: task and execution ids, the
pattern, the expiry and the six albums. It never carries the resume token (a task token
resumes the workflow; whoever holds it can answer for the reviewer). The signed review
link is added by the validation API issue.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import ClientError

from albums.domain.errors import ConfigurationError, TransientError
from albums.domain.records import ValidationTask

if TYPE_CHECKING:
    from types_boto3_sns.client import SNSClient

#: ``type`` of the message body, so subscribers can tell our messages apart.
MESSAGE_TYPE: Final = "album-validation-requested"
#: SNS subjects are at most 100 characters.
_MAX_SUBJECT: Final = 100
_TRANSIENT_CODES: Final = frozenset(
    {"Throttling", "ThrottlingException", "ThrottledException", "InternalError", "InternalFailure"}
)


def validation_message(task: ValidationTask) -> dict[str, Any]:
    """Return the JSON body published for ``task`` (no resume token in it).

    Parameters
    ----------
    task
        The pending validation task.
    """
    return {
        "type": MESSAGE_TYPE,
        "taskId": task.task_id,
        "executionId": task.execution_id,
        "workflowType": str(task.workflow_type),
        "uploadId": task.upload_id,
        "status": str(task.status),
        "expiresAt": task.expires_at,
        "albums": [album.to_dict() for album in task.albums],
    }


@dataclass(frozen=True, slots=True)
class SnsNotifier:
    """Publish one message per validation task to an SNS topic.

    Parameters
    ----------
    client
        A boto3 SNS client.
    topic_arn
        The notification topic.
    """

    client: SNSClient
    topic_arn: str

    def __post_init__(self) -> None:
        if not isinstance(self.topic_arn, str) or not self.topic_arn.startswith("arn:"):
            raise ConfigurationError(
                f"NOTIFICATION_TOPIC_ARN must be an SNS topic ARN, got {self.topic_arn!r}"
            )

    def notify(self, task: ValidationTask) -> None:
        """Publish the message for ``task``.

        Raises
        ------
        TransientError
            When SNS throttles or fails transiently.
        botocore.exceptions.ClientError
            For any other SNS error (e.g. the topic does not exist).
        """
        subject = f"Albums to validate ({task.workflow_type}): {task.execution_id}"
        try:
            self.client.publish(
                TopicArn=self.topic_arn,
                Subject=subject[:_MAX_SUBJECT],
                Message=json.dumps(validation_message(task), separators=(",", ":")),
                MessageAttributes={
                    "type": {"DataType": "String", "StringValue": MESSAGE_TYPE},
                    "workflowType": {"DataType": "String", "StringValue": str(task.workflow_type)},
                },
            )
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            if code in _TRANSIENT_CODES:
                raise TransientError(f"SNS publish failed transiently ({code})") from error
            raise
