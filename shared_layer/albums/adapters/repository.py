"""DynamoDB repository of one orchestration pattern's executions, albums, tasks and claims.

:class:`AlbumRepository` wraps a low-level boto3 DynamoDB *client* (passed in; never
created here) for one :class:`~albums.domain.models.WorkflowType`. Item shapes come from
:mod:`albums.domain.records`; this module only turns them into requests.

Guarantees every write gives:

- **Idempotent.** Keys are deterministic, so a retried step rewrites the same item or
  finds it already written; it never adds a second one.
- **Forward only.** Conditional writes refuse to move an execution out of a terminal
  status or to answer a task twice (:class:`StateRegressionError`,
  :class:`TaskNotPendingError`).
- **Checked first.** Bad input (a wrong album set, an id of the other pattern, an
  unknown status) raises a typed error before any request is sent.
- **Typed failures.** Throttling and transient service errors become
  :class:`RepositoryThrottledError` (a ``TransientError``: retry the step).

The repository keeps no mutable state, so one instance may be shared by threads (the
durable SDK runs steps in worker threads; boto3 clients are thread-safe).
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar, cast

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from albums.domain import keys
from albums.domain.errors import (
    ExecutionNotFoundError,
    InvalidAlbumError,
    InvalidRecordError,
    RepositoryThrottledError,
    StateRegressionError,
    TaskNotFoundError,
    TaskNotPendingError,
)
from albums.domain.keys import UploadRef
from albums.domain.models import (
    ALBUMS_PER_IMAGE,
    Album,
    AlbumCorrection,
    AlbumPriceResult,
    ExecutionMetrics,
    ExecutionStatus,
    FailureDetails,
    TaskStatus,
    ValidatedAlbum,
    WorkflowType,
    check_album_set,
    completion_status,
    format_timestamp,
)
from albums.domain.records import (
    GSI1_NAME,
    TTL_ATTRIBUTE,
    AlbumRecord,
    ExecutionRecord,
    UploadClaim,
    ValidationTask,
    check_corrections,
    check_rejection_reason,
    check_upload_id,
    correction_fields,
    failure_fields,
    metrics_fields,
    price_fields,
    retention_ttl,
    to_timestamp,
    validated_album_fields,
    workflow_type_of_task,
)

if TYPE_CHECKING:
    from types_boto3_dynamodb.client import DynamoDBClient
    from types_boto3_dynamodb.type_defs import (
        QueryInputTypeDef,
        TransactWriteItemTypeDef,
        UpdateTypeDef,
        WriteRequestTypeDef,
    )

#: Largest page ``list_*`` returns.
MAX_PAGE_SIZE: Final = 100
#: BatchWriteItem attempts before unprocessed items are reported as throttling.
MAX_BATCH_ATTEMPTS: Final = 6
#: First and largest pause between BatchWriteItem attempts (seconds, doubled each time).
BATCH_BACKOFF_BASE: Final = 0.05
BATCH_BACKOFF_CAP: Final = 1.0

#: Error codes that mean "try again later", on any operation.
THROTTLING_CODES: Final = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionConflictException",
        "TransactionInProgressException",
    }
)
#: Cancellation reasons of a transaction that mean "try again later".
TRANSIENT_CANCELLATION_CODES: Final = frozenset(
    {"ThrottlingError", "ProvisionedThroughputExceeded", "TransactionConflict"}
)

_ACTIVE = (ExecutionStatus.RUNNING, ExecutionStatus.AWAITING_VALIDATION)
_SERIALIZER = TypeSerializer()
_DESERIALIZER = TypeDeserializer()

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ClaimResult:
    """Outcome of :meth:`AlbumRepository.claim_upload`.

    ``claimed`` is true for the execution that holds the claim — the first one, or the
    same one retrying its step — and false for a duplicate delivery, which should end as
    ``duplicate`` pointing at :attr:`execution_id_holding_claim`.
    """

    claimed: bool
    execution_id_holding_claim: str


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a listing, and the token that fetches the next (``None`` at the end)."""

    items: tuple[T, ...]
    next_token: str | None = None


def _every_item(fetch: Callable[[str | None], Page[T]]) -> Iterator[T]:
    """Yield the items of every page ``fetch(next_token)`` returns, reading pages lazily."""
    token: str | None = None
    while True:
        page = fetch(token)
        yield from page.items
        token = page.next_token
        if token is None:
            return


class _ConditionFailed(Exception):  # noqa: N818 - internal signal, never escapes the module
    """A condition of write ``index`` failed; ``item`` is the item as it was (if any)."""

    def __init__(self, index: int, item: dict[str, Any] | None) -> None:
        super().__init__(f"condition of write {index} failed")
        self.index = index
        self.item = item


class _Expression:
    """Placeholders of one request's expressions (names ``#n0``.., values ``:v0``..)."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.values: dict[str, Any] = {}

    def name(self, attribute: str) -> str:
        for placeholder, existing in self.names.items():
            if existing == attribute:
                return placeholder
        placeholder = f"#n{len(self.names)}"
        self.names[placeholder] = attribute
        return placeholder

    def value(self, value: Any) -> str:
        placeholder = f":v{len(self.values)}"
        self.values[placeholder] = _SERIALIZER.serialize(value)
        return placeholder

    def update(
        self,
        fields: Mapping[str, Any],
        *,
        keep: frozenset[str] = frozenset(),
        remove: Sequence[str] = (),
    ) -> str:
        """Return ``SET .. [REMOVE ..]``; attributes in ``keep`` are set only if absent."""
        clauses = []
        for attribute, value in fields.items():
            name, placeholder = self.name(attribute), self.value(value)
            if attribute in keep:
                clauses.append(f"{name} = if_not_exists({name}, {placeholder})")
            else:
                clauses.append(f"{name} = {placeholder}")
        expression = "SET " + ", ".join(clauses)
        if remove:
            expression += " REMOVE " + ", ".join(self.name(attribute) for attribute in remove)
        return expression

    def status_in(self, statuses: Sequence[str]) -> str:
        values = ", ".join(self.value(str(status)) for status in statuses)
        return f"{self.name('status')} IN ({values})"

    def equals(self, attribute: str, value: Any) -> str:
        return f"{self.name(attribute)} = {self.value(value)}"

    def update_request(
        self, table_name: str, key: Mapping[str, str], expression: str, condition: str
    ) -> UpdateTypeDef:
        request: UpdateTypeDef = {
            "TableName": table_name,
            "Key": _serialize(key),
            "UpdateExpression": expression,
            "ConditionExpression": condition,
            "ExpressionAttributeNames": self.names,
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        if self.values:
            request["ExpressionAttributeValues"] = self.values
        return request


def _upsert(
    item: Mapping[str, Any], keep: frozenset[str]
) -> tuple[dict[str, str], _Expression, str]:
    """Split a record's item into its key and a ``SET`` of the rest (``keep``: if absent).

    Returns the key, the expression holding the placeholders (for the condition to add
    its own) and the update expression.
    """
    fields = dict(item)
    key = {"pk": fields.pop("pk"), "sk": fields.pop("sk")}
    expression = _Expression()
    return key, expression, expression.update(fields, keep=keep)


def _serialize(item: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _SERIALIZER.serialize(value) for name, value in item.items()}


def _deserialize(item: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not item:
        return None
    return {name: _DESERIALIZER.deserialize(value) for name, value in item.items()}


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


@contextmanager
def _dynamodb_errors(operation: str) -> Iterator[None]:
    """Translate a failed DynamoDB call into this module's signals and typed errors."""
    try:
        yield
    except ClientError as error:
        response = cast("dict[str, Any]", error.response)
        code = _error_code(error)
        if code == "ConditionalCheckFailedException":
            raise _ConditionFailed(0, _deserialize(response.get("Item"))) from error
        if code == "TransactionCanceledException":
            reasons: list[dict[str, Any]] = response.get("CancellationReasons", [])
            for index, reason in enumerate(reasons):
                if reason.get("Code") == "ConditionalCheckFailed":
                    raise _ConditionFailed(index, _deserialize(reason.get("Item"))) from error
            found = {str(reason.get("Code")) for reason in reasons}
            if found & TRANSIENT_CANCELLATION_CODES:
                raise RepositoryThrottledError(
                    f"DynamoDB {operation} was cancelled ({', '.join(sorted(found))}); retry"
                ) from error
        if code in THROTTLING_CODES:
            raise RepositoryThrottledError(
                f"DynamoDB {operation} failed transiently ({code}); retry"
            ) from error
        raise


class AlbumRepository:
    """Executions, albums, validation tasks and upload claims of one pattern.

    Parameters
    ----------
    client
        A boto3 DynamoDB client (low-level, not the resource API).
    table_name
        The table (see :data:`albums.domain.records.TABLE_SCHEMA`).
    workflow_type
        The pattern this repository reads and writes; ids of the other pattern are refused.
    clock
        Returns the current aware time; injectable so tests get stable timestamps.
    sleep
        Pauses between BatchWriteItem retries; injectable so tests need not wait.
    """

    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        workflow_type: WorkflowType,
        *,
        clock: Callable[[], datetime] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not isinstance(table_name, str) or not table_name:
            raise InvalidRecordError("table name must be a non-empty string")
        self._client = client
        self._table = table_name
        self.workflow_type = WorkflowType(workflow_type)
        self._clock = clock or (lambda: datetime.now(UTC))
        self._sleep = sleep

    # --- helpers -----------------------------------------------------------------------

    def _now(self) -> str:
        return format_timestamp(self._clock())

    def _own_execution(self, execution_id: str) -> str:
        owner = keys.workflow_type_of_execution(execution_id)
        if owner is not self.workflow_type:
            raise InvalidRecordError(
                f"execution {execution_id!r} belongs to {owner}, not {self.workflow_type}"
            )
        return execution_id

    def _own_task(self, task_id: str) -> str:
        owner = workflow_type_of_task(task_id)
        if owner is not self.workflow_type:
            raise InvalidRecordError(
                f"task {task_id!r} belongs to {owner}, not {self.workflow_type}"
            )
        return task_id

    def _execution_key(self, execution_id: str) -> dict[str, str]:
        return {"pk": keys.execution_pk(self.workflow_type, execution_id), "sk": keys.EXECUTION_SK}

    def _task_key(self, task_id: str) -> dict[str, str]:
        return {"pk": keys.task_pk(self.workflow_type, task_id), "sk": keys.TASK_SK}

    def _get(self, key: Mapping[str, str]) -> dict[str, Any] | None:
        with _dynamodb_errors("GetItem"):
            response = self._client.get_item(
                TableName=self._table, Key=_serialize(key), ConsistentRead=True
            )
        return _deserialize(response.get("Item"))

    def _update(self, request: UpdateTypeDef) -> dict[str, Any]:
        with _dynamodb_errors("UpdateItem"):
            response = self._client.update_item(**request, ReturnValues="ALL_NEW")
        return _deserialize(response.get("Attributes")) or {}

    def _transact(self, items: list[TransactWriteItemTypeDef]) -> None:
        with _dynamodb_errors("TransactWriteItems"):
            self._client.transact_write_items(TransactItems=items)

    @staticmethod
    def _active_guard(expression: _Expression) -> str:
        """Condition: the execution exists and has not ended."""
        return f"attribute_exists(pk) AND {expression.status_in(_ACTIVE)}"

    def _refuse_execution_write(
        self, execution_id: str, item: dict[str, Any] | None, target: str
    ) -> ExecutionNotFoundError | StateRegressionError:
        if item is None:
            return ExecutionNotFoundError(f"execution {execution_id} does not exist")
        return StateRegressionError(
            f"execution {execution_id} is already {item.get('status')}; refusing to {target}"
        )

    # --- claims and executions ---------------------------------------------------------

    def claim_upload(self, upload: UploadRef, execution_id: str) -> ClaimResult:
        """Claim ``upload`` for ``execution_id`` so a duplicate delivery starts no second run.

        Returns
        -------
        ClaimResult
            ``claimed=True`` when this execution holds the claim (first claim, or the same
            execution retrying); ``claimed=False`` with the holder's id for a duplicate.
        """
        self._own_execution(execution_id)
        if not isinstance(upload, UploadRef):
            raise InvalidRecordError("upload must be an UploadRef")
        claim = UploadClaim(upload, execution_id, self.workflow_type, self._now())
        try:
            with _dynamodb_errors("PutItem"):
                self._client.put_item(
                    TableName=self._table,
                    Item=_serialize(claim.to_item()),
                    ConditionExpression="attribute_not_exists(pk)",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
        except _ConditionFailed as failed:
            existing = failed.item or self._get(
                {"pk": keys.claim_pk(self.workflow_type, upload.upload_id), "sk": keys.CLAIM_SK}
            )
            if existing is None:  # pragma: no cover - claims are never deleted
                raise InvalidRecordError("upload claim vanished while being read") from None
            holder = UploadClaim.from_item(existing).execution_id
            return ClaimResult(claimed=holder == execution_id, execution_id_holding_claim=holder)
        return ClaimResult(claimed=True, execution_id_holding_claim=execution_id)

    def get_claim(self, upload_id: str) -> UploadClaim | None:
        """Return the claim on an upload, or ``None`` when nobody claimed it."""
        key = {"pk": keys.claim_pk(self.workflow_type, check_upload_id(upload_id))}
        item = self._get({**key, "sk": keys.CLAIM_SK})
        return None if item is None else UploadClaim.from_item(item)

    def put_execution(
        self,
        execution_id: str,
        upload: UploadRef,
        *,
        status: ExecutionStatus = ExecutionStatus.RUNNING,
        created_at: datetime | str | None = None,
        duplicate_of: str | None = None,
    ) -> ExecutionRecord:
        """Write a new execution record, ``running`` or (for a duplicate delivery) ``duplicate``.

        Idempotent: when the record already exists for the same upload in the same status
        (a retried step), nothing is written and the stored record is returned.

        Raises
        ------
        StateRegressionError
            When the record exists in another status (it has moved on, or ended).
        InvalidRecordError
            When the record exists for another upload, or the input is malformed.
        """
        self._own_execution(execution_id)
        status = ExecutionStatus(status)
        if status not in (ExecutionStatus.RUNNING, ExecutionStatus.DUPLICATE):
            raise InvalidRecordError(
                f"a new execution is running or duplicate, not {status}; "
                "later statuses are reached through the transition methods"
            )
        now = self._now()
        record = ExecutionRecord(
            execution_id=execution_id,
            workflow_type=self.workflow_type,
            status=status,
            upload=upload,
            created_at=to_timestamp(created_at, "createdAt") if created_at else now,
            updated_at=now,
            ended_at=now if status.is_terminal else None,
            duplicate_of=duplicate_of,
        )
        try:
            with _dynamodb_errors("PutItem"):
                self._client.put_item(
                    TableName=self._table,
                    Item=_serialize(record.to_item()),
                    ConditionExpression="attribute_not_exists(pk)",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
        except _ConditionFailed as failed:
            item = failed.item or self._get(self._execution_key(execution_id))
            if item is None:  # pragma: no cover - executions are never deleted
                raise ExecutionNotFoundError(f"execution {execution_id} vanished") from None
            existing = ExecutionRecord.from_item(item)
            if existing.upload.upload_id != upload.upload_id:
                raise InvalidRecordError(
                    f"execution {execution_id} already exists for another upload"
                ) from None
            if existing.status is status and existing.duplicate_of == duplicate_of:
                return existing
            raise StateRegressionError(
                f"execution {execution_id} is already {existing.status}; "
                f"refusing to write it as {status}"
            ) from None
        return record

    def get_execution(self, execution_id: str) -> ExecutionRecord:
        """Return an execution record.

        Raises
        ------
        ExecutionNotFoundError
            When no record exists.
        """
        self._own_execution(execution_id)
        item = self._get(self._execution_key(execution_id))
        if item is None:
            raise ExecutionNotFoundError(f"execution {execution_id} does not exist")
        return ExecutionRecord.from_item(item)

    def complete_execution(
        self,
        execution_id: str,
        status: ExecutionStatus,
        *,
        metrics: ExecutionMetrics | None = None,
        rejection_reason: str | None = None,
    ) -> ExecutionRecord:
        """End an execution as ``completed``, ``completed_with_errors`` or ``rejected``.

        Allowed while the execution is running or awaiting validation. A retry that finds
        it already in ``status`` writes nothing and returns the stored record.

        Raises
        ------
        StateRegressionError
            When the execution already ended in another status.
        ExecutionNotFoundError
            When no record exists.
        InvalidRecordError
            For a status that is not a completion, or a reason on a non-rejection.
        """
        self._own_execution(execution_id)
        status = ExecutionStatus(status)
        allowed = (
            ExecutionStatus.COMPLETED,
            ExecutionStatus.COMPLETED_WITH_ERRORS,
            ExecutionStatus.REJECTED,
        )
        if status not in allowed:
            raise InvalidRecordError(
                f"complete_execution ends as {', '.join(allowed)}, not {status}; "
                "use fail_execution for failures"
            )
        fields: dict[str, Any] = {}
        if rejection_reason is not None:
            if status is not ExecutionStatus.REJECTED:
                raise InvalidRecordError("only a rejected execution carries a rejection reason")
            fields["rejectionReason"] = check_rejection_reason(rejection_reason)
        if metrics is not None:
            fields.update(metrics_fields(metrics))
        return self._end_execution(execution_id, status, fields)

    def fail_execution(
        self, execution_id: str, failure: FailureDetails, *, upload: UploadRef | None = None
    ) -> ExecutionRecord:
        """End an execution as ``failed`` with the error, its cause and the step it hit.

        Same rules as :meth:`complete_execution`: only from a non-terminal status; a retry
        that finds it already failed writes nothing. The execution record is written with
        the initial data, so a step before that (the vision call) fails an execution that
        has no record yet: given its ``upload``, the record is then created as failed.

        Raises
        ------
        ExecutionNotFoundError
            When no record exists and no ``upload`` is given.
        StateRegressionError
            When the execution already ended in another status.
        """
        self._own_execution(execution_id)
        if not isinstance(failure, FailureDetails):
            raise InvalidRecordError("failure must be FailureDetails")
        if upload is None:
            return self._end_execution(
                execution_id, ExecutionStatus.FAILED, failure_fields(failure)
            )
        now = self._now()
        record = ExecutionRecord(
            execution_id=execution_id,
            workflow_type=self.workflow_type,
            status=ExecutionStatus.FAILED,
            upload=upload,
            created_at=now,
            updated_at=now,
            ended_at=now,
            failure=failure,
        )
        item = record.to_item()
        # What the record already says about itself stays; only the ending is written.
        kept = frozenset(item) - {"status", "updatedAt", "endedAt", "failure"}
        key, expression, update = _upsert(item, kept)
        condition = f"attribute_not_exists(pk) OR {expression.status_in(_ACTIVE)}"
        request = expression.update_request(self._table, key, update, condition)
        try:
            return ExecutionRecord.from_item(self._update(request))
        except _ConditionFailed as failed:
            if failed.item is not None and failed.item.get("status") == ExecutionStatus.FAILED:
                return ExecutionRecord.from_item(failed.item)
            raise self._refuse_execution_write(
                execution_id, failed.item, "mark it failed"
            ) from None

    def _end_execution(
        self, execution_id: str, status: ExecutionStatus, fields: dict[str, Any]
    ) -> ExecutionRecord:
        now = self._now()
        expression = _Expression()
        update = expression.update(
            {"status": status.value, "updatedAt": now, "endedAt": now, **fields}
        )
        condition = self._active_guard(expression)
        request = expression.update_request(
            self._table, self._execution_key(execution_id), update, condition
        )
        try:
            return ExecutionRecord.from_item(self._update(request))
        except _ConditionFailed as failed:
            if failed.item is not None and failed.item.get("status") == status:
                return ExecutionRecord.from_item(failed.item)
            raise self._refuse_execution_write(
                execution_id, failed.item, f"mark it {status}"
            ) from None

    def record_metrics(self, execution_id: str, metrics: ExecutionMetrics) -> ExecutionRecord:
        """Write duration and cost figures on an execution, even one that has ended.

        The Step Functions recorder runs after the state machine ends, so this is the one
        write allowed on a terminal record; it touches only the metric attributes.

        Raises
        ------
        ExecutionNotFoundError
            When no record exists.
        """
        self._own_execution(execution_id)
        if not isinstance(metrics, ExecutionMetrics):
            raise InvalidRecordError("metrics must be ExecutionMetrics")
        expression = _Expression()
        update = expression.update({**metrics_fields(metrics), "updatedAt": self._now()})
        request = expression.update_request(
            self._table, self._execution_key(execution_id), update, "attribute_exists(pk)"
        )
        try:
            return ExecutionRecord.from_item(self._update(request))
        except _ConditionFailed:
            raise ExecutionNotFoundError(f"execution {execution_id} does not exist") from None

    def list_executions(
        self, limit: int = 25, *, newest_first: bool = True, next_token: str | None = None
    ) -> Page[ExecutionRecord]:
        """List this pattern's executions by creation time, one page at a time.

        Parameters
        ----------
        limit
            Page size, 1..:data:`MAX_PAGE_SIZE`.
        newest_first
            Order of the listing (the token remembers nothing else, so keep it constant
            across pages).
        next_token
            The previous page's :attr:`Page.next_token`.
        """
        partition = keys.executions_gsi1pk(self.workflow_type)
        items, token = self._query_gsi1(partition, limit, not newest_first, next_token)
        return Page(tuple(ExecutionRecord.from_item(item) for item in items), token)

    def iter_executions(self, *, page_size: int = MAX_PAGE_SIZE) -> Iterator[ExecutionRecord]:
        """Yield every execution of this pattern, newest first, reading page by page.

        Stop iterating early to read no further pages.
        """
        return _every_item(lambda token: self.list_executions(page_size, next_token=token))

    # --- albums ------------------------------------------------------------------------

    def _album_put(self, execution_id: str, album: Album, now: str) -> dict[str, Any]:
        record = AlbumRecord(execution_id, self.workflow_type, album, now, now)
        return record.to_item()

    def put_albums(self, execution_id: str, albums: Sequence[Album]) -> None:
        """Write the six albums of an execution in one BatchWriteItem.

        Unprocessed items are retried with bounded exponential backoff. Idempotent because
        the keys are deterministic; unlike :meth:`store_initial_data` it cannot be
        conditional, so call it only before the albums are validated.

        Raises
        ------
        InvalidAlbumError
            When ``albums`` is not exactly indices 1..6 (nothing is written).
        RepositoryThrottledError
            When items remain unprocessed after :data:`MAX_BATCH_ATTEMPTS` attempts.
        """
        self._own_execution(execution_id)
        ordered = self._album_set(albums)
        now = self._now()
        requests: list[WriteRequestTypeDef] = [
            {"PutRequest": {"Item": _serialize(self._album_put(execution_id, album, now))}}
            for album in ordered
        ]
        for attempt in range(MAX_BATCH_ATTEMPTS):
            with _dynamodb_errors("BatchWriteItem"):
                response = self._client.batch_write_item(RequestItems={self._table: requests})
            unprocessed = response.get("UnprocessedItems", {}).get(self._table, [])
            if not unprocessed:
                return
            requests = cast("list[WriteRequestTypeDef]", unprocessed)
            if attempt + 1 < MAX_BATCH_ATTEMPTS:
                self._sleep(min(BATCH_BACKOFF_CAP, BATCH_BACKOFF_BASE * 2**attempt))
        raise RepositoryThrottledError(
            f"{len(requests)} album writes stayed unprocessed after {MAX_BATCH_ATTEMPTS} attempts"
        )

    @staticmethod
    def _album_set(albums: Sequence[Album]) -> tuple[Album, ...]:
        if not all(isinstance(album, Album) for album in albums):
            raise InvalidAlbumError("albums must be Album values")
        return check_album_set(list(albums))

    def store_initial_data(
        self,
        execution_id: str,
        upload: UploadRef,
        albums: Sequence[Album],
        *,
        created_at: datetime | str | None = None,
    ) -> None:
        """Write the execution record and its six albums in one transaction (all or none).

        The execution is upserted as ``running`` (its ``createdAt`` kept if a retried step
        already wrote it); each album is written unless it was already validated or priced.
        A retried step rewrites the same seven items.

        Cost: TransactWriteItems consumes 2 write units per item (up to 1 KB), so 14 units,
        about $8.75 per million executions at $0.625 per million on-demand write units;
        a PutItem plus :meth:`put_albums` would take 7 units ($4.38) but could leave an
        execution without albums, or albums without an execution, when it fails halfway.

        Raises
        ------
        InvalidAlbumError
            When ``albums`` is not exactly indices 1..6 (nothing is written).
        StateRegressionError
            When the execution has moved past ``running`` or an album was already validated.
        InvalidRecordError
            When the execution exists for another upload.
        """
        self._own_execution(execution_id)
        ordered = self._album_set(albums)
        now = self._now()
        record = ExecutionRecord(
            execution_id=execution_id,
            workflow_type=self.workflow_type,
            status=ExecutionStatus.RUNNING,
            upload=upload,
            created_at=to_timestamp(created_at, "createdAt") if created_at else now,
            updated_at=now,
        )
        key, expression, update = _upsert(
            record.to_item(), frozenset({"createdAt", "gsi1pk", "gsi1sk"})
        )
        condition = (
            f"attribute_not_exists(pk) OR ({expression.equals('status', 'running')} "
            f"AND {expression.equals('uploadId', upload.upload_id)})"
        )
        writes: list[TransactWriteItemTypeDef] = [
            {"Update": expression.update_request(self._table, key, update, condition)}
        ]
        album_condition = "attribute_not_exists(yearOriginal) AND attribute_not_exists(priceStatus)"
        for album in ordered:
            writes.append(
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": _serialize(self._album_put(execution_id, album, now)),
                        "ConditionExpression": album_condition,
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                    }
                }
            )
        try:
            self._transact(writes)
        except _ConditionFailed as failed:
            if failed.index > 0:
                raise StateRegressionError(
                    f"album {failed.index} of execution {execution_id} was already "
                    "validated or priced; refusing to overwrite it"
                ) from None
            stored = failed.item or {}
            if stored.get("uploadId") != upload.upload_id:
                raise InvalidRecordError(
                    f"execution {execution_id} already exists for another upload"
                ) from None
            raise StateRegressionError(
                f"execution {execution_id} is already {stored.get('status')}; "
                "refusing to store its initial data again"
            ) from None

    def get_albums(self, execution_id: str) -> tuple[AlbumRecord, ...]:
        """Return the albums of an execution in index order (empty when none are stored)."""
        self._own_execution(execution_id)
        expression = _Expression()
        condition = (
            f"{expression.equals('pk', keys.execution_pk(self.workflow_type, execution_id))} "
            f"AND begins_with({expression.name('sk')}, {expression.value(keys.ALBUM_SK_PREFIX)})"
        )
        request: QueryInputTypeDef = {
            "TableName": self._table,
            "KeyConditionExpression": condition,
            "ExpressionAttributeNames": expression.names,
            "ExpressionAttributeValues": expression.values,
            "ConsistentRead": True,
        }
        items, _ = self._query(request, max_items=ALBUMS_PER_IMAGE)
        records = [AlbumRecord.from_item(item) for item in items]
        return tuple(sorted(records, key=lambda record: record.index))

    def apply_validated_data(
        self, execution_id: str, validated_albums: Sequence[ValidatedAlbum]
    ) -> None:
        """Write the reviewed albums (``year``, ``yearOriginal``, ``yearValidated``, names).

        One transaction: the six album updates, each conditional on the album existing,
        and the execution back to ``running`` (conditional on it not having ended).

        Raises
        ------
        InvalidAlbumError
            When the albums are not exactly indices 1..6 (nothing is written).
        ExecutionNotFoundError
            When the execution does not exist.
        StateRegressionError
            When the execution has ended.
        InvalidRecordError
            When an album was never stored.
        """
        self._own_execution(execution_id)
        if not all(isinstance(v, ValidatedAlbum) for v in validated_albums):
            raise InvalidAlbumError("validated albums must be ValidatedAlbum values")
        self._album_set([v.album for v in validated_albums])
        ordered = sorted(validated_albums, key=lambda v: v.album.index)
        now = self._now()
        writes = [self._execution_back_to_running(execution_id, now)]
        for validated in ordered:
            expression = _Expression()
            update = expression.update({**validated_album_fields(validated, now), "updatedAt": now})
            key = {
                "pk": keys.execution_pk(self.workflow_type, execution_id),
                "sk": keys.album_sk(validated.album.index),
            }
            writes.append(
                {
                    "Update": expression.update_request(
                        self._table, key, update, "attribute_exists(pk)"
                    )
                }
            )
        try:
            self._transact(writes)
        except _ConditionFailed as failed:
            raise self._album_write_refused(execution_id, failed, "apply validated data") from None

    def _execution_back_to_running(self, execution_id: str, now: str) -> TransactWriteItemTypeDef:
        expression = _Expression()
        update = expression.update({"status": ExecutionStatus.RUNNING.value, "updatedAt": now})
        condition = self._active_guard(expression)
        return {
            "Update": expression.update_request(
                self._table, self._execution_key(execution_id), update, condition
            )
        }

    def _album_write_refused(
        self, execution_id: str, failed: _ConditionFailed, target: str
    ) -> Exception:
        if failed.index == 0:
            return self._refuse_execution_write(execution_id, failed.item, target)
        return InvalidRecordError(
            f"album {failed.index} of execution {execution_id} does not exist; "
            "store the initial data first"
        )

    def store_results(
        self, execution_id: str, results: Sequence[AlbumPriceResult]
    ) -> ExecutionStatus:
        """Write each album's price (or its ``failed`` status and error) and end the execution.

        One transaction, all or none: the execution's end (``completed`` when every album
        is priced, else ``completed_with_errors``; conditional on it not having ended) and
        six album updates, each conditional on the album existing. A retry that finds the
        execution already ended in that status writes nothing.

        Returns
        -------
        ExecutionStatus
            The status the execution ended in.

        Raises
        ------
        InvalidAlbumError
            When there is not exactly one result per album index (nothing is written).
        ExecutionNotFoundError, StateRegressionError, InvalidRecordError
            As for :meth:`apply_validated_data`.
        """
        self._own_execution(execution_id)
        if not all(isinstance(result, AlbumPriceResult) for result in results):
            raise InvalidAlbumError("results must be AlbumPriceResult values")
        outcome = completion_status(list(results))
        now = self._now()
        end = _Expression()
        end_update = end.update({"status": outcome.value, "updatedAt": now, "endedAt": now})
        writes: list[TransactWriteItemTypeDef] = [
            {
                "Update": end.update_request(
                    self._table,
                    self._execution_key(execution_id),
                    end_update,
                    self._active_guard(end),
                )
            }
        ]
        for result in sorted(results, key=lambda result: result.index):
            fields, remove = price_fields(result, now)
            expression = _Expression()
            update = expression.update({**fields, "updatedAt": now}, remove=remove)
            key = {
                "pk": keys.execution_pk(self.workflow_type, execution_id),
                "sk": keys.album_sk(result.index),
            }
            writes.append(
                {
                    "Update": expression.update_request(
                        self._table, key, update, "attribute_exists(pk)"
                    )
                }
            )
        try:
            self._transact(writes)
        except _ConditionFailed as failed:
            if failed.index == 0 and (failed.item or {}).get("status") == outcome:
                return outcome
            raise self._album_write_refused(execution_id, failed, "store results") from None
        return outcome

    # --- validation tasks --------------------------------------------------------------

    def create_validation_task(
        self,
        execution_id: str,
        upload_id: str,
        albums: Sequence[Album],
        resume_token: str,
        expires_at: datetime | str,
    ) -> ValidationTask:
        """Create the pending review of an execution and mark the execution as awaiting it.

        One transaction. The task id is :func:`albums.domain.keys.task_id_for` of the
        execution, so a retried step finds the same task; while it is still pending the
        retry refreshes its resume token and expiry (a retried Step Functions task gets a
        new token) and keeps its ``createdAt``.

        Raises
        ------
        TaskNotPendingError
            When the task was already answered.
        ExecutionNotFoundError
            When the execution does not exist.
        StateRegressionError
            When the execution has ended.
        InvalidRecordError
            When ``upload_id`` is not the execution's upload, or the input is malformed.
        """
        self._own_execution(execution_id)
        task_id = keys.task_id_for(self.workflow_type, execution_id)
        now = self._now()
        task = ValidationTask(
            task_id=task_id,
            execution_id=execution_id,
            workflow_type=self.workflow_type,
            upload_id=upload_id,
            status=TaskStatus.PENDING,
            albums=tuple(self._album_set(albums)),
            resume_token=resume_token,
            expires_at=to_timestamp(expires_at, "expiresAt"),
            created_at=now,
            updated_at=now,
        )
        key, task_expression, task_update = _upsert(task.to_item(), frozenset({"createdAt"}))
        task_condition = (
            f"attribute_not_exists(pk) OR "
            f"{task_expression.equals('status', TaskStatus.PENDING.value)}"
        )
        execution_expression = _Expression()
        execution_update = execution_expression.update(
            {
                "status": ExecutionStatus.AWAITING_VALIDATION.value,
                "taskId": task_id,
                "updatedAt": now,
            }
        )
        execution_condition = (
            f"{self._active_guard(execution_expression)} AND "
            f"{execution_expression.equals('uploadId', upload_id)}"
        )
        writes: list[TransactWriteItemTypeDef] = [
            {
                "Update": task_expression.update_request(
                    self._table, key, task_update, task_condition
                )
            },
            {
                "Update": execution_expression.update_request(
                    self._table,
                    self._execution_key(execution_id),
                    execution_update,
                    execution_condition,
                )
            },
        ]
        try:
            self._transact(writes)
        except _ConditionFailed as failed:
            stored = failed.item
            if failed.index == 0:
                raise TaskNotPendingError(
                    f"validation task {task_id} is already {(stored or {}).get('status')}"
                ) from None
            if stored is not None and stored.get("uploadId") != upload_id:
                raise InvalidRecordError(
                    f"upload {upload_id} is not the upload of execution {execution_id}"
                ) from None
            raise self._refuse_execution_write(execution_id, stored, "await validation") from None
        return self.get_task(task_id)

    def complete_validation_task(
        self,
        task_id: str,
        status: TaskStatus,
        *,
        corrections: Sequence[AlbumCorrection] = (),
        rejection_reason: str | None = None,
    ) -> ValidationTask:
        """Answer a pending task: ``completed`` (with corrections), ``rejected`` or ``timeout``.

        Conditional on the task being pending, so a task is answered once. Moves the task
        to its new status's GSI1 partition, sets ``answeredAt`` and a ``ttl``
        :data:`~albums.domain.records.TASK_RETENTION` later. Returns the answered task (with
        its resume token, which the caller needs to resume the run).

        Raises
        ------
        TaskNotPendingError
            When the task was already answered; the message names its status.
        TaskNotFoundError
            When the task does not exist.
        InvalidRecordError
            For ``pending`` as the answer, corrections on a non-completion, or a reason on
            a non-rejection.
        """
        self._own_task(task_id)
        status = TaskStatus(status)
        if status is TaskStatus.PENDING:
            raise InvalidRecordError("a task is answered as completed, rejected or timeout")
        checked = check_corrections(corrections)
        if checked and status is not TaskStatus.COMPLETED:
            raise InvalidRecordError("only a completed task carries corrections")
        fields: dict[str, Any] = {}
        if checked:
            fields["corrections"] = [correction_fields(c) for c in checked]
        if rejection_reason is not None:
            if status is not TaskStatus.REJECTED:
                raise InvalidRecordError("only a rejected task carries a rejection reason")
            fields["rejectionReason"] = check_rejection_reason(rejection_reason)
        now = self._now()
        expression = _Expression()
        update = expression.update(
            {
                "status": status.value,
                "gsi1pk": keys.tasks_gsi1pk(self.workflow_type, status),
                "answeredAt": now,
                "updatedAt": now,
                TTL_ATTRIBUTE: retention_ttl(now),
                **fields,
            }
        )
        condition = (
            f"attribute_exists(pk) AND {expression.equals('status', TaskStatus.PENDING.value)}"
        )
        request = expression.update_request(self._table, self._task_key(task_id), update, condition)
        try:
            return ValidationTask.from_item(self._update(request))
        except _ConditionFailed as failed:
            if failed.item is None:
                raise TaskNotFoundError(f"validation task {task_id} does not exist") from None
            raise TaskNotPendingError(
                f"validation task {task_id} is already {failed.item.get('status')}, not pending"
            ) from None

    def get_task(self, task_id: str) -> ValidationTask:
        """Return a validation task.

        Raises
        ------
        TaskNotFoundError
            When no task exists.
        """
        self._own_task(task_id)
        item = self._get(self._task_key(task_id))
        if item is None:
            raise TaskNotFoundError(f"validation task {task_id} does not exist")
        return ValidationTask.from_item(item)

    def list_pending_tasks(
        self, limit: int = 25, *, next_token: str | None = None
    ) -> Page[ValidationTask]:
        """List this pattern's pending tasks, soonest expiry first, one page at a time."""
        return self.list_tasks(TaskStatus.PENDING, limit, next_token=next_token)

    def list_tasks(
        self,
        status: TaskStatus,
        limit: int = 25,
        *,
        expiring_after: datetime | None = None,
        next_token: str | None = None,
    ) -> Page[ValidationTask]:
        """List this pattern's tasks in one status, soonest expiry first, page by page.

        ``expiring_after`` keeps only tasks whose ``expiresAt`` is later (read on the
        index's sort key, so older tasks are never read).
        """
        partition = keys.tasks_gsi1pk(self.workflow_type, TaskStatus(status))
        after = None if expiring_after is None else to_timestamp(expiring_after, "expiring_after")
        items, token = self._query_gsi1(partition, limit, True, next_token, after=after)
        return Page(tuple(ValidationTask.from_item(item) for item in items), token)

    def iter_tasks(
        self,
        status: TaskStatus,
        *,
        expiring_after: datetime | None = None,
        page_size: int = MAX_PAGE_SIZE,
    ) -> Iterator[ValidationTask]:
        """Yield every task of this pattern in one status (see :meth:`list_tasks`)."""
        return _every_item(
            lambda token: self.list_tasks(
                status, page_size, expiring_after=expiring_after, next_token=token
            )
        )

    # --- GSI1 listing ------------------------------------------------------------------

    def _query_gsi1(
        self,
        partition: str,
        limit: int,
        ascending: bool,
        next_token: str | None,
        *,
        after: str | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        if isinstance(limit, bool) or not isinstance(limit, int):
            raise InvalidRecordError(f"limit must be an integer, got {limit!r}")
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise InvalidRecordError(
                f"limit must be an integer in 1..{MAX_PAGE_SIZE}, got {limit!r}"
            )
        start = _decode_token(next_token, partition) if next_token is not None else None
        expression = _Expression()
        condition = expression.equals("gsi1pk", partition)
        if after is not None:
            condition += f" AND {expression.name('gsi1sk')} > {expression.value(after)}"
        request: QueryInputTypeDef = {
            "TableName": self._table,
            "IndexName": GSI1_NAME,
            "KeyConditionExpression": condition,
            "ExpressionAttributeNames": expression.names,
            "ExpressionAttributeValues": expression.values,
            "ScanIndexForward": ascending,
        }
        items, last = self._query(request, max_items=limit, start=start)
        # The partition already isolates the pattern; the check keeps it so.
        mine = [item for item in items if item.get("workflowType") == self.workflow_type.value]
        return mine, (_encode_token(last) if last is not None else None)

    def _query(
        self,
        request: QueryInputTypeDef,
        *,
        max_items: int,
        start: Mapping[str, Any] | None = None,
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """Run a query page by page until ``max_items`` items or the end; bounded."""
        items: list[dict[str, Any]] = []
        last: dict[str, Any] | None = dict(start) if start is not None else None
        while len(items) < max_items:
            request["Limit"] = max_items - len(items)
            if last is not None:
                request["ExclusiveStartKey"] = _serialize(last)
            with _dynamodb_errors("Query"):
                response = self._client.query(**request)
            items.extend(_deserialize(raw) or {} for raw in response.get("Items", []))
            last = _deserialize(response.get("LastEvaluatedKey"))
            if last is None:
                break
        return items, last


def _encode_token(last_key: Mapping[str, Any]) -> str:
    data = json.dumps(dict(last_key), sort_keys=True, separators=(",", ":"))
    return base64.urlsafe_b64encode(data.encode()).decode()


def _decode_token(token: str, partition: str) -> dict[str, str]:
    """Read a page token; refuse one that is malformed or from another listing."""
    invalid = InvalidRecordError("next_token is not a token of this listing")
    if not isinstance(token, str) or len(token) > 2048:
        raise invalid
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, binascii.Error):
        raise invalid from None
    expected = {"pk", "sk", "gsi1pk", "gsi1sk"}
    if (
        not isinstance(data, dict)
        or set(data) != expected
        or not all(isinstance(value, str) for value in data.values())
        or data["gsi1pk"] != partition
    ):
        raise invalid
    return cast("dict[str, str]", data)
