"""JSONata as Step Functions evaluates it (:mod:`localmode.jsonata_engine`), and moto
running JSONata state machines with :func:`localmode.jsonata_engine.jsonata_engine` active.

The state machine tests also smoke-test the moto 5.2.x internals the engine patches:
each fails if a moto upgrade moves or changes one.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from localmode import aws_calls
from localmode.jsonata_engine import (
    QUERY_EVALUATION_ERROR,
    JsonataEvaluationError,
    encode_variable_declarations,
    evaluate,
    evaluate_composed,
    jsonata_engine,
)
from localmode.stack import LocalStack
from localmode.stepfunctions import early_answers_kept, scaled_retry_sleep

# --- evaluate ------------------------------------------------------------------------------


def test_evaluate_binds_states_and_variables() -> None:
    states = {
        "input": {"albums": [{"title": "Abbey Road"}, {"title": "Revolver"}]},
        "context": {"Execution": {"Id": "arn:aws:states:::execution:sm:run-1", "Name": "run-1"}},
    }
    result = evaluate(
        "{'titles': $states.input.albums.title, 'run': $states.context.Execution.Name,"
        " 'step': $failedStep, 'error': $error.Error}",
        states=states,
        variables={"failedStep": "ProcessImage", "$error": {"Error": "Boom", "Cause": None}},
    )
    assert result == {
        "titles": ["Abbey Road", "Revolver"],
        "run": "run-1",
        "step": "ProcessImage",
        "error": "Boom",
    }


def test_evaluate_keeps_json_null_and_whole_numbers() -> None:
    assert evaluate("$x", variables={"x": None}) is None
    assert evaluate("$exists($x)", variables={"x": None}) is True
    assert evaluate("$type($x.a)", variables={"x": {"a": None}}) == "null"
    assert evaluate("$missing") is None
    two = evaluate("4 / 2")
    assert two == 2
    assert isinstance(two, int)
    assert evaluate("5 / 2") == 2.5
    assert evaluate("[1, 2] ~> $map(function($v) { $v * 1.5 })") == [1.5, 3]


def test_evaluate_reports_bad_expressions() -> None:
    with pytest.raises(JsonataEvaluationError) as syntax:
        evaluate("$states.input.(")
    assert syntax.value.code is not None
    with pytest.raises(JsonataEvaluationError):
        evaluate("$nosuchfunction(1)")
    with pytest.raises(JsonataEvaluationError):
        evaluate("'a' + 1")
    with pytest.raises(JsonataEvaluationError, match="not supported"):
        evaluate("$eval('1 + 1')")
    with pytest.raises(ValueError, match="states"):
        evaluate("1", states={}, variables={"states": 1})


def test_evaluate_keeps_strings_exactly() -> None:
    text = 'say "hi" \\ then\nleave — 日本 😀'
    assert evaluate("$s", variables={"s": text}) == text
    assert evaluate("$s & ''", variables={"s": text}) == text
    # An escaped surrogate pair in the expression is one character, as in JSON.
    assert evaluate('"\\ud83d\\ude00"') == "😀"


def composed(expression: str, bindings: dict[str, Any]) -> str:
    """The text moto composes: ``(declarations expression)``."""
    return f"({encode_variable_declarations(bindings)}{expression})"


@pytest.mark.parametrize(
    "value",
    [
        'a "quoted" \\ back\\slash\nline — ü 日本 😀 /* */ ;)',
        {"nested": ["x", None, 1.5, {"deep": True}], "empty": {}},
        None,
        12345678901234,
        [],
    ],
)
def test_composed_expressions_bind_what_the_encoder_wrote(value: Any) -> None:
    text = composed(
        "{'value': $value, 'input': $states.input}", {"$states": {"input": value}, "$value": value}
    )
    assert evaluate_composed(text) == {"value": value, "input": value}
    # moto's output checks wrap the composed text; the declarations are still bound.
    assert evaluate_composed(f"$exists({composed('$value', {'$value': value})})") is True
    assert evaluate_composed(f"$type({composed('$value', {'$value': value})})") == evaluate(
        "$type($v)", variables={"v": value}
    )
    # Without the declarations' marker the text is evaluated as JSONata wrote it.
    assert evaluate_composed("($value:=[1, 2];$count($value))") == 2


def test_composed_expressions_evaluate_as_plain_jsonata() -> None:
    text = composed("$x.a", {"$x": {"a": None}})
    assert evaluate_composed(text) is None
    assert evaluate_composed(f"$exists({text})") is True
    assert evaluate_composed(composed("$missing", {})) is None
    assert evaluate_composed(f"$exists({composed('$missing', {'$x': 1})})") is False
    with pytest.raises(JsonataEvaluationError):
        evaluate_composed(composed("$hash($x, 'nope')", {"$x": "a"}))


# --- the functions Step Functions adds -------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("$partition([1, 2, 3, 4, 5], 2)", [[1, 2], [3, 4], [5]]),
        ("$partition([1, 2, 3, 4, 5], 1)", [[1], [2], [3], [4], [5]]),
        ("$partition([1, 2, 3, 4, 5], 5)", [[1, 2, 3, 4, 5]]),
        ("$partition([1, 2, 3, 4, 5], 6)", [[1, 2, 3, 4, 5]]),
        ("$partition([1, 2, 3, 4, 5, 6, 7, 8, 9], 3)", [[1, 2, 3], [4, 5, 6], [7, 8, 9]]),
        ("$partition([], 2)", []),
        ("$partition([{'a': 1}, null, 'x'], 2.0)", [[{"a": 1}, None], ["x"]]),
    ],
)
def test_partition(expression: str, expected: object) -> None:
    assert evaluate(expression) == expected


@pytest.mark.parametrize(
    "expression",
    [
        "$partition([1, 2], 0)",
        "$partition([1, 2], -1)",
        "$partition([1, 2], 1.5)",
        "$partition([1, 2], '2')",
        "$partition('abc', 2)",
        "$partition([1, 2])",
        "$partition([1], 1, 1)",
    ],
)
def test_partition_refuses_bad_arguments(expression: str) -> None:
    with pytest.raises(JsonataEvaluationError, match="partition"):
        evaluate(expression)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("$range(0, 10, 2)", [0, 2, 4, 6, 8, 10]),
        ("$range(0, 10, 1)", list(range(11))),
        ("$range(1, -5, -1)", [1, 0, -1, -2, -3, -4, -5]),
        ("$range(1, 9, 3)", [1, 4, 7]),
        ("$range(1, 1, 2)", [1]),
        ("$range(1, 9, 0)", []),
        ("$range(5, 1, 1)", []),
        ("$range(1, 5, -1)", []),
        ("$range(0, 4.0, 2)", [0, 2, 4]),
    ],
)
def test_range(expression: str, expected: object) -> None:
    assert evaluate(expression) == expected


@pytest.mark.parametrize(
    "expression",
    ["$range(0, 1.5, 1)", "$range('0', 2, 1)", "$range(0, 2)", "$range(true, 2, 1)"],
)
def test_range_refuses_bad_arguments(expression: str) -> None:
    with pytest.raises(JsonataEvaluationError, match="range"):
        evaluate(expression)


@pytest.mark.parametrize(
    ("algorithm", "digest"),
    [
        ("MD5", hashlib.md5),
        ("SHA-1", hashlib.sha1),
        ("SHA-256", hashlib.sha256),
        ("SHA-384", hashlib.sha384),
        ("SHA-512", hashlib.sha512),
    ],
)
@pytest.mark.parametrize("data", ["input data", "", "Ünïcödé — 日本語 😀", 'q"uote\\slash\n'])
def test_hash_is_the_lowercase_hex_digest_of_the_utf8_bytes(
    algorithm: str, digest: Callable[[bytes], Any], data: str
) -> None:
    result = evaluate("$hash($data, $algorithm)", variables={"data": data, "algorithm": algorithm})
    assert result == digest(data.encode("utf-8")).hexdigest()
    assert result == result.lower()


def test_hash_matches_the_documented_example() -> None:
    # The service's States.Hash example ("input data", SHA-1); its page drops one digit.
    assert evaluate("$hash('input data', 'SHA-1')") == "aaff4a450a104cd177d28d18d74485e8cae074b7"


@pytest.mark.parametrize(
    "expression",
    [
        "$hash('x', 'sha-256')",
        "$hash('x', 'SHA256')",
        "$hash('x', 'SHA-224')",
        "$hash('x', null)",
        "$hash(1, 'MD5')",
        "$hash({'a': 1}, 'MD5')",
        "$hash($missing, 'MD5')",
        "$hash('x')",
    ],
)
def test_hash_refuses_bad_arguments(expression: str) -> None:
    with pytest.raises(JsonataEvaluationError, match="hash"):
        evaluate(expression)


def test_random_is_in_the_unit_interval_and_repeats_with_a_seed() -> None:
    values = [evaluate("$random()") for _ in range(50)]
    assert all(isinstance(value, float) and 0 <= value < 1 for value in values)
    assert len(set(values)) > 1
    seeded = evaluate("[$random(80), $random(80), $random(81)]")
    assert seeded[0] == seeded[1] != seeded[2]
    assert 0 <= seeded[2] < 1
    for bad in ("$random('80')", "$random(1.5)", "$random(1, 2)"):
        with pytest.raises(JsonataEvaluationError, match="random"):
            evaluate(bad)


def test_uuid_is_a_random_version_4_uuid() -> None:
    first, second = evaluate("[$uuid(), $uuid()]")
    assert first != second
    for value in (first, second):
        parsed = uuid.UUID(value)
        assert parsed.version == 4
        assert str(parsed) == value
    with pytest.raises(JsonataEvaluationError, match="uuid"):
        evaluate("$uuid(1)")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"foo": "bar"}', {"foo": "bar"}),
        ('[1, 2.5, null, true, "ü"]', [1, 2.5, None, True, "ü"]),
        ('"just a string"', "just a string"),
        ("null", None),
        ("7", 7),
    ],
)
def test_parse(text: str, expected: object) -> None:
    assert evaluate("$parse($text)", variables={"text": text}) == expected


def test_parse_keeps_null_as_a_value() -> None:
    assert evaluate("$type($parse('null'))") == "null"
    assert evaluate("$parse($text).a", variables={"text": '{"a": {"b": [1]}}'}) == {"b": [1]}


@pytest.mark.parametrize("text", ["", "nope", "{'a': 1}", '{"a": 1', "NaN", "[1,]"])
def test_parse_refuses_what_is_not_json(text: str) -> None:
    with pytest.raises(JsonataEvaluationError, match="parse"):
        evaluate("$parse($text)", variables={"text": text})
    with pytest.raises(JsonataEvaluationError, match="parse"):
        evaluate("$parse(1)")


# --- moto running JSONata state machines -----------------------------------------------------

ROLE = "arn:aws:iam::123456789012:role/test-states"
TABLE = "albums-local"


class ImageUnreadableError(Exception):
    pass


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack(table_name=TABLE) as local:
        yield local


@pytest.fixture
def engine(stack: LocalStack) -> Iterator[None]:
    with jsonata_engine():
        yield


def machine(stack: LocalStack, states: dict[str, Any], start_at: str) -> str:
    definition = {"QueryLanguage": "JSONata", "StartAt": start_at, "States": states}
    return str(
        stack.stepfunctions.create_state_machine(
            name=f"jsonata-{time.monotonic_ns()}", definition=json.dumps(definition), roleArn=ROLE
        )["stateMachineArn"]
    )


def start(stack: LocalStack, machine_arn: str, payload: Any, name: str | None = None) -> str:
    return str(
        stack.stepfunctions.start_execution(
            stateMachineArn=machine_arn,
            name=name or uuid.uuid4().hex,
            input=json.dumps(payload),
        )["executionArn"]
    )


def wait(stack: LocalStack, arn: str, timeout: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while (described := stack.stepfunctions.describe_execution(executionArn=arn))[
        "status"
    ] == "RUNNING":
        assert time.monotonic() < deadline, "execution still running"
        time.sleep(0.02)
    return dict(described)


def run(stack: LocalStack, machine_arn: str, payload: Any, name: str | None = None) -> Any:
    """Run one execution; return its output (``SUCCEEDED``) or its description."""
    described = wait(stack, start(stack, machine_arn, payload, name))
    if described["status"] == "SUCCEEDED":
        return json.loads(described["output"])
    return described


def test_moto_cannot_evaluate_jsonata_without_the_engine(stack: LocalStack) -> None:
    """Pins moto 5.2.x: no evaluator of its own (when it gets one, revisit the patch)."""
    from moto.stepfunctions.parser.asl.jsonata import jsonata

    assert jsonata._eval_jsonata is None  # type: ignore[attr-defined]
    arn = machine(stack, {"P": {"Type": "Pass", "Output": "{% 1 + 1 %}", "End": True}}, "P")
    described = run(stack, arn, {})
    assert described["status"] == "FAILED"


def test_the_engine_patches_and_restores_moto(stack: LocalStack) -> None:
    """Every patched internal is replaced while active and restored after."""
    from moto.stepfunctions.parser.asl.component.common.string import string_expression
    from moto.stepfunctions.parser.asl.component.state.choice.state_choice import StateChoice
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_dynamodb,
    )
    from moto.stepfunctions.parser.asl.eval import states, variable_store
    from moto.stepfunctions.parser.asl.jsonata import jsonata

    names: list[tuple[Any, str]] = [
        (jsonata, "_eval_jsonata"),
        (jsonata, "encode_jsonata_variable_declarations"),
        (states, "encode_jsonata_variable_declarations"),
        (variable_store, "encode_jsonata_variable_declarations"),
        (string_expression, "get_intrinsic_functions_declarations"),
        (string_expression.StringJSONata, "_eval_body"),
        (StateChoice, "_eval_state"),
        (StateChoice, "_eval_state_output"),
        (state_task_service_dynamodb.StateTaskServiceDynamoDB, "_from_error"),
    ]
    before = [getattr(owner, name) for owner, name in names]
    # moto's own declarations: $hash and $uuid are placeholders that would shadow ours.
    assert "not supported" in string_expression.get_intrinsic_functions_declarations({"$hash"})
    with jsonata_engine():
        during = [getattr(owner, name) for owner, name in names]
        assert all(now is not then for now, then in zip(during, before, strict=True))
        assert string_expression.get_intrinsic_functions_declarations({"$hash"}) == ""
    assert [getattr(owner, name) for owner, name in names] == before


def test_strings_survive_variables_and_states_exactly(stack: LocalStack, engine: None) -> None:
    """Smoke test of the declarations encoder: moto embeds ``$states`` and variables as text."""
    text = 'a "quoted" \\ back\\slash\nnew line\ttab — ü 日本 😀 {% %} $states'
    arn = machine(
        stack,
        {
            "Keep": {
                "Type": "Pass",
                "Assign": {"text": "{% $states.input.text %}", "nested": "{% $states.input %}"},
                "Next": "Show",
            },
            "Show": {
                "Type": "Pass",
                "Output": {
                    "variable": "{% $text %}",
                    "nested": "{% $nested.text %}",
                    "input": "{% $states.input.text %}",
                    "length": "{% $length($text) %}",
                    "hash": "{% $hash($text, 'SHA-256') %}",
                },
                "End": True,
            },
        },
        "Keep",
    )
    output = run(stack, arn, {"text": text})
    assert output == {
        "variable": text,
        "nested": text,
        "input": text,
        "length": len(text),
        "hash": hashlib.sha256(text.encode()).hexdigest(),
    }


def test_step_functions_functions_run_in_the_interpreter(stack: LocalStack, engine: None) -> None:
    """Smoke test of the intrinsic declarations patch: the real functions, not moto's."""
    arn = machine(
        stack,
        {
            "Functions": {
                "Type": "Pass",
                "Output": {
                    "partition": "{% $partition([1, 2, 3, 4, 5], 2) %}",
                    "range": "{% $range(1, 9, 3) %}",
                    "hash": "{% $hash('input data', 'MD5') %}",
                    "seeded": "{% $random(7) = $random(7) %}",
                    "uuid": "{% $uuid() %}",
                    "parse": "{% $parse($states.input.json) %}",
                },
                "End": True,
            }
        },
        "Functions",
    )
    output = run(stack, arn, {"json": '{"a": [1, null]}'})
    assert output["partition"] == [[1, 2], [3, 4], [5]]
    assert output["range"] == [1, 4, 7]
    assert output["hash"] == hashlib.md5(b"input data").hexdigest()  # noqa: S324
    assert output["seeded"] is True
    assert uuid.UUID(output["uuid"]).version == 4
    assert output["parse"] == {"a": [1, None]}


def test_a_failing_expression_is_a_query_evaluation_error(stack: LocalStack, engine: None) -> None:
    """Smoke test of the ``StringJSONata._eval_body`` patch (moto would say States.Runtime)."""
    function = stack.add_lambda("jsonata-unused", lambda event, context: event)
    arn = machine(
        stack,
        {
            "Call": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Arguments": {
                    "FunctionName": function,
                    "Payload": "{% $hash($states.input.data, 'SHA-999') %}",
                },
                "Catch": [
                    {
                        "ErrorEquals": ["States.QueryEvaluationError"],
                        "Output": "{% $states.errorOutput %}",
                        "Next": "Caught",
                    }
                ],
                "End": True,
            },
            "Caught": {"Type": "Succeed"},
            "Uncaught": {"Type": "Pass", "Output": "{% $parse('nope') %}", "End": True},
        },
        "Call",
    )
    caught = run(stack, arn, {"data": "x"})
    assert caught["Error"] == QUERY_EVALUATION_ERROR == "States.QueryEvaluationError"
    assert "SHA-999" in caught["Cause"]
    uncaught = machine(
        stack, {"Bad": {"Type": "Pass", "Output": "{% $parse('nope') %}", "End": True}}, "Bad"
    )
    described = run(stack, uncaught, {})
    assert described["status"] == "FAILED"
    assert described["error"] == "States.QueryEvaluationError"
    assert "$parse('nope')" in described["cause"]


def processing_machine(stack: LocalStack) -> str:
    """Choice rules with Assign and Output, a Task with a Catch, a Fail from variables."""

    def process(event: Any, context: Any) -> dict[str, Any]:
        if event["key"].endswith("broken.jpg"):
            raise ImageUnreadableError("cannot read 'broken.jpg'")
        return {"albums": 2, "seen": event}

    function = stack.add_lambda(f"jsonata-process-{time.monotonic_ns()}", process)
    return machine(
        stack,
        {
            "CheckUpload": {
                "Type": "Choice",
                "Choices": [
                    {
                        "Condition": (
                            "{% $contains($states.input.key, /^uploads\\/[a-z]+\\.jpg$/) %}"
                        ),
                        "Assign": {"route": "accepted", "upload": "{% $states.input %}"},
                        "Output": {"key": "{% $states.input.key %}"},
                        "Next": "ProcessImage",
                    },
                    {
                        "Condition": "{% true %}",
                        "Assign": {"route": "rejected"},
                        "Output": "{% {'rejected': $states.input.key} %}",
                        "Next": "UploadRejected",
                    },
                ],
            },
            "UploadRejected": {"Type": "Succeed"},
            "ProcessImage": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Arguments": (
                    f"{{% {{'FunctionName': '{function}', 'Payload': {{'key': $states.input.key,"
                    " 'execution': $states.context.Execution.Id,"
                    " 'name': $states.context.Execution.Name}} %}"
                ),
                "Output": "{% $states.result.Payload %}",
                "Assign": {"albums": "{% $states.result.Payload.albums %}"},
                "Catch": [
                    {
                        "ErrorEquals": ["States.ALL"],
                        "Assign": {
                            "failedStep": "ProcessImage",
                            "error": "{% $states.errorOutput %}",
                        },
                        "Output": "{% $states.errorOutput %}",
                        "Next": "Failed",
                    }
                ],
                "Next": "Done",
            },
            "Done": {
                "Type": "Succeed",
                "Output": {
                    "route": "{% $route %}",
                    "upload": "{% $upload %}",
                    "albums": "{% $albums %}",
                    "seen": "{% $states.input.seen %}",
                },
            },
            "Failed": {
                "Type": "Fail",
                "Error": "{% $error.Error %}",
                "Cause": "{% $failedStep & ': ' & $error.Cause %}",
            },
        },
        "CheckUpload",
    )


def test_choice_task_catch_and_fail_with_variables(stack: LocalStack, engine: None) -> None:
    arn = processing_machine(stack)
    upload = {"key": "uploads/shelf.jpg", "size": 10}
    execution = start(stack, arn, upload, name="run-accepted")
    output = json.loads(wait(stack, execution)["output"])
    assert output == {
        "route": "accepted",
        "upload": upload,
        "albums": 2,
        "seen": {"key": "uploads/shelf.jpg", "execution": execution, "name": "run-accepted"},
    }

    assert run(stack, arn, {"key": "elsewhere/x.png"}) == {"rejected": "elsewhere/x.png"}

    failed = run(stack, arn, {"key": "uploads/broken.jpg"})
    assert failed["status"] == "FAILED"
    assert failed["error"] == "ImageUnreadableError"
    cause = failed["cause"]
    assert cause.startswith("ProcessImage: ")
    assert json.loads(cause.removeprefix("ProcessImage: "))["errorMessage"] == (
        "cannot read 'broken.jpg'"
    )


def test_choice_state_level_assign_and_output_apply_only_to_the_default(
    stack: LocalStack, engine: None
) -> None:
    """Patched internals: ``StateChoice._eval_state`` and ``_eval_state_output``.

    As the ASL spec says, a matched rule's Assign and Output replace the state's, which
    apply only to the Default; moto told the Default by its name, so a rule whose Next is
    the Default state also got the state's.
    """
    arn = machine(
        stack,
        {
            "Route": {
                "Type": "Choice",
                "Assign": {"picked": "default", "stateLevel": True},
                "Output": {"from": "state"},
                "Choices": [
                    {
                        "Condition": "{% $states.input.n > 1 %}",
                        "Assign": {"picked": "{% 'rule ' & $string($states.input.n) %}"},
                        "Next": "Show",
                    }
                ],
                "Default": "Show",
            },
            "Show": {
                "Type": "Pass",
                "Output": {
                    "picked": "{% $picked %}",
                    "stateLevel": "{% $exists($stateLevel) %}",
                    "input": "{% $states.input %}",
                },
                "End": True,
            },
        },
        "Route",
    )
    assert run(stack, arn, {"n": 2}) == {"picked": "rule 2", "stateLevel": False, "input": {"n": 2}}
    assert run(stack, arn, {"n": 0}) == {
        "picked": "default",
        "stateLevel": True,
        "input": {"from": "state"},
    }


def test_retry_caps_backoff_and_applies_full_jitter(stack: LocalStack, engine: None) -> None:
    calls = {"n": 0}

    def flaky(event: Any, context: Any) -> dict[str, int]:
        calls["n"] += 1
        if calls["n"] < 4:
            raise ImageUnreadableError("not yet")
        return {"attempts": calls["n"]}

    function = stack.add_lambda("jsonata-flaky", flaky)
    arn = machine(
        stack,
        {
            "Call": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Arguments": {"FunctionName": function, "Payload": {}},
                "Output": "{% $states.result.Payload %}",
                "Retry": [
                    {
                        "ErrorEquals": ["ImageUnreadableError"],
                        "IntervalSeconds": 30,
                        "MaxAttempts": 3,
                        "BackoffRate": 2,
                        "MaxDelaySeconds": 40,
                        "JitterStrategy": "FULL",
                    }
                ],
                "End": True,
            }
        },
        "Call",
    )
    with scaled_retry_sleep(0.0) as shim:
        assert run(stack, arn, {}) == {"attempts": 4}
    # Backoff 30, 60, 120 capped at 40, then FULL jitter: anywhere in [0, cap].
    assert len(shim.requested) == 3
    assert all(0 <= slept <= cap for slept, cap in zip(shim.requested, (30, 40, 40), strict=True))
    assert shim.requested != [30, 40, 40]


def test_an_expression_error_in_a_dynamodb_task_keeps_its_name(
    stack: LocalStack, engine: None
) -> None:
    """Patched internal: ``StateTaskServiceDynamoDB._from_error`` (moto named every failure
    of the state itself, such as an ``Assign`` that evaluates to nothing,
    ``DynamoDB.AmazonDynamoDBException``)."""
    arn = machine(
        stack,
        {
            "Read": {
                "Type": "Task",
                "Resource": "arn:aws:states:::dynamodb:getItem",
                "Arguments": {"TableName": TABLE, "Key": claim_key("nobody")},
                "Assign": {"owner": "{% $states.result.Item.owner.S %}"},
                "Catch": [
                    {
                        "ErrorEquals": ["States.ALL"],
                        "Output": "{% $states.errorOutput %}",
                        "Next": "Caught",
                    }
                ],
                "End": True,
            },
            "Caught": {"Type": "Succeed"},
        },
        "Read",
    )
    caught = run(stack, arn, {})
    assert caught["Error"] == "States.QueryEvaluationError"
    assert "returned nothing" in caught["Cause"]


def claim_key(upload: str) -> dict[str, Any]:
    return {"pk": {"S": f"CLAIM#{upload}"}, "sk": {"S": "CLAIM"}}


def claim_machine(stack: LocalStack) -> str:
    """Optimized putItem, getItem and updateItem, and an aws-sdk transactWriteItems."""
    key = {"pk": {"S": "{% 'CLAIM#' & $states.input.upload %}"}, "sk": {"S": "CLAIM"}}
    return machine(
        stack,
        {
            "ClaimUpload": {
                "Type": "Task",
                "Resource": "arn:aws:states:::dynamodb:putItem",
                "Arguments": {
                    "TableName": TABLE,
                    "Item": {
                        "pk": {"S": "{% 'CLAIM#' & $states.input.upload %}"},
                        "sk": {"S": "CLAIM"},
                        "owner": {"S": "{% $states.context.Execution.Name %}"},
                    },
                    "ConditionExpression": "attribute_not_exists(pk)",
                },
                "Assign": {"claimed": True},
                "Output": "{% $states.input %}",
                "Catch": [
                    {
                        "ErrorEquals": ["DynamoDB.ConditionalCheckFailedException"],
                        "Assign": {"claimed": False, "claimError": "{% $states.errorOutput %}"},
                        "Output": "{% $states.input %}",
                        "Next": "ReadClaim",
                    }
                ],
                "Next": "ReadClaim",
            },
            "ReadClaim": {
                "Type": "Task",
                "Resource": "arn:aws:states:::dynamodb:getItem",
                "Arguments": {"TableName": TABLE, "Key": key, "ConsistentRead": True},
                "Assign": {"owner": "{% $states.result.Item.owner.S %}"},
                "Output": "{% $states.input %}",
                "Next": "IsOwnClaim",
            },
            "IsOwnClaim": {
                "Type": "Choice",
                "Choices": [
                    {
                        "Condition": "{% $owner = $states.context.Execution.Name %}",
                        "Next": "MarkAccepted",
                    }
                ],
                "Default": "Duplicate",
            },
            "Duplicate": {
                "Type": "Succeed",
                "Output": {
                    "duplicate": True,
                    "owner": "{% $owner %}",
                    "claimed": "{% $claimed %}",
                    "claimError": "{% $claimError.Error %}",
                },
            },
            "MarkAccepted": {
                "Type": "Task",
                "Resource": "arn:aws:states:::dynamodb:updateItem",
                "Arguments": {
                    "TableName": TABLE,
                    "Key": key,
                    "UpdateExpression": "SET #status = :status",
                    "ConditionExpression": "#owner = :owner",
                    "ExpressionAttributeNames": {"#status": "status", "#owner": "owner"},
                    "ExpressionAttributeValues": {
                        ":status": {"S": "accepted"},
                        ":owner": {"S": "{% $states.context.Execution.Name %}"},
                    },
                    "ReturnValues": "ALL_NEW",
                },
                "Assign": {"claim": "{% $states.result.Attributes %}"},
                "Output": "{% $states.input %}",
                "Next": "StoreAlbums",
            },
            "StoreAlbums": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:dynamodb:transactWriteItems",
                "Arguments": {
                    "TransactItems": (
                        "{% $append($map($states.input.albums, function($album, $i) {"
                        " {'Put': {'TableName': '" + TABLE + "', 'Item': {"
                        "'pk': {'S': 'UPLOAD#' & $states.input.upload},"
                        " 'sk': {'S': 'ALBUM#' & $string($i)},"
                        " 'title': {'S': $album.title}},"
                        " 'ConditionExpression': 'attribute_not_exists(pk)'}} }),"
                        " [{'Update': {'TableName': '" + TABLE + "', 'Key': {"
                        "'pk': {'S': 'CLAIM#' & $states.input.upload}, 'sk': {'S': 'CLAIM'}},"
                        " 'UpdateExpression': 'SET albums = :n',"
                        " 'ExpressionAttributeValues':"
                        " {':n': {'N': $string($count($states.input.albums))}}"
                        "}}]) %}"
                    )
                },
                "Catch": [
                    {
                        "ErrorEquals": ["DynamoDb.TransactionCanceledException"],
                        "Output": "{% $states.errorOutput %}",
                        "Next": "StoreCancelled",
                    }
                ],
                "Output": {"stored": "{% $count($states.input.albums) %}", "claim": "{% $claim %}"},
                "End": True,
            },
            "StoreCancelled": {
                "Type": "Fail",
                "Error": "{% $states.input.Error %}",
                "Cause": "{% $states.input.Cause %}",
            },
        },
        "ClaimUpload",
    )


def table_item(stack: LocalStack, key: dict[str, Any]) -> dict[str, Any] | None:
    item = stack.dynamodb.get_item(TableName=TABLE, Key=key, ConsistentRead=True).get("Item")
    return None if item is None else dict(item)


def test_dynamodb_integrations_and_their_errors(stack: LocalStack, engine: None) -> None:
    arn = machine_arn = claim_machine(stack)
    albums = {"upload": "u1", "albums": [{"title": "Abbey Road"}, {"title": 'Say "Hi"'}]}
    recorder = aws_calls.CallRecorder()
    with aws_calls.recording(recorder):
        first = run(stack, arn, albums, name="run-first")
    assert first == {
        "stored": 2,
        "claim": {
            "pk": {"S": "CLAIM#u1"},
            "sk": {"S": "CLAIM"},
            "owner": {"S": "run-first"},
            "status": {"S": "accepted"},
        },
    }
    assert table_item(stack, claim_key("u1")) == {
        "pk": {"S": "CLAIM#u1"},
        "sk": {"S": "CLAIM"},
        "owner": {"S": "run-first"},
        "status": {"S": "accepted"},
        "albums": {"N": "2"},
    }
    album = table_item(stack, {"pk": {"S": "UPLOAD#u1"}, "sk": {"S": "ALBUM#1"}})
    assert album is not None
    assert album["title"] == {"S": 'Say "Hi"'}

    # The interpreter's calls go through boto3 clients: recorded as the state machine's.
    snapshot = recorder.snapshot()
    assert snapshot["unexpanded_calls"] == {}
    principal = snapshot["principals"][aws_calls.STATE_MACHINE]
    actions = {entry["action"]: entry["operations"] for entry in principal["authorizations"]}
    assert actions == {
        "dynamodb:PutItem": ["dynamodb.PutItem", "dynamodb.TransactWriteItems"],
        "dynamodb:GetItem": ["dynamodb.GetItem"],
        "dynamodb:UpdateItem": ["dynamodb.TransactWriteItems", "dynamodb.UpdateItem"],
    }
    assert principal["calls"] == 4

    # Another execution of the same upload: the conditional put fails and is caught.
    assert run(stack, machine_arn, albums, name="run-second") == {
        "duplicate": True,
        "owner": "run-first",
        "claimed": False,
        "claimError": "DynamoDB.ConditionalCheckFailedException",
    }

    # Its own claim but albums already stored: the transaction is cancelled.
    stack.dynamodb.delete_item(TableName=TABLE, Key=claim_key("u1"))
    cancelled = run(stack, machine_arn, albums, name="run-third")
    assert cancelled["status"] == "FAILED"
    assert cancelled["error"] == "DynamoDb.TransactionCanceledException"
    assert "ConditionalCheckFailed" in cancelled["cause"]


@pytest.fixture
def failing_puts(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto's DynamoDB fails every PutItem with the error code the item's ``pk`` names."""
    from moto.dynamodb.exceptions import ERROR_TYPE_PREFIX, DynamodbException
    from moto.dynamodb.models import DynamoDBBackend

    def put_item(
        self: Any, table_name: str, item_attrs: dict[str, Any], *args: Any, **kwargs: Any
    ) -> Any:
        code = item_attrs["pk"]["S"]
        raise DynamodbException(ERROR_TYPE_PREFIX + code, f"injected {code}")

    monkeypatch.setattr(DynamoDBBackend, "put_item", put_item)


#: DynamoDB's throttling and transient errors (botocore's model), and a conditional failure.
DYNAMODB_ERRORS = [
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "TransactionConflictException",
    "ConditionalCheckFailedException",
]


def test_dynamodb_error_names_of_each_integration(
    stack: LocalStack, engine: None, failing_puts: None
) -> None:
    """The names ``Retry``/``Catch`` see: ``DynamoDB.<code>`` (optimized integration) and
    ``DynamoDb.<exception class>`` with an ``Exception`` suffix (AWS SDK integration)."""
    put = {"TableName": TABLE, "Item": {"pk": {"S": "{% $states.input.code %}"}, "sk": {"S": "x"}}}
    arn = machine(
        stack,
        {
            "EachError": {
                "Type": "Map",
                "Items": "{% $states.input.codes %}",
                "ItemSelector": {"code": "{% $states.context.Map.Item.Value %}"},
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "Optimized",
                    "States": {
                        "Optimized": {
                            "Type": "Task",
                            "Resource": "arn:aws:states:::dynamodb:putItem",
                            "Arguments": put,
                            "Catch": [
                                {
                                    "ErrorEquals": ["States.ALL"],
                                    "Assign": {"optimized": "{% $states.errorOutput.Error %}"},
                                    "Output": "{% $states.input %}",
                                    "Next": "Sdk",
                                }
                            ],
                            "Next": "Sdk",
                        },
                        "Sdk": {
                            "Type": "Task",
                            "Resource": "arn:aws:states:::aws-sdk:dynamodb:putItem",
                            "Arguments": put,
                            "Catch": [
                                {
                                    "ErrorEquals": ["States.ALL"],
                                    "Output": {
                                        "code": "{% $states.input.code %}",
                                        "optimized": "{% $optimized %}",
                                        "sdk": "{% $states.errorOutput.Error %}",
                                    },
                                    "Next": "Named",
                                }
                            ],
                            "Next": "Named",
                        },
                        "Named": {"Type": "Succeed"},
                    },
                },
                "End": True,
            }
        },
        "EachError",
    )
    names = {
        entry["code"]: (entry["optimized"], entry["sdk"])
        for entry in run(stack, arn, {"codes": DYNAMODB_ERRORS})
    }
    assert names == {
        "ProvisionedThroughputExceededException": (
            "DynamoDB.ProvisionedThroughputExceededException",
            "DynamoDb.ProvisionedThroughputExceededException",
        ),
        "ThrottlingException": ("DynamoDB.ThrottlingException", "DynamoDb.ThrottlingException"),
        "RequestLimitExceeded": (
            "DynamoDB.RequestLimitExceeded",
            "DynamoDb.RequestLimitExceededException",
        ),
        "InternalServerError": (
            "DynamoDB.InternalServerError",
            "DynamoDb.InternalServerErrorException",
        ),
        "TransactionConflictException": (
            "DynamoDB.TransactionConflictException",
            "DynamoDb.TransactionConflictException",
        ),
        "ConditionalCheckFailedException": (
            "DynamoDB.ConditionalCheckFailedException",
            "DynamoDb.ConditionalCheckFailedException",
        ),
    }


class PriceUnavailableError(Exception):
    pass


def test_map_over_a_variable_with_lambda_items_and_a_per_item_catch(
    stack: LocalStack, engine: None
) -> None:
    def estimate(event: Any, context: Any) -> dict[str, Any]:
        if event["title"] == "Unknown":
            raise PriceUnavailableError(f"no price for item {event['index']}")
        return {"title": event["title"], "price": 10 + event["index"], "run": event["run"]}

    function = stack.add_lambda("jsonata-estimate", estimate)
    arn = machine(
        stack,
        {
            "ApplyValidation": {
                "Type": "Pass",
                "Assign": {"validated": "{% $states.input.albums[valid] %}"},
                "Next": "EstimatePrices",
            },
            "EstimatePrices": {
                "Type": "Map",
                "Items": "{% $validated %}",
                "ItemSelector": {
                    "title": "{% $states.context.Map.Item.Value.title %}",
                    "index": "{% $states.context.Map.Item.Index %}",
                    "run": "{% $states.context.Execution.Name %}",
                },
                "MaxConcurrency": 2,
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "EstimatePrice",
                    "States": {
                        "EstimatePrice": {
                            "Type": "Task",
                            "Resource": "arn:aws:states:::lambda:invoke",
                            "Arguments": {
                                "FunctionName": function,
                                "Payload": "{% $states.input %}",
                            },
                            "Output": "{% $states.result.Payload %}",
                            "Catch": [
                                {
                                    "ErrorEquals": ["PriceUnavailableError"],
                                    "Output": {
                                        "title": "{% $states.input.title %}",
                                        "error": "{% $states.errorOutput.Error %}",
                                    },
                                    "Next": "PriceFailed",
                                }
                            ],
                            "End": True,
                        },
                        "PriceFailed": {"Type": "Succeed"},
                    },
                },
                "Output": "{% {'prices': $states.result, 'count': $count($validated)} %}",
                "End": True,
            },
        },
        "ApplyValidation",
    )
    albums = [
        {"title": "Abbey Road", "valid": True},
        {"title": "Skipped", "valid": False},
        {"title": "Unknown", "valid": True},
        {"title": "Revolver", "valid": True},
    ]
    assert run(stack, arn, {"albums": albums}, name="run-map") == {
        "prices": [
            {"title": "Abbey Road", "price": 10, "run": "run-map"},
            {"title": "Unknown", "error": "PriceUnavailableError"},
            {"title": "Revolver", "price": 12, "run": "run-map"},
        ],
        "count": 3,
    }


def test_map_item_selector_must_be_an_object_in_moto(stack: LocalStack) -> None:
    """moto 5.2.x's ASL grammar refuses a whole-JSONata ``ItemSelector`` (the spec allows it)."""
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError, match="ASLParserException"):
        machine(
            stack,
            {
                "Each": {
                    "Type": "Map",
                    "Items": "{% [1, 2] %}",
                    "ItemSelector": "{% {'value': $states.context.Map.Item.Value} %}",
                    "ItemProcessor": {
                        "StartAt": "Done",
                        "States": {"Done": {"Type": "Succeed"}},
                    },
                    "End": True,
                }
            },
            "Each",
        )


def validation_machine(stack: LocalStack, function: str, timeout_seconds: int) -> str:
    return machine(
        stack,
        {
            "WaitForValidation": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "Arguments": {
                    "FunctionName": function,
                    "Payload": {
                        "token": "{% $states.context.Task.Token %}",
                        "executionArn": "{% $states.context.Execution.Id %}",
                    },
                },
                "TimeoutSeconds": timeout_seconds,
                "Assign": {"decision": "{% $states.result %}"},
                "Output": "{% {'decision': $states.result} %}",
                "Catch": [
                    {
                        "ErrorEquals": ["States.Timeout"],
                        "Assign": {
                            "failedStep": "WaitForValidation",
                            "error": "{% $states.errorOutput %}",
                        },
                        "Next": "ExpireValidationTask",
                    }
                ],
                "End": True,
            },
            "ExpireValidationTask": {
                "Type": "Pass",
                "Output": {"expired": "{% $failedStep %}", "error": "{% $error.Error %}"},
                "End": True,
            },
        },
        "WaitForValidation",
    )


def test_wait_for_task_token_answered_and_timed_out(stack: LocalStack, engine: None) -> None:
    tokens: dict[str, str] = {}
    function = stack.add_lambda(
        "jsonata-notify",
        lambda event, context: tokens.update({event["executionArn"]: event["token"]}),
    )
    with early_answers_kept():
        answered = start(stack, validation_machine(stack, function, 30), {}, name="run-answered")
        deadline = time.monotonic() + 5
        while answered not in tokens:
            assert time.monotonic() < deadline, "the notifier never got the token"
            time.sleep(0.02)
        stack.stepfunctions.send_task_success(
            taskToken=tokens[answered], output=json.dumps({"corrections": ['say "hi"']})
        )
        assert json.loads(wait(stack, answered)["output"]) == {
            "decision": {"corrections": ['say "hi"']}
        }

        expired = run(stack, validation_machine(stack, function, 1), {}, name="run-expired")
    assert expired == {"expired": "WaitForValidation", "error": "States.Timeout"}
