"""The durable pattern in local mode: the real durable handler under the testing runner.

:class:`LocalDurable` runs the orchestrator's handler in
``aws-durable-execution-sdk-python-testing``'s ``DurableFunctionTestRunner`` (real
checkpoints, replays, callbacks, map and retries; ``skip_time=True`` skips retry
backoff, while callback timeouts stay real time, so the review timeout is short in
tests). Plugged into a :class:`~localmode.stack.LocalStack` it:

- creates the orchestrator function in moto's Lambda, and runs an Invoke of it as Lambda
  runs an Invoke of a durable function: it starts a durable execution;
- registers the EventBridge rule's target for the orchestrator alias, so
  :meth:`LocalStack.put_upload` starts an execution asynchronously, as EventBridge's
  asynchronous Lambda target does;
- resumes paused executions through :class:`RunnerCallbackResumer`, the local
  implementation of :class:`albums.adapters.durable_callbacks.CallbackResumer`;
- when an execution ends, counts its history with the same code as on AWS and records
  the figures on its execution record (and emits them as EMF).
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import IO, Any

from aws_durable_execution_sdk_python.execution import DurableExecutionInvocationInputWithClient
from aws_durable_execution_sdk_python.lambda_service import ErrorObject
from aws_durable_execution_sdk_python_testing.exceptions import (
    DurableFunctionsLocalRunnerError,
    DurableFunctionsTestError,
)
from aws_durable_execution_sdk_python_testing.runner import DurableFunctionTestRunner

from albums.adapters.durable_callbacks import encode_result, failure_error
from albums.adapters.durable_history import record_durable_metrics
from albums.adapters.repository import AlbumRepository
from albums.domain import keys
from albums.domain.durable_metering import DurableUsage, usage_from_history
from albums.domain.errors import TaskNotPendingError
from albums.domain.models import WorkflowType
from albums.domain.pricing import PriceSource
from albums.settings import Settings
from albums.workflow import REJECTION_ERROR
from localmode import aws_calls
from localmode.durable_scheduler import patient_scheduler
from localmode.stack import LocalStack
from orchestrator.config import OrchestratorConfig
from orchestrator.dependencies import Dependencies
from orchestrator.handler import ConfigFactory, DependenciesFactory, build_handler

PATTERN = WorkflowType.DURABLE_FUNCTIONS
#: The orchestrator function, as Terraform names it, and the alias EventBridge invokes.
FUNCTION_NAME = "album-orchestrator"
ALIAS = "live"
TARGET_NAME = "durable-orchestrator"

Handler = Callable[[Any, Any], Any]


class RunnerCallbackResumer:
    """Resume executions in the local runner (``send_callback_success``/``_failure``)."""

    def __init__(self, runner: DurableFunctionTestRunner) -> None:
        self._runner = runner

    def succeed(self, callback_id: str, result: Mapping[str, Any]) -> None:
        """Complete the callback with ``result`` (JSON)."""
        payload = encode_result(result)
        aws_calls.record(
            "lambda", "SendDurableExecutionCallbackSuccess", {"CallbackId": callback_id}
        )
        with _runner_errors(callback_id):
            self._runner.send_callback_success(callback_id, payload)

    def fail(self, callback_id: str, *, error: str = REJECTION_ERROR, message: str) -> None:
        """Fail the callback with an error type and message (a rejection)."""
        body = failure_error(error, message)
        aws_calls.record(
            "lambda", "SendDurableExecutionCallbackFailure", {"CallbackId": callback_id}
        )
        with _runner_errors(callback_id):
            self._runner.send_callback_failure(
                callback_id,
                ErrorObject(
                    message=body["ErrorMessage"],
                    type=body["ErrorType"],
                    data=None,
                    stack_trace=None,
                ),
            )


@contextmanager
def _runner_errors(callback_id: str) -> Iterator[None]:
    try:
        yield
    except (DurableFunctionsLocalRunnerError, DurableFunctionsTestError) as error:
        raise TaskNotPendingError(
            f"callback {callback_id[:12]}... is unknown, already answered or timed out: {error}"
        ) from error


@dataclass(frozen=True, slots=True)
class DurableRun:
    """An ended local durable execution.

    ``status`` is the durable execution's (``SUCCEEDED``/``FAILED``); ``result`` the
    handler's JSON result; ``error`` the error it failed with; ``usage`` its metering.
    """

    arn: str
    execution_id: str
    status: str
    result: Any
    error: Mapping[str, Any] | None
    usage: DurableUsage
    invocations: int


class _Meter:
    """Counts handler invocations and their durations per execution (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.durations_ms: dict[str, list[float]] = {}

    def add(self, arn: str, duration_ms: float) -> None:
        with self._lock:
            self.durations_ms.setdefault(arn, []).append(duration_ms)

    def of(self, arn: str) -> list[float]:
        with self._lock:
            return list(self.durations_ms.get(arn, []))


class LocalDurable:
    """The durable orchestrator running locally, optionally wired into a :class:`LocalStack`.

    Parameters
    ----------
    stack
        The local stack to plug into (function, rule target, repository for metrics);
        ``None`` runs the handler alone (tests with fakes).
    handler
        The durable handler; ``None`` builds the orchestrator's with ``dependencies`` and
        ``config``.
    dependencies
        Builds the collaborators per invocation; ``None`` reads the environment (the
        stack exports it).
    price_source
        Replaces the environment's price source (e.g. one with programmed faults).
    config
        ``None`` uses :meth:`OrchestratorConfig.local` with the stack's review timeout.
    repository
        Where figures are recorded when an execution ends (default: the stack's).
    wrap
        Wraps the handler the runner calls, e.g. to inject faults into its checkpoints.
    poll_interval
        The runner's polling interval in seconds.
    execution_timeout
        Longest an execution may run, in seconds (real time).
    metrics_stream
        Where EMF lines go (``None``: stdout).
    """

    def __init__(
        self,
        stack: LocalStack | None = None,
        *,
        handler: Handler | None = None,
        dependencies: DependenciesFactory | None = None,
        price_source: PriceSource | None = None,
        config: ConfigFactory | None = None,
        repository: AlbumRepository | None = None,
        wrap: Callable[[Handler], Handler] | None = None,
        poll_interval: float = 0.02,
        execution_timeout: int = 120,
        metrics_stream: IO[str] | None = None,
    ) -> None:
        self.stack = stack
        if config is None:
            timeout = stack.validation_timeout_seconds if stack is not None else 2
            config = lambda: OrchestratorConfig.local(timeout)  # noqa: E731 - a tiny factory
        if dependencies is None and price_source is not None:
            source = price_source

            def dependencies() -> Dependencies:
                base = Dependencies.from_settings(Settings.from_env())
                return dataclasses.replace(base, price_source=source)

        inner = handler or build_handler(dependencies, config)
        self._meter = _Meter()
        measured = self._measured(inner)
        self.handler: Handler = wrap(measured) if wrap is not None else measured
        self.repository = repository or (stack.repository(PATTERN) if stack else None)
        self.execution_timeout = execution_timeout
        self.metrics_stream = metrics_stream
        self.runner = DurableFunctionTestRunner(
            self.handler,
            poll_interval=poll_interval,
            execution_timeout=execution_timeout,
            skip_time=True,
        )
        patient_scheduler(self.runner)  # many starts at once (see its module)
        self.resumer = RunnerCallbackResumer(self.runner)
        self._lock = threading.Lock()
        self._started: list[str] = []
        self._count = 0

    # --- lifecycle -------------------------------------------------------------------

    def __enter__(self) -> LocalDurable:
        if self.stack is not None:
            self.stack.add_lambda(FUNCTION_NAME, self.invoke)
            self.stack.add_event_target(TARGET_NAME, self.deliver)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop the runner (its scheduler thread and pending timers)."""
        self.runner.close()  # type: ignore[no-untyped-call]

    def _measured(self, inner: Handler) -> Handler:
        def measured(event: Any, context: Any) -> Any:
            began = time.perf_counter()
            if isinstance(event, DurableExecutionInvocationInputWithClient):
                event = replace_service_client(event, RecordedServiceClient(event.service_client))
            try:
                return inner(event, context)
            finally:
                if isinstance(event, DurableExecutionInvocationInputWithClient):
                    elapsed = (time.perf_counter() - began) * 1000
                    self._meter.add(event.durable_execution_arn, elapsed)

        return measured

    # --- starting executions ---------------------------------------------------------

    def start(self, event: Any, *, name: str | None = None) -> str:
        """Start a durable execution with ``event`` as its input; return its ARN at once."""
        with self._lock:
            self._count += 1
            execution_name = name or f"{_event_id(event)}-{self._count}"
        arn = self.runner.run_async(
            input=json.dumps(event),
            execution_timeout=self.execution_timeout,
            function_name=f"{FUNCTION_NAME}:{ALIAS}",
            execution_name=execution_name,
        )
        with self._lock:
            self._started.append(arn)
        return arn

    def deliver(self, event: dict[str, Any]) -> None:
        """Start an execution for an upload event, asynchronously (the rule target)."""
        self.start(event)

    def invoke(self, event: Any, context: Any) -> dict[str, Any]:  # noqa: ARG002 - Lambda signature
        """Start an execution, as Lambda does for an Invoke of a durable function."""
        arn = self.start(event)
        return {"DurableExecutionArn": arn}

    @property
    def started(self) -> list[str]:
        """ARNs of every execution started, in order."""
        with self._lock:
            return list(self._started)

    # --- results -----------------------------------------------------------------------

    def history(self, arn: str) -> list[dict[str, Any]]:
        """Return the execution's history events as the API's dicts (execution data in)."""
        response = self.runner.get_execution_history(arn, include_execution_data=True)
        return [event.to_dict() for event in response.events]

    def wait(self, arn: str, timeout: float = 60, *, record: bool = True) -> DurableRun:
        """Wait for an execution to end; record its figures; return what it did.

        Raises
        ------
        TimeoutError
            When it has not ended within ``timeout`` seconds.
        """
        outcome = self.runner.wait_for_result(arn, timeout=int(max(1, timeout)))
        events = self.history(arn)
        usage = usage_from_history(events)
        if record and self.repository is not None:
            record_durable_metrics(
                self.repository,
                arn,
                events,
                durations_ms=self._meter.of(arn),
                stream=self.metrics_stream,
            )
        result = json.loads(outcome.result) if isinstance(outcome.result, str) else outcome.result
        error = outcome.error.to_dict() if outcome.error is not None else None
        return DurableRun(
            arn=arn,
            execution_id=keys.execution_id_for(PATTERN, arn),
            status=outcome.status.value
            if hasattr(outcome.status, "value")
            else str(outcome.status),
            result=result,
            error=error,
            usage=usage,
            invocations=len(self._meter.of(arn)),
        )

    def wait_suspended(self, arn: str, timeout: float = 30) -> None:
        """Wait until an invocation of the execution has ended (it paused, or it is done).

        A reviewer answering the moment the task exists can beat the pause: the SDK then
        finds the callback answered and runs on without suspending, so the execution has
        no replay. Tests that measure the paused run, as a person's answer makes it, wait
        for the suspension first.

        Raises
        ------
        TimeoutError
            When no invocation has ended within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        while not any(e["EventType"] == "InvocationCompleted" for e in self.history(arn)):
            if time.monotonic() > deadline:
                raise TimeoutError(f"execution {arn} never suspended within {timeout:g} s")
            time.sleep(0.01)

    def wait_for_task(self, execution_id: str, timeout: float = 30) -> str:
        """Wait until the execution's validation task exists; return its callback id."""
        if self.repository is None:
            raise RuntimeError("no repository to read the validation task from")
        task_id = keys.task_id_for(PATTERN, execution_id)
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.repository.get_task(task_id).resume_token
            except Exception:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.02)


def _event_id(event: Any) -> str:
    raw = event.get("id") if isinstance(event, dict) else None
    text = str(raw) if raw else "event"
    return "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in text)[:60]


class RecordedServiceClient:
    """The runner's checkpoint client, recording each call as the durable SDK's own.

    On AWS the SDK makes these calls with the function's role
    (``lambda:CheckpointDurableExecution``, ``lambda:GetDurableExecutionState``), from a
    thread of its own, so the principal is named rather than read from the stack.
    """

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def checkpoint(self, *args: Any, **kwargs: Any) -> Any:
        """Record, then checkpoint with the runner (the arguments pass through unchanged)."""
        self._record("CheckpointDurableExecution", args, kwargs)
        return self._inner.checkpoint(*args, **kwargs)

    def get_execution_state(self, *args: Any, **kwargs: Any) -> Any:
        """Record, then read the execution state from the runner."""
        self._record("GetDurableExecutionState", args, kwargs)
        return self._inner.get_execution_state(*args, **kwargs)

    @staticmethod
    def _record(operation: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        arn = kwargs.get("durable_execution_arn", args[0] if args else "")
        aws_calls.record(
            "lambda", operation, {"DurableExecutionArn": str(arn)}, principal=aws_calls.ORCHESTRATOR
        )

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def replace_service_client(
    event: DurableExecutionInvocationInputWithClient, client: Any
) -> DurableExecutionInvocationInputWithClient:
    """Return the invocation input with another service client (for fault injection)."""
    return dataclasses.replace(event, service_client=client)
