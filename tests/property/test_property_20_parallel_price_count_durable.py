"""Property 20 for the durable pattern, through the real durable runner in local mode.

Slow (about 0.3 s per example, 100 examples): run with ``make test-slow``; the scenario
tests in ``tests/integration/test_durable_pattern.py`` cover the same path in ``make test``.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given

from albums.domain.models import Album, AlbumCorrection
from localmode.durable import LocalDurable
from localmode.stack import LocalStack
from tests.durable_harness import (
    album_sets,
    corrections_for,
    durable_env,
    run_property_example,
)

__all__ = ["durable_env"]


@pytest.mark.slow
@pytest.mark.property
@pytest.mark.timeout(1800)  # 100 whole executions on a loaded machine
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
