"""Every AWS call each function makes, recorded where it is made, as IAM will judge it.

moto enforces no IAM and the durable testing runner checks no permission, so green local
tests say nothing about whether a role may make its calls. :class:`CallRecorder` watches
every botocore client of the process through botocore's own event hooks
(``before-parameter-build``, which real calls and pre-signed URLs both emit), and the
stand-ins that replace a client in local mode (the Bedrock stand-in, the durable runner's
checkpoint client and callback resumer) report their calls through :func:`record`.

Each call is attributed to the principal that makes it on AWS, from the call stack:

- code under ``functions/NAME/`` is the function ``NAME`` (its execution role);
- code under ``orchestrator/`` is the durable function ``orchestrator``;
- moto's Step Functions interpreter is the state machine (its role makes the Lambda
  invokes and the service integrations of the definition).

Calls made by the tests and the operator's CLI themselves belong to no role and are only
counted. Each call is expanded (:mod:`localmode.iam_actions`) into the IAM actions AWS
authorizes for it, on resources written in logical terms (``{table}``,
``{function:image_processor}``...) that ``scripts/iam_coverage.py`` binds to the
resources Terraform renders for each environment, and checks against the policies it
renders. :meth:`CallRecorder.write` saves the aggregate as JSON.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, Final

from localmode.iam_actions import Authorization, authorizations

REPO_ROOT: Final = Path(__file__).resolve().parent.parent
STATE_MACHINE: Final = "state_machine"
ORCHESTRATOR: Final = "orchestrator"
#: Where recorded calls are written by default (``make test`` reads them from here).
DEFAULT_OUTPUT: Final = REPO_ROOT / "out" / "iam" / "calls.json"
_FUNCTIONS_DIR: Final = str(REPO_ROOT / "functions") + "/"
_ORCHESTRATOR_DIR: Final = str(REPO_ROOT / "orchestrator") + "/"
_SFN_INTERPRETER: Final = "/moto/stepfunctions/parser/"
#: A test's own stand-in Lambdas (toy state machines) are nobody's role.
_TESTS_DIR: Final = str(REPO_ROOT / "tests") + "/"
_MAX_FRAMES: Final = 200


def principal_of_stack(frame: FrameType | None) -> str | None:
    """Return the principal whose code is innermost on the stack above ``frame``, if any."""
    depth = 0
    while frame is not None and depth < _MAX_FRAMES:
        filename = frame.f_code.co_filename
        if filename.startswith(_FUNCTIONS_DIR):
            return filename[len(_FUNCTIONS_DIR) :].split("/", 1)[0]
        if filename.startswith(_ORCHESTRATOR_DIR):
            return ORCHESTRATOR
        if _SFN_INTERPRETER in filename:
            return STATE_MACHINE
        if filename.startswith(_TESTS_DIR):
            return None
        frame = frame.f_back
        depth += 1
    return None


@dataclass(slots=True)
class _Tally:
    calls: int = 0
    operations: set[str] = field(default_factory=set)
    example: str = ""


class CallRecorder:
    """Thread-safe aggregate of the authorizations each principal's calls need."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tallies: dict[tuple[str, Authorization], _Tally] = {}
        self._calls: dict[str, int] = {}
        self.unattributed = 0
        self.unexpanded: dict[str, int] = {}

    def record(
        self,
        service: str,
        operation: str,
        params: Mapping[str, Any],
        *,
        region: str,
        principal: str | None = None,
        frame: FrameType | None = None,
    ) -> None:
        """Record one call of ``service.operation`` (botocore names) with its parameters."""
        who = principal or principal_of_stack(frame or sys._getframe(1))
        if who is None:
            with self._lock:
                self.unattributed += 1
            return
        needed = authorizations(service, operation, params, region=region)
        with self._lock:
            self._calls[who] = self._calls.get(who, 0) + 1
            if needed is None:
                key = f"{who} {service}.{operation}"
                self.unexpanded[key] = self.unexpanded.get(key, 0) + 1
                return
            for authorization in needed:
                tally = self._tallies.setdefault((who, authorization.logical()), _Tally())
                tally.calls += 1
                tally.operations.add(f"{service}.{operation}")
                tally.example = tally.example or authorization.resource

    def snapshot(self) -> dict[str, Any]:
        """Return the recording as JSON-ready data (sorted, so the file is stable)."""
        with self._lock:
            principals: dict[str, Any] = {}
            for (who, authorization), tally in sorted(
                self._tallies.items(), key=lambda item: (item[0][0], item[0][1].sort_key())
            ):
                entry = principals.setdefault(
                    who, {"calls": self._calls.get(who, 0), "authorizations": []}
                )
                entry["authorizations"].append(
                    {
                        "action": authorization.action,
                        "resource": authorization.resource,
                        "context": dict(authorization.context),
                        "operations": sorted(tally.operations),
                        "calls": tally.calls,
                        "example": tally.example,
                    }
                )
            return {
                "version": 1,
                "principals": principals,
                "unattributed_calls": self.unattributed,
                "unexpanded_calls": dict(sorted(self.unexpanded.items())),
            }

    def write(self, path: Path = DEFAULT_OUTPUT) -> Path:
        """Write :meth:`snapshot` to ``path`` (atomically) and return it."""
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(self.snapshot(), indent=2) + "\n", encoding="utf-8")
        temporary.replace(path)
        return path

    # --- botocore's event hooks --------------------------------------------------------

    def watch(self, client: Any) -> None:
        """Record every call of ``client`` (its ``before-parameter-build`` event).

        That event fires once per call, before retries, for real calls and pre-signed URLs
        alike (a browser's request with a pre-signed URL is authorized as the signer).
        """
        region = str(client.meta.region_name or "us-east-1")
        service = str(client.meta.service_model.service_name)

        def on_parameters(params: Mapping[str, Any], model: Any, **_: Any) -> None:
            if active() is self:  # a nested recording takes the calls while it is active
                self.record(service, str(model.name), params, region=region, frame=sys._getframe(1))

        client.meta.events.register(
            "before-parameter-build", on_parameters, unique_id=f"aws-calls-{id(self)}"
        )


_RECORDERS: list[CallRecorder] = []
_RECORDERS_LOCK = threading.Lock()


def active() -> CallRecorder | None:
    """Return the recorder that is recording now (the innermost), if any."""
    with _RECORDERS_LOCK:
        return _RECORDERS[-1] if _RECORDERS else None


def record(
    service: str,
    operation: str,
    params: Mapping[str, Any],
    *,
    region: str = "us-east-1",
    principal: str | None = None,
) -> None:
    """Record a call a local stand-in answers in place of AWS (no botocore client made it).

    ``principal`` names the caller where the stack cannot (the durable SDK checkpoints
    from a thread of its own).
    """
    recorder = active()
    if recorder is not None:
        recorder.record(
            service, operation, params, region=region, principal=principal, frame=sys._getframe(1)
        )


@contextmanager
def every_new_client(watch: Callable[[Any], None]) -> Iterator[None]:
    """Hand ``watch`` every botocore client created while active.

    Hooks ``botocore.client.ClientCreator.create_client``; clients created earlier are not
    seen (the project creates its clients lazily, inside the mock, and moto's state machine
    interpreter creates one per task). Hooks nest and unwind in order.
    """
    import botocore.client  # noqa: PLC0415 - only where clients are watched

    creator = botocore.client.ClientCreator
    original = creator.create_client

    def create_client(self: Any, *args: Any, **kwargs: Any) -> Any:
        client = original(self, *args, **kwargs)
        watch(client)
        return client

    creator.create_client = create_client  # type: ignore[method-assign]
    try:
        yield
    finally:
        creator.create_client = original  # type: ignore[method-assign]


@contextmanager
def recording(recorder: CallRecorder | None = None) -> Iterator[CallRecorder]:
    """Record every call of every botocore client created while active.

    Each new client gets the ``before-parameter-build`` handler with its region (see
    :func:`every_new_client`). Recordings nest: the innermost one takes the calls while it
    is active (a test of the recorder inside the suite's own recording).
    """
    current = recorder or CallRecorder()
    with _RECORDERS_LOCK:
        _RECORDERS.append(current)
    try:
        with every_new_client(current.watch):
            yield current
    finally:
        with _RECORDERS_LOCK:
            _RECORDERS.remove(current)
