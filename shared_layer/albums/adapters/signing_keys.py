"""The link-signing key from Secrets Manager: cached, and safe across a key rotation.

:class:`SecretsManagerKeySource` reads the secret's ``AWSCURRENT`` version (which signs
new links) and its ``AWSPREVIOUS`` version (which still verifies links signed before the
last rotation), each as a :class:`~albums.domain.signing.SigningKey` whose id is derived
from the secret's version id. Both are cached for ``ttl_seconds``; a token naming a key id
neither cached version has makes it re-read the secret once (at most every
``refresh_interval_seconds``), so a rotation elsewhere is picked up at once without
letting forged key ids hammer Secrets Manager.

The client is passed in (a boto3 ``secretsmanager`` client); the role needs
``secretsmanager:GetSecretValue`` on this one secret.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from typing import Any, Final

from botocore.exceptions import ClientError

from albums.domain.errors import SigningKeyError, TransientError
from albums.domain.signing import SigningKey

#: Stages read: the current version signs, both verify.
CURRENT: Final = "AWSCURRENT"
PREVIOUS: Final = "AWSPREVIOUS"
_TRANSIENT_CODES: Final = frozenset(
    {"ThrottlingException", "InternalServiceError", "ServiceUnavailable", "RequestTimeout"}
)


def key_id_of(version_id: str) -> str:
    """Return the key id for a secret version id (its token-safe characters, at most 64)."""
    key_id = re.sub(r"[^A-Za-z0-9_-]", "", version_id)[:64]
    if not key_id:
        raise SigningKeyError(f"secret version id {version_id!r} gives no usable key id")
    return key_id


class SecretsManagerKeySource:
    """Signing keys from one Secrets Manager secret.

    Parameters
    ----------
    client
        A boto3 Secrets Manager client.
    secret_id
        The secret's ARN (or name).
    ttl_seconds
        How long the read versions are used before reading them again.
    refresh_interval_seconds
        Shortest time between two reads forced by an unknown key id.
    monotonic
        The clock of the cache; injectable for tests.
    """

    def __init__(
        self,
        client: Any,
        secret_id: str,
        *,
        ttl_seconds: float = 300.0,
        refresh_interval_seconds: float = 10.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if not isinstance(secret_id, str) or not secret_id:
            raise SigningKeyError("SIGNING_SECRET_ARN is not set")
        self._client = client
        self._secret_id = secret_id
        self._ttl = ttl_seconds
        self._refresh_interval = refresh_interval_seconds
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._current: SigningKey | None = None
        self._previous: SigningKey | None = None
        self._read_at: float | None = None
        self.reads = 0

    def signing_key(self) -> SigningKey:
        """Return the key new links are signed with (``AWSCURRENT``).

        Raises
        ------
        SigningKeyError
            The secret cannot be read (access, missing) or its value is unusable.
        TransientError
            Secrets Manager throttled or failed transiently.
        """
        with self._lock:
            if self._stale(self._ttl):
                self._refresh()
            if self._current is None:  # pragma: no cover - _refresh sets it or raises
                raise SigningKeyError("the signing secret has no current version")
            return self._current

    def lookup(self, key_id: str) -> SigningKey | None:
        """Return the key with ``key_id`` (current or previous version), or ``None``."""
        with self._lock:
            if self._stale(self._ttl):
                self._refresh()
            found = self._find(key_id)
            if found is None and self._stale(self._refresh_interval):
                # A rotation may have happened since the last read.
                self._refresh()
                found = self._find(key_id)
            return found

    def _find(self, key_id: str) -> SigningKey | None:
        for key in (self._current, self._previous):
            if key is not None and key.key_id == key_id:
                return key
        return None

    def _stale(self, age_limit: float) -> bool:
        return self._read_at is None or self._monotonic() - self._read_at >= age_limit

    def _refresh(self) -> None:
        current = self._read(CURRENT)
        if current is None:
            raise SigningKeyError(f"the signing secret has no {CURRENT} version")
        self._current = current
        self._previous = self._read(PREVIOUS)
        self._read_at = self._monotonic()

    def _read(self, stage: str) -> SigningKey | None:
        self.reads += 1
        try:
            response = self._client.get_secret_value(SecretId=self._secret_id, VersionStage=stage)
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            if code == "ResourceNotFoundException" and stage == PREVIOUS:
                return None  # never rotated: there is no previous version
            if code in _TRANSIENT_CODES:
                raise TransientError(
                    f"reading the signing key failed transiently ({code})"
                ) from error
            raise SigningKeyError(f"the signing key cannot be read ({code})") from error
        value = response.get("SecretString")
        secret = value.encode("utf-8") if isinstance(value, str) else response.get("SecretBinary")
        if not isinstance(secret, bytes):
            raise SigningKeyError(f"the signing secret's {stage} version holds no value")
        return SigningKey(key_id_of(str(response["VersionId"])), secret)


_SHARED: dict[tuple[str, int], SecretsManagerKeySource] = {}
_SHARED_LOCK = threading.Lock()


def shared_key_source(client: Any, secret_id: str) -> SecretsManagerKeySource:
    """Return this process's key source for a secret and client (one cache per Lambda)."""
    with _SHARED_LOCK:
        key = (secret_id, id(client))
        source = _SHARED.get(key)
        if source is None:
            source = _SHARED[key] = SecretsManagerKeySource(client, secret_id)
        return source
