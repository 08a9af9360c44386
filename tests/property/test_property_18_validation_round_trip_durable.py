"""Property 18 for the durable pattern, through the real durable runner in local mode.

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
