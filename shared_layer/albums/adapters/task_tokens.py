"""Resume a paused Step Functions execution: the reviewer's answer reaches its task token.

:class:`TaskTokenResumer` is the Step Functions side of
:class:`albums.review.WorkflowResumer`: ``SendTaskSuccess`` with the decision as the
task's output, or ``SendTaskFailure`` with :data:`albums.workflow.REJECTION_ERROR` and
the reason as ``cause`` (the state machine's ``Catch`` ends the execution ``rejected``).
The token is the validation task's stored ``resumeToken``; it never leaves the backend.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final

from botocore.exceptions import ClientError

from albums.domain.errors import InvalidRecordError, TaskNotPendingError, TransientError
from albums.domain.records import check_resume_token

#: Error codes meaning the token is unknown, answered already, or its wait timed out.
GONE_CODES: Final = frozenset({"TaskDoesNotExist", "TaskTimedOut", "InvalidToken"})
TRANSIENT_CODES: Final = frozenset(
    {"ThrottlingException", "ServiceUnavailable", "InternalServerError", "RequestTimeout"}
)
#: The service's limits on a failure's fields.
MAX_ERROR: Final = 256
MAX_CAUSE: Final = 32768


@dataclass(frozen=True, slots=True)
class TaskTokenResumer:
    """Answer task tokens through the Step Functions API.

    Parameters
    ----------
    client
        A boto3 Step Functions client (its role needs ``states:SendTaskSuccess`` and
        ``states:SendTaskFailure`` on the state machine).
    """

    client: Any

    def succeed(self, callback_id: str, result: Mapping[str, Any]) -> None:
        """Send ``SendTaskSuccess`` with ``result`` as the task's JSON output."""
        if not isinstance(result, Mapping):
            raise InvalidRecordError("a task output must be a JSON object")
        output = json.dumps(dict(result), separators=(",", ":"), sort_keys=True)
        with _task_errors():
            self.client.send_task_success(taskToken=check_resume_token(callback_id), output=output)

    def fail(self, callback_id: str, *, error: str, message: str) -> None:
        """Send ``SendTaskFailure`` with an error name and ``message`` as the cause."""
        if not isinstance(error, str) or not error.strip():
            raise InvalidRecordError("a task failure needs an error name")
        with _task_errors():
            self.client.send_task_failure(
                taskToken=check_resume_token(callback_id),
                error=error.strip()[:MAX_ERROR],
                cause=(message or error)[:MAX_CAUSE],
            )


@contextmanager
def _task_errors() -> Iterator[None]:
    """Translate the service's errors into the typed errors of a resumer."""
    try:
        yield
    except ClientError as error:
        details = error.response.get("Error", {})
        code = str(details.get("Code", ""))
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code in GONE_CODES:
            raise TaskNotPendingError(
                f"the execution no longer waits for this task ({code})"
            ) from error
        if code in TRANSIENT_CODES or (isinstance(status, int) and status >= 500):
            raise TransientError(f"answering the task token failed transiently ({code})") from error
        raise
