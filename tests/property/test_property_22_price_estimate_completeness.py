"""**Feature: album-registration-system, Property 22: Price Estimate Completeness** — *For
any* price estimate, both priceEstimate and priceConfidence fields should be present
(Validates: Requirements 5.3).

For any valid album (names in any script, years 1900..now) the default estimator returns
a priceEstimate (>= 0, 2 decimals), a priceConfidence in 0..1 and a non-empty
priceSource; the same album written with other case or spacing, at another index, gets
the same estimate (determinism, which makes both patterns agree).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from albums.domain.models import Album, PriceEstimate
from albums.domain.pricing import DeterministicPriceEstimator, estimate_price
from tests.property.strategies import album_text, years

ESTIMATOR = DeterministicPriceEstimator()

# Words in any script joined by spaces, so the spacing variants have something to change.
names = (
    st.lists(album_text.map(str.strip).filter(bool), min_size=1, max_size=4)
    .map(" ".join)
    .filter(lambda name: len(name) <= 200)
)


def _swap_ascii_case(text: str) -> str:
    return "".join(ch.swapcase() if ch.isascii() else ch for ch in text)


# Ways of writing the same name: other case, other spacing.
VARIANTS: tuple[Callable[[str], str], ...] = (
    str.casefold,
    _swap_ascii_case,
    lambda text: f"  {text}\u00a0 ",
    lambda text: text.replace(" ", "   "),
    lambda text: text.replace(" ", " \u00a0"),
)


@st.composite
def album_pairs(draw: st.DrawFn) -> tuple[Album, Album]:
    """An album, and the same album written differently at another (or the same) index."""
    name, artist, year = draw(names), draw(names), draw(years)
    rename, reartist = draw(st.sampled_from(VARIANTS)), draw(st.sampled_from(VARIANTS))
    first_index, second_index = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    return (
        Album(index=first_index, album_name=name, artist=artist, year=year),
        Album(index=second_index, album_name=rename(name), artist=reartist(artist), year=year),
    )


@pytest.mark.property
@given(pair=album_pairs())
def test_property_22_price_estimate_completeness(pair: tuple[Album, Album]) -> None:
    """**Feature: album-registration-system, Property 22: Price Estimate Completeness** —
    *For any* price estimate, both priceEstimate and priceConfidence fields should be
    present.
    """
    album, same_album = pair
    estimate = estimate_price(ESTIMATOR, album)

    assert isinstance(estimate, PriceEstimate)
    wire = estimate.to_dict()
    assert wire["priceEstimate"] is not None
    assert wire["priceConfidence"] is not None
    assert wire["priceSource"].strip()
    assert PriceEstimate.from_dict(wire) == estimate

    assert estimate.price_estimate >= 0
    assert estimate.price_estimate.as_tuple().exponent == -2
    assert Decimal(5) <= estimate.price_estimate <= Decimal(500)
    assert Decimal(0) <= estimate.price_confidence <= Decimal(1)

    assert estimate_price(ESTIMATOR, same_album) == estimate
