"""The review service: one reviewer's answer, applied to every pending task of an upload.

Both patterns process every upload, so one photo has up to two validation tasks: the
Step Functions execution's and the durable execution's. A reviewer answers the *upload*
once (in the validation page, the JSON API or ``albums validate``) and
:class:`ReviewService` carries that answer to every task still waiting, so both patterns
continue with identical validated albums.

Public interface
----------------
- :class:`ReviewService` — built with one repository and one resumer per pattern and a
  clock (all explicit, nothing read from the environment):

  - :meth:`~ReviewService.review` / :meth:`~ReviewService.review_task`: the
    :class:`UploadReview` of an upload (or of the upload of a task id, as ``albums tasks``
    lists them): its :class:`ReviewState`, the albums to show, the photo and each
    pattern's task;
  - :meth:`~ReviewService.answer` / :meth:`~ReviewService.answer_task`: apply a
    :class:`ReviewAnswer` (accept, correct, reject) and return a :class:`ReviewOutcome`
    saying which patterns were resumed;
  - :meth:`~ReviewService.submit`: what the HTTP API calls — parse a JSON body with
    :func:`parse_submission` against the albums shown, then :meth:`~ReviewService.answer`;
  - :meth:`~ReviewService.undelivered` / :meth:`~ReviewService.redeliver`: answers that
    are stored but never reached their workflow, and sending them again; and
    :meth:`~ReviewService.half_answered` / :meth:`~ReviewService.finish`: uploads whose
    answer was stored for one pattern only, and answering the rest with it (both for
    ``albums redrive``).

- :class:`ReviewAnswer` — ``ReviewAnswer.accept()``, ``ReviewAnswer.correct(corrections)``
  (corrections of the shown albums by index, :class:`~albums.domain.models.AlbumCorrection`)
  or ``ReviewAnswer.reject(reason)``.
- :class:`WorkflowResumer` — the resume side, one per pattern: Step Functions
  (:class:`albums.adapters.task_tokens.TaskTokenResumer`, ``SendTaskSuccess``/``Failure``
  with the stored task token) and durable functions
  (:class:`albums.adapters.durable_callbacks.LambdaCallbackResumer`, or local mode's
  runner resumer, with the stored callback id). Tokens never leave this module's callers.

Errors (all typed, see :mod:`albums.domain.errors`): :class:`TaskNotFoundError` (no task
for the upload: HTTP 404), :class:`TaskNotPendingError` (answered already: 409),
:class:`TaskExpiredError` (its time is up: 410), :class:`InvalidSubmissionError` (the
input rules, field by field: 400). None of them leaves anything changed.

Exactly once
------------
Each task moves out of ``pending`` once, by a conditional update. Tasks are always
answered in the same pattern order, and once any task of an upload has a reviewer's
answer the upload counts as answered, so of two submissions racing for one upload the
first to complete the first task answers every task and the other gets a 409 having
changed nothing. A task is completed *before* its workflow is resumed (the completed task
is the lock); a resume that fails transiently is retried, and a workflow that no longer
waits (its timeout won the race) is reported as not resumed.

No lost answer
--------------
A resume that still fails (throttled three times, a missing permission, the network) is
reported as not resumed for that pattern and never stops the other patterns from being
answered and resumed. The answer stays on the completed task, and the workflow keeps
waiting: :meth:`ReviewService.undelivered` finds such tasks (answered, their execution
still ``awaiting_validation``, their wait not expired) and :meth:`ReviewService.redeliver`
sends the stored answer again. Sending twice is harmless: each service accepts one answer
per wait and refuses the next as "no longer waits".

Storing the answer can fail too, after the first pattern's task took it (a DynamoDB error
on the second): the upload counts as answered, so a new submission gets 409.
:meth:`ReviewService.half_answered` finds such uploads and :meth:`ReviewService.finish`
answers their pending tasks with the stored answer, so both patterns still continue with
the same albums.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Final, Protocol

from albums.adapters.durable_callbacks import CallbackResumer
from albums.domain import keys
from albums.domain.errors import (
    ExecutionNotFoundError,
    InvalidAlbumError,
    InvalidRecordError,
    InvalidSubmissionError,
    TaskExpiredError,
    TaskNotFoundError,
    TaskNotPendingError,
    TransientError,
)
from albums.domain.keys import UploadRef
from albums.domain.models import (
    ALBUMS_PER_IMAGE,
    MAX_REASON_LENGTH,
    MAX_TEXT_LENGTH,
    Album,
    AlbumCorrection,
    ExecutionStatus,
    TaskStatus,
    WorkflowType,
    apply_corrections,
    check_album_set,
    check_year,
    clean_text,
)
from albums.domain.records import (
    ExecutionRecord,
    UploadClaim,
    ValidationTask,
    check_upload_id,
    parse_timestamp,
    workflow_type_of_task,
)
from albums.observability import get_logger
from albums.workflow import REJECTION_ERROR, ValidationDecision

LOGGER = get_logger()

#: The order tasks are answered in (every submitter uses the same: see "Exactly once").
PATTERN_ORDER: Final = (WorkflowType.STEP_FUNCTIONS, WorkflowType.DURABLE_FUNCTIONS)
#: Attempts at resuming one workflow when the service fails transiently.
RESUME_ATTEMPTS: Final = 3
#: First pause between resume attempts (doubled each time), seconds.
RESUME_BACKOFF_S: Final = 0.2
#: Album fields a correction may carry; anything else is refused.
ALBUM_FIELDS: Final = frozenset({"albumIndex", "albumName", "artist", "year"})


# --- ports ---------------------------------------------------------------------------------


class ReviewRepository(Protocol):
    """What the service reads and writes of one pattern (``AlbumRepository`` fits)."""

    @property
    def workflow_type(self) -> WorkflowType:
        """The pattern whose items this repository holds."""

    def get_claim(self, upload_id: str) -> UploadClaim | None:
        """Return the claim on an upload (which execution processes it), or ``None``."""

    def get_execution(self, execution_id: str) -> ExecutionRecord:
        """Return an execution record; raise ``ExecutionNotFoundError`` when missing."""

    def get_task(self, task_id: str) -> ValidationTask:
        """Return a validation task; raise ``TaskNotFoundError`` when missing."""

    def complete_validation_task(
        self,
        task_id: str,
        status: TaskStatus,
        *,
        corrections: Sequence[AlbumCorrection] = (),
        rejection_reason: str | None = None,
    ) -> ValidationTask:
        """Answer a pending task (conditional); raises ``TaskNotPendingError``."""

    def iter_tasks(
        self, status: TaskStatus, *, expiring_after: datetime | None = None
    ) -> Iterator[ValidationTask]:
        """Yield the pattern's tasks in one status, expiring after a moment if given."""


#: Resumes one pattern's paused workflow with the task's stored resume token. The durable
#: callback interface serves both patterns: a Step Functions task token is answered the
#: same way (:class:`albums.adapters.task_tokens.TaskTokenResumer`).
WorkflowResumer = CallbackResumer


# --- values --------------------------------------------------------------------------------


class ReviewState(StrEnum):
    """Where an upload's review stands, as the page shows it."""

    #: At least one task waits and has not expired, and nobody has answered yet.
    PENDING = "pending"
    #: A reviewer answered (accepted, corrected or rejected): a new answer gets 409.
    ANSWERED = "answered"
    #: No task can be answered any more and none was: the workflows kept the original data.
    EXPIRED = "expired"


class AnswerKind(StrEnum):
    """What a reviewer decided."""

    ACCEPT = "accept"
    CORRECT = "correct"
    REJECT = "reject"


@dataclass(frozen=True, slots=True)
class ReviewAnswer:
    """A reviewer's answer for one upload.

    Use the constructors :meth:`accept`, :meth:`correct` and :meth:`reject`.
    ``corrections`` apply to the albums the review shows (:attr:`UploadReview.albums`),
    by index; an album without a correction is accepted as shown.
    """

    kind: AnswerKind
    corrections: tuple[AlbumCorrection, ...] = ()
    reason: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", AnswerKind(self.kind))
        if not all(isinstance(c, AlbumCorrection) for c in self.corrections):
            raise InvalidSubmissionError({"albums": "corrections must be AlbumCorrection values"})
        indices = [c.index for c in self.corrections]
        if len(set(indices)) != len(indices):
            raise InvalidSubmissionError({"albums": "an album is corrected twice"})
        if self.corrections and self.kind is not AnswerKind.CORRECT:
            raise InvalidSubmissionError({"albums": "only a correction carries albums"})
        if self.kind is AnswerKind.REJECT:
            object.__setattr__(self, "reason", _reason(self.reason))
        elif self.reason is not None:
            raise InvalidSubmissionError({"reason": "only a rejection carries a reason"})

    @classmethod
    def accept(cls) -> ReviewAnswer:
        """Accept the shown albums as they are."""
        return cls(AnswerKind.ACCEPT)

    @classmethod
    def correct(cls, corrections: Sequence[AlbumCorrection]) -> ReviewAnswer:
        """Accept the shown albums with these corrections (by album index)."""
        return cls(AnswerKind.CORRECT, tuple(corrections))

    @classmethod
    def reject(cls, reason: str) -> ReviewAnswer:
        """Reject the albums; the executions end ``rejected`` with ``reason``."""
        return cls(AnswerKind.REJECT, reason=reason)


@dataclass(frozen=True, slots=True)
class PatternTask:
    """One pattern's side of an upload's review, as the page shows it (no token)."""

    workflow_type: WorkflowType
    task: ValidationTask | None
    answerable: bool

    def to_dict(self) -> dict[str, Any]:
        """Return the side as plain JSON; ``status`` is ``not_waiting`` without a task."""
        if self.task is None:
            return {"workflowType": str(self.workflow_type), "status": "not_waiting"}
        return {
            "workflowType": str(self.workflow_type),
            "taskId": self.task.task_id,
            "executionId": self.task.execution_id,
            "status": str(self.task.status),
            "answerable": self.answerable,
            "expiresAt": self.task.expires_at,
            "answeredAt": self.task.answered_at,
        }


@dataclass(frozen=True, slots=True)
class UploadReview:
    """An upload's review: its state, the albums to show, the photo and both patterns.

    ``albums`` are those of the first answerable task in :data:`PATTERN_ORDER` (else of
    the first task): the albums an answer's corrections refer to. ``expires_at`` is the
    earliest expiry of the answerable tasks, or the latest expiry when none is.
    """

    upload_id: str
    state: ReviewState
    albums: tuple[Album, ...]
    photo: UploadRef | None
    expires_at: str
    patterns: tuple[PatternTask, ...]

    @property
    def tasks(self) -> tuple[ValidationTask, ...]:
        """Every task of the upload, in pattern order."""
        return tuple(side.task for side in self.patterns if side.task is not None)

    @property
    def answerable(self) -> tuple[ValidationTask, ...]:
        """The tasks an answer would complete now, in pattern order."""
        return tuple(side.task for side in self.patterns if side.answerable and side.task)

    def to_dict(self) -> dict[str, Any]:
        """Return the review as the API's JSON (no resume token, no bucket or key)."""
        answered = next((task for task in self.tasks if task.status in REVIEWER_STATUSES), None)
        return {
            "uploadId": self.upload_id,
            "state": str(self.state),
            "expiresAt": self.expires_at,
            "albums": [album.to_dict() for album in self.albums],
            "patterns": [side.to_dict() for side in self.patterns],
            "answer": None if answered is None else _answer_view(answered),
        }


@dataclass(frozen=True, slots=True)
class PatternResult:
    """What an answer did to one pattern's task."""

    workflow_type: WorkflowType
    task_id: str
    execution_id: str
    status: TaskStatus
    resumed: bool
    detail: str | None = None
    #: Not resumed, yet the workflow may still wait: the stored answer can be sent again.
    awaits_redelivery: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Return the result as plain JSON."""
        return {
            "workflowType": str(self.workflow_type),
            "taskId": self.task_id,
            "executionId": self.execution_id,
            "status": str(self.status),
            "resumed": self.resumed,
            "detail": self.detail,
            "awaitsRedelivery": self.awaits_redelivery,
        }


@dataclass(frozen=True, slots=True)
class ReviewOutcome:
    """What an answer did: one :class:`PatternResult` per task it touched."""

    upload_id: str
    kind: AnswerKind
    results: tuple[PatternResult, ...]

    @property
    def resumed(self) -> tuple[WorkflowType, ...]:
        """The patterns whose workflow was resumed by this answer."""
        return tuple(result.workflow_type for result in self.results if result.resumed)

    def to_dict(self) -> dict[str, Any]:
        """Return the outcome as the API's JSON."""
        return {
            "uploadId": self.upload_id,
            "answer": str(self.kind),
            "resumed": [str(pattern) for pattern in self.resumed],
            "patterns": [result.to_dict() for result in self.results],
        }


#: Task statuses that hold a reviewer's answer (accepted or corrected, or rejected).
REVIEWER_STATUSES: Final = frozenset({TaskStatus.COMPLETED, TaskStatus.REJECTED})


def _answer_view(task: ValidationTask) -> dict[str, Any]:
    return {
        "status": str(task.status),
        "answeredAt": task.answered_at,
        "corrections": [
            {"albumIndex": c.index, "year": c.year, "albumName": c.album_name, "artist": c.artist}
            for c in task.corrections
        ],
        "reason": task.rejection_reason,
    }


# --- input rules ---------------------------------------------------------------------------


def _reason(value: object) -> str:
    try:
        return clean_text(value, "reason", max_length=MAX_REASON_LENGTH)
    except InvalidAlbumError as error:
        raise InvalidSubmissionError({"reason": _problem(error, "reason")}) from None


def _problem(error: InvalidAlbumError, field_name: str) -> str:
    """Return a domain check's message without its leading field name (the key says it)."""
    message = error.message
    return message[len(field_name) + 1 :] if message.startswith(f"{field_name} ") else message


def _expect_object(payload: object, allowed: frozenset[str]) -> Mapping[str, Any]:
    if payload is None:
        return {}
    if not isinstance(payload, Mapping):
        raise InvalidSubmissionError({"body": "must be a JSON object"})
    unknown = sorted(str(name) for name in payload if name not in allowed)
    if unknown:
        raise InvalidSubmissionError(dict.fromkeys(unknown, "is not a known field"))
    return payload


def parse_submission(
    kind: AnswerKind | str,
    payload: object,
    shown: Sequence[Album],
    *,
    max_year: int,
) -> ReviewAnswer:
    """Read an API submission into a :class:`ReviewAnswer`, checking every input rule.

    Parameters
    ----------
    kind
        ``accept`` (body ``{}``), ``correct`` (body ``{"albums": [six albums]}``, each
        ``{"albumIndex", "albumName", "artist", "year"}``, exactly the shown indices once
        each) or ``reject`` (body ``{"reason": "..."}``).
    payload
        The parsed JSON body (``None`` for an empty body).
    shown
        The albums the reviewer saw; a correction is every album that differs from them.
    max_year
        The newest valid year (the current year, from the service's clock).

    Raises
    ------
    InvalidSubmissionError
        With every offending field (``albums[2].year``, ``reason``, ``body``...): years must
        be integers in 1900..``max_year``, texts trimmed, non-empty, at most 200 characters
        (500 for a reason) and without control characters; unknown fields are refused.
    """
    try:
        answer_kind = AnswerKind(kind)
    except ValueError:
        raise InvalidSubmissionError(
            {"action": f"must be one of {', '.join(AnswerKind)}"}
        ) from None
    if answer_kind is AnswerKind.ACCEPT:
        _expect_object(payload, frozenset())
        return ReviewAnswer.accept()
    if answer_kind is AnswerKind.REJECT:
        body = _expect_object(payload, frozenset({"reason"}))
        if "reason" not in body:
            raise InvalidSubmissionError({"reason": "is required"})
        return ReviewAnswer.reject(body["reason"])
    body = _expect_object(payload, frozenset({"albums"}))
    submitted = _submitted_albums(body.get("albums"), max_year=max_year)
    return ReviewAnswer.correct(corrections_between(shown, submitted))


def _submitted_albums(raw: object, *, max_year: int) -> tuple[Album, ...]:
    if not isinstance(raw, list):
        raise InvalidSubmissionError({"albums": f"must be a list of {ALBUMS_PER_IMAGE} albums"})
    if len(raw) != ALBUMS_PER_IMAGE:
        raise InvalidSubmissionError(
            {"albums": f"must hold exactly {ALBUMS_PER_IMAGE} albums, got {len(raw)}"}
        )
    problems: dict[str, str] = {}
    albums: list[Album] = []
    seen: set[int] = set()
    for position, entry in enumerate(raw):
        where = f"albums[{position}]"
        album = _submitted_album(entry, where, problems, max_year=max_year)
        if album is None:
            continue
        if album.index in seen:
            problems[f"{where}.albumIndex"] = f"album {album.index} appears twice"
            continue
        seen.add(album.index)
        albums.append(album)
    if problems:
        raise InvalidSubmissionError(problems)
    return check_album_set(albums)


def _submitted_album(
    entry: object, where: str, problems: dict[str, str], *, max_year: int
) -> Album | None:
    """Check one submitted album; record every problem under its field path."""
    if not isinstance(entry, Mapping):
        problems[where] = "must be an object"
        return None
    for name in sorted(str(key) for key in entry if key not in ALBUM_FIELDS):
        problems[f"{where}.{name}"] = "is not a known field"
    values: dict[str, Any] = {}
    for name in sorted(ALBUM_FIELDS - set(entry)):
        problems[f"{where}.{name}"] = "is required"
    index = entry.get("albumIndex")
    if "albumIndex" in entry:
        if (
            isinstance(index, bool)
            or not isinstance(index, int)
            or not 1 <= index <= ALBUMS_PER_IMAGE
        ):
            problems[f"{where}.albumIndex"] = f"must be an integer in 1..{ALBUMS_PER_IMAGE}"
        else:
            values["index"] = index
    if "year" in entry:
        try:
            values["year"] = check_year(entry["year"], max_year=max_year)
        except InvalidAlbumError as error:
            problems[f"{where}.year"] = _problem(error, "year")
    for name, attribute in (("albumName", "album_name"), ("artist", "artist")):
        if name in entry:
            try:
                values[attribute] = clean_text(entry[name], name, max_length=MAX_TEXT_LENGTH)
            except InvalidAlbumError as error:
                problems[f"{where}.{name}"] = _problem(error, name)
    if len(values) != len(ALBUM_FIELDS) or any(key.startswith(where) for key in problems):
        return None
    return Album(**values)


def corrections_between(
    shown: Sequence[Album], wanted: Sequence[Album]
) -> tuple[AlbumCorrection, ...]:
    """Return the corrections that turn ``shown`` into ``wanted`` (changed albums only).

    A correction always carries the year, and a name or artist only when it changed.
    """
    before = {album.index: album for album in check_album_set(list(shown))}
    corrections = []
    for album in check_album_set(list(wanted)):
        old = before[album.index]
        if album == old:
            continue
        corrections.append(
            AlbumCorrection(
                index=album.index,
                year=album.year,
                album_name=album.album_name if album.album_name != old.album_name else None,
                artist=album.artist if album.artist != old.artist else None,
            )
        )
    return tuple(corrections)


# --- the service ---------------------------------------------------------------------------


class ReviewService:
    """Find, show and answer the validation tasks of an upload in both patterns.

    Parameters
    ----------
    repositories
        One repository per pattern, keyed by its :class:`WorkflowType` (a pattern left
        out is not reviewed: e.g. a deployment of one pattern only).
    resumers
        One resumer per pattern in ``repositories``: Step Functions task tokens, durable
        callbacks.
    clock
        Returns the current aware time: task expiry and the newest valid year.
    sleep
        Pauses between resume attempts; injectable so tests need not wait.
    """

    def __init__(
        self,
        *,
        repositories: Mapping[WorkflowType, ReviewRepository],
        resumers: Mapping[WorkflowType, WorkflowResumer],
        clock: Callable[[], datetime],
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not repositories:
            raise InvalidRecordError("the review service needs at least one pattern")
        for pattern, repository in repositories.items():
            if repository.workflow_type is not pattern:
                raise InvalidRecordError(f"the repository given for {pattern} is not of it")
            if pattern not in resumers:
                raise InvalidRecordError(f"no resumer given for {pattern}")
        self._repositories = {p: repositories[p] for p in PATTERN_ORDER if p in repositories}
        self._resumers = dict(resumers)
        self._clock = clock
        self._sleep = sleep

    # --- reading -----------------------------------------------------------------------

    def upload_of_task(self, task_id: str) -> str:
        """Return the upload id of a task id (its pattern comes from the id's prefix).

        Raises
        ------
        TaskNotFoundError
            When the task does not exist, or its pattern is not served here.
        """
        try:
            pattern = workflow_type_of_task(task_id)
            repository = self._repositories.get(pattern)
            if repository is None:
                raise TaskNotFoundError(f"task {task_id} belongs to {pattern}, not served here")
            return repository.get_task(task_id).upload_id
        except InvalidRecordError:
            raise TaskNotFoundError(f"validation task {task_id!r} does not exist") from None

    def review(self, upload_id: str) -> UploadReview:
        """Return the review of an upload.

        Raises
        ------
        TaskNotFoundError
            When no pattern has a validation task for the upload (unknown upload, or no
            execution has reached validation yet).
        """
        try:
            check_upload_id(upload_id)
        except InvalidRecordError:
            raise TaskNotFoundError(f"no validation task for upload {upload_id!r}") from None
        now = self._clock()
        sides = []
        for pattern, repository in self._repositories.items():
            task = self._task_of(repository, upload_id)
            answerable = (
                task is not None
                and task.status is TaskStatus.PENDING
                and parse_timestamp(task.expires_at) > now
            )
            sides.append(PatternTask(pattern, task, answerable))
        tasks = [side.task for side in sides if side.task is not None]
        if not tasks:
            raise TaskNotFoundError(f"no validation task for upload {upload_id}")
        open_tasks = [side.task for side in sides if side.answerable and side.task]
        if any(task.status in REVIEWER_STATUSES for task in tasks):
            state = ReviewState.ANSWERED
        elif open_tasks:
            state = ReviewState.PENDING
        else:
            state = ReviewState.EXPIRED
        shown = (open_tasks or tasks)[0]
        expires_at = (
            min(task.expires_at for task in open_tasks)
            if open_tasks
            else max(task.expires_at for task in tasks)
        )
        photo = self._repositories[shown.workflow_type].get_execution(shown.execution_id).upload
        return UploadReview(upload_id, state, shown.albums, photo, expires_at, tuple(sides))

    def review_task(self, task_id: str) -> UploadReview:
        """Return the review of the upload a task id belongs to."""
        return self.review(self.upload_of_task(task_id))

    @staticmethod
    def _task_of(repository: ReviewRepository, upload_id: str) -> ValidationTask | None:
        """Return the task of the execution holding the pattern's claim on the upload."""
        claim = repository.get_claim(upload_id)
        if claim is None:
            return None
        task_id = keys.task_id_for(repository.workflow_type, claim.execution_id)
        try:
            task = repository.get_task(task_id)
        except TaskNotFoundError:
            return None  # the execution has not reached validation (yet)
        return task if task.upload_id == upload_id else None

    # --- answering ---------------------------------------------------------------------

    def submit(self, upload_id: str, kind: AnswerKind | str, payload: object) -> ReviewOutcome:
        """Check a JSON submission against the shown albums, then answer (the API's path).

        The review is read first so that an unknown (404), answered (409) or expired (410)
        upload is reported as such before the body is judged (400).
        """
        review = self.review(upload_id)
        _refuse_unanswerable(review)
        answer = parse_submission(kind, payload, review.albums, max_year=self._clock().year)
        return self._answer(review, answer)

    def answer(self, upload_id: str, answer: ReviewAnswer) -> ReviewOutcome:
        """Apply ``answer`` to every answerable task of the upload and resume each workflow.

        Raises
        ------
        TaskNotFoundError
            No task for the upload.
        TaskNotPendingError
            The upload was answered already (by anyone, including a racing submission).
        TaskExpiredError
            No task can be answered any more.
        InvalidSubmissionError
            A correction's year is beyond the clock's year.
        """
        if not isinstance(answer, ReviewAnswer):
            raise InvalidSubmissionError({"body": "the answer must be a ReviewAnswer"})
        review = self.review(upload_id)
        _refuse_unanswerable(review)
        newest = self._clock().year
        for correction in answer.corrections:
            if correction.year > newest:
                raise InvalidSubmissionError(
                    {f"albums[{correction.index - 1}].year": f"must be at most {newest}"}
                )
        return self._answer(review, answer)

    def answer_task(self, task_id: str, answer: ReviewAnswer) -> ReviewOutcome:
        """Answer the upload a task id belongs to (``albums validate TASK_ID``)."""
        return self.answer(self.upload_of_task(task_id), answer)

    def _answer(self, review: UploadReview, answer: ReviewAnswer) -> ReviewOutcome:
        wanted = tuple(v.album for v in apply_corrections(review.albums, answer.corrections))
        results: list[PatternResult] = []
        answered_any = False
        for task in review.answerable:
            corrections: tuple[AlbumCorrection, ...] = ()
            status = TaskStatus.REJECTED
            if answer.kind is not AnswerKind.REJECT:
                status, corrections = TaskStatus.COMPLETED, corrections_between(task.albums, wanted)
            try:
                done = self._repositories[task.workflow_type].complete_validation_task(
                    task.task_id, status, corrections=corrections, rejection_reason=answer.reason
                )
            except TaskNotPendingError:
                results.append(self._lost(task, answered_any=answered_any))
                continue
            answered_any = True
            results.append(self._resume(done))
        if not answered_any:
            raise TaskExpiredError(f"the review of upload {review.upload_id} has expired")
        outcome = ReviewOutcome(review.upload_id, answer.kind, tuple(results))
        LOGGER.info(
            "validation answered",
            extra={
                "uploadId": review.upload_id,
                "answer": str(answer.kind),
                "resumed": [str(pattern) for pattern in outcome.resumed],
            },
        )
        return outcome

    def _lost(self, task: ValidationTask, *, answered_any: bool) -> PatternResult:
        """Report a task that left ``pending`` between reading and answering it.

        Its timeout is no conflict (the other patterns are still answered); a reviewer's
        answer before this submission answered any task means another submission won the
        upload: 409, with nothing changed by this one.
        """
        current = self._repositories[task.workflow_type].get_task(task.task_id)
        if current.status in REVIEWER_STATUSES and not answered_any:
            raise TaskNotPendingError(
                f"upload {task.upload_id} was answered already ({current.status})"
            )
        return PatternResult(
            task.workflow_type,
            task.task_id,
            task.execution_id,
            current.status,
            resumed=False,
            detail=f"the task was {current.status} meanwhile",
        )

    # --- answers that did not arrive ------------------------------------------------------

    def undelivered(self) -> Iterator[ValidationTask]:
        """Yield the answered tasks whose workflow still waits for the answer.

        A reviewer's answer (``completed`` or ``rejected``) whose execution record still
        says ``awaiting_validation`` and whose wait has not expired: its resume failed, or
        it arrived a moment ago and the workflow has not yet run its next step (sending
        it again is then harmless: "no longer waits"). Tasks that expired are not read at
        all: their workflow went on without the answer.
        """
        now = self._clock()
        for repository in self._repositories.values():
            for status in REVIEWER_STATUSES:
                for task in repository.iter_tasks(status, expiring_after=now):
                    try:
                        execution = repository.get_execution(task.execution_id)
                    except ExecutionNotFoundError:
                        continue  # its record expired with the table's TTL
                    if execution.status is ExecutionStatus.AWAITING_VALIDATION:
                        yield task

    def half_answered(self) -> Iterator[str]:
        """Yield the uploads with a reviewer's answer and a task still pending (unexpired).

        Storing the answer failed after the first pattern's task took it; a new
        submission would get 409, so :meth:`finish` completes these.
        """
        now = self._clock()
        seen: set[str] = set()
        for repository in self._repositories.values():
            for task in repository.iter_tasks(TaskStatus.PENDING, expiring_after=now):
                if task.upload_id in seen:
                    continue
                seen.add(task.upload_id)
                review = self.review(task.upload_id)
                if review.state is ReviewState.ANSWERED and review.answerable:
                    yield task.upload_id

    def finish(self, upload_id: str) -> ReviewOutcome:
        """Answer the pending tasks of a half-answered upload with the answer it has.

        The albums the reviewer settled on (the stored task's albums with its corrections)
        become the corrections of each pending task's own albums, as :meth:`answer` does;
        a stored rejection becomes the same rejection.

        Raises
        ------
        TaskNotFoundError
            No task for the upload.
        TaskNotPendingError
            Nobody has answered the upload yet (answer it instead), or no task waits.
        TaskExpiredError
            The pending tasks expired meanwhile.
        """
        review = self.review(upload_id)
        stored = next((t for t in review.tasks if t.status in REVIEWER_STATUSES), None)
        if stored is None:
            raise TaskNotPendingError(f"upload {upload_id} has no answer yet: answer it")
        if not review.answerable:
            raise TaskNotPendingError(f"no task of upload {upload_id} waits for an answer")
        if stored.status is TaskStatus.REJECTED:
            answer = ReviewAnswer.reject(stored.rejection_reason or REJECTION_ERROR)
        else:
            settled = [v.album for v in apply_corrections(stored.albums, stored.corrections)]
            corrections = corrections_between(review.albums, settled)
            answer = ReviewAnswer.correct(corrections) if corrections else ReviewAnswer.accept()
        return self._answer(review, answer)

    def redeliver(self, task: ValidationTask) -> PatternResult:
        """Send the reviewer's answer stored on ``task`` to its workflow again.

        The task is read again first, so only a stored answer is ever sent.

        Raises
        ------
        TaskNotFoundError
            When the task does not exist (or its pattern is not served here).
        TaskNotPendingError
            When the task holds no reviewer's answer (still pending, or timed out).
        """
        repository = self._repositories.get(task.workflow_type)
        if repository is None:
            raise TaskNotFoundError(f"task {task.task_id} belongs to {task.workflow_type}")
        current = repository.get_task(task.task_id)
        if current.status not in REVIEWER_STATUSES:
            raise TaskNotPendingError(
                f"task {task.task_id} holds no reviewer's answer (it is {current.status})"
            )
        return self._resume(current)

    def _resume(self, task: ValidationTask) -> PatternResult:
        """Send the answer stored on ``task`` to its workflow; report, never raise.

        Transient failures are retried. Whatever still fails is reported on the result
        (and logged), so that one pattern's failure never keeps the others from their
        answer: the answer stays stored and :meth:`redeliver` can send it again.
        """
        resumer = self._resumers[task.workflow_type]
        # ``detail`` goes back to the reviewer: no service message (it may quote the token).
        detail: str | None = None
        cause: Exception | None = None
        for attempt in range(RESUME_ATTEMPTS):
            try:
                if task.status is TaskStatus.REJECTED:
                    resumer.fail(
                        task.resume_token,
                        error=REJECTION_ERROR,
                        message=task.rejection_reason or "",
                    )
                else:
                    resumer.succeed(
                        task.resume_token,
                        ValidationDecision(task.corrections, answer_stored=True).to_dict(),
                    )
            except TaskNotPendingError as error:
                detail, cause = "the workflow no longer waits (timed out or stopped)", error
                break
            except TransientError as error:
                detail, cause = f"resuming failed transiently {attempt + 1} times", error
                if attempt + 1 < RESUME_ATTEMPTS:
                    self._sleep(RESUME_BACKOFF_S * 2**attempt)
                continue
            except Exception as error:
                # A missing permission, the network, a refused token: not worth retrying
                # here, and never a reason to leave the other patterns unanswered.
                detail, cause = f"resuming failed ({_failure_name(error)})", error
                break
            return PatternResult(
                task.workflow_type, task.task_id, task.execution_id, task.status, resumed=True
            )
        gone = isinstance(cause, TaskNotPendingError)
        if not gone:
            detail = f"{detail}; the answer is stored and `albums redrive` sends it again"
        LOGGER.error(
            "answered task could not resume its workflow",
            extra={
                "taskId": task.task_id,
                "workflowType": str(task.workflow_type),
                "why": detail,
                "errorType": None if cause is None else _failure_name(cause),
            },
        )
        return PatternResult(
            task.workflow_type,
            task.task_id,
            task.execution_id,
            task.status,
            resumed=False,
            detail=detail,
            awaits_redelivery=not gone,
        )


def _failure_name(error: Exception) -> str:
    """Name a failure without its message (which may quote a token): the service code or type."""
    response = getattr(error, "response", None)
    if isinstance(response, Mapping):
        code = response.get("Error", {}).get("Code")
        if isinstance(code, str) and code:
            return code
    return type(error).__name__


def _refuse_unanswerable(review: UploadReview) -> None:
    if review.state is ReviewState.ANSWERED:
        raise TaskNotPendingError(f"upload {review.upload_id} was answered already")
    if review.state is ReviewState.EXPIRED:
        raise TaskExpiredError(f"the review of upload {review.upload_id} has expired")
