"""**Feature: album-registration-system, Property 29: Workflow Type Filtering** — *For any*
data query, filtering by workflowType should correctly separate Step Functions and Durable
Functions data (Validates: Requirements 9.2)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from hypothesis import given
from hypothesis import strategies as st
from moto import mock_aws

from albums.adapters.repository import AlbumRepository, Page
from albums.domain.keys import execution_id_for
from albums.domain.models import WorkflowType
from tests.table import (
    FIXED_NOW,
    REGION,
    Clock,
    fresh_table,
    native_names,
    on_fresh_stack,
    sample_albums,
    sample_upload,
    workflow_types,
)

if TYPE_CHECKING:
    from types_boto3_dynamodb.client import DynamoDBClient

runs = st.lists(
    st.tuples(
        workflow_types,
        native_names,
        st.integers(min_value=0, max_value=86_400),  # seconds after FIXED_NOW
        st.booleans(),  # awaiting validation (a pending task)
    ),
    max_size=6,
    unique_by=lambda run: (run[0], run[1]),
)


@pytest.fixture(scope="module")
def dynamodb() -> Iterator[DynamoDBClient]:
    with mock_aws():
        yield boto3.client("dynamodb", region_name=REGION)


def every_page(list_page: Callable[..., Page[Any]], limit: int, bound: int) -> list[Any]:
    """Follow next tokens to the end (at most ``bound`` pages)."""
    items: list[Any] = []
    token = None
    for _ in range(bound):
        page = list_page(limit=limit, next_token=token)
        assert len(page.items) <= limit
        items.extend(page.items)
        token = page.next_token
        if token is None:
            return items
    pytest.fail("pagination did not end")


@pytest.mark.property
@given(runs=runs, limit=st.integers(min_value=2, max_value=5))
def test_queries_separate_the_two_patterns(
    dynamodb: DynamoDBClient, runs: list[tuple[WorkflowType, str, int, bool]], limit: int
) -> None:
    """**Feature: album-registration-system, Property 29: Workflow Type Filtering** —
    *For any* data query, filtering by workflowType should correctly separate Step
    Functions and Durable Functions data.

    Executions (some awaiting validation) of both patterns, created at any times, share
    the table; each pattern's execution listing and pending-task listing, read page by
    page, return exactly that pattern's data, newest (or soonest-expiring) first.
    """

    # Writes, reads and checks run together on a shallow stack (see on_fresh_stack).
    def check() -> None:
        clock = Clock()
        with fresh_table(dynamodb) as table:
            repos = {
                pattern: AlbumRepository(dynamodb, table, pattern, clock=clock)
                for pattern in WorkflowType
            }
            for pattern, name, offset, pending in runs:
                clock.now = FIXED_NOW + timedelta(seconds=offset)
                execution_id = execution_id_for(pattern, name)
                upload = sample_upload(name)
                repos[pattern].put_execution(execution_id, upload)
                if pending:
                    expires = clock.now + timedelta(hours=1)
                    repos[pattern].create_validation_task(
                        execution_id, upload.upload_id, sample_albums(), "token", expires
                    )

            bound = len(runs) // limit + 2
            for pattern, repo in repos.items():
                expected = {execution_id_for(p, n) for p, n, _, _ in runs if p is pattern}
                listed = every_page(repo.list_executions, limit, bound)
                assert {record.execution_id for record in listed} == expected
                assert len(listed) == len(expected)
                assert all(record.workflow_type is pattern for record in listed)
                created = [record.created_at for record in listed]
                assert created == sorted(created, reverse=True)

                awaiting = {
                    execution_id_for(p, n) for p, n, _, wait in runs if p is pattern and wait
                }
                tasks = every_page(repo.list_pending_tasks, limit, bound)
                assert {task.execution_id for task in tasks} == awaiting
                assert len(tasks) == len(awaiting)
                assert all(task.workflow_type is pattern for task in tasks)
                expiries = [task.expires_at for task in tasks]
                assert expiries == sorted(expiries)

    on_fresh_stack(check)
