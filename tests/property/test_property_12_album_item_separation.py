"""**Feature: album-registration-system, Property 12: Album Item Separation** — *For any*
execution with 6 albums, exactly 6 separate DynamoDB items should be created
(Validates: Requirements 3.3)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from hypothesis import given
from hypothesis import strategies as st
from moto import mock_aws

from albums.adapters.repository import AlbumRepository
from albums.domain.keys import UploadRef, execution_id_for, workflow_type_of_execution
from albums.domain.models import Album
from albums.domain.records import AlbumRecord
from tests.property.strategies import album_sets
from tests.table import (
    REGION,
    Clock,
    fresh_table,
    native_names,
    on_fresh_stack,
    scan_items,
    uploads,
    workflow_types,
)

if TYPE_CHECKING:
    from types_boto3_dynamodb.client import DynamoDBClient


@pytest.fixture(scope="module")
def dynamodb() -> Iterator[DynamoDBClient]:
    with mock_aws():
        yield boto3.client("dynamodb", region_name=REGION)


@pytest.mark.property
@given(
    execution_id=st.builds(execution_id_for, workflow_types, native_names),
    upload=uploads(),
    albums=album_sets().flatmap(st.permutations),
    writes=st.lists(st.sampled_from(["transaction", "batch"]), min_size=1, max_size=3),
)
def test_six_albums_become_six_items(
    dynamodb: DynamoDBClient,
    execution_id: str,
    upload: UploadRef,
    albums: list[Album],
    writes: list[str],
) -> None:
    """**Feature: album-registration-system, Property 12: Album Item Separation** —
    *For any* execution with 6 albums, exactly 6 separate DynamoDB items should be created.

    Albums arrive in any order, through the transaction or the batch write, and the write
    may be repeated (a retried step): still exactly six items, one per album.
    """
    workflow_type = workflow_type_of_execution(execution_id)

    def write_and_read() -> tuple[list[dict[str, Any]], tuple[AlbumRecord, ...]]:
        with fresh_table(dynamodb) as table:
            repo = AlbumRepository(dynamodb, table, workflow_type, clock=Clock())
            for write in writes:
                if write == "batch":
                    repo.put_albums(execution_id, albums)
                else:
                    repo.store_initial_data(execution_id, upload, albums)
            return scan_items(dynamodb, table), repo.get_albums(execution_id)

    items, read_back = on_fresh_stack(write_and_read)

    album_items = [item for item in items if item["entityType"] == "album"]
    assert len(album_items) == 6
    assert len({(item["pk"], item["sk"]) for item in album_items}) == 6
    assert sorted(int(item["albumIndex"]) for item in album_items) == [1, 2, 3, 4, 5, 6]
    by_index = {album.index: album for album in albums}
    for item in album_items:
        album = by_index[int(item["albumIndex"])]
        assert (item["albumName"], item["artist"], int(item["year"])) == (
            album.album_name,
            album.artist,
            album.year,
        )
        assert item["workflowType"] == workflow_type.value
    # Besides the albums there is only the execution record (when it was written).
    assert len(items) == (7 if "transaction" in writes else 6)
    assert [record.album for record in read_back] == sorted(albums, key=lambda album: album.index)
