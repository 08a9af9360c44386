"""What the validation API and browser tests share: both patterns, the server, uploads.

:func:`review_world` starts the local stack with both patterns and the validation server
(:mod:`localmode.validation_server`) on 127.0.0.1. :meth:`ReviewWorld.upload` puts a photo
whose albums the vision stand-in knows, and waits until *both* executions wait for their
review, so every answer has two tasks to resume.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from albums.domain import keys
from albums.domain.models import ExecutionStatus, WorkflowType
from localmode.durable import DurableRun, LocalDurable
from localmode.stack import LocalStack
from localmode.stepfunctions import StepFunctionsPattern
from localmode.validation_server import ValidationServer
from tests.durable_harness import ALBUMS, image
from tests.table import scan_all

SF = WorkflowType.STEP_FUNCTIONS
LDF = WorkflowType.DURABLE_FUNCTIONS


class ShiftableClock:
    """The real UTC time plus an offset tests can move (to reach a task's expiry)."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


@dataclass(frozen=True, slots=True)
class Upload:
    """One photo, processed by both patterns."""

    upload_id: str
    sf_arn: str
    ldf_arn: str

    def execution_id(self, pattern: WorkflowType) -> str:
        """The execution id of ``pattern``'s run of this upload."""
        arn = self.sf_arn if pattern is SF else self.ldf_arn
        return keys.execution_id_for(pattern, arn)


@dataclass
class ReviewWorld:
    """The running stack, both patterns and the validation server."""

    stack: LocalStack
    step_functions: StepFunctionsPattern
    durable: LocalDurable
    server: ValidationServer
    clock: ShiftableClock
    sqs: Any
    queue_url: str
    _count: list[int] = field(default_factory=lambda: [0])

    def upload(
        self, albums: Sequence[dict[str, Any]] = ALBUMS, *, photo: bytes | None = None
    ) -> Upload:
        """Upload a photo of ``albums`` and wait until both patterns wait for its review.

        ``photo`` is a JPEG (e.g. a sample shelf); by default a fresh small PNG.
        """
        self._count[0] += 1
        number = self._count[0]
        if photo is None:
            photo, key, content_type = (
                image(f"review-{number}-{os.getpid()}"),
                f"uploads/review-{number}.png",
                "image/png",
            )
        else:
            key, content_type = f"uploads/review-{number}.jpg", "image/jpeg"
        self.stack.vision.register(photo, list(albums))
        sf_before, ldf_before = len(self.step_functions.started), len(self.durable.started)
        event = self.stack.put_upload(key, photo, content_type=content_type)
        assert len(self.step_functions.started) == sf_before + 1
        assert len(self.durable.started) == ldf_before + 1
        upload = Upload(
            keys.parse_object_created_event(event).upload_id,
            self.step_functions.started[-1],
            self.durable.started[-1],
        )
        self.step_functions.wait_for_validation(upload.sf_arn, timeout=60)
        self.durable.wait_for_task(upload.execution_id(LDF), timeout=60)
        # The task exists before the durable notifier has run: wait for the pause itself.
        self.durable.wait_suspended(upload.ldf_arn, timeout=60)
        return upload

    def link(self, upload: Upload, expires_at: datetime | None = None) -> str:
        """The signed review link of ``upload``."""
        return self.server.link_for(upload.upload_id, expires_at)

    def wait_for_end(self, upload: Upload) -> tuple[str, DurableRun]:
        """Wait for both executions to end; return the state machine's and durable status."""
        described = self.step_functions.wait_for_end(upload.sf_arn, timeout=60)
        run = self.durable.wait(upload.ldf_arn, timeout=60)
        return str(described["status"]), run

    def stored_years(self, upload: Upload) -> dict[WorkflowType, list[int]]:
        """The years each pattern stored for the upload's albums."""
        return {
            pattern: [
                record.album.year
                for record in self.stack.repository(pattern).get_albums(
                    upload.execution_id(pattern)
                )
            ]
            for pattern in (SF, LDF)
        }

    def statuses(self, upload: Upload) -> dict[WorkflowType, ExecutionStatus]:
        """Each pattern's execution status for the upload."""
        return {
            pattern: self.stack.repository(pattern)
            .get_execution(upload.execution_id(pattern))
            .status
            for pattern in (SF, LDF)
        }

    def snapshot(self) -> list[dict[str, Any]]:
        """Every item of the table (for "nothing changed" assertions)."""
        return scan_all(self.stack.dynamodb, self.stack.table_name)

    def published(self) -> list[dict[str, Any]]:
        """The notification messages published so far (read from an SQS subscriber)."""
        messages: list[dict[str, Any]] = []
        while True:
            batch = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            if not batch:
                return messages
            for message in batch:
                messages.append(json.loads(json.loads(message["Body"])["Message"]))
                self.sqs.delete_message(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )


@contextmanager
def review_world(validation_timeout_seconds: int = 120) -> Iterator[ReviewWorld]:
    """Both patterns on a local stack, with the validation server and a message queue."""
    import boto3

    clock = ShiftableClock()
    with ExitStack() as stack_exit:
        stack = stack_exit.enter_context(
            LocalStack(validation_timeout_seconds=validation_timeout_seconds)
        )
        step_functions = stack_exit.enter_context(StepFunctionsPattern(stack))
        durable = stack_exit.enter_context(LocalDurable(stack, metrics_stream=io.StringIO()))
        server = stack_exit.enter_context(
            ValidationServer(stack, durable_resumer=durable.resumer, clock=clock)
        )
        sqs = boto3.client("sqs", region_name="us-east-1")
        queue_url = sqs.create_queue(QueueName="reviewer")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
        stack.sns.subscribe(
            TopicArn=stack.topic_arn,
            Protocol="sqs",
            Endpoint=queue_arn["Attributes"]["QueueArn"],
        )
        yield ReviewWorld(stack, step_functions, durable, server, clock, sqs, queue_url)
