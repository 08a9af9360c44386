"""The deterministic price estimator and the ``estimate_price`` port helper."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from decimal import ROUND_DOWN, Decimal, localcontext
from pathlib import Path

import pytest

from albums.domain.errors import (
    InvalidAlbumError,
    PriceEstimationError,
    PriceSourceUnavailableError,
)
from albums.domain.models import Album, PriceEstimate
from albums.domain.pricing import (
    DETERMINISTIC_SOURCE,
    DeterministicPriceEstimator,
    PriceSource,
    album_key,
    estimate_price,
    matched_keywords,
    normalise_name,
)

ESTIMATOR = DeterministicPriceEstimator()


def album(name: str, artist: str, year: int, index: int = 1) -> Album:
    return Album(index=index, album_name=name, artist=artist, year=year)


def prices(year: int, suffix: str = "", count: int = 300) -> list[Decimal]:
    return [
        ESTIMATOR.estimate(album(f"Record {n}{suffix}", f"Artist {n}", year)).price_estimate
        for n in range(count)
    ]


# --- normalisation ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("The Beatles", "  the   beatles "),
        ("Björk", "BJORK"),
        ("Sigur Rós", "sigur ros"),
        ("\uff21\uff22\uff22\uff21", "abba"),  # fullwidth letters fold under NFKC
        ("Simon & Garfunkel", "simon and garfunkel"),
        ("Sgt. Pepper's Lonely Hearts Club Band", "sgt peppers lonely hearts club band"),
        ("Guns N\u2019 Roses", "guns n roses"),
        ("Straße", "strasse"),
    ],
)
def test_normalise_name_folds_case_width_diacritics_and_punctuation(left: str, right: str) -> None:
    assert normalise_name(left) == normalise_name(right)


def test_normalise_name_drops_a_leading_article_only_when_asked() -> None:
    assert normalise_name("The Beatles", drop_leading_article=True) == "beatles"
    assert normalise_name("The Beatles") == "the beatles"
    assert normalise_name("The", drop_leading_article=True) == "the"


def test_a_name_made_of_punctuation_keeps_its_characters() -> None:
    assert normalise_name("!!!") == "!!!"


def test_album_key_ignores_spacing_punctuation_and_index() -> None:
    assert album_key(album("Back in Black", "AC/DC", 1980)) == album_key(
        album("back in  black", "ACDC", 1980, index=5)
    )
    assert album_key(album("Abbey Road", "The Beatles", 1969)) == "beatles|abbeyroad|1969"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Live at Leeds", {"live"}),
        ("Deliver Us", set()),  # whole words only
        ("The Very Best of Nina Simone", {"best of"}),
        ("Greatest Hits Live", {"greatest hits", "live"}),
        ("Kind of Blue (Deluxe, Box-Set)", {"deluxe", "box set"}),
        ("Pet Sounds [Mono, First Pressing]", {"mono", "first pressing"}),
    ],
)
def test_matched_keywords_finds_whole_words(name: str, expected: set[str]) -> None:
    assert matched_keywords(name) == frozenset(expected)


# --- determinism -----------------------------------------------------------------------


def test_same_album_written_differently_gets_the_same_estimate() -> None:
    first = ESTIMATOR.estimate(album("Abbey Road", "The Beatles", 1969, index=1))
    second = DeterministicPriceEstimator().estimate(
        album("  abbey   ROAD!", "beatles", 1969, index=4)
    )
    assert first == second


def test_estimates_are_pinned_so_model_changes_are_deliberate() -> None:
    # Changing these figures changes stored prices: bump DETERMINISTIC_SOURCE with them.
    assert ESTIMATOR.estimate(album("Abbey Road", "The Beatles", 1969)) == PriceEstimate(
        Decimal("44.00"), Decimal("0.67"), DETERMINISTIC_SOURCE
    )
    assert ESTIMATOR.estimate(album("Midnights", "Taylor Swift", 2022)) == PriceEstimate(
        Decimal("32.17"), Decimal("0.93"), DETERMINISTIC_SOURCE
    )
    assert ESTIMATOR.estimate(album("Greatest Hits", "Queen", 1981)) == PriceEstimate(
        Decimal("14.42"), Decimal("0.80"), DETERMINISTIC_SOURCE
    )


def test_the_callers_decimal_context_does_not_change_the_cents() -> None:
    expected = ESTIMATOR.estimate(album("Kind of Blue", "Miles Davis", 1959))
    with localcontext() as ctx:
        ctx.prec = 4
        ctx.rounding = ROUND_DOWN
        assert ESTIMATOR.estimate(album("Kind of Blue", "Miles Davis", 1959)) == expected


def test_renaming_the_source_keeps_the_figures() -> None:
    named = DeterministicPriceEstimator(source_name="demo-model")
    record = album("OK Computer", "Radiohead", 1997)
    renamed, default = named.estimate(record), ESTIMATOR.estimate(record)
    assert renamed.price_source == "demo-model"
    assert (renamed.price_estimate, renamed.price_confidence) == (
        default.price_estimate,
        default.price_confidence,
    )


def test_the_year_is_part_of_the_identity() -> None:
    estimates = {ESTIMATOR.estimate(album("Blue", "Joni Mitchell", year)) for year in (1971, 2021)}
    assert len(estimates) == 2


# --- plausibility ----------------------------------------------------------------------


def test_estimates_stay_within_bounds_with_two_decimals() -> None:
    for year in (1900, 1955, 1968, 1985, 1995, 2005, 2024):
        for n in range(60):
            estimate = ESTIMATOR.estimate(album(f"Box Set First Pressing {n}", f"A{n}", year))
            assert Decimal(5) <= estimate.price_estimate <= Decimal(500)
            assert Decimal("0.35") <= estimate.price_confidence <= Decimal("0.95")
            assert estimate.price_estimate.as_tuple().exponent == -2
            assert estimate.currency == "USD"


def test_recent_pressings_sell_near_retail() -> None:
    median = statistics.median(prices(2024))
    assert Decimal(25) <= median <= Decimal(35)


def test_cd_era_vinyl_is_scarcer_than_the_eighties() -> None:
    assert statistics.median(prices(1995)) > statistics.median(prices(1985)) * Decimal("1.5")


def test_golden_era_carries_a_collectible_premium_over_recent_records() -> None:
    assert statistics.median(prices(1968)) > statistics.median(prices(2020))


def test_keywords_move_prices_the_documented_way() -> None:
    plain = statistics.median(prices(1975))
    assert statistics.median(prices(1975, " Greatest Hits")) < plain
    assert statistics.median(prices(1975, " Live")) < plain
    assert statistics.median(prices(1975, " Box Set")) > plain * Decimal("1.4")


def test_confidence_is_higher_for_recent_releases_than_old_ones() -> None:
    def confidence(year: int) -> Decimal:
        return statistics.median(
            ESTIMATOR.estimate(album(f"R{n}", f"A{n}", year)).price_confidence for n in range(200)
        )

    assert confidence(2022) > confidence(1985) > confidence(1950)


def test_a_fixed_reference_year_keeps_estimates_off_the_calendar() -> None:
    later = DeterministicPriceEstimator(reference_year=2040)
    record = album("Rumours", "Fleetwood Mac", 1977)
    assert later.estimate(record) != ESTIMATOR.estimate(record)
    # An album newer than the reference year is simply age 0, never an error.
    assert DeterministicPriceEstimator(reference_year=2000).estimate(album("X", "Y", 2024))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"source_name": " "},
        {"reference_year": True},
        {"reference_year": 1800},
        {"min_price": Decimal(10), "max_price": Decimal(5)},
        {"min_price": Decimal(-1)},
        {"max_price": 5.5},
    ],
)
def test_estimator_configuration_is_validated(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidAlbumError):
        DeterministicPriceEstimator(**kwargs)  # type: ignore[arg-type]


def test_estimator_refuses_what_is_not_an_album() -> None:
    with pytest.raises(InvalidAlbumError):
        ESTIMATOR.estimate({"albumName": "X"})  # type: ignore[arg-type]


# --- the port --------------------------------------------------------------------------


class _FixedSource:
    def __init__(self, result: object = None, error: Exception | None = None) -> None:
        self.result, self.error, self.calls = result, error, 0

    def estimate(self, album: Album) -> PriceEstimate:
        self.calls += 1
        if self.error is not None:
            raise self.error
        return self.result  # type: ignore[return-value]


def test_the_estimators_satisfy_the_price_source_protocol() -> None:
    assert isinstance(ESTIMATOR, PriceSource)
    assert isinstance(_FixedSource(), PriceSource)


def test_estimate_price_returns_a_valid_estimate() -> None:
    record = album("Blue Train", "John Coltrane", 1957)
    assert estimate_price(ESTIMATOR, record) == ESTIMATOR.estimate(record)


def test_estimate_price_refuses_an_answer_that_is_not_a_price_estimate() -> None:
    source = _FixedSource(result={"priceEstimate": 10, "priceConfidence": 0.5})
    with pytest.raises(PriceEstimationError, match="expected PriceEstimate"):
        estimate_price(source, album("A", "B", 2000))


def test_estimate_price_turns_an_invalid_estimate_into_a_permanent_error() -> None:
    source = _FixedSource(error=InvalidAlbumError("priceConfidence must be within 0..1"))
    with pytest.raises(PriceEstimationError, match="invalid estimate for album 3"):
        estimate_price(source, album("A", "B", 2000, index=3))


@pytest.mark.parametrize(
    "error", [PriceSourceUnavailableError("down"), PriceEstimationError("no data")]
)
def test_estimate_price_passes_typed_source_errors_through(error: Exception) -> None:
    with pytest.raises(type(error)):
        estimate_price(_FixedSource(error=error), album("A", "B", 2000))


def test_estimate_price_refuses_what_is_not_an_album() -> None:
    source = _FixedSource()
    with pytest.raises(InvalidAlbumError):
        estimate_price(source, "Abbey Road")  # type: ignore[arg-type]
    assert source.calls == 0


def test_the_pure_domain_imports_no_aws_sdk() -> None:
    code = (
        "import sys, albums.domain.pricing, albums.domain.cost\n"
        "leaked = sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore'))\n"
        "assert not leaked, leaked\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env=_env())  # noqa: S603


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "shared_layer")}
