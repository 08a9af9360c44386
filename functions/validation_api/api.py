"""The validation page and JSON API over HTTP (Lambda function URL events, payload 2.0).

:class:`ReviewApi` turns one function URL event into one response. It is what the Lambda
handler runs, and what local mode's server runs for every request on 127.0.0.1
(:mod:`localmode.validation_server`), so the page, the API and their checks are one code.

Routes
------
``GET /`` and ``GET /review``
    The page (``static/index.html``; its script and style are separate files, so the
    Content-Security-Policy allows no inline code). The link's token is in the URL
    fragment (``/review#t=TOKEN``), which the browser never sends; the page's script reads
    it and sends it as ``Authorization: Bearer TOKEN`` on every API call.
``GET /static/review.js``, ``GET /static/review.css``
    The page's script and style.
``GET /api/review``
    The upload's review (:meth:`albums.review.UploadReview.to_dict`), a pre-signed photo
    URL (short expiry) and the link's expiry. An answered or expired review is a 200 too,
    with its ``state`` (and the answer given), so the page can say so.
``POST /api/review/accept`` (body ``{}``), ``POST /api/review/correct`` (body
``{"albums": [six albums]}``), ``POST /api/review/reject`` (body ``{"reason": "..."}``)
    Answer every pending task of the upload; the response says which patterns resumed.

Every API call checks the link token (HMAC-SHA256, constant-time compare) before reading
anything. Status codes: 400 bad input (``fields`` names each offending field; nothing is
changed), 403 invalid or tampered link, or a cross-origin write, 404 unknown task or path,
405 wrong method, 409 answered already, 410 link or task expired, 503 try again.

Every response sets a strict Content-Security-Policy, ``X-Content-Type-Options: nosniff``,
``Referrer-Policy: no-referrer`` and ``Cache-Control: no-store``, and none sets CORS
headers: only the page's own origin can read the API.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from albums.domain.errors import (
    AlbumRegistrationError,
    ConfigurationError,
    ExpiredLinkError,
    InvalidLinkError,
    InvalidSubmissionError,
    TaskExpiredError,
    TaskNotFoundError,
    TaskNotPendingError,
    TransientError,
)
from albums.domain.keys import UploadRef
from albums.domain.models import format_timestamp
from albums.domain.signing import KeyLookup, LinkClaims, verify_link_token
from albums.observability import get_logger
from albums.review import AnswerKind, ReviewService

LOGGER = get_logger()

STATIC_DIR: Final = Path(__file__).parent / "static"
#: Largest request body read (bytes); a full correction of six albums is far smaller.
MAX_BODY_BYTES: Final = 16 * 1024
#: How long the photo's pre-signed URL is valid (seconds).
PHOTO_URL_SECONDS: Final = 300

_PAGE_PATHS: Final = frozenset({"/", "/review"})
_STATIC: Final[Mapping[str, tuple[str, str]]] = {
    "/static/review.js": ("review.js", "text/javascript; charset=utf-8"),
    "/static/review.css": ("review.css", "text/css; charset=utf-8"),
}
_ACTIONS: Final[Mapping[str, AnswerKind]] = {
    "/api/review/accept": AnswerKind.ACCEPT,
    "/api/review/correct": AnswerKind.CORRECT,
    "/api/review/reject": AnswerKind.REJECT,
}
#: Browsers ask for it on their own; answered with nothing rather than a 404.
_FAVICON: Final = "/favicon.ico"
#: The one method each path answers.
_METHOD_OF: Final[Mapping[str, str]] = {
    **dict.fromkeys(_PAGE_PATHS | set(_STATIC) | {_FAVICON}, "GET"),
    "/api/review": "GET",
    **dict.fromkeys(_ACTIONS, "POST"),
}
_STATUS_OF: Final[tuple[tuple[type[AlbumRegistrationError], int], ...]] = (
    (InvalidSubmissionError, 400),
    (ExpiredLinkError, 410),  # before its base class
    (InvalidLinkError, 403),
    (TaskNotFoundError, 404),
    (TaskNotPendingError, 409),
    (TaskExpiredError, 410),
    (TransientError, 503),
)


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """One response in the function URL's format."""

    status: int
    body: str
    content_type: str = "application/json; charset=utf-8"
    headers: Mapping[str, str] | None = None

    def to_event(self, security_headers: Mapping[str, str]) -> dict[str, Any]:
        """Return the function URL response (status, headers, body)."""
        headers = {**security_headers, "Content-Type": self.content_type, **(self.headers or {})}
        return {
            "statusCode": self.status,
            "headers": headers,
            "body": self.body,
            "isBase64Encoded": False,
        }


def json_response(status: int, payload: Mapping[str, Any]) -> HttpResponse:
    """Return a JSON response (``<``, ``>`` and ``&`` escaped, so it is never markup)."""
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    escaped = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return HttpResponse(status, escaped)


def error_response(status: int, code: str, message: str, **extra: Any) -> HttpResponse:
    """Return ``{"error": code, "message": message, ...}`` with ``status``."""
    return json_response(status, {"error": code, "message": message, **extra})


def _header(event: Mapping[str, Any], name: str) -> str | None:
    headers = event.get("headers") or {}
    if not isinstance(headers, Mapping):
        return None
    for key, value in headers.items():
        if isinstance(key, str) and key.lower() == name:
            return str(value)
    return None


class ReviewApi:
    """The page and the API in front of a :class:`~albums.review.ReviewService`.

    Parameters
    ----------
    service
        The review service (both patterns' repositories and resumers).
    keys
        Finds a link-signing key by id (current and previous version of the secret).
    presign_photo
        Returns a short-lived GET URL for an uploaded photo (S3 pre-signed URL).
    photo_origin
        Origin the photo URLs point to (``https://bucket.s3...``), allowed as an image
        source by the Content-Security-Policy; ``None`` allows only the page's own.
    clock
        Returns the current aware time (link expiry).
    """

    def __init__(
        self,
        service: ReviewService,
        keys: KeyLookup,
        *,
        presign_photo: Callable[[UploadRef], str],
        photo_origin: str | None,
        clock: Callable[[], datetime],
    ) -> None:
        self._service = service
        self._keys = keys
        self._presign_photo = presign_photo
        self._clock = clock
        image_sources = "'self'" if photo_origin is None else f"'self' {photo_origin}"
        self.security_headers: Mapping[str, str] = {
            "Content-Security-Policy": (
                "default-src 'none'; script-src 'self'; style-src 'self'; "
                f"img-src {image_sources}; connect-src 'self'; form-action 'none'; "
                "frame-ancestors 'none'; base-uri 'none'"
            ),
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-store",
            "X-Frame-Options": "DENY",
            "Cross-Origin-Opener-Policy": "same-origin",
            "Cross-Origin-Resource-Policy": "same-origin",
            "Strict-Transport-Security": "max-age=31536000",
        }

    def handle(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """Answer one function URL event (payload format 2.0)."""
        try:
            response = self._route(event)
        except AlbumRegistrationError as error:
            response = self._error(error)
        except Exception:
            LOGGER.exception("validation API request failed")
            response = error_response(500, "internal_error", "something went wrong; try again")
        return response.to_event(self.security_headers)

    # --- routing -----------------------------------------------------------------------

    def _route(self, event: Mapping[str, Any]) -> HttpResponse:
        http = (event.get("requestContext") or {}).get("http") or {}
        method = str(http.get("method", "GET")).upper()
        path = str(event.get("rawPath") or http.get("path") or "/")
        allowed = _METHOD_OF.get(path)
        if allowed is None:
            return error_response(404, "not_found", "no such page")
        if method != allowed:
            return self._not_allowed(allowed)
        if path == _FAVICON:
            response = HttpResponse(204, "", "image/x-icon")
        elif path == "/api/review":
            response = self._review(self._claims(event))
        elif path in _ACTIONS:
            response = self._answer(event, _ACTIONS[path])
        else:
            response = self._static(path)
        return response

    def _answer(self, event: Mapping[str, Any], kind: AnswerKind) -> HttpResponse:
        self._same_origin(event)
        claims = self._claims(event)
        payload = self._json_body(event)
        outcome = self._service.submit(claims.upload_id, kind, payload)
        return json_response(200, outcome.to_dict())

    @staticmethod
    def _not_allowed(allowed: str) -> HttpResponse:
        body = error_response(405, "method_not_allowed", f"use {allowed}").body
        return HttpResponse(405, body, headers={"Allow": allowed})

    @staticmethod
    def _static(path: str) -> HttpResponse:
        name, content_type = _STATIC.get(path, ("index.html", "text/html; charset=utf-8"))
        return HttpResponse(200, (STATIC_DIR / name).read_text(encoding="utf-8"), content_type)

    # --- checks --------------------------------------------------------------------------

    def _claims(self, event: Mapping[str, Any]) -> LinkClaims:
        """Verify the link token of the ``Authorization: Bearer`` header (first of all)."""
        authorization = _header(event, "authorization") or ""
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise InvalidLinkError("the request carries no review link token")
        return verify_link_token(token.strip(), self._keys, self._clock())

    @staticmethod
    def _same_origin(event: Mapping[str, Any]) -> None:
        """Refuse a write a browser sent from another origin (no CORS, no CSRF)."""
        if (_header(event, "sec-fetch-site") or "same-origin") not in {"same-origin", "none"}:
            raise InvalidLinkError("cross-site requests are not accepted")
        origin = _header(event, "origin")
        if origin is None:
            return
        host = _header(event, "host") or str((event.get("requestContext") or {}).get("domainName"))
        scheme = _header(event, "x-forwarded-proto") or "https"
        if origin.rstrip("/").lower() != f"{scheme}://{host}".lower():
            raise InvalidLinkError("requests from another origin are not accepted")

    @staticmethod
    def _json_body(event: Mapping[str, Any]) -> object:
        raw = event.get("body")
        if raw is None or raw == "":
            return None
        if not isinstance(raw, str):
            raise InvalidSubmissionError({"body": "must be JSON text"})
        if event.get("isBase64Encoded"):
            try:
                data = base64.b64decode(raw, validate=True)
            except (binascii.Error, ValueError):
                raise InvalidSubmissionError({"body": "is not valid base64"}) from None
        else:
            data = raw.encode("utf-8")
        if len(data) > MAX_BODY_BYTES:
            raise InvalidSubmissionError({"body": f"must be at most {MAX_BODY_BYTES} bytes"})
        content_type = (_header(event, "content-type") or "").split(";")[0].strip().lower()
        if content_type != "application/json":
            raise InvalidSubmissionError({"body": "Content-Type must be application/json"})
        try:
            return json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            raise InvalidSubmissionError({"body": "is not valid JSON"}) from None

    # --- reading -------------------------------------------------------------------------

    def _review(self, claims: LinkClaims) -> HttpResponse:
        review = self._service.review(claims.upload_id)
        body = review.to_dict()
        body["photoUrl"] = None if review.photo is None else self._presign_photo(review.photo)
        body["linkExpiresAt"] = format_timestamp(claims.expires_at)
        body["serverTime"] = format_timestamp(self._clock())
        return json_response(200, body)

    @staticmethod
    def _error(error: AlbumRegistrationError) -> HttpResponse:
        for kind, status in _STATUS_OF:
            if isinstance(error, kind):
                extra = (
                    {"fields": error.fields} if isinstance(error, InvalidSubmissionError) else {}
                )
                return error_response(status, error.code, error.message, **extra)
        if isinstance(error, ConfigurationError):
            LOGGER.error("validation API is misconfigured", extra={"errorMessage": error.message})
            return error_response(500, "configuration_error", "the service is misconfigured")
        LOGGER.error(
            "validation API request refused",
            extra={"errorName": type(error).__name__, "errorMessage": error.message},
        )
        return error_response(500, error.code, "the request could not be completed")
