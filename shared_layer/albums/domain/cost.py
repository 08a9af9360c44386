"""Cost model: what one workflow costs under each orchestration pattern, and at volume.

Pure Decimal arithmetic over a dated price table shipped with the package
(``albums/data/aws-prices-us-east-1-2026-11-01.json``, list prices in their published
units). Figures are estimates from measured counts, not a bill.

How a workflow's cost is split (:class:`CostBreakdown`):

- **orchestration**: what the orchestrator itself charges. Step Functions Standard: state
  transitions (retries included). Durable functions: durable operations, plus the
  checkpoint data written and retained (Step Functions' transition price includes its
  state data, so this keeps the two comparable).
- **compute**: Lambda requests and GB-seconds (arm64) of every function the workflow ran,
  the durable orchestrator's own invocations (replays included) among them.
- **storage**: the application's DynamoDB on-demand write and read request units.

Counting rules:

- Step Functions: :func:`count_state_transitions` over ``GetExecutionHistory`` events.
- Durable functions: :func:`count_billable_durable_operations` implements the published
  metering: start 1; step 1 + retries; wait 1; create callback 1; wait_for_callback
  3 + retries; map/parallel 1 + branches; child context 1; chained invoke 1 (an
  assumption: metered like a step without retries).
- Lambda duration is billed per 1 ms (:func:`lambda_gb_seconds`); DynamoDB units per
  started 1 KB written / 4 KB read (:func:`dynamodb_write_units`,
  :func:`dynamodb_read_units`).
- A GB is 2**30 bytes; a month is 30 days.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any

from albums.domain.errors import AlbumRegistrationError
from albums.domain.models import WorkflowType, to_decimal

#: The dated price file shipped in ``albums/data``.
PRICE_FILE = "aws-prices-us-east-1-2026-11-01.json"
#: Bytes in a billed GB.
BYTES_PER_GB = 1024**3
#: Days in a billed month (for GB-months).
DAYS_PER_MONTH = 30
#: Durable execution data retention when the function does not configure one.
DEFAULT_RETENTION_DAYS = 14
#: Durable execution retention bounds (days).
MAX_RETENTION_DAYS = 90
#: Monthly volumes the comparison chart plots, 1k to 10M workflows.
VOLUME_STEPS: tuple[int, ...] = (1_000, 10_000, 100_000, 1_000_000, 10_000_000)

_MIN_MEMORY_MB = 128
_MAX_MEMORY_MB = 10_240
_WRITE_UNIT_BYTES = 1024
_READ_UNIT_BYTES = 4096


class CostModelError(AlbumRegistrationError):
    """A usage figure, operation record or history event the cost model cannot use."""

    code = "cost_model_invalid"


class PriceTableError(CostModelError):
    """The price data file is missing, not JSON, or does not have the expected shape."""

    code = "price_table_invalid"


# --- the price table -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FreeTier:
    """Monthly always-free allowances used by :func:`monthly_cost`."""

    step_functions_state_transitions: int
    lambda_requests: int
    lambda_gb_seconds: Decimal

    def __post_init__(self) -> None:
        _check_count(self.step_functions_state_transitions, "free tier state transitions")
        _check_count(self.lambda_requests, "free tier Lambda requests")
        object.__setattr__(
            self, "lambda_gb_seconds", _amount(self.lambda_gb_seconds, "free tier GB-seconds")
        )


@dataclass(frozen=True, slots=True)
class PriceTable:
    """Unit prices in USD (per one transition, request, GB-second, operation, GB, unit)."""

    as_of: date
    region: str
    currency: str
    sources: tuple[str, ...]
    step_functions_transition: Decimal
    express_request: Decimal
    express_gb_second: Decimal
    lambda_request: Decimal
    lambda_gb_second: Decimal
    durable_operation: Decimal
    durable_gb_written: Decimal
    durable_gb_month: Decimal
    dynamodb_write_unit: Decimal
    dynamodb_read_unit: Decimal
    free_tier: FreeTier

    def __post_init__(self) -> None:
        if not isinstance(self.as_of, date):
            raise PriceTableError("as_of must be a date")
        for name in ("region", "currency"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise PriceTableError(f"{name} must be a non-empty string")
        for name in (
            "step_functions_transition",
            "express_request",
            "express_gb_second",
            "lambda_request",
            "lambda_gb_second",
            "durable_operation",
            "durable_gb_written",
            "durable_gb_month",
            "dynamodb_write_unit",
            "dynamodb_read_unit",
        ):
            object.__setattr__(self, name, _amount(getattr(self, name), name, PriceTableError))


def load_price_table(path: str | Path | None = None) -> PriceTable:
    """Load and validate a price table.

    Parameters
    ----------
    path
        A price file to read; ``None`` reads the packaged dated file (once per process).

    Returns
    -------
    PriceTable
        Unit prices derived from the published ones (e.g. $0.025 per 1,000 transitions
        becomes $0.000025 per transition).

    Raises
    ------
    PriceTableError
        The file is missing, not JSON, or misses a field; the message names the field.
    """
    if path is None:
        return _packaged_table()
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise PriceTableError(f"cannot read price file {path}: {error}") from error
    return parse_price_table(text, origin=str(path))


@functools.cache
def _packaged_table() -> PriceTable:
    resource = resources.files("albums") / "data" / PRICE_FILE
    try:
        text = resource.read_text(encoding="utf-8")
    except OSError as error:
        raise PriceTableError(f"packaged price file {PRICE_FILE} is missing: {error}") from error
    return parse_price_table(text, origin=PRICE_FILE)


def parse_price_table(text: str, *, origin: str = "price file") -> PriceTable:
    """Parse the JSON text of a price file into a :class:`PriceTable` (see the data file)."""
    try:
        document = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as error:
        raise PriceTableError(f"{origin} is not valid JSON: {error}") from error
    reader = _Reader(document, origin)
    if reader.get("schema_version") != 1:
        raise PriceTableError(f"{origin}: schema_version must be 1")
    as_of_text = reader.text("as_of")
    try:
        as_of = date.fromisoformat(as_of_text)
    except ValueError:
        raise PriceTableError(f"{origin}: as_of must be YYYY-MM-DD, got {as_of_text!r}") from None
    sources = reader.get("sources")
    if not isinstance(sources, list) or not all(isinstance(s, str) for s in sources):
        raise PriceTableError(f"{origin}: sources must be a list of strings")
    return PriceTable(
        as_of=as_of,
        region=reader.text("region"),
        currency=reader.text("currency"),
        sources=tuple(sources),
        step_functions_transition=reader.unit_price("step_functions_standard", "state_transition"),
        express_request=reader.unit_price("step_functions_express", "request"),
        express_gb_second=reader.unit_price("step_functions_express", "gb_second"),
        lambda_request=reader.unit_price("lambda_arm64", "request"),
        lambda_gb_second=reader.unit_price("lambda_arm64", "gb_second"),
        durable_operation=reader.unit_price("durable_functions", "operation"),
        durable_gb_written=reader.unit_price("durable_functions", "gb_written"),
        durable_gb_month=reader.unit_price("durable_functions", "gb_month_retained"),
        dynamodb_write_unit=reader.unit_price("dynamodb_on_demand", "write_request_unit"),
        dynamodb_read_unit=reader.unit_price("dynamodb_on_demand", "read_request_unit"),
        free_tier=FreeTier(
            step_functions_state_transitions=reader.free_tier_count(
                "step_functions_state_transitions"
            ),
            lambda_requests=reader.free_tier_count("lambda_requests"),
            lambda_gb_seconds=Decimal(reader.free_tier_count("lambda_gb_seconds")),
        ),
    )


class _Reader:
    """Reads fields of the price document, naming the missing or bad one in errors."""

    def __init__(self, document: object, origin: str) -> None:
        if not isinstance(document, dict):
            raise PriceTableError(f"{origin}: the document must be a JSON object")
        self._doc: dict[str, Any] = document
        self._origin = origin

    def get(self, key: str) -> object:
        if key not in self._doc:
            raise PriceTableError(f"{self._origin}: missing {key}")
        return self._doc[key]

    def text(self, key: str) -> str:
        value = self.get(key)
        if not isinstance(value, str) or not value.strip():
            raise PriceTableError(f"{self._origin}: {key} must be a non-empty string")
        return value

    def unit_price(self, service: str, item: str) -> Decimal:
        where = f"prices.{service}.{item}"
        prices = self.get("prices")
        entry = prices.get(service, {}).get(item) if isinstance(prices, dict) else None
        if not isinstance(entry, dict) or "usd" not in entry or "per" not in entry:
            raise PriceTableError(f"{self._origin}: {where} must be {{'usd': ..., 'per': ...}}")
        usd = _amount(entry["usd"], f"{where}.usd", PriceTableError)
        per = entry["per"]
        if isinstance(per, bool) or not isinstance(per, int) or per <= 0:
            raise PriceTableError(f"{self._origin}: {where}.per must be a positive integer")
        return usd / per

    def free_tier_count(self, key: str) -> int:
        tier = self.get("free_tier_monthly")
        value = tier.get(key) if isinstance(tier, dict) else None
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise PriceTableError(
                f"{self._origin}: free_tier_monthly.{key} must be a non-negative integer"
            )
        return value


# --- usage and cost --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WorkflowUsage:
    """Measured counts for one workflow execution (or a month of them).

    Parameters
    ----------
    state_transitions
        Step Functions state transitions, retries included.
    durable_operations
        Billable durable operations (see :func:`count_billable_durable_operations`).
    durable_bytes_written
        Checkpoint data the durable execution wrote.
    durable_retention_days
        How long the durable execution's data is kept (1..90 days).
    durable_retained_gb_months
        GB-months retained; ``None`` derives ``bytes / 2**30 * retention days / 30``.
    lambda_gb_seconds, lambda_requests
        Lambda compute of every function the workflow ran.
    dynamodb_write_units, dynamodb_read_units
        DynamoDB on-demand request units.
    """

    state_transitions: int = 0
    durable_operations: int = 0
    durable_bytes_written: int = 0
    durable_retention_days: int = DEFAULT_RETENTION_DAYS
    durable_retained_gb_months: Decimal | None = None
    lambda_gb_seconds: Decimal = Decimal(0)
    lambda_requests: int = 0
    dynamodb_write_units: Decimal = Decimal(0)
    dynamodb_read_units: Decimal = Decimal(0)

    def __post_init__(self) -> None:
        for name in (
            "state_transitions",
            "durable_operations",
            "durable_bytes_written",
            "lambda_requests",
        ):
            _check_count(getattr(self, name), name)
        _check_count(self.durable_retention_days, "durable_retention_days")
        if not 1 <= self.durable_retention_days <= MAX_RETENTION_DAYS:
            raise CostModelError(
                f"durable_retention_days must be 1..{MAX_RETENTION_DAYS}, "
                f"got {self.durable_retention_days}"
            )
        for name in ("lambda_gb_seconds", "dynamodb_write_units", "dynamodb_read_units"):
            object.__setattr__(self, name, _amount(getattr(self, name), name))
        if self.durable_retained_gb_months is None:
            retained = (
                Decimal(self.durable_bytes_written)
                / BYTES_PER_GB
                * self.durable_retention_days
                / DAYS_PER_MONTH
            )
        else:
            retained = _amount(self.durable_retained_gb_months, "durable_retained_gb_months")
        object.__setattr__(self, "durable_retained_gb_months", retained)

    @property
    def retained_gb_months(self) -> Decimal:
        """GB-months of durable data retained (derived when not given)."""
        value = self.durable_retained_gb_months
        if value is None:  # pragma: no cover - __post_init__ always sets it
            raise CostModelError("durable_retained_gb_months was not derived")
        return value

    def scaled(self, factor: int) -> WorkflowUsage:
        """Return the usage of ``factor`` such workflows (e.g. a month's worth)."""
        _check_count(factor, "factor")
        return WorkflowUsage(
            state_transitions=self.state_transitions * factor,
            durable_operations=self.durable_operations * factor,
            durable_bytes_written=self.durable_bytes_written * factor,
            durable_retention_days=self.durable_retention_days,
            durable_retained_gb_months=self.retained_gb_months * factor,
            lambda_gb_seconds=self.lambda_gb_seconds * factor,
            lambda_requests=self.lambda_requests * factor,
            dynamodb_write_units=self.dynamodb_write_units * factor,
            dynamodb_read_units=self.dynamodb_read_units * factor,
        )


@dataclass(frozen=True, slots=True)
class CostBreakdown:
    """Cost in USD, split as the module docstring describes.

    ``total`` and ``per_1k`` are derived; ``per_1k`` (cost of 1,000 such workflows) is
    meaningful for a per-workflow breakdown.
    """

    orchestration: Decimal
    compute: Decimal
    storage: Decimal
    workflow_type: WorkflowType | None = None

    def __post_init__(self) -> None:
        for name in ("orchestration", "compute", "storage"):
            object.__setattr__(self, name, _amount(getattr(self, name), name))
        if self.workflow_type is not None:
            object.__setattr__(self, "workflow_type", WorkflowType(self.workflow_type))

    @property
    def total(self) -> Decimal:
        """Orchestration + compute + storage."""
        return self.orchestration + self.compute + self.storage

    @property
    def per_1k(self) -> Decimal:
        """Cost of 1,000 workflows like this one."""
        return self.total * 1000

    def to_dict(self) -> dict[str, Any]:
        """Return plain JSON: the figures as floats, ``workflowType`` when known."""
        data: dict[str, Any] = {
            "orchestration": float(self.orchestration),
            "compute": float(self.compute),
            "storage": float(self.storage),
            "total": float(self.total),
            "per1k": float(self.per_1k),
            "currency": "USD",
        }
        if self.workflow_type is not None:
            data["workflowType"] = str(self.workflow_type)
        return data


def step_functions_cost(usage: WorkflowUsage, prices: PriceTable | None = None) -> CostBreakdown:
    """Return the cost of a Step Functions Standard workflow with this usage.

    Durable-only fields of ``usage`` are ignored.

    Parameters
    ----------
    usage
        Measured counts (state transitions, Lambda, DynamoDB).
    prices
        The price table; ``None`` uses the packaged one.
    """
    table = prices if prices is not None else load_price_table()
    return CostBreakdown(
        orchestration=usage.state_transitions * table.step_functions_transition,
        compute=_lambda_cost(usage, table),
        storage=_dynamodb_cost(usage, table),
        workflow_type=WorkflowType.STEP_FUNCTIONS,
    )


def durable_functions_cost(usage: WorkflowUsage, prices: PriceTable | None = None) -> CostBreakdown:
    """Return the cost of a durable-function workflow with this usage.

    ``state_transitions`` is ignored. Orchestration is durable operations + data written
    + data retained.

    Parameters
    ----------
    usage
        Measured counts (durable operations and data, Lambda, DynamoDB).
    prices
        The price table; ``None`` uses the packaged one.
    """
    table = prices if prices is not None else load_price_table()
    orchestration = (
        usage.durable_operations * table.durable_operation
        + Decimal(usage.durable_bytes_written) / BYTES_PER_GB * table.durable_gb_written
        + usage.retained_gb_months * table.durable_gb_month
    )
    return CostBreakdown(
        orchestration=orchestration,
        compute=_lambda_cost(usage, table),
        storage=_dynamodb_cost(usage, table),
        workflow_type=WorkflowType.DURABLE_FUNCTIONS,
    )


def workflow_cost(
    usage: WorkflowUsage, pattern: WorkflowType | str, prices: PriceTable | None = None
) -> CostBreakdown:
    """Return :func:`step_functions_cost` or :func:`durable_functions_cost` by ``pattern``."""
    if WorkflowType(pattern) is WorkflowType.STEP_FUNCTIONS:
        return step_functions_cost(usage, prices)
    return durable_functions_cost(usage, prices)


def monthly_cost(
    usage: WorkflowUsage,
    workflows_per_month: int,
    pattern: WorkflowType | str,
    prices: PriceTable | None = None,
    include_free_tier: bool = True,
) -> CostBreakdown:
    """Return a month's cost of ``workflows_per_month`` workflows like ``usage``.

    Free tiers (when included) come off the month's totals before pricing: Step Functions
    state transitions (Step Functions only), Lambda requests and GB-seconds (both
    patterns). It assumes the workload has the account's free tier to itself.

    Parameters
    ----------
    usage
        One workflow's measured counts.
    workflows_per_month
        Volume, e.g. one of :data:`VOLUME_STEPS`.
    pattern
        ``step-functions`` or ``durable-functions``.
    prices
        The price table; ``None`` uses the packaged one.
    include_free_tier
        Subtract the monthly free tier.

    Returns
    -------
    CostBreakdown
        Monthly USD totals.
    """
    _check_count(workflows_per_month, "workflows_per_month")
    table = prices if prices is not None else load_price_table()
    workflow_type = WorkflowType(pattern)
    month = usage.scaled(workflows_per_month)
    if include_free_tier:
        free = table.free_tier
        month = replace(
            month,
            state_transitions=(
                max(0, month.state_transitions - free.step_functions_state_transitions)
                if workflow_type is WorkflowType.STEP_FUNCTIONS
                else month.state_transitions
            ),
            lambda_requests=max(0, month.lambda_requests - free.lambda_requests),
            lambda_gb_seconds=max(Decimal(0), month.lambda_gb_seconds - free.lambda_gb_seconds),
        )
    return workflow_cost(month, workflow_type, table)


def _lambda_cost(usage: WorkflowUsage, table: PriceTable) -> Decimal:
    return (
        usage.lambda_requests * table.lambda_request
        + usage.lambda_gb_seconds * table.lambda_gb_second
    )


def _dynamodb_cost(usage: WorkflowUsage, table: PriceTable) -> Decimal:
    return (
        usage.dynamodb_write_units * table.dynamodb_write_unit
        + usage.dynamodb_read_units * table.dynamodb_read_unit
    )


# --- counting --------------------------------------------------------------------------


class DurableOperationKind(StrEnum):
    """Kinds of durable operation, as the metering distinguishes them."""

    EXECUTION = "execution"
    STEP = "step"
    WAIT = "wait"
    CALLBACK = "callback"
    WAIT_FOR_CALLBACK = "wait_for_callback"
    MAP = "map"
    PARALLEL = "parallel"
    CHILD_CONTEXT = "child_context"
    INVOKE = "invoke"


_RETRYABLE_KINDS = frozenset({DurableOperationKind.STEP, DurableOperationKind.WAIT_FOR_CALLBACK})
_BRANCHING_KINDS = frozenset({DurableOperationKind.MAP, DurableOperationKind.PARALLEL})


@dataclass(frozen=True, slots=True)
class DurableOperation:
    """One durable operation as recorded by an execution.

    Parameters
    ----------
    kind
        What the operation is.
    attempts
        Attempts made (1 + retries); only steps and wait_for_callback retry.
    branches
        Branches started; only map and parallel have them. Operations inside the
        branches are recorded as operations of their own.
    """

    kind: DurableOperationKind
    attempts: int = 1
    branches: int = 0

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "kind", DurableOperationKind(self.kind))
        except ValueError:
            raise CostModelError(f"unknown durable operation kind {self.kind!r}") from None
        _check_count(self.attempts, "attempts")
        _check_count(self.branches, "branches")
        if self.attempts < 1:
            raise CostModelError("attempts must be at least 1")
        if self.attempts > 1 and self.kind not in _RETRYABLE_KINDS:
            raise CostModelError(f"a {self.kind} operation is not retried; attempts must be 1")
        if self.branches and self.kind not in _BRANCHING_KINDS:
            raise CostModelError(f"a {self.kind} operation has no branches")

    @property
    def billable(self) -> int:
        """Billable durable operations this record stands for (the published metering)."""
        retries = self.attempts - 1
        if self.kind is DurableOperationKind.STEP:
            return 1 + retries
        if self.kind is DurableOperationKind.WAIT_FOR_CALLBACK:
            return 3 + retries
        if self.kind in _BRANCHING_KINDS:
            return 1 + self.branches
        return 1


def count_billable_durable_operations(operations: Iterable[DurableOperation]) -> int:
    """Return the billable durable operations of an execution.

    Metering: start 1; step 1 + retries; wait 1; create callback 1; wait_for_callback
    3 + retries; map/parallel 1 + branches; child context 1; chained invoke 1.

    Parameters
    ----------
    operations
        Every operation the execution recorded, the execution start included.
    """
    total = 0
    for operation in operations:
        if not isinstance(operation, DurableOperation):
            raise CostModelError(f"expected DurableOperation, got {type(operation).__name__}")
        total += operation.billable
    return total


_SCHEDULED_TYPES = frozenset({"TaskScheduled", "LambdaFunctionScheduled", "ActivityScheduled"})


def count_state_transitions(history_events: Iterable[Mapping[str, Any]]) -> int:
    """Return the billed state transitions of a Step Functions Standard execution.

    Rule: every ``*StateEntered`` event counts 1 (inside Map iterations and Parallel
    branches too), and every retry of a task counts 1. A retry is a second (third, ...)
    ``TaskScheduled``/``LambdaFunctionScheduled``/``ActivityScheduled`` event within one
    state entry. An event belongs to the state entry its ``previousEventId`` chain leads
    to; events without a usable ``previousEventId`` belong to the latest state entered
    before them. Concatenate every page of ``GetExecutionHistory`` first.

    Parameters
    ----------
    history_events
        ``GetExecutionHistory`` events (dicts with at least ``type`` and ``id``).

    Raises
    ------
    CostModelError
        An event lacks a string ``type`` or an integer ``id``.
    """
    entry_of: dict[int, int] = {}
    scheduled_per_entry: dict[int, int] = {}
    transitions = 0
    latest_entry: int | None = None
    for event in history_events:
        if not isinstance(event, Mapping):
            raise CostModelError("history events must be mappings")
        event_type, event_id = event.get("type"), event.get("id")
        if not isinstance(event_type, str) or isinstance(event_id, bool):
            raise CostModelError(f"history event needs a string type and an id: {event!r}")
        if not isinstance(event_id, int):
            raise CostModelError(f"history event id must be an integer: {event!r}")
        if event_type.endswith("StateEntered"):
            transitions += 1
            entry_of[event_id] = event_id
            latest_entry = event_id
            continue
        previous = event.get("previousEventId")
        entry = entry_of.get(previous) if isinstance(previous, int) else None
        if entry is None:
            entry = latest_entry
        if entry is None:
            continue
        entry_of[event_id] = entry
        if event_type in _SCHEDULED_TYPES:
            scheduled_per_entry[entry] = scheduled_per_entry.get(entry, 0) + 1
    retries = sum(count - 1 for count in scheduled_per_entry.values() if count > 1)
    return transitions + retries


def lambda_gb_seconds(duration_ms: int | float | Decimal, memory_mb: int) -> Decimal:
    """Return billed GB-seconds: duration rounded up to the next 1 ms, times memory.

    Parameters
    ----------
    duration_ms
        Measured duration in milliseconds.
    memory_mb
        Configured memory (128..10240 MB).
    """
    duration = _amount(duration_ms, "duration_ms")
    _check_count(memory_mb, "memory_mb")
    if not _MIN_MEMORY_MB <= memory_mb <= _MAX_MEMORY_MB:
        raise CostModelError(
            f"memory_mb must be {_MIN_MEMORY_MB}..{_MAX_MEMORY_MB}, got {memory_mb}"
        )
    billed_ms = math.ceil(duration)
    return Decimal(memory_mb) * billed_ms / Decimal(1024 * 1000)


def dynamodb_write_units(item_bytes: int, transactional: bool = False) -> int:
    """Return the write request units of writing one item of ``item_bytes``.

    1 unit per started KB (at least 1); twice that in a transaction.
    """
    _check_count(item_bytes, "item_bytes")
    units = max(1, math.ceil(item_bytes / _WRITE_UNIT_BYTES))
    return units * 2 if transactional else units


class ReadConsistency(StrEnum):
    """How a DynamoDB read is made; it sets the read request units per 4 KB."""

    EVENTUAL = "eventual"
    STRONG = "strong"
    TRANSACTIONAL = "transactional"


_READ_UNITS_PER_4KB = {
    ReadConsistency.EVENTUAL: Decimal("0.5"),
    ReadConsistency.STRONG: Decimal(1),
    ReadConsistency.TRANSACTIONAL: Decimal(2),
}


def dynamodb_read_units(
    item_bytes: int, consistency: ReadConsistency | str = ReadConsistency.EVENTUAL
) -> Decimal:
    """Return the read request units of reading ``item_bytes`` (per started 4 KB, at least 1).

    0.5 unit per 4 KB eventually consistent, 1 strongly consistent, 2 transactional.
    """
    _check_count(item_bytes, "item_bytes")
    try:
        per_block = _READ_UNITS_PER_4KB[ReadConsistency(consistency)]
    except ValueError:
        raise CostModelError(f"unknown read consistency {consistency!r}") from None
    return max(1, math.ceil(item_bytes / _READ_UNIT_BYTES)) * per_block


# --- helpers ---------------------------------------------------------------------------


def _check_count(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise CostModelError(f"{name} must be a non-negative integer, got {value!r}")
    return value


def _amount(value: object, name: str, error: type[CostModelError] = CostModelError) -> Decimal:
    return to_decimal(value, name, error=error, non_negative=True)
