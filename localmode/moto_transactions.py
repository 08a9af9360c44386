"""moto's TransactWriteItems without a copy of the whole table per written item.

moto 5.2.x ``DynamoDBBackend.transact_write_items`` backs up the table before a
transaction by deep-copying it — once per item of the transaction (the loop overwrites
the same backup) — so a seven-item transaction copies the table seven times. Both
patterns write mostly in transactions, and local mode serialises every DynamoDB request
(:func:`localmode.stack.serialized_dynamodb`), so with a few thousand items a load run
spent most of its time copying tables while every other request queued: 100 uploads
through both patterns took over ten minutes, ten took fifteen seconds.

:func:`item_level_transaction_rollback` keeps moto's transaction semantics (all or
nothing, cancellation reasons, the items returned on a failed condition) but backs up
only the items the transaction touches, and restores those on cancellation. It relies on
the requests being serialised (no other write between the backup and a rollback).
The smoke test in ``tests/unit/test_localmode_load_patches.py`` fails when the patched
internals change.
"""

from __future__ import annotations

import copy
import types
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class _NoTableCopies(types.SimpleNamespace):
    """Stands in for the ``copy`` module inside ``moto.dynamodb.models``.

    A table is "copied" as itself, so moto's rollback (putting the backup back) changes
    nothing; everything else is deep-copied as before.
    """

    def __init__(self, table_type: type) -> None:
        super().__init__()
        self._table_type = table_type

    def deepcopy(self, value: Any, memo: dict[int, Any] | None = None) -> Any:
        if isinstance(value, self._table_type):
            return value
        return copy.deepcopy(value, memo)


def _touched_keys(
    backend: Any, transact_items: list[dict[str, Any]]
) -> list[tuple[str, dict[str, Any]]]:
    """Return ``(table name, key)`` of every item a transaction may write.

    A request without a whole key is left out: moto refuses it before writing anything.
    """
    touched = []
    for entry in transact_items:
        for operation, request in entry.items():
            table_name = request.get("TableName")
            if operation == "ConditionCheck" or table_name not in backend.tables:
                continue
            table = backend.tables[table_name]
            source = request.get("Item", {}) if operation == "Put" else request.get("Key", {})
            names = [name for name in (table.hash_key_attr, table.range_key_attr) if name]
            if all(name in source for name in names):
                touched.append((table_name, {name: source[name] for name in names}))
    return touched


@contextmanager
def item_level_transaction_rollback() -> Iterator[None]:
    """Back up and restore only the touched items in moto's ``TransactWriteItems``.

    Patches ``moto.dynamodb.models.DynamoDBBackend.transact_write_items`` and the
    module's ``copy`` reference (moto 5.2.x) while active.
    """
    from moto.dynamodb import models  # noqa: PLC0415 - local mode only
    from moto.dynamodb.models.table import Table  # noqa: PLC0415

    original = models.DynamoDBBackend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        backup = []
        for table_name, key in _touched_keys(self, transact_items):
            backup.append((table_name, key, copy.deepcopy(self.get_item(table_name, key))))
        try:
            original(self, transact_items)
        except BaseException:
            for table_name, key, item in reversed(backup):
                table = self.tables[table_name]
                hash_value, range_value = self.get_keys_value(table, key)
                if table.get_item(hash_value, range_value) is not None:
                    table.delete_item(hash_value, range_value)
                if item is not None:
                    table.put_item(item.to_json()["Attributes"], overwrite=True)
            raise

    models.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    models.copy = _NoTableCopies(Table)  # type: ignore[attr-defined,assignment]
    try:
        yield
    finally:
        models.DynamoDBBackend.transact_write_items = original  # type: ignore[method-assign]
        models.copy = copy  # type: ignore[attr-defined]
