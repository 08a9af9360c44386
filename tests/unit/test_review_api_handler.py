"""The validation API's Lambda handler and HTTP layer, on function URL events (payload 2.0)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from albums.adapters import clients
from albums.domain.errors import ConfigurationError, TransientError
from albums.domain.signing import SigningKey, sign_link_token
from tests.table import create_table
from validation_api import handler as api_handler
from validation_api.api import MAX_BODY_BYTES, ReviewApi

UPLOAD = "ab" * 16
KEY = SigningKey("k1", b"q" * 40)


def event(
    method: str, path: str, *, token: str | None = None, body: str | None = None, **headers: str
) -> dict[str, Any]:
    lowered = {name.replace("_", "-"): value for name, value in headers.items()}
    if token is not None:
        lowered["authorization"] = f"Bearer {token}"
    return {
        "version": "2.0",
        "rawPath": path,
        "headers": {"host": "abc.lambda-url.us-east-1.on.aws", **lowered},
        "requestContext": {
            "domainName": "abc.lambda-url.us-east-1.on.aws",
            "http": {"method": method, "path": path},
        },
        "body": body,
        "isBase64Encoded": False,
    }


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with mock_aws():
        clients.reset()
        create_table(boto3.client("dynamodb", region_name="us-east-1"), "albums-api")
        secrets = boto3.client("secretsmanager", region_name="us-east-1")
        arn = secrets.create_secret(Name="signing", SecretString="s" * 64)["ARN"]
        monkeypatch.setenv("TABLE_NAME", "albums-api")
        monkeypatch.setenv("BUCKET_NAME", "album-uploads-test")
        monkeypatch.setenv("SIGNING_SECRET_ARN", arn)
        yield arn
        clients.reset()


def current_token(arn: str) -> str:
    from albums.adapters.signing_keys import shared_key_source

    key = shared_key_source(clients.get("secretsmanager"), arn).signing_key()
    return sign_link_token(key, UPLOAD, datetime.now(UTC) + timedelta(hours=1))


def test_the_page_allows_photos_from_the_bucket_only(aws: str) -> None:
    response = api_handler.handler(event("GET", "/review"), None)
    assert response["statusCode"] == 200
    assert response["headers"]["Content-Type"] == "text/html; charset=utf-8"
    policy = response["headers"]["Content-Security-Policy"]
    assert "img-src 'self' https://album-uploads-test.s3.amazonaws.com;" in policy
    assert "Access-Control-Allow-Origin" not in response["headers"]


def test_a_signed_link_to_an_upload_without_tasks_is_404(aws: str) -> None:
    response = api_handler.handler(event("GET", "/api/review", token=current_token(aws)), None)
    assert response["statusCode"] == 404
    assert json.loads(response["body"])["error"] == "task_not_found"


def test_the_handler_needs_the_signing_secret(aws: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SIGNING_SECRET_ARN")
    with pytest.raises(ConfigurationError, match="SIGNING_SECRET_ARN"):
        api_handler.handler(event("GET", "/review"), None)


class FailingService:
    def __init__(self, error: Exception) -> None:
        self.error = error

    def review(self, upload_id: str) -> Any:
        raise self.error

    def submit(self, upload_id: str, kind: Any, payload: object) -> Any:
        raise self.error


def api(error: Exception) -> ReviewApi:
    return ReviewApi(
        FailingService(error),  # type: ignore[arg-type]
        {"k1": KEY}.get,
        presign_photo=lambda upload: "https://photo",
        photo_origin=None,
        clock=lambda: datetime.now(UTC),
    )


def token() -> str:
    return sign_link_token(KEY, UPLOAD, datetime.now(UTC) + timedelta(hours=1))


def test_a_transient_failure_says_try_again() -> None:
    response = api(TransientError("DynamoDB throttled")).handle(
        event("GET", "/api/review", token=token())
    )
    assert response["statusCode"] == 503


def test_an_unexpected_failure_tells_nothing_of_its_cause() -> None:
    response = api(RuntimeError("secret internals")).handle(
        event("GET", "/api/review", token=token())
    )
    assert response["statusCode"] == 500
    assert "secret internals" not in response["body"]
    assert response["headers"]["X-Content-Type-Options"] == "nosniff"


def test_the_token_is_checked_before_the_body() -> None:
    response = api(RuntimeError("never reached")).handle(
        event("POST", "/api/review/accept", token="v1.bad", body="not json")
    )
    assert (response["statusCode"], json.loads(response["body"])["error"]) == (403, "invalid_link")


@pytest.mark.parametrize(
    ("body", "headers", "message"),
    [
        ("x" * (MAX_BODY_BYTES + 1), {"content_type": "application/json"}, "at most"),
        ("{}", {"content_type": "text/plain"}, "Content-Type"),
        ("{", {"content_type": "application/json"}, "not valid JSON"),
        ("[" * 5000 + "]" * 5000, {"content_type": "application/json"}, "not valid JSON"),
    ],
)
def test_bodies_are_bounded_typed_and_parsed(
    body: str, headers: dict[str, str], message: str
) -> None:
    response = api(RuntimeError("never reached")).handle(
        event("POST", "/api/review/accept", token=token(), body=body, **headers)
    )
    answer = json.loads(response["body"])
    assert response["statusCode"] == 400
    assert message in answer["fields"]["body"]


def test_base64_bodies_are_decoded() -> None:
    request = event(
        "POST", "/api/review/accept", token=token(), body="!!", content_type="application/json"
    )
    request["isBase64Encoded"] = True
    response = api(RuntimeError("never reached")).handle(request)
    assert json.loads(response["body"])["fields"]["body"] == "is not valid base64"


def test_the_favicon_is_empty_and_unknown_paths_are_404() -> None:
    assert api(RuntimeError()).handle(event("GET", "/favicon.ico"))["statusCode"] == 204
    assert api(RuntimeError()).handle(event("GET", "/admin"))["statusCode"] == 404
