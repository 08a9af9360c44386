"""Property 18 for the durable pattern, through the real durable runner in local mode.

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
    PATTERN,
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
def test_validation_round_trip_durable(
    durable_env: tuple[LocalStack, LocalDurable],
    albums: Sequence[Album],
    corrections: Sequence[AlbumCorrection],
) -> None:
    """**Feature: album-registration-system, Property 18: Validation Data Round-Trip** — For any
    validated album data, the submitted corrections should be reflected in stored records
    """
    stack, durable = durable_env
    run = run_property_example(stack, durable, albums, corrections)
    stored = stack.repository(PATTERN).get_albums(run.execution_id)
    fixes = {c.index: c for c in corrections}
    for record, original in zip(stored, albums, strict=True):
        assert record.year_original == original.year
        assert record.year_validated
        expected = fixes[original.index].year if original.index in fixes else original.year
        assert record.album.year == expected
