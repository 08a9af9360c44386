"""DynamoDB request units of one workflow, estimated from the items it stored.

Neither moto nor the execution histories report consumed capacity, so the report's
storage cost is an estimate: the writes one workflow makes (:data:`WRITE_PLAN`, read off
``albums.adapters.repository`` and ``albums.workflow``, which the durable function runs;
the state machine's direct integrations make the same writes with the same items) priced
at the sizes of the items the workflow left in the table. A transactional write costs
twice a plain one; an update is billed at the item's size (the final item stands in for
the larger of before and after).

Pure Python: items are the plain dicts of :mod:`albums.domain.records` (``to_item()``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any, Final

from albums.domain.cost import (
    CostModelError,
    ReadConsistency,
    dynamodb_read_units,
    dynamodb_write_units,
)
from albums.domain.models import ExecutionStatus

#: Bytes DynamoDB adds for each list or map, and for each element in one.
_CONTAINER_OVERHEAD = 3
_ELEMENT_OVERHEAD = 1


def item_size(item: Mapping[str, Any]) -> int:
    """Return a DynamoDB item's size in bytes, by the published sizing rules.

    Attribute names and strings count their UTF-8 bytes; a number about one byte per two
    significant digits plus one; booleans and nulls one byte; lists and maps 3 bytes plus
    their elements plus one byte per element.

    Raises
    ------
    CostModelError
        A value is not a type DynamoDB stores.
    """
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def _value_size(value: Any) -> int:
    if isinstance(value, str):
        return len(value.encode())
    if value is None or isinstance(value, bool):
        return 1
    if isinstance(value, int | Decimal | float):
        digits = len(str(abs(Decimal(str(value)).normalize())).replace(".", "").lstrip("0"))
        return math.ceil(max(1, digits) / 2) + 1
    if isinstance(value, bytes | bytearray):
        return len(value)
    if isinstance(value, Mapping):
        return _CONTAINER_OVERHEAD + sum(
            len(str(name).encode()) + _value_size(member) + _ELEMENT_OVERHEAD
            for name, member in value.items()
        )
    if isinstance(value, list | tuple | set | frozenset):
        return _CONTAINER_OVERHEAD + sum(
            _value_size(member) + _ELEMENT_OVERHEAD for member in value
        )
    raise CostModelError(f"not a DynamoDB value: {type(value).__name__}")


class Item(StrEnum):
    """The items one workflow writes."""

    CLAIM = "claim"
    EXECUTION = "execution"
    ALBUMS = "albums"
    TASK = "task"


@dataclass(frozen=True, slots=True)
class Write:
    """One request of the plan: which items it writes, and whether in a transaction."""

    operation: str
    items: tuple[Item, ...]
    transactional: bool = False


#: The writes of a workflow that reaches validation, in order (see the module docstring).
_UNTIL_VALIDATION: Final = (
    Write("claim_upload PutItem", (Item.CLAIM,)),
    Write("store_initial_data TransactWriteItems", (Item.EXECUTION, Item.ALBUMS), True),
    Write("create_validation_task TransactWriteItems", (Item.TASK, Item.EXECUTION), True),
    Write("complete_validation_task UpdateItem", (Item.TASK,)),
)
#: The plan per terminal status; a failed execution's plan is its shortest (a lower bound).
WRITE_PLAN: Final[Mapping[ExecutionStatus, tuple[Write, ...]]] = {
    ExecutionStatus.COMPLETED: (
        *_UNTIL_VALIDATION,
        Write("apply_validated_data TransactWriteItems", (Item.EXECUTION, Item.ALBUMS), True),
        Write("store_results TransactWriteItems", (Item.EXECUTION, Item.ALBUMS), True),
        Write("record_metrics UpdateItem", (Item.EXECUTION,)),
    ),
    ExecutionStatus.REJECTED: (
        *_UNTIL_VALIDATION,
        Write("complete_execution UpdateItem", (Item.EXECUTION,)),
        Write("record_metrics UpdateItem", (Item.EXECUTION,)),
    ),
    ExecutionStatus.FAILED: (
        Write("claim_upload PutItem", (Item.CLAIM,)),
        Write("fail_execution UpdateItem", (Item.EXECUTION,)),
        Write("record_metrics UpdateItem", (Item.EXECUTION,)),
    ),
}
#: Strongly consistent reads of a workflow: the recorder reads the execution once.
READ_PLAN: Final = ((Item.EXECUTION, ReadConsistency.STRONG),)


@dataclass(frozen=True, slots=True)
class StoredItems:
    """Sizes in bytes of the items one workflow left in the table."""

    claim: int
    execution: int
    albums: tuple[int, ...]
    task: int | None = None

    def sizes(self, item: Item) -> tuple[int, ...]:
        """Sizes of the items a plan entry names (none for a task that was never created)."""
        if item is Item.ALBUMS:
            return self.albums
        if item is Item.TASK:
            return () if self.task is None else (self.task,)
        return (self.claim,) if item is Item.CLAIM else (self.execution,)


@dataclass(frozen=True, slots=True)
class RequestUnits:
    """DynamoDB on-demand request units of one workflow."""

    write_units: Decimal
    read_units: Decimal


def workflow_request_units(items: StoredItems, status: ExecutionStatus | str) -> RequestUnits:
    """Return the estimated write and read units of a workflow that ended in ``status``.

    ``completed_with_errors`` follows the completed plan; a duplicate delivery writes its
    claim check and its own record only.
    """
    ended = ExecutionStatus(status)
    if ended is ExecutionStatus.COMPLETED_WITH_ERRORS:
        ended = ExecutionStatus.COMPLETED
    if ended is ExecutionStatus.DUPLICATE:
        plan: Sequence[Write] = (Write("put_execution PutItem", (Item.EXECUTION,)),)
    elif ended in WRITE_PLAN:
        plan = WRITE_PLAN[ended]
    else:
        raise CostModelError(f"no request plan for an execution that is still {ended}")
    writes = sum(
        dynamodb_write_units(size, transactional=write.transactional)
        for write in plan
        for item in write.items
        for size in items.sizes(item)
    )
    reads = sum(
        (
            dynamodb_read_units(size, consistency)
            for item, consistency in READ_PLAN
            for size in items.sizes(item)
        ),
        Decimal(0),
    )
    return RequestUnits(write_units=Decimal(writes), read_units=reads)
