"""``albums upload``, ``tasks``, ``validate``, ``status`` and ``report`` on a deployed environment.

moto serves S3 and DynamoDB; answering task tokens and durable callbacks, describing and
listing executions go through botocore's ``Stubber`` (see ``cli_deployed_world``). Every
error case asserts its one line, its exit code, and that nothing was written or called.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from botocore.stub import ANY

from albums.domain.keys import UploadRef
from albums.domain.models import Album, ExecutionStatus, TaskStatus
from albums.domain.records import ExecutionRecord
from albums.observability import get_logger
from albums_cli import uploads
from albums_cli.console import (
    EXIT_CONFLICT,
    EXIT_ENVIRONMENT,
    EXIT_FAILED,
    EXIT_NOT_FOUND,
    EXIT_USAGE,
)
from albums_cli.main import main
from tests.table import sample_albums
from tests.unit.cli_deployed_world import (
    BUCKET,
    DURABLE,
    EXECUTION_PREFIX,
    JPEG,
    LDF,
    PNG,
    SF,
    STATE_MACHINE,
    TABLE,
    WEBP,
    Deployed,
    deployed_environment,
)


@pytest.fixture
def deployed() -> Iterator[Deployed]:
    with deployed_environment() as environment:
        yield environment


def assert_one_line(err: str, command: str, message: str) -> None:
    assert err.startswith(f"albums {command}: "), err
    assert err.endswith("\n")
    assert err.count("\n") == 1, err
    assert message in err, err


# --- upload --------------------------------------------------------------------------------


def test_upload_puts_each_photo_under_uploads_with_its_media_type(
    deployed: Deployed, tmp_path: Path
) -> None:
    (tmp_path / "shelf-1.jpg").write_bytes(JPEG)
    (tmp_path / "Shelf Two (é).PNG").write_bytes(PNG)
    (tmp_path / "shelf-3.webp").write_bytes(WEBP)
    photos = [str(tmp_path / name) for name in ("shelf-1.jpg", "Shelf Two (é).PNG", "shelf-3.webp")]

    code, out, err = deployed.run("upload", *photos, "--prefix", "me/2026", "--json")

    assert (code, err) == (0, "")
    uploaded = json.loads(out)
    assert [(u["key"], u["contentType"]) for u in uploaded] == [
        ("uploads/me/2026/shelf-1.jpg", "image/jpeg"),
        ("uploads/me/2026/Shelf-Two-e.png", "image/png"),
        ("uploads/me/2026/shelf-3.webp", "image/webp"),
    ]
    s3 = deployed.clients.s3
    for item in uploaded:
        head = s3.head_object(Bucket=BUCKET, Key=item["key"])
        assert head["ContentType"] == item["contentType"]
        # The id the workflow will derive from the S3 event, so `validate` can take it.
        assert item["uploadId"] == UploadRef(BUCKET, item["key"], etag=head["ETag"]).upload_id


def test_upload_prints_a_table_with_the_upload_ids(deployed: Deployed, tmp_path: Path) -> None:
    (tmp_path / "shelf.jpg").write_bytes(JPEG)
    code, out, _ = deployed.run("upload", str(tmp_path / "shelf.jpg"))
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == f"uploaded 1 photo(s) to s3://{BUCKET}/"
    assert lines[1].split() == ["FILE", "KEY", "UPLOAD", "ID"]
    assert "uploads/cli/shelf.jpg" in lines[2]
    assert "albums tasks" in lines[-1]


@pytest.mark.parametrize(
    ("name", "body", "arguments", "message", "exit_code"),
    [
        ("shelf.gif", JPEG, [], "shelf.gif: not a photo name (the workflow takes .jpg", 2),
        ("shelf", JPEG, [], "shelf: not a photo name", 2),
        ("(((.jpg", JPEG, [], "its name keeps no letters or digits in a key; rename it", 2),
        ("shelf.jpg", b"GIF89a" + b"\x00" * 10, [], "not a JPEG, PNG or WebP image", 2),
        ("shelf.jpg", PNG, [], "the content is PNG but the name says JPEG; rename it", 2),
        ("shelf.webp", b"RIFF\x00\x00\x00\x00WAVE", [], "not a JPEG, PNG or WebP image", 2),
        ("shelf.jpg", b"", [], "shelf.jpg: the file is empty", 2),
        (
            "shelf.jpg",
            JPEG,
            ["--prefix", "../etc"],
            "--prefix '../etc' breaks the key rules: S3 key must not contain '.' or '..'",
            2,
        ),
        (
            "shelf.jpg",
            JPEG,
            ["--prefix", "my photos"],
            "--prefix 'my photos' breaks the key rules: S3 key may contain only",
            2,
        ),
        ("good.JPG", JPEG, [], "would both be uploaded as uploads/cli/good.jpg; rename one", 2),
    ],
)
def test_a_bad_photo_uploads_nothing_not_even_the_good_ones(
    deployed: Deployed,
    tmp_path: Path,
    *,
    name: str,
    body: bytes,
    arguments: list[str],
    message: str,
    exit_code: int,
) -> None:
    (tmp_path / "good.jpg").write_bytes(JPEG)
    (tmp_path / name).write_bytes(body)
    code, out, err = deployed.run(
        "upload", str(tmp_path / "good.jpg"), str(tmp_path / name), *arguments
    )
    assert (code, out) == (exit_code, "")
    assert_one_line(err, "upload", message)
    assert deployed.clients.s3.list_objects_v2(Bucket=BUCKET)["KeyCount"] == 0


def test_a_missing_file_is_not_found_and_a_folder_is_no_photo(
    deployed: Deployed, tmp_path: Path
) -> None:
    code, _, err = deployed.run("upload", str(tmp_path / "none.jpg"))
    assert code == EXIT_NOT_FOUND
    assert_one_line(err, "upload", "none.jpg: no such file")
    (tmp_path / "folder.jpg").mkdir()
    code, _, err = deployed.run("upload", str(tmp_path / "folder.jpg"))
    assert code == EXIT_USAGE
    assert_one_line(err, "upload", "folder.jpg: not a file")


def test_a_photo_over_the_workflow_limit_is_refused(
    deployed: Deployed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(uploads, "MAX_UPLOAD_BYTES", 1024 * 1024)
    (tmp_path / "big.jpg").write_bytes(JPEG + b"\x00" * 1024 * 1024)
    code, _, err = deployed.run("upload", str(tmp_path / "big.jpg"))
    assert code == EXIT_USAGE
    assert_one_line(err, "upload", "big.jpg: 1.0 MiB is over the 1 MiB the workflow reads")


def test_an_unreadable_photo_is_named(
    deployed: Deployed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    photo = tmp_path / "locked.jpg"
    photo.write_bytes(JPEG)

    def refuse(self: Path, *args: object, **kwargs: object) -> object:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "open", refuse)
    code, _, err = deployed.run("upload", str(photo))
    assert code == EXIT_USAGE
    assert_one_line(err, "upload", "locked.jpg: cannot read it (Permission denied)")


def test_an_unknown_bucket_is_an_aws_error_in_one_line(deployed: Deployed, tmp_path: Path) -> None:
    (tmp_path / "shelf.jpg").write_bytes(JPEG)
    flags = ["--bucket", "no-such-bucket", "--region", "us-east-1"]
    code, _, err = deployed.run("upload", str(tmp_path / "shelf.jpg"), flags=flags)
    assert code == EXIT_ENVIRONMENT
    assert_one_line(err, "upload", "put s3://no-such-bucket/uploads/cli/shelf.jpg: NoSuchBucket")


# --- tasks ---------------------------------------------------------------------------------


def test_tasks_groups_both_patterns_tasks_by_upload(deployed: Deployed) -> None:
    crate = deployed.waiting("crate")
    deployed.waiting("attic", patterns=(LDF,), expires_in=timedelta(minutes=10))

    code, out, err = deployed.run("tasks", "--json")

    assert (code, err) == (0, "")
    listed = json.loads(out)
    assert [upload["key"] for upload in listed] == ["uploads/attic.jpg", "uploads/crate.jpg"]
    attic, crate_view = listed
    assert [t["workflowType"] for t in attic["tasks"]] == ["durable-functions"]
    assert crate_view["uploadId"] == crate.upload_id
    assert [t["taskId"] for t in crate_view["tasks"]] == [
        deployed.task_id(SF, "crate"),
        deployed.task_id(LDF, "crate"),
    ]
    assert crate_view["albums"] == [album.to_dict() for album in sample_albums()]
    assert (crate_view["expired"], crate_view["albumsDiffer"]) == (False, False)
    assert "resumeToken" not in out
    assert "token-" not in out


def test_tasks_prints_each_upload_with_its_tasks_and_albums(deployed: Deployed) -> None:
    upload = deployed.waiting("crate")
    code, out, _ = deployed.run("tasks")
    assert code == 0
    assert out.startswith("1 upload(s) wait for validation. Answer one with `albums validate")
    assert f"uploads/crate.jpg  upload {upload.upload_id}" in out
    assert deployed.task_id(SF, "crate") in out
    assert deployed.task_id(LDF, "crate") in out
    assert "1  Kind of Blue  Miles Davis      1959" in out


def test_tasks_says_when_albums_differ_and_when_a_task_expired(deployed: Deployed) -> None:
    changed = list(sample_albums())
    changed[0] = Album(1, "Kind of Blue", "Miles Davis", 1960)
    deployed.waiting("crate", albums={LDF: changed}, expires_in=timedelta(seconds=1))
    deployed.now += timedelta(minutes=5)
    code, out, _ = deployed.run("tasks")
    assert code == 0
    assert "(expired: its workflows continue with the detected data)" in out
    assert "the patterns detected different albums; an answer applies to these" in out
    assert json.loads(deployed.run("tasks", "--json")[1])[0]["expired"] is True


def test_tasks_says_when_there_is_nothing_to_do(deployed: Deployed) -> None:
    assert deployed.run("tasks")[:3] == (0, "no pending validation tasks\n", "")
    assert deployed.run("tasks", "--json")[:2] == (0, "[]\n")


# --- validate ------------------------------------------------------------------------------


def expect_resumes(deployed: Deployed, name: str, *, success: bool = True) -> None:
    if success:
        deployed.sfn.add_response(
            "send_task_success", {}, {"taskToken": f"token-sf-{name}", "output": ANY}
        )
        deployed.lambda_.add_response(
            "send_durable_execution_callback_success",
            {},
            {"CallbackId": f"token-ldf-{name}", "Result": ANY},
        )
    else:
        deployed.sfn.add_response(
            "send_task_failure",
            {},
            {"taskToken": f"token-sf-{name}", "error": "ValidationRejected", "cause": ANY},
        )
        deployed.lambda_.add_response(
            "send_durable_execution_callback_failure",
            {},
            {"CallbackId": f"token-ldf-{name}", "Error": ANY},
        )


def test_validate_resumes_both_patterns_with_the_corrected_years(deployed: Deployed) -> None:
    deployed.waiting("crate")
    expect_resumes(deployed, "crate")

    code, out, err = deployed.run(
        "validate", deployed.task_id(LDF, "crate"), "--year", "2=1977", "--year", " 5 = 1990 "
    )

    assert (code, err) == (0, "")
    assert out.splitlines()[0].startswith("answered upload ")
    assert out.count("resumed") == 2
    for pattern in (SF, LDF):
        task = deployed.repository(pattern).get_task(deployed.task_id(pattern, "crate"))
        assert task.status is TaskStatus.COMPLETED
        assert [(c.index, c.year) for c in task.corrections] == [(2, 1977), (5, 1990)]


def test_validate_takes_an_upload_id_and_accepts(deployed: Deployed) -> None:
    upload = deployed.waiting("crate")
    expect_resumes(deployed, "crate")
    code, out, err = deployed.run("validate", upload.upload_id, "--accept", "--json")
    assert (code, err) == (0, "")
    outcome = json.loads(out)
    assert (outcome["answer"], outcome["resumed"]) == (
        "accept",
        ["step-functions", "durable-functions"],
    )


def test_validate_rejects_with_the_reason(deployed: Deployed) -> None:
    deployed.waiting("crate")
    expect_resumes(deployed, "crate", success=False)
    code, _, err = deployed.run("validate", deployed.task_id(SF, "crate"), "--reject", "blurry")
    assert (code, err) == (0, "")
    task = deployed.repository(LDF).get_task(deployed.task_id(LDF, "crate"))
    assert (task.status, task.rejection_reason) == (TaskStatus.REJECTED, "blurry")


def waiting_but_durable_gone(deployed: Deployed) -> None:
    """An upload whose durable execution no longer waits (its callback is gone)."""
    deployed.waiting("crate")
    deployed.sfn.add_response("send_task_success", {}, {"taskToken": ANY, "output": ANY})
    deployed.lambda_.add_client_error(
        "send_durable_execution_callback_success",
        "ResourceNotFoundException",
        "Callback not found",
        http_status_code=404,
    )


def test_a_workflow_that_cannot_be_resumed_is_reported_and_exit_1(deployed: Deployed) -> None:
    waiting_but_durable_gone(deployed)
    code, out, err = deployed.run("validate", deployed.task_id(SF, "crate"), "--accept")
    assert code == EXIT_FAILED
    assert "not resumed: the workflow no longer waits" in out
    assert_one_line(
        err,
        "validate",
        "the answer is stored but a workflow was not resumed: durable-functions "
        f"{deployed.execution_id(LDF, 'crate')}: the workflow no longer waits",
    )


def test_an_unknown_task_is_not_found_and_nothing_is_called(deployed: Deployed) -> None:
    before = deployed.table()
    code, _, err = deployed.run("validate", "sf-0123456789abcdef01234567", "--accept")
    assert code == EXIT_NOT_FOUND
    assert_one_line(
        err,
        "validate",
        "validation task sf-0123456789abcdef01234567 does not exist "
        "(list the pending ones with `albums tasks`)",
    )
    code, _, err = deployed.run("validate", "0" * 32, "--accept")
    assert code == EXIT_NOT_FOUND
    assert_one_line(err, "validate", f"no validation task for upload {'0' * 32}")
    assert deployed.table() == before


def test_an_answered_upload_is_a_conflict_and_changes_nothing(deployed: Deployed) -> None:
    deployed.waiting("crate")
    expect_resumes(deployed, "crate", success=False)
    assert deployed.run("validate", deployed.task_id(SF, "crate"), "--reject", "blurry")[0] == 0
    before = deployed.table()
    code, _, err = deployed.run("validate", deployed.task_id(LDF, "crate"), "--accept")
    assert code == EXIT_CONFLICT
    assert_one_line(err, "validate", "was answered already (nothing was changed)")
    assert deployed.table() == before


def test_an_expired_review_is_a_conflict(deployed: Deployed) -> None:
    deployed.waiting("crate", expires_in=timedelta(seconds=1))
    deployed.now += timedelta(minutes=1)
    before = deployed.table()
    code, _, err = deployed.run("validate", deployed.task_id(SF, "crate"), "--accept")
    assert code == EXIT_CONFLICT
    assert_one_line(err, "validate", "has expired (nothing was changed)")
    assert deployed.table() == before


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--year", "2=1850"], "--year '2=1850': year must be between 1900 and"),
        (["--year", "2=3000"], "--year '2=3000': year must be between 1900 and"),
        (["--year", "7=1977"], "album 7 does not exist; albums are numbered 1 to 6"),
        (["--year", "0=1977"], "album 0 does not exist"),
        (["--year", "two=1977"], "--year 'two=1977': write it as N=YYYY, e.g. --year 3=1977"),
        (["--year", "2"], "--year '2': write it as N=YYYY"),
        (["--year", "2=1977", "--year", "2=1978"], "album 2 is corrected twice"),
        (["--reject", "   "], "--reject: must not be empty"),
        (["--reject", "x" * 501], "--reject: is longer than 500 characters"),
        (["--reject", "bad\x07reason"], "--reject: must not contain control characters"),
    ],
)
def test_a_bad_answer_stops_before_anything_is_read_or_called(
    deployed: Deployed, arguments: list[str], message: str
) -> None:
    deployed.waiting("crate")
    before = deployed.table()
    code, out, err = deployed.run("validate", deployed.task_id(SF, "crate"), *arguments)
    assert (code, out) == (EXIT_USAGE, "")
    assert_one_line(err, "validate", message)
    assert deployed.table() == before


def test_a_malformed_task_id_is_a_usage_error(deployed: Deployed) -> None:
    code, _, err = deployed.run("validate", "not a task", "--accept")
    assert code == EXIT_USAGE
    assert_one_line(
        err, "validate", "'not a task' is neither a task id (sf-... or ldf-...) nor an upload id"
    )


def test_validate_needs_exactly_one_kind_of_answer(deployed: Deployed) -> None:
    code, _, err = deployed.run("validate", "sf-x", "--accept", "--reject", "no")
    assert code == EXIT_USAGE
    assert "not allowed with argument" in err
    code, _, err = deployed.run("validate", "sf-x")
    assert code == EXIT_USAGE
    assert "one of the arguments --year --accept --reject is required" in err


# --- status --------------------------------------------------------------------------------


def describe_response(name: str, status: str = "RUNNING") -> dict[str, object]:
    return {
        "executionArn": f"{EXECUTION_PREFIX}:{name}",
        "stateMachineArn": STATE_MACHINE,
        "name": name,
        "status": status,
        "startDate": datetime(2026, 11, 23, 10, 0, tzinfo=UTC),
    }


def test_status_shows_one_execution_with_its_service_status(deployed: Deployed) -> None:
    deployed.waiting("crate")
    execution_id = deployed.execution_id(SF, "crate")
    deployed.sfn.add_response(
        "describe_execution",
        describe_response("crate-sf"),
        {"executionArn": f"{EXECUTION_PREFIX}:crate-sf"},
    )
    code, out, err = deployed.run("status", execution_id, "--json")
    assert (code, err) == (0, "")
    described = json.loads(out)
    assert (described["executionId"], described["status"]) == (execution_id, "awaiting_validation")
    assert [album["albumIndex"] for album in described["albums"]] == [1, 2, 3, 4, 5, 6]
    assert described["service"]["status"] == "RUNNING"


def test_status_of_a_durable_execution_by_arn(deployed: Deployed) -> None:
    deployed.waiting("crate")
    arn = f"{DURABLE}/durable-execution/crate-ldf/0a1b2c3d"
    deployed.lambda_.add_response(
        "list_durable_executions_by_function",
        {
            "DurableExecutions": [
                {
                    "DurableExecutionArn": arn,
                    "DurableExecutionName": "crate-ldf",
                    "FunctionArn": DURABLE,
                    "Status": "RUNNING",
                    "StartTimestamp": describe_response("x")["startDate"],
                }
            ]
        },
        {"FunctionName": DURABLE, "DurableExecutionName": "crate-ldf"},
    )
    code, out, err = deployed.run("status", arn)
    assert (code, err) == (0, "")
    assert out.splitlines()[0] == (
        f"{deployed.execution_id(LDF, 'crate')}  durable-functions  awaiting_validation"
    )
    assert "  service    RUNNING" in out
    assert "Kind of Blue" in out


def test_status_says_when_the_service_no_longer_knows_the_execution(deployed: Deployed) -> None:
    deployed.waiting("crate", patterns=(SF,))
    deployed.sfn.add_client_error(
        "describe_execution", "ExecutionDoesNotExist", "Execution does not exist"
    )
    code, out, _ = deployed.run("status", deployed.execution_id(SF, "crate"))
    assert code == 0
    assert "  service    NOT_FOUND" in out


def test_status_without_the_service_names_reads_the_table_only(deployed: Deployed) -> None:
    deployed.waiting("crate", patterns=(SF,))
    code, out, err = deployed.run(
        "status", deployed.execution_id(SF, "crate"), "--json", flags=["--table", TABLE]
    )
    assert (code, err) == (0, "")
    assert json.loads(out)["service"] is None


def test_status_summarises_recent_executions_per_pattern(deployed: Deployed) -> None:
    deployed.waiting("crate")
    deployed.waiting("attic", patterns=(SF,))
    repository = deployed.repository(SF)
    record: ExecutionRecord = repository.complete_execution(
        deployed.execution_id(SF, "attic"), ExecutionStatus.REJECTED, rejection_reason="blurry"
    )
    assert record.ended_at is not None
    code, out, err = deployed.run("status")
    assert (code, err) == (0, "")
    assert "step-functions: 1 awaiting_validation, 1 rejected" in out
    assert "durable-functions: 1 awaiting_validation" in out
    assert deployed.execution_id(SF, "attic") in out
    summary = json.loads(deployed.run("status", "--json", "--limit", "1")[1])
    assert len(summary["step-functions"]["executions"]) == 1


@pytest.mark.parametrize(
    ("execution", "message", "exit_code"),
    [
        (
            "sf-nothing-here",
            "no execution sf-nothing-here in albums-cli: see `albums status` for recent ones",
            EXIT_NOT_FOUND,
        ),
        ("nonsense id", "'nonsense id' is not an execution id (sf-... or ldf-...)", EXIT_USAGE),
        ("xx-abc", "'xx-abc' is not an execution id", EXIT_USAGE),
        ("arn:aws:s3:::bucket", "'arn:aws:s3:::bucket' is not an execution id", EXIT_USAGE),
    ],
)
def test_status_errors(deployed: Deployed, execution: str, message: str, exit_code: int) -> None:
    code, out, err = deployed.run("status", execution)
    assert (code, out) == (exit_code, "")
    assert_one_line(err, "status", message)


def test_a_bad_limit_is_a_usage_error(deployed: Deployed) -> None:
    code, _, err = deployed.run("status", "--limit", "0")
    assert code == EXIT_USAGE
    assert "'0' must be between 1 and 100" in err


# --- report --------------------------------------------------------------------------------


def test_report_names_a_missing_durable_function(deployed: Deployed, tmp_path: Path) -> None:
    deployed.lambda_.add_client_error(
        "get_function_configuration", "ResourceNotFoundException", "Function not found"
    )
    code, _, err = deployed.run("report", "--out", str(tmp_path / "r"))
    assert code == EXIT_ENVIRONMENT
    assert_one_line(
        err, "report", f"read the configuration of {DURABLE}: ResourceNotFoundException"
    )
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    ("since", "message"),
    [
        ("yesterday", "--since 'yesterday' is neither an ISO-8601 time nor an age like 30m"),
        ("2999-01-01", "--since '2999-01-01' is not in the past"),
    ],
)
def test_a_bad_since_stops_before_anything_is_read(
    deployed: Deployed, tmp_path: Path, since: str, message: str
) -> None:
    code, _, err = deployed.run("report", "--since", since, "--out", str(tmp_path / "r"))
    assert code == EXIT_USAGE
    assert_one_line(err, "report", message)


def test_report_writes_the_files_with_the_environment_s_model(
    deployed: Deployed, tmp_path: Path
) -> None:
    deployed.lambda_.add_response(
        "get_function_configuration",
        {"Environment": {"Variables": {"BEDROCK_MODEL_ID": "anthropic.claude-test"}}},
        {"FunctionName": DURABLE},
    )
    definition = {
        "StartAt": "Accept",
        "States": {
            "Accept": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "album-accept-upload-dev"},
                "End": True,
            }
        },
    }
    deployed.sfn.add_response(
        "describe_state_machine",
        {
            "stateMachineArn": STATE_MACHINE,
            "name": "album-registration-dev",
            "definition": json.dumps(definition),
            "roleArn": "arn:aws:iam::123456789012:role/album-registration",
            "type": "STANDARD",
            "creationDate": deployed.now,
        },
        {"stateMachineArn": STATE_MACHINE},
    )
    deployed.lambda_.add_response(
        "list_durable_executions_by_function",
        {"DurableExecutions": []},
        {"FunctionName": DURABLE, "StartedAfter": ANY, "StartedBefore": ANY},
    )
    deployed.lambda_.add_response(
        "get_function_configuration",
        {"MemorySize": 512},
        {"FunctionName": "album-accept-upload-dev"},
    )
    out_dir = tmp_path / "report"

    code, out, err = deployed.run("report", "--since", "2h", "--out", str(out_dir), "--json")

    assert (code, err) == (0, "")
    written = json.loads(out)
    assert {Path(name).name for name in written["files"]} >= {"report.json", "report.md"}
    report = json.loads((out_dir / "report.json").read_text(encoding="utf-8"))
    assert (report["mode"], report["vision"]) == ("deployed", "anthropic.claude-test")
    assert report["settings"]["since"] == (deployed.now - timedelta(hours=2)).isoformat()


@pytest.fixture
def shared_log_level() -> Iterator[None]:
    """Restore the shared logger's level, which ``main`` lowers for the process."""
    logger = get_logger()
    level = logger.log_level
    yield
    logger.setLevel(level)


@pytest.mark.usefixtures("shared_log_level")
def test_the_console_script_builds_real_clients_and_keeps_stdout_json(
    deployed: Deployed, capsys: pytest.CaptureFixture[str]
) -> None:
    deployed.waiting("crate")
    code = main(["tasks", "--table", TABLE, "--region", "us-east-1", "--json"])
    captured = capsys.readouterr()
    assert (code, captured.err) == (0, "")
    assert [upload["key"] for upload in json.loads(captured.out)] == ["uploads/crate.jpg"]
    code = main(["status", "sf-nothing", "--table", TABLE, "--region", "us-east-1"])
    captured = capsys.readouterr()
    assert code == EXIT_NOT_FOUND
    assert captured.err == (
        "albums status: no execution sf-nothing in albums-cli: see `albums status` for "
        "recent ones\n"
    )


def test_a_stuck_resume_keeps_json_output_parseable(
    deployed: Deployed, capsys: pytest.CaptureFixture[str]
) -> None:
    waiting_but_durable_gone(deployed)
    code, out, _ = deployed.run("validate", deployed.task_id(SF, "crate"), "--accept", "--json")
    assert code == EXIT_FAILED
    assert json.loads(out)["resumed"] == ["step-functions"]
    assert capsys.readouterr() == ("", "")  # the shared code's log lines stay quiet


def test_a_permission_error_resuming_one_pattern_still_answers_the_other(
    deployed: Deployed,
) -> None:
    deployed.waiting("crate")
    deployed.sfn.add_client_error(
        "send_task_success", "AccessDeniedException", "not allowed: states:SendTaskSuccess"
    )
    deployed.lambda_.add_response(
        "send_durable_execution_callback_success", {}, {"CallbackId": ANY, "Result": ANY}
    )
    code, out, err = deployed.run("validate", deployed.task_id(SF, "crate"), "--accept")
    assert code == EXIT_FAILED
    assert "not resumed: resuming failed (AccessDeniedException)" in out
    assert_one_line(
        err,
        "validate",
        "the answer is stored but a workflow was not resumed: step-functions "
        f"{deployed.execution_id(SF, 'crate')}: resuming failed (AccessDeniedException); the "
        "answer is stored and `albums redrive` sends it again",
    )
    deployed.lambda_.assert_no_pending_responses()
    for pattern in (SF, LDF):
        task = deployed.repository(pattern).get_task(deployed.task_id(pattern, "crate"))
        assert task.status is TaskStatus.COMPLETED


def test_an_aws_error_while_storing_the_answer_says_it_may_be_partly_applied(
    deployed: Deployed,
) -> None:
    deployed.waiting("crate")
    deployed.sfn.add_response("send_task_success", {}, {"taskToken": ANY, "output": ANY})
    real_update = deployed.clients.dynamodb.update_item
    calls = []

    def second_update_denied(**request: Any) -> Any:
        calls.append(request)
        if len(calls) == 2:  # the durable task, after the Step Functions one was answered
            raise ClientError(
                {"Error": {"Code": "AccessDeniedException", "Message": "not allowed"}},
                "UpdateItem",
            )
        return real_update(**request)

    deployed.clients.dynamodb.update_item = second_update_denied
    code, out, err = deployed.run("validate", deployed.task_id(SF, "crate"), "--accept")
    assert (code, out) == (EXIT_ENVIRONMENT, "")
    assert err.endswith(
        "(the answer may be partly stored: retry, and if that says it was answered already, "
        "`albums redrive` completes it)\n"
    )
