"""The corpus of bad validation submissions against the validation API (issue 8, item 4).

Every request goes over HTTP to local mode's validation server, which runs the function
URL handler's code (:class:`validation_api.api.ReviewApi`) in front of both real
patterns. Each case (``tests/corpus/submissions.json``) must get its status code, the
code of its typed error, for a 400 the offending field with a message, and must change
nothing anywhere: the table is identical, and both executions still wait (or stay as
they ended, for an upload that was answered already).
"""

from __future__ import annotations

import base64
import hashlib
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from albums.domain import errors, keys
from albums.domain.models import ExecutionStatus
from albums.domain.signing import SigningKey, sign_link_token
from tests.corpus_harness import CORPUS_DIR, Case, load_family
from tests.validation_harness import LDF, SF, ReviewWorld, Upload, review_world

pytestmark = pytest.mark.integration

CASES = load_family("submissions")
#: How far the clock moves for the "expired" cases: past the task's expiry.
PAST_EXPIRY = timedelta(hours=2)
UNKNOWN_UPLOAD = hashlib.sha256(b"no such upload").hexdigest()[:32]


class Uploads:
    """One upload per state the cases need, prepared once."""

    def __init__(self, world: ReviewWorld) -> None:
        self.pending = world.upload()
        # The corpus's '$albums' start from what the page shows for these photos.
        shown = world.server.client.review(world.link(self.pending)).raise_for_status()
        base = json.loads((CORPUS_DIR / "submissions.json").read_text(encoding="utf-8"))
        assert shown.body["albums"] == base["baseAlbums"]
        waiting = {
            SF: ExecutionStatus.AWAITING_VALIDATION,
            LDF: ExecutionStatus.AWAITING_VALIDATION,
        }
        assert world.statuses(self.pending) == waiting
        self.answered = world.upload()
        world.server.client.accept(world.link(self.answered)).raise_for_status()
        world.wait_for_end(self.answered)
        self.expired = world.upload()
        assert world.statuses(self.expired) == waiting
        #: Every item before the first case ran.
        self.table = world.snapshot()

    def of(self, state: str) -> Upload | None:
        """The upload a case in ``state`` is sent about (``None``: an unknown upload)."""
        return {"pending": self.pending, "answered": self.answered, "expired": self.expired}.get(
            state
        )


@pytest.fixture(scope="module")
def world() -> Iterator[ReviewWorld]:
    with review_world(validation_timeout_seconds=600) as running:
        yield running


@pytest.fixture(scope="module")
def uploads(world: ReviewWorld) -> Uploads:
    return Uploads(world)


def token_for(world: ReviewWorld, upload_id: str, kind: str) -> str | None:
    """The link token a case sends: the real one, or one of the forged kinds."""
    assert world.server.keys is not None
    key = world.server.keys.signing_key()
    later = world.clock() + timedelta(hours=1)
    real = sign_link_token(key, upload_id, later)
    prefix, kid, upload, expires, signature = real.split(".")
    forged = {
        "valid": real,
        "none": None,
        "garbage": "not-a-link-token",
        "tampered-signature": f"{prefix}.{kid}.{upload}.{expires}."
        + signature[:-1]
        + ("A" if signature[-1] != "A" else "B"),
        "other-upload": f"{prefix}.{kid}.{UNKNOWN_UPLOAD}.{expires}.{signature}",
        "later-expiry": f"{prefix}.{kid}.{upload}.{int(expires) + 3600}.{signature}",
        "unknown-key": sign_link_token(SigningKey("stranger", b"k" * 48), upload_id, later),
        "expired-link": sign_link_token(key, upload_id, world.clock() - timedelta(seconds=1)),
    }
    return forged[kind]


def send(world: ReviewWorld, case: Case, upload_id: str) -> tuple[int, dict[str, Any]]:
    """Send the case's request as the page would, with its deviations; return the answer."""
    data = case.data
    if "rawBase64" in data:
        body: bytes | None = base64.b64decode(data["rawBase64"])
    elif "raw" in data:
        body = str(data["raw"]).encode()
    else:
        body = json.dumps(data["body"]).encode()
    headers: dict[str, str | None] = {
        "Origin": world.server.base_url,
        "Content-Type": "application/json",
    }
    kind = data.get("token", "valid")
    if kind == "basic-scheme":
        token = token_for(world, upload_id, "valid")
        headers["Authorization"] = f"Basic {token}"
    else:
        token = token_for(world, upload_id, kind)
        headers["Authorization"] = None if token is None else f"Bearer {token}"
    headers.update(data.get("headers", {}))
    request = urllib.request.Request(  # noqa: S310 - the loopback test server
        f"{world.server.base_url}{data['path']}",
        data=body,
        method="POST",
        headers={name: value for name, value in headers.items() if value is not None},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def observed(world: ReviewWorld, upload: Upload | None) -> dict[str, Any]:
    """What a bad request about ``upload`` must leave as it was: both execution records,
    both tasks, and whether the state machine still runs (the whole table is compared
    once every case has run)."""
    if upload is None:
        return {}
    state: dict[str, Any] = {
        "state machine": world.step_functions.describe(upload.sf_arn)["status"]
    }
    for pattern in (SF, LDF):
        repository = world.stack.repository(pattern)
        execution_id = upload.execution_id(pattern)
        state[f"{pattern} record"] = repository.get_execution(execution_id)
        state[f"{pattern} task"] = repository.get_task(keys.task_id_for(pattern, execution_id))
    return state


@pytest.mark.parametrize("case", CASES, ids=str)
def test_a_bad_submission_gets_its_status_and_error_and_changes_nothing(
    case: Case, world: ReviewWorld, uploads: Uploads
) -> None:
    state = case.data.get("state", "pending")
    upload = uploads.of(state)
    upload_id = UNKNOWN_UPLOAD if upload is None else upload.upload_id
    before = observed(world, upload)
    if state == "expired":
        world.clock.offset = PAST_EXPIRY
    try:
        status, answer = send(world, case, upload_id)
    finally:
        world.clock.offset = timedelta()

    error_class = getattr(errors, str(case.error))
    assert (status, answer["error"]) == (case.data["status"], error_class.code), answer
    assert answer["message"]
    if status == 400:
        assert case.data["field"] in answer["fields"], answer
        assert answer["fields"][case.data["field"]]
    assert observed(world, upload) == before


def test_after_every_bad_submission_the_upload_can_still_be_answered(
    world: ReviewWorld, uploads: Uploads
) -> None:
    """Nothing the corpus sent changed any item or used the upload up: a good answer
    still resumes both patterns."""
    assert world.snapshot() == uploads.table
    link = world.link(uploads.pending, datetime.now(UTC) + timedelta(hours=1))
    outcome = world.server.client.correct_years(link, {1: 1960}).raise_for_status().body
    assert sorted(outcome["resumed"]) == [
        "durable-functions",
        "step-functions",
    ]
    world.wait_for_end(uploads.pending)
    assert {
        pattern: years[0] for pattern, years in world.stored_years(uploads.pending).items()
    } == {
        SF: 1960,
        LDF: 1960,
    }
