"""Property 16 for the durable pattern, through the real durable runner in local mode.

Each example is a whole durable execution, so ``make test`` runs a bounded number of
examples (10) and ``make test-slow`` runs 100 (``DURABLE_PROPERTY_EXAMPLES``).
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given

from albums.domain.models import Album, AlbumCorrection
from localmode.durable import LocalDurable
from localmode.stack import LocalStack
from tests.durable_harness import (
    DURABLE_EXAMPLES,
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


@pytest.mark.property
@pytest.mark.timeout(1800)  # up to 100 whole executions on a loaded machine
@DURABLE_EXAMPLES
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
