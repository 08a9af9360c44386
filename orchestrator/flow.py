"""The album-registration workflow as a durable function body.

Each business step of DESIGN.md runs inside a named durable step and calls the shared
:mod:`albums.workflow`; this module only sequences, retries, pauses and fans out.

Happy path, 16 billable durable operations by the published metering::

    start                                   1
    AcceptUpload (step)                     1   the upload claim
    ProcessImage (step, 3 retries)          1
    StoreInitialData (step)                 1   one transaction: record + 6 albums
    WaitForValidation (wait_for_callback)   3
    ApplyValidation (step)                  1
    EstimatePrices (map, FLAT)              1   branches are virtual: +0
      EstimatePrice-1..6 (steps)            6
    StoreResults (step)                     1

``StoreInitialData`` is one step, not a ``parallel`` of the execution record and the
album batch as the state machine's Parallel state has: the repository writes the seven
items in one all-or-nothing transaction, and a FLAT parallel of two steps would cost 3
operations (5 nested) for no isolation gained. The map is FLAT for the same reason: each
album's step keeps its own checkpoint and retry strategy, and a failed album is caught
in its own branch, so the six stay isolated without six child-context operations.

Determinism: nothing reads a clock, random numbers or the environment outside a step;
the execution id comes from the durable execution ARN. Step bodies run in worker threads
and use only thread-safe collaborators (boto3 clients, the stateless repository).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aws_durable_execution_sdk_python import (
    BatchResult,
    CallbackExternalError,
    CallbackSubmitterError,
    CallbackTimeoutError,
    DurableContext,
    StepContext,
    StepError,
    durable_step,
    durable_wait_for_callback,
)
from aws_durable_execution_sdk_python.config import (
    CompletionConfig,
    Duration,
    MapConfig,
    NestingType,
    StepConfig,
    WaitForCallbackConfig,
)
from aws_durable_execution_sdk_python.exceptions import DurableOperationError, UnrecoverableError
from aws_durable_execution_sdk_python.serdes import JsonSerDes
from aws_durable_execution_sdk_python.types import WaitForCallbackContext

from albums import workflow
from albums.domain import keys
from albums.domain.errors import (
    AlbumRegistrationError,
    ExecutionNotFoundError,
    InvalidS3KeyError,
    InvalidUploadEventError,
)
from albums.domain.keys import UploadRef
from albums.domain.models import (
    ALBUMS_PER_IMAGE,
    Album,
    AlbumPriceResult,
    ExecutionStatus,
    PriceEstimate,
    ValidatedAlbum,
)
from albums.domain.records import to_plain
from albums.observability import durable_logger, get_logger
from albums.workflow_contract import Step
from orchestrator.config import OrchestratorConfig
from orchestrator.dependencies import PATTERN, Dependencies

#: Longest error message kept in a step's result or a failure record.
_MAX_MESSAGE = 1000


def execution_id_of(context: DurableContext) -> str:
    """Return the execution id: the ``ldf`` tenant and the durable execution's name.

    Derived from the ARN the service hands every invocation, so it is the same on every
    replay.
    """
    return keys.execution_id_for(PATTERN, context.execution_context.durable_execution_arn)


def error_name(error: BaseException) -> str:
    """Return the short class name of the error that escaped a durable operation.

    A failed step carries the name of the error its body raised (``error_type``); a
    failed callback submitter carries its step's.
    """
    if isinstance(error, CallbackSubmitterError) and isinstance(
        error.__cause__, DurableOperationError
    ):
        error = error.__cause__
    if isinstance(error, DurableOperationError):
        return error.error_type.rsplit(".", 1)[-1]
    return type(error).__name__


def error_message(error: BaseException) -> str:
    """Return an error's message (the typed errors' ``message``, else ``str``)."""
    if isinstance(error, AlbumRegistrationError | DurableOperationError) and error.message:
        return str(error.message)
    return str(error) or type(error).__name__


# --- steps -------------------------------------------------------------------------------


@durable_step
def accept_upload(
    step: StepContext, deps: Dependencies, event: dict[str, Any], execution_id: str
) -> dict[str, Any]:
    """Validate the key and claim the upload (duplicate → no-op, invalid → rejected)."""
    outcome = workflow.accept_upload(
        deps.repository, event, execution_id, uploads_bucket=deps.uploads_bucket
    )
    step.logger.info("upload accepted" if outcome.upload else "upload not accepted")
    return outcome.to_dict()


@durable_step
def process_image(step: StepContext, deps: Dependencies, upload: dict[str, Any]) -> list[Any]:
    """Read the photo and get its six albums from the vision model (one call per attempt)."""
    albums = workflow.process_image(deps.s3, deps.bedrock, UploadRef.from_dict(upload), deps.vision)
    step.logger.info("albums detected", extra={"albumCount": len(albums)})
    return [album.to_dict() for album in albums]


@durable_step
def store_initial_data(
    step: StepContext,
    deps: Dependencies,
    execution_id: str,
    upload: dict[str, Any],
    albums: list[Any],
) -> None:
    """Write the execution record and its six albums in one transaction."""
    workflow.store_initial_data(
        deps.repository, execution_id, UploadRef.from_dict(upload), _albums(albums)
    )
    step.logger.info("initial data stored")


@durable_wait_for_callback
def request_validation(
    callback_id: str,
    callback: WaitForCallbackContext,
    deps: Dependencies,
    *,
    execution_id: str,
    upload_id: str,
    albums: list[Any],
    timeout_seconds: int,
) -> None:
    """Create the pending task (with ``expiresAt``) holding the callback id, and notify."""
    task = workflow.request_validation(
        deps.repository,
        deps.notifier,
        execution_id=execution_id,
        upload_id=upload_id,
        albums=_albums(albums),
        resume_token=callback_id,
        timeout_seconds=timeout_seconds,
    )
    callback.logger.info("validation requested", extra={"taskId": task.task_id})


@durable_step
def apply_validation(
    step: StepContext,
    deps: Dependencies,
    *,
    execution_id: str,
    albums: list[Any],
    decision: Any,
    timed_out: bool,
) -> list[Any]:
    """Apply the reviewer's corrections, or (timeout) keep the original data."""
    validated = workflow.apply_validation(
        deps.repository,
        execution_id=execution_id,
        albums=_albums(albums),
        decision=None if timed_out else workflow.ValidationDecision.from_payload(decision),
    )
    step.logger.info("validated data applied", extra={"timedOut": timed_out})
    return [_validated_to_dict(item) for item in validated]


@durable_step
def reject_execution(step: StepContext, deps: Dependencies, execution_id: str, reason: str) -> None:
    """End the execution as ``rejected`` by its reviewer."""
    workflow.reject_execution(deps.repository, execution_id=execution_id, reason=reason)
    step.logger.info("execution rejected by the reviewer")


@durable_step
def estimate_price(step: StepContext, deps: Dependencies, album: dict[str, Any]) -> dict[str, Any]:
    """Estimate one album's price."""
    estimate = workflow.estimate_album_price(deps.price_source, Album.from_dict(album))
    step.logger.info("album priced", extra={"albumIndex": album["albumIndex"]})
    return estimate.to_dict()


@durable_step
def store_results(
    step: StepContext, deps: Dependencies, execution_id: str, results: list[Any]
) -> str:
    """Store the six prices (or failures) and end the execution."""
    status = workflow.store_results(deps.repository, execution_id, _price_results(results))
    step.logger.info("results stored", extra={"status": str(status)})
    return str(status)


@durable_step
def record_failure(
    step: StepContext,
    deps: Dependencies,
    execution_id: str,
    failure: dict[str, str],
    event: dict[str, Any],
) -> None:
    """Mark the execution ``failed`` with the error name, its message and the step.

    The execution record comes with the initial data; a failure before that creates it
    as failed, from the upload the trigger event names (as the state machine does).
    """
    try:
        upload = keys.parse_object_created_event(event, uploads_bucket=deps.uploads_bucket)
    except (InvalidS3KeyError, InvalidUploadEventError):
        upload = None
    try:
        workflow.record_failure(
            deps.repository,
            execution_id=execution_id,
            error=failure["error"],
            cause=failure["cause"],
            step=failure["step"],
            upload=upload,
        )
    except ExecutionNotFoundError:
        # No record and no valid upload to create one for: the logs have it.
        step.logger.warning("no execution record to mark failed")


# --- the workflow ------------------------------------------------------------------------


@dataclass
class _Execution:
    """One run of the workflow: its context, collaborators, and the operation it is in.

    ``operation`` names the failed step in a failure record; it is set in workflow order,
    so it replays identically.
    """

    context: DurableContext
    deps: Dependencies
    config: OrchestratorConfig
    execution_id: str
    operation: str = Step.ACCEPT_UPLOAD.value


def run_workflow(
    event: dict[str, Any],
    context: DurableContext,
    deps: Dependencies,
    config: OrchestratorConfig,
) -> dict[str, Any]:
    """Run one album registration; return its outcome as plain JSON.

    Raises
    ------
    Exception
        The error that made the execution ``failed`` (after the failure is recorded), so
        the durable execution itself ends ``FAILED``.
    """
    execution_id = execution_id_of(context)
    context.set_logger(durable_logger(get_logger(), execution_id=execution_id))
    run = _Execution(context, deps, config, execution_id)
    try:
        return _run(event, run)
    except UnrecoverableError:
        # Non-determinism, a broken checkpoint: the SDK ends the execution; recording a
        # failure would need the very checkpoints that just failed.
        raise
    except Exception as error:
        failure = {
            "error": error_name(error),
            "cause": error_message(error)[:_MAX_MESSAGE],
            "step": run.operation,
        }
        context.logger.error("execution failed", extra={**failure, "executionId": execution_id})
        context.step(
            record_failure(deps, execution_id, failure, event),
            name=Step.RECORD_FAILURE,
            config=_retried(config, Step.RECORD_FAILURE),
        )
        raise


def _run(event: dict[str, Any], run: _Execution) -> dict[str, Any]:
    context, deps, config, execution_id = run.context, run.deps, run.config, run.execution_id
    accepted = context.step(
        accept_upload(deps, event, execution_id),
        name=Step.ACCEPT_UPLOAD,
        config=_retried(config, Step.ACCEPT_UPLOAD),
    )
    if accepted["status"] != workflow.AcceptStatus.ACCEPTED:
        context.logger.info("no workflow for this event", extra={"accept": accepted["status"]})
        return _outcome(execution_id, accepted["status"], accept=accepted)
    upload = accepted["upload"]

    run.operation = Step.PROCESS_IMAGE
    albums = context.step(
        process_image(deps, upload),
        name=Step.PROCESS_IMAGE,
        config=_retried(config, Step.PROCESS_IMAGE),
    )

    run.operation = Step.STORE_INITIAL_DATA
    context.step(
        store_initial_data(deps, execution_id, upload, albums),
        name=Step.STORE_INITIAL_DATA,
        config=_retried(config, Step.STORE_INITIAL_DATA),
    )

    run.operation = Step.WAIT_FOR_VALIDATION
    decision: Any = None
    timed_out = False
    try:
        decision = context.wait_for_callback(
            request_validation(
                deps,
                execution_id=execution_id,
                upload_id=upload["uploadId"],
                albums=albums,
                timeout_seconds=config.validation_timeout_seconds,
            ),
            name=Step.WAIT_FOR_VALIDATION,
            config=WaitForCallbackConfig(
                timeout=Duration.from_seconds(config.validation_timeout_seconds),
                serdes=JsonSerDes(),
                retry_strategy=config.retry_strategy(Step.WAIT_FOR_VALIDATION),
            ),
        )
    except CallbackTimeoutError:
        context.logger.info("validation timed out; continuing with the original data")
        timed_out = True
    except CallbackExternalError as error:
        # The reviewer rejected (the validation API sent a callback failure).
        run.operation = Step.REJECT_EXECUTION
        context.step(
            reject_execution(deps, execution_id, error_message(error)),
            name=Step.REJECT_EXECUTION,
            config=_retried(config, Step.REJECT_EXECUTION),
        )
        return _outcome(execution_id, ExecutionStatus.REJECTED, albums=albums)

    run.operation = Step.APPLY_VALIDATION
    validated = context.step(
        apply_validation(
            deps,
            execution_id=execution_id,
            albums=albums,
            decision=decision,
            timed_out=timed_out,
        ),
        name=Step.APPLY_VALIDATION,
        config=_retried(config, Step.APPLY_VALIDATION),
    )

    run.operation = Step.ESTIMATE_PRICES
    results = _estimate_prices(run, validated)

    run.operation = Step.STORE_RESULTS
    status = context.step(
        store_results(deps, execution_id, results),
        name=Step.STORE_RESULTS,
        config=_retried(config, Step.STORE_RESULTS),
    )
    return _outcome(execution_id, status, albums=validated, prices=results, timed_out=timed_out)


def _retried(config: OrchestratorConfig, step: Step) -> StepConfig:
    """Return the step's configuration: its retry strategy from the workflow contract."""
    return StepConfig(retry_strategy=config.retry_strategy(step))


def _estimate_prices(run: _Execution, validated: list[Any]) -> list[dict[str, Any]]:
    """Price the six albums in a map: one step each, every one runs, failures caught."""
    context, deps, config = run.context, run.deps, run.config
    retry = _retried(config, Step.ESTIMATE_PRICE)

    def price_one(
        branch: DurableContext, album: dict[str, Any], _: int, __: Sequence[Any]
    ) -> dict[str, Any]:
        index = int(album["albumIndex"])
        try:
            estimate = branch.step(
                estimate_price(deps, album),
                name=Step.ESTIMATE_PRICE.for_album(index),
                config=retry,
            )
        except StepError as error:
            # Caught in its own branch: this album fails, the other five go on.
            return {
                "albumIndex": index,
                "error": error_name(error),
                "errorMessage": error_message(error)[:_MAX_MESSAGE],
            }
        return {"albumIndex": index, "estimate": estimate}

    batch: BatchResult[dict[str, Any]] = context.map(
        validated,
        price_one,
        name=Step.ESTIMATE_PRICES,
        config=MapConfig(
            max_concurrency=ALBUMS_PER_IMAGE,
            # Every album runs whatever the others do (the default fails fast).
            completion_config=CompletionConfig.all_completed(),  # type: ignore[no-untyped-call]
            nesting_type=NestingType.FLAT,
        ),
    )
    results: list[dict[str, Any]] = []
    for item, album in zip(batch.all, validated, strict=True):
        if item.result is not None:
            results.append(item.result)
        else:  # a branch failed outside its step (not expected): keep it as a failed price
            error = item.error
            results.append(
                {
                    "albumIndex": int(album["albumIndex"]),
                    "error": (error.type or "BranchFailed").rsplit(".", 1)[-1]
                    if error
                    else "BranchFailed",
                    "errorMessage": ((error.message if error else None) or "branch failed")[
                        :_MAX_MESSAGE
                    ],
                }
            )
    return results


# --- data between steps (plain JSON) -----------------------------------------------------


def _albums(data: list[Any]) -> tuple[Album, ...]:
    return tuple(Album.from_dict(item) for item in data)


def _validated_to_dict(validated: ValidatedAlbum) -> dict[str, Any]:
    return {
        **validated.album.to_dict(),
        "yearOriginal": validated.year_original,
        "yearValidated": validated.year_validated,
    }


def _price_results(data: list[Any]) -> list[AlbumPriceResult]:
    results = []
    for item in data:
        if "estimate" in item:
            results.append(
                AlbumPriceResult(
                    item["albumIndex"], estimate=PriceEstimate.from_dict(item["estimate"])
                )
            )
        else:
            results.append(
                AlbumPriceResult(
                    item["albumIndex"],
                    error=item["error"],
                    error_message=item["errorMessage"] or item["error"],
                )
            )
    return results


def _outcome(
    execution_id: str,
    status: str,
    *,
    accept: dict[str, Any] | None = None,
    albums: list[Any] | None = None,
    prices: list[Any] | None = None,
    timed_out: bool = False,
) -> dict[str, Any]:
    outcome: dict[str, Any] = {
        "executionId": execution_id,
        "workflowType": str(PATTERN),
        "status": str(status),
    }
    if accept is not None:
        outcome["reason"] = accept.get("reason")
        outcome["duplicateOf"] = accept.get("duplicateOf")
    if albums is not None:
        outcome["albums"] = albums
    if prices is not None:
        outcome["prices"] = prices
        outcome["validationTimedOut"] = timed_out
    result: dict[str, Any] = to_plain(outcome)
    return result
