"""**Feature: album-registration-system, Property 25: Album Price Update** — *For any*
completed price estimation, all album records should be updated with price and
confidence (Validates: Requirements 6.1). Step Functions pattern, through the real ASL."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from albums.domain.models import Album, PriceStatus
from albums.domain.pricing import DeterministicPriceEstimator
from tests.integration.sfn_support import (
    E2E_SETTINGS,
    corrections,
    finish,
    repository,
    sfn_stack,
    upload,
)
from tests.property.strategies import album_sets

pytestmark = [pytest.mark.property, pytest.mark.integration]


def test_property_25_every_album_gets_its_price_and_confidence() -> None:
    """**Feature: album-registration-system, Property 25: Album Price Update** —
    *For any* completed price estimation, all album records should be updated with
    price and confidence."""
    estimator = DeterministicPriceEstimator()
    with sfn_stack() as (stack, pattern):

        @E2E_SETTINGS
        @given(data=st.data(), albums=album_sets())
        def check(data: st.DataObject, albums: tuple[Album, ...]) -> None:
            arn, _ = upload(stack, pattern, albums)
            pattern.approve(arn, data.draw(corrections(albums)))
            finish(pattern, arn)

            records = repository(stack).get_albums(pattern.execution_id(arn))
            assert len(records) == 6
            for record in records:
                assert record.price_status is PriceStatus.PRICED
                assert record.price is not None
                # The price of the album as validated (corrections applied).
                assert record.price == estimator.estimate(record.album)
                assert Decimal(0) <= record.price.price_confidence <= Decimal(1)
                assert record.price.price_source == "deterministic-model-v1"
                assert record.priced_at is not None

        check()
