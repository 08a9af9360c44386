"""**Feature: album-registration-system, Property 23: Price Estimation Synchronization** —
*For any* price estimation phase, the workflow should wait for all 6 results before
proceeding (Validates: Requirements 5.4). Step Functions pattern: the Map ends when
every iteration has, retries included."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from albums.domain.models import Album
from tests.integration.sfn_support import E2E_SETTINGS, finish, sfn_stack, upload
from tests.property.strategies import album_sets

pytestmark = [pytest.mark.property, pytest.mark.integration]


def test_property_23_store_results_waits_for_all_six() -> None:
    """**Feature: album-registration-system, Property 23: Price Estimation
    Synchronization** — *For any* price estimation phase, the workflow should wait for
    all 6 results before proceeding."""
    with sfn_stack() as (stack, pattern):

        @E2E_SETTINGS
        @given(
            albums=album_sets(),
            flaky=st.dictionaries(st.integers(1, 6), st.integers(1, 3), max_size=6),
            broken=st.sets(st.integers(1, 6), max_size=2),
        )
        def check(albums: tuple[Album, ...], flaky: dict[int, int], broken: set[int]) -> None:
            pattern.prices.clear()
            for index, times in flaky.items():
                pattern.prices.fail_transiently(index, times)
            for index in broken:
                pattern.prices.fail_permanently(index)
            arn, _ = upload(stack, pattern, albums)
            pattern.approve(arn)
            finish(pattern, arn)

            history = pattern.history(arn)
            store = next(
                e
                for e in history
                if e["type"] == "TaskStateEntered"
                and e["stateEnteredEventDetails"]["name"] == "StoreResults"
            )
            ends = [e["id"] for e in history if e["type"] == "MapIterationSucceeded"]
            assert len(ends) == 6
            assert max(ends) < store["id"]  # every iteration ended before StoreResults
            # The Map's results are the workflow's prices (StoreResults writes them all).
            results = json.loads(pattern.describe(arn)["output"])["prices"]
            assert sorted(r["albumIndex"] for r in results) == [1, 2, 3, 4, 5, 6]
            failed = {r["albumIndex"] for r in results if "error" in r}
            # Three retries absorb up to three transient failures; permanent ones stay.
            assert failed == broken

        check()
