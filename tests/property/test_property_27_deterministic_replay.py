"""**Feature: album-registration-system, Property 27: Deterministic Replay** — *For any*
Durable Function execution that replays, the final result should be identical to the
original execution (Validates: Requirements 7.5).

Each example runs a whole registration through the real durable runner, then re-invokes
the handler with the execution's complete recorded history through a service client that
refuses every checkpoint: the result must be identical and no step body may run again
(no vision call, no table write). ``make test`` runs 10 examples, ``make test-slow`` 100
(``DURABLE_PROPERTY_EXAMPLES``); the crash and renamed-step cases are in
``tests/integration/test_durable_replay.py``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest
from aws_durable_execution_sdk_python_testing.invoker import create_test_lambda_context
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
from tests.integration.test_durable_replay import RefusingServiceClient, replay_input, table_items

__all__ = ["durable_env"]


def own_items(stack: LocalStack, execution_id: str) -> list[dict[str, Any]]:
    """The items of one execution (other examples' executions may still be running)."""
    return [item for item in table_items(stack) if execution_id in json.dumps(item)]


@pytest.mark.property
@pytest.mark.timeout(1800)  # up to 100 whole executions on a loaded machine
@DURABLE_EXAMPLES
@given(albums=album_sets(), corrections=corrections_for())
def test_replay_with_the_full_history_is_identical(
    durable_env: tuple[LocalStack, LocalDurable],
    albums: Sequence[Album],
    corrections: Sequence[AlbumCorrection],
) -> None:
    """**Feature: album-registration-system, Property 27: Deterministic Replay** — For any
    Durable Function execution that replays, the final result should be identical to the
    original execution
    """
    stack, durable = durable_env
    run = run_property_example(stack, durable, albums, corrections)
    items, calls = own_items(stack, run.execution_id), stack.vision.calls
    client = RefusingServiceClient()

    output = durable.handler(replay_input(durable, run.arn, client), create_test_lambda_context())

    assert client.calls == []
    assert output["Status"] == "SUCCEEDED"
    assert json.loads(output["Result"]) == run.result
    assert stack.vision.calls == calls
    assert own_items(stack, run.execution_id) == items
