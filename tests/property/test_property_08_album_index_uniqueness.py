"""**Feature: album-registration-system, Property 8: Album Index Uniqueness** — *For any*
set of extracted albums, indices should be unique and range from 1 to 6 (Validates:
Requirements 2.4).

Indices come from the model's reading order, never from numbers the model adds itself:
the first entry is album 1, the sixth is album 6.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from albums.domain.models import ALBUMS_PER_IMAGE
from albums.domain.vision import parse_model_response
from tests.property.strategies import album_text, years

# Models sometimes number their answers; those numbers (any value, repeated, missing)
# must not leak into the indices.
self_numbered = st.fixed_dictionaries(
    {"albumName": album_text, "artist": album_text, "year": years},
    optional={
        "albumIndex": st.integers(min_value=-3, max_value=9),
        "index": st.integers(min_value=0, max_value=6),
        "position": st.text(max_size=3),
    },
)


def envelope(text: str) -> str:
    return json.dumps({"content": [{"type": "text", "text": text}], "stop_reason": "end_turn"})


@pytest.mark.property
@given(
    answer=st.lists(self_numbered, min_size=ALBUMS_PER_IMAGE, max_size=ALBUMS_PER_IMAGE),
    wrap=st.sampled_from(["array", "object", "fenced"]),
)
def test_indices_are_one_to_six_unique_and_in_reading_order(
    answer: list[dict[str, Any]], wrap: str
) -> None:
    value: Any = {"albums": answer} if wrap == "object" else answer
    text = json.dumps(value)
    if wrap == "fenced":
        text = f"```json\n{text}\n```"
    albums = parse_model_response(envelope(text))
    indices = [album.index for album in albums]
    assert indices == list(range(1, ALBUMS_PER_IMAGE + 1))
    assert len(set(indices)) == ALBUMS_PER_IMAGE
    assert {album.index for album in albums} == set(range(1, 7))
    for album, entry in zip(albums, answer, strict=True):
        assert album.album_name == entry["albumName"].strip()
        assert album.artist == entry["artist"].strip()
