"""Hypothesis strategies shared by the property tests."""

from __future__ import annotations

import string

from hypothesis import strategies as st

from albums.domain import models
from albums.domain.keys import IMAGE_SUFFIXES, UPLOAD_PREFIX
from albums.domain.models import Album

KEY_ALPHABET = string.ascii_letters + string.digits + "._~-"

# Names as a vision model might read them: any script, but no control characters.
album_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=60
).filter(lambda text: text.strip() != "")
years = st.integers(min_value=models.MIN_YEAR, max_value=models.current_year())


@st.composite
def album_sets(draw: st.DrawFn) -> tuple[Album, ...]:
    """Six valid albums with indices 1..6."""
    return tuple(
        Album(index=i, album_name=draw(album_text), artist=draw(album_text), year=draw(years))
        for i in range(1, models.ALBUMS_PER_IMAGE + 1)
    )


segment = st.text(alphabet=KEY_ALPHABET, min_size=1, max_size=40).filter(
    lambda part: part not in (".", "..")
)


@st.composite
def valid_keys(draw: st.DrawFn) -> str:
    """Upload keys that follow every key rule."""
    folders = draw(st.lists(segment, max_size=4))
    stem = draw(st.text(alphabet=KEY_ALPHABET, min_size=1, max_size=40))
    suffix = draw(st.sampled_from(IMAGE_SUFFIXES))
    suffix = draw(st.sampled_from([suffix, suffix.upper()]))
    return UPLOAD_PREFIX + "".join(f"{folder}/" for folder in folders) + stem + suffix
