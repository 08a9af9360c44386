"""**Feature: album-registration-system, Property 11: Execution Metadata Completeness** —
*For any* stored execution record, executionId, workflowType, status, and createdAt fields
should be present (Validates: Requirements 3.2)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from hypothesis import given
from hypothesis import strategies as st
from moto import mock_aws

from albums.adapters.repository import AlbumRepository
from albums.domain import keys
from albums.domain.keys import UploadRef
from albums.domain.models import ExecutionMetrics, ExecutionStatus, FailureDetails
from albums.domain.records import ExecutionRecord, to_timestamp
from tests.table import (
    FIXED_NOW,
    REGION,
    Clock,
    fresh_table,
    native_names,
    on_fresh_stack,
    sample_albums,
    scan_items,
    uploads,
    workflow_types,
)

if TYPE_CHECKING:
    from types_boto3_dynamodb.client import DynamoDBClient

REQUIRED = ("executionId", "workflowType", "status", "createdAt")

#: Every status a stored record can be in, and the writes that put it there.
statuses = st.sampled_from(list(ExecutionStatus))
metrics = st.none() | st.builds(
    ExecutionMetrics,
    duration_ms=st.integers(min_value=0, max_value=10**9),
    transitions=st.none() | st.integers(min_value=0, max_value=10_000),
    cost_usd=st.none() | st.decimals(min_value=0, max_value=10, places=6),
)


@pytest.fixture(scope="module")
def dynamodb() -> Iterator[DynamoDBClient]:
    with mock_aws():
        yield boto3.client("dynamodb", region_name=REGION)


def reach(
    repo: AlbumRepository,
    execution_id: str,
    upload: UploadRef,
    status: ExecutionStatus,
    figures: ExecutionMetrics | None,
) -> None:
    """Write an execution record the way the workflow does, ending in ``status``."""
    if status is ExecutionStatus.DUPLICATE:
        holder = keys.execution_id_for(repo.workflow_type, "holder")
        repo.put_execution(execution_id, upload, status=status, duplicate_of=holder)
        return
    # The accept step writes the record; storing the initial data upserts it.
    if figures is None:
        repo.put_execution(execution_id, upload)
    else:
        repo.store_initial_data(execution_id, upload, sample_albums())
    if status is ExecutionStatus.AWAITING_VALIDATION:
        expires = FIXED_NOW + timedelta(hours=1)
        repo.create_validation_task(
            execution_id, upload.upload_id, sample_albums(), "token", expires
        )
    elif status is ExecutionStatus.FAILED:
        repo.fail_execution(execution_id, FailureDetails("VisionNotJsonError", "prose", "Vision"))
    elif status.is_terminal:
        repo.complete_execution(execution_id, status, metrics=figures)


@pytest.mark.property
@given(
    execution_id=st.builds(keys.execution_id_for, workflow_types, native_names),
    upload=uploads(),
    status=statuses,
    figures=metrics,
)
def test_every_stored_execution_record_is_complete(
    dynamodb: DynamoDBClient,
    execution_id: str,
    upload: UploadRef,
    status: ExecutionStatus,
    figures: ExecutionMetrics | None,
) -> None:
    """**Feature: album-registration-system, Property 11: Execution Metadata Completeness** —
    *For any* stored execution record, executionId, workflowType, status, and createdAt
    fields should be present.

    Records in every status (running, awaiting validation, each completion, failed,
    duplicate), written through the moto-backed repository.
    """
    workflow_type = keys.workflow_type_of_execution(execution_id)

    def write_and_read() -> tuple[list[dict[str, Any]], tuple[ExecutionRecord, ...]]:
        with fresh_table(dynamodb) as table:
            repo = AlbumRepository(dynamodb, table, workflow_type, clock=Clock())
            reach(repo, execution_id, upload, status, figures)
            items = scan_items(dynamodb, table)
            return items, repo.list_executions(limit=5).items

    items, listed = on_fresh_stack(write_and_read)
    stored = [item for item in items if item["entityType"] == "execution"]

    assert len(stored) == 1
    (item,) = stored
    for field in REQUIRED:
        assert isinstance(item.get(field), str), f"{field} is missing"
        assert item[field]
    assert item["executionId"] == execution_id
    assert item["workflowType"] == workflow_type.value
    assert item["status"] == status.value
    assert item["createdAt"] == to_timestamp(FIXED_NOW)  # ISO-8601 UTC
    assert keys.execution_id_from_pk(item["pk"]) == (workflow_type, execution_id)
    record = ExecutionRecord.from_item(item)
    assert record.upload == upload
    # What the listing returns carries the same metadata.
    assert listed == (record,)
    if figures is not None and status in (
        ExecutionStatus.COMPLETED,
        ExecutionStatus.COMPLETED_WITH_ERRORS,
        ExecutionStatus.REJECTED,
    ):
        assert record.metrics is not None
        assert record.metrics.duration_ms == figures.duration_ms
        assert item["durationMs"] == Decimal(figures.duration_ms)
