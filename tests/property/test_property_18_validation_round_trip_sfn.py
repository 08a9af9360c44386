"""**Feature: album-registration-system, Property 18: Validation Data Round-Trip** —
*For any* validated album data, the submitted corrections should be reflected in stored
records (Validates: Requirements 4.4). Step Functions pattern, through the real ASL."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from albums.domain.models import Album, TaskStatus
from tests.integration.sfn_support import (
    E2E_SETTINGS,
    corrections,
    finish,
    repository,
    sfn_stack,
    upload,
)
from tests.property.strategies import album_sets

pytestmark = [pytest.mark.property, pytest.mark.integration]


def test_property_18_corrections_are_stored() -> None:
    """**Feature: album-registration-system, Property 18: Validation Data Round-Trip** —
    *For any* validated album data, the submitted corrections should be reflected in
    stored records."""
    with sfn_stack() as (stack, pattern):

        @E2E_SETTINGS
        @given(data=st.data(), albums=album_sets())
        def check(data: st.DataObject, albums: tuple[Album, ...]) -> None:
            fixes = data.draw(corrections(albums))
            arn, _ = upload(stack, pattern, albums)
            task = pattern.approve(arn, fixes)
            finish(pattern, arn)

            by_index = {fix.index: fix for fix in fixes}
            for record, original in zip(
                repository(stack).get_albums(pattern.execution_id(arn)), albums, strict=True
            ):
                fix = by_index.get(original.index)
                assert record.year_validated is True
                assert record.year_original == original.year
                assert record.album.year == (fix.year if fix else original.year)
                assert record.album.album_name == (
                    fix.album_name if fix and fix.album_name else original.album_name
                )
                assert record.album.artist == (
                    fix.artist if fix and fix.artist else original.artist
                )
            closed = repository(stack).get_task(task.task_id)
            assert closed.status is TaskStatus.COMPLETED
            assert closed.corrections == fixes

        check()
