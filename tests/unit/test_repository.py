"""AlbumRepository against a moto table: idempotency, no regression, atomicity, listings."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws

from albums.adapters import repository as repository_module
from albums.adapters.repository import AlbumRepository, ClaimResult
from albums.domain import keys, records
from albums.domain.errors import (
    ExecutionNotFoundError,
    InvalidAlbumError,
    InvalidRecordError,
    RepositoryThrottledError,
    StateRegressionError,
    TaskNotFoundError,
    TaskNotPendingError,
)
from albums.domain.models import (
    Album,
    AlbumCorrection,
    AlbumPriceResult,
    ExecutionMetrics,
    ExecutionStatus,
    FailureDetails,
    PriceEstimate,
    TaskStatus,
    WorkflowType,
    apply_corrections,
    format_timestamp,
    keep_original,
)
from tests.table import (
    REGION,
    Clock,
    create_table,
    sample_albums,
    sample_execution_id,
    sample_upload,
    scan_all,
)

if TYPE_CHECKING:
    from types_boto3_dynamodb.client import DynamoDBClient

SF = WorkflowType.STEP_FUNCTIONS
LDF = WorkflowType.DURABLE_FUNCTIONS
TABLE = "albums-test"
EXEC = sample_execution_id(SF)
TOKEN = "task-token-SECRET-0001"


@pytest.fixture(scope="module")
def dynamodb() -> Iterator[DynamoDBClient]:
    # One mock and client per module (creating clients is the slow part); every test
    # gets its own empty table from the `table` fixture.
    with mock_aws():
        yield boto3.client("dynamodb", region_name=REGION)


@pytest.fixture
def table(dynamodb: DynamoDBClient) -> Iterator[str]:
    create_table(dynamodb, TABLE)
    yield TABLE
    dynamodb.delete_table(TableName=TABLE)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def repo(dynamodb: DynamoDBClient, table: str, clock: Clock) -> AlbumRepository:
    return AlbumRepository(dynamodb, TABLE, SF, clock=clock, sleep=lambda _: None)


@pytest.fixture
def durable_repo(dynamodb: DynamoDBClient, repo: AlbumRepository, clock: Clock) -> AlbumRepository:
    return AlbumRepository(dynamodb, TABLE, LDF, clock=clock, sleep=lambda _: None)


def snapshot(dynamodb: DynamoDBClient) -> list[dict[str, Any]]:
    return scan_all(dynamodb, TABLE)


def started(repo: AlbumRepository, execution_id: str = EXEC) -> None:
    """An execution with its initial data stored (running, six albums)."""
    repo.store_initial_data(execution_id, sample_upload(), sample_albums())


def awaiting(repo: AlbumRepository, execution_id: str = EXEC) -> str:
    started(repo, execution_id)
    expires = format_timestamp(repo._clock() + timedelta(hours=1))
    task = repo.create_validation_task(
        execution_id, sample_upload().upload_id, sample_albums(), TOKEN, expires
    )
    return task.task_id


def priced(index: int, price: str = "20") -> AlbumPriceResult:
    return AlbumPriceResult(index, PriceEstimate(Decimal(price), Decimal("0.7"), "deterministic"))


# --- table -----------------------------------------------------------------------------


def test_table_is_created_from_the_shared_schema(dynamodb: DynamoDBClient, table: str) -> None:
    description = dynamodb.describe_table(TableName=TABLE)["Table"]
    assert description["KeySchema"] == records.TABLE_SCHEMA["KeySchema"]
    (gsi,) = description["GlobalSecondaryIndexes"]
    assert gsi["IndexName"] == "GSI1"
    assert gsi["KeySchema"] == records.TABLE_SCHEMA["GlobalSecondaryIndexes"][0]["KeySchema"]
    assert gsi["Projection"] == {"ProjectionType": "ALL"}
    assert description["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    ttl = dynamodb.describe_time_to_live(TableName=TABLE)["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "ttl"}


# --- claims ----------------------------------------------------------------------------


class TestClaimUpload:
    def test_first_claim_wins_and_a_retry_keeps_it(
        self, repo: AlbumRepository, dynamodb: DynamoDBClient
    ) -> None:
        upload = sample_upload()
        assert repo.claim_upload(upload, EXEC) == ClaimResult(True, EXEC)
        before = snapshot(dynamodb)
        # The same execution retrying its step still holds the claim; nothing changes.
        assert repo.claim_upload(upload, EXEC) == ClaimResult(True, EXEC)
        assert snapshot(dynamodb) == before
        assert len(before) == 1
        claim = repo.get_claim(upload.upload_id)
        assert claim is not None
        assert claim.execution_id == EXEC

    def test_duplicate_delivery_is_refused(
        self, repo: AlbumRepository, dynamodb: DynamoDBClient
    ) -> None:
        upload = sample_upload()
        repo.claim_upload(upload, EXEC)
        before = snapshot(dynamodb)
        second = sample_execution_id(SF, "run-2")
        assert repo.claim_upload(upload, second) == ClaimResult(False, EXEC)
        assert snapshot(dynamodb) == before

    def test_a_new_version_is_a_new_upload(self, repo: AlbumRepository) -> None:
        repo.claim_upload(sample_upload(etag="a" * 32), EXEC)
        second = sample_execution_id(SF, "run-2")
        assert repo.claim_upload(sample_upload(etag="b" * 32), second).claimed

    def test_each_pattern_claims_independently(
        self, repo: AlbumRepository, durable_repo: AlbumRepository
    ) -> None:
        upload = sample_upload()
        durable_id = sample_execution_id(LDF)
        assert repo.claim_upload(upload, EXEC).claimed
        assert durable_repo.claim_upload(upload, durable_id) == ClaimResult(True, durable_id)
        assert repo.get_claim(upload.upload_id).execution_id == EXEC  # type: ignore[union-attr]

    def test_unclaimed(self, repo: AlbumRepository) -> None:
        assert repo.get_claim(sample_upload().upload_id) is None

    def test_execution_of_other_pattern_refused(
        self, repo: AlbumRepository, dynamodb: DynamoDBClient
    ) -> None:
        with pytest.raises(InvalidRecordError, match="belongs to durable-functions"):
            repo.claim_upload(sample_upload(), sample_execution_id(LDF))
        assert snapshot(dynamodb) == []


# --- executions ------------------------------------------------------------------------


class TestPutExecution:
    def test_writes_a_running_record(self, repo: AlbumRepository, clock: Clock) -> None:
        record = repo.put_execution(EXEC, sample_upload())
        assert record.status is ExecutionStatus.RUNNING
        assert record.created_at == format_timestamp(clock.now)
        assert repo.get_execution(EXEC) == record

    def test_retry_writes_nothing_new(
        self, repo: AlbumRepository, dynamodb: DynamoDBClient, clock: Clock
    ) -> None:
        first = repo.put_execution(EXEC, sample_upload())
        before = snapshot(dynamodb)
        clock.advance(seconds=5)
        assert repo.put_execution(EXEC, sample_upload()) == first
        assert snapshot(dynamodb) == before
        assert len(before) == 1

    def test_never_regresses_a_completed_execution(
        self, repo: AlbumRepository, dynamodb: DynamoDBClient
    ) -> None:
        repo.put_execution(EXEC, sample_upload())
        repo.complete_execution(EXEC, ExecutionStatus.COMPLETED)
        before = snapshot(dynamodb)
        with pytest.raises(StateRegressionError, match="already completed"):
            repo.put_execution(EXEC, sample_upload())
        assert snapshot(dynamodb) == before

    def test_id_reused_for_another_upload(
        self, repo: AlbumRepository, dynamodb: DynamoDBClient
    ) -> None:
        repo.put_execution(EXEC, sample_upload("one"))
        before = snapshot(dynamodb)
        with pytest.raises(InvalidRecordError, match="another upload"):
            repo.put_execution(EXEC, sample_upload("two"))
        assert snapshot(dynamodb) == before

    def test_duplicate_record(self, repo: AlbumRepository) -> None:
        holder = sample_execution_id(SF, "first")
        record = repo.put_execution(
            EXEC, sample_upload(), status=ExecutionStatus.DUPLICATE, duplicate_of=holder
        )
        assert record.duplicate_of == holder
        assert record.ended_at is not None
        # A retry of the same terminal write is accepted without a write.
        again = repo.put_execution(
            EXEC, sample_upload(), status=ExecutionStatus.DUPLICATE, duplicate_of=holder
        )
        assert again == record

    @pytest.mark.parametrize(
        ("kwargs", "error"),
        [
            ({"status": ExecutionStatus.COMPLETED}, InvalidRecordError),
            ({"status": ExecutionStatus.DUPLICATE}, InvalidRecordError),
            ({"created_at": "not a time"}, InvalidRecordError),
            ({"execution_id": "bad id"}, InvalidRecordError),
            ({"execution_id": sample_execution_id(LDF)}, InvalidRecordError),
        ],
    )
    def test_bad_input_writes_nothing(
        self,
        repo: AlbumRepository,
        dynamodb: DynamoDBClient,
        kwargs: dict[str, Any],
        error: type[Exception],
    ) -> None:
        arguments: dict[str, Any] = {"execution_id": EXEC, "upload": sample_upload(), **kwargs}
        with pytest.raises(error):
            repo.put_execution(**arguments)
        assert snapshot(dynamodb) == []

    def test_missing_execution(self, repo: AlbumRepository) -> None:
        with pytest.raises(ExecutionNotFoundError):
            repo.get_execution(EXEC)


class TestEndExecution:
    def test_complete_with_metrics(self, repo: AlbumRepository, clock: Clock) -> None:
        started(repo)
        clock.advance(seconds=90)
        metrics = ExecutionMetrics(duration_ms=90_000, transitions=24, cost_usd=Decimal("0.0006"))
        record = repo.complete_execution(EXEC, ExecutionStatus.COMPLETED, metrics=metrics)
        assert record.status is ExecutionStatus.COMPLETED
        assert record.ended_at == format_timestamp(clock.now)
        assert record.metrics == metrics
        assert repo.get_execution(EXEC) == record

    def test_retry_of_the_same_end_writes_nothing(
        self, repo: AlbumRepository, dynamodb: DynamoDBClient, clock: Clock
    ) -> None:
        started(repo)
        first = repo.complete_execution(EXEC, ExecutionStatus.COMPLETED_WITH_ERRORS)
        before = snapshot(dynamodb)
        clock.advance(seconds=3)
        assert repo.complete_execution(EXEC, ExecutionStatus.COMPLETED_WITH_ERRORS) == first
        assert snapshot(dynamodb) == before

    @pytest.mark.parametrize(
        "end",
        [
            lambda r: r.complete_execution(EXEC, ExecutionStatus.REJECTED),
            lambda r: r.fail_execution(EXEC, FailureDetails("X", "late", "Store")),
            lambda r: r.create_validation_task(
                EXEC, sample_upload().upload_id, sample_albums(), TOKEN, "2030-01-01T00:00:00Z"
            ),
            lambda r: r.apply_validated_data(EXEC, keep_original(sample_albums())),
            lambda r: r.store_results(
                EXEC,
                [priced(i) for i in range(1, 6)] + [AlbumPriceResult(6, error="PriceError")],
            ),
            lambda r: r.store_initial_data(EXEC, sample_upload(), sample_albums()),
        ],
    )
    def test_terminal_execution_never_changes(
        self, repo: AlbumRepository, dynamodb: DynamoDBClient, end: Any
    ) -> None:
        started(repo)
        repo.complete_execution(EXEC, ExecutionStatus.COMPLETED)
        before = snapshot(dynamodb)
        with pytest.raises(StateRegressionError, match="already completed"):
            end(repo)
        assert snapshot(dynamodb) == before

    def test_fail_records_the_failure(self, repo: AlbumRepository) -> None:
        started(repo)
        failure = FailureDetails("VisionNotJsonError", "model said hello", "ProcessImage")
        record = repo.fail_execution(EXEC, failure)
        assert record.status is ExecutionStatus.FAILED
        assert record.failure == failure
        assert repo.fail_execution(EXEC, failure) == record

    def test_reject_with_reason(self, repo: AlbumRepository) -> None:
        awaiting(repo)
        record = repo.complete_execution(
            EXEC, ExecutionStatus.REJECTED, rejection_reason="not my records"
        )
        assert record.rejection_reason == "not my records"

    def test_missing_execution(self, repo: AlbumRepository, dynamodb: DynamoDBClient) -> None:
        with pytest.raises(ExecutionNotFoundError):
            repo.complete_execution(EXEC, ExecutionStatus.COMPLETED)
        with pytest.raises(ExecutionNotFoundError):
            repo.fail_execution(EXEC, FailureDetails("E", "c", "s"))
        assert snapshot(dynamodb) == []

    @pytest.mark.parametrize(
        "call",
        [
            lambda r: r.complete_execution(EXEC, ExecutionStatus.FAILED),
            lambda r: r.complete_execution(EXEC, ExecutionStatus.RUNNING),
            lambda r: r.complete_execution(EXEC, "finished"),
            lambda r: r.complete_execution(EXEC, ExecutionStatus.COMPLETED, rejection_reason="why"),
            lambda r: r.complete_execution(
                EXEC, ExecutionStatus.COMPLETED, metrics=ExecutionMetrics(1, cost_usd=Decimal(-1))
            ),
            lambda r: r.fail_execution(EXEC, "boom"),
            lambda r: r.fail_execution(sample_execution_id(LDF), FailureDetails("E", "c", "s")),
        ],
    )
    def test_bad_input_writes_nothing(
        self, repo: AlbumRepository, dynamodb: DynamoDBClient, call: Any
    ) -> None:
        started(repo)
        before = snapshot(dynamodb)
        with pytest.raises((InvalidRecordError, ValueError)):
            call(repo)
        assert snapshot(dynamodb) == before

    def test_metrics_after_the_end(self, repo: AlbumRepository) -> None:
        started(repo)
        repo.complete_execution(EXEC, ExecutionStatus.COMPLETED)
        record = repo.record_metrics(
            EXEC, ExecutionMetrics(duration_ms=5, transitions=31, lambda_gb_seconds=Decimal("2.5"))
        )
        assert record.status is ExecutionStatus.COMPLETED
        assert record.metrics is not None
        assert record.metrics.transitions == 31
        assert record.metrics.lambda_gb_seconds == Decimal("2.5")

    def test_metrics_of_missing_execution(
        self, repo: AlbumRepository, dynamodb: DynamoDBClient
    ) -> None:
        with pytest.raises(ExecutionNotFoundError):
            repo.record_metrics(EXEC, ExecutionMetrics(duration_ms=5))
        assert snapshot(dynamodb) == []


# --- albums ----------------------------------------------------------------------------


class TestAlbums:
    def test_put_albums_writes_six_items_once(
        self, repo: AlbumRepository, dynamodb: DynamoDBClient
    ) -> None:
        repo.put_albums(EXEC, list(reversed(sample_albums())))
        first = snapshot(dynamodb)
        repo.put_albums(EXEC, sample_albums())
        assert snapshot(dynamodb) == first
        assert [item["sk"]["S"] for item in first] == keys.album_sks()
        stored = repo.get_albums(EXEC)
        assert [record.album for record in stored] == list(sample_albums())
        assert all(not record.year_validated for record in stored)

    @pytest.mark.parametrize(
        "albums",
        [
            sample_albums()[:5],
            (*sample_albums()[:5], sample_albums()[0]),
            (*sample_albums(), Album(1, "Extra", "Someone", 2000)),
            (),
        ],
    )
    def test_bad_album_set_writes_nothing(
        self, repo: AlbumRepository, dynamodb: DynamoDBClient, albums: tuple[Album, ...]
    ) -> None:
        with pytest.raises(InvalidAlbumError, match="exactly 6"):
            repo.put_albums(EXEC, albums)
        with pytest.raises(InvalidAlbumError, match="exactly 6"):
            repo.store_initial_data(EXEC, sample_upload(), albums)
        assert snapshot(dynamodb) == []

    def test_not_albums(self, repo: AlbumRepository, dynamodb: DynamoDBClient) -> None:
        with pytest.raises(InvalidAlbumError):
            repo.put_albums(EXEC, [album.to_dict() for album in sample_albums()])  # type: ignore[misc]
        assert snapshot(dynamodb) == []

    def test_unprocessed_items_are_retried_with_backoff(
        self, dynamodb: DynamoDBClient, table: str
    ) -> None:
        flaky = _FlakyBatchClient(dynamodb, failures=2)
        pauses: list[float] = []
        repo = AlbumRepository(flaky, TABLE, SF, sleep=pauses.append)  # type: ignore[arg-type]
        repo.put_albums(EXEC, sample_albums())
        assert len(snapshot(dynamodb)) == 6
        assert flaky.calls == [6, 2, 2]  # each round retries only what was left over
        assert pauses == [0.05, 0.1]

    def test_persistent_unprocessed_items_are_throttling(
        self, dynamodb: DynamoDBClient, table: str
    ) -> None:
        flaky = _FlakyBatchClient(dynamodb, failures=99)
        pauses: list[float] = []
        repo = AlbumRepository(flaky, TABLE, SF, sleep=pauses.append)  # type: ignore[arg-type]
        with pytest.raises(RepositoryThrottledError, match="unprocessed"):
            repo.put_albums(EXEC, sample_albums())
        assert len(flaky.calls) == repository_module.MAX_BATCH_ATTEMPTS
        assert len(pauses) == repository_module.MAX_BATCH_ATTEMPTS - 1
        assert max(pauses) <= repository_module.BATCH_BACKOFF_CAP


class _FlakyBatchClient:
    """Passes calls to a moto client, but leaves two items unprocessed ``failures`` times."""

    def __init__(self, client: DynamoDBClient, failures: int) -> None:
        self._client = client
        self._failures = failures
        self.calls: list[int] = []

    def batch_write_item(self, **kwargs: Any) -> dict[str, Any]:
        ((table, requests),) = kwargs["RequestItems"].items()
        self.calls.append(len(requests))
        if self._failures == 0:
            return dict(self._client.batch_write_item(**kwargs))
        self._failures -= 1
        keep = requests[:-2] if len(requests) > 2 else []
        if keep:
            self._client.batch_write_item(RequestItems={table: keep})
        left = requests[len(keep) :]
        return {"UnprocessedItems": {table: left}}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


class TestStoreInitialData:
    def test_writes_execution_and_albums(
        self, repo: AlbumRepository, dynamodb: DynamoDBClient
    ) -> None:
        started(repo)
        items = snapshot(dynamodb)
        assert len(items) == 7
        assert [item["sk"]["S"] for item in items] == [*keys.album_sks(), "meta"]
        record = repo.get_execution(EXEC)
        assert record.status is ExecutionStatus.RUNNING
        assert len(repo.get_albums(EXEC)) == 6

    def test_retry_rewrites_the_same_items(
        self, repo: AlbumRepository, dynamodb: DynamoDBClient
    ) -> None:
        started(repo)
        before = snapshot(dynamodb)
        started(repo)
        assert snapshot(dynamodb) == before

    def test_keeps_the_creation_time_of_the_accept_step(
        self, repo: AlbumRepository, clock: Clock
    ) -> None:
        accepted = repo.put_execution(EXEC, sample_upload())
        clock.advance(seconds=30)
        started(repo)
        record = repo.get_execution(EXEC)
        assert record.created_at == accepted.created_at
        assert record.updated_at == format_timestamp(clock.now)
        assert repo.list_executions().items == (record,)

    def test_all_or_nothing(self, repo: AlbumRepository, dynamodb: DynamoDBClient) -> None:
        # Album 4 of this execution was already validated (say, by a stray earlier run):
        # the transaction must write neither the execution nor the other five albums.
        stray = records.AlbumRecord(
            EXEC,
            SF,
            sample_albums()[3],
            "2026-01-01T00:00:00Z",
            "2026-01-01T00:00:00Z",
            year_validated=True,
            year_original=1981,
        )
        dynamodb.put_item(TableName=TABLE, Item=repository_module._serialize(stray.to_item()))
        before = snapshot(dynamodb)
        with pytest.raises(StateRegressionError, match="album 4"):
            started(repo)
        assert snapshot(dynamodb) == before

    def test_after_validation_it_is_refused(
        self, repo: AlbumRepository, dynamodb: DynamoDBClient
    ) -> None:
        awaiting(repo)
        before = snapshot(dynamodb)
        with pytest.raises(StateRegressionError, match="awaiting_validation"):
            started(repo)
        assert snapshot(dynamodb) == before

    def test_another_upload_is_refused(
        self, repo: AlbumRepository, dynamodb: DynamoDBClient
    ) -> None:
        started(repo)
        before = snapshot(dynamodb)
        with pytest.raises(InvalidRecordError, match="another upload"):
            repo.store_initial_data(EXEC, sample_upload("other"), sample_albums())
        assert snapshot(dynamodb) == before


class TestValidatedData:
    def test_corrections_are_applied(self, repo: AlbumRepository) -> None:
        awaiting(repo)
        corrections = [AlbumCorrection(2, 1970, album_name="Let It Be")]
        repo.apply_validated_data(EXEC, apply_corrections(sample_albums(), corrections))
        albums = repo.get_albums(EXEC)
        second = albums[1]
        assert second.album == Album(2, "Let It Be", "The Beatles", 1970)
        assert second.year_original == 1969
        assert second.year_validated
        assert all(record.year_validated for record in albums)
        assert albums[0].year_original == albums[0].album.year == 1959
        assert repo.get_execution(EXEC).status is ExecutionStatus.RUNNING

    def test_timeout_keeps_originals_unvalidated(
        self, repo: AlbumRepository, dynamodb: DynamoDBClient
    ) -> None:
        awaiting(repo)
        repo.apply_validated_data(EXEC, keep_original(sample_albums()))
        before = snapshot(dynamodb)
        repo.apply_validated_data(EXEC, keep_original(sample_albums()))
        assert snapshot(dynamodb) == before
        albums = repo.get_albums(EXEC)
        assert [record.album for record in albums] == list(sample_albums())
        assert not any(record.year_validated for record in albums)
        assert all(record.year_original == record.album.year for record in albums)

    def test_missing_album_changes_nothing(
        self, repo: AlbumRepository, dynamodb: DynamoDBClient
    ) -> None:
        awaiting(repo)
        key = {"pk": {"S": keys.execution_pk(SF, EXEC)}, "sk": {"S": keys.album_sk(5)}}
        dynamodb.delete_item(TableName=TABLE, Key=key)
        before = snapshot(dynamodb)
        with pytest.raises(InvalidRecordError, match="album 5"):
            repo.apply_validated_data(EXEC, keep_original(sample_albums()))
        assert snapshot(dynamodb) == before

    def test_missing_execution(self, repo: AlbumRepository, dynamodb: DynamoDBClient) -> None:
        with pytest.raises(ExecutionNotFoundError):
            repo.apply_validated_data(EXEC, keep_original(sample_albums()))
        assert snapshot(dynamodb) == []

    def test_bad_set_writes_nothing(self, repo: AlbumRepository, dynamodb: DynamoDBClient) -> None:
        awaiting(repo)
        before = snapshot(dynamodb)
        with pytest.raises(InvalidAlbumError):
            repo.apply_validated_data(EXEC, keep_original(sample_albums())[:5])
        assert snapshot(dynamodb) == before


class TestPrices:
    def test_prices_and_failures_end_the_execution_in_one_write(
        self, repo: AlbumRepository, dynamodb: DynamoDBClient
    ) -> None:
        started(repo)
        failed = AlbumPriceResult(4, error="PriceEstimationError", error_message="no sales")
        results = [priced(i, f"{10 + i}.5") for i in (1, 2, 3, 5, 6)] + [failed]
        assert repo.store_results(EXEC, results) is ExecutionStatus.COMPLETED_WITH_ERRORS
        assert repo.get_execution(EXEC).status is ExecutionStatus.COMPLETED_WITH_ERRORS
        albums = repo.get_albums(EXEC)
        assert albums[0].price is not None
        assert albums[0].price.price_estimate == Decimal("11.50")
        assert albums[3].price is None
        assert albums[3].price_error == "PriceEstimationError"
        assert albums[3].price_error_message == "no sales"
        # The execution has ended: other results are refused and change nothing.
        before = snapshot(dynamodb)
        with pytest.raises(StateRegressionError):
            repo.store_results(EXEC, [priced(i) for i in range(1, 7)])
        assert snapshot(dynamodb) == before

    def test_a_complete_set_replaces_an_earlier_failure(self, repo: AlbumRepository) -> None:
        started(repo)
        assert repo.store_results(EXEC, [priced(i) for i in range(1, 7)]) is (
            ExecutionStatus.COMPLETED
        )
        fourth = repo.get_albums(EXEC)[3]
        assert fourth.price is not None
        assert fourth.price_error is None
        assert fourth.price_error_message is None

    def test_retry_is_idempotent(self, repo: AlbumRepository, dynamodb: DynamoDBClient) -> None:
        started(repo)
        results = [priced(i) for i in range(1, 7)]
        repo.store_results(EXEC, results)
        before = snapshot(dynamodb)
        repo.store_results(EXEC, results)
        assert snapshot(dynamodb) == before

    @pytest.mark.parametrize(
        "results",
        [
            [priced(i) for i in range(1, 6)],
            [priced(i) for i in (1, 2, 3, 4, 5, 5)],
            [priced(i) for i in range(1, 7)] + [priced(1)],
        ],
    )
    def test_bad_result_set_writes_nothing(
        self, repo: AlbumRepository, dynamodb: DynamoDBClient, results: list[AlbumPriceResult]
    ) -> None:
        started(repo)
        before = snapshot(dynamodb)
        with pytest.raises(InvalidAlbumError):
            repo.store_results(EXEC, results)
        assert snapshot(dynamodb) == before

    def test_missing_execution(self, repo: AlbumRepository, dynamodb: DynamoDBClient) -> None:
        repo.put_albums(EXEC, sample_albums())
        before = snapshot(dynamodb)
        with pytest.raises(ExecutionNotFoundError):
            repo.store_results(EXEC, [priced(i) for i in range(1, 7)])
        assert snapshot(dynamodb) == before


# --- validation tasks ------------------------------------------------------------------


class TestValidationTasks:
    def test_create_marks_execution_awaiting(
        self, repo: AlbumRepository, dynamodb: DynamoDBClient, clock: Clock
    ) -> None:
        task_id = awaiting(repo)
        task = repo.get_task(task_id)
        assert task.task_id == keys.task_id_for(SF, EXEC)
        assert task.status is TaskStatus.PENDING
        assert task.resume_token == TOKEN
        assert task.albums == sample_albums()
        execution = repo.get_execution(EXEC)
        assert execution.status is ExecutionStatus.AWAITING_VALIDATION
        assert execution.task_id == task_id
        raw = next(i for i in snapshot(dynamodb) if i["pk"]["S"] == keys.task_pk(SF, task_id))
        assert TOKEN not in raw["gsi1pk"]["S"] + raw["gsi1sk"]["S"]
        expected_ttl = records.retention_ttl(task.expires_at)
        assert raw["ttl"] == {"N": str(expected_ttl)}

    def test_retry_is_idempotent_and_refreshes_the_token(
        self, repo: AlbumRepository, dynamodb: DynamoDBClient, clock: Clock
    ) -> None:
        task_id = awaiting(repo)
        first = repo.get_task(task_id)
        clock.advance(seconds=10)
        again = repo.create_validation_task(
            EXEC, sample_upload().upload_id, sample_albums(), "token-2", first.expires_at
        )
        assert again.task_id == task_id
        assert again.resume_token == "token-2"
        assert again.created_at == first.created_at
        assert sum(1 for i in snapshot(dynamodb) if i["entityType"]["S"] == "task") == 1

    def test_missing_execution_writes_no_task(
        self, repo: AlbumRepository, dynamodb: DynamoDBClient
    ) -> None:
        with pytest.raises(ExecutionNotFoundError):
            repo.create_validation_task(
                EXEC, sample_upload().upload_id, sample_albums(), TOKEN, "2030-01-01T00:00:00Z"
            )
        assert snapshot(dynamodb) == []

    def test_wrong_upload_writes_no_task(
        self, repo: AlbumRepository, dynamodb: DynamoDBClient
    ) -> None:
        started(repo)
        before = snapshot(dynamodb)
        with pytest.raises(InvalidRecordError, match="not the upload"):
            repo.create_validation_task(
                EXEC, sample_upload("x").upload_id, sample_albums(), TOKEN, "2030-01-01T00:00:00Z"
            )
        assert snapshot(dynamodb) == before

    @pytest.mark.parametrize(
        ("kwargs", "error"),
        [
            ({"albums": sample_albums()[:5]}, InvalidAlbumError),
            ({"resume_token": ""}, InvalidRecordError),
            ({"expires_at": "soon"}, InvalidRecordError),
            ({"upload_id": "nope"}, InvalidRecordError),
            ({"execution_id": sample_execution_id(LDF)}, InvalidRecordError),
        ],
    )
    def test_bad_input_writes_nothing(
        self,
        repo: AlbumRepository,
        dynamodb: DynamoDBClient,
        kwargs: dict[str, Any],
        error: type[Exception],
    ) -> None:
        started(repo)
        before = snapshot(dynamodb)
        arguments: dict[str, Any] = {
            "execution_id": EXEC,
            "upload_id": sample_upload().upload_id,
            "albums": sample_albums(),
            "resume_token": TOKEN,
            "expires_at": "2030-01-01T00:00:00Z",
            **kwargs,
        }
        with pytest.raises(error):
            repo.create_validation_task(**arguments)
        assert snapshot(dynamodb) == before

    def test_complete_moves_the_task_out_of_pending(
        self, repo: AlbumRepository, clock: Clock
    ) -> None:
        task_id = awaiting(repo)
        clock.advance(minutes=5)
        corrections = [AlbumCorrection(3, 1976)]
        task = repo.complete_validation_task(task_id, TaskStatus.COMPLETED, corrections=corrections)
        assert task.status is TaskStatus.COMPLETED
        assert task.answered_at == format_timestamp(clock.now)
        assert task.corrections == tuple(corrections)
        assert task.resume_token == TOKEN  # the caller resumes the run with it
        assert task.ttl == int((clock.now + records.TASK_RETENTION).timestamp())
        assert repo.list_pending_tasks().items == ()
        item = task.to_item()
        assert item["gsi1pk"] == "sf#tasks#completed"

    def test_a_task_is_answered_once(self, repo: AlbumRepository, dynamodb: DynamoDBClient) -> None:
        task_id = awaiting(repo)
        repo.complete_validation_task(task_id, TaskStatus.REJECTED, rejection_reason="wrong")
        before = snapshot(dynamodb)
        for status in (TaskStatus.COMPLETED, TaskStatus.TIMEOUT, TaskStatus.REJECTED):
            with pytest.raises(TaskNotPendingError, match="already rejected"):
                repo.complete_validation_task(task_id, status)
        assert snapshot(dynamodb) == before
        with pytest.raises(TaskNotPendingError, match="already rejected"):
            repo.create_validation_task(
                EXEC, sample_upload().upload_id, sample_albums(), TOKEN, "2030-01-01T00:00:00Z"
            )

    def test_unknown_task(self, repo: AlbumRepository, dynamodb: DynamoDBClient) -> None:
        task_id = keys.task_id_for(SF, EXEC)
        with pytest.raises(TaskNotFoundError):
            repo.complete_validation_task(task_id, TaskStatus.TIMEOUT)
        with pytest.raises(TaskNotFoundError):
            repo.get_task(task_id)
        assert snapshot(dynamodb) == []

    @pytest.mark.parametrize(
        ("status", "kwargs"),
        [
            (TaskStatus.PENDING, {}),
            (TaskStatus.REJECTED, {"corrections": [AlbumCorrection(1, 1990)]}),
            (TaskStatus.COMPLETED, {"rejection_reason": "no"}),
            (TaskStatus.REJECTED, {"rejection_reason": "x" * 600}),
            (
                TaskStatus.COMPLETED,
                {"corrections": [AlbumCorrection(1, 1990), AlbumCorrection(1, 1991)]},
            ),
        ],
    )
    def test_bad_answers_write_nothing(
        self,
        repo: AlbumRepository,
        dynamodb: DynamoDBClient,
        status: TaskStatus,
        kwargs: dict[str, Any],
    ) -> None:
        task_id = awaiting(repo)
        before = snapshot(dynamodb)
        with pytest.raises((InvalidRecordError, InvalidAlbumError)):
            repo.complete_validation_task(task_id, status, **kwargs)
        assert snapshot(dynamodb) == before

    def test_task_of_other_pattern_refused(
        self, repo: AlbumRepository, dynamodb: DynamoDBClient
    ) -> None:
        durable_task = keys.task_id_for(LDF, sample_execution_id(LDF))
        with pytest.raises(InvalidRecordError, match="belongs to durable-functions"):
            repo.complete_validation_task(durable_task, TaskStatus.TIMEOUT)
        with pytest.raises(InvalidRecordError, match="belongs to durable-functions"):
            repo.get_task(durable_task)
        assert snapshot(dynamodb) == []

    def test_pending_tasks_by_expiry(self, repo: AlbumRepository, clock: Clock) -> None:
        ids = [sample_execution_id(SF, f"run-{n}") for n in range(5)]
        for n, execution_id in enumerate(ids):
            started(repo, execution_id)
            expires = format_timestamp(clock.now + timedelta(hours=5 - n))
            repo.create_validation_task(
                execution_id, sample_upload().upload_id, sample_albums(), TOKEN, expires
            )
        repo.complete_validation_task(keys.task_id_for(SF, ids[0]), TaskStatus.TIMEOUT)
        page = repo.list_pending_tasks(limit=2)
        assert [t.execution_id for t in page.items] == [ids[4], ids[3]]
        rest = repo.list_pending_tasks(limit=10, next_token=page.next_token)
        assert [t.execution_id for t in rest.items] == [ids[2], ids[1]]
        assert rest.next_token is None


# --- listings --------------------------------------------------------------------------


class TestListExecutions:
    def test_pagination_per_pattern(
        self, repo: AlbumRepository, durable_repo: AlbumRepository, clock: Clock
    ) -> None:
        sf_ids, ldf_ids = [], []
        for n in range(30):
            clock.advance(seconds=1)
            sf_ids.append(sample_execution_id(SF, f"run-{n:02d}"))
            repo.put_execution(sf_ids[-1], sample_upload(f"u{n}"))
            if n % 3 == 0:
                ldf_ids.append(sample_execution_id(LDF, f"run-{n:02d}"))
                durable_repo.put_execution(ldf_ids[-1], sample_upload(f"u{n}"))
        pages = []
        token: str | None = None
        while True:
            page = repo.list_executions(limit=10, next_token=token)
            pages.append(page)
            token = page.next_token
            if token is None:
                break
        listed = [record.execution_id for page in pages for record in page.items]
        assert [len(page.items) for page in pages[:3]] == [10, 10, 10]
        assert len(pages) <= 4  # a last empty page is allowed, as DynamoDB may return one
        assert listed == list(reversed(sf_ids))
        # iter_executions reads the same listing across pages, and only the pages needed.
        assert [r.execution_id for r in repo.iter_executions(page_size=7)] == listed
        first_two = [r.execution_id for r in itertools.islice(repo.iter_executions(page_size=7), 2)]
        assert first_two == listed[:2]
        oldest_first = repo.list_executions(limit=100, newest_first=False)
        assert [r.execution_id for r in oldest_first.items] == sf_ids
        assert oldest_first.next_token is None
        durable = durable_repo.list_executions(limit=100)
        assert [r.execution_id for r in durable.items] == list(reversed(ldf_ids))
        assert all(r.workflow_type is LDF for r in durable.items)

    def test_tokens_are_checked(self, repo: AlbumRepository, durable_repo: AlbumRepository) -> None:
        for n in range(3):
            repo.put_execution(sample_execution_id(SF, f"r{n}"), sample_upload(f"u{n}"))
            durable_repo.put_execution(sample_execution_id(LDF, f"r{n}"), sample_upload(f"u{n}"))
        sf_token = repo.list_executions(limit=1).next_token
        assert sf_token is not None
        with pytest.raises(InvalidRecordError, match="token"):
            durable_repo.list_executions(limit=1, next_token=sf_token)
        with pytest.raises(InvalidRecordError, match="token"):
            repo.list_pending_tasks(limit=1, next_token=sf_token)
        for bad in ("", "!!!", "e30=", "x" * 5000):
            with pytest.raises(InvalidRecordError, match="token"):
                repo.list_executions(next_token=bad)

    @pytest.mark.parametrize("limit", [0, -1, 101, True, 2.5])
    def test_limit_is_bounded(self, repo: AlbumRepository, limit: Any) -> None:
        with pytest.raises(InvalidRecordError, match="limit"):
            repo.list_executions(limit=limit)

    def test_records_are_plain_json(self, repo: AlbumRepository) -> None:
        awaiting(repo)
        payload = {
            "execution": repo.get_execution(EXEC).to_dict(),
            "albums": [album.to_dict() for album in repo.get_albums(EXEC)],
            "tasks": [task.to_dict() for task in repo.list_pending_tasks().items],
        }
        text = json.dumps(payload)
        assert TOKEN not in text
        assert json.loads(text)["albums"][0]["year"] == 1959


# --- errors ----------------------------------------------------------------------------


class TestErrorMapping:
    @pytest.mark.parametrize(
        "code",
        [
            "ProvisionedThroughputExceededException",
            "ThrottlingException",
            "RequestLimitExceeded",
            "InternalServerError",
        ],
    )
    def test_throttling_is_transient(self, dynamodb: DynamoDBClient, code: str) -> None:
        repo = AlbumRepository(dynamodb, TABLE, SF)
        with Stubber(dynamodb) as stubber:
            stubber.add_client_error("put_item", service_error_code=code, http_status_code=400)
            with pytest.raises(RepositoryThrottledError, match=code):
                repo.claim_upload(sample_upload(), EXEC)
            stubber.add_client_error("get_item", service_error_code=code, http_status_code=500)
            with pytest.raises(RepositoryThrottledError):
                repo.get_execution(EXEC)

    @pytest.mark.parametrize("reason", ["ThrottlingError", "TransactionConflict"])
    def test_cancelled_transaction_for_transient_reasons(
        self, dynamodb: DynamoDBClient, reason: str
    ) -> None:
        repo = AlbumRepository(dynamodb, TABLE, SF)
        with Stubber(dynamodb) as stubber:
            stubber.add_client_error(
                "transact_write_items",
                service_error_code="TransactionCanceledException",
                modeled_fields={
                    "CancellationReasons": [{"Code": "None"}, {"Code": reason}]
                    + [{"Code": "None"}] * 5
                },
            )
            with pytest.raises(RepositoryThrottledError, match=reason):
                started(repo)

    def test_other_errors_pass_through(self, dynamodb: DynamoDBClient) -> None:
        repo = AlbumRepository(dynamodb, TABLE, SF)
        with Stubber(dynamodb) as stubber:
            stubber.add_client_error("get_item", service_error_code="ResourceNotFoundException")
            with pytest.raises(ClientError, match="ResourceNotFoundException"):
                repo.get_execution(EXEC)

    def test_throttled_error_is_retryable(self) -> None:
        from albums.domain.errors import TransientError

        assert issubclass(RepositoryThrottledError, TransientError)
