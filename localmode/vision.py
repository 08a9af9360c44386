"""A local stand-in for Bedrock's vision model, with programmable faults.

Bedrock cannot be reached here, so local mode answers ``InvokeModel`` with the albums
registered for the image (by the sha256 of the image bytes that reach the "model"), in
the response format of an Anthropic messages model. Everything downstream — the request
the adapter builds, the response parsing, retries, typed errors — is the real code.
Every output of local mode says the vision step was this stand-in.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from botocore.exceptions import ClientError
from botocore.response import StreamingBody

from localmode import aws_calls

#: What reports show as the vision model in local mode.
STAND_IN_MODEL = "local-stand-in"

_STATUS_OF = {
    "ThrottlingException": 429,
    "ServiceUnavailableException": 503,
    "InternalServerException": 500,
    "ModelTimeoutException": 408,
    "AccessDeniedException": 403,
    "ValidationException": 400,
}


def fingerprint(image: bytes) -> str:
    """Return the key albums are registered under: sha256 of the image bytes."""
    return hashlib.sha256(image).hexdigest()


class StandInBedrock:
    """A thread-safe fake ``bedrock-runtime`` client exposing ``invoke_model``.

    Parameters
    ----------
    default_albums
        Albums answered for an image nobody registered (``None``: answer with a
        malformed reply, as a model would for a photo it cannot read).
    latency_s
        Simulated model latency per call.
    """

    def __init__(
        self,
        default_albums: Sequence[Mapping[str, Any]] | None = None,
        *,
        latency_s: float = 0.0,
    ) -> None:
        self._lock = threading.Lock()
        self._albums: dict[str, list[dict[str, Any]]] = {}
        self._replies: dict[str, str | bytes] = {}
        self._calls_by_image: dict[str, int] = {}
        self._default = None if default_albums is None else [dict(a) for a in default_albums]
        self._throttle_next = 0
        self._malformed_next = 0
        self._fail_always: str | None = None
        self.latency_s = latency_s
        self.calls = 0

    # --- programming the stand-in --------------------------------------------------------

    def register(self, image: bytes, albums: Sequence[Mapping[str, Any]]) -> str:
        """Answer ``albums`` (``{albumName, artist, year}`` each) for this image."""
        key = fingerprint(image)
        with self._lock:
            self._albums[key] = [dict(album) for album in albums]
        return key

    def register_reply(self, image: bytes, reply: str | bytes) -> str:
        """Answer exactly ``reply`` for this image, as a misbehaving model would.

        A ``str`` is the model's text (the one text block of the response); ``bytes`` is
        the whole ``InvokeModel`` response body, envelope included.
        """
        key = fingerprint(image)
        with self._lock:
            self._replies[key] = reply
        return key

    def calls_for(self, image: bytes) -> int:
        """Return how many calls asked about this image."""
        with self._lock:
            return self._calls_by_image.get(fingerprint(image), 0)

    def throttle_next(self, count: int) -> None:
        """Raise ``ThrottlingException`` on the next ``count`` calls."""
        with self._lock:
            self._throttle_next = count

    def malformed_next(self, count: int) -> None:
        """Answer prose instead of JSON on the next ``count`` calls."""
        with self._lock:
            self._malformed_next = count

    def fail_always(self, code: str | None = "ThrottlingException") -> None:
        """Raise ``code`` on every call (``None`` to stop)."""
        with self._lock:
            self._fail_always = code

    # --- the client API --------------------------------------------------------------------

    def invoke_model(self, **request: Any) -> dict[str, Any]:
        """Answer an Anthropic messages request like Bedrock's ``InvokeModel`` would."""
        aws_calls.record("bedrock-runtime", "InvokeModel", request)
        with self._lock:
            self.calls += 1
            fault = self._fail_always
            if fault is None and self._throttle_next > 0:
                self._throttle_next -= 1
                fault = "ThrottlingException"
            malformed = self._malformed_next > 0
            if malformed:
                self._malformed_next -= 1
        if self.latency_s:
            time.sleep(self.latency_s)
        if fault is not None:
            error: dict[str, Any] = {
                "Error": {"Code": fault, "Message": f"{fault} (local stand-in)"},
                "ResponseMetadata": {"HTTPStatusCode": _STATUS_OF.get(fault, 400)},
            }
            raise ClientError(error, "InvokeModel")  # type: ignore[arg-type]
        image = _image_of(request)
        key = fingerprint(image)
        with self._lock:
            self._calls_by_image[key] = self._calls_by_image.get(key, 0) + 1
            albums = self._albums.get(key, self._default)
            reply = self._replies.get(key)
        if isinstance(reply, bytes):
            return _response(reply)
        if isinstance(reply, str):
            text = reply
        elif malformed or albums is None:
            text = "I can see some records on a shelf, but I cannot read their covers."
        else:
            text = json.dumps(albums)
        body = json.dumps(
            {
                "id": f"msg_local_{fingerprint(image)[:12]}",
                "type": "message",
                "role": "assistant",
                "model": STAND_IN_MODEL,
                "content": [{"type": "text", "text": text}],
                "stop_reason": "end_turn",
                "usage": {"input_tokens": 1000, "output_tokens": len(text) // 4},
            }
        ).encode()
        return _response(body)


def _response(body: bytes) -> dict[str, Any]:
    return {
        "body": StreamingBody(io.BytesIO(body), len(body)),
        "contentType": "application/json",
        "ResponseMetadata": {"HTTPStatusCode": 200},
    }


def _image_of(request: Mapping[str, Any]) -> bytes:
    payload = json.loads(request["body"])
    for message in payload.get("messages", []):
        for block in message.get("content", []):
            if isinstance(block, dict) and block.get("type") == "image":
                return base64.b64decode(block["source"]["data"])
    raise ClientError(
        {"Error": {"Code": "ValidationException", "Message": "no image in the request"}},
        "InvokeModel",
    )
