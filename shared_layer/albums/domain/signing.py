"""Signed review links: an HMAC-SHA256 token naming one upload and an expiry.

A link token is ``v1.{keyId}.{uploadId}.{expires}.{signature}``:

- ``keyId`` names the key that signed it, so a token signed before a key rotation still
  verifies with the previous key (Secrets Manager ``AWSPREVIOUS``) until it expires;
- ``uploadId`` is the 32-hex-digit upload the link reviews (one link answers every
  pattern's task of that upload);
- ``expires`` is the expiry in epoch seconds (the validation task's ``expiresAt``);
- ``signature`` is the unpadded base64url HMAC-SHA256 of everything before it, under a
  purpose label so the key signs nothing else by accident.

:func:`verify_link_token` checks the shape, finds the key by id, compares signatures in
constant time (:func:`hmac.compare_digest`) and only then reads the expiry. Pure Python:
the keys come from a :class:`KeyLookup` (Secrets Manager on AWS, see
:mod:`albums.adapters.signing_keys`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

from albums.domain.errors import ExpiredLinkError, InvalidLinkError, SigningKeyError

#: Version prefix of the token format.
LINK_FORMAT: Final = "v1"
#: Domain-separation label mixed into every signature.
PURPOSE: Final = b"album-registration/review-link\n"
#: Shortest key accepted (bytes): HMAC-SHA256 wants at least its output size.
MIN_KEY_BYTES: Final = 32
#: Longest token read at all; anything longer is refused before any work.
MAX_TOKEN_LENGTH: Final = 256

_KEY_ID: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")
_TOKEN: Final = re.compile(
    r"v1\.(?P<kid>[A-Za-z0-9_-]{1,64})\.(?P<upload>[0-9a-f]{32})\.(?P<exp>[0-9]{1,11})"
    r"\.(?P<sig>[A-Za-z0-9_-]{43})"
)


@dataclass(frozen=True, slots=True)
class SigningKey:
    """One HMAC key and its id (the secret's version)."""

    key_id: str
    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.key_id, str) or not _KEY_ID.fullmatch(self.key_id):
            raise SigningKeyError("a signing key id must be 1-64 of [A-Za-z0-9_-]")
        if not isinstance(self.secret, bytes) or len(self.secret) < MIN_KEY_BYTES:
            raise SigningKeyError(f"a signing key must be at least {MIN_KEY_BYTES} bytes")


@dataclass(frozen=True, slots=True)
class LinkClaims:
    """What a verified token says: the upload it reviews and until when."""

    upload_id: str
    expires_at: datetime


#: Finds the key with an id, or ``None`` when no such key is known (any more).
KeyLookup = Callable[[str], SigningKey | None]


def _signature(key: SigningKey, payload: str) -> str:
    digest = hmac.new(key.secret, PURPOSE + payload.encode("ascii"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _epoch(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise InvalidLinkError("link times must be timezone-aware")
    return int(moment.timestamp())


def sign_link_token(key: SigningKey, upload_id: str, expires_at: datetime) -> str:
    """Return the token of a review link for ``upload_id``, valid until ``expires_at``.

    Raises
    ------
    InvalidLinkError
        When the upload id is not 32 hex digits or the expiry is naive.
    """
    if not isinstance(upload_id, str) or not re.fullmatch(r"[0-9a-f]{32}", upload_id):
        raise InvalidLinkError(f"upload id must be 32 hex digits, got {upload_id!r}")
    payload = f"{LINK_FORMAT}.{key.key_id}.{upload_id}.{_epoch(expires_at)}"
    return f"{payload}.{_signature(key, payload)}"


def verify_link_token(token: object, lookup: KeyLookup, now: datetime) -> LinkClaims:
    """Check a link token and return what it names.

    The signature is checked (in constant time) before the expiry is looked at, so an
    expired-link answer is only ever given for an authentic link.

    Raises
    ------
    InvalidLinkError
        Missing, malformed or over-long token, unknown key id, or a wrong signature.
    ExpiredLinkError
        An authentic token past its expiry.
    """
    if not isinstance(token, str) or not token:
        raise InvalidLinkError("the link has no token")
    match = _TOKEN.fullmatch(token) if len(token) <= MAX_TOKEN_LENGTH else None
    if match is None:
        raise InvalidLinkError("the link's token is malformed")
    key = lookup(match["kid"])
    if key is None:
        raise InvalidLinkError("the link was signed with an unknown key")
    payload = token[: match.start("sig") - 1]
    if not hmac.compare_digest(_signature(key, payload), match["sig"]):
        raise InvalidLinkError("the link's signature is not valid")
    expires = datetime.fromtimestamp(int(match["exp"]), tz=UTC)
    if _epoch(now) >= int(match["exp"]):
        raise ExpiredLinkError(f"the link expired at {expires.isoformat()}")
    return LinkClaims(upload_id=match["upload"], expires_at=expires)


#: Path of the validation page; the token travels in the URL fragment, which browsers
#: never send to a server (so it stays out of access logs and ``Referer`` headers).
REVIEW_PATH: Final = "/review"
_BASE_URL: Final = re.compile(
    r"(https://[^\s/?#]+|http://(127\.0\.0\.1|localhost)(:[0-9]{1,5})?)/?"
)


def check_base_url(base_url: object) -> str:
    """Return the page's base URL without a trailing slash.

    Raises
    ------
    InvalidLinkError
        Unless it is an ``https://`` origin, or ``http://`` on 127.0.0.1/localhost (local
        mode), with no path, query or fragment.
    """
    if not isinstance(base_url, str) or not _BASE_URL.fullmatch(base_url):
        raise InvalidLinkError(
            f"the validation base URL must be an https:// origin, got {base_url!r}"
        )
    return base_url.rstrip("/")


def review_link(base_url: str, token: str) -> str:
    """Return the link a reviewer opens: the page, with the token in the fragment."""
    return f"{check_base_url(base_url)}{REVIEW_PATH}#t={token}"


@dataclass(frozen=True, slots=True)
class ReviewLinks:
    """Makes signed review links: the page's base URL and the current signing key."""

    base_url: str
    signing_key: Callable[[], SigningKey]

    def __post_init__(self) -> None:
        object.__setattr__(self, "base_url", check_base_url(self.base_url))

    def link_for(self, upload_id: str, expires_at: datetime) -> str:
        """Return the signed link reviewing ``upload_id`` until ``expires_at``."""
        return review_link(
            self.base_url, sign_link_token(self.signing_key(), upload_id, expires_at)
        )
