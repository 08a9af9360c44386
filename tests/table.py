"""The application table under moto, created exactly as Terraform creates it.

The schema comes from :data:`albums.domain.records.TABLE_SCHEMA` (the one description of
keys and index); TTL is switched on for :data:`~albums.domain.records.TTL_ATTRIBUTE`.
Also what the repository tests share: a table snapshot for "nothing was written"
assertions, a settable clock, sample values and hypothesis strategies.

Create clients only inside an active ``mock_aws`` (a client made outside talks to AWS).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from boto3.dynamodb.types import TypeDeserializer
from hypothesis import strategies as st

from albums.domain.keys import UploadRef, execution_id_for
from albums.domain.models import Album, WorkflowType
from albums.domain.records import TTL_ATTRIBUTE, create_table_request
from tests.property.strategies import valid_keys

if TYPE_CHECKING:
    from types_boto3_dynamodb.client import DynamoDBClient

    from albums.adapters.repository import AlbumRepository

P = ParamSpec("P")
R = TypeVar("R")

REGION = "us-east-1"
#: A fixed moment for tests that compare whole items.
FIXED_NOW = datetime(2026, 3, 14, 9, 26, 53, 589000, tzinfo=UTC)


def create_table(client: DynamoDBClient, name: str) -> None:
    """Create the application table ``name`` (keys, GSI1, on-demand, TTL on ``ttl``)."""
    # moto makes the table ACTIVE at once; a real table would need the table_exists waiter.
    client.create_table(**create_table_request(name))
    client.update_time_to_live(
        TableName=name,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
    )


@contextmanager
def fresh_table(client: DynamoDBClient) -> Iterator[str]:
    """Create a uniquely named table, yield its name, and delete it afterwards.

    Lets a hypothesis test start every example from an empty table under one mock. Keys
    and index are the real ones; TTL is left off because moto never expires items, and
    each call it saves is repeated in every example.
    """
    name = f"albums-{uuid.uuid4().hex[:12]}"
    client.create_table(**create_table_request(name))
    try:
        yield name
    finally:
        client.delete_table(TableName=name)


def scan_all(client: DynamoDBClient, name: str) -> list[dict[str, Any]]:
    """Return every raw item of the table, sorted by key (a comparable snapshot)."""
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": name, "ConsistentRead": True}
    while True:
        response = client.scan(**kwargs)
        items.extend(response.get("Items", []))
        if "LastEvaluatedKey" not in response:
            break
        kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
    return sorted(items, key=lambda item: (item["pk"]["S"], item["sk"]["S"]))


def scan_items(client: DynamoDBClient, name: str) -> list[dict[str, Any]]:
    """Return every item of the table as plain Python values (Decimals for numbers)."""
    deserializer = TypeDeserializer()
    return [
        {attribute: deserializer.deserialize(value) for attribute, value in item.items()}
        for item in scan_all(client, name)
    ]


_SHALLOW_STACK = ThreadPoolExecutor(max_workers=1, thread_name_prefix="shallow-stack")


def on_fresh_stack(function: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Call ``function`` on a worker thread whose Python stack starts nearly empty.

    Why: CPython 3.11 keeps its frame stack in 16 KiB chunks and unmaps a chunk as soon
    as the stack shrinks back below it. A hypothesis example under pytest starts deep
    enough that moto's recursive parsers cross a chunk boundary thousands of times per
    request, each crossing an mmap/munmap pair: moto-backed examples ran 2-3x slower,
    mostly in the kernel. From a shallow stack they do not. Exceptions propagate as
    raised, so hypothesis still sees and shrinks failures. moto's mock is process-wide
    and boto3 clients are thread-safe, so the worker may use the test's client.
    """
    return _SHALLOW_STACK.submit(function, *args, **kwargs).result()


class Clock:
    """A settable clock for the repository: returns ``now`` and can be moved on."""

    def __init__(self, now: datetime = FIXED_NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        """Move the clock forward by ``timedelta(**delta)`` and return the new time."""
        self.now += timedelta(**delta)
        return self.now


# --- sample values ---------------------------------------------------------------------


def sample_upload(name: str = "crate", *, etag: str | None = None) -> UploadRef:
    """An upload of ``uploads/{name}.jpg`` in an unversioned bucket."""
    return UploadRef(
        bucket="album-uploads-test",
        key=f"uploads/{name}.jpg",
        etag=etag or uuid.uuid5(uuid.NAMESPACE_URL, name).hex,
        size=123_456,
    )


def sample_albums() -> tuple[Album, ...]:
    """Six valid albums, indices 1..6."""
    data = [
        ("Kind of Blue", "Miles Davis", 1959),
        ("Abbey Road", "The Beatles", 1969),
        ("Rumours", "Fleetwood Mac", 1977),
        ("Thriller", "Michael Jackson", 1982),
        ("Nevermind", "Nirvana", 1991),
        ("OK Computer", "Radiohead", 1997),
    ]
    return tuple(
        Album(index=i, album_name=name, artist=artist, year=year)
        for i, (name, artist, year) in enumerate(data, start=1)
    )


def put_waiting_upload(
    repositories: Mapping[WorkflowType, AlbumRepository],
    name: str,
    expires: Mapping[WorkflowType, datetime],
    *,
    albums: Mapping[WorkflowType, Sequence[Album]] | None = None,
) -> UploadRef:
    """Store upload ``name`` paused at validation in each pattern of ``expires``.

    Per pattern: the claim, the execution record, the initial albums (``albums`` or the
    samples) and a pending task expiring at ``expires[pattern]`` with the resume token
    ``token-{tenant}-{name}``; the execution id is ``{name}-{tenant}``'s.
    """
    upload = sample_upload(name)
    for pattern, expires_at in expires.items():
        repository = repositories[pattern]
        execution_id = execution_id_for(pattern, f"{name}-{pattern.tenant}")
        detected = (albums or {}).get(pattern, sample_albums())
        repository.claim_upload(upload, execution_id)
        repository.put_execution(execution_id, upload)
        repository.store_initial_data(execution_id, upload, detected)
        repository.create_validation_task(
            execution_id, upload.upload_id, detected, f"token-{pattern.tenant}-{name}", expires_at
        )
    return upload


def sample_execution_id(workflow_type: WorkflowType, name: str = "run-1") -> str:
    """An execution id of ``workflow_type`` for the native name ``name``."""
    return execution_id_for(workflow_type, name)


# --- hypothesis strategies for repository properties -----------------------------------

workflow_types = st.sampled_from(list(WorkflowType))
native_names = st.from_regex(r"[A-Za-z0-9_-]{1,40}", fullmatch=True)
bucket_names = st.from_regex(r"[a-z0-9][a-z0-9-]{1,20}[a-z0-9]", fullmatch=True)


@st.composite
def uploads(draw: st.DrawFn) -> UploadRef:
    """Uploads with valid keys, from versioned (version id) or unversioned (etag) buckets."""
    bucket = draw(bucket_names)
    key = draw(valid_keys())
    if draw(st.booleans()):
        version = draw(st.from_regex(r"[A-Za-z0-9._-]{1,32}", fullmatch=True))
        return UploadRef(bucket=bucket, key=key, version_id=version)
    return UploadRef(
        bucket=bucket, key=key, etag=draw(st.from_regex(r"[0-9a-f]{32}", fullmatch=True))
    )
