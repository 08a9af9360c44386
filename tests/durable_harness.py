"""What the durable-pattern tests share: a local stack with the durable runner, uploads.

Every run goes through the real pieces: S3 put → the stack's EventBridge delivery →
a durable execution in the testing runner → the orchestrator's steps on moto → the
reviewer's answer through the callback resumer.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from PIL import Image

from albums.domain import keys
from albums.domain.models import Album, AlbumCorrection, WorkflowType
from albums.domain.pricing import PriceSource
from albums.workflow import REJECTION_ERROR, ValidationDecision
from localmode.durable import DurableRun, LocalDurable
from localmode.stack import LocalStack
from tests.property.strategies import album_sets, years

PATTERN = WorkflowType.DURABLE_FUNCTIONS
ALBUMS: list[dict[str, Any]] = [
    {"albumName": "Kind of Blue", "artist": "Miles Davis", "year": 1959},
    {"albumName": "Abbey Road", "artist": "The Beatles", "year": 1969},
    {"albumName": "Blue", "artist": "Joni Mitchell", "year": 1971},
    {"albumName": "Rumours", "artist": "Fleetwood Mac", "year": 1977},
    {"albumName": "Remain in Light", "artist": "Talking Heads", "year": 1980},
    {"albumName": "Purple Rain", "artist": "Prince", "year": 1984},
]
_COUNTER = itertools.count(1)

#: How the reviewer answers: given the harness and the execution id.
Answer = Callable[[LocalDurable, str], None]


def image(seed: int | str) -> bytes:
    """Return a small PNG whose bytes differ per ``seed`` (the stand-in keys on them)."""
    digest = hashlib.sha256(str(seed).encode()).digest()
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (digest[0], digest[1], digest[2])).save(buffer, format="PNG")
    return buffer.getvalue()


@contextmanager
def durable_stack(
    *,
    validation_timeout_seconds: int = 30,
    price_source: PriceSource | None = None,
    wrap: Callable[[Any], Any] | None = None,
) -> Iterator[tuple[LocalStack, LocalDurable]]:
    """Yield a local stack with the durable pattern plugged in."""
    metrics = io.StringIO()
    with (
        LocalStack(validation_timeout_seconds=validation_timeout_seconds) as stack,
        LocalDurable(
            stack, price_source=price_source, wrap=wrap, metrics_stream=metrics
        ) as durable,
    ):
        yield stack, durable


def approve(corrections: Sequence[AlbumCorrection] = ()) -> Answer:
    """Answer with corrections (or none: accept as detected)."""

    def answer(durable: LocalDurable, execution_id: str) -> None:
        callback_id = durable.wait_for_task(execution_id)
        durable.resumer.succeed(callback_id, ValidationDecision(tuple(corrections)).to_dict())

    return answer


def reject(reason: str) -> Answer:
    """Answer with a rejection."""

    def answer(durable: LocalDurable, execution_id: str) -> None:
        callback_id = durable.wait_for_task(execution_id)
        durable.resumer.fail(callback_id, error=REJECTION_ERROR, message=reason)

    return answer


def no_answer(durable: LocalDurable, execution_id: str) -> None:
    """Let the review time out (but wait until the task exists)."""
    durable.wait_for_task(execution_id)


def upload(
    stack: LocalStack,
    albums: Sequence[dict[str, Any]] = ALBUMS,
    *,
    key: str | None = None,
    seed: int | str | None = None,
) -> dict[str, Any]:
    """Register ``albums`` for a fresh image, put it under ``key``; return the event."""
    number = next(_COUNTER)
    photo = image(seed if seed is not None else f"photo-{number}")
    stack.vision.register(photo, list(albums))
    return stack.put_upload(key or f"uploads/photo-{number}.png", photo, content_type="image/png")


def execution_id(arn: str) -> str:
    """Return the durable execution's id (the ``ldf`` tenant)."""
    return keys.execution_id_for(PATTERN, arn)


def run_upload(
    stack: LocalStack,
    durable: LocalDurable,
    answer: Answer | None,
    albums: Sequence[dict[str, Any]] = ALBUMS,
    *,
    key: str | None = None,
    timeout: float = 30,
) -> DurableRun:
    """Upload a photo, answer the review, and wait for the execution to end."""
    before = len(durable.started)
    upload(stack, albums, key=key)
    started = durable.started[before:]
    assert len(started) == 1, started
    arn = started[0]
    if answer is not None:
        answer(durable, execution_id(arn))
    return durable.wait(arn, timeout)


# --- property tests ------------------------------------------------------------------------


@st.composite
def corrections_for(draw: st.DrawFn) -> tuple[AlbumCorrection, ...]:
    """A reviewer's corrections: a subset of the six albums, each with a new year."""
    indices = draw(st.sets(st.integers(min_value=1, max_value=6), max_size=6))
    return tuple(AlbumCorrection(index, draw(years)) for index in sorted(indices))


def album_dicts(albums: Sequence[Album]) -> list[dict[str, Any]]:
    """Albums as the vision stand-in answers them (no index: reading order is the index)."""
    return [{k: v for k, v in a.to_dict().items() if k != "albumIndex"} for a in albums]


__all__ = ["album_sets"]


@pytest.fixture(scope="module")
def durable_env() -> Iterator[tuple[LocalStack, LocalDurable]]:
    """One stack for every example of a property test (each example uploads a new photo)."""
    with durable_stack() as pair:
        yield pair


def run_property_example(
    stack: LocalStack,
    durable: LocalDurable,
    albums: Sequence[Album],
    corrections: Sequence[AlbumCorrection],
) -> DurableRun:
    """Upload a photo showing ``albums``, answer with ``corrections``, wait for the end."""
    return run_upload(stack, durable, approve(corrections), album_dicts(albums))


#: Examples per durable property test: each is a whole durable execution, so ``make test``
#: runs a bounded number and ``make test-slow`` sets ``DURABLE_PROPERTY_EXAMPLES=100``.
DURABLE_EXAMPLES = settings(
    max_examples=int(os.environ.get("DURABLE_PROPERTY_EXAMPLES", "10")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
