"""Lazily created boto3 clients, one per service and process, with overrides for local mode.

Handlers and the orchestrator ask for clients here instead of creating them at import:
import stays cheap (cold starts), tests create no client outside an active moto mock,
and local mode can put a stand-in in place of a service that cannot be emulated (Bedrock).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_LOCK = threading.Lock()
_CACHE: dict[str, Any] = {}
_OVERRIDES: dict[str, Any] = {}


def get(service: str) -> Any:
    """Return the client for ``service`` (an override if one is set, else a cached boto3 client).

    The Bedrock runtime client gets :func:`albums.adapters.bedrock.client_config` (one
    attempt per call, so our own retry policy is the only one).
    """
    with _LOCK:
        if service in _OVERRIDES:
            return _OVERRIDES[service]
        if service not in _CACHE:
            _CACHE[service] = _create(service)
        return _CACHE[service]


def _create(service: str) -> Any:
    import boto3  # noqa: PLC0415 - imported on first use to keep handler import fast

    if service == "bedrock-runtime":
        from albums.adapters.bedrock import client_config  # noqa: PLC0415

        return boto3.client("bedrock-runtime", config=client_config())
    return boto3.client(service)  # type: ignore[call-overload]  # any service name


@contextmanager
def overridden(**services: Any) -> Iterator[None]:
    """Use the given clients while the block runs, e.g. ``overridden(bedrock_runtime=fake)``.

    Keyword names use ``_`` for ``-`` (``bedrock_runtime`` is ``bedrock-runtime``).
    """
    names = {name.replace("_", "-"): client for name, client in services.items()}
    with _LOCK:
        previous = {name: _OVERRIDES.get(name) for name in names}
        _OVERRIDES.update(names)
    try:
        yield
    finally:
        with _LOCK:
            for name, client in previous.items():
                if client is None:
                    _OVERRIDES.pop(name, None)
                else:
                    _OVERRIDES[name] = client


def reset() -> None:
    """Forget every cached client (a new moto mock, new credentials, a new region)."""
    with _LOCK:
        _CACHE.clear()
