"""An external JSON pricing API behind the :class:`~albums.domain.pricing.PriceSource` port.

Standard library only (``urllib.request``), so the layer needs no HTTP dependency.

The contract expected of the API::

    GET {base_url}{path}?artist=...&album=...&year=...
    {api_key_header}: <key>            (the key never goes in the URL)
    Accept: application/json

    200 {"priceEstimate": 45.0, "priceConfidence": 0.85,
         "currency": "USD", "priceSource": "discogs"}   (currency, priceSource optional)
    404 no price data for this album

Error mapping (the orchestrations retry only :class:`PriceSourceUnavailableError`):

- 408, 429, 5xx, timeouts, refused or dropped connections -> ``PriceSourceUnavailableError``
- 404, other 4xx, redirects, TLS verification failures, malformed or oversized bodies
  -> ``PriceEstimationError``

The API key is given by the caller (who reads it from Secrets Manager); it is kept out of
``repr``, URLs, error messages and logs. Redirects are refused rather than followed, so
the key is never replayed to another host.
"""

from __future__ import annotations

import functools
import http.client
import ipaddress
import json
import re
import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from decimal import Decimal

from albums.domain.errors import (
    InvalidAlbumError,
    PriceEstimationError,
    PriceSourceUnavailableError,
)
from albums.domain.models import Album, PriceEstimate

#: HTTP statuses worth retrying besides 5xx.
RETRYABLE_STATUSES = frozenset({408, 429})
_TOKEN = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
_USER_AGENT = "album-registration/0.1 (+pricing adapter)"


@dataclass(frozen=True, slots=True)
class HttpPriceSource:
    """A :class:`~albums.domain.pricing.PriceSource` backed by an external JSON API.

    Parameters
    ----------
    base_url
        ``https://host[:port][/prefix]``; plain ``http`` is accepted only for loopback
        hosts (local tests and stand-ins).
    api_key
        The API key (from Secrets Manager). Never logged or shown in ``repr``.
    timeout_seconds
        Connect and read timeout, ``0 < t <= 30``.
    path
        Path of the price lookup, appended to ``base_url``.
    api_key_header
        Header that carries the key.
    source_name
        ``priceSource`` recorded when the API does not name its own source.
    max_response_bytes
        Larger bodies are refused as malformed.
    """

    base_url: str
    api_key: str = field(repr=False)
    timeout_seconds: float = 3.0
    path: str = "/v1/prices"
    api_key_header: str = "x-api-key"
    source_name: str = "pricing-api"
    max_response_bytes: int = 64 * 1024

    def __post_init__(self) -> None:
        parsed = urllib.parse.urlsplit(self.base_url)
        if parsed.scheme not in ("https", "http") or not parsed.hostname:
            raise ValueError("base_url must be an absolute http(s) URL")
        if parsed.scheme == "http" and not _is_loopback(parsed.hostname):
            raise ValueError("base_url must use https (http is allowed for loopback only)")
        if parsed.query or parsed.fragment or parsed.username or parsed.password:
            raise ValueError("base_url must not carry a query, fragment or credentials")
        if not isinstance(self.api_key, str) or not self.api_key.strip():
            raise ValueError("api_key must be a non-empty string")
        if any(ch in self.api_key for ch in "\r\n\x00"):
            raise ValueError("api_key must not contain line breaks")
        if not _TOKEN.fullmatch(self.api_key_header):
            raise ValueError("api_key_header must be a valid header name")
        if isinstance(self.timeout_seconds, bool) or not 0 < self.timeout_seconds <= 30:
            raise ValueError("timeout_seconds must be within (0, 30]")
        if not self.path.startswith("/"):
            raise ValueError("path must start with '/'")
        if not self.source_name.strip():
            raise ValueError("source_name must not be empty")
        if self.max_response_bytes <= 0:
            raise ValueError("max_response_bytes must be positive")

    def url_for(self, album: Album) -> str:
        """Return the lookup URL for ``album`` (no secrets in it)."""
        query = urllib.parse.urlencode(
            {"artist": album.artist, "album": album.album_name, "year": str(album.year)}
        )
        return f"{self.base_url.rstrip('/')}{self.path}?{query}"

    def estimate(self, album: Album) -> PriceEstimate:
        """Look ``album`` up and return its estimate.

        Raises
        ------
        PriceSourceUnavailableError
            Throttled (429), timed out (408 or no answer in time), server error (5xx) or
            connection failure: retry this album.
        PriceEstimationError
            No data (404), request refused (other 4xx), redirect, TLS failure, or a body
            that is not a valid estimate.
        """
        request = urllib.request.Request(  # noqa: S310 - scheme checked in __post_init__
            self.url_for(album),
            headers={
                "Accept": "application/json",
                "User-Agent": _USER_AGENT,
                self.api_key_header: self.api_key,
            },
            method="GET",
        )
        label = f"album {album.index} ({album.artist!r} - {album.album_name!r})"
        body = self._fetch(request, label)
        return self._parse(body, label)

    def _opener(self) -> urllib.request.OpenerDirector:
        # Built by hand rather than with build_opener(): no redirect handler (a 3xx becomes
        # an HTTPError, so the key is never replayed to another host) and no file:/ftp:.
        host = urllib.parse.urlsplit(self.base_url).hostname or ""
        opener = urllib.request.OpenerDirector()
        for handler in (
            # A local server is never reached through a proxy.
            urllib.request.ProxyHandler({} if _is_loopback(host) else None),
            urllib.request.HTTPHandler(),
            urllib.request.HTTPSHandler(context=_tls_context()),
            urllib.request.HTTPDefaultErrorHandler(),
            urllib.request.HTTPErrorProcessor(),
        ):
            opener.add_handler(handler)
        return opener

    def _fetch(self, request: urllib.request.Request, label: str) -> bytes:
        try:
            with self._opener().open(request, timeout=self.timeout_seconds) as response:
                declared = _content_length(response.headers.get("Content-Length"))
                if declared is not None and declared > self.max_response_bytes:
                    raise PriceEstimationError(
                        f"pricing API answer for {label} is larger than "
                        f"{self.max_response_bytes} bytes"
                    )
                body: bytes = response.read(self.max_response_bytes + 1)
        except urllib.error.HTTPError as error:
            error.close()
            raise _http_error(error.code, label) from None
        except urllib.error.URLError as error:
            if isinstance(error.reason, ssl.SSLCertVerificationError):
                raise PriceEstimationError(
                    f"pricing API TLS verification failed for {label}"
                ) from None
            raise PriceSourceUnavailableError(
                f"pricing API unreachable for {label}: {_reason(error.reason)}"
            ) from None
        except (http.client.HTTPException, OSError) as error:  # timeouts, resets, bad status
            raise PriceSourceUnavailableError(
                f"pricing API failed for {label}: {_reason(error)}"
            ) from None
        if len(body) > self.max_response_bytes:
            raise PriceEstimationError(
                f"pricing API answer for {label} is larger than {self.max_response_bytes} bytes"
            )
        if declared is not None and len(body) < declared:
            # read(n) returns what arrived before the connection dropped; no exception.
            raise PriceSourceUnavailableError(
                f"pricing API answer for {label} was cut off ({len(body)} of {declared} bytes)"
            )
        return body

    def _parse(self, body: bytes, label: str) -> PriceEstimate:
        try:
            data = json.loads(body.decode("utf-8"), parse_float=Decimal)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise PriceEstimationError(f"pricing API answer for {label} is not JSON") from None
        if not isinstance(data, dict):
            raise PriceEstimationError(f"pricing API answer for {label} is not a JSON object")
        missing = [key for key in ("priceEstimate", "priceConfidence") if data.get(key) is None]
        if missing:
            raise PriceEstimationError(f"pricing API answer for {label} lacks {', '.join(missing)}")
        source, currency = data.get("priceSource"), data.get("currency", "USD")
        if not isinstance(currency, str):
            raise PriceEstimationError(f"pricing API answer for {label} has a non-text currency")
        try:
            return PriceEstimate(
                price_estimate=data["priceEstimate"],
                price_confidence=data["priceConfidence"],
                price_source=source if isinstance(source, str) else self.source_name,
                currency=currency,
            )
        except InvalidAlbumError as error:
            raise PriceEstimationError(
                f"pricing API answer for {label} is invalid: {error.message}"
            ) from None


def _http_error(status: int, label: str) -> PriceSourceUnavailableError | PriceEstimationError:
    if status in RETRYABLE_STATUSES or 500 <= status <= 599:
        return PriceSourceUnavailableError(f"pricing API answered HTTP {status} for {label}")
    if status == 404:
        return PriceEstimationError(f"pricing API has no price data for {label}")
    if 300 <= status <= 399:
        return PriceEstimationError(f"pricing API redirected (HTTP {status}); not followed")
    return PriceEstimationError(f"pricing API refused the lookup of {label} (HTTP {status})")


def _content_length(value: str | None) -> int | None:
    if value is None or not value.strip().isdigit():
        return None
    return int(value)


def _reason(reason: object) -> str:
    # The reason of a network error names the failure, never a header: safe to show.
    return type(reason).__name__ if not str(reason) else f"{type(reason).__name__}: {reason}"


@functools.cache
def _tls_context() -> ssl.SSLContext:
    # Loading the CA bundle costs milliseconds: once per process, and never at import.
    return ssl.create_default_context()


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
