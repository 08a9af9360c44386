"""**Feature: album-registration-system, Property 17: Workflow Resumption** — *For any*
validation submission, the workflow should resume with the corrected data (Validates:
Requirements 4.3). Step Functions pattern: ``SendTaskSuccess`` resumes the execution."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from albums.domain.models import Album, apply_corrections
from tests.integration.sfn_support import (
    E2E_SETTINGS,
    corrections,
    finish,
    price_inputs,
    sfn_stack,
    upload,
)
from tests.property.strategies import album_sets

pytestmark = [pytest.mark.property, pytest.mark.integration]


def test_property_17_the_workflow_resumes_with_the_corrected_data() -> None:
    """**Feature: album-registration-system, Property 17: Workflow Resumption** —
    *For any* validation submission, the workflow should resume with the corrected
    data."""
    with sfn_stack() as (stack, pattern):

        @E2E_SETTINGS
        @given(data=st.data(), albums=album_sets())
        def check(data: st.DataObject, albums: tuple[Album, ...]) -> None:
            fixes = data.draw(corrections(albums))
            arn, _ = upload(stack, pattern, albums)
            pattern.approve(arn, fixes)
            finish(pattern, arn)

            expected = {v.album.index: v.album.to_dict() for v in apply_corrections(albums, fixes)}
            priced = price_inputs(pattern.history(arn))
            assert len(priced) == 6
            for album in priced:
                assert {k: album[k] for k in ("albumIndex", "albumName", "artist", "year")} == (
                    expected[album["albumIndex"]]
                )
                assert album["yearValidated"] is True

        check()
