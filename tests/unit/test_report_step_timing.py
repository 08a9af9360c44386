"""Per-step timings from both patterns' histories, on one vocabulary."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from albums.domain.step_timing import (
    FINISH,
    TIMED_STEPS,
    StepTimingError,
    durable_step_timings,
    step_functions_step_timings,
)
from albums.workflow_contract import STATE_MACHINE_ONLY_STATES, Step
from localmode.templatefile import STATE_MACHINE_TEMPLATE, placeholders, render

T0 = datetime(2026, 11, 23, 10, 0, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


class SfHistory:
    """Builds a Step Functions history: ids and previousEventId chains as the service does."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def add(self, kind: str, seconds: float, previous: int = 0, **extra: Any) -> int:
        event_id = len(self.events) + 1
        self.events.append(
            {
                "id": event_id,
                "previousEventId": previous,
                "type": kind,
                "timestamp": at(seconds),
                **extra,
            }
        )
        return event_id

    def task_state(
        self, name: str, entered: float, started: float, ended: float, previous: int
    ) -> int:
        entry = self.add(
            "TaskStateEntered", entered, previous, stateEnteredEventDetails={"name": name}
        )
        scheduled = self.add("TaskScheduled", entered, entry)
        begun = self.add("TaskStarted", started, scheduled)
        done = self.add("TaskSucceeded", ended, begun)
        return self.add("TaskStateExited", ended, done, stateExitedEventDetails={"name": name})

    def state(self, kind: str, name: str, entered: float, exited: float, previous: int) -> int:
        """A state without task events (Choice, Pass, Succeed)."""
        entry = self.add(
            f"{kind}StateEntered", entered, previous, stateEnteredEventDetails={"name": name}
        )
        return self.add(f"{kind}StateExited", exited, entry, stateExitedEventDetails={"name": name})


def happy_sf_history() -> list[dict[str, Any]]:
    """CheckUpload 0-0.02 and AcceptUpload to 0.1, ProcessImage (entered 0.12) to 1.6,
    StoreInitialData to 1.7, wait (ready at 1.8, answered at 4.8) to 5.0, apply to 5.1,
    two estimates of 0.4 s in a Map to 5.6, store to 5.7, end at 5.75."""
    h = SfHistory()
    last = h.add("ExecutionStarted", 0.0)
    last = h.state("Choice", "CheckUpload", 0.0, 0.02, last)
    last = h.task_state("AcceptUpload", 0.02, 0.03, 0.1, last)
    last = h.task_state("ProcessImage", 0.12, 0.13, 1.6, last)
    last = h.task_state("StoreInitialData", 1.6, 1.61, 1.7, last)
    entry = h.add(
        "TaskStateEntered", 1.7, last, stateEnteredEventDetails={"name": "WaitForValidation"}
    )
    scheduled = h.add("TaskScheduled", 1.7, entry)
    started = h.add("TaskStarted", 1.71, scheduled)
    submitted = h.add("TaskSubmitted", 1.8, started)
    answered = h.add("TaskSucceeded", 4.8, submitted)
    last = h.add(
        "TaskStateExited", 5.0, answered, stateExitedEventDetails={"name": "WaitForValidation"}
    )
    last = h.task_state("ApplyValidation", 5.0, 5.01, 5.1, last)
    map_entry = h.add(
        "MapStateEntered", 5.1, last, stateEnteredEventDetails={"name": "EstimatePrices"}
    )
    map_started = h.add("MapStateStarted", 5.1, map_entry)
    iterations = []
    for offset in (0.0, 0.05):
        iteration = h.add("MapIterationStarted", 5.12 + offset, map_started)
        iterations.append(
            h.task_state("EstimatePrice", 5.12, 5.13 + offset, 5.53 + offset, iteration)
        )
    done = h.add("MapStateSucceeded", 5.6, iterations[-1])
    last = h.add("MapStateExited", 5.6, done, stateExitedEventDetails={"name": "EstimatePrices"})
    last = h.task_state("StoreResults", 5.6, 5.61, 5.7, last)
    h.add("ExecutionSucceeded", 5.75, last)
    return h.events


def test_step_functions_steps_split_the_execution_at_each_step_end() -> None:
    timings = step_functions_step_timings(happy_sf_history())

    assert timings.duration_s == pytest.approx(5.75)
    steps = timings.steps_s
    assert list(steps) == [
        "AcceptUpload",  # CheckUpload's 0.02 s is AcceptUpload's: the state belongs to it
        "ProcessImage",  # the 0.02 s transition before it is counted here, in the next step
        "StoreInitialData",
        "WaitForValidation",
        "ApplyValidation",
        "EstimatePrices",  # the Map's inner EstimatePrice states are the Map's
        "StoreResults",
        FINISH,
    ]
    assert steps["AcceptUpload"] == pytest.approx(0.1)
    assert steps["ProcessImage"] == pytest.approx(1.5)
    assert steps["EstimatePrices"] == pytest.approx(0.5)
    assert steps[FINISH] == pytest.approx(0.05)
    assert sum(steps.values()) == pytest.approx(timings.duration_s)


def test_step_functions_review_wait_is_task_ready_to_answer() -> None:
    timings = step_functions_step_timings(happy_sf_history())

    assert timings.review_wait_s == pytest.approx(3.0)
    assert timings.steps_s["WaitForValidation"] == pytest.approx(3.3)
    assert timings.steps_excluding_review_s["WaitForValidation"] == pytest.approx(0.3)
    assert timings.active_s == pytest.approx(2.75)


def test_step_functions_estimate_run_times_are_each_lambda_task() -> None:
    timings = step_functions_step_timings(happy_sf_history())

    assert timings.estimate_run_s == pytest.approx((0.4, 0.4))


def test_step_functions_timestamps_may_be_iso_strings() -> None:
    events = [
        {**event, "timestamp": event["timestamp"].isoformat().replace("+00:00", "Z")}
        for event in happy_sf_history()
    ]

    assert step_functions_step_timings(events).duration_s == pytest.approx(5.75)


def test_expiring_the_task_after_a_timeout_counts_as_apply_validation() -> None:
    h = SfHistory()
    last = h.add("ExecutionStarted", 0.0)
    entry = h.add(
        "TaskStateEntered", 0.0, last, stateEnteredEventDetails={"name": "WaitForValidation"}
    )
    submitted = h.add("TaskSubmitted", 0.1, entry)
    timed_out = h.add("TaskTimedOut", 2.1, submitted)
    last = h.add(
        "TaskStateExited", 2.1, timed_out, stateExitedEventDetails={"name": "WaitForValidation"}
    )
    last = h.task_state("ExpireValidationTask", 2.1, 2.1, 2.2, last)
    last = h.task_state("ApplyValidation", 2.2, 2.2, 2.3, last)
    h.add("ExecutionSucceeded", 2.3, last)

    timings = step_functions_step_timings(h.events)

    assert timings.review_wait_s == pytest.approx(2.0)
    assert timings.steps_s["ApplyValidation"] == pytest.approx(0.2)
    assert "ExpireValidationTask" not in timings.steps_s


def test_a_duplicate_counts_in_accept_upload_and_its_end_state_in_none() -> None:
    h = SfHistory()
    last = h.add("ExecutionStarted", 0.0)
    last = h.state("Choice", "CheckUpload", 0.0, 0.01, last)
    entry = h.add("TaskStateEntered", 0.01, last, stateEnteredEventDetails={"name": "AcceptUpload"})
    failed = h.add("TaskFailed", 0.05, entry)  # the claim exists: caught
    last = h.add("TaskStateExited", 0.05, failed, stateExitedEventDetails={"name": "AcceptUpload"})
    last = h.task_state("ReadClaim", 0.05, 0.05, 0.08, last)
    last = h.state("Choice", "IsOwnClaim", 0.08, 0.09, last)
    last = h.task_state("RecordDuplicate", 0.09, 0.09, 0.12, last)
    last = h.state("Succeed", "Duplicate", 0.12, 0.13, last)
    h.add("ExecutionSucceeded", 0.15, last)

    timings = step_functions_step_timings(h.events)

    assert timings.steps_s == pytest.approx({"AcceptUpload": 0.12, FINISH: 0.03})


def test_a_rejection_counts_in_reject_execution() -> None:
    h = SfHistory()
    last = h.add("ExecutionStarted", 0.0)
    entry = h.add(
        "TaskStateEntered", 0.0, last, stateEnteredEventDetails={"name": "WaitForValidation"}
    )
    submitted = h.add("TaskSubmitted", 0.1, entry)
    rejected = h.add("TaskFailed", 1.1, submitted)
    last = h.add(
        "TaskStateExited", 1.1, rejected, stateExitedEventDetails={"name": "WaitForValidation"}
    )
    last = h.task_state("RejectValidationTask", 1.1, 1.1, 1.2, last)
    last = h.task_state("RejectExecution", 1.2, 1.2, 1.4, last)
    last = h.state("Succeed", "Rejected", 1.4, 1.4, last)
    h.add("ExecutionSucceeded", 1.5, last)

    timings = step_functions_step_timings(h.events)

    assert timings.steps_s == pytest.approx(
        {"WaitForValidation": 1.1, "RejectExecution": 0.3, FINISH: 0.1}
    )
    assert timings.review_wait_s == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("events", "message"),
    [
        ([{"id": 1, "type": "ExecutionStarted", "timestamp": T0}], "no end event"),
        ([{"type": "ExecutionStarted", "timestamp": T0}], "needs a string type and an id"),
        ([{"id": 1, "type": "ExecutionStarted", "timestamp": "yesterday"}], "no usable timestamp"),
    ],
)
def test_step_functions_unusable_histories_raise_a_typed_error(
    events: list[dict[str, Any]], message: str
) -> None:
    with pytest.raises(StepTimingError, match=message):
        step_functions_step_timings(events)


# --- durable ---------------------------------------------------------------------------------


def durable_events() -> Iterator[dict[str, Any]]:
    """A durable history as the runner records it: batched starts, a retried step."""

    def event(kind: str, seconds: float, **extra: Any) -> dict[str, Any]:
        return {"EventType": kind, "EventTimestamp": at(seconds), **extra}

    yield event("ExecutionStarted", 0.0, Id="execution", Name="run")
    for name, begin, end in (
        ("AcceptUpload", 0.05, 0.05),  # start checkpointed late: same time as the end
        ("ProcessImage", 0.3, 1.6),
        ("StoreInitialData", 1.7, 1.7),
    ):
        yield event("StepStarted", begin, Id=name, Name=name, SubType="Step")
        yield event("StepSucceeded", end, Id=name, Name=name, SubType="Step")
    wait = {"Id": "wait", "Name": "WaitForValidation", "SubType": "WaitForCallback"}
    yield event("ContextStarted", 1.75, **wait)
    callback = {"Id": "cb", "ParentId": "wait", "Name": "WaitForValidation create callback id"}
    yield event("CallbackStarted", 1.75, SubType="Callback", **callback)
    submitter = {"Id": "sub", "ParentId": "wait", "Name": "WaitForValidation submitter"}
    yield event("StepStarted", 1.8, SubType="Step", **submitter)
    yield event("StepSucceeded", 1.9, SubType="Step", **submitter)
    yield event("InvocationCompleted", 2.0)
    yield event("CallbackSucceeded", 3.9, SubType="Callback", **callback)
    yield event("ContextSucceeded", 4.4, **wait)
    yield event("StepSucceeded", 4.5, Id="apply", Name="ApplyValidation", SubType="Step")
    the_map = {"Id": "map", "Name": "EstimatePrices", "SubType": "Map"}
    yield event("ContextStarted", 4.6, **the_map)
    price = {"Id": "p1", "ParentId": "map", "Name": "EstimatePrice-1", "SubType": "Step"}
    yield event("StepStarted", 4.6, **price)
    yield event("StepFailed", 4.9, **price)  # retried: the step's last end counts
    yield event("StepStarted", 5.0, **price)
    yield event("StepSucceeded", 5.3, **price)
    yield event("ContextSucceeded", 5.35, **the_map)
    yield event("StepSucceeded", 5.5, Id="store", Name="StoreResults", SubType="Step")
    yield event("InvocationCompleted", 5.6)
    yield event("ExecutionSucceeded", 5.7, Id="execution", Name="run")


def test_durable_steps_are_timed_from_end_to_end_on_the_same_vocabulary() -> None:
    timings = durable_step_timings(list(durable_events()))

    assert timings.duration_s == pytest.approx(5.7)
    assert timings.steps_s == pytest.approx(
        {
            "AcceptUpload": 0.05,
            "ProcessImage": 1.55,
            "StoreInitialData": 0.1,
            "WaitForValidation": 2.7,
            "ApplyValidation": 0.1,
            "EstimatePrices": 0.85,
            "StoreResults": 0.15,
            FINISH: 0.2,
        }
    )
    assert sum(timings.steps_s.values()) == pytest.approx(timings.duration_s)
    assert timings.estimate_run_s == ()


def test_durable_review_wait_is_submitter_end_to_callback_end() -> None:
    timings = durable_step_timings(list(durable_events()))

    assert timings.review_wait_s == pytest.approx(2.0)
    # Creating the task, suspending and the replay that resumes are orchestration.
    assert timings.steps_excluding_review_s["WaitForValidation"] == pytest.approx(0.7)


def test_durable_history_without_an_end_raises_a_typed_error() -> None:
    events = [e for e in durable_events() if e["EventType"] != "ExecutionSucceeded"]

    with pytest.raises(StepTimingError, match="no end event"):
        durable_step_timings(events)


# --- the vocabulary matches the code -----------------------------------------------------------


def test_the_timed_steps_are_the_contract_steps_then_finish() -> None:
    in_order = (*[step.value for step in Step], FINISH)
    assert in_order == TIMED_STEPS
    assert FINISH not in set(Step)


def test_every_state_of_the_template_is_a_step_or_belongs_to_one() -> None:
    """The state machine's states are the contract's steps and its own states, no other."""
    text = STATE_MACHINE_TEMPLATE.read_text()
    definition = json.loads(render(text, dict.fromkeys(placeholders(text), 0)))
    states = definition["States"]
    steps = {step.value for step in Step}
    top_level = set(states)
    (processor,) = [s["ItemProcessor"]["States"] for s in states.values() if s["Type"] == "Map"]
    assert top_level <= steps | set(STATE_MACHINE_ONLY_STATES)
    assert set(processor) <= steps | set(STATE_MACHINE_ONLY_STATES)
    # Every step is a state somewhere, and every state the contract names exists.
    assert steps | set(STATE_MACHINE_ONLY_STATES) == top_level | set(processor)
    assert states[Step.ESTIMATE_PRICES]["Type"] == "Map"
    assert Step.ESTIMATE_PRICE in processor
