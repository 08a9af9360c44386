"""Typed errors of the album-registration domain.

Every failure the workflow can meet has its own class. The class name is what a Lambda
reports as ``errorType``, so Step Functions ``Retry``/``Catch`` and the durable
orchestrator's retry strategies match on these names: keep them stable.

Two families matter to the orchestrations:

- :class:`TransientError` subclasses are worth retrying (throttling, timeouts, a price
  source that is briefly down).
- Everything else is permanent: retrying cannot help, the workflow handles it or fails.
"""

from __future__ import annotations


class AlbumRegistrationError(Exception):
    """Base of every error this project raises on purpose."""

    #: Short machine-readable code, stable across releases.
    code: str = "album_registration_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_dict(self) -> dict[str, str]:
        """Return the error as plain JSON: ``{"error": ..., "code": ..., "message": ...}``."""
        return {"error": type(self).__name__, "code": self.code, "message": self.message}


class TransientError(AlbumRegistrationError):
    """A failure that may succeed when retried (throttling, timeouts, 5xx)."""

    code = "transient"


class ConfigurationError(AlbumRegistrationError):
    """A required setting is missing or malformed (environment variable, price file)."""

    code = "configuration_error"


# --- input -----------------------------------------------------------------------------


class InvalidS3KeyError(AlbumRegistrationError):
    """The uploaded object's key breaks the key rules (prefix, suffix, characters, length)."""

    code = "invalid_s3_key"


class InvalidUploadEventError(AlbumRegistrationError):
    """The trigger event is not a well-formed S3 "Object Created" event."""

    code = "invalid_upload_event"


class InvalidAlbumError(AlbumRegistrationError):
    """An album, correction or price violates the domain rules."""

    code = "invalid_album"


class InvalidRecordError(AlbumRegistrationError):
    """A value given to the repository cannot be stored (wrong id, status or shape)."""

    code = "invalid_record"


# --- vision ----------------------------------------------------------------------------


class VisionOutputError(AlbumRegistrationError):
    """The vision model answered, but its output is unusable. Retrying will not help."""

    code = "vision_output_unusable"


class VisionNotJsonError(VisionOutputError):
    """The model's text holds no parseable JSON array of albums."""

    code = "vision_not_json"


class VisionAlbumCountError(VisionOutputError):
    """The model found a number of albums other than exactly six."""

    code = "vision_album_count"


class VisionAlbumFieldError(VisionOutputError):
    """An album lacks a field, has an empty or over-long one, or a year out of range."""

    code = "vision_album_field"


class VisionThrottledError(TransientError):
    """Bedrock throttled the request; retry with backoff."""

    code = "vision_throttled"


class VisionServiceError(TransientError):
    """Bedrock failed transiently (timeout, 5xx, model not ready); retry with backoff."""

    code = "vision_service_unavailable"


class VisionRequestError(AlbumRegistrationError):
    """Bedrock rejected the request itself (access denied, bad model id, invalid image)."""

    code = "vision_request_rejected"


class ImageError(AlbumRegistrationError):
    """The uploaded object is not a readable image of a supported type or size."""

    code = "image_unreadable"


# --- pricing ---------------------------------------------------------------------------


class PriceSourceUnavailableError(TransientError):
    """The pricing source is down or throttling; retry this one album."""

    code = "price_source_unavailable"


class PriceEstimationError(AlbumRegistrationError):
    """No price can be estimated for this album; the others continue."""

    code = "price_estimation_failed"


# --- repository ------------------------------------------------------------------------


class RepositoryThrottledError(TransientError):
    """DynamoDB throttled a write; the write is idempotent and can be retried."""

    code = "repository_throttled"


class StateRegressionError(AlbumRegistrationError):
    """A write would move a record backwards (e.g. a completed execution to running)."""

    code = "state_regression"


class ExecutionNotFoundError(AlbumRegistrationError):
    """No execution record exists for the given id."""

    code = "execution_not_found"


class TaskNotFoundError(AlbumRegistrationError):
    """No validation task exists for the given id."""

    code = "task_not_found"


class TaskNotPendingError(AlbumRegistrationError):
    """The validation task was already answered, rejected or timed out."""

    code = "task_not_pending"


class TaskExpiredError(AlbumRegistrationError):
    """The validation task's time is up: the workflow continued (or will) without an answer."""

    code = "task_expired"


# --- human validation: links and submissions ----------------------------------------------


class InvalidSubmissionError(AlbumRegistrationError):
    """A reviewer's submission breaks the input rules; ``fields`` says which field and why.

    Parameters
    ----------
    fields
        Field path (``albums[2].year``, ``reason``, ``body``) to what is wrong with it.
    """

    code = "invalid_submission"

    def __init__(self, fields: dict[str, str]) -> None:
        if not fields:
            fields = {"body": "the submission is invalid"}
        self.fields = dict(fields)
        super().__init__("; ".join(f"{name}: {problem}" for name, problem in self.fields.items()))


class InvalidLinkError(AlbumRegistrationError):
    """A review link's token is missing, malformed, tampered with or signed by an unknown key."""

    code = "invalid_link"


class ExpiredLinkError(InvalidLinkError):
    """A review link's token is authentic but past its expiry."""

    code = "expired_link"


class SigningKeyError(ConfigurationError):
    """The link-signing key cannot be read or is unusable (missing, too short, wrong type)."""

    code = "signing_key_unavailable"
