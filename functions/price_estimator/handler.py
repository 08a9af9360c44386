"""Estimate-price step: one album per invocation (one item of the Map state).

Runs the shared price estimator (deterministic by default, so both patterns produce the
same prices) on one validated album and returns ``priceEstimate``, ``priceConfidence``
(0..1) and ``priceSource``. ``PriceSourceUnavailableError`` is retried by the Map item's
Retry; any final error is caught per item, so one album's failure never stops the others.

Payload: ``{"executionArn": ..., "album": {albumIndex, albumName, artist, year, ...}}``.
Result: ``{"albumIndex": n, "estimate": {priceEstimate, priceConfidence, priceSource,
currency}}``.

Lambda handler string: ``price_estimator.handler.handler``
(the zip holds ``price_estimator/`` at its root).
"""

from __future__ import annotations

from typing import Any

from albums import workflow
from albums.adapters.stepfunctions import PATTERN, execution_id_of
from albums.domain.errors import InvalidAlbumError
from albums.domain.models import Album
from albums.domain.pricing import DeterministicPriceEstimator, PriceSource
from albums.observability import execution_context, get_logger

LOGGER = get_logger()
_DEFAULT_SOURCE = DeterministicPriceEstimator()


def estimate(event: dict[str, Any], source: PriceSource) -> dict[str, Any]:
    """Estimate the price of the payload's album with ``source``.

    Raises
    ------
    InvalidAlbumError
        The payload carries no well-formed album.
    PriceSourceUnavailableError, PriceEstimationError
        From the price source (retryable, permanent).
    """
    execution_id = execution_id_of(event)
    with execution_context(LOGGER, execution_id, PATTERN):
        raw = event.get("album")
        if not isinstance(raw, dict):
            raise InvalidAlbumError("the payload has no album object")
        album = Album.from_dict(raw)
        result = workflow.estimate_album_price(source, album)
        LOGGER.info("album priced", extra={"albumIndex": album.index})
        return {"albumIndex": album.index, "estimate": result.to_dict()}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:  # noqa: ARG001 - Lambda signature
    """Lambda entry point: see the module docstring (deterministic price source)."""
    return estimate(event, _DEFAULT_SOURCE)
