"""Run Lambda invocations in-process: a registry of handlers and a patch of moto's invoke.

moto's Lambda backend runs function code in Docker (``LambdaFunction._invoke_lambda``);
there is no Docker here. :func:`install_moto_lambda_dispatch` replaces that one method
so an invocation — from the Step Functions ASL interpreter, an EventBridge target, or a
boto3 ``invoke`` inside the mock — calls our registered handler in this process, with the
same error payload a real Lambda returns (``errorType`` is the exception's class name,
which is what Step Functions ``Retry``/``Catch`` match).
"""

from __future__ import annotations

import json
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

Handler = Callable[[Any, Any], Any]

#: Memory size local functions report (and the cost model bills), as in Terraform.
DEFAULT_MEMORY_MB = 1024


@dataclass(frozen=True, slots=True)
class Invocation:
    """One in-process invocation, for the cost and latency figures."""

    function_name: str
    duration_ms: float
    errored: bool
    memory_mb: int


@dataclass(slots=True)
class LocalLambdaContext:
    """The parts of the Lambda context object our handlers and Powertools read."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int = DEFAULT_MEMORY_MB
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = ""
    timeout_ms: int = 900_000
    _started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the (local) function timeout."""
        return max(0, self.timeout_ms - int((time.monotonic() - self._started) * 1000))


def function_name_of(name_or_arn: str) -> str:
    """Return the bare function name of a name, an ARN, or a qualified (alias) ARN."""
    if name_or_arn.startswith("arn:"):
        # arn:aws:lambda:region:account:function:NAME[:QUALIFIER]
        parts = name_or_arn.split(":")
        if len(parts) < 7 or parts[5] != "function":
            raise ValueError(f"not a Lambda function ARN: {name_or_arn!r}")
        return parts[6]
    return name_or_arn.split(":", 1)[0]


class LambdaRegistry:
    """Handlers by function name, and a record of every invocation (thread-safe)."""

    def __init__(self, *, region: str = "us-east-1", account: str = "123456789012") -> None:
        self._handlers: dict[str, tuple[Handler, int]] = {}
        self._lock = threading.Lock()
        self.region = region
        self.account = account
        self.invocations: list[Invocation] = []

    def register(
        self, function_name: str, handler: Handler, *, memory_mb: int = DEFAULT_MEMORY_MB
    ) -> str:
        """Register ``handler`` under ``function_name``; return the function's ARN."""
        with self._lock:
            self._handlers[function_name_of(function_name)] = (handler, memory_mb)
        return self.arn(function_name)

    def arn(self, function_name: str) -> str:
        """Return the unqualified ARN of a function in this registry's account and region."""
        return (
            f"arn:aws:lambda:{self.region}:{self.account}:function:"
            f"{function_name_of(function_name)}"
        )

    def __contains__(self, name_or_arn: object) -> bool:
        return isinstance(name_or_arn, str) and function_name_of(name_or_arn) in self._handlers

    def invoke(self, name_or_arn: str, payload: Any) -> tuple[str, bool]:
        """Invoke a registered handler with ``payload``.

        Returns
        -------
        tuple[str, bool]
            The JSON result (or Lambda error payload) and whether the handler raised.

        Raises
        ------
        KeyError
            When no handler is registered under that name.
        """
        name = function_name_of(name_or_arn)
        with self._lock:
            handler, memory_mb = self._handlers[name]
        context = LocalLambdaContext(
            function_name=name, invoked_function_arn=name_or_arn, memory_limit_in_mb=memory_mb
        )
        started = time.perf_counter()
        try:
            result = handler(payload, context)
        except Exception as error:  # a Lambda reports any exception as its error payload
            body = json.dumps(lambda_error_payload(error))
            errored = True
        else:
            body = json.dumps(result)
            errored = False
        elapsed_ms = (time.perf_counter() - started) * 1000
        with self._lock:
            self.invocations.append(Invocation(name, elapsed_ms, errored, memory_mb))
        return body, errored


def lambda_error_payload(error: BaseException) -> dict[str, Any]:
    """Return the payload a Python Lambda returns for an unhandled exception."""
    return {
        "errorType": type(error).__name__,
        "errorMessage": str(getattr(error, "message", None) or error),
        "stackTrace": traceback.format_exception(error)[-5:],
    }


@contextmanager
def install_moto_lambda_dispatch(registry: LambdaRegistry) -> Iterator[None]:
    """Route moto Lambda invocations of registered functions to ``registry`` while active.

    Patches ``moto.awslambda.models.LambdaFunction._invoke_lambda`` (moto 5.2.x); the
    smoke test in ``tests/unit/test_localmode_core.py`` fails when that internal changes.
    Functions that are not registered keep moto's own behaviour.
    """
    from moto.awslambda.models import LambdaFunction  # noqa: PLC0415 - test-only dependency

    original = LambdaFunction._invoke_lambda

    def dispatch(self: Any, event: Any = None) -> tuple[str, bool, str]:
        if self.function_name not in registry:
            return original(self, event)
        body, errored = registry.invoke(self.function_arn, {} if event is None else event)
        return body, errored, ""

    LambdaFunction._invoke_lambda = dispatch  # type: ignore[method-assign]
    try:
        yield
    finally:
        LambdaFunction._invoke_lambda = original  # type: ignore[method-assign]
