"""The cost model: price table, per-workflow and monthly cost, and the counting rules."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from albums.domain.cost import (
    BYTES_PER_GB,
    PRICE_FILE,
    VOLUME_STEPS,
    CostBreakdown,
    CostModelError,
    DurableOperation,
    DurableOperationKind,
    PriceTableError,
    ReadConsistency,
    WorkflowUsage,
    count_billable_durable_operations,
    count_state_transitions,
    durable_functions_cost,
    dynamodb_read_units,
    dynamodb_write_units,
    lambda_gb_seconds,
    load_price_table,
    monthly_cost,
    step_functions_cost,
    workflow_cost,
)
from albums.domain.models import WorkflowType

PRICES = load_price_table()
DATA_FILE = Path(__file__).resolve().parents[2] / "shared_layer" / "albums" / "data" / PRICE_FILE


# --- the price table -------------------------------------------------------------------


def test_the_packaged_table_holds_the_published_prices_as_unit_prices() -> None:
    assert PRICES.as_of == date(2026, 11, 1)
    assert PRICES.region == "us-east-1"
    assert PRICES.currency == "USD"
    assert PRICES.sources
    assert PRICES.step_functions_transition == Decimal("0.000025")  # $0.025 / 1,000
    assert PRICES.express_request == Decimal("0.000001")  # $1.00 / million
    assert PRICES.express_gb_second == Decimal("0.00001667")
    assert PRICES.lambda_request == Decimal("0.0000002")  # $0.20 / million
    assert PRICES.lambda_gb_second == Decimal("0.0000133334")
    assert PRICES.durable_operation == Decimal("0.000008")  # $8.00 / million
    assert PRICES.durable_gb_written == Decimal("0.25")
    assert PRICES.durable_gb_month == Decimal("0.15")
    assert PRICES.dynamodb_write_unit == Decimal("0.000000625")  # $0.625 / million
    assert PRICES.dynamodb_read_unit == Decimal("0.000000125")  # $0.125 / million
    assert PRICES.free_tier.step_functions_state_transitions == 4000
    assert PRICES.free_tier.lambda_requests == 1_000_000
    assert PRICES.free_tier.lambda_gb_seconds == Decimal(400_000)


def test_the_packaged_table_is_loaded_once() -> None:
    assert load_price_table() is load_price_table(None)


def test_the_data_file_name_carries_its_date() -> None:
    document = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    assert document["as_of"] in PRICE_FILE
    assert load_price_table(DATA_FILE) == PRICES


def _document() -> dict[str, Any]:
    return json.loads(DATA_FILE.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def _write(tmp_path: Path, document: object) -> Path:
    path = tmp_path / "prices.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("as_of"), "missing as_of"),
        (lambda d: d.update(as_of="1 Nov 2026"), "as_of must be YYYY-MM-DD"),
        (lambda d: d.update(schema_version=2), "schema_version"),
        (lambda d: d["prices"].pop("lambda_arm64"), r"prices\.lambda_arm64\.request"),
        (
            lambda d: d["prices"]["durable_functions"]["operation"].update(usd="-8"),
            r"prices\.durable_functions\.operation\.usd",
        ),
        (
            lambda d: d["prices"]["dynamodb_on_demand"]["read_request_unit"].update(per=0),
            r"read_request_unit\.per must be a positive integer",
        ),
        (
            lambda d: d["prices"]["step_functions_standard"]["state_transition"].update(
                usd="cheap"
            ),
            "must be a number",
        ),
        (lambda d: d["free_tier_monthly"].pop("lambda_requests"), "lambda_requests"),
        (lambda d: d.update(sources="aws"), "sources must be a list"),
    ],
)
def test_a_malformed_price_file_is_refused_naming_the_field(
    tmp_path: Path, mutate: Any, message: str
) -> None:
    document = _document()
    mutate(document)
    with pytest.raises(PriceTableError, match=message):
        load_price_table(_write(tmp_path, document))


def test_a_price_file_that_is_not_json_or_missing_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(PriceTableError, match="not valid JSON"):
        load_price_table(bad)
    with pytest.raises(PriceTableError, match="cannot read"):
        load_price_table(tmp_path / "absent.json")
    with pytest.raises(PriceTableError, match="JSON object"):
        load_price_table(_write(tmp_path, [1, 2]))


# --- per-workflow cost -----------------------------------------------------------------


def test_twenty_transitions_cost_half_a_tenth_of_a_cent() -> None:
    cost = step_functions_cost(WorkflowUsage(state_transitions=20), PRICES)
    assert cost.orchestration == Decimal("0.0005")
    assert cost.total == Decimal("0.0005")
    assert cost.per_1k == Decimal("0.5")
    assert cost.workflow_type is WorkflowType.STEP_FUNCTIONS


def test_step_functions_cost_by_hand() -> None:
    usage = WorkflowUsage(
        state_transitions=27,
        lambda_requests=8,
        lambda_gb_seconds=Decimal("2.5"),
        dynamodb_write_units=Decimal(20),
        dynamodb_read_units=Decimal(10),
        durable_operations=999,  # ignored for Step Functions
    )
    cost = step_functions_cost(usage)
    assert cost.orchestration == Decimal("0.000675")  # 27 x 0.000025
    assert cost.compute == Decimal("0.0000349335")  # 8 x 0.0000002 + 2.5 x 0.0000133334
    assert cost.storage == Decimal("0.00001375")  # 20 x 0.000000625 + 10 x 0.000000125
    assert cost.total == Decimal("0.0007236835")


def test_durable_functions_cost_by_hand() -> None:
    usage = WorkflowUsage(
        durable_operations=40,
        durable_bytes_written=1024 * 1024,  # 1 MiB = 1/1024 GB
        durable_retention_days=14,
        lambda_requests=3,
        lambda_gb_seconds=Decimal(1),
        dynamodb_write_units=Decimal(16),
        state_transitions=999,  # ignored for durable functions
    )
    cost = durable_functions_cost(usage, PRICES)
    # 40 x 0.000008 + 0.25 / 1024 + 0.15 x (1/1024 GB x 14/30 month)
    assert cost.orchestration == Decimal("0.00032") + Decimal("0.000244140625") + Decimal(
        "0.000068359375"
    )
    assert cost.orchestration == Decimal("0.0006325")
    assert cost.compute == Decimal("0.0000139334")  # 3 x 0.0000002 + 1 x 0.0000133334
    assert cost.storage == Decimal("0.00001")  # 16 x 0.000000625
    assert cost.workflow_type is WorkflowType.DURABLE_FUNCTIONS


def test_retained_gb_months_default_from_bytes_and_retention() -> None:
    usage = WorkflowUsage(durable_bytes_written=BYTES_PER_GB * 3, durable_retention_days=30)
    assert usage.retained_gb_months == Decimal(3)
    given = WorkflowUsage(durable_bytes_written=BYTES_PER_GB, durable_retained_gb_months=Decimal(2))
    assert given.retained_gb_months == Decimal(2)
    assert durable_functions_cost(given).orchestration == Decimal("0.25") + Decimal("0.30")


def test_workflow_cost_dispatches_on_the_pattern() -> None:
    usage = WorkflowUsage(state_transitions=20, durable_operations=20)
    assert workflow_cost(usage, "step-functions").total == Decimal("0.0005")
    assert workflow_cost(usage, WorkflowType.DURABLE_FUNCTIONS).total == Decimal("0.00016")


def test_cost_breakdown_to_dict_is_plain_json() -> None:
    cost = step_functions_cost(WorkflowUsage(state_transitions=20, lambda_requests=5))
    data = cost.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data == {
        "orchestration": 0.0005,
        "compute": 0.000001,
        "storage": 0.0,
        "total": 0.000501,
        "per1k": 0.501,
        "currency": "USD",
        "workflowType": "step-functions",
    }


@pytest.mark.parametrize(
    "kwargs",
    [
        {"state_transitions": -1},
        {"durable_operations": True},
        {"lambda_requests": 1.5},
        {"lambda_gb_seconds": Decimal(-1)},
        {"dynamodb_read_units": "NaN"},
        {"durable_retention_days": 0},
        {"durable_retention_days": 91},
        {"durable_retained_gb_months": Decimal("-0.1")},
    ],
)
def test_usage_is_validated(kwargs: dict[str, Any]) -> None:
    with pytest.raises(CostModelError):
        WorkflowUsage(**kwargs)


def test_cost_breakdown_refuses_negative_amounts() -> None:
    with pytest.raises(CostModelError):
        CostBreakdown(orchestration=Decimal(-1), compute=Decimal(0), storage=Decimal(0))


# --- monthly cost ----------------------------------------------------------------------


def test_monthly_step_functions_cost_takes_the_free_tier_off_first() -> None:
    usage = WorkflowUsage(state_transitions=20, lambda_requests=2)
    with_free = monthly_cost(usage, 1000, "step-functions", PRICES)
    # 20,000 transitions - 4,000 free = 16,000 x $0.000025; 2,000 requests are free.
    assert with_free.orchestration == Decimal("0.40")
    assert with_free.compute == 0
    without = monthly_cost(usage, 1000, "step-functions", PRICES, include_free_tier=False)
    assert without.orchestration == Decimal("0.50")
    assert without.compute == Decimal("0.0004")


def test_monthly_lambda_free_tier_applies_to_both_patterns() -> None:
    usage = WorkflowUsage(
        durable_operations=25, lambda_requests=8, lambda_gb_seconds=Decimal("0.5")
    )
    month = monthly_cost(usage, 1_000_000, WorkflowType.DURABLE_FUNCTIONS)
    # 8M requests - 1M free = 7M x $0.0000002; 500k GB-s - 400k free = 100k x $0.0000133334
    assert month.compute == Decimal("1.40") + Decimal("1.33334")
    assert month.orchestration == Decimal("200")  # 25M operations x $8 / million, no free tier


def test_monthly_cost_grows_with_volume_and_is_zero_for_no_workflows() -> None:
    usage = WorkflowUsage(state_transitions=30, lambda_requests=9, lambda_gb_seconds=Decimal(2))
    assert monthly_cost(usage, 0, "step-functions").total == 0
    totals = [monthly_cost(usage, volume, "step-functions").total for volume in VOLUME_STEPS]
    assert totals == sorted(totals)
    assert VOLUME_STEPS[0] == 1_000
    assert VOLUME_STEPS[-1] == 10_000_000
    # Far above the free tier the monthly cost is the per-workflow cost times the volume.
    at_10m = monthly_cost(usage, 10_000_000, "step-functions", include_free_tier=False)
    assert at_10m.total == step_functions_cost(usage).total * 10_000_000


def test_monthly_cost_refuses_a_negative_volume() -> None:
    with pytest.raises(CostModelError):
        monthly_cost(WorkflowUsage(), -1, "step-functions")


# --- durable operation metering --------------------------------------------------------


@pytest.mark.parametrize(
    ("operation", "billable"),
    [
        (DurableOperation(DurableOperationKind.EXECUTION), 1),
        (DurableOperation(DurableOperationKind.STEP), 1),
        (DurableOperation(DurableOperationKind.STEP, attempts=3), 3),
        (DurableOperation(DurableOperationKind.WAIT), 1),
        (DurableOperation(DurableOperationKind.CALLBACK), 1),
        (DurableOperation(DurableOperationKind.WAIT_FOR_CALLBACK), 3),
        (DurableOperation(DurableOperationKind.WAIT_FOR_CALLBACK, attempts=2), 4),
        (DurableOperation(DurableOperationKind.MAP, branches=6), 7),
        (DurableOperation(DurableOperationKind.PARALLEL, branches=2), 3),
        (DurableOperation(DurableOperationKind.CHILD_CONTEXT), 1),
        (DurableOperation(DurableOperationKind.INVOKE), 1),
    ],
)
def test_each_operation_kind_is_metered_as_published(
    operation: DurableOperation, billable: int
) -> None:
    assert operation.billable == billable
    assert count_billable_durable_operations([operation]) == billable


def test_the_album_workflow_meters_as_counted_by_hand() -> None:
    step = DurableOperationKind.STEP
    operations = [
        DurableOperation(DurableOperationKind.EXECUTION),  # 1
        DurableOperation(step, attempts=2),  # ProcessImage, throttled once: 2
        DurableOperation(step),  # StoreInitialData: 1
        DurableOperation(DurableOperationKind.WAIT_FOR_CALLBACK),  # Validation: 3
        DurableOperation(step),  # UpdateValidatedData: 1
        DurableOperation("map", branches=6),  # type: ignore[arg-type]  # EstimatePrices (str kind): 7
        *[DurableOperation(step) for _ in range(5)],  # 5 prices: 5
        DurableOperation(step, attempts=2),  # 1 price retried once: 2
        DurableOperation(step),  # StoreFinalResults: 1
    ]
    assert count_billable_durable_operations(operations) == 23
    assert operations[5].kind is DurableOperationKind.MAP


@pytest.mark.parametrize(
    "kwargs",
    [
        {"kind": "sleep"},
        {"kind": "step", "attempts": 0},
        {"kind": "wait", "attempts": 2},
        {"kind": "execution", "attempts": 2},
        {"kind": "step", "branches": 2},
        {"kind": "map", "branches": -1},
        {"kind": "step", "attempts": True},
    ],
)
def test_operation_records_are_validated(kwargs: dict[str, Any]) -> None:
    with pytest.raises(CostModelError):
        DurableOperation(**kwargs)


def test_counting_refuses_what_is_not_an_operation() -> None:
    with pytest.raises(CostModelError):
        count_billable_durable_operations([{"kind": "step"}])  # type: ignore[list-item]


# --- state transitions -----------------------------------------------------------------


def _events(*rows: tuple[int, int | None, str]) -> list[dict[str, Any]]:
    events = []
    for event_id, previous, event_type in rows:
        event: dict[str, Any] = {"id": event_id, "type": event_type, "timestamp": "t"}
        if previous is not None:
            event["previousEventId"] = previous
        events.append(event)
    return events


HAPPY_PATH = _events(
    (1, 0, "ExecutionStarted"),
    (2, 1, "TaskStateEntered"),  # ProcessImage
    (3, 2, "TaskScheduled"),
    (4, 3, "TaskStarted"),
    (5, 4, "TaskSucceeded"),
    (6, 5, "TaskStateExited"),
    (7, 6, "TaskStateEntered"),  # WaitForValidation (.waitForTaskToken)
    (8, 7, "TaskScheduled"),
    (9, 8, "TaskStarted"),
    (10, 9, "TaskSubmitted"),
    (11, 10, "TaskSucceeded"),
    (12, 11, "TaskStateExited"),
    (13, 12, "ChoiceStateEntered"),
    (14, 13, "ChoiceStateExited"),
    (15, 14, "SucceedStateEntered"),
    (16, 15, "SucceedStateExited"),
    (17, 16, "ExecutionSucceeded"),
)

RETRIES = _events(
    (1, 0, "ExecutionStarted"),
    (2, 1, "TaskStateEntered"),
    (3, 2, "LambdaFunctionScheduled"),
    (4, 3, "LambdaFunctionStarted"),
    (5, 4, "LambdaFunctionFailed"),  # throttled: Retry
    (6, 5, "LambdaFunctionScheduled"),
    (7, 6, "LambdaFunctionStarted"),
    (8, 7, "LambdaFunctionTimedOut"),  # Retry again
    (9, 8, "LambdaFunctionScheduled"),
    (10, 9, "LambdaFunctionStarted"),
    (11, 10, "LambdaFunctionSucceeded"),
    (12, 11, "TaskStateExited"),
    (13, 12, "ExecutionSucceeded"),
)

# Two Map iterations run at once and interleave; iteration 0's task fails once and is
# retried after iteration 1 has finished.
MAP_WITH_RETRY = _events(
    (1, 0, "ExecutionStarted"),
    (2, 1, "MapStateEntered"),
    (3, 2, "MapStateStarted"),
    (4, 3, "MapIterationStarted"),
    (5, 3, "MapIterationStarted"),
    (6, 4, "TaskStateEntered"),
    (7, 5, "TaskStateEntered"),
    (8, 6, "TaskScheduled"),
    (9, 7, "TaskScheduled"),
    (10, 8, "TaskStarted"),
    (11, 9, "TaskStarted"),
    (12, 10, "TaskFailed"),
    (13, 11, "TaskSucceeded"),
    (14, 13, "TaskStateExited"),
    (15, 14, "MapIterationSucceeded"),
    (16, 12, "TaskScheduled"),
    (17, 16, "TaskStarted"),
    (18, 17, "TaskSucceeded"),
    (19, 18, "TaskStateExited"),
    (20, 19, "MapIterationSucceeded"),
    (21, 20, "MapStateSucceeded"),
    (22, 21, "MapStateExited"),
    (23, 22, "ExecutionSucceeded"),
)

PARALLEL = _events(
    (1, 0, "ExecutionStarted"),
    (2, 1, "ParallelStateEntered"),
    (3, 2, "ParallelStateStarted"),
    (4, 3, "TaskStateEntered"),
    (5, 3, "PassStateEntered"),
    (6, 5, "PassStateExited"),
    (7, 4, "LambdaFunctionScheduled"),
    (8, 7, "LambdaFunctionStarted"),
    (9, 8, "LambdaFunctionSucceeded"),
    (10, 9, "TaskStateExited"),
    (11, 10, "ParallelStateSucceeded"),
    (12, 11, "ParallelStateExited"),
    (13, 12, "ExecutionSucceeded"),
)

# Captured from moto 5.2.5 running real ASL: a DynamoDB task retried twice then caught,
# a two-branch Parallel and a three-item Map (MaxConcurrency 2).
MOTO_CAPTURE = _events(
    (1, 0, "ExecutionStarted"),
    (2, 0, "TaskStateEntered"),
    (3, 2, "TaskScheduled"),
    (4, 3, "TaskStarted"),
    (5, 4, "TaskFailed"),
    (6, 5, "TaskScheduled"),
    (7, 6, "TaskStarted"),
    (8, 7, "TaskFailed"),
    (9, 8, "TaskScheduled"),
    (10, 9, "TaskStarted"),
    (11, 10, "TaskFailed"),
    (12, 11, "TaskStateExited"),
    (13, 12, "ParallelStateEntered"),
    (14, 13, "ParallelStateStarted"),
    (15, 14, "PassStateEntered"),
    (16, 15, "PassStateExited"),
    (17, 14, "PassStateEntered"),
    (18, 17, "PassStateExited"),
    (19, 18, "ParallelStateSucceeded"),
    (20, 18, "ParallelStateExited"),
    (21, 20, "MapStateEntered"),
    (22, 21, "MapStateStarted"),
    (23, 22, "MapIterationStarted"),
    (24, 22, "MapIterationStarted"),
    (25, 23, "PassStateEntered"),
    (26, 25, "PassStateExited"),
    (27, 24, "PassStateEntered"),
    (28, 27, "PassStateExited"),
    (29, 26, "MapIterationSucceeded"),
    (30, 26, "MapIterationStarted"),
    (31, 30, "PassStateEntered"),
    (32, 31, "PassStateExited"),
    (33, 28, "MapIterationSucceeded"),
    (34, 32, "MapIterationSucceeded"),
    (35, 34, "MapStateSucceeded"),
    (36, 34, "MapStateExited"),
    (37, 36, "ExecutionSucceeded"),
)


@pytest.mark.parametrize(
    ("history", "transitions"),
    [
        (HAPPY_PATH, 4),  # 4 states entered; the task token wait is one transition
        (RETRIES, 3),  # 1 state entered + 2 retries
        (MAP_WITH_RETRY, 4),  # Map + 2 iteration tasks + 1 retry
        (PARALLEL, 3),  # Parallel + one state per branch
        (MOTO_CAPTURE, 10),  # 8 states entered + 2 retries
        ([], 0),
    ],
)
def test_state_transitions_count_entries_and_retries(
    history: list[dict[str, Any]], transitions: int
) -> None:
    assert count_state_transitions(history) == transitions


def test_interleaved_iterations_are_told_apart_by_previous_event_id() -> None:
    # Without previousEventId both first attempts would fall to the latest entry (7)
    # and look like a retry; the chain puts each under its own iteration.
    assert count_state_transitions(MAP_WITH_RETRY) == 4
    flattened = [{k: v for k, v in e.items() if k != "previousEventId"} for e in MAP_WITH_RETRY]
    assert count_state_transitions(flattened) == 5


def test_a_sequential_history_without_previous_ids_falls_back_to_order() -> None:
    flattened = [{k: v for k, v in e.items() if k != "previousEventId"} for e in RETRIES]
    assert count_state_transitions(flattened) == 3


@pytest.mark.parametrize(
    "event",
    [{"id": 1}, {"type": "TaskStateEntered"}, {"type": 3, "id": 1}, {"type": "X", "id": "1"}],
)
def test_malformed_history_events_are_refused(event: dict[str, Any]) -> None:
    with pytest.raises(CostModelError):
        count_state_transitions([event])


# --- Lambda and DynamoDB units ---------------------------------------------------------


@pytest.mark.parametrize(
    ("duration_ms", "memory_mb", "gb_seconds"),
    [
        (1000, 1024, Decimal(1)),
        (1.2, 128, Decimal("0.00025")),  # billed as 2 ms x 0.125 GB
        (Decimal("250.0"), 512, Decimal("0.125")),
        (0, 512, Decimal(0)),
        (60_000, 10_240, Decimal(600)),
    ],
)
def test_lambda_gb_seconds_bill_each_started_millisecond(
    duration_ms: Any, memory_mb: int, gb_seconds: Decimal
) -> None:
    assert lambda_gb_seconds(duration_ms, memory_mb) == gb_seconds


@pytest.mark.parametrize(("duration_ms", "memory_mb"), [(-1, 128), (10, 64), (10, 20_000)])
def test_lambda_gb_seconds_refuses_impossible_figures(duration_ms: int, memory_mb: int) -> None:
    with pytest.raises(CostModelError):
        lambda_gb_seconds(duration_ms, memory_mb)


@pytest.mark.parametrize(
    ("item_bytes", "transactional", "units"),
    [(0, False, 1), (1024, False, 1), (1025, False, 2), (1025, True, 4), (400 * 1024, False, 400)],
)
def test_dynamodb_write_units_per_started_kb(
    item_bytes: int, transactional: bool, units: int
) -> None:
    assert dynamodb_write_units(item_bytes, transactional=transactional) == units


@pytest.mark.parametrize(
    ("item_bytes", "consistency", "units"),
    [
        (100, ReadConsistency.EVENTUAL, Decimal("0.5")),
        (4096, "eventual", Decimal("0.5")),
        (4097, ReadConsistency.EVENTUAL, Decimal(1)),
        (4097, ReadConsistency.STRONG, Decimal(2)),
        (100, ReadConsistency.TRANSACTIONAL, Decimal(2)),
    ],
)
def test_dynamodb_read_units_per_started_4kb(
    item_bytes: int, consistency: Any, units: Decimal
) -> None:
    assert dynamodb_read_units(item_bytes, consistency) == units


def test_dynamodb_units_refuse_bad_input() -> None:
    with pytest.raises(CostModelError):
        dynamodb_write_units(-1)
    with pytest.raises(CostModelError):
        dynamodb_read_units(10, "sloppy")
