"""Bedrock adapter: invoke the vision model and map its failures to typed errors.

Two entry points:

- :func:`invoke_vision_model_once` makes one call. The Step Functions pattern uses it and
  lets the state machine's ``Retry`` (on ``VisionThrottledError`` / ``VisionServiceError``)
  do the backoff, so retries show up as state transitions.
- :func:`invoke_vision_model` retries throttling and transient failures itself with
  exponential backoff (the durable pattern may use it inside one step, or use the step's
  own retry strategy around the single-call function).

Unusable output (:class:`~albums.domain.errors.VisionOutputError`) and rejected requests
(:class:`~albums.domain.errors.VisionRequestError`) are never retried: at temperature 0
the same image gives the same answer, and a bad request stays bad.

Create the client with :func:`client_config` so botocore does not retry on its own
underneath ours (its default would multiply the attempts).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
    ResponseStreamingError,
)

from albums.domain.errors import (
    TransientError,
    VisionRequestError,
    VisionServiceError,
    VisionThrottledError,
)
from albums.domain.models import Album
from albums.domain.vision import VisionConfig, build_invoke_model_request, parse_model_response

if TYPE_CHECKING:
    from types_boto3_bedrock_runtime.client import BedrockRuntimeClient

logger = logging.getLogger(__name__)

THROTTLING_CODES = frozenset(
    {"ThrottlingException", "TooManyRequestsException", "ServiceQuotaExceededException"}
)
TRANSIENT_CODES = frozenset(
    {
        "ModelNotReadyException",
        "ServiceUnavailableException",
        "InternalServerException",
        "ModelTimeoutException",
    }
)
REJECTED_CODES = frozenset(
    {
        "AccessDeniedException",
        "ValidationException",
        "ResourceNotFoundException",
        "ModelErrorException",
    }
)
_NETWORK_ERRORS = (
    ReadTimeoutError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ConnectionClosedError,
    ResponseStreamingError,
)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff for throttling and transient Bedrock failures.

    ``max_retries`` counts retries *after* the first call: the default 3 means up to 4
    calls, waiting ``base_delay``, ``base_delay * multiplier``, ... (capped at
    ``max_delay``) seconds between them. No jitter, so runs are repeatable; spread load
    with the orchestrators' own retry jitter where it matters.
    """

    max_retries: int = 3
    base_delay: float = 1.0
    multiplier: float = 2.0
    max_delay: float = 20.0

    def __post_init__(self) -> None:
        if isinstance(self.max_retries, bool) or not isinstance(self.max_retries, int):
            raise ValueError(f"max_retries must be an integer, got {self.max_retries!r}")
        if not 0 <= self.max_retries <= 10:
            raise ValueError(f"max_retries must be within 0..10, got {self.max_retries}")
        for name in ("base_delay", "max_delay"):
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not 0 <= value <= 300
            ):
                raise ValueError(f"{name} must be a number of seconds within 0..300, got {value!r}")
        if isinstance(self.multiplier, bool) or not isinstance(self.multiplier, int | float):
            raise ValueError(f"multiplier must be a number, got {self.multiplier!r}")
        if not 1.0 <= self.multiplier <= 10.0:
            raise ValueError(f"multiplier must be within 1.0..10.0, got {self.multiplier}")

    @property
    def max_attempts(self) -> int:
        """Total calls at most: the first one plus the retries."""
        return self.max_retries + 1

    def delay(self, retry_number: int) -> float:
        """Seconds to wait before retry ``retry_number`` (1 for the first retry)."""
        if retry_number < 1:
            raise ValueError(f"retry_number starts at 1, got {retry_number}")
        return float(min(self.max_delay, self.base_delay * self.multiplier ** (retry_number - 1)))


DEFAULT_RETRY_POLICY = RetryPolicy()


def client_config(*, read_timeout: int = 120, connect_timeout: int = 5) -> Config:
    """Return the botocore configuration for the ``bedrock-runtime`` client.

    One attempt per call (retries are ours, see the module docstring) and a read timeout
    long enough for a vision answer.
    """
    return Config(
        retries={"total_max_attempts": 1, "mode": "standard"},
        read_timeout=read_timeout,
        connect_timeout=connect_timeout,
    )


def invoke_vision_model_once(
    client: BedrockRuntimeClient,
    image_bytes: bytes,
    media_type: str,
    config: VisionConfig,
    *,
    max_year: int | None = None,
) -> tuple[Album, ...]:
    """Call the vision model once and return the six albums it sees.

    Parameters
    ----------
    client
        A ``bedrock-runtime`` client.
    image_bytes, media_type
        The (downscaled) image and its media type.
    config
        Model id and inference parameters.
    max_year
        Newest acceptable album year; defaults to the current year.

    Returns
    -------
    tuple of Album
        Six albums, indices 1..6 in reading order.

    Raises
    ------
    VisionThrottledError, VisionServiceError
        Throttling or a transient service/network failure (retryable).
    VisionRequestError
        Bedrock rejected the request (access, model id, validation, model error).
    VisionOutputError
        The model answered but its output is unusable (see ``albums.domain.vision``).
    ImageError
        The image is empty, too large, or of an unsupported type.
    """
    request = build_invoke_model_request(image_bytes, media_type, config)
    try:
        response = client.invoke_model(**request)
        body = response["body"].read()
    except ClientError as error:
        raise map_client_error(error) from error
    except _NETWORK_ERRORS as error:
        raise VisionServiceError(f"Bedrock could not be reached: {error}") from error
    return parse_model_response(body, max_year=max_year)


def invoke_vision_model(
    client: BedrockRuntimeClient,
    image_bytes: bytes,
    media_type: str,
    config: VisionConfig,
    *,
    retry: RetryPolicy = DEFAULT_RETRY_POLICY,
    sleep: Callable[[float], None] = time.sleep,
    max_year: int | None = None,
) -> tuple[Album, ...]:
    """Call the vision model, retrying throttling and transient failures with backoff.

    Parameters
    ----------
    client
        A ``bedrock-runtime`` client (best created with :func:`client_config`).
    image_bytes, media_type
        The (downscaled) image and its media type.
    config
        Model id and inference parameters.
    retry
        How often and how long to back off; ``retry.max_retries`` retries at most.
    sleep
        Called with the delay before each retry (inject a fake in tests).
    max_year
        Newest acceptable album year; defaults to the current year.

    Returns
    -------
    tuple of Album
        Six albums, indices 1..6 in reading order.

    Raises
    ------
    VisionThrottledError, VisionServiceError
        The last transient failure, once the retries are used up.
    VisionRequestError, VisionOutputError, ImageError
        At once, without retrying (see :func:`invoke_vision_model_once`).
    """
    retry_number = 0
    while True:
        try:
            return invoke_vision_model_once(
                client, image_bytes, media_type, config, max_year=max_year
            )
        except TransientError as error:
            if retry_number >= retry.max_retries:
                logger.warning(
                    "vision model still failing after %d attempts: %s",
                    retry.max_attempts,
                    error.message,
                )
                raise
            retry_number += 1
            delay = retry.delay(retry_number)
            logger.info(
                "vision model call failed (%s); retry %d of %d in %.1f s",
                type(error).__name__,
                retry_number,
                retry.max_retries,
                delay,
            )
            sleep(delay)


def map_client_error(
    error: ClientError,
) -> VisionThrottledError | VisionServiceError | VisionRequestError:
    """Return the typed vision error for a Bedrock ``ClientError``.

    Known codes decide first: throttling codes map to :class:`VisionThrottledError`,
    transient service codes to :class:`VisionServiceError`, and access denied, validation,
    unknown model and model errors to :class:`VisionRequestError`. An unknown code is
    judged by its HTTP status: 429 throttled, 5xx transient, anything else rejected.
    """
    details = error.response.get("Error", {})
    code = str(details.get("Code", "Unknown"))
    message = f"Bedrock {code}: {details.get('Message', str(error))}"
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    if code in THROTTLING_CODES:
        return VisionThrottledError(message)
    if code in TRANSIENT_CODES:
        return VisionServiceError(message)
    if code in REJECTED_CODES:
        return VisionRequestError(message)
    # Codes this botocore does not know yet: judge by the HTTP status.
    if status == 429:
        return VisionThrottledError(message)
    if isinstance(status, int) and status >= 500:
        return VisionServiceError(message)
    return VisionRequestError(message)
