"""Collect the comparison's data from a deployed environment (``albums report``).

:func:`collect_deployed` takes plain boto3 clients and the environment's resource names
(``terraform output``) and returns the same :class:`~albums_cli.dataset.Dataset` as local
mode, so :func:`albums_cli.report.build_report` and :func:`~albums_cli.report.write_report`
work on it unchanged.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final

from albums.domain import keys
from albums_cli.dataset import (
    LDF,
    PATTERNS,
    SF,
    ComputeTotals,
    Dataset,
    ReportError,
    RunInfo,
    collect_pattern,
    dataset_of,
    durable_compute,
    terminal_records,
)

#: Memory the cost model bills when a function's configuration does not say.
DEFAULT_MEMORY_MB: Final = 1024


def _client_error(what: str, error: Exception) -> ReportError:
    response = getattr(error, "response", None)
    detail = response.get("Error", {}) if isinstance(response, dict) else {}
    code = detail.get("Code", type(error).__name__)
    message = detail.get("Message", str(error))
    return ReportError(f"cannot read {what}: {code}: {message}")


def _function_name(name_or_arn: str) -> str:
    """Return the bare name of a function name, ARN or qualified ARN."""
    if ":function:" in name_or_arn:
        return name_or_arn.split(":function:", 1)[1].split(":", 1)[0]
    return name_or_arn.split(":", 1)[0]


def _definition_functions(definition: str) -> list[str]:
    """Names of the Lambda functions a state machine definition invokes (``FunctionName``)."""
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "FunctionName" and isinstance(value, str):
                    name = _function_name(value)
                    if name not in found:
                        found.append(name)
                else:
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(definition))
    return found


def _metric_period(start: datetime, end: datetime) -> int:
    """Return a CloudWatch period (60 s multiple) keeping the window within 1,440 points."""
    span = max(60.0, (end - start).total_seconds())
    return max(60, math.ceil(span / 1440 / 60) * 60)


def _lambda_compute(
    lambda_client: Any,
    cloudwatch: Any,
    functions: Sequence[str],
    start: datetime,
    end: datetime,
) -> ComputeTotals:
    """GB-seconds and requests of ``functions`` in the window (``AWS/Lambda`` metrics)."""
    gb_seconds = Decimal(0)
    requests = 0
    period = _metric_period(start, end)
    # Whole periods around the window: a datapoint counts in the period it falls in.
    first = math.floor(start.timestamp() / period) * period
    last = math.ceil(end.timestamp() / period) * period + period
    query_start = datetime.fromtimestamp(first, UTC)
    query_end = datetime.fromtimestamp(last, UTC)
    for name in functions:
        try:
            memory = int(
                lambda_client.get_function_configuration(FunctionName=name).get(
                    "MemorySize", DEFAULT_MEMORY_MB
                )
            )
            stats = cloudwatch.get_metric_statistics(
                Namespace="AWS/Lambda",
                MetricName="Duration",
                Dimensions=[{"Name": "FunctionName", "Value": name}],
                StartTime=query_start,
                EndTime=query_end,
                Period=period,
                Statistics=["Sum", "SampleCount"],
                Unit="Milliseconds",
            )
        except Exception as error:
            raise _client_error(f"the Lambda metrics of {name}", error) from error
        for point in stats.get("Datapoints", []):
            gb_seconds += Decimal(str(point.get("Sum", 0))) * memory / Decimal(1024) / Decimal(1000)
            requests += int(point.get("SampleCount", 0))
    return ComputeTotals(
        gb_seconds=gb_seconds,
        requests=requests,
        source="CloudWatch AWS/Lambda Duration of the state machine's Lambdas in the window",
    )


def _durable_arns(
    lambda_client: Any, function_name: str, start: datetime, end: datetime
) -> dict[str, str]:
    """Durable execution ARN by execution id, for executions started in the window."""
    arns: dict[str, str] = {}
    request: dict[str, Any] = {
        "FunctionName": function_name,
        "StartedAfter": start,
        "StartedBefore": end,
    }
    while True:
        try:
            page = lambda_client.list_durable_executions_by_function(**request)
        except Exception as error:
            raise _client_error(f"the durable executions of {function_name}", error) from error
        for execution in page.get("DurableExecutions", []):
            arn = execution["DurableExecutionArn"]
            arns[keys.execution_id_for(LDF, arn)] = arn
        marker = page.get("NextMarker")
        if not marker:
            return arns
        request["Marker"] = marker


def collect_deployed(
    *,
    dynamodb: Any,
    table_name: str,
    stepfunctions: Any,
    state_machine_arn: str,
    lambda_client: Any,
    durable_function_name: str,
    cloudwatch: Any,
    vision: str,
    since: datetime,
    until: datetime | None = None,
    max_executions: int = 200,
) -> Dataset:
    """Collect both patterns' figures from a deployed environment (``albums report``).

    Reads, for executions created from ``since`` (newest ``max_executions`` per pattern):

    - the table (execution records, albums, tasks, claims) through the repository;
    - Step Functions histories (``GetExecutionHistory``; the execution ARN is the state
      machine's with the execution name of the record's id);
    - durable histories (``ListDurableExecutionsByFunction`` in the window, then
      ``GetDurableExecutionHistory``); durable compute is the GB-seconds the execution
      recorder stored on each record;
    - Step Functions compute: CloudWatch ``AWS/Lambda`` ``Duration`` (sum and count) of
      every function the state machine definition invokes, at each function's memory, over
      the whole metric periods that cover the window.

    Parameters
    ----------
    dynamodb, stepfunctions, lambda_client, cloudwatch
        boto3 clients of the environment's region.
    table_name
        The albums table.
    state_machine_arn
        The Step Functions pattern's state machine.
    durable_function_name
        The durable orchestrator function (name or ARN, qualifier allowed).
    vision
        The Bedrock model id the environment uses (reported as is).
    since, until
        The window (timezone-aware; ``until`` defaults to now).
    max_executions
        Most executions read per pattern.

    Raises
    ------
    ReportError
        An AWS call failed (the message names the resource and the error code), or the
        window is empty or reversed.
    """
    from albums.adapters.durable_history import fetch_history  # noqa: PLC0415
    from albums.adapters.repository import AlbumRepository  # noqa: PLC0415
    from albums.adapters.stepfunctions import execution_history  # noqa: PLC0415

    if since.tzinfo is None or (until is not None and until.tzinfo is None):
        raise ReportError("since and until must carry a time zone (e.g. 2026-11-01T00:00Z)")
    end = until or datetime.now(UTC)
    if end <= since:
        raise ReportError(f"the window is empty: since {since.isoformat()} is not before its end")
    if max_executions < 1:
        raise ReportError("max_executions must be at least 1")
    execution_prefix = state_machine_arn.replace(":stateMachine:", ":execution:", 1)

    def sf_history(execution_id: str) -> list[dict[str, Any]] | None:
        name = execution_id.split("-", 1)[1]
        try:
            return execution_history(stepfunctions, f"{execution_prefix}:{name}")
        except Exception as error:
            if "ExecutionDoesNotExist" in str(error):
                return None  # expired from the service's history retention
            raise _client_error(f"the history of {execution_id}", error) from error

    durable_arns = _durable_arns(lambda_client, durable_function_name, since, end)

    def ldf_history(execution_id: str) -> list[dict[str, Any]] | None:
        arn = durable_arns.get(execution_id)
        if arn is None:
            return None
        try:
            return fetch_history(lambda_client, arn)
        except Exception as error:
            raise _client_error(f"the history of {execution_id}", error) from error

    try:
        definition = stepfunctions.describe_state_machine(stateMachineArn=state_machine_arn)[
            "definition"
        ]
        repositories = {p: AlbumRepository(dynamodb, table_name, p) for p in PATTERNS}
        records = {
            p: terminal_records(repositories[p], since=since, limit=max_executions)
            for p in PATTERNS
        }
        sf_samples, sf_stored = collect_pattern(SF, repositories[SF], records[SF], sf_history)
        ldf_samples, ldf_stored = collect_pattern(LDF, repositories[LDF], records[LDF], ldf_history)
    except ReportError:
        raise
    except Exception as error:
        raise _client_error(
            f"table {table_name} or state machine {state_machine_arn}", error
        ) from (error)
    sf_compute = _lambda_compute(
        lambda_client, cloudwatch, _definition_functions(definition), since, end
    )
    ldf_compute = durable_compute(
        ldf_samples, "GB-seconds the execution recorder stored on each durable execution"
    )
    run = RunInfo(
        mode="deployed",
        vision=vision,
        uploads=len({s.upload_id for s in (*sf_samples, *ldf_samples)}),
        since=since.isoformat(),
    )
    return dataset_of(
        run,
        {SF: (sf_samples, sf_stored), LDF: (ldf_samples, ldf_stored)},
        {SF: sf_compute, LDF: ldf_compute},
    )
