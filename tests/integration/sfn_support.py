"""Shared helpers of the Step Functions end-to-end tests (integration and properties)."""

from __future__ import annotations

import io
import itertools
import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from hypothesis import Phase, settings
from hypothesis import strategies as st
from PIL import Image

from albums.adapters.repository import AlbumRepository
from albums.domain.models import Album, AlbumCorrection, WorkflowType
from localmode.stack import LocalStack
from localmode.stepfunctions import StepFunctionsPattern
from tests.property.strategies import album_text, years

SF = WorkflowType.STEP_FUNCTIONS
#: A validation timeout long enough that no test reaches it unless it means to.
LONG_TIMEOUT = 120
_COLOURS = itertools.count(1)


def photo(seed: int | None = None) -> bytes:
    """A small JPEG, different for every call (so each upload is its own image)."""
    number = next(_COLOURS) if seed is None else seed
    buffer = io.BytesIO()
    colour = (number * 37 % 256, number * 91 % 256, number * 53 % 256)
    Image.new("RGB", (24, 16), colour).save(buffer, format="JPEG")
    return buffer.getvalue()


def vision_albums(albums: Sequence[Album]) -> list[dict[str, Any]]:
    """What the vision stand-in answers for these albums (no indices: the model's shape)."""
    return [
        {"albumName": album.album_name, "artist": album.artist, "year": album.year}
        for album in albums
    ]


@contextmanager
def sfn_stack(
    *, timeout: int = LONG_TIMEOUT, heartbeat: int | None = None, **kwargs: Any
) -> Iterator[tuple[LocalStack, StepFunctionsPattern]]:
    """A local stack with the Step Functions pattern; leftover executions stopped after."""
    with (
        LocalStack(validation_timeout_seconds=timeout) as stack,
        StepFunctionsPattern(
            stack,
            validation_timeout_seconds=timeout,
            validation_heartbeat_seconds=heartbeat,
            **kwargs,
        ) as pattern,
    ):
        yield stack, pattern


def upload(
    stack: LocalStack,
    pattern: StepFunctionsPattern,
    albums: Sequence[Album],
    key: str | None = None,
) -> tuple[str, dict[str, Any]]:
    """Register ``albums`` for a new photo, upload it, and return (execution ARN, event)."""
    image = photo()
    stack.vision.register(image, vision_albums(albums))
    count = len(pattern.started)
    event = stack.put_upload(key or f"uploads/shelf-{next(_COLOURS)}.jpg", image)
    assert len(pattern.started) == count + 1, "the upload event started no execution"
    return pattern.started[-1], event


def entered_states(history: Sequence[Mapping[str, Any]]) -> list[str]:
    """Names of the states entered, in history order (Map iterations included)."""
    return [
        str(event["stateEnteredEventDetails"]["name"])
        for event in history
        if str(event["type"]).endswith("StateEntered")
    ]


def repository(stack: LocalStack) -> AlbumRepository:
    """The Step Functions pattern's repository on the local table."""
    return stack.repository(SF)


@st.composite
def corrections(draw: st.DrawFn, albums: Sequence[Album]) -> tuple[AlbumCorrection, ...]:
    """A reviewer's corrections of some of ``albums``: new years, sometimes new names."""
    chosen = draw(st.sets(st.sampled_from([album.index for album in albums]), max_size=6))
    return tuple(
        AlbumCorrection(
            index=index,
            year=draw(years),
            album_name=draw(st.none() | album_text),
            artist=draw(st.none() | album_text),
        )
        for index in sorted(chosen)
    )


def price_inputs(history: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The album payload of every price estimator invocation, in history order."""
    albums = []
    for event in history:
        if event["type"] != "TaskScheduled":
            continue
        parameters = json.loads(event["taskScheduledEventDetails"]["parameters"])
        if "price_estimator" in parameters.get("FunctionName", ""):
            albums.append(parameters["Payload"]["album"])
    return albums


#: Hypothesis settings of the end-to-end properties: a bounded number of executions, and
#: no shrinking (each example is a whole workflow; a failure is reported as found).
E2E_SETTINGS = settings(
    max_examples=10, phases=(Phase.explicit, Phase.reuse, Phase.generate), deadline=None
)


def failure_causes(history: Sequence[Mapping[str, Any]]) -> list[str]:
    """The ``cause`` of every failed task in a history (Lambda error payloads, with traces)."""
    return [
        str(details.get("cause"))
        for event in history
        for name, details in event.items()
        if name.endswith("FailedEventDetails") and isinstance(details, dict)
    ]


def finish(pattern: StepFunctionsPattern, execution_arn: str) -> dict[str, Any]:
    """Wait for the execution to end and check that it succeeded (failures shown in full)."""
    described = pattern.wait_for_end(execution_arn)
    causes = failure_causes(pattern.history(execution_arn))
    assert described["status"] == "SUCCEEDED", causes
    output = json.loads(described["output"])
    assert output.get("status") != "failed", causes
    return described
