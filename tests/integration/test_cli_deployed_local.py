"""The deployed-environment commands against the real workflows, run by local mode.

The local stack runs the real ASL (moto) and the real durable handler (the SDK's testing
runner). The CLI gets the stack's S3, DynamoDB and Step Functions clients; durable
callbacks, which only the runner can take, go through a small stand-in for the two Lambda
callback operations. So ``upload -> tasks -> validate -> status`` is checked end to end:
the upload id the CLI prints is the one the workflows use, one answer resumes both
patterns, and the corrected year reaches both tables.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from albums.domain import keys
from albums_cli.environment import Clients
from albums_cli.main import build_parser
from localmode.durable import LocalDurable
from localmode.stack import object_created_event
from tests.durable_harness import ALBUMS, image
from tests.validation_harness import LDF, SF, ReviewWorld, review_world

pytestmark = pytest.mark.integration


class RunnerCallbacks:
    """The Lambda callback API, answered by the local durable runner."""

    def __init__(self, durable: LocalDurable) -> None:
        self._durable = durable

    def send_durable_execution_callback_success(self, *, CallbackId: str, Result: bytes) -> None:  # noqa: N803 - boto3's names
        self._durable.runner.send_callback_success(CallbackId, Result)

    def send_durable_execution_callback_failure(
        self,
        *,
        CallbackId: str,  # noqa: N803 - boto3's names
        Error: dict[str, str],  # noqa: N803
    ) -> None:
        self._durable.resumer.fail(
            CallbackId, error=Error["ErrorType"], message=Error["ErrorMessage"]
        )


@pytest.fixture(scope="module")
def world() -> Iterator[ReviewWorld]:
    with review_world() as running:
        yield running


def run(world: ReviewWorld, *arguments: str) -> tuple[int, str, str]:
    stack = world.stack
    clients = Clients(
        s3=stack.s3,
        dynamodb=stack.dynamodb,
        stepfunctions=stack.stepfunctions,
        lambda_=RunnerCallbacks(world.durable),
        cloudwatch=None,
        sqs=None,
    )
    flags = [
        "--bucket",
        stack.bucket,
        "--table",
        stack.table_name,
        "--state-machine-arn",
        world.step_functions.state_machine_arn,
    ]
    parsed = build_parser().parse_args([*arguments, *flags])
    out, err = io.StringIO(), io.StringIO()
    code = parsed.run(parsed, clients=clients, out=out, err=err, environ={}, outputs=_no_terraform)
    return code, out.getvalue(), err.getvalue()


def _no_terraform(_root: Path) -> dict[str, Any]:
    raise AssertionError("every name is passed as a flag")


def test_upload_tasks_validate_and_status_end_to_end(world: ReviewWorld, tmp_path: Path) -> None:
    photo = image("cli-end-to-end")
    world.stack.vision.register(photo, ALBUMS)
    (tmp_path / "My Shelf.png").write_bytes(photo)

    code, out, err = run(world, "upload", str(tmp_path / "My Shelf.png"), "--json")
    assert (code, err) == (0, "")
    [uploaded] = json.loads(out)
    assert uploaded["key"] == "uploads/cli/My-Shelf.png"
    # What S3 would send EventBridge for that object; the rule starts both patterns.
    head = world.stack.s3.head_object(Bucket=world.stack.bucket, Key=uploaded["key"])
    event = object_created_event(
        bucket=world.stack.bucket,
        key=uploaded["key"],
        size=len(photo),
        etag=str(head["ETag"]).strip('"'),
        version_id=head.get("VersionId"),
    )
    assert world.stack.deliver(event)
    assert keys.parse_object_created_event(event).upload_id == uploaded["uploadId"]
    sf_arn, ldf_arn = world.step_functions.started[-1], world.durable.started[-1]
    world.step_functions.wait_for_validation(sf_arn, timeout=60)
    world.durable.wait_for_task(keys.execution_id_for(LDF, ldf_arn), timeout=60)

    code, out, _ = run(world, "tasks", "--json")
    assert code == 0
    [pending] = [item for item in json.loads(out) if item["uploadId"] == uploaded["uploadId"]]
    assert [task["workflowType"] for task in pending["tasks"]] == [
        "step-functions",
        "durable-functions",
    ]

    code, out, err = run(world, "validate", pending["tasks"][1]["taskId"], "--year", "3=1970")
    assert (code, err) == (0, "")
    assert out.count(" resumed") == 2
    assert world.step_functions.wait_for_end(sf_arn, timeout=60)["status"] == "SUCCEEDED"
    assert world.durable.wait(ldf_arn, timeout=60).status == "SUCCEEDED"

    for pattern, arn in ((SF, sf_arn), (LDF, ldf_arn)):
        years = [
            album.album.year
            for album in world.stack.repository(pattern).get_albums(
                keys.execution_id_for(pattern, arn)
            )
        ]
        assert years == [1959, 1969, 1970, 1977, 1980, 1984], pattern

    code, out, err = run(world, "status", sf_arn, "--json")
    assert (code, err) == (0, "")
    described = json.loads(out)
    assert (described["status"], described["service"]["status"]) == ("completed", "SUCCEEDED")
    assert described["albums"][2]["yearOriginal"] == 1971

    code, out, _ = run(world, "validate", pending["tasks"][0]["taskId"], "--accept")
    assert code == 4  # answered already: nothing changes
