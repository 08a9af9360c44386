"""**Feature: album-registration-system, Property 20: Parallel Price Estimation Count** —
*For any* completed validation, exactly 6 parallel price estimation agents should be
launched (Validates: Requirements 5.1). Step Functions pattern: a Map, MaxConcurrency 6."""

from __future__ import annotations

import threading
import time

import pytest
from hypothesis import given

from albums.domain.models import Album, PriceEstimate
from albums.domain.pricing import DeterministicPriceEstimator
from localmode.pricing import ProgrammablePriceSource
from tests.integration.sfn_support import E2E_SETTINGS, finish, price_inputs, sfn_stack, upload
from tests.property.strategies import album_sets

pytestmark = [pytest.mark.property, pytest.mark.integration]


class ConcurrencyProbe:
    """A price source that takes a moment and records how many calls overlap."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.running = 0
        self.peak = 0
        self._inner = DeterministicPriceEstimator()

    def estimate(self, album: Album) -> PriceEstimate:
        with self._lock:
            self.running += 1
            self.peak = max(self.peak, self.running)
        try:
            time.sleep(0.05)
            return self._inner.estimate(album)
        finally:
            with self._lock:
                self.running -= 1


def test_property_20_six_estimates_run_in_parallel() -> None:
    """**Feature: album-registration-system, Property 20: Parallel Price Estimation
    Count** — *For any* completed validation, exactly 6 parallel price estimation agents
    should be launched."""
    probe = ConcurrencyProbe()
    with sfn_stack(prices=ProgrammablePriceSource(inner=probe)) as (stack, pattern):

        @E2E_SETTINGS
        @given(albums=album_sets())
        def check(albums: tuple[Album, ...]) -> None:
            probe.peak = 0
            arn, _ = upload(stack, pattern, albums)
            pattern.approve(arn)
            finish(pattern, arn)

            history = pattern.history(arn)
            iterations = [e for e in history if e["type"] == "MapIterationStarted"]
            assert len(iterations) == 6
            assert sorted(a["albumIndex"] for a in price_inputs(history)) == [1, 2, 3, 4, 5, 6]
            assert probe.peak > 1  # they overlapped: launched in parallel, not one by one

        check()
