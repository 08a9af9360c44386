"""**Feature: album-registration-system, Property 13: Album Key Structure** — *For any*
stored album, the partition key should be the execution ID and sort key should contain the
album index (Validates: Requirements 3.4).

Our partition key is ``{tenant}#exec#{executionId}``: the execution id is recovered from
it exactly (``keys.execution_id_from_pk``), and the sort key is ``album#{index}``.

The property is about item shape, so it is checked on the records layer, which builds
every album item the repository writes (``AlbumRecord.to_item`` for the batch and the
transaction) and every later change to one (``validated_album_fields``,
``price_fields``) — the latter must never touch a key. The moto-backed repository tests
check that stored albums are read back through exactly these keys.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from albums.domain import keys
from albums.domain.models import (
    Album,
    AlbumPriceResult,
    PriceEstimate,
    PriceStatus,
    ValidatedAlbum,
)
from albums.domain.records import (
    KEY_ATTRIBUTES,
    AlbumRecord,
    price_fields,
    validated_album_fields,
)
from tests.property.strategies import album_sets, years
from tests.table import native_names, workflow_types

NOW = "2026-03-14T09:26:53.589Z"

execution_ids = st.builds(keys.execution_id_for, workflow_types, native_names)
albums = album_sets().flatmap(st.sampled_from)
prices = st.builds(
    PriceEstimate,
    price_estimate=st.decimals(min_value=0, max_value=10_000, places=2),
    price_confidence=st.decimals(min_value=0, max_value=1, places=2),
    price_source=st.sampled_from(["deterministic", "discogs"]),
)


@st.composite
def stored_albums(draw: st.DrawFn) -> AlbumRecord:
    """An album as stored at any point: detected, validated (or timed out), priced, failed."""
    execution_id = draw(execution_ids)
    album = draw(albums)
    validated = draw(st.booleans())
    price_state = draw(st.sampled_from([None, PriceStatus.PRICED, PriceStatus.FAILED]))
    return AlbumRecord(
        execution_id=execution_id,
        workflow_type=keys.workflow_type_of_execution(execution_id),
        album=album,
        created_at=NOW,
        updated_at=NOW,
        year_validated=validated and draw(st.booleans()),
        year_original=draw(years) if validated else None,
        validated_at=NOW if validated else None,
        price_status=price_state,
        price=draw(prices) if price_state is PriceStatus.PRICED else None,
        price_error="PriceEstimationError" if price_state is PriceStatus.FAILED else None,
        priced_at=NOW if price_state is not None else None,
    )


@pytest.mark.property
@given(record=stored_albums())
def test_album_keys_are_execution_id_and_index(record: AlbumRecord) -> None:
    """**Feature: album-registration-system, Property 13: Album Key Structure** —
    *For any* stored album, the partition key should be the execution ID and sort key
    should contain the album index.
    """
    item = record.to_item()
    assert keys.execution_id_from_pk(item["pk"]) == (record.workflow_type, record.execution_id)
    assert item["pk"] == keys.execution_pk(record.workflow_type, record.execution_id)
    assert item["executionId"] == record.execution_id
    assert item["sk"] == f"album#{record.index}"
    assert keys.album_index_from_sk(item["sk"]) == record.index == item["albumIndex"]
    # The execution's own record shares the partition, under another sort key.
    assert item["sk"] != keys.EXECUTION_SK
    assert AlbumRecord.from_item(item) == record


@pytest.mark.property
@given(
    album=albums,
    year_original=years,
    validated=st.booleans(),
    estimate=st.none() | prices,
)
def test_later_writes_never_touch_album_keys(
    album: Album, year_original: int, validated: bool, estimate: PriceEstimate | None
) -> None:
    """**Feature: album-registration-system, Property 13: Album Key Structure** —
    *For any* stored album, the partition key should be the execution ID and sort key
    should contain the album index.

    Validation and pricing update an album in place: neither may set a key attribute or
    the index, so a stored album keeps its keys for life.
    """
    review = validated_album_fields(ValidatedAlbum(album, year_original, validated), NOW)
    result = (
        AlbumPriceResult(album.index, estimate)
        if estimate is not None
        else AlbumPriceResult(album.index, error="PriceEstimationError")
    )
    priced, removed = price_fields(result, NOW)
    for changed in (set(review), set(priced), set(removed)):
        assert not changed & (KEY_ATTRIBUTES | {"albumIndex", "executionId"})
    assert review["year"] == Decimal(album.year)
