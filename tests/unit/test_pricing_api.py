"""The external pricing API adapter, against a tiny HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from albums.adapters.pricing_api import HttpPriceSource
from albums.domain.errors import (
    PriceEstimationError,
    PriceSourceUnavailableError,
    TransientError,
)
from albums.domain.models import Album, PriceEstimate
from albums.domain.pricing import PriceSource, estimate_price

API_KEY = "sk-test-4f1c2b9e-not-a-real-key"


class _PricingApi(BaseHTTPRequestHandler):
    """Answers according to the album name, so each test picks its scenario."""

    requests: list[dict[str, Any]] = []  # noqa: RUF012 - shared log the tests inspect

    def do_GET(self) -> None:  # noqa: PLR0912 - one branch per scenario
        url = urlsplit(self.path)
        query = {key: values[0] for key, values in parse_qs(url.query).items()}
        _PricingApi.requests.append(
            {"path": url.path, "query": query, "headers": dict(self.headers.items())}
        )
        if self.headers.get("x-api-key") != API_KEY:
            self._send(401, {"message": "unauthorised"})
            return
        scenario = query.get("album", "")
        if scenario == "slow":
            time.sleep(1.0)
            self._send(200, {"priceEstimate": 1, "priceConfidence": 0.5})
        elif scenario.startswith("status-"):
            self._send(int(scenario.removeprefix("status-")), {"message": scenario})
        elif scenario == "redirect":
            self.send_response(302)
            self.send_header("Location", "http://127.0.0.2:9/steal")
            self.end_headers()
        elif scenario == "garbage":
            self._send_raw(200, b"<html>oops</html>")
        elif scenario == "huge":
            self._send_raw(200, b"[" + b"1," * 40_000 + b"1]")
        elif scenario == "huge-unsized":
            # No Content-Length: the body runs until the connection closes.
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"[" + b"1," * 40_000 + b"1]")
            self.close_connection = True
        elif scenario == "list":
            self._send(200, [1, 2])
        elif scenario == "partial":
            self._send(200, {"priceEstimate": 10})
        elif scenario == "negative":
            self._send(200, {"priceEstimate": -3, "priceConfidence": 0.5})
        elif scenario == "numeric-currency":
            self._send(200, {"priceEstimate": 3, "priceConfidence": 0.5, "currency": 978})
        elif scenario == "bad-currency":
            self._send(200, {"priceEstimate": 3, "priceConfidence": 0.5, "currency": "usd"})
        elif scenario == "overconfident":
            self._send(200, {"priceEstimate": 3, "priceConfidence": 85})
        elif scenario == "drop":
            self.close_connection = True
            self.wfile.write(b'HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n{"price')
        else:
            body: dict[str, Any] = {"priceEstimate": 45.5, "priceConfidence": 0.857}
            if scenario == "named":
                body.update(priceSource="discogs", currency="EUR")
            self._send(200, body)

    def _send(self, status: int, body: object) -> None:
        self._send_raw(status, json.dumps(body).encode())

    def _send_raw(self, status: int, payload: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test output quiet."""


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _PricingApi)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="pricing-api", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def source(server_url: str) -> HttpPriceSource:
    _PricingApi.requests.clear()
    return HttpPriceSource(base_url=server_url, api_key=API_KEY, timeout_seconds=0.3)


def album(name: str, artist: str = "Nina Simone", year: int = 1965) -> Album:
    return Album(index=2, album_name=name, artist=artist, year=year)


def test_a_priced_album_becomes_a_price_estimate(source: HttpPriceSource) -> None:
    estimate = source.estimate(album("I Put a Spell on You"))
    assert estimate == PriceEstimate(Decimal("45.50"), Decimal("0.86"), "pricing-api")
    assert isinstance(source, PriceSource)
    assert estimate_price(source, album("I Put a Spell on You")) == estimate


def test_the_request_carries_the_album_in_the_query_and_the_key_in_a_header(
    source: HttpPriceSource,
) -> None:
    source.estimate(album("Pastel Blues & more", artist="Nina Simone"))
    (request,) = _PricingApi.requests
    assert request["path"] == "/v1/prices"
    assert request["query"] == {
        "artist": "Nina Simone",
        "album": "Pastel Blues & more",
        "year": "1965",
    }
    headers = {name.lower(): value for name, value in request["headers"].items()}
    assert headers["x-api-key"] == API_KEY
    assert headers["accept"] == "application/json"
    assert API_KEY not in source.url_for(album("Pastel Blues"))


def test_the_api_may_name_its_own_source_and_currency(source: HttpPriceSource) -> None:
    estimate = source.estimate(album("named"))
    assert (estimate.price_source, estimate.currency) == ("discogs", "EUR")


@pytest.mark.parametrize("status", [429, 408, 500, 502, 503, 504])
def test_throttling_and_server_errors_are_transient(source: HttpPriceSource, status: int) -> None:
    with pytest.raises(PriceSourceUnavailableError, match=f"HTTP {status}") as caught:
        source.estimate(album(f"status-{status}"))
    assert isinstance(caught.value, TransientError)


def test_a_timeout_is_transient(source: HttpPriceSource) -> None:
    started = time.monotonic()
    with pytest.raises(PriceSourceUnavailableError):
        source.estimate(album("slow"))
    assert time.monotonic() - started < 0.9


def test_a_dropped_connection_is_transient(source: HttpPriceSource) -> None:
    with pytest.raises(PriceSourceUnavailableError):
        source.estimate(album("drop"))


def test_a_refused_connection_is_transient() -> None:
    # Bind and close a port so nothing listens on it.
    probe = ThreadingHTTPServer(("127.0.0.1", 0), _PricingApi)
    port = probe.server_address[1]
    probe.server_close()
    closed = HttpPriceSource(base_url=f"http://127.0.0.1:{port}", api_key=API_KEY)
    with pytest.raises(PriceSourceUnavailableError, match="unreachable"):
        closed.estimate(album("anything"))


def test_no_data_is_a_permanent_error(source: HttpPriceSource) -> None:
    with pytest.raises(PriceEstimationError, match="no price data") as caught:
        source.estimate(album("status-404"))
    assert not isinstance(caught.value, TransientError)


@pytest.mark.parametrize("status", [400, 401, 403, 422])
def test_other_client_errors_are_permanent(source: HttpPriceSource, status: int) -> None:
    with pytest.raises(PriceEstimationError, match=f"HTTP {status}"):
        source.estimate(album(f"status-{status}"))


def test_a_wrong_key_is_permanent_and_the_key_is_not_in_the_error(server_url: str) -> None:
    wrong = HttpPriceSource(base_url=server_url, api_key="sk-wrong-key-value")
    with pytest.raises(PriceEstimationError, match="HTTP 401") as caught:
        wrong.estimate(album("anything"))
    assert "sk-wrong-key-value" not in str(caught.value)


def test_redirects_are_refused_not_followed(source: HttpPriceSource) -> None:
    with pytest.raises(PriceEstimationError, match="redirected"):
        source.estimate(album("redirect"))
    assert len(_PricingApi.requests) == 1


@pytest.mark.parametrize(
    ("scenario", "message"),
    [
        ("garbage", "not JSON"),
        ("list", "not a JSON object"),
        ("partial", "lacks priceConfidence"),
        ("negative", "must not be negative"),
        ("overconfident", "within 0..1"),
        ("numeric-currency", "non-text currency"),
        ("bad-currency", "ISO-4217"),
        ("huge", "larger than"),
        ("huge-unsized", "larger than"),
    ],
)
def test_malformed_answers_are_permanent(
    source: HttpPriceSource, scenario: str, message: str
) -> None:
    with pytest.raises(PriceEstimationError, match=message):
        source.estimate(album(scenario))


def test_the_api_key_stays_out_of_repr_and_error_messages(source: HttpPriceSource) -> None:
    assert API_KEY not in repr(source)
    for scenario in ("status-503", "status-404", "garbage", "slow", "redirect"):
        with pytest.raises((PriceEstimationError, PriceSourceUnavailableError)) as caught:
            source.estimate(album(scenario))
        assert API_KEY not in str(caught.value)
        assert caught.value.__cause__ is None  # no chained urllib error holding the request


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"base_url": "http://pricing.example.com"}, "https"),
        ({"base_url": "ftp://127.0.0.1"}, "http"),
        ({"base_url": "https://user:pw@pricing.example.com"}, "credentials"),
        ({"base_url": "https://pricing.example.com/?key=1"}, "query"),
        ({"api_key": " "}, "api_key"),
        ({"api_key": "abc\r\nX-Evil: 1"}, "line breaks"),
        ({"api_key_header": "x api key"}, "header name"),
        ({"timeout_seconds": 0}, "timeout"),
        ({"timeout_seconds": 120}, "timeout"),
        ({"path": "v1/prices"}, "path"),
    ],
)
def test_configuration_is_validated(kwargs: dict[str, Any], message: str) -> None:
    settings: dict[str, Any] = {"base_url": "https://pricing.example.com", "api_key": API_KEY}
    settings.update(kwargs)
    with pytest.raises(ValueError, match=message):
        HttpPriceSource(**settings)


def test_https_and_loopback_http_are_accepted() -> None:
    assert HttpPriceSource(base_url="https://pricing.example.com/api", api_key=API_KEY)
    assert HttpPriceSource(base_url="http://localhost:8080", api_key=API_KEY)
    assert HttpPriceSource(base_url="http://[::1]:8080", api_key=API_KEY)
