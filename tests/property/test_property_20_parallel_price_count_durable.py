"""Property 20 for the durable pattern, through the real durable runner in local mode.

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
def test_parallel_price_count_durable(
    durable_env: tuple[LocalStack, LocalDurable],
    albums: Sequence[Album],
    corrections: Sequence[AlbumCorrection],
) -> None:
    """**Feature: album-registration-system, Property 20: Parallel Price Estimation Count** — For
    any completed validation, exactly 6 parallel price estimation agents should be launched
    """
    stack, durable = durable_env
    run = run_property_example(stack, durable, albums, corrections)
    history = durable.history(run.arn)
    (price_map,) = [
        e
        for e in history
        if e.get("Name") == "EstimatePrices" and e["EventType"] == "ContextStarted"
    ]
    started = [
        e
        for e in history
        if e["EventType"] == "StepStarted" and str(e.get("Name", "")).startswith("EstimatePrice-")
    ]
    assert sorted(e["Name"] for e in started) == [f"EstimatePrice-{n}" for n in range(1, 7)]
    assert all(e.get("ParentId") == price_map["Id"] for e in started)
