"""``albums redrive``: failed Step Functions executions and dead-letter queue events.

moto serves SQS and DynamoDB; ``ListExecutions``, ``RedriveExecution`` (which moto does not
implement), ``StartExecution`` and ``Invoke`` go through botocore's ``Stubber``, which
checks each request's parameters against the service model.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest
from botocore.stub import ANY

from albums.domain.models import (
    AlbumCorrection,
    FailureDetails,
    TaskStatus,
    WorkflowType,
    apply_corrections,
)
from albums.workflow import ValidationDecision
from albums_cli.console import EXIT_FAILED, EXIT_USAGE
from albums_cli.redrive import delivery_name
from tests.table import sample_upload
from tests.unit.cli_deployed_world import (
    DURABLE,
    EXECUTION_PREFIX,
    LDF,
    RECORDER,
    SF,
    STATE_MACHINE,
    Deployed,
    deployed_environment,
)

UPLOAD_EVENT_ID = "4f5c7e2a-58f1-4bd4-9a65-6a0d2d8c1e11"


@pytest.fixture
def deployed() -> Iterator[Deployed]:
    with deployed_environment() as environment:
        yield environment


def upload_event(event_id: str = UPLOAD_EVENT_ID, key: str = "uploads/crate.jpg") -> str:
    return json.dumps(
        {
            "id": event_id,
            "source": "aws.s3",
            "detail-type": "Object Created",
            "detail": {"bucket": {"name": "album-uploads-cli"}, "object": {"key": key}},
        }
    )


def dead_letter(
    deployed: Deployed, queue: str, body: str, attributes: dict[str, str] | None = None
) -> None:
    deployed.clients.sqs.send_message(
        QueueUrl=deployed.queues[queue],
        MessageBody=body,
        MessageAttributes={
            name: {"DataType": "String", "StringValue": value}
            for name, value in (attributes or {}).items()
        },
    )


def execution(name: str, status: str, started: datetime) -> dict[str, Any]:
    return {
        "executionArn": f"{EXECUTION_PREFIX}:{name}",
        "stateMachineArn": STATE_MACHINE,
        "name": name,
        "status": status,
        "startDate": started,
        "stopDate": started + timedelta(minutes=1),
    }


def expect_listing(
    deployed: Deployed,
    status: str,
    executions: Sequence[dict[str, Any]] = (),
    *,
    token: str | None = None,
    next_token: str | None = None,
) -> None:
    request: dict[str, Any] = {"stateMachineArn": STATE_MACHINE, "statusFilter": status}
    if token is not None:
        request["nextToken"] = token
    response: dict[str, Any] = {"executions": list(executions)}
    if next_token is not None:
        response["nextToken"] = next_token
    deployed.sfn.add_response("list_executions", response, request)


def expect_no_failed_executions(deployed: Deployed) -> None:
    for status in ("FAILED", "TIMED_OUT", "ABORTED"):
        expect_listing(deployed, status)


def stored(deployed: Deployed, name: str, *, failed: bool = False) -> None:
    """The table's record of a Step Functions execution named ``name``."""
    repository = deployed.repository(SF)
    execution_id = f"sf-{name}"
    repository.put_execution(execution_id, sample_upload(name))
    if failed:
        repository.fail_execution(
            execution_id, FailureDetails("VisionServiceError", "Bedrock down", "ProcessImage")
        )


# --- executions ----------------------------------------------------------------------------


def test_redrive_redrives_what_the_table_has_not_ended(deployed: Deployed) -> None:
    now = deployed.now
    stored(deployed, "stuck")  # the recorder never ran: still `running` in the table
    stored(deployed, "caught", failed=True)  # the workflow recorded its failure itself
    expect_listing(
        deployed,
        "FAILED",
        [execution("stuck", "FAILED", now - timedelta(hours=2))],
        next_token="page-2",
    )
    expect_listing(
        deployed,
        "FAILED",
        [
            execution("caught", "FAILED", now - timedelta(hours=3)),
            execution("ancient", "FAILED", now - timedelta(days=20)),  # ends the listing
        ],
        token="page-2",
        next_token="page-3",
    )
    expect_listing(deployed, "TIMED_OUT", [execution("slow", "TIMED_OUT", now - timedelta(days=1))])
    expect_listing(deployed, "ABORTED")
    deployed.sfn.add_response(
        "redrive_execution", {"redriveDate": now}, {"executionArn": f"{EXECUTION_PREFIX}:slow"}
    )
    deployed.sfn.add_response(
        "redrive_execution", {"redriveDate": now}, {"executionArn": f"{EXECUTION_PREFIX}:stuck"}
    )

    code, out, err = deployed.run("redrive", "--json")

    assert (code, err) == (0, "")
    report = json.loads(out)
    assert [(e["executionId"], e["status"], e["action"]) for e in report["executions"]] == [
        ("sf-slow", "TIMED_OUT", "redriven"),
        ("sf-caught", "FAILED", "skipped"),
        ("sf-stuck", "FAILED", "redriven"),
    ]
    assert report["executions"][1]["detail"] == (
        "the table records it failed at ProcessImage (VisionServiceError): a redrive would "
        "only repeat its end; upload the photo again to retry"
    )


def test_redrive_reports_executions_it_could_not_redrive(deployed: Deployed) -> None:
    now = deployed.now
    expect_listing(
        deployed,
        "FAILED",
        [
            execution("refused", "FAILED", now - timedelta(hours=1)),
            execution("denied", "FAILED", now - timedelta(hours=2)),
        ],
    )
    expect_listing(deployed, "TIMED_OUT")
    expect_listing(deployed, "ABORTED", [execution("old", "ABORTED", now - timedelta(days=15))])
    deployed.sfn.add_client_error(
        "redrive_execution", "AccessDeniedException", "not allowed to redrive"
    )
    deployed.sfn.add_client_error(
        "redrive_execution", "ExecutionNotRedrivable", "redrive limit reached"
    )

    code, out, err = deployed.run("redrive", "--since", "30d")

    assert code == EXIT_FAILED
    assert err == (
        "albums redrive: some answers, executions or events were not sent again: sf-denied: "
        "AccessDeniedException: not allowed to redrive\n"
    )
    rows = {line.split()[0]: line for line in out.splitlines() if line.startswith("  sf-")}
    assert "skipped" in rows["sf-old"]
    assert "ended over 14 days ago" in rows["sf-old"]
    assert "failed" in rows["sf-denied"]
    assert "skipped" in rows["sf-refused"]
    assert "redrive limit reached" in rows["sf-refused"]


# --- dead-letter queues --------------------------------------------------------------------


def test_redrive_redelivers_each_event_to_its_target_then_deletes_it(deployed: Deployed) -> None:
    expect_no_failed_executions(deployed)
    dead_letter(
        deployed,
        "upload-step-functions",
        upload_event(),
        {"ERROR_CODE": "SDK_CLIENT_ERROR", "ERROR_MESSAGE": "throttled"},
    )
    dead_letter(deployed, "upload-durable", upload_event())
    ended = json.dumps({"id": "e-ended", "source": "aws.states", "detail": {}})
    dead_letter(deployed, "execution-recorder", ended, {"TARGET_ARN": RECORDER})
    dead_letter(deployed, "alerts", '"Step Functions execution x ended FAILED"')
    deployed.lambda_.add_response(
        "invoke",
        {"StatusCode": 202},
        {"FunctionName": RECORDER, "InvocationType": "Event", "Payload": ended.encode()},
    )
    deployed.lambda_.add_response(
        "invoke",
        {"StatusCode": 202},
        {
            "FunctionName": DURABLE,
            "InvocationType": "Event",
            "Payload": upload_event().encode(),
            "DurableExecutionName": f"redrive-{UPLOAD_EVENT_ID}",
        },
    )
    deployed.sfn.add_response(
        "start_execution",
        {
            "executionArn": f"{EXECUTION_PREFIX}:redrive-{UPLOAD_EVENT_ID}",
            "startDate": deployed.now,
        },
        {
            "stateMachineArn": STATE_MACHINE,
            "name": f"redrive-{UPLOAD_EVENT_ID}",
            "input": upload_event(),
        },
    )

    code, out, err = deployed.run("redrive", "--json")

    assert (code, err) == (0, "")
    queues = {queue["name"]: queue for queue in json.loads(out)["queues"]}
    for name in ("upload-step-functions", "upload-durable", "execution-recorder"):
        assert (queues[name]["redelivered"], queues[name]["left"]) == (1, 0), name
        assert deployed.queue_depth(name) == 0, name
    event = queues["upload-step-functions"]["events"][0]
    assert event["uploadKey"] == "uploads/crate.jpg"
    assert event["deadLetteredBecause"] == "SDK_CLIENT_ERROR: throttled"
    assert (queues["alerts"]["waiting"], queues["alerts"]["target"]) == (1, None)
    assert deployed.queue_depth("alerts") == 1


def test_an_event_delivered_before_is_deleted_without_a_second_start(deployed: Deployed) -> None:
    expect_no_failed_executions(deployed)
    dead_letter(deployed, "upload-step-functions", upload_event())
    dead_letter(deployed, "upload-durable", upload_event())
    deployed.lambda_.add_client_error(
        "invoke", "DurableExecutionAlreadyStartedException", "name in use", http_status_code=409
    )
    deployed.sfn.add_client_error("start_execution", "ExecutionAlreadyExists", "name in use")

    code, out, _ = deployed.run("redrive")

    assert code == 0
    assert "upload-durable: read 1, re-delivered 0, already delivered 1, left 0" in out
    assert "upload-step-functions: read 1, re-delivered 0, already delivered 1, left 0" in out
    assert deployed.queue_depth("upload-step-functions") == 0
    assert deployed.queue_depth("upload-durable") == 0


def test_a_failed_redelivery_keeps_the_message_and_says_why(deployed: Deployed) -> None:
    expect_no_failed_executions(deployed)
    dead_letter(deployed, "upload-step-functions", upload_event())
    dead_letter(deployed, "upload-step-functions", "not json at all")
    dead_letter(deployed, "execution-recorder", json.dumps({"id": "e-2"}))  # no TARGET_ARN
    deployed.sfn.add_client_error(
        "start_execution", "StateMachineDoesNotExist", "State Machine Does Not Exist"
    )

    code, out, err = deployed.run("redrive")

    assert code == EXIT_FAILED
    assert err.startswith(
        "albums redrive: some answers, executions or events were not sent again: "
        "execution-recorder "
    )
    assert err.endswith(
        "its TARGET_ARN is not a Lambda function ARN: None (and 2 more, listed above)\n"
    )
    assert "StateMachineDoesNotExist: State Machine Does Not Exist" in out
    assert "the message is not a JSON event" in out
    assert deployed.queue_depth("upload-step-functions") == 2  # both kept, hidden for a while
    assert deployed.queue_depth("execution-recorder") == 1


def test_a_dry_run_counts_and_changes_nothing(deployed: Deployed) -> None:
    now = deployed.now
    stored(deployed, "stuck")
    expect_listing(deployed, "FAILED", [execution("stuck", "FAILED", now - timedelta(hours=2))])
    expect_listing(deployed, "TIMED_OUT")
    expect_listing(deployed, "ABORTED")
    dead_letter(deployed, "upload-durable", upload_event())
    dead_letter(deployed, "upload-durable", upload_event("other-event"))

    code, out, err = deployed.run("redrive", "--dry-run")

    assert (code, err) == (0, "")
    assert "UTC: 1, would redrive 1" in out
    assert "upload-durable: 2 waiting; would re-deliver them to async Invoke" in out
    visible = deployed.clients.sqs.get_queue_attributes(
        QueueUrl=deployed.queues["upload-durable"], AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]["ApproximateNumberOfMessages"]
    assert visible == "2"  # not even hidden


def test_a_bad_since_is_a_usage_error(deployed: Deployed) -> None:
    code, out, err = deployed.run("redrive", "--since", "last week")
    assert (code, out) == (EXIT_USAGE, "")
    assert err == (
        "albums redrive: --since 'last week' is neither an ISO-8601 time nor an age like "
        "30m, 24h or 7d\n"
    )


def test_delivery_names_are_the_same_for_the_same_event() -> None:
    body = upload_event("not a valid name!")
    event = json.loads(body)
    assert delivery_name(event, body) == delivery_name(event, body)
    assert delivery_name(event, body).startswith("redrive-")
    assert len(delivery_name(event, body)) <= 64
    assert delivery_name({"id": "abc"}, "{}") == "redrive-abc"


# --- answers -------------------------------------------------------------------------------


def went_on(deployed: Deployed, pattern: WorkflowType, name: str) -> None:
    """What a resumed workflow does next: its Apply step sets the execution running."""
    task = deployed.repository(pattern).get_task(deployed.task_id(pattern, name))
    deployed.repository(pattern).apply_validated_data(
        task.execution_id, apply_corrections(task.albums, task.corrections)
    )


def answered_for_step_functions_only(deployed: Deployed, name: str) -> None:
    """The reviewer corrected album 2; the answer reached Step Functions only."""
    deployed.waiting(name)
    deployed.repository(SF).complete_validation_task(
        deployed.task_id(SF, name), TaskStatus.COMPLETED, corrections=[CORRECTION]
    )
    went_on(deployed, SF, name)


CORRECTION = AlbumCorrection(2, 1968)
DECISION = json.dumps(
    ValidationDecision((CORRECTION,), answer_stored=True).to_dict(),
    separators=(",", ":"),
    sort_keys=True,
)


def test_an_answer_that_did_not_reach_its_workflow_is_sent_again(deployed: Deployed) -> None:
    deployed.waiting("crate")
    deployed.sfn.add_client_error("send_task_success", "ThrottlingException", "slow down")
    deployed.sfn.add_client_error("send_task_success", "ThrottlingException", "slow down")
    deployed.sfn.add_client_error("send_task_success", "ThrottlingException", "slow down")
    deployed.lambda_.add_response(
        "send_durable_execution_callback_success", {}, {"CallbackId": ANY, "Result": ANY}
    )
    code, _, _ = deployed.run("validate", deployed.task_id(SF, "crate"), "--year", "2=1968")
    assert code == EXIT_FAILED  # stored, Step Functions not resumed
    went_on(deployed, LDF, "crate")

    # Answers come first (their waits expire), then the executions are listed.
    deployed.sfn.add_response(
        "send_task_success", {}, {"taskToken": "token-sf-crate", "output": DECISION}
    )
    expect_no_failed_executions(deployed)
    code, out, err = deployed.run("redrive", "--json")

    assert (code, err) == (0, "")
    (answer,) = json.loads(out)["answers"]
    assert (answer["taskId"], answer["answer"], answer["action"]) == (
        deployed.task_id(SF, "crate"),
        "completed",
        "redelivered",
    )
    deployed.sfn.assert_no_pending_responses()


def test_a_half_stored_answer_is_completed_for_the_other_pattern(deployed: Deployed) -> None:
    answered_for_step_functions_only(deployed, "crate")
    expect_no_failed_executions(deployed)
    deployed.lambda_.add_response(
        "send_durable_execution_callback_success",
        {},
        {"CallbackId": "token-ldf-crate", "Result": DECISION.encode()},
    )
    code, out, err = deployed.run("redrive")

    assert (code, err) == (0, "")
    assert "Reviewers' answers that had not reached their workflow: 1, sent again 1" in out
    assert "answered" in out
    task = deployed.repository(LDF).get_task(deployed.task_id(LDF, "crate"))
    assert (task.status, task.corrections) == (TaskStatus.COMPLETED, (CORRECTION,))
    deployed.lambda_.assert_no_pending_responses()


def test_a_dry_run_lists_the_answers_it_would_send_and_changes_nothing(
    deployed: Deployed,
) -> None:
    answered_for_step_functions_only(deployed, "crate")
    expect_no_failed_executions(deployed)
    before = deployed.table()
    code, out, err = deployed.run("redrive", "--dry-run", "--json")
    assert (code, err) == (0, "")
    (answer,) = json.loads(out)["answers"]
    assert (answer["workflowType"], answer["action"]) == ("durable-functions", "would answer")
    assert deployed.table() == before


def test_an_answer_that_still_cannot_be_sent_is_reported_and_exit_1(deployed: Deployed) -> None:
    answered_for_step_functions_only(deployed, "crate")
    expect_no_failed_executions(deployed)
    deployed.lambda_.add_client_error(
        "send_durable_execution_callback_success", "AccessDeniedException", "not allowed"
    )
    code, _, err = deployed.run("redrive")
    assert code == EXIT_FAILED
    assert err.startswith(
        "albums redrive: some answers, executions or events were not sent again: "
        f"{deployed.task_id(LDF, 'crate')}: resuming failed (AccessDeniedException)"
    )
    # The answer is stored now; the next run sends it (and only it).
    expect_no_failed_executions(deployed)
    deployed.lambda_.add_response(
        "send_durable_execution_callback_success", {}, {"CallbackId": ANY, "Result": ANY}
    )
    code, out, _ = deployed.run("redrive", "--json")
    assert code == 0
    assert [a["action"] for a in json.loads(out)["answers"]] == ["redelivered"]
