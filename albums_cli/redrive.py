"""``albums redrive``: undelivered answers, failed executions, dead-letter queue events.

Answers
    A reviewer's answer is stored on its task before the workflow is resumed; when the
    resume still failed (throttled three times, a missing permission), the workflow keeps
    waiting. Every such answer of either pattern (answered task, execution still
    ``awaiting_validation``, wait not expired) is sent again through
    :meth:`albums.review.ReviewService.redeliver`. A workflow that got it meanwhile
    refuses the second copy ("no longer waits"), so nothing is answered twice. Expired
    waits are left: their workflow went on with the detected data. ``--since`` does not
    apply (the wait's expiry bounds the search).

Executions
    Failed, timed-out and aborted executions of the state machine started since a date are
    redriven (``RedriveExecution``: the same execution continues from the state that did
    not succeed). One whose table record has already ended is skipped: the workflow caught
    the error, recorded it and ended in its ``Fail`` state, so a redrive would only repeat
    that state. Upload the photo again to retry such a one.

Dead-letter queues
    EventBridge puts an event it could not deliver into its target's queue (Terraform's
    ``dead_letter_queue_urls``). Each event is delivered again to its target and the
    message deleted only after that succeeded:

    - ``upload-step-functions``: ``StartExecution`` of the state machine;
    - ``upload-durable``: an asynchronous ``Invoke`` of the durable function's alias;
    - ``execution-recorder``: an asynchronous ``Invoke`` of the message's ``TARGET_ARN``
      (the recorder function).

    Executions are named ``redrive-{event id}``, so a second run after a crash between the
    start and the delete starts nothing twice (the services refuse a name they know, which
    counts as delivered). Failure notifications (``alerts``) are not re-sent; they are
    counted and left for a person to read.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from botocore.exceptions import ClientError

from albums.adapters.repository import AlbumRepository
from albums.domain import keys
from albums.domain.errors import (
    AlbumRegistrationError,
    ExecutionNotFoundError,
    InvalidRecordError,
)
from albums.domain.models import WorkflowType
from albums.domain.records import ValidationTask
from albums.review import REVIEWER_STATUSES, PatternResult, ReviewService
from albums_cli.console import (
    aws_call,
    client_error_code,
    describe_client_error,
    format_table,
    one_line,
)
from albums_cli.environment import Clients, Environment
from albums_cli.reviews import review_service

#: Execution statuses Step Functions can redrive.
REDRIVABLE_STATUSES: Final = ("FAILED", "TIMED_OUT", "ABORTED")
#: Step Functions redrives executions that ended at most this long ago.
REDRIVE_WINDOW: Final = timedelta(days=14)
#: Seconds a received message stays hidden while its event is delivered again.
VISIBILITY_TIMEOUT_S: Final = 120
#: Most messages one run reads from one queue.
DEFAULT_MAX_EVENTS: Final = 500

UPLOAD_STEP_FUNCTIONS: Final = "upload-step-functions"
UPLOAD_DURABLE: Final = "upload-durable"
EXECUTION_RECORDER: Final = "execution-recorder"
#: What each queue's events are delivered to.
QUEUE_TARGETS: Final = {
    UPLOAD_STEP_FUNCTIONS: "StartExecution of the state machine",
    UPLOAD_DURABLE: "async Invoke of the durable function",
    EXECUTION_RECORDER: "async Invoke of the recorder (the message's TARGET_ARN)",
}
#: Service error codes that mean "an execution of this name exists": delivered before.
ALREADY_STARTED: Final = frozenset(
    {"ExecutionAlreadyExists", "DurableExecutionAlreadyStartedException"}
)
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,56}$")
_LAMBDA_ARN = re.compile(
    r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9_$-]+)?$"
)
SF = WorkflowType.STEP_FUNCTIONS


# --- results ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExecutionOutcome:
    """What happened to one unsuccessful Step Functions execution."""

    execution_arn: str
    status: str
    started_at: datetime
    #: ``redriven``, ``would redrive``, ``skipped`` or ``failed``.
    action: str
    detail: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the outcome as plain JSON."""
        return {
            "executionArn": self.execution_arn,
            "executionId": _execution_id(self.execution_arn),
            "status": self.status,
            "startedAt": self.started_at.isoformat(),
            "action": self.action,
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True)
class AnswerOutcome:
    """What happened to one stored answer that had not reached its workflow."""

    workflow_type: WorkflowType
    task_id: str
    execution_id: str
    upload_id: str
    #: The stored answer: ``completed`` (accepted or corrected) or ``rejected``.
    answer: str
    #: ``redelivered`` or ``answered`` (a half-answered upload's pending task), ``would
    #: redeliver``/``would answer`` (dry run), ``no longer waits``, ``skipped`` or ``failed``.
    action: str
    detail: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the outcome as plain JSON (no resume token)."""
        return {
            "workflowType": str(self.workflow_type),
            "taskId": self.task_id,
            "executionId": self.execution_id,
            "uploadId": self.upload_id,
            "answer": self.answer,
            "action": self.action,
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True)
class EventOutcome:
    """What happened to one dead-letter message."""

    message_id: str
    #: ``redelivered``, ``already delivered`` or ``left``.
    action: str
    event_id: str | None = None
    upload_key: str | None = None
    #: Why EventBridge gave up on it (the message's ``ERROR_CODE``/``ERROR_MESSAGE``).
    dead_lettered_because: str | None = None
    detail: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the outcome as plain JSON."""
        return {
            "messageId": self.message_id,
            "eventId": self.event_id,
            "uploadKey": self.upload_key,
            "deadLetteredBecause": self.dead_lettered_because,
            "action": self.action,
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True)
class QueueOutcome:
    """What happened to one dead-letter queue."""

    name: str
    url: str
    target: str | None
    events: tuple[EventOutcome, ...] = ()
    #: Messages counted without reading them (dry run, or a queue without a target).
    waiting: int | None = None
    note: str | None = None

    def count(self, action: str) -> int:
        """Return how many events ended with ``action``."""
        return sum(1 for event in self.events if event.action == action)

    def to_dict(self) -> dict[str, Any]:
        """Return the outcome as plain JSON with the counts."""
        return {
            "name": self.name,
            "url": self.url,
            "target": self.target,
            "waiting": self.waiting,
            "redelivered": self.count("redelivered"),
            "alreadyDelivered": self.count("already delivered"),
            "left": self.count("left"),
            "note": self.note,
            "events": [event.to_dict() for event in self.events],
        }


@dataclass(frozen=True, slots=True)
class RedriveReport:
    """Everything one ``albums redrive`` did (or, with ``dry_run``, would do)."""

    since: datetime
    dry_run: bool
    executions: tuple[ExecutionOutcome, ...] = ()
    queues: tuple[QueueOutcome, ...] = field(default_factory=tuple)
    answers: tuple[AnswerOutcome, ...] = ()

    @property
    def failures(self) -> list[str]:
        """One line per answer, execution or event that could not be sent again."""
        lines = [f"{a.task_id}: {a.detail}" for a in self.answers if a.action == "failed"]
        lines.extend(
            f"{_execution_id(e.execution_arn)}: {e.detail}"
            for e in self.executions
            if e.action == "failed"
        )
        lines.extend(
            f"{queue.name} {event.message_id}: {event.detail}"
            for queue in self.queues
            for event in queue.events
            if event.action == "left"
        )
        return lines

    def to_dict(self) -> dict[str, Any]:
        """Return the report as plain JSON."""
        return {
            "since": self.since.isoformat(),
            "dryRun": self.dry_run,
            "answers": [outcome.to_dict() for outcome in self.answers],
            "executions": [outcome.to_dict() for outcome in self.executions],
            "queues": [queue.to_dict() for queue in self.queues],
        }

    def render(self) -> str:
        """Return the report as text: answers, a table of executions, one line per queue."""
        verb = "would redrive" if self.dry_run else "redriven"
        chosen = sum(1 for e in self.executions if e.action in ("redriven", "would redrive"))
        lines = [_answers_line(self.answers, dry_run=self.dry_run)]
        if self.answers:
            answer_rows = [
                (str(a.workflow_type), a.task_id, a.answer, a.action, one_line(a.detail or "", 90))
                for a in self.answers
            ]
            lines.append(
                format_table(("PATTERN", "TASK", "ANSWER", "ACTION", "WHY"), answer_rows, "  ")
            )
        lines.append(
            "Step Functions executions that did not succeed since "
            f"{self.since.astimezone(UTC):%Y-%m-%d %H:%M} UTC: {len(self.executions)}, "
            f"{verb} {chosen}"
        )
        if self.executions:
            rows = [
                (
                    _execution_id(e.execution_arn),
                    e.status,
                    f"{e.started_at:%Y-%m-%d %H:%M}",
                    e.action,
                    one_line(e.detail or "", 90),
                )
                for e in self.executions
            ]
            lines.append(
                format_table(("EXECUTION", "STATUS", "STARTED", "ACTION", "WHY"), rows, "  ")
            )
        lines.append("Dead-letter queues:")
        if not self.queues:
            lines.append("  none named by the environment")
        for queue in self.queues:
            lines.append("  " + _queue_line(queue, dry_run=self.dry_run))
            lines.extend(
                f"    left {event.message_id}: {one_line(event.detail or '', 120)}"
                for event in queue.events
                if event.action == "left"
            )
        return "\n".join(lines)


def _answers_line(answers: Sequence[AnswerOutcome], *, dry_run: bool) -> str:
    what = "Reviewers' answers that had not reached their workflow"
    if dry_run:
        return f"{what}: {len(answers)}, would send them"
    sent = sum(1 for answer in answers if answer.action in ("redelivered", "answered"))
    return f"{what}: {len(answers)}, sent again {sent}"


def _queue_line(queue: QueueOutcome, *, dry_run: bool) -> str:
    if queue.target is None or dry_run:
        waiting = "?" if queue.waiting is None else str(queue.waiting)
        what = queue.note or f"would re-deliver them to {queue.target}"
        return f"{queue.name}: {waiting} waiting; {what}"
    if not queue.events:
        return f"{queue.name}: empty"
    return (
        f"{queue.name}: read {len(queue.events)}, re-delivered {queue.count('redelivered')}, "
        f"already delivered {queue.count('already delivered')}, left {queue.count('left')}"
    )


def _execution_id(execution_arn: str) -> str:
    try:
        return keys.execution_id_for(SF, execution_arn)
    except InvalidRecordError:
        return execution_arn


# --- executions ------------------------------------------------------------------------------


def unsuccessful_executions(
    stepfunctions: Any, state_machine_arn: str, since: datetime
) -> list[dict[str, Any]]:
    """Return the failed, timed-out and aborted executions started since ``since``, oldest first.

    ``ListExecutions`` lists newest first, so each status stops at the first older one.
    """
    found: list[dict[str, Any]] = []
    for status in REDRIVABLE_STATUSES:
        request: dict[str, Any] = {"stateMachineArn": state_machine_arn, "statusFilter": status}
        while True:
            with aws_call(f"list {status} executions of {state_machine_arn}"):
                page = stepfunctions.list_executions(**request)
            listed = page.get("executions", [])
            found.extend(dict(e) for e in listed if e["startDate"] >= since)
            token = page.get("nextToken")
            if not token or any(e["startDate"] < since for e in listed):
                break
            request["nextToken"] = token
    return sorted(found, key=lambda execution: execution["startDate"])


def _recorded_end(repository: AlbumRepository, execution_arn: str) -> str | None:
    """Return why the table says the execution ended, or ``None`` when it has not."""
    try:
        execution_id = keys.execution_id_for(SF, execution_arn)
        with aws_call(f"read execution {execution_id}"):
            record = repository.get_execution(execution_id)
    except (ExecutionNotFoundError, InvalidRecordError):
        return None
    if not record.status.is_terminal:
        return None
    where = f" at {record.failure.step} ({record.failure.error})" if record.failure else ""
    return (
        f"the table records it {record.status}{where}: a redrive would only repeat its end; "
        "upload the photo again to retry"
    )


def _outcome(
    execution: Mapping[str, Any], action: str, detail: str | None = None
) -> ExecutionOutcome:
    return ExecutionOutcome(
        execution["executionArn"], str(execution["status"]), execution["startDate"], action, detail
    )


def redrive_executions(
    environment: Environment, clients: Clients, *, since: datetime, now: datetime, dry_run: bool
) -> tuple[ExecutionOutcome, ...]:
    """Redrive every unsuccessful execution since ``since`` that the table has not ended."""
    repository = AlbumRepository(clients.dynamodb, environment.table, SF)
    outcomes = []
    for execution in unsuccessful_executions(
        clients.stepfunctions, environment.state_machine_arn, since
    ):
        ended = execution.get("stopDate") or execution["startDate"]
        if now - ended > REDRIVE_WINDOW:
            outcomes.append(
                _outcome(execution, "skipped", "ended over 14 days ago: it cannot be redriven")
            )
            continue
        recorded = _recorded_end(repository, execution["executionArn"])
        if recorded is not None:
            outcomes.append(_outcome(execution, "skipped", recorded))
        elif dry_run:
            outcomes.append(_outcome(execution, "would redrive"))
        else:
            outcomes.append(_redrive_one(clients.stepfunctions, execution))
    return tuple(outcomes)


def _redrive_one(stepfunctions: Any, execution: Mapping[str, Any]) -> ExecutionOutcome:
    try:
        stepfunctions.redrive_execution(executionArn=execution["executionArn"])
    except ClientError as error:
        # The service's own "no" (e.g. its redrive limit) is a skip, anything else a failure.
        refused = client_error_code(error) == "ExecutionNotRedrivable"
        return _outcome(execution, "skipped" if refused else "failed", describe_client_error(error))
    return _outcome(execution, "redriven")


# --- dead-letter queues ----------------------------------------------------------------------


def delivery_name(event: Mapping[str, Any], body: str) -> str:
    """Return the execution name a re-delivered event starts under (same event, same name).

    The event's id when it is a usable name (EventBridge ids are UUIDs), else a digest of
    the message body.
    """
    event_id = event.get("id")
    if isinstance(event_id, str) and _NAME.fullmatch(event_id):
        return f"redrive-{event_id}"
    return "redrive-" + hashlib.sha256(body.encode("utf-8")).hexdigest()[:40]


def _attribute(message: Mapping[str, Any], name: str) -> str | None:
    value = message.get("MessageAttributes", {}).get(name, {}).get("StringValue")
    return str(value) if value else None


def _dead_lettered_because(message: Mapping[str, Any]) -> str | None:
    code, text = _attribute(message, "ERROR_CODE"), _attribute(message, "ERROR_MESSAGE")
    if code is None and text is None:
        return None
    return one_line(": ".join(part for part in (code, text) if part), 200)


def _upload_key(event: Mapping[str, Any]) -> str | None:
    detail = event.get("detail")
    obj = detail.get("object") if isinstance(detail, Mapping) else None
    key = obj.get("key") if isinstance(obj, Mapping) else None
    return key if isinstance(key, str) else None


def _received(sqs: Any, url: str, limit: int) -> Iterator[dict[str, Any]]:
    """Yield up to ``limit`` messages of a queue, each hidden while it is handled."""
    seen: set[str] = set()
    while len(seen) < limit:
        with aws_call(f"read the dead-letter queue {url}"):
            response = sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=min(10, limit - len(seen)),
                VisibilityTimeout=VISIBILITY_TIMEOUT_S,
                WaitTimeSeconds=0,
                MessageAttributeNames=["All"],
            )
        fresh = [m for m in response.get("Messages", []) if m["MessageId"] not in seen]
        if not fresh:
            return
        for message in fresh:
            seen.add(message["MessageId"])
            yield message


def _waiting(sqs: Any, url: str) -> int:
    with aws_call(f"read the attributes of {url}"):
        attributes = sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
    return int(attributes.get("ApproximateNumberOfMessages", 0)) + int(
        attributes.get("ApproximateNumberOfMessagesNotVisible", 0)
    )


def _deliver(
    queue: str,
    message: Mapping[str, Any],
    body: str,
    name: str,
    *,
    environment: Environment,
    clients: Clients,
) -> None:
    """Deliver one event to its queue's target; raise ``ValueError`` when it has none."""
    if queue == UPLOAD_STEP_FUNCTIONS:
        clients.stepfunctions.start_execution(
            stateMachineArn=environment.state_machine_arn, name=name, input=body
        )
    elif queue == UPLOAD_DURABLE:
        clients.lambda_.invoke(
            FunctionName=environment.durable_function,
            InvocationType="Event",
            Payload=body.encode("utf-8"),
            DurableExecutionName=name,
        )
    else:
        target = _attribute(message, "TARGET_ARN")
        if target is None or not _LAMBDA_ARN.fullmatch(target):
            raise ValueError(f"its TARGET_ARN is not a Lambda function ARN: {target!r}")
        clients.lambda_.invoke(
            FunctionName=target, InvocationType="Event", Payload=body.encode("utf-8")
        )


def _redeliver_message(
    queue: str, url: str, environment: Environment, clients: Clients, message: Mapping[str, Any]
) -> EventOutcome:
    body = str(message.get("Body", ""))
    because = _dead_lettered_because(message)
    try:
        event = json.loads(body)
    except ValueError:
        event = None
    if not isinstance(event, dict):
        return EventOutcome(
            message["MessageId"],
            "left",
            dead_lettered_because=because,
            detail="the message is not a JSON event; read it with `aws sqs receive-message`",
        )
    event_id = event.get("id") if isinstance(event.get("id"), str) else None
    facts = {
        "event_id": event_id,
        "upload_key": _upload_key(event),
        "dead_lettered_because": because,
    }
    action = "redelivered"
    try:
        _deliver(
            queue,
            message,
            body,
            delivery_name(event, body),
            environment=environment,
            clients=clients,
        )
    except ClientError as error:
        if client_error_code(error) not in ALREADY_STARTED:
            return EventOutcome(
                message["MessageId"], "left", detail=describe_client_error(error), **facts
            )
        action = "already delivered"
    except ValueError as error:
        return EventOutcome(message["MessageId"], "left", detail=str(error), **facts)
    try:
        clients.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    except ClientError as error:
        # Delivered, but still queued: the next run finds the name taken and deletes it then.
        return EventOutcome(
            message["MessageId"],
            action,
            detail=f"delivered, but deleting the message failed: {describe_client_error(error)}",
            **facts,
        )
    return EventOutcome(message["MessageId"], action, **facts)


def redrive_queue(
    name: str,
    url: str,
    environment: Environment,
    clients: Clients,
    *,
    dry_run: bool,
    max_events: int = DEFAULT_MAX_EVENTS,
) -> QueueOutcome:
    """Re-deliver the events of one dead-letter queue (or, with ``dry_run``, count them)."""
    target = QUEUE_TARGETS.get(name)
    if target is None:
        return QueueOutcome(
            name,
            url,
            None,
            waiting=_waiting(clients.sqs, url),
            note="not re-sent (failure notifications); read them with `aws sqs receive-message`",
        )
    if dry_run:
        return QueueOutcome(name, url, target, waiting=_waiting(clients.sqs, url))
    events = tuple(
        _redeliver_message(name, url, environment, clients, message)
        for message in _received(clients.sqs, url, max_events)
    )
    return QueueOutcome(name, url, target, events)


def redeliver_answers(
    service: ReviewService, *, table: str, dry_run: bool = False
) -> tuple[AnswerOutcome, ...]:
    """Finish half-stored answers, then send again every answer that did not arrive."""
    outcomes: list[AnswerOutcome] = []
    with aws_call(f"find the half-answered uploads in {table}"):
        half_answered = list(service.half_answered())
    for upload_id in half_answered:
        outcomes.extend(_finish(service, upload_id, dry_run=dry_run))
    handled = {outcome.task_id for outcome in outcomes}
    with aws_call(f"find the answers not delivered in {table}"):
        stuck = [task for task in service.undelivered() if task.task_id not in handled]
    for task in stuck:
        if dry_run:
            outcomes.append(_answer_outcome(task, str(task.status), "would redeliver"))
            continue
        try:
            with aws_call(f"send the answer of task {task.task_id} again"):
                result = service.redeliver(task)
        except AlbumRegistrationError as error:  # answered or gone meanwhile
            outcomes.append(_answer_outcome(task, str(task.status), "skipped", error.message))
            continue
        outcomes.append(_result_outcome(result, task.upload_id, "redelivered"))
    return tuple(outcomes)


_HALF_ANSWERED: Final = "still pending: the answer was stored for the other pattern only"


def _finish(service: ReviewService, upload_id: str, *, dry_run: bool) -> list[AnswerOutcome]:
    """Answer a half-answered upload's pending tasks with its stored answer."""
    with aws_call(f"read the review of upload {upload_id}"):
        review = service.review(upload_id)
    stored = next((str(t.status) for t in review.tasks if t.status in REVIEWER_STATUSES), "-")
    if dry_run:
        return [
            _answer_outcome(task, stored, "would answer", _HALF_ANSWERED)
            for task in review.answerable
        ]
    try:
        with aws_call(f"answer the pending tasks of upload {upload_id}"):
            outcome = service.finish(upload_id)
    except AlbumRegistrationError as error:  # finished or expired meanwhile
        return [
            _answer_outcome(task, stored, "skipped", error.message) for task in review.answerable
        ]
    return [_result_outcome(result, upload_id, "answered") for result in outcome.results]


def _answer_outcome(
    task: ValidationTask, answer: str, action: str, detail: str | None = None
) -> AnswerOutcome:
    return AnswerOutcome(
        task.workflow_type, task.task_id, task.execution_id, task.upload_id, answer, action, detail
    )


def _result_outcome(result: PatternResult, upload_id: str, done: str) -> AnswerOutcome:
    """Word what sending an answer did: ``done``, ``failed`` or ``no longer waits``."""
    if result.resumed:
        action = done
    elif result.awaits_redelivery:
        action = "failed"
    else:
        action = "no longer waits"
    return AnswerOutcome(
        result.workflow_type,
        result.task_id,
        result.execution_id,
        upload_id,
        str(result.status),
        action,
        result.detail,
    )


def redrive(
    environment: Environment,
    clients: Clients,
    *,
    since: datetime,
    now: datetime,
    dry_run: bool = False,
    max_events: int = DEFAULT_MAX_EVENTS,
) -> RedriveReport:
    """Send stored answers again, redrive executions since ``since``, re-deliver DLQ events.

    Parameters
    ----------
    environment
        Needs the state machine, the durable function, the table and the queues.
    clients
        Step Functions, Lambda, SQS and DynamoDB clients of the environment's region
        (answers are sent with ``SendTaskSuccess``/``Failure`` and the durable callback
        APIs, as ``albums validate`` sends them).
    since
        Oldest start time of the executions to redrive.
    now
        The current time (Step Functions redrives executions of the last 14 days).
    dry_run
        List and count only: nothing is redriven, delivered, hidden or deleted.
    max_events
        Most messages read from one queue.
    """
    # Answers first: their waits expire, and a late answer is a lost answer.
    answers = redeliver_answers(
        review_service(environment, clients, lambda: now), table=environment.table, dry_run=dry_run
    )
    executions = redrive_executions(environment, clients, since=since, now=now, dry_run=dry_run)
    queues = tuple(
        redrive_queue(name, url, environment, clients, dry_run=dry_run, max_events=max_events)
        for name, url in sorted(environment.dead_letter_queues.items())
    )
    return RedriveReport(since, dry_run, executions, queues, answers)
