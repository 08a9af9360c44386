"""**Feature: album-registration-system, Property 6: Exact Album Count** — *For any* vision
model response, exactly 6 album records should be extracted (Validates: Requirements 2.2).

The parser either returns exactly six albums or raises a typed vision error; it never
returns another count, whatever the model says.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from albums.domain.errors import VisionAlbumCountError, VisionAlbumFieldError, VisionOutputError
from albums.domain.models import ALBUMS_PER_IMAGE
from albums.domain.vision import parse_model_response
from tests.property.strategies import album_text, years

# With prose around unfenced JSON, triple backticks inside a name read as a code fence
# (see the rules in albums.domain.vision); the other forms take any name.
names = album_text.filter(lambda text: "```" not in text)

valid_entries = st.fixed_dictionaries({"albumName": names, "artist": names, "year": years})
broken_entries = st.one_of(
    st.fixed_dictionaries({"albumName": names, "artist": names}),
    st.fixed_dictionaries({"albumName": st.just(""), "artist": names, "year": years}),
    st.fixed_dictionaries(
        {"albumName": names, "artist": names, "year": st.sampled_from(["1973", 1973.0, None])}
    ),
    st.integers(),
    st.just(None),
    st.lists(names, max_size=3),
)
entries = st.one_of(valid_entries, valid_entries, valid_entries, broken_entries)

FORMS: dict[str, Callable[[Any], str]] = {
    "plain": json.dumps,
    "indented": lambda value: json.dumps(value, indent=2),
    "fenced-json": lambda value: "```json\n" + json.dumps(value, indent=2) + "\n```",
    "fenced-bare": lambda value: "```\n" + json.dumps(value) + "\n```",
    "albums-object": lambda value: json.dumps({"albums": value}),
    "prose-and-fence": lambda value: (
        "Here are the albums I can see:\n```json\n" + json.dumps(value) + "\n```\nDone."
    ),
    "prose-and-bare-json": lambda value: "The albums, left to right:\n" + json.dumps(value),
}


def envelope(text: str, stop_reason: str = "end_turn") -> str:
    return json.dumps(
        {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "text", "text": text}],
            "stop_reason": stop_reason,
        }
    )


def is_complete(entry: Any) -> bool:
    """Whether an entry drawn above is a usable album (names are always usable)."""
    return (
        isinstance(entry, dict)
        and entry.keys() == {"albumName", "artist", "year"}
        and entry["albumName"] != ""
        and type(entry["year"]) is int
    )


@pytest.mark.property
@given(
    answer=st.one_of(
        st.lists(entries, min_size=0, max_size=12),
        st.lists(entries, min_size=ALBUMS_PER_IMAGE, max_size=ALBUMS_PER_IMAGE),
    ),
    form=st.sampled_from(sorted(FORMS)),
)
def test_album_arrays_of_any_length_give_six_albums_or_a_count_error(
    answer: list[Any], form: str
) -> None:
    body = envelope(FORMS[form](answer))
    if len(answer) != ALBUMS_PER_IMAGE:
        with pytest.raises(VisionAlbumCountError, match=f"the model returned {len(answer)}$"):
            parse_model_response(body)
    elif all(is_complete(entry) for entry in answer):
        assert len(parse_model_response(body)) == ALBUMS_PER_IMAGE
    else:
        # The count is right, so only a field can be wrong.
        with pytest.raises(VisionAlbumFieldError):
            parse_model_response(body)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=8)
        | st.dictionaries(st.sampled_from(["albums", "albumName", "artist", "year", "x"]), children)
    ),
    max_leaves=30,
)
any_text = st.one_of(
    st.text(max_size=300),
    json_values.map(json.dumps),
    st.tuples(st.text(max_size=40), json_values.map(json.dumps), st.text(max_size=40)).map("".join),
    st.tuples(st.text(max_size=40), json_values.map(json.dumps)).map(
        lambda parts: f"{parts[0]}\n```json\n{parts[1]}\n```"
    ),
)


@pytest.mark.property
@given(
    text=any_text,
    stop_reason=st.sampled_from(["end_turn", "stop_sequence", "max_tokens", "refusal"]),
)
def test_any_model_answer_gives_six_albums_or_a_vision_error(text: str, stop_reason: str) -> None:
    try:
        albums = parse_model_response(envelope(text, stop_reason))
    except VisionOutputError:
        return
    assert len(albums) == ALBUMS_PER_IMAGE
