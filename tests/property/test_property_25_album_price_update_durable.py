"""Property 25 for the durable pattern, through the real durable runner in local mode.

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
def test_album_price_update_durable(
    durable_env: tuple[LocalStack, LocalDurable],
    albums: Sequence[Album],
    corrections: Sequence[AlbumCorrection],
) -> None:
    """**Feature: album-registration-system, Property 25: Album Price Update** — For any completed
    price estimation, all album records should be updated with price and confidence
    """
    stack, durable = durable_env
    from albums.domain.models import PriceStatus

    run = run_property_example(stack, durable, albums, corrections)
    stored = stack.repository(PATTERN).get_albums(run.execution_id)
    assert len(stored) == 6
    for record in stored:
        assert record.price_status is PriceStatus.PRICED
        assert record.price is not None
        assert 0 <= record.price.price_confidence <= 1
        assert record.price.price_estimate >= 0
