"""The two local-mode patches that let 100 uploads run at once, and their smoke tests.

- :mod:`localmode.moto_transactions`: moto's ``TransactWriteItems`` backs up only the
  items it touches (moto 5.2.x copied the whole table once per item);
- :mod:`localmode.durable_scheduler`: the durable testing runner's scheduler waits longer
  than 5 s for its loop when many executions start at once.

Each test fails when the internals a patch relies on change in a dependency upgrade.
"""

from __future__ import annotations

import copy
import threading
import time
from typing import Any

import boto3
import pytest
from aws_durable_execution_sdk_python_testing.runner import DurableFunctionTestRunner
from aws_durable_execution_sdk_python_testing.scheduler import Event, Scheduler
from botocore.exceptions import ClientError
from moto import mock_aws

from localmode.durable_scheduler import patient_scheduler
from localmode.moto_transactions import item_level_transaction_rollback
from tests.table import create_table, scan_all

TABLE = "albums-patches"


def _put(pk: str, value: str) -> dict[str, Any]:
    return {
        "Put": {
            "TableName": TABLE,
            "Item": {"pk": {"S": pk}, "sk": {"S": "meta"}, "value": {"S": value}},
        }
    }


def test_the_transaction_patch_targets_moto_internals_that_exist() -> None:
    from moto.dynamodb import models

    assert models.copy is copy  # the name the patch replaces, and puts back
    original = models.DynamoDBBackend.transact_write_items
    with item_level_transaction_rollback():
        assert models.copy is not copy
        assert models.DynamoDBBackend.transact_write_items is not original
    assert models.copy is copy
    assert models.DynamoDBBackend.transact_write_items is original


def test_a_transaction_copies_no_table_and_a_cancelled_one_changes_nothing() -> None:
    from moto.dynamodb import models

    with mock_aws(), item_level_transaction_rollback():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_table(client, TABLE)
        client.put_item(
            TableName=TABLE,
            Item={"pk": {"S": "kept"}, "sk": {"S": "meta"}, "value": {"S": "before"}},
        )
        table = models.dynamodb_backends["123456789012"]["us-east-1"].tables[TABLE]
        assert models.copy.deepcopy(table) is table  # no whole-table backup any more

        client.transact_write_items(TransactItems=[_put("new-1", "a"), _put("new-2", "b")])
        before = scan_all(client, TABLE)
        with pytest.raises(ClientError) as raised:
            client.transact_write_items(
                TransactItems=[
                    _put("new-3", "c"),  # a new item, written first
                    {
                        "Update": {
                            "TableName": TABLE,
                            "Key": {"pk": {"S": "kept"}, "sk": {"S": "meta"}},
                            "UpdateExpression": "SET #v = :v",
                            "ExpressionAttributeNames": {"#v": "value"},
                            "ExpressionAttributeValues": {":v": {"S": "changed"}},
                        }
                    },
                    {  # fails last: everything before it must be undone
                        **_put("new-1", "z"),
                        "Put": {
                            **_put("new-1", "z")["Put"],
                            "ConditionExpression": "attribute_not_exists(pk)",
                        },
                    },
                ]
            )
        after = scan_all(client, TABLE)

    assert raised.value.response["Error"]["Code"] == "TransactionCanceledException"
    reasons = [r["Code"] for r in raised.value.response["CancellationReasons"]]
    assert reasons == ["None", "None", "ConditionalCheckFailed"]
    assert after == before
    assert {item["pk"]["S"] for item in after} == {"kept", "new-1", "new-2"}


def test_the_scheduler_patch_targets_runner_internals_that_exist() -> None:
    runner = DurableFunctionTestRunner(lambda event, context: None, skip_time=True)
    try:
        scheduler = runner._scheduler
        assert isinstance(scheduler, Scheduler)
        assert callable(scheduler._create_event)
        assert scheduler._loop.is_running()
        patient_scheduler(runner, timeout_s=30)
        event = scheduler.create_event()
        assert isinstance(event, Event)
        threading.Timer(0.05, event.set).start()
        assert event.wait(5)
    finally:
        runner.close()


def test_a_start_waits_for_a_busy_scheduler_loop_beyond_the_library_guard() -> None:
    runner = DurableFunctionTestRunner(lambda event, context: None, skip_time=True)
    try:
        patient_scheduler(runner, timeout_s=30)
        scheduler = runner._scheduler
        busy = 0.3
        # Block the loop as a burst of thread starts does; the patched wait outlasts it.
        scheduler._loop.call_soon_threadsafe(time.sleep, busy)
        began = time.perf_counter()
        event = scheduler.create_event()
        assert time.perf_counter() - began >= busy * 0.9
        assert isinstance(event, Event)
    finally:
        runner.close()
