"""The durable testing runner's scheduler, patient when many executions start at once.

``aws-durable-execution-sdk-python-testing`` 1.4.x starts an execution by asking its
scheduler's event loop for a completion event (``Scheduler.create_event``) and gives the
loop 5 s to answer. The same loop starts one worker thread per new execution
(``ExecutionRegistry.get_or_create`` → ``SerialTaskLane.create`` → ``Thread.start``,
which waits until the new thread runs). When 100 uploads start 200 executions at once —
about 350 threads on 2 cores — those thread starts queue behind the GIL, the loop falls
more than 5 s behind, and ``run_async`` raises ``TimeoutError`` *after* the execution was
stored: an execution that exists but never runs, and an upload put that fails.

:func:`patient_scheduler` gives that one wait :data:`EVENT_TIMEOUT_S` instead, on one
runner's scheduler: a start under load waits for the loop to catch up, as a queued
asynchronous invocation would on AWS. The smoke test in
``tests/unit/test_localmode_load_patches.py`` fails when the patched internals change.
"""

from __future__ import annotations

import asyncio
import types
from typing import Any, Final

#: Longest a start waits for the scheduler's loop (the library's own guard is 5 s).
EVENT_TIMEOUT_S: Final = 120.0


def patient_scheduler(runner: Any, timeout_s: float = EVENT_TIMEOUT_S) -> None:
    """Make ``runner``'s scheduler wait up to ``timeout_s`` to create an event.

    Parameters
    ----------
    runner
        A ``DurableFunctionTestRunner`` (its private ``_scheduler``, 1.4.x).
    timeout_s
        The new guard, in seconds.
    """
    from aws_durable_execution_sdk_python_testing.scheduler import Event  # noqa: PLC0415

    scheduler = runner._scheduler

    def create_event(self: Any) -> Event:
        future = asyncio.run_coroutine_threadsafe(self._create_event(), self._loop)
        return Event(self, future.result(timeout=timeout_s))

    scheduler.create_event = types.MethodType(create_event, scheduler)
