"""Accept step of the Step Functions workflow.

Validates the S3 "Object Created" event (key rules) and claims the upload for this
execution with a conditional write. The state machine passes
``{"event": <the EventBridge event>, "executionArn": $$.Execution.Id}`` and branches on the
returned ``status``: ``accepted`` continues, ``duplicate`` and ``rejected`` end the execution
as a no-op with this outcome as its output.

Lambda handler string: ``accept_upload.handler.handler``
(the zip holds ``accept_upload/`` at its root).
"""

from __future__ import annotations

from typing import Any

from albums import workflow
from albums.adapters import clients
from albums.adapters.repository import AlbumRepository
from albums.adapters.stepfunctions import execution_id_of
from albums.domain.models import WorkflowType
from albums.observability import execution_context, get_logger
from albums.settings import Settings

PATTERN = WorkflowType.STEP_FUNCTIONS
LOGGER = get_logger()


def accept(
    event: dict[str, Any], repository: AlbumRepository, uploads_bucket: str | None = None
) -> dict[str, Any]:
    """Run the accept step on the state machine payload and return the outcome as JSON.

    An event for another bucket than ``uploads_bucket`` (when given) is rejected.
    """
    execution_id = execution_id_of(event)
    with execution_context(LOGGER, execution_id, PATTERN):
        outcome = workflow.accept_upload(
            repository, event.get("event"), execution_id, uploads_bucket=uploads_bucket
        )
        LOGGER.info("upload accept decision", extra={"acceptStatus": str(outcome.status)})
        return outcome.to_dict()


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:  # noqa: ARG001 - Lambda signature
    """Lambda entry point: see the module docstring.

    Raises
    ------
    RepositoryThrottledError
        DynamoDB throttled (the state machine retries).
    InvalidRecordError
        The payload has no ``executionArn`` (a broken state machine definition).
    """
    settings = Settings.from_env()
    repository = AlbumRepository(clients.get("dynamodb"), settings.table_name, PATTERN)
    return accept(event, repository, settings.bucket_name)
