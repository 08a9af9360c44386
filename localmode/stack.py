"""The local AWS stack: moto in-process, with what moto itself does not deliver.

:class:`LocalStack` starts ``moto.mock_aws`` (Step Functions executing real ASL), creates
the table, the versioned uploads bucket, the notification topic and the EventBridge rule
as Terraform does, routes Lambda invocations to in-process handlers
(:mod:`localmode.lambdas`), and puts the Bedrock stand-in (:mod:`localmode.vision`) in
place of the vision model. moto emits no S3 → EventBridge events and drops Lambda and
Step Functions rule targets, so :meth:`LocalStack.put_upload` builds the "Object
Created" event and delivers it to every target registered with
:meth:`LocalStack.add_event_target`, after checking it against the rule's pattern (the
same pattern as Terraform's, :func:`albums.domain.keys.upload_event_pattern`).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import threading
import uuid
import zipfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Final

from albums.adapters import clients
from albums.adapters.repository import AlbumRepository
from albums.domain import keys
from albums.domain.models import WorkflowType
from albums.domain.records import TTL_ATTRIBUTE, create_table_request
from localmode.lambdas import Handler, LambdaRegistry, install_moto_lambda_dispatch
from localmode.moto_transactions import item_level_transaction_rollback
from localmode.vision import StandInBedrock

REGION = "us-east-1"
ACCOUNT = "123456789012"
RULE_NAME = "album-upload-created"
#: moto accepts any credentials; this placeholder keeps botocore from looking for real ones.
MOTO_CREDENTIAL = "local"

EventTarget = Callable[[dict[str, Any]], None]


def _dummy_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "# local mode runs the registered handler in-process\n")
    return buffer.getvalue()


#: Resource names of a local stack unless given (local-only names).
DEFAULT_TABLE_NAME: Final = "albums-local"
DEFAULT_UPLOADS_BUCKET: Final = "album-uploads-local"


class LocalStack:
    """Everything both patterns need, in this process, with no AWS account.

    Parameters
    ----------
    table_name, bucket
        Resource names (the defaults are local-only names).
    validation_timeout_seconds
        Exported as ``VALIDATION_TIMEOUT_SECONDS`` for the handlers; tests use 1-2 s.
    vision
        The Bedrock stand-in (a new empty one by default).
    """

    def __init__(
        self,
        *,
        table_name: str = DEFAULT_TABLE_NAME,
        bucket: str = DEFAULT_UPLOADS_BUCKET,
        validation_timeout_seconds: int = 3600,
        vision: StandInBedrock | None = None,
    ) -> None:
        self.table_name = table_name
        self.bucket = bucket
        self.validation_timeout_seconds = validation_timeout_seconds
        self.vision = vision or StandInBedrock()
        self.registry = LambdaRegistry(region=REGION, account=ACCOUNT)
        self.topic_arn = ""
        self._targets: dict[str, EventTarget] = {}
        self._targets_lock = threading.Lock()
        self._exit = ExitStack()
        self.s3: Any = None
        self.dynamodb: Any = None
        self.stepfunctions: Any = None
        self.lambda_: Any = None
        self.events: Any = None
        self.sns: Any = None
        self.iam: Any = None
        self._role_arn = ""
        self._pattern: dict[str, Any] = {}

    # --- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> LocalStack:
        from moto import mock_aws  # noqa: PLC0415 - local mode only

        try:
            self._exit.enter_context(_environment(self._environment()))
            self._exit.enter_context(
                mock_aws(config={"stepfunctions": {"execute_state_machine": True}})
            )
            clients.reset()
            self._exit.callback(clients.reset)
            self._exit.enter_context(install_moto_lambda_dispatch(self.registry))
            self._exit.enter_context(serialized_dynamodb())
            self._exit.enter_context(item_level_transaction_rollback())
            self._exit.enter_context(clients.overridden(bedrock_runtime=self.vision))
            self._create_resources()
        except BaseException:
            self._exit.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._exit.close()

    def _environment(self) -> dict[str, str]:
        return {
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_ACCESS_KEY_ID": MOTO_CREDENTIAL,
            "AWS_SECRET_ACCESS_KEY": MOTO_CREDENTIAL,
            "AWS_SESSION_TOKEN": MOTO_CREDENTIAL,
            "TABLE_NAME": self.table_name,
            "BUCKET_NAME": self.bucket,
            "VALIDATION_TIMEOUT_SECONDS": str(self.validation_timeout_seconds),
            "BEDROCK_MODEL_ID": "local-stand-in",
            "POWERTOOLS_TRACE_DISABLED": "true",
        }

    def _create_resources(self) -> None:
        import boto3  # noqa: PLC0415

        self.s3 = boto3.client("s3", region_name=REGION)
        self.dynamodb = boto3.client("dynamodb", region_name=REGION)
        self.stepfunctions = boto3.client("stepfunctions", region_name=REGION)
        self.lambda_ = boto3.client("lambda", region_name=REGION)
        self.events = boto3.client("events", region_name=REGION)
        self.sns = boto3.client("sns", region_name=REGION)
        self.iam = boto3.client("iam", region_name=REGION)

        self.dynamodb.create_table(**create_table_request(self.table_name))
        self.dynamodb.update_time_to_live(
            TableName=self.table_name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
        )
        self.s3.create_bucket(Bucket=self.bucket)
        self.s3.put_bucket_versioning(
            Bucket=self.bucket, VersioningConfiguration={"Status": "Enabled"}
        )
        self.topic_arn = self.sns.create_topic(Name="album-validation")["TopicArn"]
        os.environ["NOTIFICATION_TOPIC_ARN"] = self.topic_arn
        self._pattern = keys.upload_event_pattern(self.bucket)
        self.events.put_rule(Name=RULE_NAME, EventPattern=json.dumps(self._pattern))
        role = self.iam.create_role(
            RoleName="album-local-role",
            AssumeRolePolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "lambda.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            ),
        )
        self._role_arn = role["Role"]["Arn"]

    # --- functions and targets ---------------------------------------------------------

    def add_lambda(self, function_name: str, handler: Handler, *, memory_mb: int = 1024) -> str:
        """Create ``function_name`` in moto's Lambda and run ``handler`` when it is invoked.

        Returns the function's ARN (what a state machine definition or a rule target names).
        """
        response = self.lambda_.create_function(
            FunctionName=function_name,
            Runtime="python3.13",
            Role=self._role_arn,
            Handler=f"{function_name}.handler.handler",
            Code={"ZipFile": _dummy_zip()},
            MemorySize=memory_mb,
            Timeout=900,
            Architectures=["arm64"],
        )
        self.registry.register(function_name, handler, memory_mb=memory_mb)
        return str(response["FunctionArn"])

    def add_event_target(self, name: str, deliver: EventTarget) -> None:
        """Deliver every upload event that matches the rule to ``deliver`` (a rule target)."""
        with self._targets_lock:
            self._targets[name] = deliver

    def repository(self, workflow_type: WorkflowType) -> AlbumRepository:
        """Return a repository of one pattern on the local table."""
        return AlbumRepository(self.dynamodb, self.table_name, workflow_type)

    # --- uploads -----------------------------------------------------------------------

    def put_upload(
        self, key: str, body: bytes, *, content_type: str = "image/jpeg"
    ) -> dict[str, Any]:
        """Put an object into the uploads bucket and deliver its "Object Created" event.

        Returns the event (deliver it again with :meth:`deliver` to simulate a duplicate).
        The key is not validated here: a bad key must reach the workflows, which reject it.
        """
        response = self.s3.put_object(
            Bucket=self.bucket, Key=key, Body=body, ContentType=content_type
        )
        event = object_created_event(
            bucket=self.bucket,
            key=key,
            size=len(body),
            etag=str(response["ETag"]).strip('"'),
            version_id=response.get("VersionId"),
        )
        self.deliver(event)
        return event

    def deliver(self, event: dict[str, Any]) -> list[str]:
        """Deliver ``event`` to every target if it matches the rule; return the targets hit."""
        if not keys.matches_upload_pattern(self._pattern, event):
            return []
        with self._targets_lock:
            targets = list(self._targets.items())
        for _, deliver in targets:
            deliver(event)
        return [name for name, _ in targets]


def object_created_event(
    *, bucket: str, key: str, size: int, etag: str, version_id: str | None
) -> dict[str, Any]:
    """Build an EventBridge S3 "Object Created" event as S3 sends it."""
    obj: dict[str, Any] = {
        "key": key,
        "size": size,
        "etag": etag,
        "sequencer": hashlib.sha256(f"{key}{etag}{version_id}".encode()).hexdigest()[:18].upper(),
    }
    if version_id is not None:
        obj["version-id"] = version_id
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": ACCOUNT,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": obj,
            "request-id": uuid.uuid4().hex[:16].upper(),
            "requester": ACCOUNT,
            "reason": "PutObject",
        },
    }


#: One DynamoDB request at a time: moto's table is a plain dict, and TransactWriteItems
#: deep-copies it while other threads (both patterns run at once) write to it.
_DYNAMODB_LOCK = threading.RLock()


@contextmanager
def serialized_dynamodb() -> Iterator[None]:
    """Serialise moto's DynamoDB requests, as the real service is safe to call concurrently.

    Patches ``moto.dynamodb.responses.DynamoHandler.call_action`` (moto 5.2.x); the smoke
    test in ``tests/unit/test_localmode_core.py`` fails when that internal changes.
    """
    from moto.dynamodb.responses import DynamoHandler  # noqa: PLC0415 - local mode only

    original = DynamoHandler.call_action

    def call_action(self: Any) -> Any:
        with _DYNAMODB_LOCK:
            return original(self)

    DynamoHandler.call_action = call_action  # type: ignore[method-assign]
    try:
        yield
    finally:
        DynamoHandler.call_action = original  # type: ignore[method-assign]


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables for the block and restore the previous values after."""
    previous = {name: os.environ.get(name) for name in [*values, "NOTIFICATION_TOPIC_ARN"]}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
