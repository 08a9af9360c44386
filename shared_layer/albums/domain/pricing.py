"""Album price estimation: the ``PriceSource`` port and the default deterministic estimator.

This is an *estimate model for the demo*, not market data. It produces plausible figures
for a used or new vinyl LP so that both orchestration patterns have real work to do and
produce equal, reproducible results. Plug a real source in through :class:`PriceSource`
(see :class:`albums.adapters.pricing_api.HttpPriceSource`).

The deterministic model (``deterministic-model-v1``)
----------------------------------------------------
1. **Normalise** artist and album name (:func:`normalise_name`): compatibility caseless
   folding (NFKD + casefold, Unicode D146), ``&`` read as ``and``, diacritics (combining
   marks) dropped, apostrophes dropped, other punctuation and symbols read as spaces,
   whitespace collapsed. A leading "the" is dropped from the artist ("The Beatles" and
   "Beatles" are catalogued as one artist). The hash key is the normalised artist, album
   and year with the spaces removed, so "AC/DC", "AC DC" and "acdc" agree.
2. **Hash** the key with SHA-256 (never Python's salted ``hash()``) and read three
   uniform numbers ``u1, u2, u3`` in ``[0, 1)`` from the digest.
3. **Price** = era base x age x keywords x condition x rarity, bounded to ``$5..$500``:

   ========== ======== ========== =====================================================
   era        base USD confidence why
   ========== ======== ========== =====================================================
   < 1960     32       0.55       early LPs, often worn: wide spread
   1960-1979  38       0.65       vinyl's golden era: collectible premium
   1980-1989  20       0.75       huge pressings, plentiful second-hand
   1990-1999  42       0.60       CD era: small vinyl runs are scarce today
   2000-2009  26       0.75       reissue era
   >= 2010    28       0.90       new pressings sell near retail ($25-35)
   ========== ======== ========== =====================================================

   - age: ``1 + 0.004 x min(age, 75)`` (at most +30 %), with age counted from the model's
     fixed reference year (not today's date, so results never drift with the calendar);
   - keywords in the album name (product, bounded to ``0.5..3``; see ``KEYWORD_FACTORS``):
     compilations ("greatest hits", "best of") and live albums are cheaper; "deluxe",
     "box set", "first pressing", "limited edition", mono pressings are dearer;
   - condition ``0.8 + 0.4 x u1``: the spread of copies in circulation;
   - rarity ``1 + 2.2 x u2^6`` (most albums are common, a few are sought after), weighted
     by ``min(1, age / 25)`` because recent records are still in print.

4. **Confidence** = the era's confidence, minus ``0.12`` per unit of rarity above 1, plus
   ``0.03`` for compilations, minus ``0.05`` for collector keywords, plus a jitter of
   ``+/-0.03`` from ``u3``; bounded to ``0.35..0.95``. Common recent records are easy to
   price; old and rare ones are not.

All arithmetic is :class:`~decimal.Decimal` in a local context with integer powers only,
so the same album gets the same cents on x86 and arm64 alike.
"""

from __future__ import annotations

import decimal
import hashlib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Protocol, runtime_checkable

from albums.domain.errors import InvalidAlbumError, PriceEstimationError
from albums.domain.models import MIN_YEAR, Album, PriceEstimate

#: Name recorded as ``priceSource`` by the default estimator. Bump the version whenever
#: the model changes: stored prices then say which model made them.
DETERMINISTIC_SOURCE = "deterministic-model-v1"
#: The model counts album age from this fixed year so that its output never changes
#: with the calendar (both patterns must agree, today and next year).
MODEL_REFERENCE_YEAR = 2026
_MODEL_ID = "deterministic-model-v1"

#: Album-name keywords and their price factor, matched on whole normalised words.
KEYWORD_FACTORS: tuple[tuple[str, Decimal], ...] = (
    ("greatest hits", Decimal("0.70")),
    ("best of", Decimal("0.70")),
    ("live", Decimal("0.85")),
    ("in concert", Decimal("0.85")),
    ("remastered", Decimal("0.90")),
    ("reissue", Decimal("0.85")),
    ("mono", Decimal("1.15")),
    ("deluxe", Decimal("1.25")),
    ("anniversary", Decimal("1.20")),
    ("limited edition", Decimal("1.30")),
    ("picture disc", Decimal("1.30")),
    ("first pressing", Decimal("1.60")),
    ("1st pressing", Decimal("1.60")),
    ("original pressing", Decimal("1.50")),
    ("box set", Decimal("1.80")),
    ("boxset", Decimal("1.80")),
)
_COMPILATION_KEYWORDS = frozenset({"greatest hits", "best of"})
_COLLECTOR_KEYWORDS = frozenset(
    {"box set", "boxset", "first pressing", "1st pressing", "original pressing"}
    | {"limited edition", "picture disc"}
)

# (first year of the era, base price USD, base confidence), newest first.
_ERAS: tuple[tuple[int, Decimal, Decimal], ...] = (
    (2010, Decimal(28), Decimal("0.90")),
    (2000, Decimal(26), Decimal("0.75")),
    (1990, Decimal(42), Decimal("0.60")),
    (1980, Decimal(20), Decimal("0.75")),
    (1960, Decimal(38), Decimal("0.65")),
    (MIN_YEAR, Decimal(32), Decimal("0.55")),
)

_CENT = Decimal("0.01")
_TWO_POW_64 = Decimal(2**64)
_APOSTROPHES = str.maketrans("", "", "'\u2019\u02bc`\u00b4")
_WHITESPACE = re.compile(r"\s+")


@runtime_checkable
class PriceSource(Protocol):
    """Anything that can estimate one album's price.

    Implementations raise :class:`~albums.domain.errors.PriceSourceUnavailableError` for
    transient failures (worth retrying this one album) and
    :class:`~albums.domain.errors.PriceEstimationError` for permanent ones.
    """

    def estimate(self, album: Album) -> PriceEstimate:
        """Return the estimated price of ``album``."""
        ...  # pragma: no cover


def normalise_name(text: str, *, drop_leading_article: bool = False) -> str:
    """Return ``text`` in the comparable form the estimator hashes.

    Unicode compatibility caseless folding (NFKD + casefold), ``&`` read as ``and``,
    combining marks (diacritics) and apostrophes dropped, other punctuation and symbols
    read as spaces, whitespace collapsed. A name made only of punctuation (the band "!!!")
    keeps its characters rather than vanishing.

    Parameters
    ----------
    text
        An artist or album name.
    drop_leading_article
        Drop a leading "the" (used for artists: "The Beatles" == "Beatles").

    Returns
    -------
    str
        The normalised name; never empty for a non-blank input.
    """
    # Unicode's compatibility caseless form (D146): NFKD(casefold(NFKD(casefold(NFD(x))))).
    # A plain NFKC().casefold() is not closed: "x" and "x".casefold() could differ.
    folded = unicodedata.normalize("NFD", text).casefold()
    folded = unicodedata.normalize("NFKD", folded).casefold()
    folded = unicodedata.normalize("NFKD", folded).replace("&", " and ")
    stripped = "".join(ch for ch in folded if unicodedata.category(ch) != "Mn")
    stripped = unicodedata.normalize("NFKC", stripped).translate(_APOSTROPHES)
    spaced = "".join(" " if unicodedata.category(ch)[0] in "PS" else ch for ch in stripped)
    result = _WHITESPACE.sub(" ", spaced).strip()
    if not result:
        result = _WHITESPACE.sub(" ", unicodedata.normalize("NFKC", folded)).strip()
    if drop_leading_article and result.startswith("the ") and len(result) > 4:
        result = result[4:]
    return result


def album_key(album: Album) -> str:
    """Return the key that identifies an album for pricing: normalised artist|album|year."""
    artist = normalise_name(album.artist, drop_leading_article=True).replace(" ", "")
    name = normalise_name(album.album_name).replace(" ", "")
    return f"{artist}|{name}|{album.year}"


@dataclass(frozen=True, slots=True)
class DeterministicPriceEstimator:
    """The default price source: same album, same price, no I/O (see the module docstring).

    Parameters
    ----------
    source_name
        Recorded as ``priceSource`` on every estimate.
    reference_year
        The year album age is counted from; fixed so results never drift.
    min_price, max_price
        Bounds of the estimate in USD.
    """

    source_name: str = DETERMINISTIC_SOURCE
    reference_year: int = MODEL_REFERENCE_YEAR
    min_price: Decimal = Decimal(5)
    max_price: Decimal = Decimal(500)

    def __post_init__(self) -> None:
        if not isinstance(self.source_name, str) or not self.source_name.strip():
            raise InvalidAlbumError("source_name must be a non-empty string")
        if isinstance(self.reference_year, bool) or not isinstance(self.reference_year, int):
            raise InvalidAlbumError("reference_year must be an integer")
        if self.reference_year < MIN_YEAR:
            raise InvalidAlbumError(f"reference_year must be at least {MIN_YEAR}")
        for name in ("min_price", "max_price"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
                raise InvalidAlbumError(f"{name} must be an int or Decimal, got {value!r}")
            object.__setattr__(self, name, Decimal(value))
        if not Decimal(0) <= self.min_price <= self.max_price:
            raise InvalidAlbumError("price bounds must satisfy 0 <= min_price <= max_price")

    def estimate(self, album: Album) -> PriceEstimate:
        """Return the deterministic estimate for ``album``.

        Parameters
        ----------
        album
            The album to price.

        Returns
        -------
        PriceEstimate
            ``priceEstimate`` in USD with 2 decimals, ``priceConfidence`` in ``0..1``.
        """
        if not isinstance(album, Album):
            raise InvalidAlbumError(f"expected an Album, got {type(album).__name__}")
        with decimal.localcontext() as ctx:
            # A private context: a caller's precision or rounding never changes our cents.
            ctx.prec = 28
            ctx.rounding = ROUND_HALF_UP
            price, confidence = self._model(album)
        return PriceEstimate(
            price_estimate=price, price_confidence=confidence, price_source=self.source_name
        )

    def _model(self, album: Album) -> tuple[Decimal, Decimal]:
        # Salted with the model id, not the configurable source name: renaming the source
        # must not change prices.
        digest = hashlib.sha256(f"{_MODEL_ID}\x00{album_key(album)}".encode()).digest()
        u1, u2, u3 = (
            Decimal(int.from_bytes(digest[i : i + 8], "big")) / _TWO_POW_64 for i in (0, 8, 16)
        )
        base, era_confidence = _era(album.year)
        age = max(0, self.reference_year - album.year)
        age_factor = 1 + Decimal("0.004") * min(age, 75)
        keywords = matched_keywords(album.album_name)
        keyword_factor = _bounded(
            _product(factor for word, factor in KEYWORD_FACTORS if word in keywords),
            Decimal("0.5"),
            Decimal(3),
        )
        condition = Decimal("0.8") + Decimal("0.4") * u1
        scarcity_weight = min(Decimal(1), Decimal(age) / 25)
        rarity = 1 + Decimal("2.2") * u2**6 * scarcity_weight
        price = base * age_factor * keyword_factor * condition * rarity
        price = _bounded(price, self.min_price, self.max_price).quantize(_CENT)

        confidence = era_confidence - Decimal("0.12") * (rarity - 1)
        if keywords & _COMPILATION_KEYWORDS:
            confidence += Decimal("0.03")
        if keywords & _COLLECTOR_KEYWORDS:
            confidence -= Decimal("0.05")
        confidence += (u3 - Decimal("0.5")) * Decimal("0.06")
        confidence = _bounded(confidence, Decimal("0.35"), Decimal("0.95")).quantize(_CENT)
        return price, confidence


def matched_keywords(album_name: str) -> frozenset[str]:
    """Return the ``KEYWORD_FACTORS`` keywords found as whole words in ``album_name``."""
    padded = f" {normalise_name(album_name)} "
    return frozenset(word for word, _ in KEYWORD_FACTORS if f" {word} " in padded)


def estimate_price(source: PriceSource, album: Album) -> PriceEstimate:
    """Ask ``source`` for ``album``'s price and check that the answer is a ``PriceEstimate``.

    Parameters
    ----------
    source
        Any :class:`PriceSource`.
    album
        The album to price.

    Returns
    -------
    PriceEstimate
        The validated estimate.

    Raises
    ------
    PriceSourceUnavailableError
        Passed through from the source: retry this album.
    PriceEstimationError
        The source failed permanently, built an invalid estimate, or returned something
        that is not a :class:`~albums.domain.models.PriceEstimate`.
    InvalidAlbumError
        ``album`` is not an :class:`~albums.domain.models.Album`.
    """
    if not isinstance(album, Album):
        raise InvalidAlbumError(f"expected an Album, got {type(album).__name__}")
    try:
        result = source.estimate(album)
    except InvalidAlbumError as error:
        # The source tried to build an invalid PriceEstimate: its answer is unusable.
        raise PriceEstimationError(
            f"price source returned an invalid estimate for album {album.index}: {error}"
        ) from error
    if not isinstance(result, PriceEstimate):
        raise PriceEstimationError(
            f"price source returned {type(result).__name__} for album {album.index}, "
            "expected PriceEstimate"
        )
    return result


def _era(year: int) -> tuple[Decimal, Decimal]:
    for first_year, base, confidence in _ERAS:
        if year >= first_year:
            return base, confidence
    return _ERAS[-1][1], _ERAS[-1][2]


def _product(factors: Iterable[Decimal]) -> Decimal:
    result = Decimal(1)
    for factor in factors:
        result *= factor
    return result


def _bounded(value: Decimal, low: Decimal, high: Decimal) -> Decimal:
    return max(low, min(high, value))
