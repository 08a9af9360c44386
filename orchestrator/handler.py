"""The durable function: the album-registration workflow as one durable handler.

Wrapped with ``@durable_execution`` from ``aws-durable-execution-sdk-python``, it runs the
same steps as the state machine — process image, store initial data, wait for the reviewer
with ``wait_for_callback`` (timeout continues with the original data), update validated
data, estimate six prices with ``map`` (``CompletionConfig.all_completed()``, so one failure
does not stop the others), store final results — each a named, checkpointed step with an
explicit retry strategy. Data lives under the ``ldf#`` tenant.

Lambda handler string: ``orchestrator.handler.handler`` (invoked through a version or alias).
"""

from __future__ import annotations

from typing import Any


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point (placeholder until the durable-workflow issue lands).

    ``context`` will be the SDK's ``DurableContext`` once the decorator is applied.

    Raises
    ------
    NotImplementedError
        Always, until the workflow is implemented.
    """
    raise NotImplementedError("orchestrator: implemented by the durable-workflow issue")
