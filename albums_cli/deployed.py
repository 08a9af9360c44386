"""``albums`` commands against a deployed environment.

``upload``, ``tasks``, ``validate``, ``status``, ``report`` and ``redrive``. Each command is
a function of an :class:`~albums_cli.environment.Environment`, the boto3
:class:`~albums_cli.environment.Clients` and its options, so tests run it on moto or on
stubbed clients; :func:`add_commands` wires them into the parser. Every error is one line
saying what to do, with an exit code from :mod:`albums_cli.environment`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, TextIO

from botocore.exceptions import BotoCoreError, ClientError

from albums.adapters.durable_callbacks import LambdaCallbackResumer
from albums.adapters.repository import AlbumRepository
from albums.adapters.task_tokens import TaskTokenResumer
from albums.domain import keys
from albums.domain.errors import (
    ExecutionNotFoundError,
    InvalidAlbumError,
    InvalidRecordError,
    InvalidS3KeyError,
    InvalidSubmissionError,
    TaskExpiredError,
    TaskNotFoundError,
    TaskNotPendingError,
)
from albums.domain.models import AlbumCorrection, WorkflowType, check_year
from albums.domain.records import ExecutionRecord, ValidationTask
from albums.review import ReviewAnswer, ReviewService
from albums_cli.environment import (
    EXIT_CONFLICT,
    EXIT_ENVIRONMENT,
    EXIT_FAILED,
    EXIT_NOT_FOUND,
    EXIT_USAGE,
    SETTINGS,
    Clients,
    CliError,
    Environment,
    resolve_environment,
)

PATTERNS: Final = (WorkflowType.STEP_FUNCTIONS, WorkflowType.DURABLE_FUNCTIONS)
#: First bytes of each accepted image format: an upload that is not an image fails early.
_SIGNATURES: Final = {
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/webp": (b"RIFF",),
}
#: Dead-letter queue name (a Terraform output key) -> the target its events are for.
DLQ_TARGETS: Final = {"upload-step-functions": "state-machine", "upload-durable": "durable"}


# --- upload ---------------------------------------------------------------------------


def upload_key(path: Path, prefix: str) -> str:
    """Return the object key for a local photo, checked against the key rules.

    Raises
    ------
    CliError
        When the name or prefix breaks the key rules (the message says which).
    """
    folder = prefix.strip("/")
    key = f"{keys.UPLOAD_PREFIX}{folder}/{path.name}" if folder else keys.UPLOAD_PREFIX + path.name
    try:
        keys.validate_s3_key(key)
    except InvalidS3KeyError as error:
        raise CliError(
            f"{path.name}: {error}; rename the file (letters, digits, . _ - ~ only)", EXIT_USAGE
        ) from None
    return key


def upload(
    environment: Environment, clients: Clients, paths: Sequence[Path], *, prefix: str = "cli"
) -> list[str]:
    """Put each photo into the uploads bucket; return the keys (both patterns start).

    Every file is checked before the first one is put, so a bad one uploads nothing.
    """
    planned = []
    for path in paths:
        if not path.is_file():
            raise CliError(f"{path}: no such file", EXIT_NOT_FOUND)
        key = upload_key(path, prefix)
        content_type = keys.media_type_for_key(key)
        body = path.read_bytes()
        if not body.startswith(_SIGNATURES[content_type]):
            raise CliError(f"{path}: not a {content_type} image (its first bytes say otherwise)")
        planned.append((key, body, content_type))
    for key, body, content_type in planned:
        with _aws(f"put s3://{environment.bucket}/{key}"):
            clients.s3.put_object(
                Bucket=environment.bucket, Key=key, Body=body, ContentType=content_type
            )
    return [key for key, _, _ in planned]


# --- tasks and validate -----------------------------------------------------------------


def repositories(environment: Environment, clients: Clients) -> dict[WorkflowType, Any]:
    """Return one repository per pattern on the environment's table."""
    return {
        pattern: AlbumRepository(clients.dynamodb, environment.table, pattern)
        for pattern in PATTERNS
    }


def pending_tasks(environment: Environment, clients: Clients) -> list[ValidationTask]:
    """Return every pending validation task of both patterns, soonest expiry first."""
    tasks: list[ValidationTask] = []
    for repository in repositories(environment, clients).values():
        token = None
        while True:
            with _aws(f"query the pending tasks in {environment.table}"):
                page = repository.list_pending_tasks(100, next_token=token)
            tasks.extend(page.items)
            token = page.next_token
            if token is None:
                break
    return sorted(tasks, key=lambda task: (task.expires_at, task.upload_id, task.task_id))


def year_correction(pair: str, *, today: datetime | None = None) -> AlbumCorrection:
    """Parse one ``--year N=YYYY`` (argparse type): album 1..6, year 1900..this year.

    Raises
    ------
    argparse.ArgumentTypeError
        On a malformed pair, an album number outside 1..6 or a year out of range, so the
        command stops with a usage error before anything is read or called.
    """
    number, separator, year = pair.partition("=")
    if not separator or not number.strip().isdigit() or not year.strip().lstrip("-").isdigit():
        raise argparse.ArgumentTypeError(f"{pair!r}: write it as N=YYYY, e.g. --year 3=1977")
    this_year = (today or datetime.now(UTC)).year
    try:
        return AlbumCorrection(index=int(number), year=check_year(int(year), max_year=this_year))
    except InvalidAlbumError as error:
        raise argparse.ArgumentTypeError(f"{pair!r}: {error}") from None


def distinct_corrections(corrections: Sequence[AlbumCorrection]) -> tuple[AlbumCorrection, ...]:
    """Return the corrections by album number; an album corrected twice is an error."""
    by_index: dict[int, AlbumCorrection] = {}
    for correction in corrections:
        if correction.index in by_index:
            raise CliError(f"--year: album {correction.index} is corrected twice")
        by_index[correction.index] = correction
    return tuple(by_index[index] for index in sorted(by_index))


def review_service(environment: Environment, clients: Clients) -> ReviewService:
    """Return the review service of the environment (the operator's credentials)."""
    return ReviewService(
        repositories=repositories(environment, clients),
        resumers={
            WorkflowType.STEP_FUNCTIONS: TaskTokenResumer(clients.stepfunctions),
            WorkflowType.DURABLE_FUNCTIONS: LambdaCallbackResumer(clients.lambda_),
        },
        clock=lambda: datetime.now(UTC),
    )


def validate(
    environment: Environment, clients: Clients, task_id: str, answer: ReviewAnswer
) -> dict[str, Any]:
    """Answer the upload of ``task_id`` in both patterns; return the outcome as JSON."""
    service = review_service(environment, clients)
    try:
        with _aws(f"answer task {task_id}"):
            outcome = service.answer_task(task_id, answer)
    except TaskNotFoundError:
        raise CliError(
            f"no validation task {task_id}: list the pending ones with `albums tasks`",
            EXIT_NOT_FOUND,
        ) from None
    except (TaskNotPendingError, TaskExpiredError) as error:
        raise CliError(f"{error} (nothing was changed)", EXIT_CONFLICT) from None
    except InvalidSubmissionError as error:
        raise CliError(f"{error} (nothing was changed)", EXIT_USAGE) from None
    return outcome.to_dict()


# --- status -----------------------------------------------------------------------------


def execution_id_of(argument: str) -> str:
    """Accept an execution id (``sf-…``/``ldf-…``) or a Step Functions / durable ARN."""
    if argument.startswith("arn:"):
        pattern = (
            WorkflowType.DURABLE_FUNCTIONS
            if "/durable-execution/" in argument
            else WorkflowType.STEP_FUNCTIONS
        )
        return keys.execution_id_for(pattern, argument)
    return argument


def status_of(environment: Environment, clients: Clients, execution: str) -> dict[str, Any]:
    """Return one execution's record and albums as JSON."""
    try:
        execution_id = execution_id_of(execution)
        pattern = keys.workflow_type_of_execution(execution_id)
    except InvalidRecordError:
        raise CliError(
            f"{execution!r} is not an execution id (sf-… or ldf-…) or ARN", EXIT_USAGE
        ) from None
    repository = repositories(environment, clients)[pattern]
    try:
        with _aws(f"read execution {execution_id}"):
            record = repository.get_execution(execution_id)
            albums = repository.get_albums(execution_id)
    except ExecutionNotFoundError:
        raise CliError(
            f"no execution {execution_id}: see `albums status` for recent ones", EXIT_NOT_FOUND
        ) from None
    described: dict[str, Any] = record.to_dict()
    described["albums"] = [album.to_dict() for album in albums]
    return described


def recent_executions(
    environment: Environment, clients: Clients, *, limit: int = 10
) -> dict[str, Any]:
    """Return, per pattern, the count of recent executions by status and the newest ones."""
    summary: dict[str, Any] = {}
    for pattern, repository in repositories(environment, clients).items():
        with _aws(f"list executions in {environment.table}"):
            page = repository.list_executions(min(100, max(limit, 1)))
        records: list[ExecutionRecord] = list(page.items)
        summary[str(pattern)] = {
            "by_status": dict(Counter(str(record.status) for record in records)),
            "newest": [
                {
                    "executionId": record.execution_id,
                    "status": str(record.status),
                    "uploadKey": record.upload.key,
                    "createdAt": record.created_at,
                }
                for record in records[:limit]
            ],
        }
    return summary


# --- report -----------------------------------------------------------------------------


def report(
    environment: Environment, clients: Clients, *, since: datetime, out_dir: Path
) -> list[Path]:
    """Collect both patterns' figures since ``since`` and write the report files."""
    from albums_cli import report as reporting  # noqa: PLC0415 - matplotlib only here
    from albums_cli.deployed_report import collect_deployed  # noqa: PLC0415

    with _aws(f"read the configuration of {environment.durable_function}"):
        configuration = clients.lambda_.get_function_configuration(
            FunctionName=environment.durable_function
        )
    variables = configuration.get("Environment", {}).get("Variables", {})
    try:
        dataset = collect_deployed(
            dynamodb=clients.dynamodb,
            table_name=environment.table,
            stepfunctions=clients.stepfunctions,
            state_machine_arn=environment.state_machine_arn,
            lambda_client=clients.lambda_,
            durable_function_name=environment.durable_function,
            cloudwatch=clients.cloudwatch,
            vision=str(variables.get("BEDROCK_MODEL_ID", "unknown")),
            since=since,
        )
    except reporting.ReportError as error:
        raise CliError(str(error), EXIT_ENVIRONMENT) from None
    return reporting.write_report(out_dir, reporting.build_report(dataset))


# --- redrive ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RedriveResult:
    """What ``redrive`` did (or, with ``dry_run``, would do)."""

    executions: tuple[str, ...]
    events: dict[str, int]
    dry_run: bool

    def to_dict(self) -> dict[str, Any]:
        """Return the result as JSON."""
        return {
            "redrivenExecutions": list(self.executions),
            "redeliveredEvents": self.events,
            "dryRun": self.dry_run,
        }


def failed_executions(environment: Environment, clients: Clients, since: datetime) -> list[str]:
    """Return the ARNs of the state machine's executions that failed since ``since``."""
    arns: list[str] = []
    with _aws("list failed Step Functions executions"):
        paginator = clients.stepfunctions.get_paginator("list_executions")
        for page in paginator.paginate(
            stateMachineArn=environment.state_machine_arn, statusFilter="FAILED"
        ):
            arns.extend(
                execution["executionArn"]
                for execution in page["executions"]
                if execution["startDate"] >= since
            )
    return arns


def redrive(
    environment: Environment, clients: Clients, *, since: datetime, dry_run: bool = False
) -> RedriveResult:
    """Redrive failed Step Functions executions and re-deliver the events in the DLQs.

    A DLQ message is deleted only after its event was delivered again; a failed delivery
    leaves it in the queue and is reported.
    """
    executions = failed_executions(environment, clients, since)
    if not dry_run:
        for arn in executions:
            with _aws(f"redrive {arn}"):
                clients.stepfunctions.redrive_execution(executionArn=arn)
    events: dict[str, int] = {}
    for name, url in sorted(environment.dead_letter_queues.items()):
        target = DLQ_TARGETS.get(name)
        if target is None:
            continue  # recorder and alert events are diagnostics: read them, not re-driven
        events[name] = _redeliver_queue(environment, clients, url, target, dry_run=dry_run)
    return RedriveResult(tuple(executions), events, dry_run)


def _redeliver_queue(
    environment: Environment, clients: Clients, url: str, target: str, *, dry_run: bool
) -> int:
    delivered = 0
    for message in _drain(clients, url):
        body = message["Body"]
        try:
            event = json.loads(body)
        except json.JSONDecodeError:
            continue  # not an event: left in the queue for a person to read
        if dry_run:
            delivered += 1
            continue
        with _aws(f"re-deliver a {target} event"):
            if target == "state-machine":
                clients.stepfunctions.start_execution(
                    stateMachineArn=environment.state_machine_arn, input=json.dumps(event)
                )
            else:
                clients.lambda_.invoke(
                    FunctionName=environment.durable_function,
                    InvocationType="Event",
                    Payload=json.dumps(event).encode(),
                )
            clients.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        delivered += 1
    return delivered


def _drain(clients: Clients, url: str) -> Iterator[dict[str, Any]]:
    """Yield the queue's messages; each stays invisible while it is handled."""
    seen: set[str] = set()
    while True:
        with _aws(f"receive from {url}"):
            response = clients.sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60, WaitTimeSeconds=0
            )
        messages = [m for m in response.get("Messages", []) if m["MessageId"] not in seen]
        if not messages:
            return
        for message in messages:
            seen.add(message["MessageId"])
            yield message


# --- plumbing ---------------------------------------------------------------------------


class _aws:  # noqa: N801 - used as a statement: `with _aws("what"):`
    """Turn an AWS error into one line naming what failed and the service's code."""

    def __init__(self, what: str) -> None:
        self.what = what

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: Any, exc: BaseException | None, traceback: Any) -> None:
        if isinstance(exc, ClientError):
            error = exc.response.get("Error", {})
            code, message = error.get("Code", "Error"), error.get("Message", "")
            raise CliError(
                f"{self.what}: {code}: {message}".rstrip(": "), EXIT_ENVIRONMENT
            ) from None
        if isinstance(exc, BotoCoreError):
            raise CliError(
                f"{self.what}: {exc} (check credentials and --region)", EXIT_ENVIRONMENT
            ) from None


def since_argument(text: str) -> datetime:
    """Parse ``--since``: an ISO time with a zone, or an age like ``24h`` or ``7d``."""
    from albums_cli.report import since_from_text  # noqa: PLC0415

    try:
        return since_from_text(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _print(value: Any, *, as_json: bool, text: Callable[[], str], out: TextIO) -> None:
    print(json.dumps(value, indent=2, default=str) if as_json else text(), file=out)


def _tasks_text(tasks: Sequence[ValidationTask]) -> str:
    if not tasks:
        return "no pending validation tasks"
    lines = [f"{'task':28} {'pattern':18} {'upload':26} expires"]
    for task in tasks:
        lines.append(
            f"{task.task_id:28} {task.workflow_type!s:18} {task.upload_id[:26]:26} "
            f"{task.expires_at}"
        )
        lines.extend(
            f"    {album.index}. {album.album_name} — {album.artist} ({album.year})"
            for album in task.albums
        )
    return "\n".join(lines)


# --- the parser ---------------------------------------------------------------------------


def _environment_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("environment (flags, then ALBUMS_* variables, then tf)")
    group.add_argument("--env", default="dev", help="environment root (default dev)")
    group.add_argument("--tf-dir", type=Path, help="Terraform root (default: per --env)")
    for setting, (_, variable, description) in SETTINGS.items():
        group.add_argument(
            f"--{setting.replace('_', '-')}", dest=setting, help=f"{description} (${variable})"
        )
    parser.add_argument("--json", action="store_true", help="print JSON")


def add_commands(commands: Any) -> None:
    """Register the deployed-environment commands on the ``albums`` sub-parsers."""
    upload_parser = commands.add_parser("upload", help="put photos into the uploads bucket")
    upload_parser.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    upload_parser.add_argument("--prefix", default="cli", help="folder under uploads/")
    upload_parser.set_defaults(run=_run(_upload))

    tasks_parser = commands.add_parser("tasks", help="list pending validation tasks")
    tasks_parser.set_defaults(run=_run(_tasks))

    validate_parser = commands.add_parser(
        "validate", help="answer an upload's validation in both patterns"
    )
    validate_parser.add_argument("task", help="a task id from `albums tasks`")
    answer = validate_parser.add_mutually_exclusive_group(required=True)
    answer.add_argument(
        "--year",
        action="append",
        type=year_correction,
        metavar="N=YYYY",
        help="correct album N's year (repeat for several albums)",
    )
    answer.add_argument("--accept", action="store_true", help="accept the albums as detected")
    answer.add_argument("--reject", metavar="REASON", help="reject the albums")
    validate_parser.set_defaults(run=_run(_validate))

    status_parser = commands.add_parser("status", help="one execution, or recent ones")
    status_parser.add_argument("execution", nargs="?", help="execution id or ARN")
    status_parser.set_defaults(run=_run(_status))

    report_parser = commands.add_parser("report", help="write the report of a deployed env")
    report_parser.add_argument("--since", type=since_argument, default="24h")
    report_parser.add_argument("--out", type=Path, default=Path("out/report"))
    report_parser.set_defaults(run=_run(_report))

    redrive_parser = commands.add_parser("redrive", help="redrive failed executions and DLQ events")
    redrive_parser.add_argument("--since", type=since_argument, default="7d")
    redrive_parser.add_argument("--dry-run", action="store_true")
    redrive_parser.set_defaults(run=_run(_redrive))

    for parser in (
        upload_parser,
        tasks_parser,
        validate_parser,
        status_parser,
        report_parser,
        redrive_parser,
    ):
        _environment_options(parser)


Command = Callable[[argparse.Namespace, Environment, Clients, TextIO], int]


def _run(command: Command) -> Callable[..., int]:
    """Resolve the environment, build clients, run ``command``; errors become one line."""

    def run(
        arguments: argparse.Namespace,
        *,
        clients: Clients | None = None,
        out: TextIO = sys.stdout,
        err: TextIO = sys.stderr,
        resolve: Callable[..., Environment] = resolve_environment,
    ) -> int:
        try:
            flags = {setting: getattr(arguments, setting, None) for setting in SETTINGS}
            environment = resolve(arguments.env, flags, tf_dir=arguments.tf_dir)
            clients = clients or Clients.for_region(environment.region)
            return command(arguments, environment, clients, out)
        except CliError as error:
            print(f"albums {arguments.command}: {error}", file=err)
            return error.exit_code

    return run


def _upload(args: argparse.Namespace, env: Environment, clients: Clients, out: TextIO) -> int:
    uploaded = upload(env, clients, args.paths, prefix=args.prefix)
    _print(
        {"uploaded": uploaded},
        as_json=args.json,
        text=lambda: "\n".join(f"uploaded s3://{env.bucket}/{key}" for key in uploaded),
        out=out,
    )
    return 0


def _tasks(args: argparse.Namespace, env: Environment, clients: Clients, out: TextIO) -> int:
    tasks = pending_tasks(env, clients)
    _print(
        [task.to_dict() for task in tasks],
        as_json=args.json,
        text=lambda: _tasks_text(tasks),
        out=out,
    )
    return 0


def _validate(args: argparse.Namespace, env: Environment, clients: Clients, out: TextIO) -> int:
    if args.reject is not None:
        if not args.reject.strip():
            raise CliError("--reject needs a reason")
        answer = ReviewAnswer.reject(args.reject)
    elif args.accept:
        answer = ReviewAnswer.accept()
    else:
        answer = ReviewAnswer.correct(distinct_corrections(args.year))
    outcome = validate(env, clients, args.task, answer)
    resumed: list[str] = outcome["resumed"]
    _print(
        outcome,
        as_json=args.json,
        text=lambda: (
            f"answered upload {outcome['uploadId']}: resumed "
            + (", ".join(resumed) or "no workflow")
        ),
        out=out,
    )
    return 0 if resumed else EXIT_FAILED


def _status(args: argparse.Namespace, env: Environment, clients: Clients, out: TextIO) -> int:
    if args.execution:
        described = status_of(env, clients, args.execution)
        _print(
            described,
            as_json=args.json,
            text=lambda: json.dumps(described, indent=2, default=str),
            out=out,
        )
        return 0
    summary = recent_executions(env, clients)

    def text() -> str:
        lines = []
        for pattern, figures in summary.items():
            counts = ", ".join(f"{n} {s}" for s, n in sorted(figures["by_status"].items()))
            lines.append(f"{pattern}: {counts or 'no executions'}")
            lines.extend(
                f"  {e['executionId']}  {e['status']:22} {e['uploadKey']}"
                for e in figures["newest"]
            )
        return "\n".join(lines)

    _print(summary, as_json=args.json, text=text, out=out)
    return 0


def _report(args: argparse.Namespace, env: Environment, clients: Clients, out: TextIO) -> int:
    paths = report(env, clients, since=args.since, out_dir=args.out)
    _print(
        [str(p) for p in paths],
        as_json=args.json,
        text=lambda: f"report written to {args.out}/: " + ", ".join(p.name for p in paths),
        out=out,
    )
    return 0


def _redrive(args: argparse.Namespace, env: Environment, clients: Clients, out: TextIO) -> int:
    result = redrive(env, clients, since=args.since, dry_run=args.dry_run)
    verb = "would redrive" if result.dry_run else "redrove"
    _print(
        result.to_dict(),
        as_json=args.json,
        text=lambda: (
            f"{verb} {len(result.executions)} failed executions; events: "
            + (", ".join(f"{q} {n}" for q, n in result.events.items()) or "no DLQs named")
        ),
        out=out,
    )
    return 0
