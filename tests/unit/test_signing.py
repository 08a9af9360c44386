"""Signed review links: HMAC-SHA256 tokens naming an upload and an expiry (pure domain)."""

from __future__ import annotations

import hmac
from datetime import UTC, datetime, timedelta

import pytest

from albums.domain.errors import ExpiredLinkError, InvalidLinkError, SigningKeyError
from albums.domain.signing import (
    LinkClaims,
    ReviewLinks,
    SigningKey,
    check_base_url,
    review_link,
    sign_link_token,
    verify_link_token,
)

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
UPLOAD = "0123456789abcdef0123456789abcdef"
CURRENT = SigningKey("key-2", b"c" * 48)
PREVIOUS = SigningKey("key-1", b"p" * 48)


def lookup(key_id: str) -> SigningKey | None:
    return {key.key_id: key for key in (CURRENT, PREVIOUS)}.get(key_id)


def token(expires: datetime = NOW + timedelta(hours=1), key: SigningKey = CURRENT) -> str:
    return sign_link_token(key, UPLOAD, expires)


def test_a_signed_token_names_its_upload_and_expiry() -> None:
    claims = verify_link_token(token(), lookup, NOW)
    assert claims == LinkClaims(UPLOAD, NOW + timedelta(hours=1))
    assert token().startswith(f"v1.key-2.{UPLOAD}.")


def test_a_token_signed_by_the_previous_key_still_verifies() -> None:
    assert verify_link_token(token(key=PREVIOUS), lookup, NOW).upload_id == UPLOAD


def test_an_expired_token_is_refused_as_expired() -> None:
    with pytest.raises(ExpiredLinkError, match="expired"):
        verify_link_token(token(NOW), lookup, NOW)
    with pytest.raises(ExpiredLinkError):
        verify_link_token(token(NOW - timedelta(seconds=1)), lookup, NOW)


def _replace_part(value: str, index: int, new: str) -> str:
    parts = value.split(".")
    parts[index] = new
    return ".".join(parts)


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        (lambda t: _replace_part(t, 2, "f" * 32), "signature"),  # another upload
        (lambda t: _replace_part(t, 3, str(int(t.split(".")[3]) + 3600)), "signature"),  # later
        (lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"), "signature"),
        (lambda t: _replace_part(t, 1, "key-1"), "signature"),  # right key id, wrong key
        (lambda t: _replace_part(t, 1, "key-9"), "unknown key"),
        (lambda t: _replace_part(t, 0, "v2"), "malformed"),
        (lambda t: t + "=", "malformed"),
        (lambda t: t.upper(), "malformed"),
        (lambda t: t.replace(".", "", 1), "malformed"),
        (lambda t: t + "." * 300, "malformed"),
    ],
)
def test_a_tampered_token_is_invalid(tamper: object, expected: str) -> None:
    assert callable(tamper)
    with pytest.raises(InvalidLinkError, match=expected) as raised:
        verify_link_token(tamper(token()), lookup, NOW)
    assert not isinstance(raised.value, ExpiredLinkError)


def test_an_expired_and_tampered_token_is_invalid_not_expired() -> None:
    """The signature is judged first: an expiry answer is only given to authentic links."""
    forged = _replace_part(token(NOW - timedelta(hours=2)), 2, "e" * 32)
    with pytest.raises(InvalidLinkError) as raised:
        verify_link_token(forged, lookup, NOW)
    assert not isinstance(raised.value, ExpiredLinkError)


@pytest.mark.parametrize("value", [None, "", 42, b"v1.key.x", "v1", "not a token"])
def test_a_missing_or_foreign_token_is_invalid(value: object) -> None:
    with pytest.raises(InvalidLinkError):
        verify_link_token(value, lookup, NOW)


def test_signatures_are_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[str, str]] = []
    original = hmac.compare_digest

    def spy(a: str, b: str) -> bool:
        compared.append((a, b))
        return original(a, b)

    monkeypatch.setattr("albums.domain.signing.hmac.compare_digest", spy)
    verify_link_token(token(), lookup, NOW)
    assert len(compared) == 1
    assert compared[0][1] == token().rsplit(".", 1)[1]


def test_signing_keys_are_checked() -> None:
    with pytest.raises(SigningKeyError, match="at least 32 bytes"):
        SigningKey("short", b"x" * 31)
    with pytest.raises(SigningKeyError, match="key id"):
        SigningKey("bad id!", b"x" * 32)
    assert "c" * 48 not in repr(CURRENT)


def test_sign_refuses_a_bad_upload_id_or_a_naive_expiry() -> None:
    with pytest.raises(InvalidLinkError, match="32 hex"):
        sign_link_token(CURRENT, "../etc", NOW)
    with pytest.raises(InvalidLinkError, match="timezone"):
        sign_link_token(CURRENT, UPLOAD, datetime(2026, 5, 1))  # noqa: DTZ001 - the point


def test_review_links_put_the_token_in_the_fragment() -> None:
    links = ReviewLinks("https://abc.lambda-url.us-east-1.on.aws/", lambda: CURRENT)
    link = links.link_for(UPLOAD, NOW + timedelta(hours=1))
    assert link == f"https://abc.lambda-url.us-east-1.on.aws/review#t={token()}"
    assert review_link("http://127.0.0.1:8080", "abc") == "http://127.0.0.1:8080/review#t=abc"


@pytest.mark.parametrize(
    "base_url",
    [
        "http://example.com",  # plain HTTP off loopback
        "https://example.com/path",
        "https://example.com/?q=1",
        "javascript:alert(1)",
        "",
        None,
    ],
)
def test_base_urls_must_be_https_origins_or_loopback(base_url: object) -> None:
    with pytest.raises(InvalidLinkError):
        check_base_url(base_url)


def test_base_url_loses_its_trailing_slash() -> None:
    assert check_base_url("https://x.on.aws/") == "https://x.on.aws"
    assert check_base_url("http://localhost:9000") == "http://localhost:9000"
