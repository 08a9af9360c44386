"""The validation API over HTTP on 127.0.0.1, answering both patterns of each upload.

The same handler code the function URL runs, in front of the real Step Functions pattern
(moto executing the ASL) and the real durable orchestrator (the SDK's testing runner).
Every bad request is checked for its status, its message and that nothing changed: the
table, both tasks and both executions.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from albums.domain.models import ExecutionStatus, current_year
from albums.domain.signing import SigningKey, review_link, sign_link_token
from localmode.validation_server import ApiResult
from tests.durable_harness import ALBUMS
from tests.validation_harness import LDF, SF, ReviewWorld, Upload, review_world

pytestmark = pytest.mark.integration

WAITING = {SF: ExecutionStatus.AWAITING_VALIDATION, LDF: ExecutionStatus.AWAITING_VALIDATION}


@pytest.fixture(scope="module")
def world() -> Iterator[ReviewWorld]:
    with review_world() as running:
        yield running


@pytest.fixture
def upload(world: ReviewWorld) -> Upload:
    return world.upload()


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 - loopback
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, dict(response.headers.items()), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers.items()), error.read()


def shown_albums(world: ReviewWorld, link: str) -> list[dict[str, Any]]:
    albums = world.server.client.review(link).raise_for_status().body["albums"]
    assert isinstance(albums, list)
    return albums


def assert_unchanged(world: ReviewWorld, upload: Upload, before: list[dict[str, Any]]) -> None:
    assert world.snapshot() == before
    assert world.statuses(upload) == WAITING
    assert world.step_functions.describe(upload.sf_arn)["status"] == "RUNNING"


# --- reading ------------------------------------------------------------------------------


def test_the_review_shows_albums_photo_and_both_patterns(
    world: ReviewWorld, upload: Upload
) -> None:
    result = world.server.client.review(world.link(upload))
    assert result.status == 200
    body = result.body
    assert body["state"] == "pending"
    assert body["uploadId"] == upload.upload_id
    assert [a["albumName"] for a in body["albums"]] == [a["albumName"] for a in ALBUMS]
    assert [(p["workflowType"], p["status"]) for p in body["patterns"]] == [
        ("step-functions", "pending"),
        ("durable-functions", "pending"),
    ]
    serialized = json.dumps(body)
    for pattern, side in zip((SF, LDF), body["patterns"], strict=True):
        task = world.stack.repository(pattern).get_task(side["taskId"])
        assert task.resume_token not in serialized
    status, headers, photo = get(body["photoUrl"])
    assert status == 200
    assert headers["Content-Type"] == "image/png"
    assert photo.startswith(b"\x89PNG")


def test_one_notification_per_upload_links_to_the_page(world: ReviewWorld) -> None:
    world.published()  # drain earlier uploads' messages
    upload = world.upload()
    messages = world.published()
    assert [m["uploadId"] for m in messages] == [upload.upload_id]
    link = messages[0]["reviewUrl"]
    assert link.startswith(f"{world.server.base_url}/review#t=v1.")
    assert world.server.client.review(link).status == 200
    assert [a["year"] for a in messages[0]["albums"]] == [a["year"] for a in ALBUMS]


def test_every_response_is_locked_down(world: ReviewWorld, upload: Upload) -> None:
    responses = [
        get(f"{world.server.base_url}/review"),
        get(f"{world.server.base_url}/static/review.js"),
        get(f"{world.server.base_url}/nowhere"),
    ]
    api = world.server.client.review(world.link(upload))
    for status, headers, _ in responses:
        lowered = {name.lower(): value for name, value in headers.items()}
        assert "default-src 'none'" in lowered["content-security-policy"]
        assert "script-src 'self'" in lowered["content-security-policy"]
        assert "unsafe-inline" not in lowered["content-security-policy"]
        assert lowered["x-content-type-options"] == "nosniff"
        assert "access-control-allow-origin" not in lowered
        assert status in (200, 404)
    assert "default-src 'none'" in api.headers["content-security-policy"]
    assert api.headers["x-content-type-options"] == "nosniff"
    assert api.headers["cache-control"] == "no-store"
    assert "access-control-allow-origin" not in api.headers
    page = responses[0][2].decode()
    assert '<script src="/static/review.js" defer></script>' in page
    assert "<script>" not in page  # no inline script: the policy forbids it
    assert responses[1][1]["Content-Type"].startswith("text/javascript")
    assert responses[2][0] == 404


def test_wrong_methods_and_cross_origin_writes_are_refused(
    world: ReviewWorld, upload: Upload
) -> None:
    link = world.link(upload)
    client = world.server.client
    before = world.snapshot()
    assert client.request(link, "POST", "/review", {}).status == 405
    assert client.request(link, "DELETE", "/api/review").status == 405
    assert client.request(link, "GET", "/api/review/accept").status == 405
    preflight = client.request(link, "OPTIONS", "/api/review/accept")
    assert preflight.status == 405
    assert "access-control-allow-origin" not in preflight.headers
    origin = world.server.base_url
    request = urllib.request.Request(  # noqa: S310 - loopback
        f"{origin}/api/review/accept",
        data=b"{}",
        method="POST",
        headers={
            "Authorization": f"Bearer {link.split('#t=')[1]}",
            "Content-Type": "application/json",
            "Origin": "https://evil.example",
        },
    )
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request, timeout=30)  # noqa: S310
    assert raised.value.code == 403
    request.headers.pop("Origin")
    request.add_header("Sec-fetch-site", "cross-site")
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request, timeout=30)  # noqa: S310
    assert raised.value.code == 403
    assert_unchanged(world, upload, before)


# --- links ----------------------------------------------------------------------------------


def test_invalid_tampered_and_expired_links_are_refused_before_anything(
    world: ReviewWorld, upload: Upload
) -> None:
    link = world.link(upload)
    base = world.server.base_url
    token = link.split("#t=")[1]
    kid, upload_id, expires, signature = token.split(".")[1:]
    flipped = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    stranger = SigningKey("other-key", b"k" * 40)
    later = datetime.now(UTC) + timedelta(hours=1)
    cases = {
        "no token": (f"{base}/review", 403, "invalid_link"),
        "garbage": (review_link(base, "not-a-token"), 403, "invalid_link"),
        "tampered signature": (
            review_link(base, f"v1.{kid}.{upload_id}.{expires}.{flipped}"),
            403,
            "invalid_link",
        ),
        "other upload": (
            review_link(base, f"v1.{kid}.{'0' * 32}.{expires}.{signature}"),
            403,
            "invalid_link",
        ),
        "later expiry": (
            review_link(base, f"v1.{kid}.{upload_id}.{int(expires) + 60}.{signature}"),
            403,
            "invalid_link",
        ),
        "unknown key": (
            review_link(base, sign_link_token(stranger, upload.upload_id, later)),
            403,
            "invalid_link",
        ),
        "expired": (
            world.link(upload, datetime.now(UTC) - timedelta(seconds=1)),
            410,
            "expired_link",
        ),
    }
    before = world.snapshot()
    client = world.server.client
    for name, (bad, status, code) in cases.items():
        for result in (
            client.review(bad),
            client.accept(bad),
            client.correct(bad, shown_albums(world, link)),
            client.reject(bad, "no"),
        ):
            assert (result.status, result.body["error"]) == (status, code), name
    assert_unchanged(world, upload, before)


def test_a_validly_signed_link_to_an_unknown_upload_is_404(world: ReviewWorld) -> None:
    later = datetime.now(UTC) + timedelta(hours=1)
    link = world.server.link_for("f" * 32, later)
    assert world.server.client.review(link).status == 404
    assert world.server.client.accept(link).body["error"] == "task_not_found"


def test_an_expired_task_is_410_and_changes_nothing(world: ReviewWorld, upload: Upload) -> None:
    link = world.link(upload, datetime.now(UTC) + timedelta(days=1))
    before = world.snapshot()
    world.clock.offset = timedelta(hours=3)
    try:
        review = world.server.client.review(link)
        accepted = world.server.client.accept(link)
    finally:
        world.clock.offset = timedelta()
    assert (review.status, review.body["state"]) == (200, "expired")
    assert (accepted.status, accepted.body["error"]) == (410, "task_expired")
    assert_unchanged(world, upload, before)


# --- answering ------------------------------------------------------------------------------


def test_a_correction_reaches_both_patterns_once(world: ReviewWorld, upload: Upload) -> None:
    link = world.link(upload)
    result = world.server.client.correct_years(link, {3: 1970, 5: 1979})
    assert result.status == 200
    assert result.body["resumed"] == ["step-functions", "durable-functions"]
    sf_status, run = world.wait_for_end(upload)
    assert (sf_status, run.status) == ("SUCCEEDED", "SUCCEEDED")
    expected = [1959, 1969, 1970, 1977, 1979, 1984]
    assert world.stored_years(upload) == {SF: expected, LDF: expected}
    assert set(world.statuses(upload).values()) == {ExecutionStatus.COMPLETED}

    # The same link again: answered, 409, and nothing changes.
    before = world.snapshot()
    again = world.server.client.correct_years(link, {3: 1999})
    assert (again.status, again.body["error"]) == (409, "task_not_pending")
    assert world.server.client.accept(link).status == 409
    assert world.snapshot() == before
    review = world.server.client.review(link).body
    assert review["state"] == "answered"
    assert review["answer"]["corrections"][0]["year"] == 1970


def test_a_rejection_ends_both_executions_rejected(world: ReviewWorld, upload: Upload) -> None:
    result = world.server.client.reject(world.link(upload), "  not a record shelf  ")
    assert result.body["resumed"] == ["step-functions", "durable-functions"]
    world.wait_for_end(upload)
    for pattern in (SF, LDF):
        record = world.stack.repository(pattern).get_execution(upload.execution_id(pattern))
        assert (record.status, record.rejection_reason) == (
            ExecutionStatus.REJECTED,
            "not a record shelf",
        )


def test_concurrent_submissions_answer_once_with_one_submission(world: ReviewWorld) -> None:
    upload = world.upload()
    link = world.link(upload)
    albums = shown_albums(world, link)
    barrier = threading.Barrier(6)
    results: list[ApiResult] = []
    lock = threading.Lock()

    def submit(year: int) -> None:
        corrected = [{**a, "year": year if a["albumIndex"] == 1 else a["year"]} for a in albums]
        barrier.wait()
        result = world.server.client.correct(link, corrected)
        with lock:
            results.append(result)

    threads = [threading.Thread(target=submit, args=(1950 + n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    statuses = sorted(result.status for result in results)
    assert statuses == [200, 409, 409, 409, 409, 409]
    world.wait_for_end(upload)
    years = world.stored_years(upload)
    assert years[SF] == years[LDF]
    winner = next(r for r in results if r.status == 200)
    assert winner.body["resumed"] == ["step-functions", "durable-functions"]


def _bad_requests(albums: list[dict[str, Any]]) -> list[tuple[str, str, bytes, str, str]]:
    """(name, path, raw body, content type, offending field) of requests that must fail."""

    def body(value: object) -> bytes:
        return json.dumps(value).encode()

    def changed(**fields: object) -> list[dict[str, Any]]:
        return [{**albums[0], **fields}, *albums[1:]]

    json_type = "application/json"
    correct = "/api/review/correct"
    return [
        ("not JSON", correct, b"{albums:", json_type, "body"),
        ("too large", correct, body({"albums": albums, "pad": "x" * 20_000}), json_type, "body"),
        ("form post", correct, b"albums=1", "application/x-www-form-urlencoded", "body"),
        ("five albums", correct, body({"albums": albums[:5]}), json_type, "albums"),
        ("year as text", correct, body({"albums": changed(year="1970")}), json_type, "year"),
        ("year 1899", correct, body({"albums": changed(year=1899)}), json_type, "year"),
        (
            "next year",
            correct,
            body({"albums": changed(year=current_year() + 1)}),
            json_type,
            "year",
        ),
        ("empty name", correct, body({"albums": changed(albumName="  ")}), json_type, "albumName"),
        (
            "long artist",
            correct,
            body({"albums": changed(artist="a" * 201)}),
            json_type,
            "artist",
        ),
        ("index twice", correct, body({"albums": changed(albumIndex=2)}), json_type, "albumIndex"),
        ("extra field", correct, body({"albums": changed(price=1)}), json_type, "price"),
        ("unknown field", correct, body({"albums": albums, "x": 1}), json_type, "x"),
        ("empty reason", "/api/review/reject", body({"reason": " "}), json_type, "reason"),
        ("long reason", "/api/review/reject", body({"reason": "r" * 501}), json_type, "reason"),
        ("accept with data", "/api/review/accept", body({"albums": albums}), json_type, "albums"),
    ]


def test_every_bad_submission_is_400_with_its_field_and_changes_nothing(
    world: ReviewWorld, upload: Upload
) -> None:
    link = world.link(upload)
    albums = shown_albums(world, link)
    origin, token = link.split("/review#t=")
    before = world.snapshot()
    for name, path, raw, content_type, field in _bad_requests(albums):
        request = urllib.request.Request(  # noqa: S310 - loopback
            f"{origin}{path}",
            data=raw,
            method="POST",
            headers={"Authorization": f"Bearer {token}", "Content-Type": content_type},
        )
        with pytest.raises(urllib.error.HTTPError) as raised:
            urllib.request.urlopen(request, timeout=30)  # noqa: S310
        answer = json.loads(raised.value.read())
        assert raised.value.code == 400, name
        assert answer["error"] == "invalid_submission", name
        assert any(key.split(".")[-1] == field for key in answer["fields"]), (name, answer)
        assert answer["message"], name
    assert_unchanged(world, upload, before)
    # ... and the upload can still be answered afterwards.
    assert world.server.client.accept(link).status == 200
    world.wait_for_end(upload)


def test_album_names_are_returned_as_escaped_text(world: ReviewWorld) -> None:
    hostile = [dict(album) for album in ALBUMS]
    hostile[0]["albumName"] = "<script>alert('x')</script>"
    hostile[1]["artist"] = '"><img src=x onerror=alert(1)> & co'
    upload = world.upload(hostile)
    link = world.link(upload)
    origin, token = link.split("/review#t=")
    status, headers, raw = get(f"{origin}/api/review", {"Authorization": f"Bearer {token}"})
    assert status == 200
    assert headers["Content-Type"].startswith("application/json")
    text = raw.decode()
    assert "<" not in text
    assert ">" not in text
    assert "\\u003cscript\\u003e" in text
    body = json.loads(text)
    assert body["albums"][0]["albumName"] == "<script>alert('x')</script>"
    assert body["albums"][1]["artist"] == '"><img src=x onerror=alert(1)> & co'
    assert world.server.client.accept(link).status == 200
    world.wait_for_end(upload)
