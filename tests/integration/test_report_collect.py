"""Collecting the report's data from a real local run of both patterns, and as deployed.

One module-wide run: two sample photos through both patterns with small simulated
latencies, validations answered with the scripted corrections, every execution waited
for. ``collect_local`` reads it from the local stack; ``collect_deployed`` reads the same
run as an environment: moto's DynamoDB, Step Functions and CloudWatch, and a Lambda client
under botocore's Stubber (which checks every request and response against the service
model; moto has no durable execution APIs).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from albums.domain import keys
from albums.domain.models import AlbumCorrection, WorkflowType
from albums.workflow import ValidationDecision
from albums_cli.dataset import terminal_records
from albums_cli.report import (
    Dataset,
    ReportError,
    RunInfo,
    build_report,
    collect_deployed,
    collect_local,
)
from localmode import samples
from localmode.durable import LocalDurable
from localmode.lambdas import function_name_of
from localmode.pricing import ProgrammablePriceSource, most_at_once
from localmode.stack import REGION, LocalStack
from localmode.stepfunctions import StepFunctionsPattern

pytestmark = pytest.mark.integration

SF = WorkflowType.STEP_FUNCTIONS
LDF = WorkflowType.DURABLE_FUNCTIONS
VISION_S = 0.3
PRICE_S = 0.25
UPLOADS = 2


@dataclass
class LocalRun:
    stack: LocalStack
    step_functions: StepFunctionsPattern
    durable: LocalDurable
    started: datetime
    prices: dict[WorkflowType, ProgrammablePriceSource]


def _answer_and_wait(run: LocalRun) -> None:
    stack, step_functions, durable = run.stack, run.step_functions, run.durable
    for number in range(UPLOADS):
        shelf = samples.shelf(number)
        stack.vision.register(shelf.image(), shelf.detected())
        stack.put_upload(f"uploads/report/{number}-{shelf.name}.jpg", shelf.image())
    corrections = {
        f"uploads/report/{number}-{samples.shelf(number).name}.jpg": tuple(
            AlbumCorrection(index=c["albumIndex"], year=c["year"])
            for c in samples.shelf(number).corrections()
        )
        for number in range(UPLOADS)
    }
    for arn in step_functions.started:
        task = step_functions.wait_for_validation(arn, timeout=60)
        key = stack.repository(SF).get_execution(task.execution_id).upload.key
        step_functions.approve(arn, corrections[key])
    for arn in durable.started:
        execution_id = keys.execution_id_for(LDF, arn)
        callback_id = durable.wait_for_task(execution_id, timeout=60)
        durable.wait_suspended(arn, timeout=60)  # answered after the pause, as a person does
        key = stack.repository(LDF).get_execution(execution_id).upload.key
        durable.resumer.succeed(callback_id, ValidationDecision(corrections[key]).to_dict())
    for arn in step_functions.started:
        step_functions.wait_for_end(arn, timeout=60)
    for arn in durable.started:
        durable.wait(arn, timeout=60)


@pytest.fixture(scope="module")
def local_run() -> Iterator[LocalRun]:
    started = datetime.now(UTC) - timedelta(minutes=1)
    prices = {pattern: ProgrammablePriceSource(latency_s=PRICE_S) for pattern in (SF, LDF)}
    with (
        LocalStack() as stack,
        StepFunctionsPattern(stack, prices=prices[SF]) as sf,
        LocalDurable(stack, price_source=prices[LDF]) as ldf,
    ):
        stack.vision.latency_s = VISION_S
        run = LocalRun(stack, sf, ldf, started, prices)
        _answer_and_wait(run)
        yield run


@pytest.fixture(scope="module")
def local_dataset(local_run: LocalRun) -> Dataset:
    info = RunInfo(
        mode="local",
        vision="local-stand-in",
        uploads=UPLOADS,
        vision_latency_s=VISION_S,
        price_latency_s=PRICE_S,
        fail_rate=0.0,
    )
    return collect_local(local_run.stack, local_run.step_functions, local_run.durable, run=info)


def test_collect_local_has_every_execution_of_both_patterns(local_dataset: Dataset) -> None:
    assert local_dataset.equivalent is True
    assert local_dataset.differences == ()
    for pattern in (SF, LDF):
        samples_ = local_dataset.patterns[pattern].samples
        assert len(samples_) == UPLOADS
        assert {s.status.value for s in samples_} == {"completed"}
        assert all(s.albums_priced == 6 for s in samples_)
        assert all(
            s.request_units is not None and s.request_units.write_units > 40 for s in samples_
        )


def test_step_timings_see_the_simulated_latencies(local_dataset: Dataset) -> None:
    for pattern in (SF, LDF):
        for sample in local_dataset.patterns[pattern].samples:
            timings = sample.timings
            assert timings is not None
            assert sum(timings.steps_s.values()) == pytest.approx(timings.duration_s, abs=1e-6)
            # Lower bounds only: a loaded machine makes every step slower, never faster.
            # Whether the price calls ran at once is judged from the calls themselves
            # (below), not from a wall-clock ceiling.
            assert timings.steps_s["ProcessImage"] >= VISION_S
            assert timings.steps_s["EstimatePrices"] >= PRICE_S
    sf_runs = [
        run
        for s in local_dataset.patterns[SF].samples
        if s.timings
        for run in s.timings.estimate_run_s
    ]
    assert len(sf_runs) == 6 * UPLOADS
    assert min(sf_runs) >= PRICE_S


def test_each_upload_prices_its_albums_concurrently_in_both_patterns(
    local_run: LocalRun,
) -> None:
    for pattern, source in local_run.prices.items():
        for number in range(UPLOADS):
            names = {album.album_name for album in samples.shelf(number).albums}
            calls = [call for call in source.spans if call.album_name in names]
            assert len(calls) == 6, pattern
            # Run one after the other, at most one call is running at any moment.
            assert most_at_once(calls) >= 2, (pattern, number, calls)


def test_orchestration_counts_and_compute_are_measured(local_dataset: Dataset) -> None:
    sf, ldf = local_dataset.patterns[SF], local_dataset.patterns[LDF]

    assert all(s.orchestration_units == 14 for s in sf.samples)
    assert all(s.orchestration_units == 16 for s in ldf.samples)
    assert all(s.replays >= 1 and s.durable_bytes_written > 0 for s in ldf.samples)
    # Step Functions: 8 Lambda invocations per workflow (vision, the notifier, six prices;
    # the table writes are the state machine's own), each one measured in-process.
    assert sf.compute.requests == 8 * UPLOADS
    assert sf.compute.gb_seconds >= (VISION_S + 6 * PRICE_S) * UPLOADS
    assert ldf.compute.gb_seconds >= (VISION_S + PRICE_S) * UPLOADS


def test_the_report_of_a_local_run_has_plausible_costs(local_dataset: Dataset) -> None:
    report = build_report(local_dataset)

    for key in ("step-functions", "durable-functions"):
        cost = report["patterns"][key]["cost_per_1k_usd"]
        assert all(cost[part] > 0 for part in ("orchestration", "compute", "storage"))
        # Cents to a dollar per 1,000 workflows at list prices.
        assert 0.01 < cost["total"] < 2


# --- as a deployed environment -------------------------------------------------------------


def as_api_events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The runner's events with the members the API always sends and the runner leaves out.

    The testing runner (1.x) omits ``RetryDetails`` of a succeeded step and the details of
    ``InvocationCompleted``; the service model requires both.
    """
    completed = []
    for original in events:
        event = dict(original)
        details = event.get("StepSucceededDetails")
        if isinstance(details, dict) and "RetryDetails" not in details:
            event["StepSucceededDetails"] = {**details, "RetryDetails": {}}
        if (
            event["EventType"] == "InvocationCompleted"
            and "InvocationCompletedDetails" not in event
        ):
            moment = event["EventTimestamp"]
            event["InvocationCompletedDetails"] = {
                "StartTimestamp": moment,
                "EndTimestamp": moment,
                "RequestId": f"request-{event['EventId']}",
            }
        completed.append(event)
    return completed


def _durable_stubs(run: LocalRun, lambda_client: Any, stubber: Stubber) -> None:
    """Answer the durable calls collect_deployed makes, from the runner's histories."""
    arns = {keys.execution_id_for(LDF, arn): arn for arn in run.durable.started}
    stubber.add_response(
        "list_durable_executions_by_function",
        {
            "DurableExecutions": [
                {
                    "DurableExecutionArn": arn,
                    "DurableExecutionName": f"local-{number}",
                    "FunctionArn": f"arn:aws:lambda:{REGION}:123456789012:function:orch",
                    "Status": "SUCCEEDED",
                    "StartTimestamp": run.started,
                }
                for number, arn in enumerate(arns.values())
            ]
        },
        {"FunctionName": "orch:live", "StartedAfter": run.started, "StartedBefore": ANY},
    )
    for record in terminal_records(run.stack.repository(LDF)):
        arn = arns[record.execution_id]
        stubber.add_response(
            "get_durable_execution_history",
            {"Events": as_api_events(run.durable.history(arn))},
            {"DurableExecutionArn": arn, "IncludeExecutionData": True},
        )
    for arn in run.step_functions.function_arns.values():
        name = function_name_of(arn)
        stubber.add_response(
            "get_function_configuration",
            {"FunctionName": name, "MemorySize": 512},
            {"FunctionName": name},
        )


def deployed_from(run: LocalRun, lambda_client: Any, function: str = "orch:live") -> Dataset:
    """collect_deployed over the local run's resources, as an environment's outputs name them."""
    return collect_deployed(
        dynamodb=run.stack.dynamodb,
        table_name=run.stack.table_name,
        stepfunctions=run.stack.stepfunctions,
        state_machine_arn=run.step_functions.state_machine_arn,
        lambda_client=lambda_client,
        durable_function_name=function,
        cloudwatch=boto3.client("cloudwatch", region_name=REGION),
        vision="anthropic.claude-sonnet-4",
        since=run.started,
    )


def test_collect_deployed_reads_the_table_histories_and_cloudwatch(local_run: LocalRun) -> None:
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    for arn in local_run.step_functions.function_arns.values():
        cloudwatch.put_metric_data(
            Namespace="AWS/Lambda",
            MetricData=[
                {
                    "MetricName": "Duration",
                    "Dimensions": [{"Name": "FunctionName", "Value": function_name_of(arn)}],
                    "Timestamp": datetime.now(UTC),
                    "Value": 1000.0,
                    "Unit": "Milliseconds",
                }
            ],
        )
    lambda_client = boto3.client("lambda", region_name=REGION)
    with Stubber(lambda_client) as stubber:
        _durable_stubs(local_run, lambda_client, stubber)
        dataset = deployed_from(local_run, lambda_client)
        stubber.assert_no_pending_responses()

    assert dataset.run.mode == "deployed"
    assert dataset.run.uploads == UPLOADS
    assert dataset.equivalent is True
    sf, ldf = dataset.patterns[SF], dataset.patterns[LDF]
    assert [s.orchestration_units for s in sf.samples] == [14] * UPLOADS
    assert [s.orchestration_units for s in ldf.samples] == [16] * UPLOADS
    assert all(s.timings is not None for s in (*sf.samples, *ldf.samples))
    # Three functions, one 1 s datapoint each, at 512 MB: 1.5 GB-s over 3 requests.
    assert sf.compute.requests == 3
    assert float(sf.compute.gb_seconds) == pytest.approx(1.5)
    report = build_report(dataset)
    assert report["mode"] == "deployed"
    assert report["patterns"]["durable-functions"]["durable_operations_per_workflow"] == 16.0


def test_collect_deployed_names_the_resource_that_failed(local_run: LocalRun) -> None:
    lambda_client = boto3.client("lambda", region_name=REGION)
    with Stubber(lambda_client) as stubber:
        stubber.add_client_error(
            "list_durable_executions_by_function",
            service_error_code="ResourceNotFoundException",
            service_message="Function not found: orch",
        )
        with pytest.raises(ReportError) as raised:
            deployed_from(local_run, lambda_client, function="orch")
    assert str(raised.value) == (
        "cannot read the durable executions of orch: ResourceNotFoundException: "
        "Function not found: orch"
    )


@pytest.mark.parametrize(
    ("since", "until", "message"),
    [
        (datetime(2026, 11, 1), None, "must carry a time zone"),  # noqa: DTZ001 - on purpose
        (
            datetime(2026, 11, 2, tzinfo=UTC),
            datetime(2026, 11, 1, tzinfo=UTC),
            "the window is empty",
        ),
    ],
)
def test_collect_deployed_refuses_a_bad_window(
    since: datetime, until: datetime | None, message: str
) -> None:
    with pytest.raises(ReportError, match=message):
        collect_deployed(
            dynamodb=None,
            table_name="t",
            stepfunctions=None,
            state_machine_arn="arn",
            lambda_client=None,
            durable_function_name="f",
            cloudwatch=None,
            vision="v",
            since=since,
            until=until,
        )
