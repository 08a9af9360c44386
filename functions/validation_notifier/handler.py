"""Human-validation step: create the validation task and notify the reviewer.

Invoked by the state machine with ``.waitForTaskToken``: stores a pending validation task
(with the task token and ``expiresAt``) for the six albums and sends the reviewer a
notification. The execution then pauses without compute until ``validation_api`` answers or
the timeout moves it on with the original data.

Lambda handler string: ``validation_notifier.handler.handler``
(the zip holds ``validation_notifier/`` at its root).
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
    raise NotImplementedError("validation_notifier: implemented by the human-validation issue")
