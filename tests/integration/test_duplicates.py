"""Duplicates and ordering (issue 8): repeated events, repeated answers, new object versions.

Both patterns run on one local stack (:func:`tests.integration.fault_support.both_patterns`).
"Nothing duplicated" is checked on the table with :func:`localmode.load.audit_pattern`: per
pattern and upload one claim, one execution that processed it (others end ``duplicate``,
pointing at it, and write nothing else), six albums and one task.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest

from albums.domain.models import ExecutionStatus, WorkflowType
from albums.domain.records import ExecutionRecord
from tests.integration.fault_support import (
    DETECTED_YEARS,
    LDF,
    PATTERNS,
    SF,
    BothPatterns,
    CallLog,
    both_patterns,
    photo,
)

pytestmark = pytest.mark.integration

T = TypeVar("T")


def at_once(calls: Sequence[Callable[[], T]]) -> list[T]:
    """Run every call from its own thread, all released at the same moment."""
    gate = threading.Barrier(len(calls))

    def run(call: Callable[[], T]) -> T:
        gate.wait()
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def records_of(run: BothPatterns, pattern: WorkflowType, upload_id: str) -> list[ExecutionRecord]:
    """Every execution record of ``pattern`` for the upload (all pages)."""
    repository = run.stack.repository(pattern)
    return [r for r in repository.iter_executions() if r.upload.upload_id == upload_id]


def finish_all(run: BothPatterns, since: tuple[int, int] = (0, 0)) -> dict[WorkflowType, list[str]]:
    """Wait for the executions started since ``since`` (counts per pattern); return outcomes.

    (The durable testing runner answers one wait per ended execution: wait once.)
    """
    statuses: dict[WorkflowType, list[str]] = {SF: [], LDF: []}
    for arn in run.step_functions.started[since[0] :]:
        described = run.step_functions.wait_for_end(arn, timeout=30)
        assert described["status"] == "SUCCEEDED", described
        statuses[SF].append(json.loads(described["output"])["status"])
    for arn in run.durable.started[since[1] :]:
        statuses[LDF].append(str(run.durable.wait(arn, timeout=30).result["status"]))
    return {pattern: sorted(found) for pattern, found in statuses.items()}


def started(run: BothPatterns) -> tuple[int, int]:
    """How many executions each pattern has started so far."""
    return len(run.step_functions.started), len(run.durable.started)


@pytest.mark.parametrize("deliveries", [2, 5])
def test_the_same_event_delivered_at_once_and_late_runs_one_workflow_per_pattern(
    deliveries: int,
) -> None:
    with both_patterns() as run:
        upload = run.put_only()
        at_once([lambda: run.stack.deliver(upload.event)] * deliveries)
        run.wait_paused(upload)
        while_paused = run.stack.deliver(upload.event)  # late, during the review
        run.accept(upload)
        outcomes = finish_all(run)
        ended = started(run)
        run.stack.deliver(upload.event)  # late, after the workflow ended
        late = finish_all(run, since=ended)
        audit = run.audit({upload.upload_id: DETECTED_YEARS})
        records = {pattern: records_of(run, pattern, upload.upload_id) for pattern in PATTERNS}
        claims = {p: run.stack.repository(p).get_claim(upload.upload_id) for p in PATTERNS}

    assert while_paused == ["step-functions", "durable-orchestrator"]
    surplus = deliveries - 1 + 2
    for pattern in PATTERNS:
        assert outcomes[pattern] == ["completed"] + ["duplicate"] * (surplus - 1)
        assert late[pattern] == ["duplicate"]
        claim = claims[pattern]
        assert claim is not None
        holders = [r for r in records[pattern] if r.status is not ExecutionStatus.DUPLICATE]
        assert [r.execution_id for r in holders] == [claim.execution_id]
        duplicates = [r for r in records[pattern] if r.status is ExecutionStatus.DUPLICATE]
        assert len(duplicates) == surplus
        assert {r.duplicate_of for r in duplicates} == {claim.execution_id}
        assert (audit[pattern].completed, audit[pattern].duplicated) == (1, 0), audit[
            pattern
        ].problems
        assert audit[pattern].problems == []
    assert run.stack.vision.calls == 2  # one model call per pattern, whatever the deliveries


def test_a_validation_submitted_twice_at_once_resumes_each_workflow_once() -> None:
    with both_patterns() as run:
        sf_resumes = CallLog(run.stack.stepfunctions, "SendTaskSuccess")
        durable_resumes: list[str] = []
        send_callback_success = run.durable.runner.send_callback_success

        def counted(callback_id: str, result: Any = None) -> None:
            durable_resumes.append(callback_id)
            send_callback_success(callback_id, result)

        run.durable.runner.send_callback_success = counted  # type: ignore[method-assign]
        upload = run.upload()
        run.wait_paused(upload)
        link = run.link(upload)
        first, second = at_once(
            [
                lambda: run.server.client.correct_years(link, {1: 1958}),
                lambda: run.server.client.correct_years(link, {1: 1961}),
            ]
        )
        outcome = run.finish(upload)
        stored = {
            pattern: [
                a.album.year
                for a in run.stack.repository(pattern).get_albums(upload.execution_id(pattern))
            ]
            for pattern in PATTERNS
        }

    assert sorted([first.status, second.status]) == [200, 409]
    winner = first if first.status == 200 else second
    loser = second if winner is first else first
    assert sorted(winner.body["resumed"]) == sorted(str(p) for p in PATTERNS)
    assert loser.body["error"] == "task_not_pending"
    assert (len(sf_resumes.calls), len(durable_resumes)) == (1, 1)  # each resumed once
    assert outcome == {SF: "completed", LDF: "completed"}
    year = 1958 if winner is first else 1961
    assert stored[SF] == stored[LDF] == [year, *DETECTED_YEARS[1:]]


def test_an_overwritten_object_is_a_new_upload_and_a_new_workflow() -> None:
    first_albums = [{"albumName": f"First {i}", "artist": "A", "year": 1970 + i} for i in range(6)]
    second_albums = [
        {"albumName": f"Second {i}", "artist": "B", "year": 1990 + i} for i in range(6)
    ]
    with both_patterns() as run:
        first = run.upload(first_albums, key="uploads/shelf.png", image=photo("v1"))
        second = run.upload(second_albums, key="uploads/shelf.png", image=photo("v2"))
        for upload in (first, second):
            run.wait_paused(upload)
            run.accept(upload)
        outcomes = [run.finish(first), run.finish(second)]
        names = {
            (pattern, upload.upload_id): [
                a.album.album_name
                for a in run.stack.repository(pattern).get_albums(upload.execution_id(pattern))
            ]
            for pattern in PATTERNS
            for upload in (first, second)
        }

    assert (
        first.event["detail"]["object"]["version-id"]
        != second.event["detail"]["object"]["version-id"]
    )
    assert first.upload_id != second.upload_id
    assert outcomes == [{SF: "completed", LDF: "completed"}] * 2
    for pattern in PATTERNS:
        # Each workflow read its own version of the object, not the latest one.
        assert names[pattern, first.upload_id] == [a["albumName"] for a in first_albums]
        assert names[pattern, second.upload_id] == [a["albumName"] for a in second_albums]


def test_versions_whose_events_arrive_out_of_order_each_run_once() -> None:
    with both_patterns() as run:
        older, newer = (
            run.put_only(
                [{"albumName": f"{name} {i}", "artist": "C", "year": 1980 + i} for i in range(6)],
                key="uploads/crate.png",
                image=photo(name),
            )
            for name in ("v1", "v2")
        )
        for upload in (newer, older, newer):  # the newer first, then the older, then again
            run.stack.deliver(upload.event)
        for upload in (older, newer):
            run.wait_paused(upload)
            run.accept(upload)
        outcomes = finish_all(run)
        audit = run.audit({u.upload_id: tuple(1980 + i for i in range(6)) for u in (older, newer)})
        first_album = {}
        for pattern in PATTERNS:
            repository = run.stack.repository(pattern)
            for upload in (older, newer):
                claim = repository.get_claim(upload.upload_id)
                assert claim is not None
                albums = repository.get_albums(claim.execution_id)
                first_album[pattern, upload.upload_id] = albums[0].album.album_name

    assert older.upload_id != newer.upload_id
    for pattern in PATTERNS:
        assert outcomes[pattern] == ["completed", "completed", "duplicate"]
        assert audit[pattern].problems == []
        # Each workflow read the version its event names, whatever the arrival order.
        assert first_album[pattern, older.upload_id] == "v1 0"
        assert first_album[pattern, newer.upload_id] == "v2 0"
