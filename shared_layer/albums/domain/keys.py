"""S3 key rules, upload identity, and every DynamoDB key of the data model.

Data model (one table, DESIGN.md):

=================  ==================================  ==========================
item               pk                                   sk
=================  ==================================  ==========================
execution          ``{tenant}#exec#{executionId}``      ``meta``
album              ``{tenant}#exec#{executionId}``      ``album#{n}``
validation task    ``{tenant}#task#{taskId}``           ``meta``
upload claim       ``{tenant}#upload#{uploadId}``       ``claim``
=================  ==================================  ==========================

GSI1 lists executions of a pattern in time order (``gsi1pk = {tenant}#executions``,
``gsi1sk = {createdAt}#{executionId}``) and validation tasks of a pattern by status and
expiry (``gsi1pk = {tenant}#tasks#{status}``, ``gsi1sk = {expiresAt}#{taskId}``).

S3 keys are restricted to characters that URL-encoding leaves unchanged
(``A-Z a-z 0-9 . _ - ~`` and ``/``), so the key in an S3 event, encoded or not, is the
key in the bucket: no decoding step, and no way to smuggle ``%2e%2e`` past the rules.

The upload rules (:func:`parse_object_created_event`, :func:`validate_s3_key`,
:class:`UploadRef`) exist twice: here, and as the state machine's ``CheckUpload`` state in
JSONata, which must give the same error messages. So the values those messages quote are
shown with ``ascii()`` (``!a``), not ``repr()``: which non-ASCII characters ``repr()``
prints as they are depends on Python's Unicode tables, which JSONata does not have.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass
from typing import Any

from albums.domain.errors import (
    InvalidAlbumError,
    InvalidRecordError,
    InvalidS3KeyError,
    InvalidUploadEventError,
)
from albums.domain.models import (
    ALBUMS_PER_IMAGE,
    TaskStatus,
    WorkflowType,
    check_execution_id,
    check_index,
    check_task_id,
)

UPLOAD_PREFIX = "uploads/"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")
#: S3's own limit is 1,024 bytes; we keep well under it so ids and logs stay readable.
MAX_KEY_BYTES = 512
MAX_SEGMENT_LENGTH = 255

_SAFE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,120}$")
_KEY_SEGMENT = re.compile(r"^[A-Za-z0-9._~-]+$")
_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_ETAG = re.compile(r'^"?[A-Za-z0-9-]{1,64}"?$')
_VERSION_ID = re.compile(r"^[A-Za-z0-9._+/=-]{1,1024}$")

EXECUTION_SK = "meta"
TASK_SK = "meta"
CLAIM_SK = "claim"
ALBUM_SK_PREFIX = "album#"


def validate_s3_key(key: object) -> str:
    """Return ``key`` if it is an acceptable upload key, else raise :class:`InvalidS3KeyError`.

    Rules: a string under ``uploads/``; at most :data:`MAX_KEY_BYTES` bytes; segments of
    ``A-Z a-z 0-9 . _ - ~`` only, none empty, none ``.`` or ``..``, none over 255
    characters; a file name with a stem and one of :data:`IMAGE_SUFFIXES` (any case).
    The message says which rule was broken.
    """
    if not isinstance(key, str):
        raise InvalidS3KeyError(f"S3 key must be a string, got {type(key).__name__}")
    if not key:
        raise InvalidS3KeyError("S3 key is empty")
    if len(key.encode("utf-8")) > MAX_KEY_BYTES:
        raise InvalidS3KeyError(f"S3 key is longer than {MAX_KEY_BYTES} bytes")
    if not key.startswith(UPLOAD_PREFIX):
        raise InvalidS3KeyError(f"S3 key must start with {UPLOAD_PREFIX!r}")
    segments = key[len(UPLOAD_PREFIX) :].split("/")
    for segment in segments:
        if not segment:
            raise InvalidS3KeyError("S3 key has an empty path segment ('//' or a trailing '/')")
        if segment in (".", ".."):
            raise InvalidS3KeyError("S3 key must not contain '.' or '..' segments")
        if len(segment) > MAX_SEGMENT_LENGTH:
            raise InvalidS3KeyError(
                f"S3 key segment is longer than {MAX_SEGMENT_LENGTH} characters"
            )
        if not _KEY_SEGMENT.fullmatch(segment):
            raise InvalidS3KeyError(
                "S3 key may contain only A-Z a-z 0-9 . _ - ~ and '/' "
                f"(found {_first_bad_char(segment)!a})"
            )
    file_name = segments[-1]
    lowered = file_name.lower()
    suffix = next((s for s in IMAGE_SUFFIXES if lowered.endswith(s)), None)
    if suffix is None:
        raise InvalidS3KeyError(f"S3 key must end with one of {', '.join(IMAGE_SUFFIXES)}")
    if len(file_name) == len(suffix):
        raise InvalidS3KeyError("S3 key's file name has no name before its suffix")
    return key


def _first_bad_char(segment: str) -> str:
    return next(ch for ch in segment if not _KEY_SEGMENT.fullmatch(ch))


def media_type_for_key(key: str) -> str:
    """Return the image media type implied by a valid key's suffix (``image/jpeg`` ...)."""
    lowered = validate_s3_key(key).lower()
    if lowered.endswith((".jpg", ".jpeg")):
        return "image/jpeg"
    if lowered.endswith(".png"):
        return "image/png"
    return "image/webp"


@dataclass(frozen=True, slots=True)
class UploadRef:
    """One uploaded object version: what the workflow processes, and its stable identity.

    Two deliveries of the same object version have the same :attr:`upload_id`; an
    overwrite (a new version, or a new ETag in an unversioned bucket) gets a new one.
    """

    bucket: str
    key: str
    version_id: str | None = None
    etag: str | None = None
    size: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.bucket, str) or not _BUCKET_NAME.fullmatch(self.bucket):
            raise InvalidUploadEventError(
                f"bucket name is not a valid S3 bucket name: {self.bucket!a}"
            )
        validate_s3_key(self.key)
        if self.version_id is not None and (
            not isinstance(self.version_id, str) or not _VERSION_ID.fullmatch(self.version_id)
        ):
            raise InvalidUploadEventError(f"version id is malformed: {self.version_id!a}")
        if self.etag is not None:
            if not isinstance(self.etag, str) or not _ETAG.fullmatch(self.etag):
                raise InvalidUploadEventError(f"etag is malformed: {self.etag!a}")
            object.__setattr__(self, "etag", self.etag.strip('"'))
        if self.version_id is None and self.etag is None:
            raise InvalidUploadEventError(
                "an upload needs a version id or an etag to be identified"
            )
        if self.size is not None and (
            isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 0
        ):
            raise InvalidUploadEventError(
                f"object size must be a non-negative integer, got {self.size!a}"
            )

    @property
    def upload_id(self) -> str:
        """Stable 32-hex-digit id of this object version (bucket, key, version id or etag)."""
        # A version id names the version exactly; the etag stands in for unversioned buckets.
        revision = f"v:{self.version_id}" if self.version_id is not None else f"e:{self.etag}"
        digest = hashlib.sha256(f"s3://{self.bucket}/{self.key}\n{revision}".encode())
        return digest.hexdigest()[:32]

    @property
    def media_type(self) -> str:
        """Media type implied by the key's suffix."""
        return media_type_for_key(self.key)

    def to_dict(self) -> dict[str, Any]:
        """Return the upload as plain JSON (what the orchestrations pass between steps)."""
        data: dict[str, Any] = {"bucket": self.bucket, "key": self.key, "uploadId": self.upload_id}
        if self.version_id is not None:
            data["versionId"] = self.version_id
        if self.etag is not None:
            data["etag"] = self.etag
        if self.size is not None:
            data["size"] = self.size
        return data

    @classmethod
    def from_dict(cls, data: object) -> UploadRef:
        """Rebuild an upload from :meth:`to_dict`'s output."""
        if not isinstance(data, dict):
            raise InvalidUploadEventError("upload must be an object")
        try:
            return cls(
                bucket=data["bucket"],
                key=data["key"],
                version_id=data.get("versionId"),
                etag=data.get("etag"),
                size=data.get("size"),
            )
        except KeyError as missing:
            raise InvalidUploadEventError(f"upload is missing {missing.args[0]}") from None


def parse_object_created_event(event: object, *, uploads_bucket: str | None = None) -> UploadRef:
    """Read an EventBridge S3 "Object Created" event into an :class:`UploadRef`.

    Parameters
    ----------
    event
        The event as the rule target received it.
    uploads_bucket
        The only bucket uploads may come from (the deployment's ``BUCKET_NAME``). The rule
        matches that bucket already; checking again keeps an event sent straight to a
        target (``StartExecution``, ``Invoke``) from pointing the workflow elsewhere.

    Raises
    ------
    InvalidUploadEventError
        When the event is not an ``aws.s3`` "Object Created" event, lacks the bucket, key,
        or a version id / etag, or names another bucket than ``uploads_bucket``.
    InvalidS3KeyError
        When the key breaks the key rules (see :func:`validate_s3_key`).
    """
    if not isinstance(event, dict):
        raise InvalidUploadEventError(f"event must be an object, got {type(event).__name__}")
    if event.get("source") != "aws.s3" or event.get("detail-type") != "Object Created":
        raise InvalidUploadEventError(
            "event is not an S3 'Object Created' event "
            f"(source={event.get('source')!a}, detail-type={event.get('detail-type')!a})"
        )
    detail = event.get("detail")
    if not isinstance(detail, dict):
        raise InvalidUploadEventError("event has no detail object")
    bucket = detail.get("bucket")
    obj = detail.get("object")
    if not isinstance(bucket, dict) or not isinstance(bucket.get("name"), str):
        raise InvalidUploadEventError("event detail has no bucket.name")
    if not isinstance(obj, dict) or "key" not in obj:
        raise InvalidUploadEventError("event detail has no object.key")
    # Key rules run first so a bad key is reported as such, not as a bad event.
    validate_s3_key(obj["key"])
    if uploads_bucket is not None and bucket["name"] != uploads_bucket:
        raise InvalidUploadEventError(
            f"event names bucket {bucket['name'][:63]!a}, not the uploads bucket {uploads_bucket!a}"
        )
    return UploadRef(
        bucket=bucket["name"],
        key=obj["key"],
        version_id=obj.get("version-id"),
        etag=obj.get("etag"),
        size=obj.get("size"),
    )


# --- execution ids ---------------------------------------------------------------------


def execution_id_for(workflow_type: WorkflowType, native_id: str) -> str:
    """Return the execution id for a pattern's own execution name.

    The tenant prefix keeps ids unique across both patterns even when the two services
    hand out the same name (e.g. both started from the same EventBridge event id).
    """
    if not isinstance(native_id, str) or not native_id:
        raise InvalidRecordError("native execution id must be a non-empty string")
    # Durable execution ARNs end ``.../durable-execution/{name}/{invocationId}``; Step
    # Functions ARNs end ``...:{name}``. Keep the execution name, then sanitise it.
    marker = "/durable-execution/"
    if marker in native_id:
        name = native_id.split(marker, 1)[1].split("/", 1)[0]
    else:
        name = native_id.rsplit(":", 1)[-1]
    if not _SAFE_NAME.fullmatch(name):
        # Replacing characters alone could map two names onto one id ("a.b", "a_b"); the
        # hash suffix keeps the mapping one-to-one.
        digest = hashlib.sha256(name.encode()).hexdigest()[:16]
        name = f"{re.sub(r'[^A-Za-z0-9_-]', '_', name)[:100]}_x{digest}"
    return check_execution_id(f"{workflow_type.tenant}-{name}")


def new_native_id() -> str:
    """Return a fresh random execution name (what EventBridge would give a new execution)."""
    return uuid.uuid4().hex


def workflow_type_of_execution(execution_id: str) -> WorkflowType:
    """Return the pattern an execution id belongs to, from its tenant prefix."""
    tenant = check_execution_id(execution_id).split("-", 1)[0]
    return WorkflowType.from_tenant(tenant)


# --- table keys ------------------------------------------------------------------------


def execution_pk(workflow_type: WorkflowType, execution_id: str) -> str:
    """Partition key of an execution and its albums."""
    return f"{workflow_type.tenant}#exec#{check_execution_id(execution_id)}"


def album_sk(index: int) -> str:
    """Sort key of album ``index`` (1..6) within its execution."""
    return f"{ALBUM_SK_PREFIX}{check_index(index)}"


def album_index_from_sk(sk: str) -> int:
    """Inverse of :func:`album_sk`."""
    if not sk.startswith(ALBUM_SK_PREFIX):
        raise InvalidRecordError(f"not an album sort key: {sk!r}")
    try:
        return check_index(int(sk[len(ALBUM_SK_PREFIX) :]))
    except (ValueError, InvalidAlbumError):
        raise InvalidRecordError(f"not an album sort key: {sk!r}") from None


def album_sks() -> list[str]:
    """Sort keys of all six albums, in index order."""
    return [album_sk(i) for i in range(1, ALBUMS_PER_IMAGE + 1)]


def execution_id_from_pk(pk: str) -> tuple[WorkflowType, str]:
    """Split an execution partition key into its pattern and execution id."""
    parts = pk.split("#")
    if len(parts) != 3 or parts[1] != "exec":
        raise InvalidRecordError(f"not an execution partition key: {pk!r}")
    return WorkflowType.from_tenant(parts[0]), check_execution_id(parts[2])


def task_pk(workflow_type: WorkflowType, task_id: str) -> str:
    """Partition key of a validation task."""
    return f"{workflow_type.tenant}#task#{check_task_id(task_id)}"


def claim_pk(workflow_type: WorkflowType, upload_id: str) -> str:
    """Partition key of the claim that one execution of a pattern holds on an upload."""
    if not re.fullmatch(r"[0-9a-f]{32}", upload_id):
        raise InvalidRecordError(f"upload id must be 32 hex digits, got {upload_id!r}")
    return f"{workflow_type.tenant}#upload#{upload_id}"


def executions_gsi1pk(workflow_type: WorkflowType) -> str:
    """GSI1 partition listing a pattern's executions."""
    return f"{workflow_type.tenant}#executions"


def execution_gsi1sk(created_at: str, execution_id: str) -> str:
    """GSI1 sort key ordering executions by creation time."""
    return f"{created_at}#{check_execution_id(execution_id)}"


def tasks_gsi1pk(workflow_type: WorkflowType, status: TaskStatus) -> str:
    """GSI1 partition listing a pattern's validation tasks in one status."""
    return f"{workflow_type.tenant}#tasks#{TaskStatus(status)}"


def task_gsi1sk(expires_at: str, task_id: str) -> str:
    """GSI1 sort key ordering tasks by expiry."""
    return f"{expires_at}#{check_task_id(task_id)}"


def task_id_for(workflow_type: WorkflowType, execution_id: str) -> str:
    """Return the validation task id of an execution (one task per execution).

    Deterministic, so a retried "create task" step finds the task it already wrote.
    """
    digest = hashlib.sha256(f"{workflow_type}:{check_execution_id(execution_id)}".encode())
    return f"{workflow_type.tenant}-{digest.hexdigest()[:24]}"


def upload_event_pattern(bucket_name: str) -> dict[str, Any]:
    """Return the EventBridge rule pattern that starts both patterns for an upload.

    The same pattern as Terraform's events module: S3 "Object Created" events of the
    uploads bucket whose key is under ``uploads/`` and ends in an image suffix (lower or
    upper case; a prefix and a suffix on one field need EventBridge's ``wildcard``).
    Everything else about the key (characters, length, ``..``) is the accept step's to
    judge, so such an upload ends as a *rejected* execution with the reason.
    """
    if not _BUCKET_NAME.fullmatch(bucket_name):
        raise InvalidUploadEventError(f"bucket name is not a valid S3 bucket name: {bucket_name!r}")
    key_patterns = [
        {"wildcard": f"{UPLOAD_PREFIX}*{suffix}"}
        for lowered in IMAGE_SUFFIXES
        for suffix in (lowered, lowered.upper())
    ]
    return {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": [bucket_name]}, "object": {"key": key_patterns}},
    }


def matches_upload_pattern(pattern: dict[str, Any], event: object) -> bool:
    """Return whether ``event`` matches a pattern from :func:`upload_event_pattern`.

    Local mode's stand-in for EventBridge's matching of that one pattern (moto's matcher
    has no ``wildcard``); ``*`` matches any run of characters, as in EventBridge.
    """
    if not isinstance(event, dict):
        return False
    detail = event.get("detail")
    if not isinstance(detail, dict):
        return False
    bucket = detail.get("bucket")
    obj = detail.get("object")
    if not isinstance(bucket, dict) or not isinstance(obj, dict):
        return False
    key = obj.get("key")
    if not isinstance(key, str):
        return False
    wildcards = [entry["wildcard"] for entry in pattern["detail"]["object"]["key"]]
    return (
        event.get("source") in pattern["source"]
        and event.get("detail-type") in pattern["detail-type"]
        and bucket.get("name") in pattern["detail"]["bucket"]["name"]
        and any(_wildcard_match(wildcard, key) for wildcard in wildcards)
    )


def _wildcard_match(wildcard: str, text: str) -> bool:
    parts = [re.escape(part) for part in wildcard.split("*")]
    return re.fullmatch(".*".join(parts), text, flags=re.DOTALL) is not None
