"""A deployed environment for the ``albums`` CLI tests: moto where it serves, Stubber elsewhere.

moto serves S3, DynamoDB and SQS. Step Functions and Lambda go through botocore's
``Stubber`` (which checks every request against the service model): answering task tokens
and durable callbacks, redriving, listing and starting executions, invoking.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from botocore.stub import Stubber
from moto import mock_aws

from albums.adapters.repository import AlbumRepository
from albums.domain import keys
from albums.domain.keys import UploadRef
from albums.domain.models import Album, WorkflowType
from albums_cli.environment import Clients, TerraformOutputs
from albums_cli.main import build_parser
from localmode.stack import serialized_dynamodb
from tests.table import create_table, put_waiting_upload, scan_all

SF = WorkflowType.STEP_FUNCTIONS
LDF = WorkflowType.DURABLE_FUNCTIONS
REGION = "us-east-1"
TABLE = "albums-cli"
BUCKET = "album-uploads-cli"
ACCOUNT = "123456789012"
STATE_MACHINE = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:album-registration-dev"
EXECUTION_PREFIX = STATE_MACHINE.replace(":stateMachine:", ":execution:")
DURABLE = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:album-orchestrator-dev:live"
RECORDER = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:album-execution-recorder-dev"
QUEUES = ("upload-step-functions", "upload-durable", "execution-recorder", "alerts")
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
WEBP = b"RIFF\x00\x00\x00\x00WEBPVP8 " + b"\x00" * 16


def fail_if_terraform_runs(_root: Any) -> Mapping[str, Any]:
    """Terraform reader for tests that pass every name: it must not be called."""
    raise AssertionError("terraform must not run when the flags name everything")


@dataclass
class Deployed:
    """The environment's clients, the stubs, the queues, and a way to run ``albums``."""

    clients: Clients
    sfn: Stubber
    lambda_: Stubber
    queues: dict[str, str]
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def flags(self) -> list[str]:
        """Every name on the command line, as an operator without Terraform would pass it."""
        names = [
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
        for name, url in self.queues.items():
            names += ["--dlq", f"{name}={url}"]
        return names

    def run(
        self,
        *arguments: str,
        flags: Sequence[str] | None = None,
        environ: Mapping[str, str] | None = None,
        outputs: TerraformOutputs = fail_if_terraform_runs,
    ) -> tuple[int, str, str]:
        """Run ``albums ARGUMENTS`` on the stubs; return (exit code, stdout, stderr).

        argparse's own usage errors (exit 2) are returned the same way.
        """
        out, err = io.StringIO(), io.StringIO()
        command = [*arguments, *(self.flags() if flags is None else flags)]
        try:
            with contextlib.redirect_stderr(err):
                parsed = build_parser().parse_args(command)
        except SystemExit as exited:
            return int(str(exited.code)), out.getvalue(), err.getvalue()
        code = parsed.run(
            parsed,
            clients=self.clients,
            out=out,
            err=err,
            environ=environ or {},
            outputs=outputs,
            clock=lambda: self.now,
        )
        return code, out.getvalue(), err.getvalue()

    def table(self) -> list[dict[str, Any]]:
        """Every item of the table (a snapshot for "nothing changed")."""
        return scan_all(self.clients.dynamodb, TABLE)

    def repository(self, pattern: WorkflowType) -> AlbumRepository:
        """The pattern's repository on the table."""
        return AlbumRepository(self.clients.dynamodb, TABLE, pattern)

    def execution_id(self, pattern: WorkflowType, name: str) -> str:
        """The execution id of upload ``name`` in ``pattern``."""
        return keys.execution_id_for(pattern, f"{name}-{pattern.tenant}")

    def task_id(self, pattern: WorkflowType, name: str) -> str:
        """The validation task id of upload ``name`` in ``pattern``."""
        return keys.task_id_for(pattern, self.execution_id(pattern, name))

    def waiting(
        self,
        name: str,
        *,
        patterns: Sequence[WorkflowType] = (SF, LDF),
        albums: Mapping[WorkflowType, Sequence[Album]] | None = None,
        expires_in: timedelta = timedelta(hours=1),
    ) -> UploadRef:
        """An upload whose executions, one per pattern, wait for validation."""
        repositories = {pattern: self.repository(pattern) for pattern in patterns}
        expires = dict.fromkeys(patterns, self.now + expires_in)
        return put_waiting_upload(repositories, name, expires, albums=albums)

    def queue_depth(self, name: str) -> int:
        """Messages in a queue, visible or not."""
        attributes = self.clients.sqs.get_queue_attributes(
            QueueUrl=self.queues[name],
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )


_SESSIONS: list[boto3.session.Session] = []


def _session() -> boto3.session.Session:
    """One boto3 session for every test: its service data is parsed once, not per test.

    Clients are still created inside each test's mock, so each talks to that mock.
    """
    if not _SESSIONS:
        _SESSIONS.append(boto3.session.Session(region_name=REGION))
    return _SESSIONS[0]


@contextlib.contextmanager
def deployed_environment() -> Iterator[Deployed]:
    """Start moto, create the table, bucket and queues; stub Step Functions and Lambda."""
    with mock_aws(), serialized_dynamodb():
        session = _session()
        dynamodb = session.client("dynamodb")
        create_table(dynamodb, TABLE)
        s3 = session.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        sqs = session.client("sqs")
        queues = {
            name: sqs.create_queue(QueueName=f"albums-dev-{name}-dlq")["QueueUrl"]
            for name in QUEUES
        }
        stepfunctions = session.client("stepfunctions")
        lambda_client = session.client("lambda")
        clients = Clients(
            s3=s3,
            dynamodb=dynamodb,
            stepfunctions=stepfunctions,
            lambda_=lambda_client,
            cloudwatch=session.client("cloudwatch"),
            sqs=sqs,
        )
        with Stubber(stepfunctions) as sfn, Stubber(lambda_client) as lam:
            yield Deployed(clients, sfn, lam, queues)
            sfn.assert_no_pending_responses()
            lam.assert_no_pending_responses()
