"""Faults of issue 8, each injected into both patterns at once (where it applies).

Every test here runs one upload through the Step Functions pattern and the durable
pattern on one local stack, injects the fault into each, and checks the outcome in both:
the execution's status, how often the faulted step ran, and the table (one claim, one
execution record, six albums, one task: :func:`localmode.load.audit_pattern`).

Faults tested elsewhere (not repeated here):

- vision throttled, then succeeding after backoff:
  ``test_step_functions_workflow.py::test_vision_throttled_twice_then_fine_completes_after_backoff``
  and ``test_durable_pattern.py::test_vision_throttled_twice_then_fine``;
- vision throttled until the retries are used up, ending ``failed`` with its cause and step:
  ``test_step_functions_workflow.py::test_vision_throttled_always_fails_with_error_cause_and_step``
  and ``test_durable_pattern.py::test_vision_always_failing_marks_the_execution_failed``;
- the durable process dying after a side effect and before its checkpoint (replayed, no
  duplicate): ``test_durable_replay.py::``
  ``test_a_crash_before_the_checkpoint_reruns_the_step_without_duplicates``;
- the review wait's heartbeat timeout (Step Functions) and callback timeout (durable):
  ``test_step_functions_workflow.py::test_validation_timeout_keeps_the_original_data`` and
  ``test_durable_pattern.py::test_validation_timeout_continues_with_the_original_data``.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from albums.adapters import clients
from albums.adapters.task_tokens import TaskTokenResumer
from albums.domain import keys
from albums.domain.errors import TaskNotPendingError
from albums.domain.models import ExecutionStatus, PriceStatus, TaskStatus
from albums.workflow_contract import Step
from image_processor import handler as image_processor
from localmode.pricing import ProgrammablePriceSource
from tests.integration.fault_support import (
    DETECTED_YEARS,
    LDF,
    PATTERNS,
    SF,
    BothPatterns,
    ClientFault,
    both_patterns,
    durable_step_attempts,
    sf_state_attempts,
    tenant_of,
)

pytestmark = pytest.mark.integration

Params = Mapping[str, Any]


def _entity(params: Params) -> str | None:
    item = params.get("Item", {})
    return item.get("entityType", {}).get("S") if isinstance(item, Mapping) else None


def _writes_albums(params: Params) -> bool:
    """The initial data transaction: the execution record and six album puts."""
    puts = [i["Put"] for i in params.get("TransactItems", []) if "Put" in i]
    return any(str(p["Item"]["sk"]["S"]).startswith("album#") for p in puts)


def _writes_prices(params: Params) -> bool:
    """The price results transaction: album updates that set ``priceStatus``."""
    updates = [i["Update"] for i in params.get("TransactItems", []) if "Update" in i]
    return any(
        "priceStatus" in u.get("ExpressionAttributeNames", {}).values()
        or "priceStatus" in u.get("UpdateExpression", "")
        for u in updates
    )


#: (operation, picks the write, error code, after the write?, step): the step that must run
#: exactly twice, the same name in both patterns (the state machine writes the table from
#: its own states, the durable function from its steps).
WRITE_FAULTS = {
    "claim written, its answer lost": (
        "PutItem",
        lambda p: _entity(p) == "claim",
        "InternalServerError",
        True,
        Step.ACCEPT_UPLOAD,
    ),
    "claim throttled": (
        "PutItem",
        lambda p: _entity(p) == "claim",
        "ProvisionedThroughputExceededException",
        False,
        Step.ACCEPT_UPLOAD,
    ),
    "initial data throttled": (
        "TransactWriteItems",
        _writes_albums,
        "ProvisionedThroughputExceededException",
        False,
        Step.STORE_INITIAL_DATA,
    ),
    "initial data written, its answer lost": (
        "TransactWriteItems",
        _writes_albums,
        "InternalServerError",
        True,
        Step.STORE_INITIAL_DATA,
    ),
    "price results throttled": (
        "TransactWriteItems",
        _writes_prices,
        "ProvisionedThroughputExceededException",
        False,
        Step.STORE_RESULTS,
    ),
}


@pytest.mark.parametrize("fault", sorted(WRITE_FAULTS))
def test_a_failed_dynamodb_write_is_retried_and_nothing_is_written_twice(fault: str) -> None:
    operation, picks, code, after, step = WRITE_FAULTS[fault]
    with both_patterns() as run, contextlib.ExitStack() as hooks:
        dynamodb = clients.get("dynamodb")  # the client every handler and step writes with
        faults = {
            pattern: hooks.enter_context(
                ClientFault(
                    dynamodb,
                    operation,
                    code,
                    when=lambda p, tenant=pattern.tenant: picks(p) and tenant_of(p) == {tenant},
                    after=after,
                    new_clients=True,
                )
            )
            for pattern in PATTERNS
        }
        upload = run.upload()
        run.wait_paused(upload)
        run.accept(upload)
        outcome = run.finish(upload)
        audit = run.audit({upload.upload_id: DETECTED_YEARS})
        sf_history = run.step_functions.history(upload.arns[SF])
        durable_history = run.durable.history(upload.arns[LDF])

    assert outcome == {SF: "completed", LDF: "completed"}
    assert {pattern: len(f.fired) for pattern, f in faults.items()} == {SF: 1, LDF: 1}
    assert sf_state_attempts(sf_history, step) == 2
    assert durable_step_attempts(durable_history, step) == 2
    for pattern in PATTERNS:
        assert (audit[pattern].completed, audit[pattern].lost) == (1, 0), audit[pattern].problems
        assert audit[pattern].duplicated == 0, audit[pattern].problems
    assert run.stack.vision.calls == 2  # the retried step did not re-run the vision call


def test_a_price_source_down_for_every_album_completes_with_errors_and_six_failures() -> None:
    down = {pattern: ProgrammablePriceSource() for pattern in PATTERNS}
    for source in down.values():
        for index in range(1, 7):
            source.fail_transiently(index, 1000)  # unavailable for longer than any retry
    with both_patterns(sf_prices=down[SF], durable_prices=down[LDF]) as run:
        upload = run.upload()
        run.wait_paused(upload)
        run.accept(upload)
        outcome = run.finish(upload)
        history = run.durable.history(upload.arns[LDF])
        stored = {
            pattern: run.stack.repository(pattern).get_albums(upload.execution_id(pattern))
            for pattern in PATTERNS
        }
        records = {
            pattern: run.stack.repository(pattern).get_execution(upload.execution_id(pattern))
            for pattern in PATTERNS
        }

    assert outcome == {SF: "completed_with_errors", LDF: "completed_with_errors"}
    for pattern in PATTERNS:
        assert records[pattern].status is ExecutionStatus.COMPLETED_WITH_ERRORS
        assert [a.price_status for a in stored[pattern]] == [PriceStatus.FAILED] * 6
        assert {a.price_error for a in stored[pattern]} == {"PriceSourceUnavailableError"}
        assert all(a.price is None for a in stored[pattern])
    # Each album was retried on its own, 1 + 3 retries in both patterns (ASL MaxAttempts 3,
    # the durable strategy's 4 attempts in all).
    assert dict(down[SF].calls) == dict.fromkeys(range(1, 7), 4)
    assert [durable_step_attempts(history, f"EstimatePrice-{i}") for i in range(1, 7)] == [4] * 6
    # A durable step runs at least once per attempt (the SDK's default
    # AT_LEAST_ONCE_PER_RETRY): an attempt in flight when a sibling's retry suspends the
    # invocation runs again on the next one, so the source may see more calls than attempts.
    assert all(down[LDF].calls[i] >= 4 for i in range(1, 7)), dict(down[LDF].calls)


Handler = Callable[[Any, Any], Any]


class LambdaTimeout:
    """Runs a Lambda handler as Lambda does with a function timeout.

    When the handler outlives ``seconds``, the invocation ends with the error Lambda
    reports for it (``Sandbox.Timedout``, "Task timed out after ..."); the late handler
    thread is left to finish and its result dropped, as Lambda drops a stopped sandbox's.
    """

    def __init__(self, handler: Handler, seconds: float) -> None:
        self.handler = handler
        self.seconds = seconds
        self.late: list[threading.Thread] = []

    def __call__(self, event: Any, context: Any) -> Any:
        result: Future[Any] = Future()

        def run() -> None:
            try:
                result.set_result(self.handler(event, context))
            except BaseException as error:  # relayed to the invocation
                result.set_exception(error)

        thread = threading.Thread(target=run, name="lambda-sandbox", daemon=True)
        thread.start()
        thread.join(self.seconds)
        if thread.is_alive():
            self.late.append(thread)
            # The error type Lambda reports has a dot; the local dispatch names errors
            # after the exception's class.
            timed_out = type("Sandbox.Timedout", (Exception,), {})
            raise timed_out(f"Task timed out after {self.seconds:.2f} seconds")
        return result.result()


def test_a_step_functions_task_that_outlives_its_lambda_timeout_fails_the_execution() -> None:
    with both_patterns() as run:
        hung = LambdaTimeout(image_processor.handler, seconds=0.5)
        run.stack.registry.register("sf-image_processor", hung)
        run.stack.vision.latency_s = 3.0  # the model hangs far beyond the function timeout
        upload = run.upload()
        described = run.step_functions.wait_for_end(upload.arns[SF], timeout=20)
        record = run.stack.repository(SF).get_execution(upload.execution_id(SF))
        attempts = sf_state_attempts(run.step_functions.history(upload.arns[SF]), "ProcessImage")
        for thread in hung.late:
            thread.join(10)
        # The durable pattern has no such timeout here: it pauses, and the answer ends it.
        run.durable.wait_for_task(upload.execution_id(LDF), timeout=20)
        answer = run.accept(upload)
        durable_end = run.durable.wait(upload.arns[LDF], timeout=20)

    assert described["status"] == "FAILED"
    assert described["error"] == "Sandbox.Timedout"
    assert attempts == 1  # a timeout is not in the task's Retry list: no second 30 s wait
    assert record.status is ExecutionStatus.FAILED
    assert record.failure is not None
    assert record.failure.error == "Sandbox.Timedout"
    assert record.failure.step == "ProcessImage"
    assert "timed out after 0.50 seconds" in record.failure.cause
    assert answer["resumed"] == [str(LDF)]  # the failed execution has no task to answer
    assert durable_end.result["status"] == "completed"


def test_the_review_wait_ends_on_its_timeout_seconds_even_while_heartbeats_arrive() -> None:
    """``TimeoutSeconds`` of WaitForValidation bounds the wait, heartbeats or not."""
    with both_patterns(timeout=3, heartbeat=2) as run:
        upload = run.upload()
        task = run.wait_paused(upload)[SF]
        ended = threading.Event()

        def heartbeats() -> None:  # keeps HeartbeatSeconds (2 s) from firing first
            while not ended.wait(0.5):
                try:
                    run.stack.stepfunctions.send_task_heartbeat(taskToken=task.resume_token)
                except Exception:  # the wait ended meanwhile
                    return

        beating = threading.Thread(target=heartbeats, daemon=True)
        beating.start()
        began = time.monotonic()
        try:
            described = run.step_functions.wait_for_end(upload.arns[SF], timeout=20)
        finally:
            ended.set()
            beating.join()
        waited = time.monotonic() - began
        history = run.step_functions.history(upload.arns[SF])
        stored = run.stack.repository(SF).get_albums(upload.execution_id(SF))
        closed = run.stack.repository(SF).get_task(task.task_id)
        run.durable.wait(upload.arns[LDF], timeout=20)

    assert described["status"] == "SUCCEEDED"
    timeouts = [
        e["taskTimedOutEventDetails"]["error"] for e in history if e["type"] == "TaskTimedOut"
    ]
    assert timeouts == ["States.Timeout"]  # not States.HeartbeatTimeout
    assert waited < 10
    assert closed.status is TaskStatus.TIMEOUT
    assert [a.album.year for a in stored] == list(DETECTED_YEARS)
    assert not any(a.year_validated for a in stored)


def test_a_failed_notification_still_pauses_both_workflows_and_lists_their_tasks() -> None:
    with both_patterns() as run:
        publish = ClientFault(clients.get("sns"), "Publish", "InternalError", times=10)
        upload = run.upload()
        tasks = run.wait_paused(upload)
        pending = {
            pattern: {t.task_id for t in run.stack.repository(pattern).list_pending_tasks().items}
            for pattern in PATTERNS
        }
        statuses = {
            pattern: run.stack.repository(pattern)
            .get_execution(upload.execution_id(pattern))
            .status
            for pattern in PATTERNS
        }
        answer = run.accept(upload)
        outcome = run.finish(upload)

    assert publish.fired, "no notification was attempted"
    for pattern in PATTERNS:
        assert tasks[pattern].task_id in pending[pattern]
        assert statuses[pattern] is ExecutionStatus.AWAITING_VALIDATION
    assert sorted(answer["resumed"]) == sorted(str(p) for p in PATTERNS)
    assert outcome == {SF: "completed", LDF: "completed"}


def _snapshot(run: BothPatterns) -> list[dict[str, Any]]:
    return sorted(run.items(), key=lambda item: (item["pk"], item["sk"]))


def test_answering_after_the_review_was_answered_changes_nothing() -> None:
    with both_patterns() as run:
        upload = run.upload()
        tasks = run.wait_paused(upload)
        link = run.link(upload)
        run.accept(upload)
        assert run.finish(upload) == {SF: "completed", LDF: "completed"}
        before = _snapshot(run)

        again = run.server.client.correct_years(link, {1: 1960})
        rejected = run.server.client.reject(link, "too late")
        with pytest.raises(TaskNotPendingError):
            TaskTokenResumer(run.stack.stepfunctions).succeed(tasks[SF].resume_token, {})
        with pytest.raises(TaskNotPendingError):
            run.durable.resumer.succeed(tasks[LDF].resume_token, {"corrections": []})
        after = _snapshot(run)

    assert (again.status, again.body["error"]) == (409, "task_not_pending")
    assert (rejected.status, rejected.body["error"]) == (409, "task_not_pending")
    assert after == before


def test_answering_after_the_review_timed_out_changes_nothing() -> None:
    with both_patterns(timeout=2, heartbeat=1) as run:
        upload = run.upload()
        run.wait_paused(upload)
        # A link that outlives the review: the refusal comes from the tasks, not the link.
        link = run.server.link_for(upload.upload_id, datetime.now(UTC) + timedelta(hours=1))
        assert run.finish(upload) == {SF: "completed", LDF: "completed"}
        before = _snapshot(run)

        late = run.server.client.correct_years(link, {1: 1960})
        review = run.server.client.review(link)
        after = _snapshot(run)
        task_ids = [keys.task_id_for(p, upload.execution_id(p)) for p in PATTERNS]
        statuses = [
            run.stack.repository(p).get_task(t).status
            for p, t in zip(PATTERNS, task_ids, strict=True)
        ]

    assert (late.status, late.body["error"]) == (410, "task_expired")
    assert review.status == 200
    assert review.body["state"] == "expired"
    assert statuses == [TaskStatus.TIMEOUT, TaskStatus.TIMEOUT]
    assert after == before
