"""The review service on a moto table with recording resumers: one answer, both patterns."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from albums.adapters.repository import AlbumRepository
from albums.domain import keys
from albums.domain.errors import (
    InvalidRecordError,
    InvalidSubmissionError,
    TaskExpiredError,
    TaskNotFoundError,
    TaskNotPendingError,
    TransientError,
)
from albums.domain.keys import UploadRef
from albums.domain.models import (
    Album,
    AlbumCorrection,
    ExecutionStatus,
    TaskStatus,
    WorkflowType,
    apply_corrections,
)
from albums.review import (
    RESUME_ATTEMPTS,
    AnswerKind,
    ReviewAnswer,
    ReviewService,
    ReviewState,
    WorkflowResumer,
)
from albums.workflow import REJECTION_ERROR, ValidationDecision
from localmode.stack import serialized_dynamodb
from tests.table import (
    FIXED_NOW,
    Clock,
    create_table,
    put_waiting_upload,
    sample_albums,
    scan_all,
)

SF = WorkflowType.STEP_FUNCTIONS
LDF = WorkflowType.DURABLE_FUNCTIONS
TABLE = "albums-review"
EXPIRES = FIXED_NOW + timedelta(hours=1)


class RecordingResumer:
    """Records every resume; raises the queued errors first."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Any]] = []
        self.errors: list[Exception] = []
        self._lock = threading.Lock()

    def _next_error(self) -> Exception | None:
        with self._lock:
            return self.errors.pop(0) if self.errors else None

    def succeed(self, callback_id: str, result: Mapping[str, Any]) -> None:
        error = self._next_error()
        if error is not None:
            raise error
        with self._lock:
            self.calls.append(("succeed", callback_id, dict(result)))

    def fail(self, callback_id: str, *, error: str, message: str) -> None:
        raised = self._next_error()
        if raised is not None:
            raise raised
        with self._lock:
            self.calls.append(("fail", callback_id, (error, message)))


@dataclasses.dataclass
class World:
    client: Any
    clock: Clock
    repositories: dict[WorkflowType, AlbumRepository]
    resumers: dict[WorkflowType, RecordingResumer]
    sleeps: list[float]
    service: ReviewService

    def snapshot(self) -> list[dict[str, Any]]:
        return scan_all(self.client, TABLE)

    def task(self, pattern: WorkflowType, upload: UploadRef) -> Any:
        repository = self.repositories[pattern]
        claim = repository.get_claim(upload.upload_id)
        assert claim is not None
        return repository.get_task(keys.task_id_for(pattern, claim.execution_id))


@pytest.fixture
def world() -> Iterator[World]:
    with mock_aws(), serialized_dynamodb():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_table(client, TABLE)
        clock = Clock()
        repositories = {p: AlbumRepository(client, TABLE, p, clock=clock) for p in (SF, LDF)}
        resumers = {SF: RecordingResumer(), LDF: RecordingResumer()}
        sleeps: list[float] = []
        service = ReviewService(
            repositories=repositories, resumers=resumers, clock=clock, sleep=sleeps.append
        )
        yield World(client, clock, repositories, resumers, sleeps, service)


def waiting(
    world: World,
    name: str = "crate",
    *,
    patterns: Sequence[WorkflowType] = (SF, LDF),
    albums: Mapping[WorkflowType, Sequence[Album]] | None = None,
    expires: Mapping[WorkflowType, datetime] | None = None,
) -> UploadRef:
    """An upload whose executions (one per pattern) wait for validation."""
    expiry = {pattern: (expires or {}).get(pattern, EXPIRES) for pattern in patterns}
    return put_waiting_upload(world.repositories, name, expiry, albums=albums)


# --- reading --------------------------------------------------------------------------------


def test_the_review_shows_both_patterns_waiting(world: World) -> None:
    upload = waiting(world, expires={SF: EXPIRES, LDF: EXPIRES - timedelta(minutes=5)})
    review = world.service.review(upload.upload_id)
    assert review.state is ReviewState.PENDING
    assert review.albums == sample_albums()
    assert review.photo == upload
    assert [side.workflow_type for side in review.patterns] == [SF, LDF]
    assert len(review.answerable) == 2
    assert review.expires_at == "2026-03-14T10:21:53.589Z"  # the earlier expiry
    body = review.to_dict()
    assert body["state"] == "pending"
    assert [p["status"] for p in body["patterns"]] == ["pending", "pending"]
    assert "token" not in repr(body)


def test_a_pattern_not_yet_at_validation_shows_as_not_waiting(world: World) -> None:
    upload = waiting(world, patterns=(SF,))
    review = world.service.review(upload.upload_id)
    assert review.state is ReviewState.PENDING
    assert review.to_dict()["patterns"][1] == {"workflowType": LDF.value, "status": "not_waiting"}


@pytest.mark.parametrize("upload_id", ["f" * 32, "../../etc/passwd", "", "F" * 32])
def test_an_unknown_upload_has_no_review(world: World, upload_id: str) -> None:
    waiting(world)
    with pytest.raises(TaskNotFoundError):
        world.service.review(upload_id)


def test_a_task_id_leads_to_its_upload(world: World) -> None:
    upload = waiting(world)
    for pattern in (SF, LDF):
        task_id = world.task(pattern, upload).task_id
        assert world.service.upload_of_task(task_id) == upload.upload_id
        assert world.service.review_task(task_id).upload_id == upload.upload_id
    for unknown in ("sf-000000000000000000000000", "xx-1", "no such id!", "sf-a/b"):
        with pytest.raises(TaskNotFoundError):
            world.service.upload_of_task(unknown)


# --- answering ------------------------------------------------------------------------------


def test_a_correction_completes_and_resumes_both_patterns(world: World) -> None:
    upload = waiting(world)
    answer = ReviewAnswer.correct([AlbumCorrection(3, 1976)])
    outcome = world.service.answer(upload.upload_id, answer)

    assert outcome.resumed == (SF, LDF)
    assert outcome.to_dict()["resumed"] == ["step-functions", "durable-functions"]
    expected = {"corrections": [{"albumIndex": 3, "year": 1976}], "answerStored": True}
    for pattern in (SF, LDF):
        task = world.task(pattern, upload)
        assert task.status is TaskStatus.COMPLETED
        assert task.corrections == (AlbumCorrection(3, 1976),)
        assert world.resumers[pattern].calls == [("succeed", task.resume_token, expected)]
    assert world.service.review(upload.upload_id).state is ReviewState.ANSWERED


def test_both_patterns_continue_with_identical_albums_when_their_detections_differ(
    world: World,
) -> None:
    albums = list(sample_albums())
    different = albums.copy()
    different[1] = dataclasses.replace(albums[1], year=1970, artist="Beatles")
    upload = waiting(world, albums={SF: albums, LDF: different})
    world.service.answer(upload.upload_id, ReviewAnswer.correct([AlbumCorrection(5, 1990)]))

    sf_result = world.resumers[SF].calls[0][2]
    ldf_result = world.resumers[LDF].calls[0][2]
    assert sf_result == {"corrections": [{"albumIndex": 5, "year": 1990}], "answerStored": True}
    # The durable pattern is told to take the shown (Step Functions') album 2 as well.
    assert ldf_result == {
        "corrections": [
            {"albumIndex": 2, "year": 1969, "artist": "The Beatles"},
            {"albumIndex": 5, "year": 1990},
        ],
        "answerStored": True,
    }


def test_accepting_as_detected_resumes_with_no_corrections(world: World) -> None:
    upload = waiting(world)
    outcome = world.service.answer(upload.upload_id, ReviewAnswer.accept())
    assert outcome.kind is AnswerKind.ACCEPT
    for pattern in (SF, LDF):
        assert world.resumers[pattern].calls[0][2] == {"corrections": [], "answerStored": True}
        assert world.task(pattern, upload).status is TaskStatus.COMPLETED


def test_a_rejection_fails_both_waits_with_the_reason(world: World) -> None:
    upload = waiting(world)
    outcome = world.service.answer(upload.upload_id, ReviewAnswer.reject("  not a shelf  "))
    assert outcome.resumed == (SF, LDF)
    for pattern in (SF, LDF):
        task = world.task(pattern, upload)
        assert (task.status, task.rejection_reason) == (TaskStatus.REJECTED, "not a shelf")
        assert world.resumers[pattern].calls == [
            ("fail", task.resume_token, (REJECTION_ERROR, "not a shelf"))
        ]


def test_a_second_answer_is_refused_and_changes_nothing(world: World) -> None:
    upload = waiting(world)
    world.service.answer(upload.upload_id, ReviewAnswer.accept())
    before = world.snapshot()
    for answer in (ReviewAnswer.accept(), ReviewAnswer.reject("late")):
        with pytest.raises(TaskNotPendingError, match="answered already"):
            world.service.answer(upload.upload_id, answer)
    assert world.snapshot() == before
    assert [len(world.resumers[p].calls) for p in (SF, LDF)] == [1, 1]


def test_concurrent_answers_complete_each_task_exactly_once(world: World) -> None:
    upload = waiting(world)
    barrier = threading.Barrier(8)
    outcomes: list[Any] = []
    refused: list[Exception] = []
    lock = threading.Lock()

    def answer(year: int) -> None:
        barrier.wait()
        try:
            result = world.service.answer(
                upload.upload_id, ReviewAnswer.correct([AlbumCorrection(1, year)])
            )
        except TaskNotPendingError as error:
            with lock:
                refused.append(error)
        else:
            with lock:
                outcomes.append(result)

    threads = [threading.Thread(target=answer, args=(1950 + n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert len(outcomes) == 1
    assert len(refused) == 7
    assert outcomes[0].resumed == (SF, LDF)
    resumed_with = [world.resumers[p].calls for p in (SF, LDF)]
    assert [len(calls) for calls in resumed_with] == [1, 1]
    # Both patterns got the winner's year, not a mix of two submissions.
    assert resumed_with[0][0][2] == resumed_with[1][0][2]
    assert world.task(SF, upload).corrections == world.task(LDF, upload).corrections


def test_an_expired_review_is_refused_and_changes_nothing(world: World) -> None:
    upload = waiting(world)
    before = world.snapshot()
    world.clock.advance(hours=1)
    assert world.service.review(upload.upload_id).state is ReviewState.EXPIRED
    with pytest.raises(TaskExpiredError):
        world.service.answer(upload.upload_id, ReviewAnswer.accept())
    assert world.snapshot() == before
    assert not world.resumers[SF].calls
    assert not world.resumers[LDF].calls


def test_only_the_tasks_still_open_are_answered(world: World) -> None:
    upload = waiting(world, expires={SF: EXPIRES, LDF: FIXED_NOW + timedelta(minutes=1)})
    world.clock.advance(minutes=2)
    outcome = world.service.answer(upload.upload_id, ReviewAnswer.accept())
    assert outcome.resumed == (SF,)
    assert world.task(LDF, upload).status is TaskStatus.PENDING  # its own timeout closes it


def test_timed_out_tasks_make_an_expired_review(world: World) -> None:
    upload = waiting(world)
    for pattern in (SF, LDF):
        world.repositories[pattern].complete_validation_task(
            world.task(pattern, upload).task_id, TaskStatus.TIMEOUT
        )
    assert world.service.review(upload.upload_id).state is ReviewState.EXPIRED
    with pytest.raises(TaskExpiredError):
        world.service.answer(upload.upload_id, ReviewAnswer.accept())


class Interfering:
    """A repository that lets something else answer a task just before this answer does."""

    def __init__(self, inner: AlbumRepository, status: TaskStatus) -> None:
        self.inner = inner
        self.status = status
        self.workflow_type = inner.workflow_type

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def complete_validation_task(self, task_id: str, status: TaskStatus, **kwargs: Any) -> Any:
        self.inner.complete_validation_task(task_id, self.status)
        return self.inner.complete_validation_task(task_id, status, **kwargs)


def with_repository(world: World, pattern: WorkflowType, repository: Any) -> ReviewService:
    repositories: dict[WorkflowType, Any] = {**world.repositories, pattern: repository}
    resumers: dict[WorkflowType, WorkflowResumer] = dict(world.resumers)
    return ReviewService(
        repositories=repositories, resumers=resumers, clock=world.clock, sleep=world.sleeps.append
    )


def test_a_timeout_racing_the_answer_leaves_the_other_pattern_answered(world: World) -> None:
    upload = waiting(world)
    service = with_repository(world, SF, Interfering(world.repositories[SF], TaskStatus.TIMEOUT))
    outcome = service.answer(upload.upload_id, ReviewAnswer.accept())
    assert outcome.resumed == (LDF,)
    sf_result = outcome.results[0]
    assert (sf_result.status, sf_result.resumed) == (TaskStatus.TIMEOUT, False)
    assert "timeout" in (sf_result.detail or "")


def test_a_reviewer_racing_the_answer_wins_and_this_answer_changes_nothing(
    world: World,
) -> None:
    upload = waiting(world)
    service = with_repository(world, SF, Interfering(world.repositories[SF], TaskStatus.REJECTED))
    with pytest.raises(TaskNotPendingError, match="answered already"):
        service.answer(upload.upload_id, ReviewAnswer.accept())
    assert world.task(LDF, upload).status is TaskStatus.PENDING
    assert not world.resumers[LDF].calls


def test_a_workflow_that_stopped_waiting_is_reported_not_resumed(world: World) -> None:
    upload = waiting(world)
    world.resumers[SF].errors.append(TaskNotPendingError("callback ab12cd34ef56... gone"))
    outcome = world.service.answer(upload.upload_id, ReviewAnswer.accept())
    assert outcome.resumed == (LDF,)
    detail = outcome.results[0].detail or ""
    assert "no longer waits" in detail
    assert "ab12cd34" not in detail  # nothing of a token reaches the reviewer
    assert world.task(SF, upload).status is TaskStatus.COMPLETED


def test_transient_resume_failures_are_retried(world: World) -> None:
    upload = waiting(world)
    world.resumers[SF].errors.extend([TransientError("throttled")] * 2)
    world.resumers[LDF].errors.extend([TransientError("throttled")] * RESUME_ATTEMPTS)
    outcome = world.service.answer(upload.upload_id, ReviewAnswer.accept())
    assert outcome.resumed == (SF,)
    assert len(world.resumers[SF].calls) == 1
    assert "transiently 3 times" in (outcome.results[1].detail or "")
    assert world.sleeps == [0.2, 0.4, 0.2, 0.4]


def went_on(world: World, upload: UploadRef, *patterns: WorkflowType) -> None:
    """What a resumed workflow does next: its Apply step sets the execution running."""
    for pattern in patterns:
        task = world.task(pattern, upload)
        world.repositories[pattern].apply_validated_data(
            task.execution_id, apply_corrections(task.albums, task.corrections)
        )


class AccessDeniedError(Exception):
    """Shaped like botocore's ``ClientError`` for a missing permission."""

    def __init__(self, token: str) -> None:
        super().__init__(f"not authorized to answer {token}")
        self.response = {"Error": {"Code": "AccessDeniedException", "Message": str(self)}}


def test_a_resume_that_fails_for_good_still_answers_the_other_pattern(world: World) -> None:
    """A permission or network failure of one pattern never leaves the other unanswered."""
    upload = waiting(world)
    world.resumers[SF].errors.append(AccessDeniedError("token-sf-crate"))
    outcome = world.service.answer(
        upload.upload_id, ReviewAnswer.correct([AlbumCorrection(2, 1968)])
    )
    assert outcome.resumed == (LDF,)
    sf_result = outcome.results[0]
    assert (sf_result.status, sf_result.resumed) == (TaskStatus.COMPLETED, False)
    assert sf_result.awaits_redelivery is True
    assert sf_result.to_dict()["awaitsRedelivery"] is True
    assert "AccessDeniedException" in (sf_result.detail or "")
    assert "albums redrive" in (sf_result.detail or "")
    assert "token" not in (sf_result.detail or "")  # the service's message is not passed on
    assert world.sleeps == []  # not retried: it would fail the same way
    # The answer is stored on both tasks; the durable workflow got it.
    assert world.task(SF, upload).status is TaskStatus.COMPLETED
    assert [call[0] for call in world.resumers[LDF].calls] == ["succeed"]


def test_an_answer_that_did_not_arrive_is_found_and_sent_again_once(world: World) -> None:
    upload = waiting(world)
    other = waiting(world, "other")  # still pending: nothing to send
    world.resumers[SF].errors.extend([TransientError("throttled")] * RESUME_ATTEMPTS)
    corrections = [AlbumCorrection(2, 1968)]
    first = world.service.answer(upload.upload_id, ReviewAnswer.correct(corrections))
    assert first.resumed == (LDF,)
    assert first.results[0].awaits_redelivery is True
    went_on(world, upload, LDF)

    stuck = list(world.service.undelivered())
    assert [task.task_id for task in stuck] == [world.task(SF, upload).task_id]
    result = world.service.redeliver(stuck[0])
    assert result.resumed is True
    # The stored answer, exactly as the reviewer gave it, reached the Step Functions wait.
    decision = ValidationDecision(tuple(corrections), answer_stored=True).to_dict()
    assert [call[2] for call in world.resumers[SF].calls] == [decision]
    assert [call[2] for call in world.resumers[LDF].calls] == [decision]
    # A second send reaches a wait that no longer exists: reported, nothing changed.
    world.resumers[SF].errors.append(TaskNotPendingError("used"))
    again = world.service.redeliver(stuck[0])
    assert (again.resumed, again.awaits_redelivery) == (False, False)
    assert world.task(SF, other).status is TaskStatus.PENDING


def test_a_stored_rejection_is_sent_again_as_a_rejection(world: World) -> None:
    upload = waiting(world)
    world.resumers[LDF].errors.append(AccessDeniedError("x"))
    world.service.answer(upload.upload_id, ReviewAnswer.reject("wrong shelf"))
    world.repositories[SF].complete_execution(
        world.task(SF, upload).execution_id,
        ExecutionStatus.REJECTED,
        rejection_reason="wrong shelf",
    )
    (stuck,) = world.service.undelivered()
    assert stuck.workflow_type is LDF
    assert world.service.redeliver(stuck).resumed is True
    assert world.resumers[LDF].calls == [
        ("fail", stuck.resume_token, (REJECTION_ERROR, "wrong shelf"))
    ]


def test_answers_whose_workflow_went_on_or_whose_wait_expired_are_not_undelivered(
    world: World,
) -> None:
    resumed = waiting(world, "resumed")
    world.service.answer(resumed.upload_id, ReviewAnswer.accept())
    went_on(world, resumed, SF, LDF)
    expired = waiting(world, "expired")
    world.resumers[SF].errors.append(AccessDeniedError("x"))
    world.service.answer(expired.upload_id, ReviewAnswer.accept())
    went_on(world, expired, LDF)
    assert [t.upload_id for t in world.service.undelivered()] == [expired.upload_id]
    world.clock.advance(hours=2)  # past the wait: the workflow went on with the original data
    assert list(world.service.undelivered()) == []


def test_only_a_stored_answer_is_ever_sent_again(world: World) -> None:
    upload = waiting(world)
    pending = world.task(SF, upload)
    with pytest.raises(TaskNotPendingError, match="holds no reviewer's answer"):
        world.service.redeliver(pending)
    assert world.resumers[SF].calls == []


class DeniedOnce:
    """A repository whose next task answer fails as a missing DynamoDB permission would."""

    def __init__(self, inner: AlbumRepository) -> None:
        self.inner = inner
        self.workflow_type = inner.workflow_type
        self.denied = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def complete_validation_task(self, task_id: str, status: TaskStatus, **kwargs: Any) -> Any:
        if not self.denied:
            self.denied = True
            raise AccessDeniedError("UpdateItem")
        return self.inner.complete_validation_task(task_id, status, **kwargs)


def half_answer(world: World, upload: UploadRef, answer: ReviewAnswer) -> ReviewService:
    """Answer ``upload`` with the durable task's write failing: only Step Functions took it."""
    service = with_repository(world, LDF, DeniedOnce(world.repositories[LDF]))
    with pytest.raises(AccessDeniedError):
        service.answer(upload.upload_id, answer)
    assert world.task(SF, upload).status is not TaskStatus.PENDING
    assert world.task(LDF, upload).status is TaskStatus.PENDING
    # A new submission is refused: the upload counts as answered.
    with pytest.raises(TaskNotPendingError):
        service.answer(upload.upload_id, ReviewAnswer.accept())
    return service


def test_a_half_stored_answer_is_found_and_finished_with_the_same_albums(world: World) -> None:
    detected = {SF: sample_albums(), LDF: sample_albums()}
    # The durable detection read album 3's year differently from Step Functions'.
    detected[LDF] = tuple(
        dataclasses.replace(a, year=1999) if a.index == 3 else a for a in detected[LDF]
    )
    upload = waiting(world, albums=detected)
    waiting(world, "untouched")  # pending, nobody answered: not half answered
    service = half_answer(world, upload, ReviewAnswer.correct([AlbumCorrection(2, 1968)]))

    assert list(service.half_answered()) == [upload.upload_id]
    outcome = service.finish(upload.upload_id)
    assert outcome.resumed == (LDF,)
    settled = {
        pattern: [v.album for v in apply_corrections(t.albums, t.corrections)]
        for pattern in (SF, LDF)
        if (t := world.task(pattern, upload))
    }
    assert settled[SF] == settled[LDF]  # both continue with the reviewer's albums
    assert list(service.half_answered()) == []
    with pytest.raises(TaskNotPendingError, match="no task"):
        service.finish(upload.upload_id)


def test_a_half_stored_rejection_is_finished_as_the_same_rejection(world: World) -> None:
    upload = waiting(world)
    service = half_answer(world, upload, ReviewAnswer.reject("not my shelf"))
    service.finish(upload.upload_id)
    task = world.task(LDF, upload)
    assert (task.status, task.rejection_reason) == (TaskStatus.REJECTED, "not my shelf")
    assert world.resumers[LDF].calls == [
        ("fail", task.resume_token, (REJECTION_ERROR, "not my shelf"))
    ]


def test_an_unanswered_upload_is_not_finished(world: World) -> None:
    upload = waiting(world)
    before = world.snapshot()
    with pytest.raises(TaskNotPendingError, match="no answer yet"):
        world.service.finish(upload.upload_id)
    assert world.snapshot() == before


def test_a_half_stored_answer_past_its_wait_is_left(world: World) -> None:
    upload = waiting(world)
    service = half_answer(world, upload, ReviewAnswer.accept())
    world.clock.advance(hours=2)
    assert list(service.half_answered()) == []
    with pytest.raises(TaskNotPendingError, match="no task"):
        service.finish(upload.upload_id)


def test_a_task_id_answers_its_whole_upload(world: World) -> None:
    upload = waiting(world)
    task_id = world.task(LDF, upload).task_id
    outcome = world.service.answer_task(task_id, ReviewAnswer.correct([AlbumCorrection(2, 1968)]))
    assert outcome.resumed == (SF, LDF)


def test_a_year_past_the_clock_year_is_refused(world: World) -> None:
    upload = waiting(world)
    world.clock.now = world.clock.now.replace(year=2025)
    before = world.snapshot()
    with pytest.raises(InvalidSubmissionError, match=r"albums\[0\]\.year"):
        world.service.answer(upload.upload_id, ReviewAnswer.correct([AlbumCorrection(1, 2026)]))
    assert world.snapshot() == before


# --- the input rules ------------------------------------------------------------------------


def submitted(**changes: Any) -> list[dict[str, Any]]:
    """The six shown albums as the page submits them, with changes by position."""
    albums = [album.to_dict() for album in sample_albums()]
    for name, value in changes.items():
        position, field = name.split("__")
        if value is ...:
            albums[int(position[1:])].pop(field)
        else:
            albums[int(position[1:])][field] = value
    return albums


@pytest.mark.parametrize(
    ("kind", "payload", "fields"),
    [
        ("correct", [], {"body"}),
        ("correct", "albums", {"body"}),
        ("correct", {"albums": submitted(), "extra": 1}, {"extra"}),
        ("correct", {}, {"albums"}),
        ("correct", {"albums": {}}, {"albums"}),
        ("correct", {"albums": submitted()[:5]}, {"albums"}),
        ("correct", {"albums": [*submitted(), submitted()[0]]}, {"albums"}),
        ("correct", {"albums": [1, *submitted()[1:]]}, {"albums[0]"}),
        ("correct", {"albums": submitted(p0__year=...)}, {"albums[0].year"}),
        ("correct", {"albums": submitted(p0__year="1970")}, {"albums[0].year"}),
        ("correct", {"albums": submitted(p0__year=1970.0)}, {"albums[0].year"}),
        ("correct", {"albums": submitted(p0__year=True)}, {"albums[0].year"}),
        ("correct", {"albums": submitted(p0__year=1899)}, {"albums[0].year"}),
        ("correct", {"albums": submitted(p0__year=2027)}, {"albums[0].year"}),
        ("correct", {"albums": submitted(p2__albumName="   ")}, {"albums[2].albumName"}),
        ("correct", {"albums": submitted(p2__albumName="x" * 201)}, {"albums[2].albumName"}),
        ("correct", {"albums": submitted(p2__artist="a\u0000b")}, {"albums[2].artist"}),
        ("correct", {"albums": submitted(p2__artist=None)}, {"albums[2].artist"}),
        ("correct", {"albums": submitted(p1__albumIndex=1)}, {"albums[1].albumIndex"}),
        ("correct", {"albums": submitted(p1__albumIndex=7)}, {"albums[1].albumIndex"}),
        ("correct", {"albums": submitted(p1__albumIndex=...)}, {"albums[1].albumIndex"}),
        ("correct", {"albums": submitted(p1__extra="x")}, {"albums[1].extra"}),
        (
            "correct",
            {"albums": submitted(p0__year=1800, p5__artist="")},
            {"albums[0].year", "albums[5].artist"},
        ),
        ("reject", {}, {"reason"}),
        ("reject", {"reason": "  "}, {"reason"}),
        ("reject", {"reason": "r" * 501}, {"reason"}),
        ("reject", {"reason": 5}, {"reason"}),
        ("reject", {"reason": "ok", "albums": []}, {"albums"}),
        ("accept", {"albums": submitted()}, {"albums"}),
        ("accept", [], {"body"}),
        ("approve", {}, {"action"}),
    ],
)
def test_every_bad_submission_names_its_fields_and_changes_nothing(
    world: World, kind: str, payload: object, fields: set[str]
) -> None:
    upload = waiting(world)
    world.clock.now = world.clock.now.replace(year=2026)
    before = world.snapshot()
    with pytest.raises(InvalidSubmissionError) as raised:
        world.service.submit(upload.upload_id, kind, payload)
    assert set(raised.value.fields) == fields
    assert world.snapshot() == before
    assert not world.resumers[SF].calls
    assert not world.resumers[LDF].calls


def test_a_good_submission_is_trimmed_and_only_changes_count(world: World) -> None:
    upload = waiting(world)
    albums = submitted(p2__albumName="  Rumours  ", p3__year=1983, p4__artist=" Nirvana ")
    outcome = world.service.submit(upload.upload_id, "correct", {"albums": albums})
    assert outcome.resumed == (SF, LDF)
    assert world.task(SF, upload).corrections == (AlbumCorrection(4, 1983),)


def test_submit_reports_an_answered_upload_before_judging_the_body(world: World) -> None:
    upload = waiting(world)
    world.service.submit(upload.upload_id, "accept", None)
    with pytest.raises(TaskNotPendingError):
        world.service.submit(upload.upload_id, "correct", {"albums": "garbage"})


def test_answers_are_checked_when_built() -> None:
    with pytest.raises(InvalidSubmissionError, match="twice"):
        ReviewAnswer.correct([AlbumCorrection(1, 1970), AlbumCorrection(1, 1971)])
    with pytest.raises(InvalidSubmissionError, match="reason"):
        ReviewAnswer(AnswerKind.ACCEPT, reason="why")
    with pytest.raises(InvalidSubmissionError, match="only a correction"):
        ReviewAnswer(AnswerKind.REJECT, (AlbumCorrection(1, 1970),), reason="r")


def test_the_service_needs_matching_repositories_and_resumers(world: World) -> None:
    with pytest.raises(InvalidRecordError, match="not of it"):
        ReviewService(
            repositories={LDF: world.repositories[SF]}, resumers=world.resumers, clock=world.clock
        )
    with pytest.raises(InvalidRecordError, match="no resumer"):
        ReviewService(
            repositories=world.repositories, resumers={SF: world.resumers[SF]}, clock=world.clock
        )
    with pytest.raises(InvalidRecordError, match="at least one"):
        ReviewService(repositories={}, resumers={}, clock=world.clock)


def test_one_pattern_alone_can_be_reviewed(world: World) -> None:
    upload = waiting(world)
    service = ReviewService(
        repositories={LDF: world.repositories[LDF]},
        resumers={LDF: world.resumers[LDF]},
        clock=world.clock,
    )
    assert service.answer(upload.upload_id, ReviewAnswer.accept()).resumed == (LDF,)
    with pytest.raises(TaskNotFoundError, match="not served here"):
        service.upload_of_task(world.task(SF, upload).task_id)
