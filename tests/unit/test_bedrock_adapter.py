"""Bedrock adapter against botocore's Stubber (requests checked against the service model)."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, ReadTimeoutError
from botocore.response import StreamingBody
from botocore.stub import Stubber

from albums.adapters import bedrock
from albums.adapters.bedrock import (
    RetryPolicy,
    client_config,
    invoke_vision_model,
    invoke_vision_model_once,
    map_client_error,
)
from albums.domain import vision
from albums.domain.errors import (
    ImageError,
    TransientError,
    VisionAlbumCountError,
    VisionNotJsonError,
    VisionRequestError,
    VisionServiceError,
    VisionThrottledError,
)
from albums.domain.models import Album
from albums.domain.vision import VisionConfig

MODEL_ID = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
IMAGE = b"\x89PNG\r\n\x1a\nnot-really-a-png"
ALBUMS = [
    {"albumName": f"Album {n}", "artist": f"Artist {n}", "year": 1960 + n} for n in range(1, 7)
]


def expected_params() -> dict[str, Any]:
    """What InvokeModel must receive, written out independently of the code under test."""
    payload = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 1024,
        "temperature": 0.0,
        "system": vision.SYSTEM_PROMPT,
        "messages": [
            {
                "role": "user",
                "content": [
                    {
                        "type": "image",
                        "source": {
                            "type": "base64",
                            "media_type": "image/png",
                            "data": base64.b64encode(IMAGE).decode("ascii"),
                        },
                    },
                    {"type": "text", "text": vision.USER_PROMPT},
                ],
            }
        ],
    }
    return {
        "modelId": MODEL_ID,
        "contentType": "application/json",
        "accept": "application/json",
        "body": json.dumps(payload, separators=(",", ":")),
    }


def ok_response(text: str | None = None) -> dict[str, Any]:
    raw = json.dumps(
        {
            "id": "msg_01",
            "type": "message",
            "role": "assistant",
            "model": "claude-sonnet-4-5",
            "content": [{"type": "text", "text": json.dumps(ALBUMS) if text is None else text}],
            "stop_reason": "end_turn",
            "usage": {"input_tokens": 1600, "output_tokens": 220},
        }
    ).encode()
    return {"body": StreamingBody(io.BytesIO(raw), len(raw)), "contentType": "application/json"}


@pytest.fixture
def client() -> Any:
    return boto3.client("bedrock-runtime", region_name="us-east-1", config=client_config())


@pytest.fixture
def stubber(client: Any) -> Iterator[Stubber]:
    with Stubber(client) as stub:
        yield stub
        stub.assert_no_pending_responses()


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def add_error(stubber: Stubber, code: str, status: int = 400) -> None:
    stubber.add_client_error(
        "invoke_model",
        service_error_code=code,
        service_message=f"{code} happened",
        http_status_code=status,
        expected_params=expected_params(),
    )


CONFIG = VisionConfig(model_id=MODEL_ID)


def test_happy_path_sends_the_exact_request_and_returns_six_albums(
    client: Any, stubber: Stubber
) -> None:
    stubber.add_response("invoke_model", ok_response(), expected_params())
    albums = invoke_vision_model(client, IMAGE, "image/png", CONFIG, sleep=Sleeps())
    assert albums == tuple(
        Album(index=n, album_name=f"Album {n}", artist=f"Artist {n}", year=1960 + n)
        for n in range(1, 7)
    )


def test_single_attempt_function_parses_the_response(client: Any, stubber: Stubber) -> None:
    stubber.add_response("invoke_model", ok_response(), expected_params())
    albums = invoke_vision_model_once(client, IMAGE, "image/png", CONFIG)
    assert [a.index for a in albums] == [1, 2, 3, 4, 5, 6]


def test_throttled_twice_then_ok_sleeps_twice_with_exponential_delays(
    client: Any, stubber: Stubber
) -> None:
    add_error(stubber, "ThrottlingException", 429)
    add_error(stubber, "ThrottlingException", 429)
    stubber.add_response("invoke_model", ok_response(), expected_params())
    sleeps = Sleeps()
    albums = invoke_vision_model(
        client, IMAGE, "image/png", CONFIG, retry=RetryPolicy(base_delay=0.5), sleep=sleeps
    )
    assert len(albums) == 6
    assert sleeps.delays == [0.5, 1.0]


def test_always_throttled_raises_typed_error_after_all_attempts(
    client: Any, stubber: Stubber
) -> None:
    policy = RetryPolicy()  # 3 retries: 4 calls, waits 1, 2, 4
    for _ in range(policy.max_attempts):
        add_error(stubber, "ThrottlingException", 429)
    sleeps = Sleeps()
    with pytest.raises(VisionThrottledError, match="ThrottlingException") as caught:
        invoke_vision_model(client, IMAGE, "image/png", CONFIG, retry=policy, sleep=sleeps)
    assert isinstance(caught.value, TransientError)
    assert policy.max_attempts == 4
    assert sleeps.delays == [1.0, 2.0, 4.0]
    # All four stubbed answers were consumed: exactly max_attempts calls were made.


def test_transient_errors_of_several_kinds_are_retried_and_the_last_is_raised(
    client: Any, stubber: Stubber
) -> None:
    add_error(stubber, "ServiceUnavailableException", 503)
    add_error(stubber, "ModelNotReadyException", 429)
    add_error(stubber, "InternalServerException", 500)
    sleeps = Sleeps()
    with pytest.raises(VisionServiceError, match="InternalServerException"):
        invoke_vision_model(
            client, IMAGE, "image/png", CONFIG, retry=RetryPolicy(max_retries=2), sleep=sleeps
        )
    assert sleeps.delays == [1.0, 2.0]


@pytest.mark.parametrize(
    "code",
    [
        "ValidationException",
        "AccessDeniedException",
        "ResourceNotFoundException",
        "ModelErrorException",
    ],
)
def test_rejected_requests_are_not_retried(client: Any, stubber: Stubber, code: str) -> None:
    add_error(stubber, code, 400)
    sleeps = Sleeps()
    with pytest.raises(VisionRequestError, match=code):
        invoke_vision_model(client, IMAGE, "image/png", CONFIG, sleep=sleeps)
    assert sleeps.delays == []


def test_malformed_output_is_not_retried(client: Any, stubber: Stubber) -> None:
    stubber.add_response("invoke_model", ok_response("I see some albums."), expected_params())
    sleeps = Sleeps()
    with pytest.raises(VisionNotJsonError):
        invoke_vision_model(client, IMAGE, "image/png", CONFIG, sleep=sleeps)
    assert sleeps.delays == []


def test_wrong_album_count_is_not_retried(client: Any, stubber: Stubber) -> None:
    stubber.add_response("invoke_model", ok_response(json.dumps(ALBUMS[:5])), expected_params())
    sleeps = Sleeps()
    with pytest.raises(VisionAlbumCountError, match="returned 5"):
        invoke_vision_model(client, IMAGE, "image/png", CONFIG, sleep=sleeps)
    assert sleeps.delays == []


def test_bad_image_fails_before_any_call(client: Any, stubber: Stubber) -> None:
    with pytest.raises(ImageError):
        invoke_vision_model(client, IMAGE, "image/tiff", CONFIG, sleep=Sleeps())


def test_network_timeouts_are_service_errors_and_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []

    class TimingOutClient:
        def invoke_model(self, **kwargs: Any) -> dict[str, Any]:
            calls.append(kwargs)
            if len(calls) == 1:
                raise ReadTimeoutError(endpoint_url="https://bedrock-runtime")
            return ok_response()

    sleeps = Sleeps()
    albums = invoke_vision_model(
        TimingOutClient(),  # type: ignore[arg-type]
        IMAGE,
        "image/png",
        CONFIG,
        sleep=sleeps,
    )
    assert len(albums) == 6
    assert len(calls) == 2
    assert calls[0] == expected_params()
    assert sleeps.delays == [1.0]


def test_zero_retries_makes_one_call(client: Any, stubber: Stubber) -> None:
    add_error(stubber, "ThrottlingException", 429)
    sleeps = Sleeps()
    with pytest.raises(VisionThrottledError):
        invoke_vision_model(
            client, IMAGE, "image/png", CONFIG, retry=RetryPolicy(max_retries=0), sleep=sleeps
        )
    assert sleeps.delays == []


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("ThrottlingException", 429, VisionThrottledError),
        ("TooManyRequestsException", 429, VisionThrottledError),
        ("ServiceQuotaExceededException", 400, VisionThrottledError),
        ("SomethingNew", 429, VisionThrottledError),
        ("ModelNotReadyException", 429, VisionServiceError),
        ("ServiceUnavailableException", 503, VisionServiceError),
        ("InternalServerException", 500, VisionServiceError),
        ("ModelTimeoutException", 408, VisionServiceError),
        ("SomethingNew", 502, VisionServiceError),
        ("AccessDeniedException", 403, VisionRequestError),
        ("ValidationException", 400, VisionRequestError),
        ("ResourceNotFoundException", 404, VisionRequestError),
        ("ModelErrorException", 424, VisionRequestError),
        ("SomethingNew", 400, VisionRequestError),
    ],
)
def test_client_error_mapping(code: str, status: int, expected: type[Exception]) -> None:
    error = ClientError(
        {
            "Error": {"Code": code, "Message": "details"},
            "ResponseMetadata": {"HTTPStatusCode": status},  # type: ignore[typeddict-item]
        },
        "InvokeModel",
    )
    mapped = map_client_error(error)
    assert type(mapped) is expected
    assert code in str(mapped)
    assert "details" in str(mapped)


def test_retry_policy_delays_and_validation() -> None:
    policy = RetryPolicy(max_retries=5, base_delay=1.0, multiplier=3.0, max_delay=10.0)
    assert [policy.delay(n) for n in range(1, 6)] == [1.0, 3.0, 9.0, 10.0, 10.0]
    assert policy.max_attempts == 6
    for bad in (
        {"max_retries": -1},
        {"max_retries": 11},
        {"max_retries": True},
        {"base_delay": -1},
        {"max_delay": 301},
        {"multiplier": 0.5},
        {"multiplier": "2"},
    ):
        with pytest.raises(ValueError):  # noqa: PT011
            RetryPolicy(**bad)
    with pytest.raises(ValueError, match="starts at 1"):
        policy.delay(0)


def test_client_config_disables_botocore_retries() -> None:
    config = client_config(read_timeout=60)
    retries = config.retries  # type: ignore[attr-defined]
    assert retries == {"total_max_attempts": 1, "mode": "standard"}
    assert config.read_timeout == 60  # type: ignore[attr-defined]


def test_default_policy_is_three_retries() -> None:
    assert bedrock.DEFAULT_RETRY_POLICY.max_retries == 3
    assert [bedrock.DEFAULT_RETRY_POLICY.delay(n) for n in (1, 2, 3)] == [1.0, 2.0, 4.0]
