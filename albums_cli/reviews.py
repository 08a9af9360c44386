"""``albums tasks`` and ``albums validate``: the pending reviews, and one answer for both.

:func:`pending_reviews` groups the pending validation tasks of both patterns by upload (a
photo has one task per pattern that processed it). :func:`validate` hands one answer to
:class:`albums.review.ReviewService`, which completes every pending task of the upload and
resumes each workflow (Step Functions task tokens, durable callbacks); this module only
checks the command line's input first and words the outcome.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from albums.adapters.durable_callbacks import LambdaCallbackResumer
from albums.adapters.repository import MAX_PAGE_SIZE, AlbumRepository
from albums.adapters.task_tokens import TaskTokenResumer
from albums.domain.errors import (
    AlbumRegistrationError,
    ExecutionNotFoundError,
    InvalidAlbumError,
    InvalidRecordError,
    InvalidSubmissionError,
)
from albums.domain.models import (
    ALBUMS_PER_IMAGE,
    AlbumCorrection,
    TaskStatus,
    WorkflowType,
    check_year,
)
from albums.domain.records import (
    ValidationTask,
    check_upload_id,
    parse_timestamp,
    workflow_type_of_task,
)
from albums.review import ReviewAnswer, ReviewOutcome, ReviewService
from albums_cli.console import (
    EXIT_CONFLICT,
    EXIT_NOT_FOUND,
    EXIT_USAGE,
    CliError,
    aws_call,
    exit_code_of,
    format_table,
    one_line,
)
from albums_cli.environment import Clients, Environment

PATTERNS: Final = (WorkflowType.STEP_FUNCTIONS, WorkflowType.DURABLE_FUNCTIONS)
_UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")
#: What to do after a refused answer, by exit code: the review service changes nothing
#: when it refuses an answer as unknown, answered, expired or invalid.
_ANSWER_HINTS: Final = {
    EXIT_NOT_FOUND: "list the pending ones with `albums tasks`",
    EXIT_CONFLICT: "nothing was changed",
    EXIT_USAGE: "nothing was changed",
}
_MAYBE_PARTLY: Final = (
    "the answer may be partly stored: retry, and if that says it was answered already, "
    "`albums redrive` completes it"
)


def repositories(environment: Environment, clients: Clients) -> dict[WorkflowType, AlbumRepository]:
    """Return one repository per pattern on the environment's table."""
    return {
        pattern: AlbumRepository(clients.dynamodb, environment.table, pattern)
        for pattern in PATTERNS
    }


@dataclass(frozen=True, slots=True)
class PendingUpload:
    """The pending validation tasks of one upload (one per pattern that waits)."""

    upload_id: str
    key: str | None
    tasks: tuple[ValidationTask, ...]

    @property
    def expires_at(self) -> str:
        """The earliest expiry of the upload's tasks."""
        return min(task.expires_at for task in self.tasks)

    @property
    def albums_differ(self) -> bool:
        """Whether the patterns detected different albums (answers apply to the first's)."""
        return any(task.albums != self.tasks[0].albums for task in self.tasks)

    def to_dict(self, now: datetime) -> dict[str, Any]:
        """Return the upload's pending review as plain JSON (no resume tokens)."""
        return {
            "uploadId": self.upload_id,
            "key": self.key,
            "expiresAt": self.expires_at,
            "expired": parse_timestamp(self.expires_at) <= now,
            "albumsDiffer": self.albums_differ,
            "albums": [album.to_dict() for album in self.tasks[0].albums],
            "tasks": [
                {
                    "taskId": task.task_id,
                    "workflowType": str(task.workflow_type),
                    "executionId": task.execution_id,
                    "expiresAt": task.expires_at,
                }
                for task in self.tasks
            ],
        }


def pending_reviews(environment: Environment, clients: Clients) -> list[PendingUpload]:
    """Return every pending validation task of both patterns, grouped by upload.

    Uploads come soonest expiry first; within one, tasks in pattern order (Step Functions,
    then durable functions: the order the review service answers them in).
    """
    by_upload: dict[str, list[ValidationTask]] = {}
    stores = repositories(environment, clients)
    for repository in stores.values():
        token = None
        while True:
            with aws_call(f"list the pending validation tasks in {environment.table}"):
                page = repository.list_pending_tasks(MAX_PAGE_SIZE, next_token=token)
            for task in page.items:
                by_upload.setdefault(task.upload_id, []).append(task)
            token = page.next_token
            if token is None:
                break
    pending = []
    for upload_id, tasks in by_upload.items():
        first = tasks[0]
        try:
            with aws_call(f"read execution {first.execution_id}"):
                key: str | None = (
                    stores[first.workflow_type].get_execution(first.execution_id).upload.key
                )
        except ExecutionNotFoundError:
            key = None
        pending.append(PendingUpload(upload_id, key, tuple(tasks)))
    return sorted(pending, key=lambda upload: (upload.expires_at, upload.upload_id))


def tasks_text(pending: Sequence[PendingUpload], now: datetime) -> str:
    """Return the pending reviews as text: per upload, its tasks and the albums shown."""
    if not pending:
        return "no pending validation tasks"
    lines = [
        f"{len(pending)} upload(s) wait for validation. Answer one with "
        "`albums validate TASK --accept`, `--year N=YYYY ...` or `--reject REASON`."
    ]
    for upload in pending:
        expired = parse_timestamp(upload.expires_at) <= now
        note = " (expired: its workflows continue with the detected data)" if expired else ""
        lines.append("")
        lines.append(f"{upload.key or '?'}  upload {upload.upload_id}")
        lines.append(f"  expires {upload.expires_at}{note}")
        lines.append(
            format_table(
                ("TASK", "PATTERN", "EXECUTION"),
                [(t.task_id, t.workflow_type, t.execution_id) for t in upload.tasks],
                "  ",
            )
        )
        if upload.albums_differ:
            lines.append(
                f"  the patterns detected different albums; an answer applies to these "
                f"({upload.tasks[0].workflow_type}'s):"
            )
        lines.append(
            format_table(
                ("#", "ALBUM", "ARTIST", "YEAR"),
                [(a.index, a.album_name, a.artist, a.year) for a in upload.tasks[0].albums],
                "  ",
            )
        )
    return "\n".join(lines)


# --- validate --------------------------------------------------------------------------------


def parse_year_corrections(pairs: Sequence[str], *, this_year: int) -> tuple[AlbumCorrection, ...]:
    """Read ``--year N=YYYY`` values: album 1..6, year 1900..``this_year``, each album once.

    Raises
    ------
    CliError
        On a malformed pair, an album outside 1..6, a year out of range or an album
        corrected twice (before anything is read or called).
    """
    corrections: dict[int, AlbumCorrection] = {}
    for pair in pairs:
        number, separator, year = (part.strip() for part in pair.partition("="))
        if (
            not separator
            or not re.fullmatch(r"\d{1,2}", number)
            or not re.fullmatch(r"-?\d{1,6}", year)
        ):
            raise CliError(f"--year {pair!r}: write it as N=YYYY, e.g. --year 3=1977")
        index = int(number)
        if not 1 <= index <= ALBUMS_PER_IMAGE:
            raise CliError(
                f"--year {pair!r}: album {index} does not exist; "
                f"albums are numbered 1 to {ALBUMS_PER_IMAGE} (see `albums tasks`)"
            )
        if index in corrections:
            raise CliError(f"--year {pair!r}: album {index} is corrected twice")
        try:
            corrections[index] = AlbumCorrection(
                index=index, year=check_year(int(year), max_year=this_year)
            )
        except InvalidAlbumError as error:
            raise CliError(f"--year {pair!r}: {error.message}") from None
    return tuple(corrections[index] for index in sorted(corrections))


def build_answer(
    *, years: Sequence[str] | None, accept: bool, reject: str | None, this_year: int
) -> ReviewAnswer:
    """Return the reviewer's answer of ``validate``'s options (exactly one kind given).

    Raises
    ------
    CliError
        For a bad ``--year`` or an empty, over-long or unprintable ``--reject`` reason.
    """
    if reject is not None:
        try:
            return ReviewAnswer.reject(reject)
        except InvalidSubmissionError as error:
            raise CliError(f"--reject: {error.fields.get('reason', error.message)}") from None
    if accept:
        return ReviewAnswer.accept()
    return ReviewAnswer.correct(parse_year_corrections(years or (), this_year=this_year))


def review_target(text: str) -> tuple[str, str]:
    """Return ``("upload", id)`` or ``("task", id)`` for ``validate``'s argument.

    Raises
    ------
    CliError
        When the text is neither an upload id (32 hex digits) nor a task id (``sf-...``,
        ``ldf-...``).
    """
    value = text.strip()
    if _UPLOAD_ID.fullmatch(value):
        return "upload", check_upload_id(value)
    try:
        workflow_type_of_task(value)
    except InvalidRecordError:
        raise CliError(
            f"{text!r} is neither a task id (sf-... or ldf-...) nor an upload id "
            "(32 hex digits): see `albums tasks`"
        ) from None
    return "task", value


def review_service(
    environment: Environment, clients: Clients, clock: Callable[[], datetime]
) -> ReviewService:
    """Return the review service of the environment, resuming workflows as the operator."""
    return ReviewService(
        repositories=repositories(environment, clients),
        resumers={
            WorkflowType.STEP_FUNCTIONS: TaskTokenResumer(clients.stepfunctions),
            WorkflowType.DURABLE_FUNCTIONS: LambdaCallbackResumer(clients.lambda_),
        },
        clock=clock,
    )


def validate(
    environment: Environment,
    clients: Clients,
    target: str,
    answer: ReviewAnswer,
    *,
    clock: Callable[[], datetime],
) -> ReviewOutcome:
    """Answer the upload of a task id (or an upload id) in every pattern that waits.

    Raises
    ------
    CliError
        Usage for a malformed id, not found for an unknown task or upload, conflict for an
        answered or expired one (nothing changed), environment for an AWS error.
    """
    kind, identifier = review_target(target)
    service = review_service(environment, clients, clock)
    try:
        with aws_call(f"answer {kind} {identifier}"):
            if kind == "upload":
                return service.answer(identifier, answer)
            return service.answer_task(identifier, answer)
    except AlbumRegistrationError as error:
        code = exit_code_of(error)
        raise CliError(
            f"{error.message} ({_ANSWER_HINTS.get(code, _MAYBE_PARTLY)})", code
        ) from None
    except CliError as error:
        # A DynamoDB error after the first task took the answer leaves it half stored;
        # `albums redrive` answers the rest with it (a resume error never gets here).
        raise CliError(f"{error.message} ({_MAYBE_PARTLY})", error.exit_code) from error


def unresumed(outcome: ReviewOutcome) -> list[str]:
    """Lines for the tasks this answer completed whose workflow could not be resumed."""
    answered = (TaskStatus.COMPLETED, TaskStatus.REJECTED)
    return [
        f"{result.workflow_type} {result.execution_id}: {result.detail}"
        for result in outcome.results
        if not result.resumed and result.status in answered
    ]


def validate_text(outcome: ReviewOutcome) -> str:
    """Return an answer's outcome as text: per pattern, the task and whether it resumed."""
    rows = [
        (
            result.workflow_type,
            result.task_id,
            result.status,
            "resumed" if result.resumed else f"not resumed: {one_line(result.detail or '', 80)}",
        )
        for result in outcome.results
    ]
    return "\n".join(
        [
            f"answered upload {outcome.upload_id} ({outcome.kind})",
            format_table(("PATTERN", "TASK", "TASK STATUS", "WORKFLOW"), rows, "  "),
        ]
    )
