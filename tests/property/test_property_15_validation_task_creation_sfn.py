"""**Feature: album-registration-system, Property 15: Validation Task Creation** — *For any*
execution after initial data storage, a validation task with pending status should be
created (Validates: Requirements 4.1). Step Functions pattern, through the real ASL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given

from albums.domain import keys
from albums.domain.models import Album, ExecutionStatus, TaskStatus
from albums.domain.records import parse_timestamp
from tests.integration.sfn_support import E2E_SETTINGS, SF, finish, repository, sfn_stack, upload
from tests.property.strategies import album_sets

pytestmark = [pytest.mark.property, pytest.mark.integration]
TIMEOUT = 90


def test_property_15_a_pending_task_follows_the_initial_data() -> None:
    """**Feature: album-registration-system, Property 15: Validation Task Creation** —
    *For any* execution after initial data storage, a validation task with pending
    status should be created."""
    with sfn_stack(timeout=TIMEOUT) as (stack, pattern):

        @E2E_SETTINGS
        @given(albums=album_sets())
        def check(albums: tuple[Album, ...]) -> None:
            before = datetime.now(UTC)
            arn, _ = upload(stack, pattern, albums)
            task = pattern.wait_for_validation(arn)
            execution_id = pattern.execution_id(arn)

            assert task.status is TaskStatus.PENDING
            assert task.task_id == keys.task_id_for(SF, execution_id)
            assert task.execution_id == execution_id
            assert task.albums == albums
            # Stored after the initial data: the six album records exist already.
            stored = repository(stack).get_albums(execution_id)
            assert tuple(record.album for record in stored) == albums
            record = repository(stack).get_execution(execution_id)
            assert record.status is ExecutionStatus.AWAITING_VALIDATION
            assert record.task_id == task.task_id
            expires = parse_timestamp(task.expires_at)
            assert before + timedelta(seconds=TIMEOUT - 1) <= expires
            assert expires <= datetime.now(UTC) + timedelta(seconds=TIMEOUT)
            pattern.approve(arn)
            finish(pattern, arn)

        check()
