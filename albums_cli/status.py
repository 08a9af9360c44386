"""``albums status``: one execution with its albums and its service's view, or the recent ones.

An execution is named by its id (``sf-...``, ``ldf-...``, as the table knows it) or by its
Step Functions or durable execution ARN. The table says what the workflow recorded; the
service (``DescribeExecution``, ``ListDurableExecutionsByFunction``) says whether the run
itself is still going, which tells a stuck recorder from a stuck workflow.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from botocore.exceptions import ClientError

from albums.domain import keys
from albums.domain.errors import ExecutionNotFoundError, InvalidRecordError
from albums.domain.models import WorkflowType
from albums.domain.records import AlbumRecord, ExecutionRecord, parse_timestamp
from albums_cli.console import (
    EXIT_ENVIRONMENT,
    EXIT_NOT_FOUND,
    CliError,
    aws_call,
    client_error_code,
    describe_client_error,
    format_table,
    one_line,
)
from albums_cli.environment import Clients, Environment
from albums_cli.reviews import repositories

#: ``status`` of an execution its service no longer knows.
NOT_FOUND: Final = "NOT_FOUND"


@dataclass(frozen=True, slots=True)
class ExecutionRef:
    """An execution named on the command line: its id, pattern and ARN when given one."""

    execution_id: str
    workflow_type: WorkflowType
    arn: str | None = None


def execution_ref(text: str) -> ExecutionRef:
    """Read ``status``'s argument: an execution id (``sf-...``, ``ldf-...``) or an ARN.

    Raises
    ------
    CliError
        When it is neither.
    """
    value = text.strip()
    try:
        if value.startswith("arn:"):
            durable = "/durable-execution/" in value
            if not durable and ":states:" not in value:
                raise InvalidRecordError("not a Step Functions or durable execution ARN")
            pattern = WorkflowType.DURABLE_FUNCTIONS if durable else WorkflowType.STEP_FUNCTIONS
            return ExecutionRef(keys.execution_id_for(pattern, value), pattern, value)
        return ExecutionRef(value, keys.workflow_type_of_execution(value))
    except InvalidRecordError:
        raise CliError(
            f"{text!r} is not an execution id (sf-... or ldf-...) or execution ARN: "
            "see `albums status` for recent ones"
        ) from None


def _iso(moment: object) -> str | None:
    """Return a service timestamp as ISO-8601 (``None`` stays ``None``)."""
    if isinstance(moment, datetime):
        return moment.isoformat(timespec="seconds")
    return None if moment is None else str(moment)


def _step_functions_status(
    environment: Environment, clients: Clients, ref: ExecutionRef, name: str
) -> dict[str, Any] | None:
    if ref.arn is None and not environment.state_machine_arn:
        return None
    prefix = environment.state_machine_arn.replace(":stateMachine:", ":execution:", 1)
    arn = ref.arn or f"{prefix}:{name}"
    try:
        described = clients.stepfunctions.describe_execution(executionArn=arn)
    except ClientError as error:
        if client_error_code(error) == "ExecutionDoesNotExist":
            return {"executionArn": arn, "status": NOT_FOUND}
        raise CliError(
            f"describe execution {arn}: {describe_client_error(error)}", EXIT_ENVIRONMENT
        ) from error
    return {
        "executionArn": arn,
        "status": described["status"],
        "startDate": _iso(described.get("startDate")),
        "stopDate": _iso(described.get("stopDate")),
        "error": described.get("error"),
        "cause": one_line(described["cause"], 300) if described.get("cause") else None,
        "redriveCount": described.get("redriveCount"),
    }


def _durable_status(
    environment: Environment, clients: Clients, ref: ExecutionRef, name: str
) -> dict[str, Any] | None:
    if not environment.durable_function:
        return None
    with aws_call(f"list the durable executions named {name}"):
        listed = clients.lambda_.list_durable_executions_by_function(
            FunctionName=environment.durable_function, DurableExecutionName=name
        )
    found = [
        item
        for item in listed.get("DurableExecutions", [])
        if ref.arn is None or item.get("DurableExecutionArn") == ref.arn
    ]
    if not found:
        return {"executionArn": ref.arn, "status": NOT_FOUND}
    return {
        "executionArn": found[0].get("DurableExecutionArn"),
        "status": found[0].get("Status"),
        "startDate": _iso(found[0].get("StartTimestamp")),
        "stopDate": _iso(found[0].get("EndTimestamp")),
    }


def service_status(
    environment: Environment, clients: Clients, ref: ExecutionRef
) -> dict[str, Any] | None:
    """Return what the orchestrating service says of an execution.

    ``None`` when the environment does not name the service's resource (only the table
    was given); ``status`` is ``NOT_FOUND`` when the service no longer knows the run (its
    history expired, or the execution name was rewritten for the table).
    """
    name = ref.execution_id.split("-", 1)[1]
    if ref.workflow_type is WorkflowType.STEP_FUNCTIONS:
        return _step_functions_status(environment, clients, ref, name)
    return _durable_status(environment, clients, ref, name)


@dataclass(frozen=True, slots=True)
class ExecutionView:
    """One execution: its record, its albums and its service's status."""

    record: ExecutionRecord
    albums: tuple[AlbumRecord, ...]
    service: dict[str, Any] | None

    def to_dict(self) -> dict[str, Any]:
        """Return the execution as plain JSON (the record's attributes, albums, service)."""
        described = self.record.to_dict()
        described["durationS"] = duration_s(self.record)
        described["albums"] = [album.to_dict() for album in self.albums]
        described["service"] = self.service
        return described

    def render(self) -> str:
        """Return the execution as text: record, figures, service status, albums."""
        record = self.record
        ended = f", ended {record.ended_at}" if record.ended_at else ""
        lines = [
            f"{record.execution_id}  {record.workflow_type}  {record.status}",
            f"  upload     {record.upload.key}  (upload {record.upload.upload_id})",
            f"  created    {record.created_at}{ended}",
        ]
        duration = duration_s(record)
        if duration is not None:
            lines.append(f"  duration   {duration} s")
        if record.task_id:
            lines.append(f"  task       {record.task_id}")
        if record.failure is not None:
            lines.append(
                f"  failure    {record.failure.error} at {record.failure.step}: "
                f"{one_line(record.failure.cause, 200)}"
            )
        if record.rejection_reason:
            lines.append(f"  rejected   {record.rejection_reason}")
        if record.duplicate_of:
            lines.append(f"  duplicate  of {record.duplicate_of}")
        lines.extend(_figure_lines(record))
        if self.service:
            stopped = (
                f", stopped {self.service['stopDate']}" if self.service.get("stopDate") else ""
            )
            lines.append(f"  service    {self.service['status']}{stopped}")
            if self.service.get("error"):
                cause = self.service.get("cause") or ""
                lines.append(f"             {self.service['error']}: {cause}".rstrip(" :"))
        if self.albums:
            rows = [
                (
                    album.index,
                    album.album.album_name,
                    album.album.artist,
                    album.album.year,
                    album.year_original if album.year_original != album.album.year else None,
                    _price_text(album),
                )
                for album in self.albums
            ]
            headers = ("#", "ALBUM", "ARTIST", "YEAR", "WAS", "PRICE")
            lines.append(format_table(headers, rows, "  "))
        return "\n".join(lines)


def _figure_lines(record: ExecutionRecord) -> list[str]:
    metrics = record.metrics
    if metrics is None:
        return []
    figures = [
        f"{label} {value}"
        for label, value in (
            ("transitions", metrics.transitions),
            ("durable operations", metrics.durable_operations),
            ("replays", metrics.replays),
            ("cost USD", metrics.cost_usd),
        )
        if value is not None
    ]
    return ["  figures    " + ", ".join(figures)] if figures else []


def execution_status(environment: Environment, clients: Clients, execution: str) -> ExecutionView:
    """Return one execution: its record, albums and what its service says of it.

    Raises
    ------
    CliError
        Usage for an argument that is no execution id or ARN, not found when the table has
        no such execution.
    """
    ref = execution_ref(execution)
    repository = repositories(environment, clients)[ref.workflow_type]
    try:
        with aws_call(f"read execution {ref.execution_id}"):
            record = repository.get_execution(ref.execution_id)
            albums = repository.get_albums(ref.execution_id)
    except ExecutionNotFoundError:
        raise CliError(
            f"no execution {ref.execution_id} in {environment.table}: "
            "see `albums status` for recent ones",
            EXIT_NOT_FOUND,
        ) from None
    return ExecutionView(record, tuple(albums), service_status(environment, clients, ref))


def duration_s(record: ExecutionRecord) -> float | None:
    """Return how long an execution ran, in seconds (``None`` while it runs)."""
    if record.metrics is not None:
        return round(record.metrics.duration_ms / 1000, 3)
    if record.ended_at is None:
        return None
    elapsed = parse_timestamp(record.ended_at) - parse_timestamp(record.created_at)
    return round(elapsed.total_seconds(), 3)


def _price_text(album: AlbumRecord) -> str:
    if album.price is not None:
        return f"{album.price.price_estimate} {album.price.currency}"
    if album.price_error is not None:
        return f"failed: {album.price_error}"
    return "-"


def recent_executions(
    environment: Environment, clients: Clients, *, limit: int
) -> dict[str, list[ExecutionRecord]]:
    """Return the newest ``limit`` executions of each pattern, by pattern name."""
    recent: dict[str, list[ExecutionRecord]] = {}
    for pattern, repository in repositories(environment, clients).items():
        with aws_call(f"list the executions in {environment.table}"):
            recent[str(pattern)] = list(repository.list_executions(limit).items)
    return recent


def summary_view(recent: Mapping[str, Sequence[ExecutionRecord]]) -> dict[str, Any]:
    """Return the recent executions as JSON: per pattern, counts by status and the list."""
    return {
        pattern: {
            "byStatus": dict(Counter(str(record.status) for record in records)),
            "executions": [
                {
                    "executionId": record.execution_id,
                    "status": str(record.status),
                    "createdAt": record.created_at,
                    "durationS": duration_s(record),
                    "key": record.upload.key,
                }
                for record in records
            ],
        }
        for pattern, records in recent.items()
    }


def summary_text(view: Mapping[str, Any]) -> str:
    """Return :func:`summary_view` as text: per pattern, the counts and a table."""
    lines = []
    for pattern, figures in view.items():
        counts = ", ".join(f"{n} {s}" for s, n in sorted(figures["byStatus"].items()))
        lines.append(f"{pattern}: {counts or 'no executions'}")
        if figures["executions"]:
            rows = [
                (e["executionId"], e["status"], e["createdAt"], e["durationS"], e["key"])
                for e in figures["executions"]
            ]
            lines.append(
                format_table(("EXECUTION", "STATUS", "CREATED", "SECONDS", "KEY"), rows, "  ")
            )
    return "\n".join(lines)
