"""Reviewer API: list pending validation tasks, submit corrections or reject.

Behind an HTTP endpoint: lists the pending tasks per pattern, accepts corrected years (and
names) or a rejection, records the answer on the task and resumes the paused workflow —
``SendTaskSuccess``/``SendTaskFailure`` for Step Functions, or
``SendDurableExecutionCallbackSuccess``/``Failure`` for the durable function.

Lambda handler string: ``validation_api.handler.handler``
(the zip holds ``validation_api/`` at its root).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext


def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Lambda entry point (placeholder until the human-validation issue lands).

    Raises
    ------
    NotImplementedError
        Always, until the step is implemented.
    """
    raise NotImplementedError("validation_api: implemented by the human-validation issue")
