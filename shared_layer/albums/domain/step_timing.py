"""Per-step durations of one execution, read from either pattern's history, on one vocabulary.

Both patterns run the same business steps under the same names, the workflow contract's
:class:`~albums.workflow_contract.Step`: the state machine's state names and the durable
function's operation names alike. Each pattern's history is read with those names, so a
chart compares like with like:

- Step Functions: a top-level state named as a step counts as that step; a state only the
  state machine has (a Choice, a claim read, expiring the validation task) counts in the
  step it belongs to (:data:`~albums.workflow_contract.STATE_MACHINE_ONLY_STATES`); a
  terminal one in none (its time is :data:`FINISH`'s). States inside the Map are the
  Map's.
- Durable functions: a top-level operation named as a step counts as that step (the
  per-album ``EstimatePrice-<n>`` are inside the ``EstimatePrices`` map).

How a step's duration is measured, the same way in both patterns: from the end of the
previous step (or the execution start) to the end of this step. Orchestration overhead
between two steps (a state transition, a checkpoint) is therefore counted in the step
that follows it, and the steps plus :data:`FINISH` add up to the execution's duration.
Only ends are used because they are reliable in both histories:

- Step Functions: ``*StateExited`` events of the top-level states.
- Durable functions: the last ``*Succeeded``/``*Failed`` event of each top-level
  operation. A step's *start* is checkpointed asynchronously (batched with later
  updates), so ``StepStarted`` times can trail the step's real start; a step's end is a
  synchronous checkpoint.

The human validation is split in two: :attr:`StepTimings.review_wait_s` is the reviewer's
time (from the moment the task was ready to the moment the answer arrived: Step
Functions ``TaskSubmitted`` → ``TaskSucceeded``/``TaskFailed``/``TaskTimedOut`` of the
waiting state; durable: the submitter step's end → the callback's end), and
``WaitForValidation`` keeps the rest (creating the task, notifying, pausing and
resuming), which is the orchestration's own work.

Pure Python: events are the APIs' dicts (``GetExecutionHistory`` members ``type``,
``id``, ``previousEventId``, ``timestamp``; ``GetDurableExecutionHistory`` members
``EventType``, ``Id``, ``ParentId``, ``Name``, ``EventTimestamp``); timestamps may be
datetimes or ISO-8601 strings.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any, Final

from albums.domain.errors import AlbumRegistrationError, InvalidRecordError
from albums.domain.records import parse_timestamp
from albums.workflow_contract import Step, step_of_state


class StepTimingError(AlbumRegistrationError):
    """A history lacks what per-step timing needs (its start, its end, a timestamp)."""

    code = "step_timing_invalid"


#: From the last step's end to the execution's end: the key after the steps in
#: :attr:`StepTimings.steps_s`.
FINISH: Final = "finish"
#: Every key :attr:`StepTimings.steps_s` can hold, in workflow order.
TIMED_STEPS: Final[tuple[str, ...]] = (*(step.value for step in Step), FINISH)

#: States whose events between their entry and exit belong to them (Map iterations).
_SF_NESTING_STATES: Final = ("Map", "Parallel")
_SF_EXECUTION_ENDS: Final = frozenset(
    {"ExecutionSucceeded", "ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut"}
)
_SF_TASK_ENDS: Final = frozenset({"TaskSucceeded", "TaskFailed", "TaskTimedOut"})
_DURABLE_EXECUTION_ENDS: Final = frozenset(
    {"ExecutionSucceeded", "ExecutionFailed", "ExecutionTimedOut", "ExecutionStopped"}
)
_DURABLE_OPERATION_END_SUFFIXES: Final = ("Succeeded", "Failed", "TimedOut", "Stopped")
_WAIT_FOR_CALLBACK_SUBTYPE: Final = "WaitForCallback"


@dataclass(frozen=True, slots=True)
class StepTimings:
    """Where one execution's time went.

    Parameters
    ----------
    duration_s
        From the execution's start to its end.
    steps_s
        Seconds per :class:`~albums.workflow_contract.Step` value (and :data:`FINISH`), in
        the order the steps ended; they add up to ``duration_s`` (review wait included in
        ``WaitForValidation``'s share, see :attr:`steps_excluding_review_s`).
    review_wait_s
        The reviewer's share of the human validation (0 when no validation happened).
    estimate_run_s
        Run time of each price estimate that succeeded, when the history holds exact
        start times (Step Functions' Lambda task events); empty otherwise.
    """

    duration_s: float
    steps_s: Mapping[str, float]
    review_wait_s: float = 0.0
    estimate_run_s: tuple[float, ...] = field(default=())

    def __post_init__(self) -> None:
        for name in ("duration_s", "review_wait_s"):
            value = getattr(self, name)
            if value < 0:
                raise StepTimingError(f"{name} must not be negative, got {value}")
        object.__setattr__(self, "steps_s", MappingProxyType(dict(self.steps_s)))

    @property
    def active_s(self) -> float:
        """The duration without the reviewer's time: what the orchestration and steps took."""
        return max(0.0, self.duration_s - self.review_wait_s)

    @property
    def steps_excluding_review_s(self) -> dict[str, float]:
        """:attr:`steps_s` with the reviewer's time taken out of ``WaitForValidation``."""
        steps = dict(self.steps_s)
        key = Step.WAIT_FOR_VALIDATION.value
        if key in steps:
            steps[key] = max(0.0, steps[key] - self.review_wait_s)
        return steps


def _timestamp(value: object, where: str) -> datetime:
    if not isinstance(value, datetime | str):
        raise StepTimingError(f"{where} has no usable timestamp: {value!r}")
    try:
        return parse_timestamp(value, where)
    except InvalidRecordError as error:
        raise StepTimingError(f"{where} has no usable timestamp: {error.message}") from None


def _seconds(start: datetime, end: datetime) -> float:
    return max(0.0, (end - start).total_seconds())


def _steps_from_ends(
    start: datetime, end: datetime, ends: Sequence[tuple[datetime, Step]]
) -> dict[str, float]:
    """Split ``start``..``end`` at each step's end, in time order (ties keep input order)."""
    steps: dict[str, float] = {}
    previous = start
    for ended, step in sorted(ends, key=lambda pair: pair[0]):
        moment = min(max(ended, previous), end)
        steps[step.value] = steps.get(step.value, 0.0) + _seconds(previous, moment)
        previous = moment
    steps[FINISH] = _seconds(previous, end)
    return steps


# --- Step Functions ------------------------------------------------------------------------


def _sf_state_name(event: Mapping[str, Any]) -> str | None:
    for key in ("stateEnteredEventDetails", "stateExitedEventDetails"):
        details = event.get(key)
        if isinstance(details, Mapping) and isinstance(details.get("name"), str):
            return str(details["name"])
    return None


class _StepFunctionsHistory:
    """Reads a Step Functions history event by event (see the module docstring)."""

    def __init__(self) -> None:
        self.start: datetime | None = None
        self.end: datetime | None = None
        self.ends: list[tuple[datetime, Step]] = []
        # Map and Parallel states entered and not yet exited: states inside are theirs.
        self.nesting = 0
        # Every event belongs to the state entry its previousEventId chain leads to.
        self.entry_of: dict[int, int] = {}
        self.entered_name: dict[int, str] = {}
        self.task_started: dict[int, datetime] = {}
        self.pause: datetime | None = None
        self.answer: datetime | None = None
        self.estimates: list[float] = []

    def read(self, event: Mapping[str, Any]) -> None:
        event_type, event_id = event.get("type"), event.get("id")
        if not isinstance(event_type, str) or not isinstance(event_id, int):
            raise StepTimingError(f"history event needs a string type and an id: {event!r}")
        moment = _timestamp(event.get("timestamp"), f"event {event_id} ({event_type})")
        if event_type == "ExecutionStarted":
            self.start = moment
        elif event_type in _SF_EXECUTION_ENDS:
            self.end = moment
        if event_type.endswith("StateEntered"):
            self.entry_of[event_id] = event_id
            self.entered_name[event_id] = _sf_state_name(event) or ""
            if event_type.removesuffix("StateEntered") in _SF_NESTING_STATES:
                self.nesting += 1
            return
        previous = event.get("previousEventId")
        entry = self.entry_of.get(previous) if isinstance(previous, int) else None
        if entry is not None:
            self.entry_of[event_id] = entry
        state = self.entered_name.get(entry, "") if entry is not None else ""
        if event_type.endswith("StateExited"):
            self._read_exit(event, event_type, moment)
        elif event_type == "TaskStarted":
            self.task_started[event_id] = moment
        elif state == Step.WAIT_FOR_VALIDATION:
            self._read_wait(event_type, moment)
        elif state == Step.ESTIMATE_PRICE and event_type == "TaskSucceeded":
            started = self.task_started.get(previous) if isinstance(previous, int) else None
            if started is not None:
                self.estimates.append(_seconds(started, moment))

    def _read_exit(self, event: Mapping[str, Any], event_type: str, moment: datetime) -> None:
        if event_type.removesuffix("StateExited") in _SF_NESTING_STATES:
            self.nesting = max(0, self.nesting - 1)
        if self.nesting:
            return  # a state inside the Map: the Map's exit times it
        step = step_of_state(_sf_state_name(event) or "")
        if step is not None:
            self.ends.append((moment, step))

    def _read_wait(self, event_type: str, moment: datetime) -> None:
        if event_type == "TaskSubmitted":
            self.pause = moment
        elif event_type in _SF_TASK_ENDS:
            self.answer = moment

    def timings(self) -> StepTimings:
        if self.start is None or self.end is None:
            raise StepTimingError("the history has no ExecutionStarted or no end event")
        review = 0.0
        if self.pause is not None and self.answer is not None:
            review = _seconds(self.pause, self.answer)
        return StepTimings(
            duration_s=_seconds(self.start, self.end),
            steps_s=_steps_from_ends(self.start, self.end, self.ends),
            review_wait_s=review,
            estimate_run_s=tuple(self.estimates),
        )


def step_functions_step_timings(events: Iterable[Mapping[str, Any]]) -> StepTimings:
    """Return the per-step timings of an ended Step Functions execution.

    Parameters
    ----------
    events
        Every ``GetExecutionHistory`` event (all pages, oldest first).

    Raises
    ------
    StepTimingError
        The history has no start or no end, or an event lacks its type, id or timestamp.
    """
    history = _StepFunctionsHistory()
    for event in events:
        history.read(event)
    return history.timings()


# --- durable functions ---------------------------------------------------------------------


def _step_named(name: object) -> Step | None:
    """Return the step a durable operation's name is (``None``: not a step's name)."""
    if not isinstance(name, str):
        return None
    try:
        return Step(name)
    except ValueError:
        return None


def durable_step_timings(events: Iterable[Mapping[str, Any]]) -> StepTimings:
    """Return the per-step timings of an ended durable execution.

    Parameters
    ----------
    events
        Every ``GetDurableExecutionHistory`` event (all pages, oldest first), or the local
        testing runner's events as dicts (``Event.to_dict()``).

    Raises
    ------
    StepTimingError
        The history has no start or no end, or an event lacks its type or timestamp.
    """
    start: datetime | None = None
    end: datetime | None = None
    last_end: dict[str, tuple[datetime, Step]] = {}
    waits: set[str] = set()
    pause: dict[str, datetime] = {}
    answer: dict[str, datetime] = {}
    for event in events:
        event_type = event.get("EventType")
        if not isinstance(event_type, str):
            raise StepTimingError(f"history event needs a string EventType: {event!r}")
        moment = _timestamp(event.get("EventTimestamp"), f"{event_type} event")
        if event_type == "ExecutionStarted":
            start = moment
            continue
        if event_type in _DURABLE_EXECUTION_ENDS:
            end = moment
            continue
        operation_id, parent = event.get("Id"), event.get("ParentId")
        if not isinstance(operation_id, str):
            continue
        if event.get("SubType") == _WAIT_FOR_CALLBACK_SUBTYPE:
            waits.add(operation_id)
        if not event_type.endswith(_DURABLE_OPERATION_END_SUFFIXES):
            continue
        if isinstance(parent, str) and parent in waits:
            # The submitter's end is when the task is ready; the callback's, the answer.
            if event_type.startswith("Step"):
                pause[parent] = moment
            elif event_type.startswith("Callback"):
                answer[parent] = moment
            continue
        step = _step_named(event.get("Name"))
        if parent is None and step is not None:
            last_end[operation_id] = (moment, step)
    if start is None or end is None:
        raise StepTimingError("the history has no ExecutionStarted or no end event")
    review = sum(
        (_seconds(pause[wait], answer[wait]) for wait in waits if wait in pause and wait in answer),
        0.0,
    )
    return StepTimings(
        duration_s=_seconds(start, end),
        steps_s=_steps_from_ends(start, end, list(last_end.values())),
        review_wait_s=review,
    )
