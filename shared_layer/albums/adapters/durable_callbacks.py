"""Resume a paused durable execution: the reviewer's answer reaches ``wait_for_callback``.

:class:`CallbackResumer` is the one interface the validation side uses; the callback id
is the validation task's ``resumeToken``. :class:`LambdaCallbackResumer` is the AWS
implementation (``SendDurableExecutionCallbackSuccess``/``Failure``); local mode has one
over the testing runner (``localmode.durable.RunnerCallbackResumer``).

A success carries the decision as JSON (:meth:`albums.workflow.ValidationDecision.to_dict`),
which the orchestrator reads with ``JsonSerDes``; a failure carries the rejection as
``ErrorType`` :data:`albums.workflow.REJECTION_ERROR` and the reason as ``ErrorMessage``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final, Protocol

from botocore.exceptions import ClientError

from albums.domain.errors import InvalidRecordError, TaskNotPendingError, TransientError
from albums.domain.records import check_resume_token
from albums.workflow import DEFAULT_REJECTION_REASON, REJECTION_ERROR

#: Error codes meaning the callback is unknown, already answered or timed out.
GONE_CODES: Final = frozenset({"ResourceNotFoundException", "InvalidParameterValueException"})
TRANSIENT_CODES: Final = frozenset(
    {"TooManyRequestsException", "ServiceException", "ThrottlingException"}
)
#: The service's limits on a failure's fields.
MAX_ERROR_TYPE: Final = 256
MAX_ERROR_MESSAGE: Final = 2000


class CallbackResumer(Protocol):
    """Resumes a durable execution paused in ``wait_for_callback``."""

    def succeed(self, callback_id: str, result: Mapping[str, Any]) -> None:
        """Complete the callback with ``result`` (JSON).

        Raises
        ------
        TaskNotPendingError
            The callback is unknown, already completed or timed out.
        TransientError
            The service throttled or failed; retry.
        """

    def fail(self, callback_id: str, *, error: str, message: str) -> None:
        """Fail the callback with an error type and message (a rejection).

        Raises
        ------
        TaskNotPendingError, TransientError
            As for :meth:`succeed`.
        """


def encode_result(result: Mapping[str, Any]) -> bytes:
    """Return a callback result as the UTF-8 JSON bytes the service carries."""
    if not isinstance(result, Mapping):
        raise InvalidRecordError("a callback result must be a JSON object")
    return json.dumps(dict(result), separators=(",", ":"), sort_keys=True).encode("utf-8")


def failure_error(error: str = REJECTION_ERROR, message: str = "") -> dict[str, str]:
    """Return the ``ErrorObject`` of a callback failure, trimmed to the service's limits.

    A rejection without a reason carries the workflow's default one: the durable SDK would
    otherwise hand the workflow its own "Callback failed", where the state machine, told
    no cause, writes the default.
    """
    if not isinstance(error, str) or not error.strip():
        raise InvalidRecordError("a callback failure needs an error type")
    if not message.strip():
        message = DEFAULT_REJECTION_REASON if error.strip() == REJECTION_ERROR else error
    return {
        "ErrorType": error.strip()[:MAX_ERROR_TYPE],
        "ErrorMessage": message[:MAX_ERROR_MESSAGE],
    }


@dataclass(frozen=True, slots=True)
class LambdaCallbackResumer:
    """Resume executions through the Lambda API.

    Parameters
    ----------
    client
        A boto3 Lambda client (its role needs ``lambda:SendDurableExecutionCallbackSuccess``
        and ``...Failure`` on the orchestrator).
    """

    client: Any

    def succeed(self, callback_id: str, result: Mapping[str, Any]) -> None:
        """Send ``SendDurableExecutionCallbackSuccess`` with the JSON result."""
        payload = encode_result(result)
        with _callback_errors(callback_id):
            self.client.send_durable_execution_callback_success(
                CallbackId=check_resume_token(callback_id), Result=payload
            )

    def fail(self, callback_id: str, *, error: str, message: str) -> None:
        """Send ``SendDurableExecutionCallbackFailure`` with the error type and message."""
        body = failure_error(error, message)
        with _callback_errors(callback_id):
            self.client.send_durable_execution_callback_failure(
                CallbackId=check_resume_token(callback_id), Error=body
            )


@contextmanager
def _callback_errors(callback_id: str) -> Iterator[None]:
    """Translate the service's errors into the typed errors of :class:`CallbackResumer`."""
    label = f"callback {callback_id[:12]}..."
    try:
        yield
    except ClientError as error:
        details = error.response.get("Error", {})
        code = str(details.get("Code", ""))
        message = str(details.get("Message", ""))
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code in GONE_CODES:
            raise TaskNotPendingError(
                f"{label} is unknown, already answered or timed out ({code}: {message})"
            ) from error
        if code in TRANSIENT_CODES or (isinstance(status, int) and status >= 500):
            raise TransientError(f"resuming {label} failed transiently ({code})") from error
        raise
