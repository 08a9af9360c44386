"""Property 17 for the durable pattern, through the real durable runner in local mode.

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
