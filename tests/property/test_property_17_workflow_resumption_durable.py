"""Property 17 for the durable pattern, through the real durable runner in local mode.

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
def test_workflow_resumption_durable(
    durable_env: tuple[LocalStack, LocalDurable],
    albums: Sequence[Album],
    corrections: Sequence[AlbumCorrection],
) -> None:
    """**Feature: album-registration-system, Property 17: Workflow Resumption** — For any
    validation submission, the workflow should resume with the corrected data
    """
    stack, durable = durable_env
    from albums.domain.models import apply_corrections

    run = run_property_example(stack, durable, albums, corrections)
    expected = apply_corrections(albums, corrections)
    assert run.result["status"] == "completed"
    assert [a["year"] for a in run.result["albums"]] == [v.album.year for v in expected]
    assert [a["albumName"] for a in run.result["albums"]] == [v.album.album_name for v in expected]
