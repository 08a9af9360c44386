"""The validation page and API on 127.0.0.1, for local mode and the browser tests.

:class:`ValidationServer` serves the *same* code the Lambda function URL runs
(:class:`validation_api.api.ReviewApi`) over plain HTTP: each request becomes a function URL
event (payload format 2.0, :func:`function_url_event`) and each response is written back
as it is. Only the surroundings are local:

- the link-signing key is a secret it creates in the local stack's (moto) Secrets Manager;
- the resumers are local: Step Functions through moto's ``SendTaskSuccess``/``Failure``
  (the real :class:`~albums.adapters.task_tokens.TaskTokenResumer`), durable functions
  through the testing runner (:attr:`localmode.durable.LocalDurable.resumer`);
- the photo's pre-signed URL points at this server (``/_local/s3/BUCKET/KEY``), which
  reads the object from moto's S3 (a browser cannot reach an in-process mock).

While it runs it exports ``SIGNING_SECRET_ARN`` and ``VALIDATION_BASE_URL``, so both
patterns' notifiers publish messages with links to it (restored on exit).

Usage (what ``albums demo --interactive`` and the demo's automatic mode do)::

    with (
        LocalStack() as stack,
        StepFunctionsPattern(stack) as sf,
        LocalDurable(stack) as durable,
        ValidationServer(stack, durable_resumer=durable.resumer) as server,
    ):
        event = stack.put_upload(key, image)
        ...                                    # wait until both tasks are pending
        link = server.link_for(upload_id)      # the signed link a reviewer opens
        print(link)                            # interactive: a person answers in a browser
        server.client.correct_years(link, {3: 1976})   # automatic: the same API
        # or: server.client.accept(link), server.client.reject(link, "blurry photo")

API
---
``ValidationServer(stack, *, durable_resumer, host="127.0.0.1", port=0, clock=None)``
    ``port=0`` picks a free port. Attributes once entered: ``base_url``
    (``http://127.0.0.1:PORT``), ``service`` (the :class:`~albums.review.ReviewService`),
    ``signing_secret_arn``, ``client`` (a :class:`ReviewClient`).
``link_for(upload_id, expires_at=None) -> str``
    The signed link of an upload (default expiry: the upload's review expiry).
``ReviewClient.review(link)``, ``.accept(link)``, ``.correct(link, albums)``,
``.correct_years(link, {index: year})``, ``.reject(link, reason)``
    JSON over HTTP with the link's token; each returns an :class:`ApiResult` (``status``,
    ``body``); :meth:`ApiResult.raise_for_status` raises :class:`ApiError` unless 200.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Final
from urllib.parse import parse_qs, unquote, urlsplit

from albums.adapters.signing_keys import SecretsManagerKeySource
from albums.adapters.task_tokens import TaskTokenResumer
from albums.domain.models import WorkflowType
from albums.domain.records import parse_timestamp
from albums.domain.signing import ReviewLinks
from albums.review import ReviewService, WorkflowResumer
from localmode.stack import REGION, LocalStack
from validation_api.api import MAX_BODY_BYTES, ReviewApi
from validation_api.handler import photo_presigner

SF: Final = WorkflowType.STEP_FUNCTIONS
LDF: Final = WorkflowType.DURABLE_FUNCTIONS
SIGNING_SECRET_PREFIX: Final = "album-validation-signing-key"  # noqa: S105 - a name
#: Path prefix of the local stand-in for the photo's S3 pre-signed URL.
LOCAL_S3_PREFIX: Final = "/_local/s3/"
_AMZ_DATE: Final = "%Y%m%dT%H%M%SZ"


def function_url_event(
    method: str, target: str, headers: Mapping[str, str], body: bytes, *, host: str
) -> dict[str, Any]:
    """Return the Lambda function URL event (payload 2.0) of one HTTP request.

    Parameters
    ----------
    method, target
        The request line's method and target (path and query string).
    headers
        The request headers (names are lower-cased, as function URLs deliver them).
    body
        The raw body; text that is valid UTF-8 goes as it is, anything else in base64.
    host
        The server's ``host:port`` (the event's ``domainName``).
    """
    parts = urlsplit(target)
    try:
        text, encoded = body.decode("utf-8"), False
    except UnicodeDecodeError:
        text, encoded = base64.b64encode(body).decode("ascii"), True
    lowered = {name.lower(): value for name, value in headers.items()}
    # A function URL says how the client reached it; here that is plain HTTP.
    lowered["x-forwarded-proto"] = "http"
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": unquote(parts.path) or "/",
        "rawQueryString": parts.query,
        "headers": lowered,
        "queryStringParameters": {k: v[-1] for k, v in parse_qs(parts.query).items()} or None,
        "requestContext": {
            "domainName": host,
            "http": {
                "method": method.upper(),
                "path": unquote(parts.path) or "/",
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": lowered.get("user-agent", ""),
            },
            "timeEpoch": int(time.time() * 1000),
        },
        "body": text if body else None,
        "isBase64Encoded": encoded,
    }


class _Handler(BaseHTTPRequestHandler):
    """Turns each HTTP request into a function URL event for the server's API."""

    server: _Server
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        """Serve the page, the API, or a local photo."""
        if self.path.startswith(LOCAL_S3_PREFIX):
            self._photo()
        else:
            self._api("GET")

    def do_POST(self) -> None:
        """Answer an API call."""
        self._api("POST")

    def do_OPTIONS(self) -> None:
        """Let the API refuse a CORS preflight, as the function URL would."""
        self._api("OPTIONS")

    def do_PUT(self) -> None:
        """Let the API refuse the method, as the function URL would."""
        self._api("PUT")

    def do_PATCH(self) -> None:
        """Let the API refuse the method, as the function URL would."""
        self._api("PATCH")

    def do_DELETE(self) -> None:
        """Let the API refuse the method, as the function URL would."""
        self._api("DELETE")

    def log_message(self, format: str, *args: Any) -> None:
        """Keep request lines out of the demo's output."""

    def _api(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        # Read at most a little past the API's own limit: it reports the size itself.
        body = self.rfile.read(min(length, MAX_BODY_BYTES + 1)) if length else b""
        if length > len(body):
            self.close_connection = True
        event = function_url_event(
            method, self.path, dict(self.headers.items()), body, host=self.server.host_port
        )
        response = self.server.api.handle(event)
        payload = str(response.get("body") or "").encode("utf-8")
        self.send_response(int(response["statusCode"]))
        for name, value in (response.get("headers") or {}).items():
            self.send_header(name, str(value))
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _photo(self) -> None:
        """Serve an object of moto's S3 for a pre-signed URL that has not expired."""
        parts = urlsplit(self.path)
        bucket, _, key = unquote(parts.path[len(LOCAL_S3_PREFIX) :]).partition("/")
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        if not _presign_valid(query):
            self.send_error(403, "the photo link has expired")
            return
        params = {"Bucket": bucket, "Key": key}
        if "versionId" in query:
            params["VersionId"] = query["versionId"]
        try:
            obj = self.server.stack.s3.get_object(**params)
        except Exception:
            self.send_error(404, "no such photo")
            return
        data = obj["Body"].read()
        self.send_response(200)
        self.send_header("Content-Type", str(obj.get("ContentType") or "image/jpeg"))
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        self.wfile.write(data)


def _presign_valid(query: Mapping[str, str]) -> bool:
    try:
        issued = datetime.strptime(query["X-Amz-Date"], _AMZ_DATE).replace(tzinfo=UTC)
        lifetime = int(query["X-Amz-Expires"])
    except (KeyError, ValueError):
        return False
    return (datetime.now(UTC) - issued).total_seconds() <= lifetime


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    api: ReviewApi
    stack: LocalStack
    host_port: str


class ValidationServer:
    """The validation page and API served on 127.0.0.1 (see the module docstring).

    Parameters
    ----------
    stack
        An entered local stack (its table, buckets and Step Functions).
    durable_resumer
        Resumes durable executions (``LocalDurable.resumer``).
    host, port
        Where to listen; only loopback addresses are accepted. ``port=0``: a free port.
    clock
        The service's and the API's clock (default: the real UTC time).
    """

    def __init__(
        self,
        stack: LocalStack,
        *,
        durable_resumer: WorkflowResumer,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        if host not in {"127.0.0.1", "localhost"}:
            raise ValueError("the local validation server listens on 127.0.0.1 only")
        self.stack = stack
        self.durable_resumer = durable_resumer
        self.host = host
        self.port = port
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self.base_url = ""
        self.signing_secret_arn = ""  # nosec B105  # an ARN, set on start; no secret
        self.service: ReviewService | None = None
        self.keys: SecretsManagerKeySource | None = None
        self._links: ReviewLinks | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._exit = ExitStack()

    # --- lifecycle -------------------------------------------------------------------

    def __enter__(self) -> ValidationServer:
        try:
            self._start()
        except BaseException:
            self._exit.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._exit.close()

    def _start(self) -> None:
        import boto3  # noqa: PLC0415 - local mode only
        from botocore.config import Config  # noqa: PLC0415

        secrets_client = boto3.client("secretsmanager", region_name=REGION)
        created = secrets_client.create_secret(
            Name=f"{SIGNING_SECRET_PREFIX}-{secrets.token_hex(4)}",
            SecretString=secrets.token_urlsafe(48),
        )
        self.signing_secret_arn = str(created["ARN"])
        self.keys = SecretsManagerKeySource(secrets_client, self.signing_secret_arn)

        server = _Server((self.host, self.port), _Handler)
        self._exit.callback(server.server_close)
        self._server = server
        self.port = int(server.server_address[1])
        self.base_url = f"http://{self.host}:{self.port}"
        self._links = ReviewLinks(self.base_url, self.keys.signing_key)

        self.service = ReviewService(
            repositories={SF: self.stack.repository(SF), LDF: self.stack.repository(LDF)},
            resumers={SF: TaskTokenResumer(self.stack.stepfunctions), LDF: self.durable_resumer},
            clock=self.clock,
        )
        # Pre-signed photo URLs point here; path style keeps the bucket in the path.
        s3_here = boto3.client(
            "s3",
            region_name=REGION,
            endpoint_url=f"{self.base_url}{LOCAL_S3_PREFIX.rstrip('/')}",
            config=Config(s3={"addressing_style": "path"}, signature_version="s3v4"),
        )
        server.api = ReviewApi(
            self.service,
            self.keys.lookup,
            presign_photo=photo_presigner(s3_here),
            photo_origin=None,
            clock=self.clock,
        )
        server.stack = self.stack
        server.host_port = f"{self.host}:{self.port}"
        self._exit.enter_context(
            _exported(
                {
                    "SIGNING_SECRET_ARN": self.signing_secret_arn,
                    "VALIDATION_BASE_URL": self.base_url,
                }
            )
        )
        self._thread = threading.Thread(
            target=server.serve_forever, name="validation-server", daemon=True
        )
        self._thread.start()
        self._exit.callback(self._stop)

    def _stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=10)

    # --- links and the client ----------------------------------------------------------

    def link_for(self, upload_id: str, expires_at: datetime | None = None) -> str:
        """Return the signed link reviewing ``upload_id``.

        The default expiry is the upload's review expiry (its earliest answerable task's),
        so the link dies with the review.

        Raises
        ------
        TaskNotFoundError
            When ``expires_at`` is not given and the upload has no validation task yet.
        """
        if self._links is None or self.service is None:
            raise RuntimeError("the validation server is not running")
        if expires_at is None:
            expires_at = parse_timestamp(self.service.review(upload_id).expires_at)
        return self._links.link_for(upload_id, expires_at)

    @property
    def client(self) -> ReviewClient:
        """A client of this server's API (what the demo's automatic mode answers with)."""
        return ReviewClient()


@contextmanager
def _exported(values: Mapping[str, str]) -> Iterator[None]:
    previous = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


# --- the client ----------------------------------------------------------------------------


class ApiError(RuntimeError):
    """The API answered with another status than 200; ``result`` holds the answer."""

    def __init__(self, result: ApiResult) -> None:
        message = result.body.get("message", "") if isinstance(result.body, dict) else ""
        super().__init__(f"validation API answered {result.status}: {message}")
        self.result = result


@dataclass(frozen=True, slots=True)
class ApiResult:
    """One API answer: its HTTP status, headers and JSON body."""

    status: int
    body: Any
    headers: Mapping[str, str]

    def raise_for_status(self) -> ApiResult:
        """Return this result if it is a 200, else raise :class:`ApiError`."""
        if self.status != 200:
            raise ApiError(self)
        return self


class ReviewClient:
    """Calls the validation API the way the page does, given a signed link.

    Parameters
    ----------
    timeout
        Seconds to wait for one answer.
    """

    def __init__(self, timeout: float = 30.0) -> None:
        self.timeout = timeout

    @staticmethod
    def _split(link: str) -> tuple[str, str]:
        """Return the link's origin and its token (from the ``#t=`` fragment)."""
        parts = urlsplit(link)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise ValueError(f"not a review link: {link!r}")
        token = parse_qs(parts.fragment).get("t", [""])[-1]
        return f"{parts.scheme}://{parts.netloc}", token

    def request(
        self, link: str, method: str, path: str, body: object = None, *, raw: bytes | None = None
    ) -> ApiResult:
        """Send one API request with the link's token; return the answer (any status)."""
        origin, token = self._split(link)
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        headers = {"Authorization": f"Bearer {token}", "Origin": origin}
        if data is not None:
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(  # noqa: S310 - the origin was checked to be http(s)
            f"{origin}{path}", data=data, method=method, headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310  # nosec B310
                status, payload, found = response.status, response.read(), response.headers
        except urllib.error.HTTPError as error:
            status, payload, found = error.code, error.read(), error.headers
        try:
            parsed: Any = json.loads(payload) if payload else None
        except ValueError:
            parsed = payload.decode("utf-8", "replace")
        return ApiResult(status, parsed, {name.lower(): value for name, value in found.items()})

    def review(self, link: str) -> ApiResult:
        """``GET /api/review``: the upload's review."""
        return self.request(link, "GET", "/api/review")

    def accept(self, link: str) -> ApiResult:
        """Accept the albums as detected."""
        return self.request(link, "POST", "/api/review/accept", {})

    def correct(self, link: str, albums: list[dict[str, Any]]) -> ApiResult:
        """Submit the six albums as the reviewer wants them."""
        return self.request(link, "POST", "/api/review/correct", {"albums": albums})

    def correct_years(self, link: str, years: Mapping[int, int]) -> ApiResult:
        """Read the review, change the years of some albums (by index) and submit."""
        shown = self.review(link).raise_for_status().body["albums"]
        albums = [
            {**album, "year": years.get(album["albumIndex"], album["year"])} for album in shown
        ]
        return self.correct(link, albums)

    def reject(self, link: str, reason: str) -> ApiResult:
        """Reject the albums with a reason."""
        return self.request(link, "POST", "/api/review/reject", {"reason": reason})
