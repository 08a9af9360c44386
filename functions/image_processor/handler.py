"""Process-image step of the Step Functions workflow.

Reads the uploaded photo from S3, downscales it to at most 1568 px on the long edge, asks
the Bedrock vision model (temperature 0) once for exactly six albums
``{albumName, artist, year}`` and returns them with indices 1..6. The state machine's Retry
retries throttling and transient failures (``VisionThrottledError``,
``VisionServiceError``, ``TransientError``: the Lambda's ``errorType``); unusable model
output raises a typed, permanent error that its Catch turns into a failed execution.

Payload: ``{"executionArn": $$.Execution.Id, "upload": <the accept outcome's upload>}``.
Result: ``{"albums": [{albumIndex, albumName, artist, year}, ...], "modelId": ...}``.

Lambda handler string: ``image_processor.handler.handler``
(the zip holds ``image_processor/`` at its root).
"""

from __future__ import annotations

from typing import Any

from albums import workflow
from albums.adapters import clients
from albums.adapters.stepfunctions import PATTERN, execution_id_of
from albums.domain.keys import UploadRef
from albums.domain.vision import VisionConfig
from albums.observability import execution_context, get_logger
from albums.settings import Settings

LOGGER = get_logger()


def process(
    event: dict[str, Any], s3_client: Any, bedrock_client: Any, model_id: str
) -> dict[str, Any]:
    """Run the process-image step on the state machine payload."""
    execution_id = execution_id_of(event)
    with execution_context(LOGGER, execution_id, PATTERN):
        upload = UploadRef.from_dict(event.get("upload"))
        albums = workflow.process_image(
            s3_client, bedrock_client, upload, VisionConfig(model_id=model_id)
        )
        LOGGER.info("albums detected", extra={"albumCount": len(albums), "modelId": model_id})
        return {"albums": [album.to_dict() for album in albums], "modelId": model_id}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:  # noqa: ARG001 - Lambda signature
    """Lambda entry point: see the module docstring.

    Raises
    ------
    VisionThrottledError, VisionServiceError, TransientError
        Retryable failures of Bedrock or S3.
    VisionOutputError, VisionRequestError, ImageError, InvalidUploadEventError
        Permanent failures: the execution fails with this error and its message.
    """
    settings = Settings.from_env()
    return process(event, clients.get("s3"), clients.get("bedrock-runtime"), settings.model_id)
