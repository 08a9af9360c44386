"""Powertools logging, metrics and tracing for two patterns running in one process."""

from __future__ import annotations

import contextvars
import io
import json
import logging
import threading
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

import pytest
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.metrics import Metrics

from albums.domain.errors import VisionNotJsonError
from albums.domain.models import ExecutionMetrics, ExecutionStatus, WorkflowType
from albums.observability import (
    NAMESPACES,
    SERVICE,
    BoundLogger,
    current_log_context,
    durable_logger,
    emit_execution_metrics,
    execution_context,
    get_logger,
    get_tracer,
    log_error,
    metrics_namespace,
)

SF = WorkflowType.STEP_FUNCTIONS
LDF = WorkflowType.DURABLE_FUNCTIONS


@pytest.fixture
def captured() -> Iterator[tuple[Logger, io.StringIO]]:
    """A Powertools logger of its own writing JSON lines to a buffer."""
    buffer = io.StringIO()
    name = f"albums-test-{id(buffer)}"
    logger = Logger(service=name, logger_handler=logging.StreamHandler(buffer))
    yield logger, buffer
    logging.getLogger(name).handlers.clear()


def lines(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]


# --- set-up ----------------------------------------------------------------------------


def test_service_and_namespaces() -> None:
    assert SERVICE == "album-registration"
    assert metrics_namespace(SF) == "AlbumRegistration/StepFunctions"
    assert metrics_namespace("durable-functions") == "AlbumRegistration/DurableFunctions"
    assert set(NAMESPACES) == set(WorkflowType)


def test_get_logger_returns_one_powertools_logger() -> None:
    logger = get_logger()
    assert isinstance(logger, Logger)
    assert logger is get_logger()
    assert logger.service == SERVICE


def test_the_module_logger_writes_json_with_the_execution_keys() -> None:
    logger = get_logger()
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    try:
        with execution_context(logger, "exec-module", SF):
            logger.info("inside")
    finally:
        handler.setStream(previous)
    (line,) = lines(buffer)
    assert line["service"] == SERVICE
    assert (line["executionId"], line["workflowType"]) == ("exec-module", "step-functions")


def test_get_tracer_is_one_disabled_tracer_in_tests() -> None:
    tracer = get_tracer()
    assert isinstance(tracer, Tracer)
    assert tracer is get_tracer()
    assert tracer.disabled  # POWERTOOLS_TRACE_DISABLED=true (tests/conftest.py)


# --- execution context -----------------------------------------------------------------


def test_execution_context_stamps_every_line_and_leaves_nothing_behind(
    captured: tuple[Logger, io.StringIO],
) -> None:
    logger, buffer = captured
    logger.info("before")
    with execution_context(logger, "exec-1", SF) as keys:
        assert keys == {"executionId": "exec-1", "workflowType": "step-functions"}
        logger.info("inside")
        logger.warning("also inside", extra={"albumIndex": 3})
    logger.info("after")
    before, inside, also, after = lines(buffer)
    assert "executionId" not in before
    assert "executionId" not in after
    assert "workflowType" not in after
    for line in (inside, also):
        assert (line["executionId"], line["workflowType"]) == ("exec-1", "step-functions")
    assert also["albumIndex"] == 3
    assert current_log_context() == {}


def test_nested_contexts_restore_the_outer_one(captured: tuple[Logger, io.StringIO]) -> None:
    logger, buffer = captured
    with execution_context(logger, "outer", SF):
        with execution_context(logger, "inner", LDF):
            logger.info("inner")
        logger.info("outer again")
    inner, outer = lines(buffer)
    assert (inner["executionId"], inner["workflowType"]) == ("inner", "durable-functions")
    assert (outer["executionId"], outer["workflowType"]) == ("outer", "step-functions")


def test_the_context_is_restored_when_the_body_raises(
    captured: tuple[Logger, io.StringIO],
) -> None:
    logger, buffer = captured
    with pytest.raises(RuntimeError), execution_context(logger, "exec-boom", SF):
        raise RuntimeError("boom")
    logger.info("after")
    assert "executionId" not in lines(buffer)[0]


def test_two_threads_logging_at_once_keep_their_own_ids(
    captured: tuple[Logger, io.StringIO],
) -> None:
    logger, buffer = captured
    both_inside = threading.Barrier(2, timeout=10)
    errors: list[BaseException] = []

    def run(execution_id: str, workflow_type: WorkflowType) -> None:
        try:
            with execution_context(logger, execution_id, workflow_type):
                both_inside.wait()  # both contexts are active before anyone logs
                for n in range(200):
                    logger.info("tick", extra={"owner": execution_id, "n": n})
                both_inside.wait()  # neither leaves before the other has finished
            logger.info("done", extra={"owner": execution_id})
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [
        threading.Thread(target=run, args=("exec-sf-1", SF)),
        threading.Thread(target=run, args=("exec-ldf-1", LDF)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors
    records = lines(buffer)
    ticks = [line for line in records if line["message"] == "tick"]
    assert len(ticks) == 400
    expected_type = {"exec-sf-1": "step-functions", "exec-ldf-1": "durable-functions"}
    for line in ticks:
        assert line["executionId"] == line["owner"]
        assert line["workflowType"] == expected_type[line["owner"]]
    done = [line for line in records if line["message"] == "done"]
    assert len(done) == 2
    assert all("executionId" not in line for line in done)


def test_a_copied_context_carries_the_ids_into_a_worker_thread(
    captured: tuple[Logger, io.StringIO],
) -> None:
    logger, buffer = captured
    with execution_context(logger, "exec-copied", SF):
        context = contextvars.copy_context()
    worker = threading.Thread(target=context.run, args=(logger.info, "from worker"))
    worker.start()
    worker.join(timeout=10)
    assert lines(buffer)[0]["executionId"] == "exec-copied"


def test_execution_context_refuses_an_empty_id(captured: tuple[Logger, io.StringIO]) -> None:
    logger, _ = captured
    with pytest.raises(ValueError, match="execution_id"), execution_context(logger, " ", SF):
        pass  # pragma: no cover
    with pytest.raises(ValueError, match="WorkflowType"), execution_context(logger, "x", "lambda"):
        pass  # pragma: no cover


# --- error logging (Property 31 builds on this) ----------------------------------------


def test_log_error_logs_name_message_step_and_context(
    captured: tuple[Logger, io.StringIO],
) -> None:
    logger, buffer = captured
    try:
        raise VisionNotJsonError("model answered prose, not JSON")
    except VisionNotJsonError as error:
        fields = log_error(
            logger, error, step="ProcessImage", execution_id="exec-9", workflow_type=SF
        )
    (line,) = lines(buffer)
    assert line["level"] == "ERROR"
    assert line["errorName"] == "VisionNotJsonError"
    assert line["errorMessage"] == "model answered prose, not JSON"
    assert line["errorCode"] == "vision_not_json"
    assert line["step"] == "ProcessImage"
    assert (line["executionId"], line["workflowType"]) == ("exec-9", "step-functions")
    assert line["exception_name"] == "VisionNotJsonError"
    assert "Traceback" in line["exception"]
    assert line["location"].startswith("test_log_error_logs_name_message_step_and_context")
    assert fields == {k: line[k] for k in fields}


def test_log_error_works_with_a_plain_exception_never_raised(
    captured: tuple[Logger, io.StringIO],
) -> None:
    logger, buffer = captured
    log_error(logger, KeyError("albums"), step="Store", execution_id="e", workflow_type=LDF)
    (line,) = lines(buffer)
    assert line["errorName"] == "KeyError"
    assert line["errorMessage"] == "'albums'"
    assert "errorCode" not in line
    assert "exception" not in line


class _SdkStyleLogger:
    """The durable SDK's LoggerInterface shape: ``error(msg, *args, extra=...)``."""

    def __init__(self) -> None:
        self.calls: list[tuple[object, Mapping[str, object] | None]] = []

    def error(self, msg: object, *args: object, extra: Mapping[str, object] | None = None) -> None:
        self.calls.append((msg, extra))


def test_log_error_accepts_the_durable_sdk_logger_shape() -> None:
    sdk_logger = _SdkStyleLogger()
    log_error(
        sdk_logger,
        ValueError("bad year"),
        step="UpdateValidatedData",
        execution_id="e1",
        workflow_type=LDF,
    )
    ((message, extra),) = sdk_logger.calls
    assert message == "ValueError in UpdateValidatedData: bad year"
    assert extra is not None
    assert extra["executionId"] == "e1"
    assert extra["workflowType"] == "durable-functions"
    assert extra["step"] == "UpdateValidatedData"


# --- durable SDK logger ----------------------------------------------------------------


def test_durable_logger_binds_the_ids_to_every_level(
    captured: tuple[Logger, io.StringIO],
) -> None:
    logger, buffer = captured
    bound = durable_logger(logger, execution_id="exec-ldf-7")
    assert isinstance(bound, BoundLogger)
    bound.debug("hidden at INFO")
    bound.info("info %s", "formatted", extra={"operationName": "ProcessImage"})
    bound.warning("warning")
    bound.error("error")
    try:
        raise RuntimeError("step failed")
    except RuntimeError:
        bound.exception("exception")
    records = lines(buffer)
    assert [line["message"] for line in records] == [
        "info formatted",
        "warning",
        "error",
        "exception",
    ]
    for line in records:
        assert (line["executionId"], line["workflowType"]) == ("exec-ldf-7", "durable-functions")
    assert records[0]["operationName"] == "ProcessImage"
    assert records[3]["exception_name"] == "RuntimeError"


def test_durable_logger_defaults_to_the_module_logger() -> None:
    assert durable_logger(execution_id="e").logger is get_logger()
    with pytest.raises(ValueError, match="execution_id"):
        durable_logger(execution_id="")


def test_the_durable_sdk_carries_the_bound_ids_into_map_branches(
    captured: tuple[Logger, io.StringIO],
) -> None:
    from aws_durable_execution_sdk_python import (
        DurableContext,
        StepContext,
        durable_execution,
        durable_step,
    )
    from aws_durable_execution_sdk_python_testing.runner import DurableFunctionTestRunner

    logger, buffer = captured

    @durable_step
    def price(step_context: StepContext, index: int) -> int:
        step_context.logger.info("pricing", extra={"albumIndex": index})
        return index

    @durable_execution
    def handler(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
        context.set_logger(durable_logger(logger, execution_id="exec-durable-1"))
        context.logger.info("started")
        context.map(
            [1, 2, 3],
            lambda child, item, index, items: child.step(price(item), name=f"Price-{index}"),
            name="EstimatePrices",
        )
        return {"ok": True}

    with DurableFunctionTestRunner(handler=handler) as runner:
        result = runner.run(input="{}", execution_timeout=60)
    assert str(result.status).endswith("SUCCEEDED")
    records = lines(buffer)
    assert [line["message"] for line in records].count("pricing") == 3
    for line in records:
        assert (line["executionId"], line["workflowType"]) == (
            "exec-durable-1",
            "durable-functions",
        )
    priced = [line for line in records if line["message"] == "pricing"]
    assert {line["operationName"] for line in priced} == {"Price-0", "Price-1", "Price-2"}
    assert all(line["location"].startswith("price:") for line in priced)


# --- metrics ---------------------------------------------------------------------------


def emf(stream: io.StringIO) -> dict[str, Any]:
    (line,) = stream.getvalue().splitlines()
    return json.loads(line)  # type: ignore[no-any-return]


def metric_units(document: Mapping[str, Any]) -> dict[str, str]:
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    return {metric["Name"]: metric["Unit"] for metric in directive["Metrics"]}


def test_step_functions_metrics_are_emf_in_their_namespace() -> None:
    stream = io.StringIO()
    figures = ExecutionMetrics(
        duration_ms=5400,
        transitions=27,
        lambda_gb_seconds=Decimal("2.5"),
        cost_usd=Decimal("0.0007236835"),
        extra={"PricesFailed": 1},
    )
    written = emit_execution_metrics(
        SF, ExecutionStatus.COMPLETED_WITH_ERRORS, figures, execution_id="exec-1", stream=stream
    )
    document = emf(stream)
    assert written == document
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "AlbumRegistration/StepFunctions"
    assert directive["Dimensions"] == [["workflowType", "service"]]
    assert document["workflowType"] == "step-functions"
    assert document["service"] == SERVICE
    assert document["executionId"] == "exec-1"
    assert metric_units(document) == {
        "ExecutionsEnded": "Count",
        "ExecutionsCompletedWithErrors": "Count",
        "ExecutionDuration": "Milliseconds",
        "StateTransitions": "Count",
        "LambdaGBSeconds": "None",
        "CostPerWorkflowUSD": "None",
        "PricesFailed": "Count",
    }
    assert document["ExecutionsEnded"] == [1.0]
    assert document["ExecutionsCompletedWithErrors"] == [1.0]
    assert document["ExecutionDuration"] == [5400.0]
    assert document["StateTransitions"] == [27.0]
    assert document["LambdaGBSeconds"] == [2.5]
    assert document["CostPerWorkflowUSD"] == [pytest.approx(0.0007236835)]
    assert document["PricesFailed"] == [1.0]


@pytest.mark.parametrize(
    ("status", "metric"),
    [
        (ExecutionStatus.COMPLETED, "ExecutionsCompleted"),
        (ExecutionStatus.FAILED, "ExecutionsFailed"),
        (ExecutionStatus.REJECTED, "ExecutionsRejected"),
        (ExecutionStatus.DUPLICATE, "ExecutionsDuplicate"),
    ],
)
def test_durable_metrics_count_the_status_and_skip_what_was_not_measured(
    status: ExecutionStatus, metric: str
) -> None:
    stream = io.StringIO()
    figures = ExecutionMetrics(duration_ms=1200, durable_operations=23, replays=4)
    emit_execution_metrics(LDF, status, figures, stream=stream)
    document = emf(stream)
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "AlbumRegistration/DurableFunctions"
    assert document["workflowType"] == "durable-functions"
    assert set(metric_units(document)) == {
        "ExecutionsEnded",
        metric,
        "ExecutionDuration",
        "DurableOperations",
        "Replays",
    }
    assert document[metric] == [1.0]
    assert document["DurableOperations"] == [23.0]
    assert document["Replays"] == [4.0]
    assert "executionId" not in document


def test_metrics_default_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    emit_execution_metrics(SF, "completed", ExecutionMetrics(duration_ms=10))
    (line,) = capsys.readouterr().out.splitlines()
    assert json.loads(line)["ExecutionDuration"] == [10.0]


def test_metrics_of_two_patterns_emitted_at_once_never_mix() -> None:
    streams = {SF: io.StringIO(), LDF: io.StringIO()}
    start = threading.Barrier(2, timeout=10)

    def emit(workflow_type: WorkflowType, count: int) -> None:
        start.wait()
        for n in range(50):
            emit_execution_metrics(
                workflow_type,
                ExecutionStatus.COMPLETED,
                ExecutionMetrics(duration_ms=n, transitions=count, durable_operations=count),
                stream=streams[workflow_type],
            )

    threads = [
        threading.Thread(target=emit, args=(SF, 11)),
        threading.Thread(target=emit, args=(LDF, 22)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    for workflow_type, expected in ((SF, 11.0), (LDF, 22.0)):
        documents = [json.loads(line) for line in streams[workflow_type].getvalue().splitlines()]
        assert len(documents) == 50
        for n, document in enumerate(documents):
            (directive,) = document["_aws"]["CloudWatchMetrics"]
            assert directive["Namespace"] == NAMESPACES[workflow_type]
            assert document["workflowType"] == str(workflow_type)
            assert document["ExecutionsCompleted"] == [1.0]  # one per document, never summed
            assert document["ExecutionDuration"] == [float(n)]
            assert document["StateTransitions"] == [expected]
    # Nothing went into Powertools' class-level (shared) metric set.
    assert Metrics._metrics == {}


def test_metrics_are_only_for_ended_executions() -> None:
    stream = io.StringIO()
    for status in (ExecutionStatus.RUNNING, ExecutionStatus.AWAITING_VALIDATION):
        with pytest.raises(ValueError, match="ended executions"):
            emit_execution_metrics(SF, status, ExecutionMetrics(duration_ms=1), stream=stream)
    with pytest.raises(TypeError):
        emit_execution_metrics(SF, "completed", {"duration_ms": 1}, stream=stream)  # type: ignore[arg-type]
    assert stream.getvalue() == ""


def test_disabled_metrics_write_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    stream = io.StringIO()
    assert (
        emit_execution_metrics(SF, "failed", ExecutionMetrics(duration_ms=1), stream=stream) is None
    )
    assert stream.getvalue() == ""
