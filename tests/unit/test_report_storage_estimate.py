"""DynamoDB item sizes and the request units one workflow's writes cost."""

from __future__ import annotations

from decimal import Decimal

import pytest

from albums.domain.cost import CostModelError
from albums.domain.models import ExecutionStatus
from albums.domain.storage_estimate import StoredItems, item_size, workflow_request_units


@pytest.mark.parametrize(
    ("item", "size"),
    [
        ({"pk": "abc"}, 2 + 3),
        ({"name": "café"}, 4 + 5),  # UTF-8 bytes, not characters
        ({"n": Decimal("123")}, 1 + 3),  # 3 digits: ceil(3 / 2) + 1
        ({"n": 1959}, 1 + 3),
        ({"ok": True, "gone": None}, 2 + 1 + 4 + 1),
        ({"m": {"a": "x"}}, 1 + 3 + (1 + 1 + 1)),
        ({"l": ["ab", "c"]}, 1 + 3 + (2 + 1) + (1 + 1)),
        ({"b": b"\x00\x01"}, 1 + 2),
    ],
)
def test_item_size_follows_the_published_rules(item: dict[str, object], size: int) -> None:
    assert item_size(item) == size


def test_item_size_refuses_what_dynamodb_cannot_store() -> None:
    with pytest.raises(CostModelError, match="not a DynamoDB value"):
        item_size({"when": object()})


SMALL = StoredItems(claim=300, execution=800, albums=(400,) * 6, task=900)


def test_a_completed_workflow_with_small_items_costs_49_write_units() -> None:
    # claim 1 + initial tx (record and albums) 2x7 + task tx 2x2 + close task 1
    # + validated tx 2x7 + results tx (prices and the end) 2x7 + metrics 1
    units = workflow_request_units(SMALL, ExecutionStatus.COMPLETED)

    assert units.write_units == 49
    assert units.read_units == 1  # the recorder's strongly consistent read


def test_completed_with_errors_writes_as_much_as_completed() -> None:
    assert workflow_request_units(SMALL, "completed_with_errors") == workflow_request_units(
        SMALL, "completed"
    )


def test_a_rejected_workflow_writes_no_validated_data_or_prices() -> None:
    assert workflow_request_units(SMALL, ExecutionStatus.REJECTED).write_units == 22


def test_items_over_a_kilobyte_cost_a_unit_per_started_kilobyte() -> None:
    large_albums = StoredItems(claim=300, execution=800, albums=(1500,) * 6, task=900)

    units = workflow_request_units(large_albums, ExecutionStatus.COMPLETED)

    # Three transactions write the six albums: 3 x 6 x 2 more units.
    assert units.write_units == 49 + 36


def test_a_workflow_without_a_task_pays_no_task_writes() -> None:
    no_task = StoredItems(claim=300, execution=800, albums=(400,) * 6, task=None)

    assert workflow_request_units(no_task, ExecutionStatus.FAILED).write_units == 3
    assert workflow_request_units(no_task, ExecutionStatus.COMPLETED).write_units == 49 - 3


def test_a_running_execution_has_no_plan() -> None:
    with pytest.raises(CostModelError, match="still running"):
        workflow_request_units(SMALL, ExecutionStatus.RUNNING)
