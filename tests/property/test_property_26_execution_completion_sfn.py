"""**Feature: album-registration-system, Property 26: Execution Completion Tracking** —
*For any* completed workflow, execution metadata should be updated with completion
status (Validates: Requirements 6.2). Step Functions pattern, through the real ASL."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from albums.domain.models import Album, ExecutionStatus
from albums.domain.records import parse_timestamp
from tests.integration.sfn_support import E2E_SETTINGS, finish, repository, sfn_stack, upload
from tests.property.strategies import album_sets

pytestmark = [pytest.mark.property, pytest.mark.integration]


def test_property_26_the_record_ends_with_the_completion_status() -> None:
    """**Feature: album-registration-system, Property 26: Execution Completion
    Tracking** — *For any* completed workflow, execution metadata should be updated with
    completion status."""
    with sfn_stack() as (stack, pattern):

        @E2E_SETTINGS
        @given(albums=album_sets(), broken=st.sets(st.integers(1, 6), max_size=6))
        def check(albums: tuple[Album, ...], broken: set[int]) -> None:
            pattern.prices.clear()
            for index in broken:
                pattern.prices.fail_permanently(index)
            arn, _ = upload(stack, pattern, albums)
            pattern.approve(arn)
            described = finish(pattern, arn)

            expected = (
                ExecutionStatus.COMPLETED_WITH_ERRORS if broken else ExecutionStatus.COMPLETED
            )
            record = repository(stack).get_execution(pattern.execution_id(arn))
            assert record.status is expected
            assert json.loads(described["output"])["status"] == str(expected)
            assert record.ended_at is not None
            assert parse_timestamp(record.created_at) <= parse_timestamp(record.ended_at)
            assert record.metrics is not None
            assert record.metrics.transitions == pattern.transitions(arn)
            assert record.metrics.duration_ms >= 0

        check()
