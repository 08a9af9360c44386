"""**Feature: album-registration-system, Property 14: Workflow Type Attribute** — *For any*
stored item, the workflowType attribute should be present and correct
(Validates: Requirements 3.5)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from hypothesis import given
from hypothesis import strategies as st
from moto import mock_aws

from albums.adapters.repository import AlbumRepository
from albums.domain import keys
from albums.domain.keys import UploadRef
from albums.domain.models import Album, TaskStatus
from albums.domain.records import parse_item
from tests.property.strategies import album_sets
from tests.table import (
    FIXED_NOW,
    REGION,
    Clock,
    fresh_table,
    native_names,
    on_fresh_stack,
    scan_items,
    uploads,
)
from tests.table import workflow_types as patterns

if TYPE_CHECKING:
    from types_boto3_dynamodb.client import DynamoDBClient

answers = st.sampled_from([None, TaskStatus.COMPLETED, TaskStatus.REJECTED, TaskStatus.TIMEOUT])


@pytest.fixture(scope="module")
def dynamodb() -> Iterator[DynamoDBClient]:
    with mock_aws():
        yield boto3.client("dynamodb", region_name=REGION)


@pytest.mark.property
@given(
    execution_id=st.builds(keys.execution_id_for, patterns, native_names),
    upload=uploads(),
    albums=album_sets(),
    answer=answers,
)
def test_every_item_carries_its_workflow_type(
    dynamodb: DynamoDBClient,
    execution_id: str,
    upload: UploadRef,
    albums: tuple[Album, ...],
    answer: TaskStatus | None,
) -> None:
    """**Feature: album-registration-system, Property 14: Workflow Type Attribute** —
    *For any* stored item, the workflowType attribute should be present and correct.

    One run writes every kind of item (upload claim, execution, six albums, validation
    task, pending or answered); each names the pattern that wrote it, and that agrees
    with its tenant key prefix and its ids.
    """
    workflow_type = keys.workflow_type_of_execution(execution_id)

    def write_and_read() -> list[dict[str, Any]]:
        with fresh_table(dynamodb) as table:
            repo = AlbumRepository(dynamodb, table, workflow_type, clock=Clock())
            assert repo.claim_upload(upload, execution_id).claimed
            repo.store_initial_data(execution_id, upload, albums)
            expires = FIXED_NOW + timedelta(hours=1)
            task = repo.create_validation_task(
                execution_id, upload.upload_id, albums, "token", expires
            )
            if answer is not None:
                repo.complete_validation_task(task.task_id, answer)
            return scan_items(dynamodb, table)

    items = on_fresh_stack(write_and_read)

    assert sorted(item["entityType"] for item in items) == sorted(
        ["claim", "execution", "task", *["album"] * 6]
    )
    for item in items:
        assert item.get("workflowType") == workflow_type.value, f"{item['pk']} {item['sk']}"
        assert item["pk"].split("#", 1)[0] == workflow_type.tenant
        assert item["executionId"] == execution_id
        assert parse_item(item).workflow_type is workflow_type
        if "gsi1pk" in item:
            assert item["gsi1pk"].startswith(f"{workflow_type.tenant}#")
