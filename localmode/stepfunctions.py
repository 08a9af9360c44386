"""The Step Functions pattern in local mode: the real ASL, executed by moto, end to end.

:class:`StepFunctionsPattern` adds the pattern to a :class:`localmode.stack.LocalStack`:

- registers the pattern's Lambdas (the real handlers of ``functions/``) so moto's
  invocations run them in this process;
- renders ``state_machine/album_registration.asl.json.tftpl`` with
  :mod:`localmode.templatefile` (the same rules as Terraform's ``templatefile()``) and
  creates the Standard state machine;
- adds the EventBridge rule target (moto drops Step Functions targets) that starts one
  execution per delivered upload event, as EventBridge does;
- records each ended execution's transitions and duration with the same code as the
  ``execution_recorder`` Lambda;
- patches three moto 5.2.x internals while active, each with a smoke test in
  ``tests/unit/test_localmode_stepfunctions.py``: the ``Retry`` backoff sleep
  (``retrier_decl.time``; scaled, zero by default), ``SendTaskFailure`` (moto drops
  ``cause``; the reviewer's reason must reach the ``Catch``) and the heartbeat wait of
  ``.waitForTaskToken`` (an answer sent before moto starts waiting was ignored);
- evaluates JSONata (``"QueryLanguage": "JSONata"``) while active with
  :func:`localmode.jsonata_engine.jsonata_engine`, whose moto patches are smoke-tested in
  ``tests/unit/test_localmode_jsonata.py``;
- on exit stops every execution still running and waits for moto's worker threads, so
  no thread outlives the mock.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from types import TracebackType
from typing import Any, Final

from albums.adapters.stepfunctions import execution_history
from albums.domain import keys
from albums.domain.cost import count_state_transitions
from albums.domain.models import AlbumCorrection, TaskStatus, WorkflowType
from albums.domain.records import ValidationTask
from albums.workflow import REJECTION_ERROR, ValidationDecision
from albums.workflow_contract import asl_retry_variables
from localmode.jsonata_engine import jsonata_engine
from localmode.pricing import ProgrammablePriceSource
from localmode.stack import ACCOUNT, DEFAULT_TABLE_NAME, DEFAULT_UPLOADS_BUCKET, REGION, LocalStack
from localmode.templatefile import STATE_MACHINE_TEMPLATE, TemplateValue, render_file

PATTERN: Final = WorkflowType.STEP_FUNCTIONS
STATE_MACHINE_NAME: Final = "album-registration-local"
EVENT_TARGET: Final = "step-functions"
_ROLE_ARN: Final = f"arn:aws:iam::{ACCOUNT}:role/album-registration-states-local"
_POLL_SECONDS: Final = 0.02
LOGGER = logging.getLogger(__name__)

#: Template variable of each Lambda's ARN, by function name: the three steps where code
#: must run. Every table write is a direct DynamoDB integration of the state machine.
FUNCTION_VARIABLES: Final[Mapping[str, str]] = {
    "image_processor": "image_processor_arn",
    "validation_notifier": "validation_notifier_arn",
    "price_estimator": "price_estimator_arn",
}


#: The state machine's ``TimeoutSeconds`` when none is given: the deployed default
#: (``execution_timeout_seconds`` of the Terraform module, which the durable function's
#: ``durable_config.execution_timeout`` takes too).
DEFAULT_EXECUTION_TIMEOUT_SECONDS: Final = 86400
#: The longest execution both patterns allow: one year, Step Functions Standard's limit
#: (durable ``execution_timeout`` allows up to 366 days, 31622400 s).
MAX_EXECUTION_TIMEOUT_SECONDS: Final = 31536000


def template_variables(
    function_arns: Mapping[str, str],
    *,
    timeout_seconds: int,
    heartbeat_seconds: int | None = None,
    execution_timeout_seconds: int = DEFAULT_EXECUTION_TIMEOUT_SECONDS,
    table_name: str = DEFAULT_TABLE_NAME,
    uploads_bucket: str = DEFAULT_UPLOADS_BUCKET,
) -> dict[str, TemplateValue]:
    """Return every variable of the ASL template (what Terraform passes too).

    ``heartbeat_seconds`` ``None`` (the default, as in Terraform) renders no
    ``HeartbeatSeconds``: nothing sends heartbeats, so only ``TimeoutSeconds`` ends the
    review wait. ``execution_timeout_seconds`` is the definition's top-level
    ``TimeoutSeconds``. ``table_name`` is the table the direct integrations write,
    ``uploads_bucket`` the only bucket the accept rules take uploads from. The retry
    policies come from the workflow contract (:func:`albums.workflow_contract.asl_retry_variables`),
    as Terraform reads them from the same file.
    """
    missing = set(FUNCTION_VARIABLES) - set(function_arns)
    if missing:
        raise ValueError(f"missing function ARNs: {', '.join(sorted(missing))}")
    # The ASL spec (and moto, and AWS) want the heartbeat strictly inside the timeout.
    if heartbeat_seconds is not None and not 1 <= heartbeat_seconds < timeout_seconds:
        raise ValueError("heartbeat_seconds must be at least 1 and below timeout_seconds")
    if not timeout_seconds < execution_timeout_seconds <= MAX_EXECUTION_TIMEOUT_SECONDS:
        raise ValueError(
            "execution_timeout_seconds must be above timeout_seconds (the review wait ends "
            f"before the execution does) and at most {MAX_EXECUTION_TIMEOUT_SECONDS}"
        )
    variables: dict[str, TemplateValue] = {
        FUNCTION_VARIABLES[name]: arn for name, arn in function_arns.items()
    }
    variables["validation_timeout_seconds"] = timeout_seconds
    variables["validation_heartbeat_seconds"] = heartbeat_seconds
    variables["execution_timeout_seconds"] = execution_timeout_seconds
    variables["table_name"] = table_name
    variables["uploads_bucket"] = uploads_bucket
    variables.update(asl_retry_variables())
    return variables


def render_definition(
    function_arns: Mapping[str, str],
    *,
    timeout_seconds: int,
    heartbeat_seconds: int | None = None,
    execution_timeout_seconds: int = DEFAULT_EXECUTION_TIMEOUT_SECONDS,
    table_name: str = DEFAULT_TABLE_NAME,
    uploads_bucket: str = DEFAULT_UPLOADS_BUCKET,
) -> str:
    """Render the state machine definition for these functions, timeouts and resources."""
    return render_file(
        STATE_MACHINE_TEMPLATE,
        template_variables(
            function_arns,
            timeout_seconds=timeout_seconds,
            heartbeat_seconds=heartbeat_seconds,
            execution_timeout_seconds=execution_timeout_seconds,
            table_name=table_name,
            uploads_bucket=uploads_bucket,
        ),
    )


# --- moto patches ------------------------------------------------------------------------


class _ScaledTime:
    """Stands in for the ``time`` module inside moto's retrier: ``sleep`` is scaled."""

    def __init__(self, scale: float) -> None:
        self.scale = scale
        self.requested: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.requested.append(seconds)
        if self.scale > 0:
            time.sleep(seconds * self.scale)

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


@contextmanager
def scaled_retry_sleep(scale: float = 0.0) -> Iterator[_ScaledTime]:
    """Scale the backoff sleeps of ASL ``Retry`` (moto 5.2.x ``retrier_decl.time.sleep``).

    Yields the stand-in, whose ``requested`` lists every backoff the ASL asked for.
    """
    if scale < 0:
        raise ValueError("scale must not be negative")
    from moto.stepfunctions.parser.asl.component.common.retry import (  # noqa: PLC0415
        retrier_decl,
    )

    module: Any = retrier_decl  # the patched attribute is the module's ``time`` import
    original = module.time
    shim = _ScaledTime(scale)
    module.time = shim
    try:
        yield shim
    finally:
        module.time = original


@contextmanager
def send_task_failure_keeps_cause() -> Iterator[None]:
    """Make moto's ``SendTaskFailure`` pass ``cause`` on (moto 5.2.5 drops it)."""
    from moto.stepfunctions.responses import StepFunctionResponse  # noqa: PLC0415

    original = StepFunctionResponse.send_task_failure

    def send_task_failure(self: Any) -> Any:
        from moto.core.responses import EmptyResult  # noqa: PLC0415

        self.stepfunction_backend.send_task_failure(
            self._get_param("taskToken"),
            error=self._get_param("error"),
            cause=self._get_param("cause"),
        )
        return EmptyResult()

    StepFunctionResponse.send_task_failure = send_task_failure  # type: ignore[method-assign]
    try:
        yield
    finally:
        StepFunctionResponse.send_task_failure = original  # type: ignore[method-assign]


@contextmanager
def early_answers_kept() -> Iterator[None]:
    """Keep a task token answer that arrives before moto starts waiting for it.

    The validation task is stored (and can be answered) while the notifier Lambda still
    runs; moto sets up the heartbeat wait only after the Lambda returns, and then waits
    for a heartbeat that never comes, ignoring the answer it already holds (moto 5.2.x
    ``CallbackEndpoint.setup_heartbeat_endpoint``). The patch wakes the new heartbeat
    wait at once when an answer is already there, as AWS would resume at once.
    """
    from moto.stepfunctions.parser.asl.eval.callback.callback import (  # noqa: PLC0415
        CallbackEndpoint,
    )

    original = CallbackEndpoint.setup_heartbeat_endpoint

    def setup_heartbeat_endpoint(self: Any, heartbeat_seconds: int) -> Any:
        endpoint: Any = original(self, heartbeat_seconds)
        # notify() sets the outcome then reads the endpoint; this reads the outcome after
        # setting the endpoint: one of the two always sees the other.
        if self.get_outcome() is not None:
            endpoint.notify()
        return endpoint

    CallbackEndpoint.setup_heartbeat_endpoint = setup_heartbeat_endpoint  # type: ignore[method-assign]
    try:
        yield
    finally:
        CallbackEndpoint.setup_heartbeat_endpoint = original  # type: ignore[method-assign]


# --- the pattern -----------------------------------------------------------------------


class ExecutionEndedError(RuntimeError):
    """The execution ended (or did not pause) where the caller waited for a validation."""


class StepFunctionsPattern:
    """The Step Functions pattern on a :class:`LocalStack` (use as a context manager).

    Parameters
    ----------
    stack
        An entered local stack.
    validation_timeout_seconds
        The template's ``TimeoutSeconds`` of WaitForValidation (default: the stack's).
    validation_heartbeat_seconds
        Its ``HeartbeatSeconds``; ``None`` (the default, as deployed) renders none: nobody
        sends heartbeats, so only the timeout ends the wait.
    execution_timeout_seconds
        The definition's top-level ``TimeoutSeconds`` (default: the deployed default,
        :data:`DEFAULT_EXECUTION_TIMEOUT_SECONDS`).
    retry_sleep_scale
        Factor applied to ASL ``Retry`` backoff sleeps (0: no waiting).
    prices
        The price source the price estimator uses (a programmable one by default).
    record_on_end
        Record transitions and duration when :meth:`wait_for_end` sees an end.
    """

    def __init__(
        self,
        stack: LocalStack,
        *,
        validation_timeout_seconds: int | None = None,
        validation_heartbeat_seconds: int | None = None,
        execution_timeout_seconds: int = DEFAULT_EXECUTION_TIMEOUT_SECONDS,
        retry_sleep_scale: float = 0.0,
        prices: ProgrammablePriceSource | None = None,
        record_on_end: bool = True,
    ) -> None:
        self.stack = stack
        self.timeout_seconds = validation_timeout_seconds or stack.validation_timeout_seconds
        self.heartbeat_seconds = validation_heartbeat_seconds
        self.execution_timeout_seconds = execution_timeout_seconds
        self.retry_sleep_scale = retry_sleep_scale
        self.prices = prices or ProgrammablePriceSource()
        self.record_on_end = record_on_end
        self.state_machine_arn = ""
        self.definition = ""
        self.function_arns: dict[str, str] = {}
        self.started: list[str] = []
        self.recorded: dict[str, dict[str, Any]] = {}
        self.retry_sleeps: _ScaledTime | None = None
        self._notified: dict[str, threading.Event] = {}
        self._notified_lock = threading.Lock()
        self._exit = ExitStack()

    # --- lifecycle -------------------------------------------------------------------

    def __enter__(self) -> StepFunctionsPattern:
        try:
            self.retry_sleeps = self._exit.enter_context(scaled_retry_sleep(self.retry_sleep_scale))
            self._exit.enter_context(send_task_failure_keeps_cause())
            self._exit.enter_context(early_answers_kept())
            self._exit.enter_context(jsonata_engine())
            self._exit.callback(self.stop_all)
            self._install()
        except BaseException:
            self._exit.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._exit.close()

    def _handlers(self) -> dict[str, Callable[[Any, Any], Any]]:
        # Imported here: function folders are on the path in tests and local mode only.
        from image_processor import handler as image_processor  # noqa: PLC0415
        from price_estimator import handler as price_estimator  # noqa: PLC0415
        from validation_notifier import handler as validation_notifier  # noqa: PLC0415

        prices = self.prices
        return {
            "image_processor": image_processor.handler,
            "validation_notifier": self._notifier(validation_notifier.handler),
            "price_estimator": lambda event, _context: price_estimator.estimate(event, prices),
        }

    def _install(self) -> None:
        for name, handler in self._handlers().items():
            self.function_arns[name] = self.stack.add_lambda(f"sf-{name}", handler)
        self.definition = render_definition(
            self.function_arns,
            timeout_seconds=self.timeout_seconds,
            heartbeat_seconds=self.heartbeat_seconds,
            execution_timeout_seconds=self.execution_timeout_seconds,
            table_name=self.stack.table_name,
            uploads_bucket=self.stack.bucket,
        )
        created = self.stack.stepfunctions.create_state_machine(
            name=STATE_MACHINE_NAME,
            definition=self.definition,
            roleArn=_ROLE_ARN,
            type="STANDARD",
        )
        self.state_machine_arn = str(created["stateMachineArn"])
        self.stack.add_event_target(EVENT_TARGET, self._on_upload_event)

    def _on_upload_event(self, event: dict[str, Any]) -> None:
        self.start(event)

    # --- executions ------------------------------------------------------------------

    def start(self, event: Mapping[str, Any], name: str | None = None) -> str:
        """Start an execution with ``event`` as its input (what the rule target does)."""
        response = self.stack.stepfunctions.start_execution(
            stateMachineArn=self.state_machine_arn,
            name=name or uuid.uuid4().hex,
            input=json.dumps(event),
        )
        arn = str(response["executionArn"])
        self.started.append(arn)
        return arn

    @staticmethod
    def execution_id(execution_arn: str) -> str:
        """Return the execution id the table knows an execution by."""
        return keys.execution_id_for(PATTERN, execution_arn)

    def describe(self, execution_arn: str) -> dict[str, Any]:
        """``DescribeExecution`` of an execution."""
        return dict(self.stack.stepfunctions.describe_execution(executionArn=execution_arn))

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        """Every history event of an execution (all pages)."""
        return execution_history(self.stack.stepfunctions, execution_arn)

    def transitions(self, execution_arn: str) -> int:
        """Billed state transitions of an execution, counted from its history."""
        return count_state_transitions(self.history(execution_arn))

    def wait_for_end(self, execution_arn: str, timeout: float = 30.0) -> dict[str, Any]:
        """Wait until the execution is no longer running; return its description.

        Records its figures first (as the EventBridge status-change rule does on AWS)
        when ``record_on_end`` is set.

        Raises
        ------
        TimeoutError
            When it still runs after ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        while True:
            described = self.describe(execution_arn)
            if described["status"] != "RUNNING":
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"{execution_arn} still running after {timeout} s")
            time.sleep(_POLL_SECONDS)
        if self.record_on_end:
            self.record(execution_arn)
        return described

    def record(self, execution_arn: str) -> dict[str, Any]:
        """Record an ended execution's figures with the ``execution_recorder`` code."""
        from execution_recorder.handler import record_step_functions_execution  # noqa: PLC0415

        summary = record_step_functions_execution(
            self.stack.stepfunctions, self.stack.repository(PATTERN), execution_arn
        )
        self.recorded[execution_arn] = summary
        return summary

    def wait_for_validation(self, execution_arn: str, timeout: float = 15.0) -> ValidationTask:
        """Wait until the execution pauses at WaitForValidation; return its pending task.

        Paused means the notifier Lambda has returned for this execution (the harness
        wraps the handler to know): its writes are complete, so the task is read whole,
        and nothing polls the table meanwhile (moto's table is not safe to read while
        another thread writes the same item).

        Raises
        ------
        ExecutionEndedError
            When the execution ends without pausing.
        TimeoutError
            When it does not pause within ``timeout`` seconds.
        """
        notified = self._notified_event(execution_arn)
        deadline = time.monotonic() + timeout
        while True:
            if notified.wait(_POLL_SECONDS * 2):
                task_id = keys.task_id_for(PATTERN, self.execution_id(execution_arn))
                task = self.stack.repository(PATTERN).get_task(task_id)
                if task.status is TaskStatus.PENDING:
                    return task
                raise ExecutionEndedError(f"{execution_arn} was answered already ({task.status})")
            described = self.describe(execution_arn)
            if described["status"] != "RUNNING":
                raise ExecutionEndedError(
                    f"{execution_arn} ended {described['status']} before validation"
                )
            if time.monotonic() > deadline:
                raise TimeoutError(f"{execution_arn} did not pause for validation")

    def _notified_event(self, execution_arn: str) -> threading.Event:
        with self._notified_lock:
            return self._notified.setdefault(execution_arn, threading.Event())

    def _notifier(self, handler: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
        """Wrap the notifier handler so the harness knows when a task is complete."""

        def notify(event: Any, context: Any) -> Any:
            result = handler(event, context)
            if isinstance(event, dict) and isinstance(event.get("executionArn"), str):
                self._notified_event(event["executionArn"]).set()
            return result

        return notify

    def approve(
        self,
        execution_arn: str,
        corrections: Sequence[AlbumCorrection] = (),
        *,
        timeout: float = 15.0,
    ) -> ValidationTask:
        """Answer the execution's validation with corrections (``SendTaskSuccess``)."""
        task = self.wait_for_validation(execution_arn, timeout)
        decision = ValidationDecision(tuple(corrections))
        self.stack.stepfunctions.send_task_success(
            taskToken=task.resume_token, output=json.dumps(decision.to_dict())
        )
        return task

    def reject(self, execution_arn: str, reason: str, *, timeout: float = 15.0) -> ValidationTask:
        """Reject the execution's albums (``SendTaskFailure`` with ``ValidationRejected``)."""
        task = self.wait_for_validation(execution_arn, timeout)
        self.stack.stepfunctions.send_task_failure(
            taskToken=task.resume_token, error=REJECTION_ERROR, cause=reason
        )
        return task

    def stop_all(self, join_timeout: float = 10.0) -> list[str]:
        """Stop every execution still running and wait for moto's worker threads.

        moto's ``StopExecution`` only marks the execution stopped; a state waiting for a
        task token would sit out its heartbeat or timeout first. Its waits are woken too,
        so the execution ends at once, as on AWS. Returns the ARNs that were stopped.
        """
        stopped = []
        for arn in self.started:
            try:
                if self.describe(arn)["status"] == "RUNNING":
                    self.stack.stepfunctions.stop_execution(
                        executionArn=arn, error="LocalTeardown", cause="stopped at teardown"
                    )
                    _interrupt_waits(arn)
                    stopped.append(arn)
            except Exception as error:  # teardown goes on with the others
                LOGGER.warning("could not stop %s at teardown: %s", arn, error)
        _join_worker_threads(join_timeout)
        return stopped


def _interrupt_waits(execution_arn: str) -> None:
    """Wake every task-token wait of a stopped execution (moto 5.2.x internals)."""
    from moto.stepfunctions.parser.models import (  # noqa: PLC0415
        stepfunctions_parser_backends,
    )

    backend = stepfunctions_parser_backends[ACCOUNT][REGION]
    for execution in backend._get_executions():
        if execution.execution_arn == execution_arn and execution.exec_worker is not None:
            pool = execution.exec_worker.env.callback_pool_manager._pool
            for endpoint in list(pool.values()):
                endpoint.interrupt_all()


def _join_worker_threads(timeout: float) -> None:
    from moto.stepfunctions.parser.utils import TMP_THREADS  # noqa: PLC0415

    deadline = time.monotonic() + timeout
    for thread in list(TMP_THREADS):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        thread.join(remaining)
    TMP_THREADS[:] = [thread for thread in TMP_THREADS if thread.is_alive()]
