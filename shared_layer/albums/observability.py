"""Powertools logging, metrics and tracing, set up once and safe for concurrent executions.

Local mode runs both patterns in one process, in several threads at once. Three choices
follow from that:

- **Log context** lives in a :class:`contextvars.ContextVar` of our own, set and reset
  with a token by :func:`execution_context`, and copied onto each record by a logging
  filter. Powertools' ``append_keys`` is shared by every thread, and its
  ``thread_safe_remove_keys`` mutates the context's dict in place (a dict that copied
  contexts share) and drops outer values of nested contexts; a token reset has neither
  problem.
- **Metrics** use a fresh ``EphemeralMetrics`` per emission. ``Metrics`` keeps its metric
  set in class attributes shared by every instance, so two namespaces in one process
  would mix their metrics and dimensions.
- **Durable functions** run steps and map branches in worker threads that do not inherit
  context variables, so the durable orchestrator binds the ids to the logger itself with
  :func:`durable_logger` (see its docstring for the wiring).

Nothing here calls AWS at import time; the tracer is created on first use.
"""

from __future__ import annotations

import contextvars
import functools
import json
import logging
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType
from typing import IO, Any, Protocol

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

from albums.domain.errors import AlbumRegistrationError
from albums.domain.models import ExecutionMetrics, ExecutionStatus, WorkflowType

#: Powertools service name: the ``service`` key of every log line and metric dimension.
SERVICE = "album-registration"
#: CloudWatch metric namespace of each pattern (kept apart so the dashboards compare them).
NAMESPACES: Mapping[WorkflowType, str] = MappingProxyType(
    {
        WorkflowType.STEP_FUNCTIONS: "AlbumRegistration/StepFunctions",
        WorkflowType.DURABLE_FUNCTIONS: "AlbumRegistration/DurableFunctions",
    }
)
#: The count metric emitted once per ended execution, by terminal status.
STATUS_METRICS: Mapping[ExecutionStatus, str] = MappingProxyType(
    {
        ExecutionStatus.COMPLETED: "ExecutionsCompleted",
        ExecutionStatus.COMPLETED_WITH_ERRORS: "ExecutionsCompletedWithErrors",
        ExecutionStatus.REJECTED: "ExecutionsRejected",
        ExecutionStatus.FAILED: "ExecutionsFailed",
        ExecutionStatus.DUPLICATE: "ExecutionsDuplicate",
    }
)

_EMPTY: Mapping[str, str] = MappingProxyType({})


def metrics_namespace(workflow_type: WorkflowType | str) -> str:
    """Return the CloudWatch namespace of ``workflow_type``'s metrics."""
    return NAMESPACES[WorkflowType(workflow_type)]


# --- logging ---------------------------------------------------------------------------

#: The execution keys bound in the current thread/context (never mutated, only replaced).
_LOG_CONTEXT: contextvars.ContextVar[Mapping[str, str]] = contextvars.ContextVar(
    "albums_log_context", default=_EMPTY
)


class _ContextFilter(logging.Filter):
    """Copy the current execution context onto each record (Powertools logs the extras)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in _LOG_CONTEXT.get().items():
            # A value passed explicitly (``extra=``) wins over the ambient context.
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


_CONTEXT_FILTER = _ContextFilter()
_FILTER_LOCK = threading.Lock()
_LOGGER = Logger(service=SERVICE)


def get_logger() -> Logger:
    """Return the process-wide Powertools logger (service ``album-registration``).

    The execution-context filter is already installed on it.
    """
    _install_context_filter(_LOGGER)
    return _LOGGER


def _install_context_filter(logger: Logger) -> None:
    handler = logger.registered_handler
    with _FILTER_LOCK:
        if _CONTEXT_FILTER not in handler.filters:
            handler.addFilter(_CONTEXT_FILTER)


def current_log_context() -> Mapping[str, str]:
    """Return the keys :func:`execution_context` has bound in this thread/context."""
    return _LOG_CONTEXT.get()


@contextmanager
def execution_context(
    logger: Logger, execution_id: str, workflow_type: WorkflowType | str
) -> Iterator[Mapping[str, str]]:
    """Put ``executionId`` and ``workflowType`` on every line ``logger`` writes meanwhile.

    The keys are bound to the current thread's context only (a ``ContextVar``), so
    executions logging at the same time in other threads never see them, and they are
    restored exactly on exit, nested contexts included. A new thread does not inherit
    them: run its work with ``contextvars.copy_context().run`` or bind a logger with
    :func:`durable_logger`.

    Parameters
    ----------
    logger
        A Powertools logger (the filter is installed on its handler once).
    execution_id
        The execution's id.
    workflow_type
        ``step-functions`` or ``durable-functions``.

    Yields
    ------
    Mapping[str, str]
        The keys now bound.
    """
    if not isinstance(execution_id, str) or not execution_id.strip():
        raise ValueError("execution_id must be a non-empty string")
    _install_context_filter(logger)
    keys = MappingProxyType(
        {
            **_LOG_CONTEXT.get(),
            "executionId": execution_id,
            "workflowType": str(WorkflowType(workflow_type)),
        }
    )
    token = _LOG_CONTEXT.set(keys)
    try:
        yield keys
    finally:
        _LOG_CONTEXT.reset(token)


class SupportsErrorLogging(Protocol):
    """What :func:`log_error` needs: Powertools' logger and the durable SDK's both fit."""

    def error(self, msg: object, *args: object, extra: Mapping[str, object] | None = None) -> None:
        """Log ``msg`` at error level with ``extra`` keys."""
        ...  # pragma: no cover


def log_error(
    logger: SupportsErrorLogging,
    error: BaseException,
    *,
    step: str,
    execution_id: str,
    workflow_type: WorkflowType | str,
) -> dict[str, str]:
    """Log an error with its name, message, the step and the execution context.

    Parameters
    ----------
    logger
        A Powertools logger (the traceback is included) or any logger with
        ``error(msg, extra=...)`` such as the durable SDK's ``context.logger``.
    error
        The exception.
    step
        The workflow step it happened in (e.g. ``ProcessImage``).
    execution_id, workflow_type
        The execution it belongs to.

    Returns
    -------
    dict[str, str]
        The structured fields logged: ``errorName``, ``errorMessage``, ``errorCode``
        (for our typed errors), ``step``, ``executionId``, ``workflowType``.
    """
    message = error.message if isinstance(error, AlbumRegistrationError) else str(error)
    fields = {
        "errorName": type(error).__name__,
        "errorMessage": message[:4000],
        "step": step,
        "executionId": execution_id,
        "workflowType": str(WorkflowType(workflow_type)),
    }
    if isinstance(error, AlbumRegistrationError):
        fields["errorCode"] = error.code
    text = f"{fields['errorName']} in {step}: {fields['errorMessage']}"
    if isinstance(logger, Logger):
        exc_info = (type(error), error, error.__traceback__) if error.__traceback__ else None
        logger.error(text, extra=fields, exc_info=exc_info, stacklevel=3)
    else:
        logger.error(text, extra=fields)
    return fields


@dataclass(frozen=True, slots=True)
class BoundLogger:
    """A logger that adds fixed keys to every line; fits the durable SDK's ``LoggerInterface``.

    ``stacklevel`` makes Powertools' ``location`` name the user's code when the calls come
    through the durable SDK's ``Logger`` wrapper (two frames) and this class (one frame).
    """

    logger: Logger
    keys: Mapping[str, object] = field(default_factory=dict)
    stacklevel: int = 5

    def _extra(self, extra: Mapping[str, object] | None) -> dict[str, object]:
        return {**self.keys, **(extra or {})}

    def debug(self, msg: object, *args: object, extra: Mapping[str, object] | None = None) -> None:
        """Log at debug level."""
        self.logger.debug(msg, *args, extra=self._extra(extra), stacklevel=self.stacklevel)

    def info(self, msg: object, *args: object, extra: Mapping[str, object] | None = None) -> None:
        """Log at info level."""
        self.logger.info(msg, *args, extra=self._extra(extra), stacklevel=self.stacklevel)

    def warning(
        self, msg: object, *args: object, extra: Mapping[str, object] | None = None
    ) -> None:
        """Log at warning level."""
        self.logger.warning(msg, *args, extra=self._extra(extra), stacklevel=self.stacklevel)

    def error(self, msg: object, *args: object, extra: Mapping[str, object] | None = None) -> None:
        """Log at error level."""
        self.logger.error(msg, *args, extra=self._extra(extra), stacklevel=self.stacklevel)

    def exception(
        self, msg: object, *args: object, extra: Mapping[str, object] | None = None
    ) -> None:
        """Log at error level with the current exception's traceback."""
        self.logger.exception(msg, *args, extra=self._extra(extra), stacklevel=self.stacklevel)


def durable_logger(
    base: Logger | None = None,
    *,
    execution_id: str,
    workflow_type: WorkflowType | str = WorkflowType.DURABLE_FUNCTIONS,
) -> BoundLogger:
    """Return a logger for the durable SDK that stamps every line with the execution ids.

    The durable SDK wraps whatever logger it is given (``DurableContext.set_logger``) in
    its own ``Logger``, which adds ``executionArn``, ``operationName``, ``operationId``,
    ``attempt`` and suppresses lines during replay; child contexts (map and parallel
    branches, ``run_in_child_context``) inherit it. Steps and branches run in worker
    threads that do not inherit context variables, so :func:`execution_context` cannot
    reach them: the ids travel with the logger instead. Wire it first thing in the
    handler, before any operation creates a child context::

        @durable_execution
        def handler(event: dict, context: DurableContext) -> dict:
            execution_id = ...
            context.set_logger(durable_logger(get_logger(), execution_id=execution_id))
            context.logger.info("started")            # has executionId, workflowType
            context.step(process_image(...), name="ProcessImage")
            # inside a @durable_step: step_context.logger.info(...) has them too

    Parameters
    ----------
    base
        The Powertools logger to write to; ``None`` uses :func:`get_logger`.
    execution_id
        The execution's id.
    workflow_type
        Defaults to ``durable-functions``.
    """
    if not isinstance(execution_id, str) or not execution_id.strip():
        raise ValueError("execution_id must be a non-empty string")
    logger = base if base is not None else get_logger()
    keys = MappingProxyType(
        {"executionId": execution_id, "workflowType": str(WorkflowType(workflow_type))}
    )
    return BoundLogger(logger=logger, keys=keys)


# --- metrics ---------------------------------------------------------------------------


def emit_execution_metrics(
    workflow_type: WorkflowType | str,
    status: ExecutionStatus | str,
    metrics: ExecutionMetrics,
    *,
    execution_id: str | None = None,
    stream: IO[str] | None = None,
) -> dict[str, Any] | None:
    """Write one CloudWatch EMF document with an ended execution's metrics.

    Namespace :func:`metrics_namespace` of the pattern; dimensions ``workflowType`` and
    ``service``. Metrics:

    - ``ExecutionsEnded`` (Count 1) and the status's count (Count 1):
      ``ExecutionsCompleted``, ``ExecutionsCompletedWithErrors``, ``ExecutionsRejected``,
      ``ExecutionsFailed`` or ``ExecutionsDuplicate``;
    - ``ExecutionDuration`` (Milliseconds);
    - ``StateTransitions`` / ``DurableOperations`` / ``Replays`` (Count) when measured;
    - ``LambdaGBSeconds`` (unit None) when measured;
    - ``CostPerWorkflowUSD``: the estimated cost in US dollars (unit None, since CloudWatch
      has no currency unit), when measured;
    - each ``metrics.extra`` entry as a Count.

    ``executionId`` goes in as metadata (searchable in the log line, not a dimension).

    Parameters
    ----------
    workflow_type
        The pattern whose namespace receives the metrics.
    status
        The terminal status the execution ended in.
    metrics
        The measured figures.
    execution_id
        Recorded as metadata when given.
    stream
        Where to write the EMF line; ``None`` writes to ``sys.stdout`` (Lambda ships
        stdout to CloudWatch Logs, which extracts the metrics).

    Returns
    -------
    dict | None
        The EMF document written, or ``None`` when ``POWERTOOLS_METRICS_DISABLED`` is set.
    """
    pattern = WorkflowType(workflow_type)
    ended = ExecutionStatus(status)
    if not ended.is_terminal:
        raise ValueError(f"metrics are emitted for ended executions, not {ended}")
    if not isinstance(metrics, ExecutionMetrics):
        raise TypeError("metrics must be an ExecutionMetrics")
    # A fresh provider per emission: no state shared with other threads or namespaces.
    emf = EphemeralMetrics(namespace=metrics_namespace(pattern), service=SERVICE)
    emf.add_dimension(name="workflowType", value=str(pattern))
    emf.add_metric(name="ExecutionsEnded", unit=MetricUnit.Count, value=1)
    emf.add_metric(name=STATUS_METRICS[ended], unit=MetricUnit.Count, value=1)
    emf.add_metric(
        name="ExecutionDuration", unit=MetricUnit.Milliseconds, value=metrics.duration_ms
    )
    counts = {
        "StateTransitions": metrics.transitions,
        "DurableOperations": metrics.durable_operations,
        "Replays": metrics.replays,
    }
    for name, count in counts.items():
        if count is not None:
            emf.add_metric(name=name, unit=MetricUnit.Count, value=count)
    if metrics.lambda_gb_seconds is not None:
        emf.add_metric(
            name="LambdaGBSeconds", unit=MetricUnit.NoUnit, value=float(metrics.lambda_gb_seconds)
        )
    if metrics.cost_usd is not None:
        emf.add_metric(
            name="CostPerWorkflowUSD", unit=MetricUnit.NoUnit, value=float(metrics.cost_usd)
        )
    for name, count in sorted(metrics.extra.items()):
        emf.add_metric(name=name, unit=MetricUnit.Count, value=count)
    if execution_id is not None:
        emf.add_metadata(key="executionId", value=execution_id)
    if is_metrics_disabled():
        return None
    document = dict(emf.serialize_metric_set())
    out = stream if stream is not None else sys.stdout
    out.write(json.dumps(document, separators=(",", ":"), default=_json_default) + "\n")
    out.flush()
    return document


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


# --- tracing ---------------------------------------------------------------------------


@functools.cache
def get_tracer() -> Tracer:
    """Return the process-wide Powertools tracer (created on first use).

    Disabled when ``POWERTOOLS_TRACE_DISABLED=true`` (tests, local mode) or outside Lambda.
    """
    return Tracer(service=SERVICE)
