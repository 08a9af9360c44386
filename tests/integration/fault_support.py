"""What the fault and duplicate tests share: both patterns on one stack, and injected faults.

:func:`both_patterns` plugs the Step Functions pattern, the durable pattern and the
validation API into one local stack, as ``albums demo`` does: one upload starts both
patterns, one answer on the upload's signed link resumes both. :class:`ClientFault`
makes a boto3 client raise a service error on chosen calls, before the request (the call
never happened) or after it (the service did the work, the caller saw an error).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import itertools
import json
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError
from PIL import Image

from albums.domain import keys
from albums.domain.models import WorkflowType
from albums.domain.records import ValidationTask
from localmode.aws_calls import every_new_client
from localmode.durable import LocalDurable
from localmode.load import Deadline, PatternAudit, audit_pattern, scan_table, wait_for_claim
from localmode.pricing import ProgrammablePriceSource
from localmode.stack import LocalStack, object_created_event
from localmode.stepfunctions import StepFunctionsPattern
from localmode.validation_server import ValidationServer
from tests.durable_harness import ALBUMS

SF = WorkflowType.STEP_FUNCTIONS
LDF = WorkflowType.DURABLE_FUNCTIONS
PATTERNS = (SF, LDF)
#: The years the six ``ALBUMS`` keep when the reviewer accepts them as detected.
DETECTED_YEARS = tuple(int(album["year"]) for album in ALBUMS)
_PHOTOS = itertools.count(1)


def photo(seed: object = None) -> bytes:
    """Return a small PNG, different for every seed (the vision stand-in keys on the bytes)."""
    digest = hashlib.sha256(str(next(_PHOTOS) if seed is None else seed).encode()).digest()
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (digest[0], digest[1], digest[2])).save(buffer, format="PNG")
    return buffer.getvalue()


@dataclass(frozen=True, slots=True)
class Upload:
    """One upload and the execution each pattern started for it."""

    event: dict[str, Any]
    upload_id: str
    arns: Mapping[WorkflowType, str]

    def execution_id(self, pattern: WorkflowType) -> str:
        """The execution id the table knows this upload's ``pattern`` execution by."""
        return keys.execution_id_for(pattern, self.arns[pattern])


class BothPatterns:
    """Both patterns and the validation API on one local stack (see :func:`both_patterns`)."""

    def __init__(
        self,
        stack: LocalStack,
        step_functions: StepFunctionsPattern,
        durable: LocalDurable,
        server: ValidationServer,
    ) -> None:
        self.stack = stack
        self.step_functions = step_functions
        self.durable = durable
        self.server = server

    def upload(
        self,
        albums: Sequence[Mapping[str, Any]] = ALBUMS,
        *,
        key: str | None = None,
        image: bytes | None = None,
    ) -> Upload:
        """Register ``albums`` for a new photo, put it, deliver its event; return the upload."""
        before = (len(self.step_functions.started), len(self.durable.started))
        put = self.put_only(albums, key=key, image=image)
        assert self.stack.deliver(put.event), "the upload event matched no rule target"
        assert len(self.step_functions.started) == before[0] + 1
        assert len(self.durable.started) == before[1] + 1
        arns = {SF: self.step_functions.started[-1], LDF: self.durable.started[-1]}
        return Upload(put.event, put.upload_id, arns)

    def put_only(
        self,
        albums: Sequence[Mapping[str, Any]] = ALBUMS,
        *,
        key: str | None = None,
        image: bytes | None = None,
    ) -> Upload:
        """Put a new photo into the bucket but deliver nothing yet (no executions).

        The returned upload's event is the one S3 sends; deliver it with
        ``stack.deliver`` (as often, as late and in whatever order a test needs).
        """
        image = image or photo()
        self.stack.vision.register(image, albums)
        key = key or f"uploads/faults/{next(_PHOTOS)}.png"
        response = self.stack.s3.put_object(
            Bucket=self.stack.bucket, Key=key, Body=image, ContentType="image/png"
        )
        event = object_created_event(
            bucket=self.stack.bucket,
            key=key,
            size=len(image),
            etag=str(response["ETag"]).strip('"'),
            version_id=response.get("VersionId"),
        )
        return Upload(event, keys.parse_object_created_event(event).upload_id, {})

    def wait_paused(
        self, upload: Upload, timeout: float = 30
    ) -> dict[WorkflowType, ValidationTask]:
        """Wait until both patterns wait for the upload's review; return both tasks.

        Waits for the execution holding each pattern's claim (with repeated deliveries, not
        necessarily the one started first).
        """
        deadline = Deadline(timeout)
        holders = {
            pattern: wait_for_claim(self.stack.repository(pattern), upload.upload_id, deadline)
            for pattern in PATTERNS
        }
        arns = {keys.execution_id_for(SF, arn): arn for arn in self.step_functions.started}
        arns |= {keys.execution_id_for(LDF, arn): arn for arn in self.durable.started}
        sf_task = self.step_functions.wait_for_validation(arns[holders[SF]], deadline.left())
        self.durable.wait_for_task(holders[LDF], timeout=deadline.left())
        # The task exists before the durable notifier has run: wait for the pause itself.
        self.durable.wait_suspended(arns[holders[LDF]], timeout=deadline.left())
        task_id = keys.task_id_for(LDF, holders[LDF])
        return {SF: sf_task, LDF: self.stack.repository(LDF).get_task(task_id)}

    def link(self, upload: Upload) -> str:
        """The upload's signed review link."""
        return self.server.link_for(upload.upload_id)

    def accept(self, upload: Upload) -> dict[str, Any]:
        """Accept the albums through the validation API; return its JSON answer (200)."""
        result = self.server.client.accept(self.link(upload)).raise_for_status()
        body: dict[str, Any] = result.body
        return body

    def finish(self, upload: Upload, timeout: float = 30) -> dict[WorkflowType, str]:
        """Wait for both executions to end; return each one's outcome status."""
        described = self.step_functions.wait_for_end(upload.arns[SF], timeout=timeout)
        output = json.loads(described.get("output") or "{}")
        run = self.durable.wait(upload.arns[LDF], timeout=timeout)
        return {SF: str(output.get("status")), LDF: str((run.result or {}).get("status"))}

    def items(self) -> list[dict[str, Any]]:
        """Every item of the table (plain values)."""
        return scan_table(self.stack)

    def audit(self, expected: Mapping[str, Sequence[int]]) -> dict[WorkflowType, PatternAudit]:
        """Audit both patterns' items against uploads and their expected years."""
        items = self.items()
        return {pattern: audit_pattern(pattern, items, expected) for pattern in PATTERNS}


@contextmanager
def both_patterns(
    *,
    timeout: int = 60,
    heartbeat: int | None = None,
    sf_prices: ProgrammablePriceSource | None = None,
    durable_prices: ProgrammablePriceSource | None = None,
) -> Iterator[BothPatterns]:
    """Yield both patterns and the validation API on one local stack.

    ``timeout`` is the review timeout (both patterns); ``heartbeat`` the Step Functions
    wait's ``HeartbeatSeconds`` (default ``None``: none, as deployed).
    """
    with (
        LocalStack(validation_timeout_seconds=timeout) as stack,
        StepFunctionsPattern(
            stack, validation_heartbeat_seconds=heartbeat, prices=sf_prices
        ) as step_functions,
        LocalDurable(stack, price_source=durable_prices, metrics_stream=io.StringIO()) as durable,
        ValidationServer(stack, durable_resumer=durable.resumer) as server,
    ):
        yield BothPatterns(stack, step_functions, durable, server)


# --- faults ---------------------------------------------------------------------------------

Predicate = Callable[[Mapping[str, Any]], bool]


class ClientFault:
    """Make a boto3 client's ``operation`` raise ``code`` on the first ``times`` matching calls.

    ``after=False`` raises before the request is sent (the call never reached the service,
    as when botocore's own retries of a throttled call are used up); ``after=True`` raises
    once the service has done the work (the write happened, its answer was lost).

    Parameters
    ----------
    client
        The boto3 client to hook (e.g. ``clients.get("dynamodb")``, what the handlers use).
    operation
        The API operation, e.g. ``PutItem``.
    code
        The error code raised (a ``ClientError`` with it).
    when
        Picks the calls to fail from their parameters.
    times
        How many matching calls fail; later ones go through.
    after
        Fail after the service answered instead of before sending.
    new_clients
        Hook every client of the same service created while the fault is active too: the
        state machine's interpreter makes its direct DynamoDB calls with a client of its
        own per task. :meth:`remove` (or leaving the ``with`` block) unhooks them all.
    """

    def __init__(
        self,
        client: Any,
        operation: str,
        code: str,
        *,
        when: Predicate = lambda _params: True,
        times: int = 1,
        after: bool = False,
        new_clients: bool = False,
    ) -> None:
        self.operation = operation
        self.code = code
        self.when = when
        self.remaining = times
        self.after = after
        self.fired: list[Mapping[str, Any]] = []
        self._lock = threading.Lock()
        # The modeled exception, as botocore raises it: the state machine's AWS SDK
        # integration names the error after its class.
        self._exception = client.exceptions.from_code(code)
        self._service = client.meta.service_model.service_id.hyphenize()
        self._before = f"before-parameter-build.{self._service}.{operation}"
        self._after = f"after-call.{self._service}.{operation}"
        self._hooked: list[Any] = []
        self._new_clients = contextlib.ExitStack()
        self._hook(client)
        if new_clients:
            self._new_clients.enter_context(every_new_client(self._hook_if_same_service))

    def __enter__(self) -> ClientFault:
        return self

    def __exit__(self, *_: object) -> None:
        self.remove()

    def _hook(self, client: Any) -> None:
        client.meta.events.register(self._before, self._on_parameters)
        if self.after:
            client.meta.events.register(self._after, self._on_answer)
        self._hooked.append(client)

    def _hook_if_same_service(self, client: Any) -> None:
        if client.meta.service_model.service_id.hyphenize() == self._service:
            self._hook(client)

    def remove(self) -> None:
        """Stop injecting (and stop hooking new clients)."""
        self._new_clients.close()
        for client in self._hooked:
            client.meta.events.unregister(self._before, self._on_parameters)
            if self.after:
                client.meta.events.unregister(self._after, self._on_answer)
        self._hooked.clear()

    def _claim(self, params: Mapping[str, Any]) -> bool:
        with self._lock:
            if self.remaining <= 0 or not self.when(params):
                return False
            self.remaining -= 1
            self.fired.append(params)
            return True

    def _error(self) -> ClientError:
        error: ClientError = self._exception(
            {
                "Error": {"Code": self.code, "Message": f"{self.code} (injected)"},
                # The state machine's interpreter puts the request id in the error's cause.
                "ResponseMetadata": {
                    "HTTPStatusCode": 400 if "Exceeded" in self.code else 500,
                    "RequestId": "injected-fault",
                },
            },
            self.operation,
        )
        return error

    def _on_parameters(self, params: Mapping[str, Any], context: dict[str, Any], **_: Any) -> None:
        if self._claim(params):
            if not self.after:
                raise self._error()
            context["inject-fault-after"] = self

    def _on_answer(self, context: Mapping[str, Any], **_: Any) -> None:
        if context.get("inject-fault-after") is self:
            raise self._error()


class CallLog:
    """Record the parameters of every call of a boto3 client's ``operation``."""

    def __init__(self, client: Any, operation: str) -> None:
        self.calls: list[Mapping[str, Any]] = []
        self._lock = threading.Lock()
        service = client.meta.service_model.service_id.hyphenize()
        client.meta.events.register(f"before-parameter-build.{service}.{operation}", self._record)

    def _record(self, params: Mapping[str, Any], **_: Any) -> None:
        with self._lock:
            self.calls.append(dict(params))


def tenant_of(params: Mapping[str, Any]) -> set[str]:
    """The tenants (``sf``, ``ldf``, ...) whose items a DynamoDB write request touches."""
    requests = [params, *(next(iter(item.values())) for item in params.get("TransactItems", []))]
    found = set()
    for request in requests:
        for source in (request.get("Item", {}), request.get("Key", {})):
            pk = source.get("pk", {}).get("S") if isinstance(source, Mapping) else None
            if isinstance(pk, str):
                found.add(pk.split("#", 1)[0])
    return found


def sf_state_attempts(history: Sequence[Mapping[str, Any]], state: str) -> int:
    """How often the state machine scheduled the task of top-level ``state`` (retries too).

    A task's ``TaskScheduled`` events follow its ``TaskStateEntered``; the Lambda tasks and
    the direct DynamoDB ones alike.
    """
    count = 0
    current = None
    for event in history:
        if event["type"].endswith("StateEntered"):
            current = event["stateEnteredEventDetails"]["name"]
        elif event["type"] == "TaskScheduled" and current == state:
            count += 1
    return count


def durable_step_attempts(history: Sequence[Mapping[str, Any]], name: str) -> int:
    """How many attempts of the durable step ``name`` ended (failed, or succeeded).

    Ended, not started: a step runs at least once per attempt (the SDK's default
    ``AT_LEAST_ONCE_PER_RETRY``), and an attempt cut off when its invocation suspends
    starts again on the next invocation without being another attempt.
    """
    return sum(
        1
        for e in history
        if e.get("EventType") in ("StepFailed", "StepSucceeded") and e.get("Name") == name
    )
