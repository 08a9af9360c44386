"""Process-image step of the Step Functions workflow.

Reads the uploaded photo from S3, downscales it to at most 1568 px on the long edge, asks
the Bedrock vision model (temperature 0) for exactly six albums ``{albumName, artist, year}``
and returns them with indices 1..6. Throttling and transient failures raise
``TransientError`` so the state machine's Retry policy applies; unusable model output raises
a typed, non-retryable error. The parsing and validation live in ``albums.domain``; this
handler only parses the event and shapes the response.

Lambda handler string: ``image_processor.handler.handler``
(the zip holds ``image_processor/`` at its root).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext


def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Lambda entry point (placeholder until the process-image issue lands).

    Raises
    ------
    NotImplementedError
        Always, until the step is implemented.
    """
    raise NotImplementedError("image_processor: implemented by the process-image issue")
