"""Property 23 for the durable pattern, through the real durable runner in local mode.

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
def test_price_synchronization_durable(
    durable_env: tuple[LocalStack, LocalDurable],
    albums: Sequence[Album],
    corrections: Sequence[AlbumCorrection],
) -> None:
    """**Feature: album-registration-system, Property 23: Price Estimation Synchronization** — For
    any price estimation phase, the workflow should wait for all 6 results before proceeding
    """
    stack, durable = durable_env
    run = run_property_example(stack, durable, albums, corrections)
    history = durable.history(run.arn)
    position = {id(e): i for i, e in enumerate(history)}
    ended = [
        position[id(e)]
        for e in history
        if e["EventType"] == "StepSucceeded" and str(e.get("Name", "")).startswith("EstimatePrice-")
    ]
    store = [
        position[id(e)]
        for e in history
        if e["EventType"] == "StepStarted" and e.get("Name") == "StoreResults"
    ]
    assert len(ended) == 6
    assert len(store) == 1
    assert store[0] > max(ended)
