"""Checking what both patterns pass between steps against :mod:`albums.step_data`.

One function per pattern reads an execution's history, finds every piece of data that
went from one step to the next, and validates it against its shape (``jsonschema``,
draft 2020-12). Each returns how many values of each shape it checked, so a test can say
what its path carried; any value whose place the contract does not name fails the check,
so a new variable, Lambda or durable operation cannot slip past it unclassified.

Step Functions (``StepFunctionsPattern.history``):

- each Lambda's ``TaskScheduled`` payload, by function;
- each Lambda's result, the ``TaskSucceeded`` output's ``Payload`` (for the
  ``.waitForTaskToken`` notifier: its own result in ``TaskSubmitted``, and the answer,
  the ``TaskSucceeded`` output, a decision);
- every JSONata variable a state assigns that carries a shape (``$upload``, ``$albums``,
  ``$decision``, ``$validated``, ``$prices``, ``$corrections``);
- each Map iteration's ``EstimatePrice`` output (a price result, the Catch's too);
- the execution's output.

Durable (``LocalDurable.history``): each succeeded operation's result, decoded with the
SDK's own serializer (steps checkpoint in its typed envelope; the callback result is the
resumer's plain JSON), and the execution's result. Decoded values must be plain JSON: a
``Decimal`` or a tuple would come back from a checkpoint as something else than what went
in.
"""

from __future__ import annotations

import functools
import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, Final

from aws_durable_execution_sdk_python.serdes import EXTENDED_TYPES_SERDES, SerDesContext
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from albums import step_data
from albums.workflow_contract import Step

#: What "nothing" checks: the operations that hand no data on.
NOTHING: Final = "nothing"

#: Each Lambda of the state machine: its payload's shape and its result's.
LAMBDA_SHAPES: Final[Mapping[str, tuple[dict[str, Any], dict[str, Any]]]] = {
    "image_processor": (step_data.IMAGE_PROCESSOR_PAYLOAD, step_data.IMAGE_PROCESSOR_RESULT),
    "validation_notifier": (
        step_data.VALIDATION_NOTIFIER_PAYLOAD,
        step_data.VALIDATION_NOTIFIER_RESULT,
    ),
    "price_estimator": (step_data.PRICE_ESTIMATOR_PAYLOAD, step_data.PRICE_ESTIMATOR_RESULT),
}

#: The state machine's variables that carry a shape, by name (whichever state assigns them).
VARIABLE_SHAPES: Final[Mapping[str, dict[str, Any]]] = {
    "upload": step_data.UPLOAD,
    "albums": step_data.ALBUMS,
    "validated": step_data.VALIDATED_ALBUMS,
    "decision": step_data.DECISION,
    "prices": step_data.PRICE_RESULTS,
}
#: ... those that carry none: ids, the reviewer's reason, the failure's bookkeeping.
PLAIN_VARIABLES: Final = frozenset(
    {"executionId", "taskId", "claimHolder", "rejection", "failedStep", "error"}
)

#: The durable function's top-level operations: the shape of each one's result.
DURABLE_RESULTS: Final[Mapping[str, dict[str, Any] | None]] = {
    Step.ACCEPT_UPLOAD: step_data.ACCEPT_OUTCOME,
    Step.PROCESS_IMAGE: step_data.ALBUMS,
    Step.STORE_INITIAL_DATA: None,
    Step.WAIT_FOR_VALIDATION: step_data.DECISION,
    Step.APPLY_VALIDATION: step_data.VALIDATED_ALBUMS,
    Step.REJECT_EXECUTION: None,
    Step.ESTIMATE_PRICES: step_data.PRICE_RESULTS,
    Step.STORE_RESULTS: step_data.COMPLETION_STATUS,
    Step.RECORD_FAILURE: None,
}
#: One album's price step inside the map.
PRICE_STEP: Final = re.compile(rf"{Step.ESTIMATE_PRICE}-([1-6])")
#: The child operations ``wait_for_callback`` makes, named by the SDK after its parent.
CALLBACK_CHILDREN: Final = (" create callback id", " submitter")


def shape_name(schema: Mapping[str, Any] | None) -> str:
    """The shape's name in :data:`albums.step_data.SHAPES` (``nothing`` for ``None``)."""
    if schema is None:
        return NOTHING
    return str(schema["$id"]).removeprefix(step_data.ID_PREFIX)


@functools.cache
def _validator(name: str) -> Draft202012Validator:
    schema = step_data.SHAPES[name]
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def problems(schema: Mapping[str, Any], instance: object) -> list[str]:
    """Every way ``instance`` breaks ``schema``: the JSON path and the message of each.

    An error found inside a combinator (a ``not``, an ``anyOf``) is told by its closest
    sub-error, which names the field, rather than by the whole instance.
    """
    found = []
    for error in _validator(shape_name(schema)).iter_errors(instance):
        closest = best_match([error])
        found.append(f"{closest.json_path}: {closest.message}")
    return sorted(found)


def assert_shape(schema: Mapping[str, Any] | None, instance: object, where: str) -> None:
    """Fail unless ``instance`` is a ``schema`` (``None``: nothing, JSON null)."""
    if schema is None:
        assert instance is None, f"{where}: hands on {instance!r}, the contract says nothing"
        return
    found = problems(schema, instance)
    assert not found, f"{where} is not a {shape_name(schema)}:\n" + "\n".join(found[:20])


def _plain(value: Any, where: str) -> Any:
    """``value`` if it is plain JSON (what a checkpoint gives back is what went in)."""
    try:
        text = json.dumps(value)
    except TypeError as error:
        raise AssertionError(f"{where}: not plain JSON ({error})") from None
    assert json.loads(text) == value, f"{where}: does not survive a JSON round trip"
    return value


# --- Step Functions ---------------------------------------------------------------------


def _details(event: Mapping[str, Any]) -> Mapping[str, Any]:
    (details,) = [value for key, value in event.items() if key.endswith("EventDetails")] or [{}]
    return dict(details)


def step_functions_step_data(
    history: Sequence[Mapping[str, Any]], function_arns: Mapping[str, str]
) -> Counter[str]:
    """Check one state machine execution's step data; return the shapes checked.

    Keys are ``<shape>`` for variables, outputs and answers, and ``<function> payload`` /
    ``<function> result`` for the Lambdas, so a path's tally reads as what it carried.
    """
    functions = {arn: name for name, arn in function_arns.items()}
    by_id = {event["id"]: event for event in history}
    seen: Counter[str] = Counter()

    def scheduled_function(event: Mapping[str, Any]) -> str:
        """The function of the task an event belongs to (back along previousEventId)."""
        current = event
        while current["type"] != "TaskScheduled":
            current = by_id[current["previousEventId"]]
        parameters = json.loads(current["taskScheduledEventDetails"]["parameters"])
        return functions[parameters["FunctionName"]]

    for event in history:
        kind, details = event["type"], _details(event)
        where = f"event {event['id']} ({kind} {details.get('name', '')})".replace(" )", ")")
        if details.get("resourceType") == "lambda":
            resource = details["resource"]
            if kind == "TaskScheduled":
                parameters = json.loads(details["parameters"])
                name = functions.get(parameters["FunctionName"], "")
                assert name in LAMBDA_SHAPES, f"{where}: a Lambda the contract does not know"
                assert_shape(LAMBDA_SHAPES[name][0], parameters["Payload"], where)
                seen[f"{name} payload"] += 1
            elif kind == "TaskSubmitted" or (kind == "TaskSucceeded" and resource == "invoke"):
                name = scheduled_function(event)
                assert_shape(
                    LAMBDA_SHAPES[name][1], json.loads(details["output"])["Payload"], where
                )
                seen[f"{name} result"] += 1
            elif kind == "TaskSucceeded":  # a task token's answer
                assert resource == "invoke.waitForTaskToken", where
                assert_shape(step_data.DECISION, json.loads(details["output"]), where)
                seen[shape_name(step_data.DECISION)] += 1
        for variable, text in details.get("assignedVariables", {}).items():
            value = json.loads(text)
            place = f"{where} ${variable}"
            if variable == "corrections":  # the answer's corrections, cleaned
                assert_shape(step_data.DECISION, {"corrections": value}, place)
                seen["corrections"] += 1
            elif variable == "decision" and value is None:  # no answer: the review timed out
                seen["no decision"] += 1
            elif variable in VARIABLE_SHAPES:
                assert_shape(VARIABLE_SHAPES[variable], value, place)
                seen[shape_name(VARIABLE_SHAPES[variable])] += 1
            else:
                assert variable in PLAIN_VARIABLES, f"{place}: a variable the contract lacks"
        if kind == "TaskStateExited" and details["name"] == Step.ESTIMATE_PRICE:
            assert_shape(step_data.PRICE_RESULT, json.loads(details["output"]), where)
            seen[shape_name(step_data.PRICE_RESULT)] += 1
        if kind == "ExecutionSucceeded":
            assert_shape(step_data.OUTCOME, json.loads(details["output"]), where)
            seen[shape_name(step_data.OUTCOME)] += 1
    return seen


# --- durable -------------------------------------------------------------------------------


def _payload(details: Mapping[str, Any], where: str) -> Any:
    result = details["Result"]
    assert not result.get("Truncated"), f"{where}: the result is truncated"
    return result["Payload"]


def durable_step_data(history: Sequence[Mapping[str, Any]]) -> Counter[str]:
    """Check one durable execution's step data; return the shapes checked.

    Keys are shape names, and ``nothing`` for the operations that hand nothing on.
    """
    names = {event["Id"]: event.get("Name") for event in history if "SubType" in event}
    seen: Counter[str] = Counter()
    for event in history:
        kind = event["EventType"]
        if not kind.endswith("Succeeded"):
            continue
        details = event[f"{kind}Details"]
        name, parent = event.get("Name"), names.get(event.get("ParentId"))
        where = f"event {event['EventId']} ({kind} {name})"
        schema: dict[str, Any] | None
        if kind == "ExecutionSucceeded":
            value = _plain(json.loads(_payload(details, where)), where)
            schema = step_data.OUTCOME
        elif kind == "CallbackSucceeded":
            # The resumer's own JSON: wait_for_callback reads it with JsonSerDes.
            value = _plain(json.loads(_payload(details, where)), where)
            schema = step_data.DECISION
        else:
            decoded = EXTENDED_TYPES_SERDES.deserialize(_payload(details, where), SerDesContext())
            assert isinstance(name, str), where
            if parent is None:
                assert name in DURABLE_RESULTS, f"{where}: an operation the contract lacks"
                schema = DURABLE_RESULTS[name]
                if name == Step.ESTIMATE_PRICES:  # the map's BatchResult: each branch's result
                    decoded = [item.result for item in decoded.all]
            elif parent == Step.ESTIMATE_PRICES:
                assert PRICE_STEP.fullmatch(name), f"{where}: not EstimatePrice-<1..6>"
                schema = step_data.PRICE_ESTIMATE
            else:
                assert parent == Step.WAIT_FOR_VALIDATION, f"{where}: an unknown parent"
                assert name == f"{parent} submitter", f"{where}: an unknown child"
                schema = None
            value = _plain(decoded, where)
        assert_shape(schema, value, where)
        seen[shape_name(schema)] += 1
    return seen


def durable_operation_names(history: Sequence[Mapping[str, Any]]) -> dict[str, list[str]]:
    """Operation names by parent name (``""``: top level), each once, in history order."""
    by_id: dict[str, Mapping[str, Any]] = {}
    for event in history:
        if "SubType" in event:
            by_id.setdefault(event["Id"], event)
    tree: dict[str, list[str]] = {}
    for operation in by_id.values():
        parent = by_id.get(operation.get("ParentId", ""), {}).get("Name", "")
        tree.setdefault(str(parent), []).append(str(operation["Name"]))
    return tree


def unknown_operation_names(history: Sequence[Mapping[str, Any]]) -> list[str]:
    """Operation names outside the contract's vocabulary (empty: every one is known).

    Top level: a :class:`Step` value. In the map: ``EstimatePrice-<1..6>``. In the
    callback wait: the two children the SDK names after it.
    """
    vocabulary = {step.value for step in Step}
    unknown = []
    for parent, names in durable_operation_names(history).items():
        for name in names:
            if parent == "":
                known = name in vocabulary
            elif parent == Step.ESTIMATE_PRICES:
                known = PRICE_STEP.fullmatch(name) is not None
            elif parent == Step.WAIT_FOR_VALIDATION:
                known = name in {parent + child for child in CALLBACK_CHILDREN}
            else:
                known = False
            if not known:
                unknown.append(f"{parent}/{name}" if parent else name)
    return unknown
