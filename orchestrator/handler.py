"""The durable function: the album-registration workflow as one durable handler.

Wrapped with ``@durable_execution`` from ``aws-durable-execution-sdk-python``, it runs the
same steps as the state machine — accept, process image, store initial data, wait for the
reviewer with ``wait_for_callback`` (timeout continues with the original data), apply the
validated data, estimate six prices with ``map`` (``CompletionConfig.all_completed()``,
so one failure does not stop the others), store final results — each a named,
checkpointed step with an explicit retry strategy (:mod:`orchestrator.flow`). Data lives
under the ``ldf#`` tenant.

Lambda handler string: ``orchestrator.handler.handler`` (invoked through a version or alias).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_durable_execution_sdk_python import DurableContext, durable_execution

from albums.settings import Settings
from orchestrator.config import OrchestratorConfig
from orchestrator.dependencies import Dependencies
from orchestrator.flow import run_workflow

DependenciesFactory = Callable[[], Dependencies]
ConfigFactory = Callable[[], OrchestratorConfig]


def _from_environment() -> tuple[Dependencies, OrchestratorConfig]:
    settings = Settings.from_env()
    return Dependencies.from_settings(settings), OrchestratorConfig.from_settings(settings)


def build_handler(
    dependencies: DependenciesFactory | None = None,
    config: ConfigFactory | None = None,
) -> Callable[[Any, Any], Any]:
    """Return a durable Lambda handler running the workflow.

    Parameters
    ----------
    dependencies
        Builds the collaborators on each invocation; ``None`` reads the environment.
    config
        Builds the configuration on each invocation; ``None`` reads the environment.

    Returns
    -------
    Callable
        ``handler(event, lambda_context)`` as the Lambda runtime (or the durable testing
        runner) calls it.
    """

    @durable_execution
    def durable_handler(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
        if dependencies is None or config is None:
            deps, settings_config = _from_environment()
        deps = dependencies() if dependencies is not None else deps
        conf = config() if config is not None else settings_config
        return run_workflow(event, context, deps, conf)

    return durable_handler


_DURABLE_HANDLER = build_handler()


def handler(event: Any, context: Any) -> Any:
    """Lambda entry point: the durable workflow with collaborators from the environment.

    Parameters
    ----------
    event
        The durable invocation input the service sends (it carries the EventBridge event
        as the execution's input).
    context
        The Lambda context.

    Returns
    -------
    dict
        The durable invocation output (``Status`` and, when ended, ``Result``/``Error``).
    """
    return _DURABLE_HANDLER(event, context)
