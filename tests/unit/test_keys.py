"""S3 key rules, upload identity, event parsing and table key builders."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from albums.domain import keys
from albums.domain.errors import InvalidRecordError, InvalidS3KeyError, InvalidUploadEventError
from albums.domain.models import TaskStatus, WorkflowType

SF = WorkflowType.STEP_FUNCTIONS
LDF = WorkflowType.DURABLE_FUNCTIONS


def object_created_event(key: str = "uploads/shelf-1.jpg", **object_fields: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {"key": key, "size": 1234, "etag": "d41d8cd98f00b204e9800998ecf8427e"}
    obj.update(object_fields)
    return {
        "version": "0",
        "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "123456789012",
        "time": "2026-11-23T10:00:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:s3:::album-uploads"],
        "detail": {"version": "0", "bucket": {"name": "album-uploads"}, "object": obj},
    }


class TestValidateS3Key:
    @pytest.mark.parametrize(
        "key",
        [
            "uploads/a.jpg",
            "uploads/shelf.JPEG",
            "uploads/2026/11/23/shelf_01.png",
            "uploads/my-record-shelf~v2.webp",
            "uploads/x." + "a" * 10 + ".jpg",
        ],
    )
    def test_accepts_valid_keys(self, key: str) -> None:
        assert keys.validate_s3_key(key) == key

    @pytest.mark.parametrize(
        ("key", "reason"),
        [
            ("", "empty"),
            ("shelf.jpg", "must start with 'uploads/'"),
            ("Uploads/shelf.jpg", "must start with 'uploads/'"),
            ("/uploads/shelf.jpg", "must start with 'uploads/'"),
            ("uploads/../secrets/shelf.jpg", "'..'"),
            ("uploads/./shelf.jpg", "'.'"),
            ("uploads//shelf.jpg", "empty path segment"),
            ("uploads/dir/", "empty path segment"),
            ("uploads/shelf.gif", "must end with one of"),
            ("uploads/shelf.jpg.exe", "must end with one of"),
            ("uploads/shelf", "must end with one of"),
            ("uploads/.jpg", "no name before its suffix"),
            ("uploads/%2e%2e/shelf.jpg", "found '%'"),
            ("uploads/my shelf.jpg", "found ' '"),
            ("uploads/a+b.jpg", "found '+'"),
            ("uploads/sh\\elf.jpg", "found '\\\\'"),
            ("uploads/shelf\x00.jpg", "found '\\x00'"),
            ("uploads/shelf\n.jpg", "found '\\n'"),
            ("uploads/Plattenschrank-März.jpg", "found '\\xe4'"),
            ("uploads/shelf\u202egpj.png", "found '\\u202e'"),
            ("uploads/" + "a" * 256 + ".jpg", "segment is longer than 255"),
            ("uploads/" + "/".join(["a" * 100] * 6) + ".jpg", "longer than 512 bytes"),
        ],
    )
    def test_rejects_bad_keys_with_the_rule_broken(self, key: str, reason: str) -> None:
        with pytest.raises(InvalidS3KeyError) as caught:
            keys.validate_s3_key(key)
        assert reason in str(caught.value)

    @pytest.mark.parametrize("key", [None, 42, b"uploads/a.jpg", ["uploads/a.jpg"]])
    def test_rejects_non_strings(self, key: object) -> None:
        with pytest.raises(InvalidS3KeyError, match="must be a string"):
            keys.validate_s3_key(key)

    @pytest.mark.parametrize(
        ("key", "media_type"),
        [
            ("uploads/a.jpg", "image/jpeg"),
            ("uploads/a.JPEG", "image/jpeg"),
            ("uploads/a.png", "image/png"),
            ("uploads/a.webp", "image/webp"),
        ],
    )
    def test_media_type_follows_the_suffix(self, key: str, media_type: str) -> None:
        assert keys.media_type_for_key(key) == media_type


class TestUploadRef:
    def test_same_version_same_id_new_version_new_id(self) -> None:
        first = keys.UploadRef("album-uploads", "uploads/a.jpg", version_id="v1", etag="abc")
        again = keys.UploadRef("album-uploads", "uploads/a.jpg", version_id="v1", etag="abc")
        overwritten = keys.UploadRef("album-uploads", "uploads/a.jpg", version_id="v2", etag="abc")
        assert first.upload_id == again.upload_id
        assert first.upload_id != overwritten.upload_id
        assert len(first.upload_id) == 32
        int(first.upload_id, 16)

    def test_etag_identifies_unversioned_objects_quotes_ignored(self) -> None:
        quoted = keys.UploadRef("album-uploads", "uploads/a.jpg", etag='"abc"')
        plain = keys.UploadRef("album-uploads", "uploads/a.jpg", etag="abc")
        changed = keys.UploadRef("album-uploads", "uploads/a.jpg", etag="abd")
        assert quoted.etag == "abc"
        assert quoted.upload_id == plain.upload_id != changed.upload_id

    def test_bucket_and_key_are_part_of_the_identity(self) -> None:
        base = keys.UploadRef("album-uploads", "uploads/a.jpg", etag="abc")
        assert (
            base.upload_id != keys.UploadRef("other-bucket", "uploads/a.jpg", etag="abc").upload_id
        )
        assert (
            base.upload_id != keys.UploadRef("album-uploads", "uploads/b.jpg", etag="abc").upload_id
        )

    def test_round_trips_through_plain_json(self) -> None:
        upload = keys.UploadRef(
            "album-uploads", "uploads/a.png", version_id="v1", etag="abc", size=9
        )
        assert keys.UploadRef.from_dict(upload.to_dict()) == upload
        assert upload.to_dict()["uploadId"] == upload.upload_id

    @pytest.mark.parametrize(
        ("fields", "message"),
        [
            ({"bucket": "Bad_Bucket"}, "bucket name"),
            ({"bucket": "ab"}, "bucket name"),
            ({"version_id": None, "etag": None}, "version id or an etag"),
            ({"etag": "not an etag!"}, "etag is malformed"),
            ({"version_id": "has space"}, "version id is malformed"),
            ({"size": -1}, "non-negative"),
            ({"size": True}, "non-negative"),
        ],
    )
    def test_rejects_malformed_identity(self, fields: dict[str, Any], message: str) -> None:
        arguments: dict[str, Any] = {
            "bucket": "album-uploads",
            "key": "uploads/a.jpg",
            "etag": "abc",
        }
        arguments.update(fields)
        with pytest.raises(InvalidUploadEventError, match=message):
            keys.UploadRef(**arguments)

    def test_rejects_bad_key_with_key_error(self) -> None:
        with pytest.raises(InvalidS3KeyError):
            keys.UploadRef("album-uploads", "uploads/../a.jpg", etag="abc")

    def test_from_dict_names_the_missing_field(self) -> None:
        with pytest.raises(InvalidUploadEventError, match="missing key"):
            keys.UploadRef.from_dict({"bucket": "album-uploads"})
        with pytest.raises(InvalidUploadEventError, match="must be an object"):
            keys.UploadRef.from_dict("uploads/a.jpg")


class TestParseObjectCreatedEvent:
    def test_reads_bucket_key_version_and_etag(self) -> None:
        event = object_created_event(**{"version-id": "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"})
        upload = keys.parse_object_created_event(event)
        assert upload.bucket == "album-uploads"
        assert upload.key == "uploads/shelf-1.jpg"
        assert upload.version_id == "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"
        assert upload.etag == "d41d8cd98f00b204e9800998ecf8427e"
        assert upload.size == 1234

    def test_bad_key_is_reported_as_a_key_error(self) -> None:
        with pytest.raises(InvalidS3KeyError):
            keys.parse_object_created_event(object_created_event(key="private/shelf.jpg"))

    @pytest.mark.parametrize(
        ("mutate", "message"),
        [
            (lambda e: e.update(source="aws.ec2"), "not an S3 'Object Created' event"),
            (lambda e: e.update({"detail-type": "Object Deleted"}), "not an S3 'Object Created'"),
            (lambda e: e.pop("detail"), "no detail object"),
            (lambda e: e.update(detail="x"), "no detail object"),
            (lambda e: e["detail"].pop("bucket"), "no bucket.name"),
            (lambda e: e["detail"]["bucket"].update(name=7), "no bucket.name"),
            (lambda e: e["detail"]["object"].pop("key"), "no object.key"),
            (lambda e: e["detail"]["object"].pop("etag"), "version id or an etag"),
        ],
    )
    def test_malformed_events_raise_typed_errors(self, mutate: Any, message: str) -> None:
        event = copy.deepcopy(object_created_event())
        mutate(event)
        with pytest.raises(InvalidUploadEventError, match=message):
            keys.parse_object_created_event(event)

    @pytest.mark.parametrize("event", [None, [], "event", 3])
    def test_non_object_events(self, event: object) -> None:
        with pytest.raises(InvalidUploadEventError, match="must be an object"):
            keys.parse_object_created_event(event)


class TestExecutionIds:
    def test_step_functions_arn_and_name(self) -> None:
        arn = "arn:aws:states:us-east-1:123456789012:execution:album-workflow:3f2a9c"
        assert keys.execution_id_for(SF, arn) == "sf-3f2a9c"
        assert keys.execution_id_for(SF, "3f2a9c") == "sf-3f2a9c"

    def test_durable_execution_arn_keeps_the_execution_name(self) -> None:
        arn = (
            "arn:aws:lambda:us-east-1:123456789012:function:orchestrator:live"
            "/durable-execution/7b1e0c/9d8f-invocation"
        )
        assert keys.execution_id_for(LDF, arn) == "ldf-7b1e0c"

    def test_unsafe_characters_are_replaced_without_collisions(self) -> None:
        dotted = keys.execution_id_for(SF, "a.b")
        assert dotted.startswith("sf-a_b_x")
        assert dotted != keys.execution_id_for(SF, "a_b") == "sf-a_b"
        assert keys.execution_id_for(SF, "x" * 200) != keys.execution_id_for(SF, "x" * 201)

    def test_pattern_is_recoverable(self) -> None:
        assert keys.workflow_type_of_execution("ldf-abc") is LDF
        assert keys.workflow_type_of_execution("sf-abc") is SF
        with pytest.raises(InvalidRecordError):
            keys.workflow_type_of_execution("xx-abc")

    def test_empty_native_id_is_refused(self) -> None:
        with pytest.raises(InvalidRecordError):
            keys.execution_id_for(SF, "")

    def test_new_native_ids_differ(self) -> None:
        assert len({keys.new_native_id() for _ in range(100)}) == 100


class TestTableKeys:
    def test_execution_and_album_keys(self) -> None:
        assert keys.execution_pk(SF, "sf-1") == "sf#exec#sf-1"
        assert keys.execution_pk(LDF, "ldf-1") == "ldf#exec#ldf-1"
        assert keys.album_sk(3) == "album#3"
        assert keys.album_sks() == [f"album#{i}" for i in range(1, 7)]
        assert keys.album_index_from_sk("album#6") == 6
        assert keys.execution_id_from_pk("ldf#exec#ldf-1") == (LDF, "ldf-1")

    @pytest.mark.parametrize("sk", ["album#0", "album#7", "album#x", "meta"])
    def test_bad_album_sort_keys(self, sk: str) -> None:
        with pytest.raises(InvalidRecordError, match="not an album sort key"):
            keys.album_index_from_sk(sk)

    @pytest.mark.parametrize("pk", ["sf#task#t", "sf#exec", "zz#exec#a", "sf#exec#a#b"])
    def test_bad_execution_partition_keys(self, pk: str) -> None:
        with pytest.raises(InvalidRecordError):
            keys.execution_id_from_pk(pk)

    def test_task_claim_and_gsi_keys(self) -> None:
        assert keys.task_pk(SF, "t-1") == "sf#task#t-1"
        upload_id = "0" * 32
        assert keys.claim_pk(LDF, upload_id) == f"ldf#upload#{upload_id}"
        assert keys.executions_gsi1pk(SF) == "sf#executions"
        assert keys.execution_gsi1sk("2026-11-23T10:00:00.000Z", "sf-1") == (
            "2026-11-23T10:00:00.000Z#sf-1"
        )
        assert keys.tasks_gsi1pk(LDF, TaskStatus.PENDING) == "ldf#tasks#pending"
        assert keys.task_gsi1sk("2026-11-23T11:00:00.000Z", "t-1") == "2026-11-23T11:00:00.000Z#t-1"

    @pytest.mark.parametrize("bad", ["", "a#b", "a b", "x" * 129, None])
    def test_ids_that_would_break_keys_are_refused(self, bad: Any) -> None:
        with pytest.raises(InvalidRecordError):
            keys.execution_pk(SF, bad)
        with pytest.raises(InvalidRecordError):
            keys.task_pk(SF, bad)

    def test_claim_needs_an_upload_id(self) -> None:
        with pytest.raises(InvalidRecordError):
            keys.claim_pk(SF, "not-hex")

    def test_task_ids_are_deterministic_and_per_pattern(self) -> None:
        assert keys.task_id_for(SF, "sf-1") == keys.task_id_for(SF, "sf-1")
        assert keys.task_id_for(SF, "sf-1") != keys.task_id_for(SF, "sf-2")
        assert keys.task_id_for(SF, "x-1").startswith("sf-")
        assert keys.task_id_for(LDF, "x-1").startswith("ldf-")


class TestUploadEventPattern:
    def event(self, key: str, bucket: str = "album-uploads") -> dict[str, Any]:
        event = object_created_event(key)
        event["detail"]["bucket"]["name"] = bucket
        return event

    @pytest.mark.parametrize(
        ("key", "matches"),
        [
            ("uploads/a.jpg", True),
            ("uploads/deep/er/a.JPEG", True),
            ("uploads/a.webp", True),
            ("uploads/../a.png", True),  # the rule lets it through; accept rejects it
            ("uploads/a.Jpg", False),  # mixed case: neither EventBridge nor we match it
            ("uploads/a.gif", False),
            ("other/a.jpg", False),
            ("uploads/a.jpg.txt", False),
        ],
    )
    def test_prefix_and_suffix(self, key: str, matches: bool) -> None:
        pattern = keys.upload_event_pattern("album-uploads")
        assert keys.matches_upload_pattern(pattern, self.event(key)) is matches

    def test_other_buckets_sources_and_shapes_do_not_match(self) -> None:
        pattern = keys.upload_event_pattern("album-uploads")
        assert not keys.matches_upload_pattern(pattern, self.event("uploads/a.jpg", "other"))
        wrong_source = self.event("uploads/a.jpg")
        wrong_source["source"] = "aws.ec2"
        assert not keys.matches_upload_pattern(pattern, wrong_source)
        assert not keys.matches_upload_pattern(pattern, {"detail": "x"})
        assert not keys.matches_upload_pattern(pattern, None)

    def test_bad_bucket_name(self) -> None:
        with pytest.raises(InvalidUploadEventError):
            keys.upload_event_pattern("Bad_Bucket")
