"""Property 26 for the durable pattern, through the real durable runner in local mode.

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
    album_sets,
    corrections_for,
    durable_env,
    run_property_example,
)

__all__ = ["durable_env"]


@pytest.mark.property
@pytest.mark.timeout(1800)  # up to 100 whole executions on a loaded machine
@DURABLE_EXAMPLES
@given(albums=album_sets(), corrections=corrections_for())
def test_execution_completion_durable(
    durable_env: tuple[LocalStack, LocalDurable],
    albums: Sequence[Album],
    corrections: Sequence[AlbumCorrection],
) -> None:
    """**Feature: album-registration-system, Property 26: Execution Completion Tracking** — For any
    completed workflow, execution metadata should be updated with completion status
    """
    stack, durable = durable_env
    from albums.domain.models import ExecutionStatus

    run = run_property_example(stack, durable, albums, corrections)
    record = stack.repository(PATTERN).get_execution(run.execution_id)
    assert record.status is ExecutionStatus.COMPLETED
    assert record.ended_at is not None
    assert record.metrics is not None
    assert record.metrics.durable_operations == run.usage.billable_operations
