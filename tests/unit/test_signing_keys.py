"""The signing key from Secrets Manager (moto): cached, and links survive a rotation."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from albums.adapters.signing_keys import SecretsManagerKeySource, key_id_of, shared_key_source
from albums.domain.errors import SigningKeyError, TransientError
from albums.domain.signing import sign_link_token, verify_link_token

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
UPLOAD = "0123456789abcdef0123456789abcdef"


class Monotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def secrets() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("secretsmanager", region_name="us-east-1")


@pytest.fixture
def secret_arn(secrets: Any) -> str:
    return str(secrets.create_secret(Name="signing", SecretString="a" * 64)["ARN"])


def test_the_current_version_signs_and_verifies(secrets: Any, secret_arn: str) -> None:
    source = SecretsManagerKeySource(secrets, secret_arn)
    key = source.signing_key()
    version = secrets.get_secret_value(SecretId=secret_arn)["VersionId"]
    assert key.key_id == key_id_of(version)
    assert key.secret == b"a" * 64
    token = sign_link_token(key, UPLOAD, NOW + timedelta(hours=1))
    assert verify_link_token(token, source.lookup, NOW).upload_id == UPLOAD


def test_keys_are_cached_until_their_ttl(secrets: Any, secret_arn: str) -> None:
    clock = Monotonic()
    source = SecretsManagerKeySource(secrets, secret_arn, ttl_seconds=300, monotonic=clock)
    first = source.signing_key()
    reads = source.reads
    for _ in range(5):
        assert source.signing_key() == first
        assert source.lookup(first.key_id) == first
    assert source.reads == reads
    clock.now += 300
    source.signing_key()
    assert source.reads > reads


def test_links_signed_before_a_rotation_still_verify(secrets: Any, secret_arn: str) -> None:
    clock = Monotonic()
    source = SecretsManagerKeySource(secrets, secret_arn, monotonic=clock)
    old_token = sign_link_token(source.signing_key(), UPLOAD, NOW + timedelta(hours=1))

    secrets.put_secret_value(SecretId=secret_arn, SecretString="b" * 64)  # the rotation
    # Another instance signs with the new key; this one learns of it from the key id.
    fresh = SecretsManagerKeySource(secrets, secret_arn)
    new_token = sign_link_token(fresh.signing_key(), UPLOAD, NOW + timedelta(hours=1))
    clock.now += 11  # past the refresh interval
    assert verify_link_token(new_token, source.lookup, NOW).upload_id == UPLOAD
    assert verify_link_token(old_token, source.lookup, NOW).upload_id == UPLOAD
    assert source.signing_key().secret == b"b" * 64


def test_unknown_key_ids_do_not_hammer_secrets_manager(secrets: Any, secret_arn: str) -> None:
    clock = Monotonic()
    source = SecretsManagerKeySource(secrets, secret_arn, monotonic=clock)
    source.signing_key()
    reads = source.reads
    for number in range(20):
        assert source.lookup(f"forged-{number}") is None
    assert source.reads == reads  # within the refresh interval: no new read
    clock.now += 10
    assert source.lookup("forged") is None
    assert source.reads == reads + 2  # one refresh: AWSCURRENT and AWSPREVIOUS


def test_a_secret_never_rotated_has_no_previous_key(secrets: Any, secret_arn: str) -> None:
    source = SecretsManagerKeySource(secrets, secret_arn)
    key = source.signing_key()
    assert source.lookup(key.key_id) == key


def test_a_missing_secret_is_a_signing_key_error(secrets: Any) -> None:
    missing = "arn:aws:secretsmanager:us-east-1:123456789012:secret:nope-AbCdEf"
    with pytest.raises(SigningKeyError, match="cannot be read"):
        SecretsManagerKeySource(secrets, missing).signing_key()
    with pytest.raises(SigningKeyError, match="not set"):
        SecretsManagerKeySource(secrets, "")


def test_a_short_secret_is_refused(secrets: Any) -> None:
    arn = secrets.create_secret(Name="short", SecretString="x" * 16)["ARN"]
    with pytest.raises(SigningKeyError, match="at least 32 bytes"):
        SecretsManagerKeySource(secrets, arn).signing_key()


class ThrottledClient:
    def get_secret_value(self, **_: Any) -> dict[str, Any]:
        raise ClientError(
            {"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "GetSecretValue"
        )


def test_throttling_is_transient() -> None:
    with pytest.raises(TransientError, match="transiently"):
        SecretsManagerKeySource(ThrottledClient(), "arn:secret").signing_key()


def test_one_key_source_per_secret_and_client() -> None:
    client = ThrottledClient()
    assert shared_key_source(client, "arn:a") is shared_key_source(client, "arn:a")
    assert shared_key_source(client, "arn:a") is not shared_key_source(client, "arn:b")


def test_key_ids_keep_token_safe_characters() -> None:
    assert key_id_of("3f2a-b1c4.d5") == "3f2a-b1c4d5"
    with pytest.raises(SigningKeyError):
        key_id_of("...")
