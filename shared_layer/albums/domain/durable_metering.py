"""Durable-execution metering from an execution's history events.

One derivation for both places the history comes from: ``GetDurableExecutionHistory`` on
AWS (:mod:`albums.adapters.durable_history` pages it) and the local testing runner
(``runner.get_execution_history(arn, include_execution_data=True)``, whose events
serialise to the same dicts with ``Event.to_dict()``). Pure Python: events are plain
mappings with the API's member names (``EventType``, ``SubType``, ``Id``, ``ParentId``,
``*Details``).

How history becomes :class:`~albums.domain.cost.DurableOperation` records (the published
metering: start 1; step 1 + retries; wait 1; create callback 1; wait_for_callback
3 + retries; map/parallel 1 + branches; child context 1; chained invoke 1):

- ``ExecutionStarted`` is the start.
- A step's attempts are its ``StepStarted`` events.
- A ``WaitForCallback`` context is one wait_for_callback; its callback and submitter
  step are part of its 3 operations, and the submitter's retries are its retries.
- A ``Map``/``Parallel`` context is one map/parallel; its branches are the branch
  contexts it checkpointed (``MapIteration``/``ParallelBranch``). ``NestingType.FLAT``
  branches are virtual, never checkpointed, and so add nothing: the operations inside
  them are counted on their own.
- Any other context is a child context; waits, standalone callbacks and chained invokes
  count 1 each.

Also derived: handler invocations (``InvocationCompleted`` events; replays are
invocations - 1), checkpointed operation updates (every event about an operation), and
the bytes of data written (input, results and errors the history holds).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from albums.domain.cost import (
    CostModelError,
    DurableOperation,
    DurableOperationKind,
    count_billable_durable_operations,
)

#: Context sub-types the SDK records for its own operations.
WAIT_FOR_CALLBACK_SUBTYPE = "WaitForCallback"
MAP_SUBTYPE = "Map"
PARALLEL_SUBTYPE = "Parallel"
BRANCH_SUBTYPES = frozenset({"MapIteration", "ParallelBranch"})

_TERMINAL_EXECUTION_EVENTS = {
    "ExecutionSucceeded": "SUCCEEDED",
    "ExecutionFailed": "FAILED",
    "ExecutionTimedOut": "TIMED_OUT",
    "ExecutionStopped": "STOPPED",
}
_NOT_OPERATION_UPDATES = frozenset({"ExecutionStarted", "InvocationCompleted"})


@dataclass(frozen=True, slots=True)
class RecordedOperation:
    """One operation of the history: its id, kind, name, parent and how often it ran."""

    operation_id: str
    event_prefix: str
    sub_type: str | None
    name: str | None
    parent_id: str | None
    started: int


@dataclass(frozen=True, slots=True)
class DurableUsage:
    """What one durable execution used, derived from its history.

    Parameters
    ----------
    operations
        The billable operation records (see the module docstring).
    invocations
        Handler invocations (the first one and every replay).
    checkpoints
        Operation updates the execution checkpointed.
    bytes_written
        UTF-8 bytes of the input, results and errors in the history.
    duration_ms
        From the start event to the terminal event (``None`` while running).
    status
        ``SUCCEEDED``, ``FAILED``, ``TIMED_OUT``, ``STOPPED``, or ``None`` while running.
    operation_names
        Name of every recorded operation, in history order.
    """

    operations: tuple[DurableOperation, ...]
    invocations: int
    checkpoints: int
    bytes_written: int
    duration_ms: int | None = None
    status: str | None = None
    operation_names: tuple[str, ...] = ()

    @property
    def billable_operations(self) -> int:
        """Billable durable operations, by the published metering."""
        return count_billable_durable_operations(self.operations)

    @property
    def replays(self) -> int:
        """Handler invocations after the first one."""
        return max(0, self.invocations - 1)


def _text(event: Mapping[str, Any], key: str) -> str | None:
    value = event.get(key)
    return value if isinstance(value, str) and value else None


def _event_type(event: object) -> str:
    if not isinstance(event, Mapping) or not isinstance(event.get("EventType"), str):
        raise CostModelError(f"history event needs a string EventType: {event!r}")
    return str(event["EventType"])


def _prefix(event_type: str) -> str:
    for prefix in ("Execution", "Context", "Step", "Wait", "ChainedInvoke", "Callback"):
        if event_type.startswith(prefix):
            return prefix
    return event_type


def recorded_operations(events: Iterable[Mapping[str, Any]]) -> tuple[RecordedOperation, ...]:
    """Group history events by operation id, in order of first appearance.

    Raises
    ------
    CostModelError
        An event lacks ``EventType``, or an operation event lacks its ``Id``.
    """
    order: list[str] = []
    found: dict[str, dict[str, Any]] = {}
    for event in events:
        event_type = _event_type(event)
        if event_type == "InvocationCompleted" or event_type.startswith("Execution"):
            continue
        operation_id = _text(event, "Id")
        if operation_id is None:
            raise CostModelError(f"{event_type} event has no operation Id")
        entry = found.get(operation_id)
        if entry is None:
            entry = {
                "prefix": _prefix(event_type),
                "sub_type": _text(event, "SubType"),
                "name": _text(event, "Name"),
                "parent": _text(event, "ParentId"),
                "started": 0,
            }
            found[operation_id] = entry
            order.append(operation_id)
        if event_type.endswith("Started"):
            entry["started"] += 1
    return tuple(
        RecordedOperation(
            operation_id=operation_id,
            event_prefix=found[operation_id]["prefix"],
            sub_type=found[operation_id]["sub_type"],
            name=found[operation_id]["name"],
            parent_id=found[operation_id]["parent"],
            started=max(1, found[operation_id]["started"]),
        )
        for operation_id in order
    )


_SINGLE_KINDS = {
    "Step": DurableOperationKind.STEP,
    "Wait": DurableOperationKind.WAIT,
    "Callback": DurableOperationKind.CALLBACK,
    "ChainedInvoke": DurableOperationKind.INVOKE,
}


def _context_operation(
    operation: RecordedOperation, kids: list[RecordedOperation], absorbed: set[str]
) -> DurableOperation:
    """Meter one context; add the children it already pays for to ``absorbed``."""
    if operation.sub_type == WAIT_FOR_CALLBACK_SUBTYPE:
        # The callback and the submitter step are the operation's own 3.
        retries = sum(kid.started - 1 for kid in kids if kid.event_prefix == "Step")
        absorbed.update(kid.operation_id for kid in kids)
        return DurableOperation(DurableOperationKind.WAIT_FOR_CALLBACK, attempts=1 + retries)
    if operation.sub_type in (MAP_SUBTYPE, PARALLEL_SUBTYPE):
        branches = [
            kid for kid in kids if kid.event_prefix == "Context" and kid.sub_type in BRANCH_SUBTYPES
        ]
        absorbed.update(kid.operation_id for kid in branches)
        kind = (
            DurableOperationKind.MAP
            if operation.sub_type == MAP_SUBTYPE
            else DurableOperationKind.PARALLEL
        )
        return DurableOperation(kind, branches=len(branches))
    return DurableOperation(DurableOperationKind.CHILD_CONTEXT)


def operations_from_history(events: Iterable[Mapping[str, Any]]) -> tuple[DurableOperation, ...]:
    """Return the billable operation records of an execution's history.

    Parameters
    ----------
    events
        Every history event, in order (concatenate all pages first).
    """
    events = list(events)
    started = sum(1 for event in events if _event_type(event) == "ExecutionStarted")
    recorded = recorded_operations(events)
    children: dict[str, list[RecordedOperation]] = {}
    for operation in recorded:
        if operation.parent_id is not None:
            children.setdefault(operation.parent_id, []).append(operation)

    absorbed: set[str] = set()
    result: list[DurableOperation] = [
        DurableOperation(DurableOperationKind.EXECUTION) for _ in range(started)
    ]
    for operation in recorded:
        if operation.operation_id in absorbed:
            continue
        if operation.event_prefix == "Context":
            kids = children.get(operation.operation_id, [])
            result.append(_context_operation(operation, kids, absorbed))
            continue
        kind = _SINGLE_KINDS.get(operation.event_prefix)
        if kind is None:
            raise CostModelError(f"unknown durable operation in history: {operation!r}")
        attempts = operation.started if kind is DurableOperationKind.STEP else 1
        result.append(DurableOperation(kind, attempts=attempts))
    return tuple(result)


def _payload_bytes(event: Mapping[str, Any]) -> int:
    total = 0
    for key, details in event.items():
        if not key.endswith("Details") or not isinstance(details, Mapping):
            continue
        for member in ("Input", "Result", "Error"):
            wrapper = details.get(member)
            if not isinstance(wrapper, Mapping) or "Payload" not in wrapper:
                continue
            payload = wrapper["Payload"]
            if isinstance(payload, str):
                total += len(payload.encode("utf-8"))
            elif payload is not None:
                total += len(json.dumps(payload, separators=(",", ":"), default=str).encode())
    return total


def _timestamp(event: Mapping[str, Any]) -> datetime | None:
    value = event.get("EventTimestamp")
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return None


def usage_from_history(events: Iterable[Mapping[str, Any]]) -> DurableUsage:
    """Return what an execution used, from its complete history.

    Parameters
    ----------
    events
        Every history event, in order, with execution data included (payload sizes are
        measured from it; without it ``bytes_written`` is 0).
    """
    events = list(events)
    invocations = 0
    checkpoints = 0
    bytes_written = 0
    start: datetime | None = None
    end: datetime | None = None
    status: str | None = None
    for event in events:
        event_type = _event_type(event)
        bytes_written += _payload_bytes(event)
        if event_type == "InvocationCompleted":
            invocations += 1
        elif event_type == "ExecutionStarted":
            start = start or _timestamp(event)
        elif event_type in _TERMINAL_EXECUTION_EVENTS:
            status = _TERMINAL_EXECUTION_EVENTS[event_type]
            end = _timestamp(event)
        if event_type not in _NOT_OPERATION_UPDATES and event_type not in (
            _TERMINAL_EXECUTION_EVENTS
        ):
            checkpoints += 1
    duration_ms = None
    if start is not None and end is not None:
        duration_ms = max(0, int((end - start).total_seconds() * 1000))
    names = tuple(
        operation.name for operation in recorded_operations(events) if operation.name is not None
    )
    return DurableUsage(
        operations=operations_from_history(events),
        invocations=invocations,
        checkpoints=checkpoints,
        bytes_written=bytes_written,
        duration_ms=duration_ms,
        status=status,
        operation_names=names,
    )
