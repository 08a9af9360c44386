"""**Feature: album-registration-system, Property 16: Workflow Pause** — *For any*
validation task creation, the workflow should pause without active compute (Validates:
Requirements 4.2). Step Functions pattern: ``lambda:invoke.waitForTaskToken``."""

from __future__ import annotations

import time

import pytest
from hypothesis import given

from albums.domain.models import Album
from tests.integration.sfn_support import E2E_SETTINGS, entered_states, finish, sfn_stack, upload
from tests.property.strategies import album_sets

pytestmark = [pytest.mark.property, pytest.mark.integration]


def test_property_16_the_workflow_waits_without_compute() -> None:
    """**Feature: album-registration-system, Property 16: Workflow Pause** — *For any*
    validation task creation, the workflow should pause without active compute."""
    with sfn_stack() as (stack, pattern):

        @E2E_SETTINGS
        @given(albums=album_sets())
        def check(albums: tuple[Album, ...]) -> None:
            arn, _ = upload(stack, pattern, albums)
            pattern.wait_for_validation(arn)
            deadline = time.monotonic() + 5
            while (history := pattern.history(arn))[-1]["type"] != "TaskSubmitted":
                assert time.monotonic() < deadline, "the notifier never handed over"
                time.sleep(0.01)
            invocations = len(stack.registry.invocations)
            time.sleep(0.2)

            # Paused: still running, parked in WaitForValidation, and nothing runs meanwhile.
            assert pattern.describe(arn)["status"] == "RUNNING"
            assert entered_states(history)[-1] == "WaitForValidation"
            assert len(pattern.history(arn)) == len(history)
            assert len(stack.registry.invocations) == invocations
            pattern.approve(arn)
            finish(pattern, arn)

        check()
