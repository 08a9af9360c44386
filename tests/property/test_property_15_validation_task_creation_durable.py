"""Property 15 for the durable pattern, through the real durable runner in local mode.

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
    album_dicts,
    album_sets,
    approve,
    corrections_for,
    durable_env,
    execution_id,
    upload,
)

__all__ = ["durable_env"]


@pytest.mark.property
@pytest.mark.timeout(1800)  # up to 100 whole executions on a loaded machine
@DURABLE_EXAMPLES
@given(albums=album_sets(), corrections=corrections_for())
def test_validation_task_creation(
    durable_env: tuple[LocalStack, LocalDurable],
    albums: Sequence[Album],
    corrections: Sequence[AlbumCorrection],
) -> None:
    """**Feature: album-registration-system, Property 15: Validation Task Creation** — For any
    execution after initial data storage, a validation task with pending status should be
    created
    """
    stack, durable = durable_env
    from albums.domain import keys
    from albums.domain.models import TaskStatus

    before = len(durable.started)
    upload(stack, album_dicts(albums))
    (arn,) = durable.started[before:]
    ident = execution_id(arn)
    durable.wait_for_task(ident)
    repository = stack.repository(PATTERN)
    task = repository.get_task(keys.task_id_for(PATTERN, ident))
    assert task.status is TaskStatus.PENDING
    assert task.albums == tuple(a.album for a in repository.get_albums(ident))
    assert task.expires_at > task.created_at
    approve(corrections)(durable, ident)
    assert durable.wait(arn).result["status"] == "completed"
