"""``albums`` commands against a deployed environment, on moto and on stubbed clients.

moto serves S3, DynamoDB and SQS. Answering task tokens and durable callbacks, redriving
and listing executions go through botocore's ``Stubber``, which checks every request
against the service model. Each error case asserts its one-line message and exit code,
and that nothing was written.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber
from moto import mock_aws

from albums.adapters.repository import AlbumRepository
from albums.domain import keys
from albums.domain.keys import UploadRef
from albums.domain.models import TaskStatus, WorkflowType
from albums_cli import environment as environment_module
from albums_cli.environment import (
    EXIT_CONFLICT,
    EXIT_ENVIRONMENT,
    EXIT_NOT_FOUND,
    EXIT_USAGE,
    Clients,
    CliError,
    Environment,
    resolve_environment,
)
from albums_cli.main import build_parser
from localmode.stack import serialized_dynamodb
from tests.table import create_table, sample_albums, sample_upload, scan_all

SF = WorkflowType.STEP_FUNCTIONS
LDF = WorkflowType.DURABLE_FUNCTIONS
REGION = "us-east-1"
TABLE = "albums-cli"
BUCKET = "album-uploads-cli"
STATE_MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:album-registration-dev"
DURABLE = "arn:aws:lambda:us-east-1:123456789012:function:album-orchestrator-dev:live"
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
FLAGS = [
    "--bucket",
    BUCKET,
    "--table",
    TABLE,
    "--state-machine-arn",
    STATE_MACHINE,
    "--durable-function",
    DURABLE,
    "--region",
    REGION,
]


@dataclass
class Deployed:
    clients: Clients
    sfn: Stubber
    lambda_: Stubber
    queues: dict[str, str]

    def run(self, *arguments: str) -> tuple[int, str, str]:
        parsed = build_parser().parse_args([*arguments, *FLAGS])
        out, err = io.StringIO(), io.StringIO()
        code = parsed.run(parsed, clients=self.clients, out=out, err=err, resolve=self.resolve)
        return code, out.getvalue(), err.getvalue()

    def resolve(self, name: str, flags: dict[str, Any], *, tf_dir: Path | None) -> Environment:
        environment = resolve_environment(name, flags, tf_dir=tf_dir, environ={})
        return Environment(
            **{
                **{f: getattr(environment, f) for f in environment.__slots__},
                "dead_letter_queues": self.queues,
            }
        )

    def table(self) -> list[dict[str, Any]]:
        return scan_all(self.clients.dynamodb, TABLE)

    def waiting(self, name: str) -> UploadRef:
        """An upload whose executions, one per pattern, wait for validation."""
        upload = sample_upload(name)
        for pattern in (SF, LDF):
            repository = AlbumRepository(self.clients.dynamodb, TABLE, pattern)
            execution_id = keys.execution_id_for(pattern, f"{name}-{pattern.tenant}")
            repository.claim_upload(upload, execution_id)
            repository.put_execution(execution_id, upload)
            repository.store_initial_data(execution_id, upload, sample_albums())
            repository.create_validation_task(
                execution_id,
                upload.upload_id,
                sample_albums(),
                f"token-{pattern.tenant}-{name}",
                datetime.now(UTC) + timedelta(hours=1),
            )
        return upload

    def task_id(self, pattern: WorkflowType, name: str) -> str:
        return keys.task_id_for(pattern, keys.execution_id_for(pattern, f"{name}-{pattern.tenant}"))


@pytest.fixture
def deployed() -> Iterator[Deployed]:
    with mock_aws(), serialized_dynamodb():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        create_table(dynamodb, TABLE)
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        sqs = boto3.client("sqs", region_name=REGION)
        queues = {
            name: sqs.create_queue(QueueName=f"albums-{name}-dlq")["QueueUrl"]
            for name in ("upload-step-functions", "upload-durable", "alerts")
        }
        stepfunctions = boto3.client("stepfunctions", region_name=REGION)
        lambda_client = boto3.client("lambda", region_name=REGION)
        clients = Clients(
            s3=s3,
            dynamodb=dynamodb,
            stepfunctions=stepfunctions,
            lambda_=lambda_client,
            cloudwatch=boto3.client("cloudwatch", region_name=REGION),
            sqs=sqs,
        )
        with Stubber(stepfunctions) as sfn, Stubber(lambda_client) as lam:
            yield Deployed(clients, sfn, lam, queues)
            sfn.assert_no_pending_responses()
            lam.assert_no_pending_responses()


# --- the environment --------------------------------------------------------------------


def test_flags_win_over_variables_and_terraform_fills_the_rest() -> None:
    outputs = {
        "region": "eu-west-1",
        "bucket_name": "tf-bucket",
        "table_name": "tf-table",
        "state_machine_arn": "tf-sm",
        "durable_alias_arn": "tf-fn",
        "api_url": "https://x.lambda-url.eu-west-1.on.aws/",
        "dead_letter_queue_urls": {"upload-durable": "https://sqs/q"},
    }
    environment = resolve_environment(
        "dev",
        {"table": "flag-table"},
        environ={"ALBUMS_BUCKET": "env-bucket"},
        outputs=lambda _root: outputs,
    )
    assert environment.table == "flag-table"
    assert environment.bucket == "env-bucket"
    assert environment.state_machine_arn == "tf-sm"
    assert environment.durable_function == "tf-fn"
    assert environment.region == "eu-west-1"
    assert environment.dead_letter_queues == {"upload-durable": "https://sqs/q"}


def test_terraform_is_not_run_when_every_name_is_given() -> None:
    def refuse(_root: Path) -> dict[str, Any]:
        raise AssertionError("terraform must not run")

    flags = {"bucket": "b", "table": "t", "state_machine_arn": "s", "durable_function": "d"}
    environment = resolve_environment("dev", flags, environ={}, outputs=refuse)
    assert environment.region == "us-east-1"


def test_a_name_found_nowhere_is_named_in_the_error() -> None:
    with pytest.raises(CliError, match=r"missing --state-machine-arn") as raised:
        resolve_environment(
            "dev", {}, environ={}, outputs=lambda _root: {"bucket_name": "b", "table_name": "t"}
        )
    assert raised.value.exit_code == EXIT_ENVIRONMENT


def test_missing_terraform_says_what_to_pass_instead(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(environment_module.shutil, "which", lambda _name: None)
    with pytest.raises(CliError, match=r"terraform is not installed: install it, or pass"):
        environment_module.terraform_output(tmp_path)


def test_a_missing_environment_root_is_reported(tmp_path: Path) -> None:
    with pytest.raises(CliError, match=r"no Terraform environment at .*: pass --tf-dir"):
        environment_module.terraform_output(tmp_path / "nope")


# --- upload ------------------------------------------------------------------------------


def test_upload_puts_each_photo_under_uploads_with_its_media_type(
    deployed: Deployed, tmp_path: Path
) -> None:
    (tmp_path / "shelf-1.jpg").write_bytes(JPEG)
    (tmp_path / "shelf-2.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 16)
    code, out, err = deployed.run(
        "upload", str(tmp_path / "shelf-1.jpg"), str(tmp_path / "shelf-2.png"), "--prefix", "me"
    )
    assert (code, err) == (0, "")
    assert f"uploaded s3://{BUCKET}/uploads/me/shelf-1.jpg" in out
    head = deployed.clients.s3.head_object(Bucket=BUCKET, Key="uploads/me/shelf-2.png")
    assert head["ContentType"] == "image/png"


@pytest.mark.parametrize(
    ("name", "body", "message", "exit_code"),
    [
        ("my shelf.jpg", JPEG, "rename the file", EXIT_USAGE),  # a space breaks the key rules
        ("shelf.gif", JPEG, "rename the file", EXIT_USAGE),  # not an accepted suffix
        ("shelf.jpg", b"GIF89a....", "not a image/jpeg image", EXIT_USAGE),
    ],
)
def test_a_bad_photo_uploads_nothing_not_even_the_good_ones(
    deployed: Deployed, tmp_path: Path, *, name: str, body: bytes, message: str, exit_code: int
) -> None:
    (tmp_path / "good.jpg").write_bytes(JPEG)
    (tmp_path / name).write_bytes(body)
    code, out, err = deployed.run("upload", str(tmp_path / "good.jpg"), str(tmp_path / name))
    assert code == exit_code
    assert message in err
    assert err.count("\n") == 1
    assert out == ""
    assert deployed.clients.s3.list_objects_v2(Bucket=BUCKET)["KeyCount"] == 0


def test_a_missing_file_is_not_found(deployed: Deployed, tmp_path: Path) -> None:
    code, _, err = deployed.run("upload", str(tmp_path / "none.jpg"))
    assert code == EXIT_NOT_FOUND
    assert "none.jpg: no such file" in err


# --- tasks and validate ---------------------------------------------------------------------


def test_tasks_lists_both_patterns_pending_tasks(deployed: Deployed) -> None:
    deployed.waiting("crate")
    code, out, _ = deployed.run("tasks", "--json")
    assert code == 0
    listed = json.loads(out)
    assert {task["taskId"] for task in listed} == {
        deployed.task_id(SF, "crate"),
        deployed.task_id(LDF, "crate"),
    }
    code, out, _ = deployed.run("tasks")
    assert deployed.task_id(SF, "crate") in out
    assert "1. " in out


def test_tasks_says_when_there_is_nothing_to_do(deployed: Deployed) -> None:
    assert deployed.run("tasks")[:2] == (0, "no pending validation tasks\n")


def test_validate_resumes_both_patterns_with_the_corrected_year(deployed: Deployed) -> None:
    deployed.waiting("crate")
    deployed.sfn.add_response(
        "send_task_success", {}, {"taskToken": "token-sf-crate", "output": ANY}
    )
    deployed.lambda_.add_response(
        "send_durable_execution_callback_success",
        {},
        {"CallbackId": "token-ldf-crate", "Result": ANY},
    )
    code, out, err = deployed.run("validate", deployed.task_id(LDF, "crate"), "--year", "2=1977")
    assert (code, err) == (0, "")
    assert "resumed step-functions, durable-functions" in out
    for pattern in (SF, LDF):
        repository = AlbumRepository(deployed.clients.dynamodb, TABLE, pattern)
        task = repository.get_task(deployed.task_id(pattern, "crate"))
        assert task.status is TaskStatus.COMPLETED
        assert [(c.index, c.year) for c in task.corrections] == [(2, 1977)]


def test_an_unknown_task_is_not_found_and_nothing_is_called(deployed: Deployed) -> None:
    before = deployed.table()
    code, _, err = deployed.run("validate", "sf-0123456789abcdef01234567", "--accept")
    assert code == EXIT_NOT_FOUND
    assert "no validation task sf-0123456789abcdef01234567: list the pending ones" in err
    assert deployed.table() == before


def test_an_answered_task_is_a_conflict_and_changes_nothing(deployed: Deployed) -> None:
    deployed.waiting("crate")
    deployed.sfn.add_response(
        "send_task_failure", {}, {"taskToken": ANY, "error": ANY, "cause": ANY}
    )
    deployed.lambda_.add_response(
        "send_durable_execution_callback_failure", {}, {"CallbackId": ANY, "Error": ANY}
    )
    assert deployed.run("validate", deployed.task_id(SF, "crate"), "--reject", "blurry")[0] == 0
    before = deployed.table()
    code, _, err = deployed.run("validate", deployed.task_id(SF, "crate"), "--accept")
    assert code == EXIT_CONFLICT
    assert "(nothing was changed)" in err
    assert deployed.table() == before


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--year", "2=1850"], "year must be between 1900"),
        (["--year", "7=1977"], "index must be between 1 and 6"),
        (["--year", "two=1977"], "write it as N=YYYY"),
        (["--year", "2=1977", "--year", "2=1978"], "album 2 is corrected twice"),
        (["--reject", "   "], "--reject needs a reason"),
    ],
)
def test_a_bad_answer_stops_before_anything_is_called(
    deployed: Deployed, arguments: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    deployed.waiting("crate")
    before = deployed.table()
    try:
        code, _, err = deployed.run("validate", deployed.task_id(SF, "crate"), *arguments)
    except SystemExit as exited:  # argparse's own usage error
        code, err = int(str(exited.code)), capsys.readouterr().err
    assert code == EXIT_USAGE
    assert message in err
    assert deployed.table() == before


# --- status ------------------------------------------------------------------------------


def test_status_shows_one_execution_and_a_summary(deployed: Deployed) -> None:
    deployed.waiting("crate")
    execution_id = keys.execution_id_for(SF, "crate-sf")
    code, out, _ = deployed.run("status", execution_id, "--json")
    assert code == 0
    described = json.loads(out)
    assert described["status"] == "awaiting_validation"
    assert len(described["albums"]) == 6
    code, out, _ = deployed.run("status")
    assert "step-functions: 1 awaiting_validation" in out
    assert "durable-functions: 1 awaiting_validation" in out


@pytest.mark.parametrize(
    ("execution", "message", "exit_code"),
    [
        ("sf-nothing-here", "no execution sf-nothing-here: see `albums status`", EXIT_NOT_FOUND),
        ("nonsense id", "is not an execution id", EXIT_USAGE),
    ],
)
def test_status_errors(deployed: Deployed, execution: str, message: str, exit_code: int) -> None:
    code, _, err = deployed.run("status", execution)
    assert code == exit_code
    assert message in err


# --- redrive and report ------------------------------------------------------------------------


def test_redrive_redrives_failed_executions_and_redelivers_dlq_events(deployed: Deployed) -> None:
    now = datetime.now(UTC)
    failed = f"{STATE_MACHINE.replace(':stateMachine:', ':execution:')}:run-1"
    old = f"{STATE_MACHINE.replace(':stateMachine:', ':execution:')}:run-0"
    deployed.sfn.add_response(
        "list_executions",
        {
            "executions": [
                {
                    "executionArn": arn,
                    "stateMachineArn": STATE_MACHINE,
                    "name": arn.rsplit(":", 1)[-1],
                    "status": "FAILED",
                    "startDate": start,
                }
                for arn, start in ((failed, now), (old, now - timedelta(days=30)))
            ]
        },
        {"stateMachineArn": STATE_MACHINE, "statusFilter": "FAILED"},
    )
    deployed.sfn.add_response("redrive_execution", {"redriveDate": now}, {"executionArn": failed})
    event = {"id": "e-1", "detail-type": "Object Created", "detail": {}}
    sqs = deployed.clients.sqs
    sqs.send_message(
        QueueUrl=deployed.queues["upload-step-functions"], MessageBody=json.dumps(event)
    )
    sqs.send_message(QueueUrl=deployed.queues["upload-durable"], MessageBody=json.dumps(event))
    sqs.send_message(QueueUrl=deployed.queues["alerts"], MessageBody=json.dumps(event))
    deployed.sfn.add_response(
        "start_execution",
        {"executionArn": f"{failed}-again", "startDate": now},
        {"stateMachineArn": STATE_MACHINE, "input": json.dumps(event)},
    )
    deployed.lambda_.add_response(
        "invoke",
        {"StatusCode": 202},
        {"FunctionName": DURABLE, "InvocationType": "Event", "Payload": json.dumps(event).encode()},
    )

    code, out, err = deployed.run("redrive", "--json")

    assert (code, err) == (0, "")
    assert json.loads(out) == {
        "redrivenExecutions": [failed],
        "redeliveredEvents": {"upload-durable": 1, "upload-step-functions": 1},
        "dryRun": False,
    }
    for name, left in (("upload-step-functions", 0), ("upload-durable", 0), ("alerts", 1)):
        attributes = sqs.get_queue_attributes(
            QueueUrl=deployed.queues[name],
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        total = int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )
        assert total == left, name


def test_a_failed_redelivery_keeps_the_message_and_says_why(deployed: Deployed) -> None:
    deployed.sfn.add_response(
        "list_executions",
        {"executions": []},
        {"stateMachineArn": STATE_MACHINE, "statusFilter": "FAILED"},
    )
    deployed.sfn.add_client_error(
        "start_execution", "StateMachineDoesNotExist", "State Machine Does Not Exist"
    )
    url = deployed.queues["upload-step-functions"]
    deployed.clients.sqs.send_message(QueueUrl=url, MessageBody='{"id": "e-1"}')
    code, _, err = deployed.run("redrive")
    assert code == EXIT_ENVIRONMENT
    assert "re-deliver a state-machine event: StateMachineDoesNotExist" in err
    attributes = deployed.clients.sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "1"


def test_report_names_a_missing_durable_function(deployed: Deployed, tmp_path: Path) -> None:
    deployed.lambda_.add_client_error(
        "get_function_configuration", "ResourceNotFoundException", "Function not found"
    )
    code, _, err = deployed.run("report", "--out", str(tmp_path))
    assert code == EXIT_ENVIRONMENT
    assert f"read the configuration of {DURABLE}: ResourceNotFoundException" in err
    assert list(tmp_path.iterdir()) == []
