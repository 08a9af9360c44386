"""The pure records layer: table schema, item shapes, round trips, and refusals."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from albums.domain import keys, records
from albums.domain.errors import InvalidAlbumError, InvalidRecordError
from albums.domain.models import (
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
)
from albums.domain.records import (
    AlbumRecord,
    ExecutionRecord,
    UploadClaim,
    ValidationTask,
    parse_item,
    to_plain,
    to_timestamp,
)
from tests.table import sample_albums, sample_upload

SF = WorkflowType.STEP_FUNCTIONS
LDF = WorkflowType.DURABLE_FUNCTIONS
NOW = "2026-03-14T09:26:53.589Z"
LATER = "2026-03-14T10:26:53.589Z"
SF_ID = keys.execution_id_for(SF, "run-1")
LDF_ID = keys.execution_id_for(LDF, "run-1")


def execution(**overrides: Any) -> ExecutionRecord:
    fields: dict[str, Any] = {
        "execution_id": SF_ID,
        "workflow_type": SF,
        "status": ExecutionStatus.RUNNING,
        "upload": sample_upload(),
        "created_at": NOW,
        "updated_at": NOW,
    }
    fields.update(overrides)
    return ExecutionRecord(**fields)


def task(**overrides: Any) -> ValidationTask:
    fields: dict[str, Any] = {
        "task_id": keys.task_id_for(SF, SF_ID),
        "execution_id": SF_ID,
        "workflow_type": SF,
        "upload_id": sample_upload().upload_id,
        "status": TaskStatus.PENDING,
        "albums": sample_albums(),
        "resume_token": "secret-token-AAAA",
        "expires_at": LATER,
        "created_at": NOW,
        "updated_at": NOW,
    }
    fields.update(overrides)
    return ValidationTask(**fields)


class TestTableSchema:
    def test_keys_index_and_billing(self) -> None:
        schema = records.TABLE_SCHEMA
        assert schema["KeySchema"] == [
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ]
        (gsi,) = schema["GlobalSecondaryIndexes"]
        assert gsi["IndexName"] == records.GSI1_NAME == "GSI1"
        assert gsi["KeySchema"] == [
            {"AttributeName": "gsi1pk", "KeyType": "HASH"},
            {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
        ]
        assert gsi["Projection"] == {"ProjectionType": "ALL"}
        assert schema["BillingMode"] == "PAY_PER_REQUEST"
        assert {d["AttributeName"]: d["AttributeType"] for d in schema["AttributeDefinitions"]} == {
            "pk": "S",
            "sk": "S",
            "gsi1pk": "S",
            "gsi1sk": "S",
        }
        assert records.TTL_ATTRIBUTE == "ttl"

    def test_create_table_request_is_a_copy(self) -> None:
        request = records.create_table_request("t1")
        assert request["TableName"] == "t1"
        request["KeySchema"].clear()
        assert len(records.TABLE_SCHEMA["KeySchema"]) == 2
        assert "TableName" not in records.TABLE_SCHEMA

    def test_domain_imports_no_aws_sdk(self) -> None:
        code = (
            "import sys, albums.domain.records;"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore')))"
        )
        out = subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONPATH": str(Path(__file__).parents[2] / "shared_layer")},
        )
        assert out.stdout.strip() == "[]"


class TestValues:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            (datetime(2026, 3, 14, 9, 26, 53, 589123, tzinfo=UTC), "2026-03-14T09:26:53.589Z"),
            ("2026-03-14T09:26:53Z", "2026-03-14T09:26:53.000Z"),
            ("2026-03-14T11:26:53.5+02:00", "2026-03-14T09:26:53.500Z"),
            (
                datetime(2026, 3, 14, 4, 0, tzinfo=timezone(timedelta(hours=-5))),
                "2026-03-14T09:00:00.000Z",
            ),
        ],
    )
    def test_timestamps_are_canonical_utc(self, value: datetime | str, expected: str) -> None:
        assert to_timestamp(value) == expected

    @pytest.mark.parametrize("value", ["2026-03-14T09:26:53", "yesterday", "", 12, None])
    def test_bad_timestamps(self, value: Any) -> None:
        with pytest.raises(InvalidRecordError):
            to_timestamp(value)

    def test_to_plain(self) -> None:
        data = {
            "a": Decimal(3),
            "b": Decimal("2.50"),
            "c": [Decimal("1E+2"), (Decimal("0.1"),)],
            "d": {"e": {Decimal(2), Decimal(1)}},
            "f": "text",
            "g": True,
        }
        plain = to_plain(data)
        assert plain == {
            "a": 3,
            "b": 2.5,
            "c": [100, [0.1]],
            "d": {"e": [1, 2]},
            "f": "text",
            "g": True,
        }
        assert type(plain["a"]) is int
        assert type(plain["b"]) is float
        json.dumps(plain)

    def test_retention_ttl(self) -> None:
        expected = datetime(2026, 4, 13, 9, 26, 53, tzinfo=UTC).timestamp()
        assert records.retention_ttl(NOW) == int(expected)


class TestExecutionRecord:
    def test_item_shape(self) -> None:
        item = execution().to_item()
        assert item["pk"] == f"sf#exec#{SF_ID}"
        assert item["sk"] == "meta"
        assert item["entityType"] == "execution"
        assert item["workflowType"] == "step-functions"
        assert item["executionId"] == SF_ID
        assert item["status"] == "running"
        assert item["createdAt"] == NOW
        assert item["gsi1pk"] == "sf#executions"
        assert item["gsi1sk"] == f"{NOW}#{SF_ID}"
        upload = sample_upload()
        assert item["bucket"] == upload.bucket
        assert item["key"] == upload.key
        assert item["etag"] == upload.etag
        assert item["uploadId"] == upload.upload_id
        assert item["size"] == Decimal(123_456)
        assert "versionId" not in item
        assert not any(value is None for value in item.values())

    def test_round_trip_with_every_optional_field(self) -> None:
        record = execution(
            status=ExecutionStatus.FAILED,
            task_id=keys.task_id_for(SF, SF_ID),
            ended_at=LATER,
            failure=FailureDetails("VisionNotJsonError", "no JSON", "ProcessImage"),
            metrics=ExecutionMetrics(
                duration_ms=1234,
                transitions=17,
                durable_operations=None,
                replays=2,
                lambda_gb_seconds=Decimal("1.25"),
                cost_usd=Decimal("0.000425"),
                extra={"retries": 3},
            ),
        )
        item = record.to_item()
        assert item["failure"] == {
            "error": "VisionNotJsonError",
            "cause": "no JSON",
            "step": "ProcessImage",
        }
        assert item["durationMs"] == Decimal(1234)
        assert item["costUsd"] == Decimal("0.000425")
        assert item["metricsExtra"] == {"retries": Decimal(3)}
        assert "durableOperations" not in item
        assert ExecutionRecord.from_item(item) == record
        assert parse_item(item) == record

    def test_duplicate_and_rejected(self) -> None:
        other = keys.execution_id_for(SF, "first")
        record = execution(status=ExecutionStatus.DUPLICATE, duplicate_of=other, ended_at=NOW)
        assert record.to_item()["duplicateOf"] == other
        rejected = execution(status=ExecutionStatus.REJECTED, rejection_reason="  blurry photo ")
        assert rejected.to_item()["rejectionReason"] == "blurry photo"
        assert ExecutionRecord.from_item(rejected.to_item()) == rejected

    def test_to_dict_is_plain_json_without_keys(self) -> None:
        data = execution().to_dict()
        assert not set(data) & {"pk", "sk", "gsi1pk", "gsi1sk"}
        assert data["size"] == 123_456
        json.dumps(data)

    @pytest.mark.parametrize(
        ("overrides", "message"),
        [
            ({"execution_id": LDF_ID}, "belongs to durable-functions"),
            ({"status": "paused"}, "status must be one of"),
            ({"status": ExecutionStatus.DUPLICATE}, "duplicateOf"),
            ({"duplicate_of": keys.execution_id_for(SF, "x")}, "duplicateOf"),
            ({"status": ExecutionStatus.FAILED}, "failure details"),
            ({"created_at": "2026-03-14 09:26"}, "createdAt"),
            ({"execution_id": "bad id!"}, "execution id"),
            ({"rejection_reason": "x" * 501}, "longer than 500"),
            ({"workflow_type": "cron"}, "workflowType must be one of"),
        ],
    )
    def test_refusals(self, overrides: dict[str, Any], message: str) -> None:
        with pytest.raises(InvalidRecordError, match=message):
            execution(**overrides)

    def test_malformed_items(self) -> None:
        item = execution().to_item()
        for name in ("executionId", "status", "createdAt", "bucket"):
            broken = {k: v for k, v in item.items() if k != name}
            with pytest.raises(InvalidRecordError, match=name):
                ExecutionRecord.from_item(broken)
        with pytest.raises(InvalidRecordError, match="uploadId"):
            ExecutionRecord.from_item({**item, "uploadId": "0" * 32})
        with pytest.raises(InvalidRecordError, match="expected a execution item"):
            ExecutionRecord.from_item({**item, "entityType": "album"})
        with pytest.raises(InvalidRecordError, match="unknown entityType"):
            parse_item({**item, "entityType": "ghost"})

    def test_bad_metric_figures(self) -> None:
        with pytest.raises(InvalidRecordError, match="costUsd"):
            records.metrics_fields(ExecutionMetrics(duration_ms=1, cost_usd=Decimal(-1)))
        with pytest.raises(InvalidRecordError, match="lambdaGbSeconds"):
            records.metrics_fields(
                ExecutionMetrics(duration_ms=1, lambda_gb_seconds=Decimal("NaN"))
            )


class TestAlbumRecord:
    def test_item_shape_and_round_trip(self) -> None:
        album = sample_albums()[2]
        record = AlbumRecord(SF_ID, SF, album, NOW, NOW)
        item = record.to_item()
        assert item["pk"] == f"sf#exec#{SF_ID}"
        assert item["sk"] == "album#3"
        assert item["entityType"] == "album"
        assert item["workflowType"] == "step-functions"
        assert item["albumIndex"] == Decimal(3)
        assert item["year"] == Decimal(1977)
        assert item["yearValidated"] is False
        assert "yearOriginal" not in item
        assert AlbumRecord.from_item(item) == record

    def test_validated_and_priced(self) -> None:
        album = Album(1, "Kind of Blue", "Miles Davis", 1959)
        price = PriceEstimate(Decimal("24.5"), Decimal("0.8"), "deterministic")
        record = AlbumRecord(
            LDF_ID,
            LDF,
            album,
            NOW,
            LATER,
            year_validated=True,
            year_original=1958,
            validated_at=LATER,
            price_status=PriceStatus.PRICED,
            price=price,
            priced_at=LATER,
        )
        item = record.to_item()
        assert item["pk"].startswith("ldf#exec#")
        assert item["priceEstimate"] == Decimal("24.50")
        assert item["priceConfidence"] == Decimal("0.80")
        assert item["currency"] == "USD"
        assert AlbumRecord.from_item(item) == record
        assert record.to_dict()["priceEstimate"] == 24.5

    def test_price_consistency(self) -> None:
        album = sample_albums()[0]
        with pytest.raises(InvalidRecordError, match="estimate"):
            AlbumRecord(SF_ID, SF, album, NOW, NOW, price_status=PriceStatus.PRICED)
        with pytest.raises(InvalidRecordError, match="error"):
            AlbumRecord(SF_ID, SF, album, NOW, NOW, price_status=PriceStatus.FAILED)
        with pytest.raises(InvalidRecordError, match="original year"):
            AlbumRecord(SF_ID, SF, album, NOW, NOW, year_validated=True)

    def test_sort_key_must_match_index(self) -> None:
        item = AlbumRecord(SF_ID, SF, sample_albums()[0], NOW, NOW).to_item()
        with pytest.raises(InvalidRecordError, match="disagree"):
            AlbumRecord.from_item({**item, "sk": "album#2"})
        with pytest.raises(InvalidRecordError, match="stored album"):
            AlbumRecord.from_item({**item, "year": Decimal(1800)})

    def test_price_fields(self) -> None:
        priced = AlbumPriceResult(1, PriceEstimate(Decimal(10), Decimal("0.5"), "deterministic"))
        fields, remove = records.price_fields(priced, NOW)
        assert fields["priceStatus"] == "priced"
        assert fields["priceEstimate"] == Decimal("10.00")
        assert set(remove) == {"priceError", "priceErrorMessage"}
        failed = AlbumPriceResult(2, error="PriceEstimationError", error_message="no data")
        fields, remove = records.price_fields(failed, NOW)
        assert fields == {
            "priceStatus": "failed",
            "pricedAt": NOW,
            "priceError": "PriceEstimationError",
            "priceErrorMessage": "no data",
        }
        assert set(remove) == {"priceEstimate", "priceConfidence", "priceSource", "currency"}

    def test_validated_album_fields(self) -> None:
        validated = ValidatedAlbum(Album(2, "Abbey Road", "The Beatles", 1969), 1970, True)
        fields = records.validated_album_fields(validated, NOW)
        assert fields == {
            "albumName": "Abbey Road",
            "artist": "The Beatles",
            "year": Decimal(1969),
            "yearOriginal": Decimal(1970),
            "yearValidated": True,
            "validatedAt": NOW,
        }


class TestValidationTask:
    def test_item_shape(self) -> None:
        record = task()
        item = record.to_item()
        assert item["pk"] == f"sf#task#{record.task_id}"
        assert item["sk"] == "meta"
        assert item["entityType"] == "task"
        assert item["workflowType"] == "step-functions"
        assert item["status"] == "pending"
        assert item["gsi1pk"] == "sf#tasks#pending"
        assert item["gsi1sk"] == f"{LATER}#{record.task_id}"
        assert item["albums"][0] == {
            "albumIndex": Decimal(1),
            "albumName": "Kind of Blue",
            "artist": "Miles Davis",
            "year": Decimal(1959),
        }
        # A pending task is removed 30 days after it expires if nobody answers it.
        assert item["ttl"] == records.retention_ttl(LATER)
        assert ValidationTask.from_item(item) == record

    def test_resume_token_stays_secret(self) -> None:
        record = task()
        item = record.to_item()
        assert "secret-token" not in repr(record)
        assert "secret-token" not in item["gsi1pk"] + item["gsi1sk"]
        assert "resumeToken" not in record.to_dict()
        assert "secret-token" not in json.dumps(record.to_dict())
        assert item["resumeToken"] == "secret-token-AAAA"

    def test_answered_task(self) -> None:
        record = task(
            status=TaskStatus.COMPLETED,
            answered_at=NOW,
            corrections=(AlbumCorrection(3, 1976), AlbumCorrection(1, 1958, album_name="KoB")),
        )
        item = record.to_item()
        assert item["gsi1pk"] == "sf#tasks#completed"
        assert item["ttl"] == records.retention_ttl(NOW)
        assert [c["albumIndex"] for c in item["corrections"]] == [1, 3]
        assert item["corrections"][0] == {
            "albumIndex": Decimal(1),
            "year": Decimal(1958),
            "albumName": "KoB",
        }
        assert ValidationTask.from_item(item) == record

    @pytest.mark.parametrize(
        ("overrides", "error", "message"),
        [
            ({"task_id": keys.task_id_for(LDF, LDF_ID)}, InvalidRecordError, "another pattern"),
            ({"status": TaskStatus.COMPLETED}, InvalidRecordError, "answeredAt"),
            ({"answered_at": NOW}, InvalidRecordError, "answeredAt"),
            ({"resume_token": " "}, InvalidRecordError, "resume token"),
            ({"resume_token": "x" * 5000}, InvalidRecordError, "resume token"),
            ({"upload_id": "abc"}, InvalidRecordError, "upload id"),
            ({"albums": sample_albums()[:5]}, InvalidAlbumError, "exactly 6"),
            ({"corrections": (AlbumCorrection(1, 1990),)}, InvalidRecordError, "completed"),
            ({"rejection_reason": "no"}, InvalidRecordError, "rejected"),
            (
                {
                    "status": TaskStatus.COMPLETED,
                    "answered_at": NOW,
                    "corrections": (AlbumCorrection(1, 1990), AlbumCorrection(1, 1991)),
                },
                InvalidAlbumError,
                "corrected twice",
            ),
        ],
    )
    def test_refusals(
        self, overrides: dict[str, Any], error: type[Exception], message: str
    ) -> None:
        with pytest.raises(error, match=message):
            task(**overrides)

    def test_token_never_in_error_messages(self) -> None:
        with pytest.raises(InvalidRecordError) as caught:
            task(resume_token="y" * 5000)
        assert "yyyy" not in str(caught.value)


class TestUploadClaim:
    def test_round_trip(self) -> None:
        upload = sample_upload("claimed")
        claim = UploadClaim(upload, LDF_ID, LDF, NOW)
        item = claim.to_item()
        assert item["pk"] == f"ldf#upload#{upload.upload_id}"
        assert item["sk"] == "claim"
        assert item["entityType"] == "claim"
        assert item["workflowType"] == "durable-functions"
        assert item["executionId"] == LDF_ID
        assert item["claimedAt"] == NOW
        assert UploadClaim.from_item(item) == claim
        assert parse_item(item) == claim

    def test_execution_of_other_pattern_refused(self) -> None:
        with pytest.raises(InvalidRecordError, match="belongs to step-functions"):
            UploadClaim(sample_upload(), SF_ID, LDF, NOW)
