"""**Feature: album-registration-system, Property 7: Album Data Completeness** — *For any*
extracted album, albumName, artist, and year fields should all be present (Validates:
Requirements 2.3).

Every album the parser returns has a non-empty name and artist and a valid year; an entry
with a field missing, empty or of the wrong kind is refused with a field error that names
the album.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from albums.domain.errors import VisionAlbumFieldError
from albums.domain.models import ALBUMS_PER_IMAGE, MIN_YEAR, current_year
from albums.domain.vision import parse_model_response
from tests.property.strategies import album_text, years

entries = st.fixed_dictionaries({"albumName": album_text, "artist": album_text, "year": years})

# (field, replacement); MISSING as the replacement deletes the field.
MISSING = object()
BROKEN_NAMES = [MISSING, "", "   ", "\t\n", None, 42, ["a"], "bad\x00name", "x" * 201]
BROKEN_YEARS = [MISSING, None, "1973", "1970s", 1973.0, True, MIN_YEAR - 1, current_year() + 1]


@st.composite
def corruptions(draw: st.DrawFn) -> tuple[str, object]:
    field = draw(st.sampled_from(["albumName", "artist", "year"]))
    pool = BROKEN_YEARS if field == "year" else BROKEN_NAMES
    return field, draw(st.sampled_from(pool))


def envelope(text: str) -> str:
    return json.dumps({"content": [{"type": "text", "text": text}], "stop_reason": "end_turn"})


def render(answer: list[dict[str, Any]], fenced: bool) -> str:
    text = json.dumps(answer)
    return f"```json\n{text}\n```" if fenced else text


@pytest.mark.property
@given(
    answer=st.lists(entries, min_size=ALBUMS_PER_IMAGE, max_size=ALBUMS_PER_IMAGE),
    damage=st.dictionaries(
        st.integers(min_value=0, max_value=ALBUMS_PER_IMAGE - 1), corruptions(), max_size=3
    ),
    fenced=st.booleans(),
)
def test_returned_albums_are_complete_and_incomplete_ones_are_refused(
    answer: list[dict[str, Any]], damage: dict[int, tuple[str, object]], fenced: bool
) -> None:
    for position, (field, value) in damage.items():
        if value is MISSING:
            del answer[position][field]
        else:
            answer[position][field] = value
    body = envelope(render(answer, fenced))
    if damage:
        first = min(damage) + 1
        with pytest.raises(VisionAlbumFieldError) as caught:
            parse_model_response(body)
        assert caught.value.message.startswith(f"album {first}:")
        assert damage[first - 1][0] in caught.value.message
        return
    albums = parse_model_response(body)
    assert len(albums) == ALBUMS_PER_IMAGE
    for album, entry in zip(albums, answer, strict=True):
        assert isinstance(album.album_name, str)
        assert album.album_name.strip() == album.album_name != ""
        assert isinstance(album.artist, str)
        assert album.artist.strip() == album.artist != ""
        assert type(album.year) is int
        assert MIN_YEAR <= album.year <= current_year()
        assert (album.album_name, album.artist, album.year) == (
            entry["albumName"].strip(),
            entry["artist"].strip(),
            entry["year"],
        )
