"""DynamoDB items of the data model: the table schema, and every item built and read back.

Pure Python (no boto3): items are plain dicts in the shape boto3's ``TypeSerializer``
accepts — numbers as :class:`~decimal.Decimal`, timestamps as ISO-8601 UTC strings
(``2026-11-23T10:30:00.000Z``, so they sort as text), optional attributes left out rather
than stored as ``NULL``. Every item carries ``entityType`` and ``workflowType``.

The four kinds of item (keys from :mod:`albums.domain.keys`):

- :class:`ExecutionRecord` — one workflow run; listed per pattern on GSI1 by ``createdAt``.
- :class:`AlbumRecord` — one of the six albums of a run, in the run's partition.
- :class:`ValidationTask` — the human review of a run; listed per pattern and status on
  GSI1 by ``expiresAt``. Holds the resume token, a secret: it is kept out of ``repr``, of
  GSI keys and of :meth:`ValidationTask.to_dict`.
- :class:`UploadClaim` — which run of a pattern owns an uploaded object version.

:data:`TABLE_SCHEMA` is the single description of the table's keys and index; the tests'
moto table and the Terraform module are checked against it.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any, Final, TypeVar

from albums.domain import keys
from albums.domain.errors import (
    InvalidAlbumError,
    InvalidRecordError,
    InvalidS3KeyError,
    InvalidUploadEventError,
)
from albums.domain.keys import UploadRef
from albums.domain.models import (
    MAX_REASON_LENGTH,
    Album,
    AlbumCorrection,
    AlbumPriceResult,
    ExecutionMetrics,
    ExecutionStatus,
    FailureDetails,
    PriceEstimate,
    PriceStatus,
    TaskStatus,
    ValidatedAlbum,
    WorkflowType,
    check_album_set,
    check_execution_id,
    check_task_id,
    clean_text,
    format_timestamp,
    to_decimal,
)

# --- table schema ----------------------------------------------------------------------

#: Name of the one global secondary index.
GSI1_NAME: Final = "GSI1"
#: Attribute DynamoDB's time-to-live reads (epoch seconds).
TTL_ATTRIBUTE: Final = "ttl"
#: How long an answered (or abandoned) validation task is kept before TTL removes it.
TASK_RETENTION: Final = timedelta(days=30)
#: Longest resume token accepted (Step Functions task tokens and durable callback ids are
#: far shorter; the bound keeps a corrupt value from filling an item).
MAX_RESUME_TOKEN_LENGTH: Final = 4096
#: Attributes that address an item rather than describe it; left out of ``to_dict``.
KEY_ATTRIBUTES: Final = frozenset({"pk", "sk", "gsi1pk", "gsi1sk", TTL_ATTRIBUTE})

#: Keys, index and billing mode of the table, as ``CreateTable`` parameters.
TABLE_SCHEMA: Final[dict[str, Any]] = {
    "AttributeDefinitions": [
        {"AttributeName": "pk", "AttributeType": "S"},
        {"AttributeName": "sk", "AttributeType": "S"},
        {"AttributeName": "gsi1pk", "AttributeType": "S"},
        {"AttributeName": "gsi1sk", "AttributeType": "S"},
    ],
    "KeySchema": [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ],
    "GlobalSecondaryIndexes": [
        {
            "IndexName": GSI1_NAME,
            "KeySchema": [
                {"AttributeName": "gsi1pk", "KeyType": "HASH"},
                {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        }
    ],
    "BillingMode": "PAY_PER_REQUEST",
}


def create_table_request(table_name: str) -> dict[str, Any]:
    """Return ``CreateTable`` parameters for a table named ``table_name`` (a fresh copy)."""
    request = copy.deepcopy(TABLE_SCHEMA)
    request["TableName"] = table_name
    return request


class EntityType(StrEnum):
    """What an item is; stored as ``entityType`` on every item."""

    EXECUTION = "execution"
    ALBUM = "album"
    TASK = "task"
    CLAIM = "claim"


# --- values ----------------------------------------------------------------------------

_UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")


def to_timestamp(value: datetime | str, field_name: str = "timestamp") -> str:
    """Return ``value`` as canonical ISO-8601 UTC with milliseconds and ``Z``.

    Accepts an aware :class:`~datetime.datetime` or an ISO-8601 string with an offset
    (``Z`` or ``+hh:mm``). One format everywhere keeps GSI sort keys in time order.

    Raises
    ------
    InvalidRecordError
        When the value is not a parseable, timezone-aware moment.
    """
    return format_timestamp(parse_timestamp(value, field_name))


def parse_timestamp(value: datetime | str, field_name: str = "timestamp") -> datetime:
    """Return ``value`` as an aware UTC datetime; see :func:`to_timestamp`."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise InvalidRecordError(f"{field_name} is not an ISO-8601 time: {value!r}") from None
    else:
        raise InvalidRecordError(f"{field_name} must be a time, got {type(value).__name__}")
    if moment.tzinfo is None:
        raise InvalidRecordError(f"{field_name} must carry a UTC offset, got {value!r}")
    return moment.astimezone(UTC)


def epoch_seconds(moment: datetime) -> int:
    """Return ``moment`` as whole epoch seconds (the unit DynamoDB TTL reads)."""
    return int(moment.timestamp())


def to_plain(obj: Any) -> Any:
    """Return ``obj`` with every :class:`~decimal.Decimal` turned into ``int`` or ``float``.

    What a handler returns must be plain JSON; items read from DynamoDB hold Decimals.
    Integral Decimals become ``int``, others ``float``; tuples become lists and sets
    sorted lists. Other values are returned unchanged.
    """
    if isinstance(obj, Decimal):
        return int(obj) if obj == obj.to_integral_value() else float(obj)
    if isinstance(obj, Mapping):
        return {key: to_plain(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_plain(value) for value in obj]
    if isinstance(obj, (set, frozenset)):
        return sorted((to_plain(value) for value in obj), key=repr)
    return obj


def public_view(item: Mapping[str, Any]) -> dict[str, Any]:
    """Return an item as plain JSON without its key attributes and without secrets."""
    return {
        k: to_plain(v) for k, v in item.items() if k not in KEY_ATTRIBUTES and k != "resumeToken"
    }


def _number(value: int | Decimal) -> Decimal:
    return Decimal(value)


def _int(item: Mapping[str, Any], name: str) -> int:
    value = _required(item, name)
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise InvalidRecordError(f"{name} must be a number, got {value!r}")
    if value != int(value):
        raise InvalidRecordError(f"{name} must be a whole number, got {value!r}")
    return int(value)


def _optional_int(item: Mapping[str, Any], name: str) -> int | None:
    return _int(item, name) if name in item else None


def _required(item: Mapping[str, Any], name: str) -> Any:
    try:
        return item[name]
    except KeyError:
        kind = item.get("entityType", "item")
        raise InvalidRecordError(f"{kind} item is missing {name}") from None


def _str(item: Mapping[str, Any], name: str) -> str:
    value = _required(item, name)
    if not isinstance(value, str):
        raise InvalidRecordError(f"{name} must be a string, got {type(value).__name__}")
    return value


def _optional_str(item: Mapping[str, Any], name: str) -> str | None:
    return _str(item, name) if name in item else None


def _non_negative_decimal(value: object, name: str) -> Decimal:
    return to_decimal(value, name, error=InvalidRecordError, non_negative=True)


def _record_text(value: object, name: str, *, max_length: int) -> str:
    # clean_text speaks of albums; a bad record field is a record error.
    try:
        return clean_text(value, name, max_length=max_length)
    except InvalidAlbumError as error:
        raise InvalidRecordError(error.message) from None


_E = TypeVar("_E", bound=StrEnum)


def _enum(kind: type[_E], value: object, name: str) -> _E:
    allowed = ", ".join(member.value for member in kind)
    if not isinstance(value, str):
        raise InvalidRecordError(f"{name} must be one of {allowed}; got {value!r}")
    try:
        return kind(value)
    except ValueError:
        raise InvalidRecordError(f"{name} must be one of {allowed}; got {value!r}") from None


def _check_pattern(workflow_type: WorkflowType, execution_id: str) -> None:
    owner = keys.workflow_type_of_execution(execution_id)
    if owner is not workflow_type:
        raise InvalidRecordError(
            f"execution {execution_id!r} belongs to {owner}, not {workflow_type}"
        )


def workflow_type_of_task(task_id: str) -> WorkflowType:
    """Return the pattern a validation task id belongs to, from its tenant prefix."""
    tenant = check_task_id(task_id).split("-", 1)[0]
    return WorkflowType.from_tenant(tenant)


def check_upload_id(value: object) -> str:
    """Return ``value`` if it is an upload id (32 lowercase hex digits)."""
    if not isinstance(value, str) or not _UPLOAD_ID.fullmatch(value):
        raise InvalidRecordError(f"upload id must be 32 hex digits, got {value!r}")
    return value


def check_resume_token(value: object) -> str:
    """Return ``value`` if it is a usable resume token; the message never shows the token."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidRecordError("resume token must be a non-empty string")
    if len(value) > MAX_RESUME_TOKEN_LENGTH:
        raise InvalidRecordError(
            f"resume token is longer than {MAX_RESUME_TOKEN_LENGTH} characters"
        )
    return value


def _entity(item: Mapping[str, Any], expected: EntityType) -> None:
    found = item.get("entityType")
    if found != expected:
        raise InvalidRecordError(f"expected a {expected} item, got entityType {found!r}")


# --- upload fields ---------------------------------------------------------------------


def upload_fields(upload: UploadRef) -> dict[str, Any]:
    """Return the attributes that identify an uploaded object on an item."""
    fields: dict[str, Any] = {
        "bucket": upload.bucket,
        "key": upload.key,
        "uploadId": upload.upload_id,
    }
    if upload.version_id is not None:
        fields["versionId"] = upload.version_id
    if upload.etag is not None:
        fields["etag"] = upload.etag
    if upload.size is not None:
        fields["size"] = _number(upload.size)
    return fields


def _upload_from_item(item: Mapping[str, Any]) -> UploadRef:
    try:
        upload = UploadRef(
            bucket=_str(item, "bucket"),
            key=_str(item, "key"),
            version_id=_optional_str(item, "versionId"),
            etag=_optional_str(item, "etag"),
            size=_optional_int(item, "size"),
        )
    except (InvalidUploadEventError, InvalidS3KeyError) as error:
        raise InvalidRecordError(f"stored upload is malformed: {error.message}") from None
    if item.get("uploadId") != upload.upload_id:
        raise InvalidRecordError("stored uploadId does not match the stored bucket, key, version")
    return upload


# --- execution -------------------------------------------------------------------------


def metrics_fields(metrics: ExecutionMetrics) -> dict[str, Any]:
    """Return the execution attributes that hold ``metrics`` (absent figures left out).

    Raises
    ------
    InvalidRecordError
        When a Decimal figure is negative or not finite.
    """
    fields: dict[str, Any] = {"durationMs": _number(metrics.duration_ms)}
    for name, value in (
        ("transitions", metrics.transitions),
        ("durableOperations", metrics.durable_operations),
        ("replays", metrics.replays),
    ):
        if value is not None:
            fields[name] = _number(value)
    if metrics.lambda_gb_seconds is not None:
        fields["lambdaGbSeconds"] = _non_negative_decimal(
            metrics.lambda_gb_seconds, "lambdaGbSeconds"
        )
    if metrics.cost_usd is not None:
        fields["costUsd"] = _non_negative_decimal(metrics.cost_usd, "costUsd")
    if metrics.extra:
        extra: dict[str, Decimal] = {}
        for name, value in metrics.extra.items():
            if not isinstance(name, str) or not name:
                raise InvalidRecordError("metric names must be non-empty strings")
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InvalidRecordError(f"metric {name} must be a non-negative integer")
            extra[name] = _number(value)
        fields["metricsExtra"] = extra
    return fields


def _metrics_from_item(item: Mapping[str, Any]) -> ExecutionMetrics | None:
    if "durationMs" not in item:
        return None
    extra = item.get("metricsExtra", {})
    if not isinstance(extra, Mapping):
        raise InvalidRecordError("metricsExtra must be a map")
    return ExecutionMetrics(
        duration_ms=_int(item, "durationMs"),
        transitions=_optional_int(item, "transitions"),
        durable_operations=_optional_int(item, "durableOperations"),
        replays=_optional_int(item, "replays"),
        lambda_gb_seconds=(
            _non_negative_decimal(item["lambdaGbSeconds"], "lambdaGbSeconds")
            if "lambdaGbSeconds" in item
            else None
        ),
        cost_usd=(_non_negative_decimal(item["costUsd"], "costUsd") if "costUsd" in item else None),
        extra={name: _int(extra, name) for name in extra},
    )


def failure_fields(failure: FailureDetails) -> dict[str, Any]:
    """Return the execution attribute that holds ``failure``: a map {error, cause, step}."""
    return {"failure": {"error": failure.error, "cause": failure.cause, "step": failure.step}}


def _failure_from_item(item: Mapping[str, Any]) -> FailureDetails | None:
    failure = item.get("failure")
    if failure is None:
        return None
    if not isinstance(failure, Mapping):
        raise InvalidRecordError("failure must be a map")
    return FailureDetails(
        error=_str(failure, "error"), cause=_str(failure, "cause"), step=_str(failure, "step")
    )


def check_rejection_reason(value: object) -> str:
    """Return a reviewer's (or the workflow's) rejection reason, trimmed and bounded."""
    return _record_text(value, "rejectionReason", max_length=MAX_REASON_LENGTH)


@dataclass(frozen=True, slots=True)
class ExecutionRecord:
    """One run of the workflow in one pattern, as stored.

    ``status`` moves forward only (see :attr:`ExecutionStatus.is_terminal`); the
    repository enforces that with conditional writes.
    """

    execution_id: str
    workflow_type: WorkflowType
    status: ExecutionStatus
    upload: UploadRef
    created_at: str
    updated_at: str
    task_id: str | None = None
    ended_at: str | None = None
    failure: FailureDetails | None = None
    metrics: ExecutionMetrics | None = None
    rejection_reason: str | None = None
    duplicate_of: str | None = None

    def __post_init__(self) -> None:
        check_execution_id(self.execution_id)
        object.__setattr__(
            self, "workflow_type", _enum(WorkflowType, self.workflow_type, "workflowType")
        )
        _check_pattern(self.workflow_type, self.execution_id)
        object.__setattr__(self, "status", _enum(ExecutionStatus, self.status, "status"))
        if not isinstance(self.upload, UploadRef):
            raise InvalidRecordError("upload must be an UploadRef")
        object.__setattr__(self, "created_at", to_timestamp(self.created_at, "createdAt"))
        object.__setattr__(self, "updated_at", to_timestamp(self.updated_at, "updatedAt"))
        if self.ended_at is not None:
            object.__setattr__(self, "ended_at", to_timestamp(self.ended_at, "endedAt"))
        if self.task_id is not None:
            check_task_id(self.task_id)
        if self.rejection_reason is not None:
            object.__setattr__(
                self, "rejection_reason", check_rejection_reason(self.rejection_reason)
            )
        if self.duplicate_of is not None:
            check_execution_id(self.duplicate_of)
            _check_pattern(self.workflow_type, self.duplicate_of)
        if (self.status is ExecutionStatus.DUPLICATE) != (self.duplicate_of is not None):
            raise InvalidRecordError("duplicateOf is set exactly when the status is duplicate")
        if self.status is ExecutionStatus.FAILED and self.failure is None:
            raise InvalidRecordError("a failed execution records its failure details")

    @property
    def pk(self) -> str:
        """Partition key of this execution (shared with its albums)."""
        return keys.execution_pk(self.workflow_type, self.execution_id)

    def to_item(self) -> dict[str, Any]:
        """Return the DynamoDB item (plain values, numbers as Decimal)."""
        item: dict[str, Any] = {
            "pk": self.pk,
            "sk": keys.EXECUTION_SK,
            "entityType": EntityType.EXECUTION.value,
            "executionId": self.execution_id,
            "workflowType": self.workflow_type.value,
            "status": self.status.value,
            **upload_fields(self.upload),
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "gsi1pk": keys.executions_gsi1pk(self.workflow_type),
            "gsi1sk": keys.execution_gsi1sk(self.created_at, self.execution_id),
        }
        if self.task_id is not None:
            item["taskId"] = self.task_id
        if self.ended_at is not None:
            item["endedAt"] = self.ended_at
        if self.failure is not None:
            item.update(failure_fields(self.failure))
        if self.metrics is not None:
            item.update(metrics_fields(self.metrics))
        if self.rejection_reason is not None:
            item["rejectionReason"] = self.rejection_reason
        if self.duplicate_of is not None:
            item["duplicateOf"] = self.duplicate_of
        return item

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> ExecutionRecord:
        """Read an execution item back; raise :class:`InvalidRecordError` when malformed."""
        _entity(item, EntityType.EXECUTION)
        return cls(
            execution_id=_str(item, "executionId"),
            workflow_type=_enum(WorkflowType, _required(item, "workflowType"), "workflowType"),
            status=_enum(ExecutionStatus, _required(item, "status"), "status"),
            upload=_upload_from_item(item),
            created_at=_str(item, "createdAt"),
            updated_at=_str(item, "updatedAt"),
            task_id=_optional_str(item, "taskId"),
            ended_at=_optional_str(item, "endedAt"),
            failure=_failure_from_item(item),
            metrics=_metrics_from_item(item),
            rejection_reason=_optional_str(item, "rejectionReason"),
            duplicate_of=_optional_str(item, "duplicateOf"),
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the record as plain JSON with the item's attribute names, keys left out."""
        return public_view(self.to_item())


# --- albums ----------------------------------------------------------------------------


def album_fields(album: Album) -> dict[str, Any]:
    """Return an album's descriptive attributes (``albumIndex`` .. ``year``)."""
    return {
        "albumIndex": _number(album.index),
        "albumName": album.album_name,
        "artist": album.artist,
        "year": _number(album.year),
    }


def _album_from_fields(data: Mapping[str, Any]) -> Album:
    try:
        return Album(
            index=_int(data, "albumIndex"),
            album_name=_str(data, "albumName"),
            artist=_str(data, "artist"),
            year=_int(data, "year"),
        )
    except InvalidAlbumError as error:
        raise InvalidRecordError(f"stored album is malformed: {error.message}") from None


def validated_album_fields(validated: ValidatedAlbum, validated_at: str) -> dict[str, Any]:
    """Return the album attributes a review (or its timeout) sets.

    ``yearValidated`` is false when the reviewer never answered: the original year is kept
    but not vouched for.
    """
    fields = album_fields(validated.album)
    del fields["albumIndex"]  # part of the key; never changes
    fields["yearOriginal"] = _number(validated.year_original)
    fields["yearValidated"] = validated.year_validated
    fields["validatedAt"] = to_timestamp(validated_at, "validatedAt")
    return fields


#: Attributes of a successful estimate; removed when an estimate fails (and vice versa).
PRICE_ATTRIBUTES: Final = ("priceEstimate", "priceConfidence", "priceSource", "currency")
PRICE_ERROR_ATTRIBUTES: Final = ("priceError", "priceErrorMessage")


def price_fields(result: AlbumPriceResult, priced_at: str) -> tuple[dict[str, Any], list[str]]:
    """Return ``(attributes to set, attributes to remove)`` for one album's price result."""
    fields: dict[str, Any] = {
        "priceStatus": result.status.value,
        "pricedAt": to_timestamp(priced_at, "pricedAt"),
    }
    if result.estimate is not None:
        fields.update(
            {
                "priceEstimate": result.estimate.price_estimate,
                "priceConfidence": result.estimate.price_confidence,
                "priceSource": result.estimate.price_source,
                "currency": result.estimate.currency,
            }
        )
        return fields, list(PRICE_ERROR_ATTRIBUTES)
    fields["priceError"] = _record_text(result.error, "priceError", max_length=200)
    remove = list(PRICE_ATTRIBUTES)
    if result.error_message:
        fields["priceErrorMessage"] = str(result.error_message)[:1000]
    else:
        remove.append("priceErrorMessage")
    return fields, remove


@dataclass(frozen=True, slots=True)
class AlbumRecord:
    """One album of an execution, as stored: detected, then validated, then priced."""

    execution_id: str
    workflow_type: WorkflowType
    album: Album
    created_at: str
    updated_at: str
    year_validated: bool = False
    year_original: int | None = None
    validated_at: str | None = None
    price_status: PriceStatus | None = None
    price: PriceEstimate | None = None
    price_error: str | None = None
    price_error_message: str | None = None
    priced_at: str | None = None

    def __post_init__(self) -> None:
        check_execution_id(self.execution_id)
        object.__setattr__(
            self, "workflow_type", _enum(WorkflowType, self.workflow_type, "workflowType")
        )
        _check_pattern(self.workflow_type, self.execution_id)
        if not isinstance(self.album, Album):
            raise InvalidRecordError("album must be an Album")
        object.__setattr__(self, "created_at", to_timestamp(self.created_at, "createdAt"))
        object.__setattr__(self, "updated_at", to_timestamp(self.updated_at, "updatedAt"))
        if not isinstance(self.year_validated, bool):
            raise InvalidRecordError("yearValidated must be a boolean")
        if self.year_validated and self.year_original is None:
            raise InvalidRecordError("a validated album keeps its original year")
        for name in ("validated_at", "priced_at"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, to_timestamp(value, name))
        if self.price_status is not None:
            status = _enum(PriceStatus, self.price_status, "priceStatus")
            object.__setattr__(self, "price_status", status)
            if (status is PriceStatus.PRICED) != (self.price is not None):
                raise InvalidRecordError("a priced album has an estimate, a failed one none")
            if (status is PriceStatus.FAILED) != (self.price_error is not None):
                raise InvalidRecordError("a failed price estimation records its error")
        elif self.price is not None or self.price_error is not None:
            raise InvalidRecordError("a price or price error needs a priceStatus")

    @property
    def index(self) -> int:
        """The album's index, 1..6."""
        return self.album.index

    def to_item(self) -> dict[str, Any]:
        """Return the DynamoDB item (plain values, numbers as Decimal)."""
        item: dict[str, Any] = {
            "pk": keys.execution_pk(self.workflow_type, self.execution_id),
            "sk": keys.album_sk(self.album.index),
            "entityType": EntityType.ALBUM.value,
            "executionId": self.execution_id,
            "workflowType": self.workflow_type.value,
            **album_fields(self.album),
            "yearValidated": self.year_validated,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
        }
        if self.year_original is not None:
            item["yearOriginal"] = _number(self.year_original)
        if self.validated_at is not None:
            item["validatedAt"] = self.validated_at
        if self.price_status is not None:
            item["priceStatus"] = self.price_status.value
        if self.price is not None:
            item["priceEstimate"] = self.price.price_estimate
            item["priceConfidence"] = self.price.price_confidence
            item["priceSource"] = self.price.price_source
            item["currency"] = self.price.currency
        if self.price_error is not None:
            item["priceError"] = self.price_error
        if self.price_error_message is not None:
            item["priceErrorMessage"] = self.price_error_message
        if self.priced_at is not None:
            item["pricedAt"] = self.priced_at
        return item

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> AlbumRecord:
        """Read an album item back; raise :class:`InvalidRecordError` when malformed."""
        _entity(item, EntityType.ALBUM)
        album = _album_from_fields(item)
        if keys.album_index_from_sk(_str(item, "sk")) != album.index:
            raise InvalidRecordError("album sort key and albumIndex disagree")
        price = None
        if "priceEstimate" in item:
            try:
                price = PriceEstimate.from_dict(item)
            except InvalidAlbumError as error:
                raise InvalidRecordError(f"stored price is malformed: {error.message}") from None
        status = item.get("priceStatus")
        return cls(
            execution_id=_str(item, "executionId"),
            workflow_type=_enum(WorkflowType, _required(item, "workflowType"), "workflowType"),
            album=album,
            created_at=_str(item, "createdAt"),
            updated_at=_str(item, "updatedAt"),
            year_validated=bool(item.get("yearValidated", False)),
            year_original=_optional_int(item, "yearOriginal"),
            validated_at=_optional_str(item, "validatedAt"),
            price_status=None if status is None else _enum(PriceStatus, status, "priceStatus"),
            price=price,
            price_error=_optional_str(item, "priceError"),
            price_error_message=_optional_str(item, "priceErrorMessage"),
            priced_at=_optional_str(item, "pricedAt"),
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the record as plain JSON with the item's attribute names, keys left out."""
        return public_view(self.to_item())


# --- validation task -------------------------------------------------------------------


def correction_fields(correction: AlbumCorrection) -> dict[str, Any]:
    """Return a reviewer's correction as a map attribute."""
    fields: dict[str, Any] = {
        "albumIndex": _number(correction.index),
        "year": _number(correction.year),
    }
    if correction.album_name is not None:
        fields["albumName"] = correction.album_name
    if correction.artist is not None:
        fields["artist"] = correction.artist
    return fields


def _correction_from_fields(data: object) -> AlbumCorrection:
    if not isinstance(data, Mapping):
        raise InvalidRecordError("a stored correction must be a map")
    try:
        return AlbumCorrection(
            index=_int(data, "albumIndex"),
            year=_int(data, "year"),
            album_name=_optional_str(data, "albumName"),
            artist=_optional_str(data, "artist"),
        )
    except InvalidAlbumError as error:
        raise InvalidRecordError(f"stored correction is malformed: {error.message}") from None


def check_corrections(corrections: Iterable[AlbumCorrection]) -> tuple[AlbumCorrection, ...]:
    """Return ``corrections`` ordered by index; refuse non-corrections and repeated indices."""
    checked = tuple(corrections)
    if not all(isinstance(correction, AlbumCorrection) for correction in checked):
        raise InvalidRecordError("corrections must be AlbumCorrection values")
    indices = [correction.index for correction in checked]
    if len(set(indices)) != len(indices):
        raise InvalidAlbumError(f"an album is corrected twice (indices {sorted(indices)})")
    return tuple(sorted(checked, key=lambda correction: correction.index))


def retention_ttl(moment: datetime | str) -> int:
    """Return the epoch second :data:`TASK_RETENTION` after ``moment`` (a task's ``ttl``).

    An answered task lives that long past its answer; a pending one that is never
    answered (its run died) lives that long past its expiry, so none lingers forever.
    """
    return epoch_seconds(parse_timestamp(moment, "ttl base") + TASK_RETENTION)


@dataclass(frozen=True, slots=True)
class ValidationTask:
    """A human review of one execution's albums.

    ``resume_token`` resumes the paused run (a Step Functions task token or a durable
    callback id). It is a secret: never shown by ``repr``, never in GSI keys, never in
    :meth:`to_dict`.
    """

    task_id: str
    execution_id: str
    workflow_type: WorkflowType
    upload_id: str
    status: TaskStatus
    albums: tuple[Album, ...]
    resume_token: str = field(repr=False)
    expires_at: str
    created_at: str
    updated_at: str
    answered_at: str | None = None
    corrections: tuple[AlbumCorrection, ...] = ()
    rejection_reason: str | None = None

    def __post_init__(self) -> None:
        check_task_id(self.task_id)
        check_execution_id(self.execution_id)
        object.__setattr__(
            self, "workflow_type", _enum(WorkflowType, self.workflow_type, "workflowType")
        )
        _check_pattern(self.workflow_type, self.execution_id)
        if workflow_type_of_task(self.task_id) is not self.workflow_type:
            raise InvalidRecordError(f"task {self.task_id!r} belongs to another pattern")
        check_upload_id(self.upload_id)
        object.__setattr__(self, "status", _enum(TaskStatus, self.status, "status"))
        if not all(isinstance(album, Album) for album in self.albums):
            raise InvalidRecordError("albums must be Album values")
        object.__setattr__(self, "albums", check_album_set(list(self.albums)))
        check_resume_token(self.resume_token)
        for name in ("expires_at", "created_at", "updated_at", "answered_at"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, to_timestamp(value, name))
        if (self.status is TaskStatus.PENDING) != (self.answered_at is None):
            raise InvalidRecordError("answeredAt is set exactly when the task is not pending")
        object.__setattr__(self, "corrections", check_corrections(self.corrections))
        if self.corrections and self.status is not TaskStatus.COMPLETED:
            raise InvalidRecordError("only a completed task carries corrections")
        if self.rejection_reason is not None:
            if self.status is not TaskStatus.REJECTED:
                raise InvalidRecordError("only a rejected task carries a rejection reason")
            object.__setattr__(
                self, "rejection_reason", check_rejection_reason(self.rejection_reason)
            )

    @property
    def ttl(self) -> int:
        """Epoch second after which DynamoDB may delete the task (see :func:`retention_ttl`)."""
        return retention_ttl(self.answered_at or self.expires_at)

    def to_item(self) -> dict[str, Any]:
        """Return the DynamoDB item (plain values, numbers as Decimal)."""
        item: dict[str, Any] = {
            "pk": keys.task_pk(self.workflow_type, self.task_id),
            "sk": keys.TASK_SK,
            "entityType": EntityType.TASK.value,
            "taskId": self.task_id,
            "executionId": self.execution_id,
            "workflowType": self.workflow_type.value,
            "uploadId": self.upload_id,
            "status": self.status.value,
            "albums": [album_fields(album) for album in self.albums],
            "resumeToken": self.resume_token,
            "expiresAt": self.expires_at,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            # The token is a secret: GSI keys hold only the pattern, status, expiry and id.
            "gsi1pk": keys.tasks_gsi1pk(self.workflow_type, self.status),
            "gsi1sk": keys.task_gsi1sk(self.expires_at, self.task_id),
            TTL_ATTRIBUTE: _number(self.ttl),
        }
        if self.answered_at is not None:
            item["answeredAt"] = self.answered_at
        if self.corrections:
            item["corrections"] = [correction_fields(c) for c in self.corrections]
        if self.rejection_reason is not None:
            item["rejectionReason"] = self.rejection_reason
        return item

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> ValidationTask:
        """Read a task item back; raise :class:`InvalidRecordError` when malformed."""
        _entity(item, EntityType.TASK)
        albums = _required(item, "albums")
        corrections = item.get("corrections", [])
        if not isinstance(albums, list) or not isinstance(corrections, list):
            raise InvalidRecordError("albums and corrections must be lists")
        if not all(isinstance(album, Mapping) for album in albums):
            raise InvalidRecordError("stored albums must be maps")
        return cls(
            task_id=_str(item, "taskId"),
            execution_id=_str(item, "executionId"),
            workflow_type=_enum(WorkflowType, _required(item, "workflowType"), "workflowType"),
            upload_id=_str(item, "uploadId"),
            status=_enum(TaskStatus, _required(item, "status"), "status"),
            albums=tuple(_album_from_fields(album) for album in albums),
            resume_token=_str(item, "resumeToken"),
            expires_at=_str(item, "expiresAt"),
            created_at=_str(item, "createdAt"),
            updated_at=_str(item, "updatedAt"),
            answered_at=_optional_str(item, "answeredAt"),
            corrections=tuple(_correction_from_fields(c) for c in corrections),
            rejection_reason=_optional_str(item, "rejectionReason"),
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the task as plain JSON for a reviewer: keys and the resume token left out."""
        return public_view(self.to_item())


# --- upload claim ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UploadClaim:
    """The claim one execution of a pattern holds on an uploaded object version."""

    upload: UploadRef
    execution_id: str
    workflow_type: WorkflowType
    claimed_at: str

    def __post_init__(self) -> None:
        if not isinstance(self.upload, UploadRef):
            raise InvalidRecordError("upload must be an UploadRef")
        check_execution_id(self.execution_id)
        object.__setattr__(
            self, "workflow_type", _enum(WorkflowType, self.workflow_type, "workflowType")
        )
        _check_pattern(self.workflow_type, self.execution_id)
        object.__setattr__(self, "claimed_at", to_timestamp(self.claimed_at, "claimedAt"))

    @property
    def upload_id(self) -> str:
        """Id of the claimed object version."""
        return self.upload.upload_id

    def to_item(self) -> dict[str, Any]:
        """Return the DynamoDB item."""
        return {
            "pk": keys.claim_pk(self.workflow_type, self.upload.upload_id),
            "sk": keys.CLAIM_SK,
            "entityType": EntityType.CLAIM.value,
            "workflowType": self.workflow_type.value,
            "executionId": self.execution_id,
            **upload_fields(self.upload),
            "claimedAt": self.claimed_at,
        }

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> UploadClaim:
        """Read a claim item back; raise :class:`InvalidRecordError` when malformed."""
        _entity(item, EntityType.CLAIM)
        return cls(
            upload=_upload_from_item(item),
            execution_id=_str(item, "executionId"),
            workflow_type=_enum(WorkflowType, _required(item, "workflowType"), "workflowType"),
            claimed_at=_str(item, "claimedAt"),
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the claim as plain JSON, keys left out."""
        return public_view(self.to_item())


Record = ExecutionRecord | AlbumRecord | ValidationTask | UploadClaim

_PARSERS: Final[dict[str, Any]] = {
    EntityType.EXECUTION.value: ExecutionRecord.from_item,
    EntityType.ALBUM.value: AlbumRecord.from_item,
    EntityType.TASK.value: ValidationTask.from_item,
    EntityType.CLAIM.value: UploadClaim.from_item,
}


def parse_item(item: Mapping[str, Any]) -> Record:
    """Read any item of the table back into its record, chosen by ``entityType``."""
    parser = _PARSERS.get(str(item.get("entityType")))
    if parser is None:
        raise InvalidRecordError(f"unknown entityType {item.get('entityType')!r}")
    record: Record = parser(item)
    return record
