"""Property 16 for the durable pattern, through the real durable runner in local mode.

Slow (about 0.3 s per example, 100 examples): run with ``make test-slow``; the scenario
tests in ``tests/integration/test_durable_pattern.py`` cover the same path in ``make test``.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given

from albums.domain.models import Album, AlbumCorrection
from localmode.durable import LocalDurable
from localmode.stack import LocalStack
from tests.durable_harness import (
    PATTERN,
    album_dicts,
    album_sets,
    approve,
    corrections_for,
    durable_env,
    execution_id,
    upload,
)

__all__ = ["durable_env"]


@pytest.mark.slow
@pytest.mark.property
@pytest.mark.timeout(1800)  # 100 whole executions on a loaded machine
@given(albums=album_sets(), corrections=corrections_for())
def test_workflow_pause_durable(
    durable_env: tuple[LocalStack, LocalDurable],
    albums: Sequence[Album],
    corrections: Sequence[AlbumCorrection],
) -> None:
    """**Feature: album-registration-system, Property 16: Workflow Pause** — For any validation
    task creation, the workflow should pause without active compute
    """
    stack, durable = durable_env
    import time

    from albums.domain.models import ExecutionStatus

    before = len(durable.started)
    upload(stack, album_dicts(albums))
    (arn,) = durable.started[before:]
    ident = execution_id(arn)
    durable.wait_for_task(ident)
    deadline = time.monotonic() + 10
    # The invocation that created the task ends: the execution waits with no handler running.
    while not any(e["EventType"] == "InvocationCompleted" for e in durable.history(arn)):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    invocations = len(durable.history(arn))
    time.sleep(0.05)
    assert len(durable.history(arn)) == invocations  # nothing runs while paused
    record = stack.repository(PATTERN).get_execution(ident)
    assert record.status is ExecutionStatus.AWAITING_VALIDATION
    approve(corrections)(durable, ident)
    durable.wait(arn)
