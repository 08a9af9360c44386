"""The workflow's steps, shared by both orchestrations.

Each function here is one step of DESIGN.md's workflow. The Step Functions pattern calls
them from thin Lambda handlers; the durable orchestrator calls them inside its durable
steps. Neither orchestration holds business logic of its own, which is what makes the two
comparable: they differ only in how they sequence, retry, pause and parallelise these
calls.

Every step is idempotent (a retried step rewrites the same items, never adds a second
one) and raises the typed errors of :mod:`albums.domain.errors`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from albums.domain import keys
from albums.domain.errors import (
    AlbumRegistrationError,
    InvalidAlbumError,
    InvalidS3KeyError,
    InvalidUploadEventError,
    TaskNotPendingError,
)
from albums.domain.keys import UploadRef
from albums.domain.models import (
    MAX_REASON_LENGTH,
    Album,
    AlbumCorrection,
    AlbumPriceResult,
    ExecutionStatus,
    FailureDetails,
    PriceEstimate,
    TaskStatus,
    ValidatedAlbum,
    apply_corrections,
    check_album_set,
    clean_text,
    format_timestamp,
    keep_original,
)
from albums.domain.pricing import PriceSource, estimate_price
from albums.domain.records import ValidationTask
from albums.observability import get_logger

if TYPE_CHECKING:
    from albums.adapters.repository import AlbumRepository
    from albums.domain.vision import VisionConfig

LOGGER = get_logger()

#: Error name a reviewer's rejection carries (SendTaskFailure ``error``, callback failure).
REJECTION_ERROR = "ValidationRejected"
#: The reason of a rejection that came without one (the state machine writes the same).
DEFAULT_REJECTION_REASON = "rejected by the reviewer"


class AcceptStatus(StrEnum):
    """What the accept step decided about a trigger event."""

    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class AcceptOutcome:
    """Result of :func:`accept_upload`, as plain JSON through :meth:`to_dict`."""

    status: AcceptStatus
    execution_id: str
    upload: UploadRef | None = None
    reason: str | None = None
    duplicate_of: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the outcome as plain JSON (what the state machine's Choice reads)."""
        return {
            "status": str(self.status),
            "executionId": self.execution_id,
            "upload": None if self.upload is None else self.upload.to_dict(),
            "reason": self.reason,
            "duplicateOf": self.duplicate_of,
        }


def accept_upload(
    repository: AlbumRepository,
    event: object,
    execution_id: str,
    *,
    uploads_bucket: str | None = None,
) -> AcceptOutcome:
    """Validate the trigger event and claim its upload for this execution.

    A bad event or key, or an event for another bucket than ``uploads_bucket`` (when
    given), is *rejected* (nothing is written: there is no valid upload to record it
    under; the reason is returned and logged). A second delivery of an upload that
    another execution of this pattern already claimed is a *duplicate*: its own execution
    record says so and points at the holder. Otherwise the claim is all this step writes:
    the execution record comes with the initial data (:func:`store_initial_data`), in one
    transaction with its albums, and a failure before that creates it as ``failed``
    (:func:`record_failure`).
    """
    try:
        upload = keys.parse_object_created_event(event, uploads_bucket=uploads_bucket)
    except (InvalidS3KeyError, InvalidUploadEventError) as error:
        LOGGER.warning(
            "upload rejected",
            extra={"errorName": type(error).__name__, "errorMessage": error.message},
        )
        return AcceptOutcome(
            AcceptStatus.REJECTED, execution_id, reason=f"{type(error).__name__}: {error.message}"
        )
    claim = repository.claim_upload(upload, execution_id)
    if not claim.claimed:
        repository.put_execution(
            execution_id,
            upload,
            status=ExecutionStatus.DUPLICATE,
            duplicate_of=claim.execution_id_holding_claim,
        )
        return AcceptOutcome(
            AcceptStatus.DUPLICATE,
            execution_id,
            upload=upload,
            duplicate_of=claim.execution_id_holding_claim,
        )
    return AcceptOutcome(AcceptStatus.ACCEPTED, execution_id, upload=upload)


def process_image(
    s3_client: Any,
    bedrock_client: Any,
    upload: UploadRef,
    config: VisionConfig,
    *,
    max_year: int | None = None,
) -> tuple[Album, ...]:
    """Read the uploaded photo, downscale it, and ask the vision model for its six albums.

    One model call, no retries of its own: the orchestration retries throttling and
    transient failures (``TransientError``) with its own policy, so every attempt is
    visible in its history (a Step Functions ``Retry``, a durable step's retry strategy).

    Raises
    ------
    ImageError
        The object is missing, changed, empty, too large or not a supported image.
    TransientError
        S3 or Bedrock throttled or failed transiently (``VisionThrottledError``,
        ``VisionServiceError``): retry.
    VisionOutputError, VisionRequestError
        The model's answer is unusable, or Bedrock refused the request: do not retry.
    """
    # Imported here: Pillow and the Bedrock adapter are only needed by this step.
    from albums.adapters.bedrock import invoke_vision_model_once  # noqa: PLC0415
    from albums.adapters.images import downscale, read_image  # noqa: PLC0415

    original = read_image(s3_client, upload)
    image = downscale(original.data, original.media_type, config.max_image_edge)
    return invoke_vision_model_once(
        bedrock_client, image.data, image.media_type, config, max_year=max_year
    )


def store_initial_data(
    repository: AlbumRepository, execution_id: str, upload: UploadRef, albums: Sequence[Album]
) -> None:
    """Store the execution record and its six albums (one all-or-nothing write)."""
    repository.store_initial_data(execution_id, upload, check_album_set(list(albums)))


# --- human validation --------------------------------------------------------------------


class ValidationNotifier(Protocol):
    """Tells a reviewer that a validation task waits (SNS on AWS, a list in local mode)."""

    def notify(self, task: ValidationTask) -> None:
        """Publish one message about ``task``; raise on failure."""


def request_validation(
    repository: AlbumRepository,
    notifier: ValidationNotifier,
    *,
    execution_id: str,
    upload_id: str,
    albums: Sequence[Album],
    resume_token: str,
    timeout_seconds: int,
    now: datetime | None = None,
) -> ValidationTask:
    """Create the pending validation task (with ``expiresAt``) and notify the reviewer.

    The task is stored before the notification goes out, and a failed notification is
    logged, not raised: the workflow still pauses and the task is listed as pending, so
    a reviewer can find it without the message.
    """
    moment = now or datetime.now(UTC)
    task = repository.create_validation_task(
        execution_id,
        upload_id,
        check_album_set(list(albums)),
        resume_token,
        format_timestamp(moment + timedelta(seconds=timeout_seconds)),
    )
    try:
        notifier.notify(task)
    except Exception as error:
        LOGGER.error(
            "validation notification failed; the task stays listed as pending",
            extra={
                "taskId": task.task_id,
                "errorName": type(error).__name__,
                "errorMessage": str(error),
            },
        )
    return task


@dataclass(frozen=True, slots=True)
class ValidationDecision:
    """A reviewer's answer as it resumes a workflow: accept, or accept with corrections.

    ``answer_stored`` says the task already holds this answer (the validation API stores
    it before it resumes the workflow), so the workflow need not close the task itself:
    the state machine then leaves the task out of its transaction.
    """

    corrections: tuple[AlbumCorrection, ...] = ()
    answer_stored: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Return the decision as the JSON payload both patterns resume with."""
        payload: dict[str, Any] = {
            "corrections": [
                {
                    key: value
                    for key, value in {
                        "albumIndex": c.index,
                        "year": c.year,
                        "albumName": c.album_name,
                        "artist": c.artist,
                    }.items()
                    if value is not None
                }
                for c in self.corrections
            ]
        }
        if self.answer_stored:
            payload["answerStored"] = True
        return payload

    @classmethod
    def from_payload(cls, payload: object) -> ValidationDecision:
        """Read a resume payload ``{"corrections": [{"albumIndex", "year", ...}]}``.

        Raises
        ------
        InvalidAlbumError
            When the payload is not an object, a correction is malformed, or an album is
            corrected twice.
        """
        if not isinstance(payload, Mapping):
            raise InvalidAlbumError("validation payload must be an object")
        raw = payload.get("corrections", [])
        if not isinstance(raw, list):
            raise InvalidAlbumError("corrections must be a list")
        stored = payload.get("answerStored", False)
        if not isinstance(stored, bool):
            raise InvalidAlbumError("answerStored must be a boolean")
        corrections = []
        seen: set[object] = set()
        for entry in raw:
            if not isinstance(entry, Mapping) or "albumIndex" not in entry or "year" not in entry:
                raise InvalidAlbumError("each correction needs albumIndex and year")
            if entry["albumIndex"] in seen:
                raise InvalidAlbumError(f"album {entry['albumIndex']} is corrected twice")
            seen.add(entry["albumIndex"])
            corrections.append(
                AlbumCorrection(
                    index=entry["albumIndex"],
                    year=entry["year"],
                    album_name=entry.get("albumName"),
                    artist=entry.get("artist"),
                )
            )
        return cls(tuple(corrections), answer_stored=stored)


def apply_validation(
    repository: AlbumRepository,
    *,
    execution_id: str,
    albums: Sequence[Album],
    decision: ValidationDecision | None,
) -> tuple[ValidatedAlbum, ...]:
    """Apply a reviewer's decision, or (``decision=None``) the timeout's original data.

    The task is closed here if the validation API has not closed it already — a direct
    SendTaskSuccess or callback still leaves a consistent task — and a task that the API
    already answered is left as it is.
    """
    task_id = keys.task_id_for(repository.workflow_type, execution_id)
    if decision is None:
        validated = keep_original(albums)
        _close_task(repository, task_id, TaskStatus.TIMEOUT)
    else:
        validated = apply_corrections(albums, decision.corrections)
        _close_task(repository, task_id, TaskStatus.COMPLETED, corrections=decision.corrections)
    repository.apply_validated_data(execution_id, validated)
    return validated


def reject_execution(repository: AlbumRepository, *, execution_id: str, reason: object) -> None:
    """End an execution as ``rejected`` by its reviewer, with the reason (no prices)."""
    text = clean_text(
        reason if isinstance(reason, str) and reason.strip() else DEFAULT_REJECTION_REASON,
        "reason",
        max_length=MAX_REASON_LENGTH,
    )
    task_id = keys.task_id_for(repository.workflow_type, execution_id)
    _close_task(repository, task_id, TaskStatus.REJECTED, rejection_reason=text)
    repository.complete_execution(execution_id, ExecutionStatus.REJECTED, rejection_reason=text)


def _close_task(
    repository: AlbumRepository,
    task_id: str,
    status: TaskStatus,
    *,
    corrections: Sequence[AlbumCorrection] = (),
    rejection_reason: str | None = None,
) -> None:
    try:
        repository.complete_validation_task(
            task_id, status, corrections=corrections, rejection_reason=rejection_reason
        )
    except TaskNotPendingError:
        # Answered already (by the validation API, or by this step's earlier attempt).
        LOGGER.info("validation task was already answered", extra={"taskId": task_id})


# --- prices and results ------------------------------------------------------------------


def estimate_album_price(source: PriceSource, album: Album) -> PriceEstimate:
    """Estimate one album's price (one album, one call: the orchestrations parallelise)."""
    return estimate_price(source, album)


def price_result(index: int, outcome: PriceEstimate | BaseException) -> AlbumPriceResult:
    """Turn one album's estimate or its final error into a stored price result."""
    if isinstance(outcome, PriceEstimate):
        return AlbumPriceResult(index, estimate=outcome)
    name = type(outcome).__name__
    message = outcome.message if isinstance(outcome, AlbumRegistrationError) else str(outcome)
    return AlbumPriceResult(index, error=name, error_message=message[:1000] or name)


def store_results(
    repository: AlbumRepository, execution_id: str, results: Sequence[AlbumPriceResult]
) -> ExecutionStatus:
    """Store every album's price (or failure) and end the execution.

    Returns ``completed`` when all six albums are priced, ``completed_with_errors``
    otherwise.
    """
    return repository.store_results(execution_id, results)


def record_failure(
    repository: AlbumRepository,
    *,
    execution_id: str,
    error: str,
    cause: str,
    step: str,
    upload: UploadRef | None = None,
) -> None:
    """Mark the execution ``failed`` with the error name, its cause and the failed step.

    The same fields are logged (``errorName``, ``errorMessage``, ``step``) with the
    execution context, so a failure is found from the logs or from the table alike. With
    the execution's ``upload`` (known once the accept step read the event), a failure
    before the initial data creates the execution record as ``failed``.
    """
    failure = FailureDetails(error=error, cause=cause, step=step)
    LOGGER.error(
        "execution failed",
        extra={
            "errorName": failure.error,
            "errorMessage": failure.cause[:1000],
            "step": failure.step,
            "executionId": execution_id,
            "workflowType": str(repository.workflow_type),
        },
    )
    repository.fail_execution(execution_id, failure, upload=upload)
