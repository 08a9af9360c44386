"""Human-validation step: create the validation task and notify the reviewer.

Invoked by the state machine with ``lambda:invoke.waitForTaskToken``: stores a pending
validation task for the six albums, with the task token as its resume token and
``expiresAt`` = now + the state's ``TimeoutSeconds``, marks the execution
``awaiting_validation`` and publishes the upload's SNS message with the signed review
link (one per upload: when the durable pattern notified first, nothing more is sent).
The execution then pauses without compute until the validation API answers
(``SendTaskSuccess`` / ``SendTaskFailure``) or the timeout moves it on with the original
data. A retried invocation (a new token) refreshes the token of the same task.

Payload: ``{"taskToken", "executionArn", "uploadId", "albums": [...], "timeoutSeconds"}``.
Result (ignored by Step Functions): ``{"taskId", "expiresAt"}``.

Lambda handler string: ``validation_notifier.handler.handler``
(the zip holds ``validation_notifier/`` at its root).
"""

from __future__ import annotations

from typing import Any

from albums import workflow
from albums.adapters import clients
from albums.adapters.notifications import notifier_from_settings
from albums.adapters.repository import AlbumRepository
from albums.adapters.stepfunctions import PATTERN, execution_id_of
from albums.domain.errors import InvalidAlbumError, InvalidRecordError
from albums.domain.models import Album
from albums.domain.records import ValidationTask
from albums.observability import execution_context, get_logger
from albums.settings import Settings

LOGGER = get_logger()


class LogOnlyNotifier:
    """Used when no topic is configured: the task is still listed as pending."""

    def notify(self, task: ValidationTask) -> None:
        """Log that no notification was sent for ``task``."""
        LOGGER.warning(
            "NOTIFICATION_TOPIC_ARN is not set; no notification sent",
            extra={"taskId": task.task_id},
        )


def request(
    event: dict[str, Any],
    repository: AlbumRepository,
    notifier: workflow.ValidationNotifier,
    default_timeout_seconds: int,
) -> dict[str, Any]:
    """Create the task for the payload and notify; return ``{"taskId", "expiresAt"}``.

    Raises
    ------
    InvalidRecordError
        No task token, or a malformed timeout.
    InvalidAlbumError
        The albums are not six well-formed albums.
    """
    execution_id = execution_id_of(event)
    with execution_context(LOGGER, execution_id, PATTERN):
        token = event.get("taskToken")
        if not isinstance(token, str) or not token:
            raise InvalidRecordError("the payload has no taskToken")
        raw_albums = event.get("albums")
        if not isinstance(raw_albums, list):
            raise InvalidAlbumError("the payload has no albums list")
        timeout = event.get("timeoutSeconds", default_timeout_seconds)
        if isinstance(timeout, bool) or not isinstance(timeout, int) or timeout < 1:
            raise InvalidRecordError(f"timeoutSeconds must be a positive integer, got {timeout!r}")
        task = workflow.request_validation(
            repository,
            notifier,
            execution_id=execution_id,
            upload_id=str(event.get("uploadId")),
            albums=[Album.from_dict(album) for album in raw_albums],
            resume_token=token,
            timeout_seconds=timeout,
        )
        LOGGER.info("validation requested", extra={"taskId": task.task_id})
        return {"taskId": task.task_id, "expiresAt": task.expires_at}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:  # noqa: ARG001 - Lambda signature
    """Lambda entry point: see the module docstring.

    Raises
    ------
    RepositoryThrottledError
        DynamoDB throttled (the state machine retries with a new token).
    TaskNotPendingError, StateRegressionError
        The task was answered or the execution ended already.
    """
    settings = Settings.from_env()
    repository = AlbumRepository(clients.get("dynamodb"), settings.table_name, PATTERN)
    notifier: workflow.ValidationNotifier = notifier_from_settings(settings) or LogOnlyNotifier()
    return request(event, repository, notifier, settings.validation_timeout_seconds)
