"""Store steps of the Step Functions workflow: one Lambda, an ``action`` per state.

Every write of the workflow goes through this function, so the state machine needs one
Task state per step (not a Map of DynamoDB writes: that is what keeps the happy path
within 20 billed transitions) and the writes use the shared repository's idempotent,
forward-only rules. Actions and their payloads (every payload also carries
``executionArn``):

- ``store_initial_data``: ``upload``, ``albums`` -> ``{}``;
- ``apply_validation``: ``albums``, ``decision`` (the reviewer's SendTaskSuccess output,
  ``{"corrections": [...]}``) -> ``{"albums": [validated album, ...]}``;
- ``timeout``: ``albums`` -> the same, with the original data (task marked ``timeout``);
- ``reject``: ``reason`` (the SendTaskFailure cause) -> ``{"executionId", "status"}``;
- ``store_results``: ``results`` (the Map's output, one per album: ``{albumIndex,
  estimate}`` or ``{albumIndex, error, cause}``) -> ``{"executionId", "status"}``;
- ``fail``: ``error``, ``cause``, ``step`` -> ``{"executionId", "status": "failed"}``.

Lambda handler string: ``workflow_store.handler.handler``
(the zip holds ``workflow_store/`` at its root).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from enum import StrEnum
from typing import Any

from albums import workflow
from albums.adapters import clients
from albums.adapters.repository import AlbumRepository
from albums.adapters.stepfunctions import PATTERN, error_message_of, execution_id_of
from albums.domain.errors import ExecutionNotFoundError, InvalidAlbumError, InvalidRecordError
from albums.domain.keys import UploadRef
from albums.domain.models import (
    Album,
    AlbumPriceResult,
    ExecutionStatus,
    PriceEstimate,
    ValidatedAlbum,
)
from albums.observability import execution_context, get_logger
from albums.settings import Settings

LOGGER = get_logger()


class Action(StrEnum):
    """What the state machine asks this function to store."""

    STORE_INITIAL_DATA = "store_initial_data"
    APPLY_VALIDATION = "apply_validation"
    TIMEOUT = "timeout"
    REJECT = "reject"
    STORE_RESULTS = "store_results"
    FAIL = "fail"


def _albums(event: dict[str, Any]) -> list[Album]:
    raw = event.get("albums")
    if not isinstance(raw, list):
        raise InvalidAlbumError("the payload has no albums list")
    return [Album.from_dict(album) for album in raw]


def validated_to_dict(validated: ValidatedAlbum) -> dict[str, Any]:
    """Return a validated album as the state machine passes it on (the Map's items)."""
    return {
        **validated.album.to_dict(),
        "yearOriginal": validated.year_original,
        "yearValidated": validated.year_validated,
    }


def price_results(raw: object) -> list[AlbumPriceResult]:
    """Read the Map's output into price results.

    Raises
    ------
    InvalidAlbumError
        When an entry has neither an estimate nor an error, or no ``albumIndex``.
    """
    if not isinstance(raw, list):
        raise InvalidAlbumError("results must be a list")
    results = []
    for entry in raw:
        if not isinstance(entry, dict) or "albumIndex" not in entry:
            raise InvalidAlbumError(f"a price result needs an albumIndex, got {entry!r}")
        index = entry["albumIndex"]
        if entry.get("estimate") is not None:
            results.append(
                AlbumPriceResult(index, estimate=PriceEstimate.from_dict(entry["estimate"]))
            )
            continue
        error = entry.get("error")
        if not isinstance(error, str) or not error:
            raise InvalidAlbumError(f"price result {index} has neither an estimate nor an error")
        message = error_message_of(entry.get("cause")) or error
        results.append(AlbumPriceResult(index, error=error, error_message=message[:1000]))
    return results


def _store_initial_data(
    repository: AlbumRepository, execution_id: str, event: dict[str, Any]
) -> dict[str, Any]:
    upload = UploadRef.from_dict(event.get("upload"))
    workflow.store_initial_data(repository, execution_id, upload, _albums(event))
    return {}


def _validated(albums: Sequence[ValidatedAlbum]) -> dict[str, Any]:
    return {"albums": [validated_to_dict(album) for album in albums]}


def _apply_validation(
    repository: AlbumRepository, execution_id: str, event: dict[str, Any]
) -> dict[str, Any]:
    decision = workflow.ValidationDecision.from_payload(event.get("decision"))
    return _validated(
        workflow.apply_validation(
            repository, execution_id=execution_id, albums=_albums(event), decision=decision
        )
    )


def _timeout(
    repository: AlbumRepository, execution_id: str, event: dict[str, Any]
) -> dict[str, Any]:
    LOGGER.info("validation timed out; keeping the detected data")
    return _validated(
        workflow.apply_validation(
            repository, execution_id=execution_id, albums=_albums(event), decision=None
        )
    )


def _reject(
    repository: AlbumRepository, execution_id: str, event: dict[str, Any]
) -> dict[str, Any]:
    workflow.reject_execution(repository, execution_id=execution_id, reason=event.get("reason"))
    return {"executionId": execution_id, "status": str(ExecutionStatus.REJECTED)}


def _store_results(
    repository: AlbumRepository, execution_id: str, event: dict[str, Any]
) -> dict[str, Any]:
    status = workflow.store_results(repository, execution_id, price_results(event.get("results")))
    return {"executionId": execution_id, "status": str(status)}


def _fail(repository: AlbumRepository, execution_id: str, event: dict[str, Any]) -> dict[str, Any]:
    error = event.get("error")
    step = event.get("step")
    try:
        workflow.record_failure(
            repository,
            execution_id=execution_id,
            error=error if isinstance(error, str) and error else "UnknownError",
            cause=error_message_of(event.get("cause")),
            step=step if isinstance(step, str) and step else "Unknown",
        )
    except ExecutionNotFoundError:
        # The accept step failed before the record existed: the log line is the record.
        LOGGER.warning("no execution record to mark failed", extra={"step": step})
    return {"executionId": execution_id, "status": str(ExecutionStatus.FAILED)}


_ACTIONS: dict[Action, Callable[[AlbumRepository, str, dict[str, Any]], dict[str, Any]]] = {
    Action.STORE_INITIAL_DATA: _store_initial_data,
    Action.APPLY_VALIDATION: _apply_validation,
    Action.TIMEOUT: _timeout,
    Action.REJECT: _reject,
    Action.STORE_RESULTS: _store_results,
    Action.FAIL: _fail,
}


def store(event: dict[str, Any], repository: AlbumRepository) -> dict[str, Any]:
    """Run the payload's ``action`` (see the module docstring).

    Raises
    ------
    InvalidRecordError
        Unknown action or no ``executionArn``.
    InvalidAlbumError
        Malformed albums, decision or results (nothing is written).
    RepositoryThrottledError
        DynamoDB throttled (the state machine retries).
    StateRegressionError, ExecutionNotFoundError
        The write would move the execution backwards, or it does not exist.
    """
    if not isinstance(event, dict):
        raise InvalidRecordError("the payload must be an object")
    try:
        action = Action(str(event.get("action")))
    except ValueError:
        raise InvalidRecordError(f"unknown action {event.get('action')!r}") from None
    execution_id = execution_id_of(event)
    with execution_context(LOGGER, execution_id, PATTERN):
        return _ACTIONS[action](repository, execution_id, event)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:  # noqa: ARG001 - Lambda signature
    """Lambda entry point: see :func:`store`."""
    settings = Settings.from_env()
    repository = AlbumRepository(clients.get("dynamodb"), settings.table_name, PATTERN)
    return store(event, repository)
