r"""JSONata as Step Functions evaluates it, for local mode and for tests.

:func:`evaluate` evaluates one JSONata expression (the text between ``{%`` and ``%}``)
with ``$states`` and the workflow variables bound, and with the functions Step Functions
adds to JSONata registered (:data:`STEP_FUNCTIONS_FUNCTIONS`): ``$partition``,
``$range``, ``$hash``, ``$random`` (with an optional seed), ``$uuid`` and ``$parse``.
``$eval`` is refused, as Step Functions refuses it. The evaluator is ``jsonata-python``
(import name ``jsonata``), a port of the JSONata reference implementation. Numbers come
back as JSON has them: a whole number is an ``int`` (JSONata has one number type, and
``2.0`` is written ``2``).

:func:`jsonata_engine` makes moto's ASL interpreter run ``"QueryLanguage": "JSONata"``
state machines while active. moto 5.2.x evaluates JSONata through a module-level function
pointer it never sets (it expects a JVM bridge); the context manager patches these moto
internals, each with a smoke test in ``tests/unit/test_localmode_jsonata.py``:

- ``asl.jsonata.jsonata._eval_jsonata``: set to :func:`evaluate_composed`;
- ``encode_jsonata_variable_declarations`` (in ``asl.jsonata.jsonata`` and where
  ``asl.eval.states`` and ``asl.eval.variable_store`` imported it): moto writes
  ``$states`` and every variable into the expression's text, strings between quotes
  without escaping them (a ``"`` or ``\`` in a value broke the expression) and other
  values with ``ensure_ascii`` escapes (which the evaluator turns into unpaired
  surrogates); :func:`encode_variable_declarations` writes every value as exact JSON,
  which :func:`evaluate_composed` binds rather than have JSONata parse it;
- ``get_intrinsic_functions_declarations`` (as ``asl.component.common.string.
  string_expression`` imported it): moto prepends its own JSONata definitions of
  ``$partition``, ``$range``, ``$hash``, ``$uuid``, ``$parse`` and ``$randomSeeded``
  (``$hash`` and ``$uuid`` return the text "not supported"), which shadow the real ones;
  the patch prepends none;
- ``StringJSONata._eval_body``: an expression that fails to evaluate (a syntax error, a
  type error, a bad argument of a Step Functions function) fails the state with
  ``States.QueryEvaluationError``, as on AWS, not moto's ``States.Runtime``;
- ``StateChoice._eval_state`` and ``_eval_state_output``: the state-level ``Assign`` and
  ``Output`` of a Choice apply only when no rule matched (the ASL spec); moto told that
  case by the next state's name, so a rule whose ``Next`` is the ``Default`` state had
  them evaluated over its own;
- ``StateTaskServiceDynamoDB._from_error``: moto named every failure of an optimized
  DynamoDB task that is not a DynamoDB error, an expression's included,
  ``DynamoDB.AmazonDynamoDBException``; the state's own failures keep their names, as in
  the other integrations.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import json
import math
import random
import re
import sys
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Final, cast

#: The algorithms of ``$hash`` (and ``States.Hash``), by the names Step Functions takes.
HASH_ALGORITHMS: Final[Mapping[str, Callable[[bytes], Any]]] = {
    "MD5": hashlib.md5,
    "SHA-1": hashlib.sha1,
    "SHA-256": hashlib.sha256,
    "SHA-384": hashlib.sha384,
    "SHA-512": hashlib.sha512,
}
#: The error name Step Functions gives a JSONata expression that fails to evaluate.
QUERY_EVALUATION_ERROR: Final = "States.QueryEvaluationError"
#: The largest integer a JSONata (IEEE double) number holds exactly.
_MAX_EXACT_INTEGER: Final = 2**53
_SURROGATE: Final = re.compile("[\ud800-\udfff]")
#: Marks the declarations :func:`encode_variable_declarations` writes (a JSONata comment).
_DECLARATION_MARK: Final = "/*localmode:binding*/"
_DECLARED_NAME: Final = re.compile(r"\$([^\W\d]\w*):=")
_JSON: Final = json.JSONDecoder()


class JsonataEvaluationError(Exception):
    """A JSONata expression could not be evaluated (``States.QueryEvaluationError``).

    Parameters
    ----------
    message
        What went wrong.
    code
        The JSONata error code (``T0410``, ``S0201``...) when the evaluator gave one.
    """

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


# --- the functions Step Functions adds ---------------------------------------------------


def _describe(value: Any) -> str:
    if value is None:
        return "null or nothing"
    return json.dumps(_to_json(value), ensure_ascii=False)


def _arguments(name: str, args: tuple[Any, ...], required: int, optional: int = 0) -> list[Any]:
    """Return the arguments of ``$name`` (missing optional ones as ``None``)."""
    if not required <= len(args) <= required + optional:
        expected = str(required) if not optional else f"{required} to {required + optional}"
        raise JsonataEvaluationError(
            f"${name} takes {expected} argument{'s' if required + optional != 1 else ''}, "
            f"got {len(args)}"
        )
    return [_to_json(arg) for arg in args] + [None] * (required + optional - len(args))


def _integer(name: str, what: str, value: Any) -> int:
    """Return ``value`` as an ``int`` when it is a whole JSON number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise JsonataEvaluationError(f"${name}: {what} must be an integer, got {_describe(value)}")
    if isinstance(value, float) and not value.is_integer():
        raise JsonataEvaluationError(f"${name}: {what} must be an integer, got {_describe(value)}")
    return int(value)


def _partition(*args: Any) -> list[list[Any]]:
    """``$partition(array, size)``: the array cut into chunks of ``size`` (the last shorter)."""
    array, size = _arguments("partition", args, 2)
    if not isinstance(array, list):
        raise JsonataEvaluationError(
            f"$partition: the first argument must be an array, got {_describe(array)}"
        )
    chunk = _integer("partition", "the chunk size", size)
    if chunk < 1:
        raise JsonataEvaluationError(f"$partition: the chunk size must be positive, got {chunk}")
    return [array[start : start + chunk] for start in range(0, len(array), chunk)]


def _range(*args: Any) -> list[int]:
    """``$range(start, end, step)``: ``start``, ``start + step``... up to ``end`` inclusive.

    A step of zero, or one that moves away from ``end``, gives ``[]`` (the service's
    documented ``$range(1, 9, 0) => []``).
    """
    start, end, step = (
        _integer("range", what, value)
        for what, value in zip(("start", "end", "step"), _arguments("range", args, 3), strict=True)
    )
    if step == 0:
        return []
    return list(range(start, end + (1 if step > 0 else -1), step))


def _hash(*args: Any) -> str:
    """``$hash(data, algorithm)``: the lowercase hex digest of the UTF-8 bytes of ``data``."""
    data, algorithm = _arguments("hash", args, 2)
    if not isinstance(data, str):
        raise JsonataEvaluationError(f"$hash: the data must be a string, got {_describe(data)}")
    if not isinstance(algorithm, str) or algorithm not in HASH_ALGORITHMS:
        raise JsonataEvaluationError(
            f"$hash: the algorithm must be one of {', '.join(HASH_ALGORITHMS)}, "
            f"got {_describe(algorithm)}"
        )
    try:
        encoded = data.encode("utf-8")
    except UnicodeEncodeError as error:
        raise JsonataEvaluationError(f"$hash: the data is not valid text ({error})") from error
    return str(HASH_ALGORITHMS[algorithm](encoded).hexdigest())


def _random(*args: Any) -> float:
    """``$random([seed])``: a number in ``[0, 1)``; the same seed gives the same number.

    The numbers a seed gives are not the service's (its generator is not Python's).
    """
    (seed,) = _arguments("random", args, 0, optional=1)
    if seed is None:
        return random.random()  # noqa: S311  # nosec B311  # JSONata's $random is no cryptographic source
    return random.Random(_integer("random", "the seed", seed)).random()  # noqa: S311  # nosec B311  # the same, seeded


def _uuid(*args: Any) -> str:
    """``$uuid()``: a random (version 4) UUID."""
    _arguments("uuid", args, 0)
    return str(uuid.uuid4())


def _reject_constant(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def _parse(*args: Any) -> Any:
    """``$parse(jsonString)``: the JSON value the string holds."""
    (text,) = _arguments("parse", args, 1)
    if not isinstance(text, str):
        raise JsonataEvaluationError(
            f"$parse: the argument must be a string, got {_describe(text)}"
        )
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except ValueError as error:
        raise JsonataEvaluationError(f"$parse: the argument is not JSON ({error})") from error


def _eval(*_args: Any) -> Any:
    raise JsonataEvaluationError("$eval is not supported by Step Functions (use $parse)")


#: The functions Step Functions registers on top of JSONata's own, by name (without ``$``).
STEP_FUNCTIONS_FUNCTIONS: Final[Mapping[str, Callable[..., Any]]] = {
    "partition": _partition,
    "range": _range,
    "hash": _hash,
    "random": _random,
    "uuid": _uuid,
    "parse": _parse,
    "eval": _eval,
}


# --- values in and out ---------------------------------------------------------------------


def _to_jsonata(value: Any, null: Any) -> Any:
    """Return a JSON value as the evaluator takes it (JSON ``null`` as its null marker)."""
    if value is None:
        return null
    if isinstance(value, Mapping):
        return {str(key): _to_jsonata(item, null) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_to_jsonata(item, null) for item in value]
    return value


def _to_json(value: Any) -> Any:
    """Return an evaluator's value as plain JSON data (lists, dicts, ``int`` when whole)."""
    if isinstance(value, Mapping):
        return {str(key): _to_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_to_json(item) for item in value]
    if value is None or value is _null_value():
        return None
    if isinstance(value, str):
        return _joined_surrogates(value)
    if isinstance(value, float):
        return _json_number(value)
    if isinstance(value, bool | int):
        return value
    raise JsonataEvaluationError(
        f"the expression returned an unsupported result type ({type(value).__name__})"
    )


def _joined_surrogates(text: str) -> str:
    if _SURROGATE.search(text) is None:
        return text
    # A JSONata literal's "\ud83d\ude00" escapes arrive as two surrogates: join them.
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _json_number(value: float) -> float | int:
    if not math.isfinite(value):
        raise JsonataEvaluationError(f"the number {value} is not a JSON number", code="D1001")
    if value.is_integer() and abs(value) < _MAX_EXACT_INTEGER:
        return int(value)
    return value


@functools.cache
def _load_jsonata() -> None:
    """Import jsonata-python, keeping this process's recursion limit.

    Its first import sets ``sys.setrecursionlimit(10000)`` for the whole process (to match
    JavaScript's depth); that would change how every other part of the product meets
    deeply nested input (a JSON parser's RecursionError is how a too-deep model answer or
    request body is refused). Our expressions need no such depth.
    """
    limit = sys.getrecursionlimit()
    try:
        import jsonata  # type: ignore[import-untyped]  # noqa: F401, PLC0415 - local mode only
    finally:
        sys.setrecursionlimit(limit)


@functools.cache
def _null_value() -> Any:
    _load_jsonata()
    from jsonata import Utils  # noqa: PLC0415 - local mode only

    return Utils.NULL_VALUE


# --- evaluation ----------------------------------------------------------------------------


def _compile(expression: str) -> Any:
    """Parse ``expression`` and register the Step Functions functions on it."""
    _load_jsonata()
    from jsonata import JException, Jsonata  # noqa: PLC0415 - local mode only

    try:
        compiled = Jsonata(expression)
    except JException as error:
        raise JsonataEvaluationError(str(error), code=error.error) from error
    null = _null_value()
    for name, function in STEP_FUNCTIONS_FUNCTIONS.items():
        compiled.register_lambda(name, _returning_jsonata(function, null))
    return compiled


def _returning_jsonata(function: Callable[..., Any], null: Any) -> Callable[..., Any]:
    """Wrap ``function`` so that a JSON ``null`` it returns stays null (not undefined)."""

    def call(*args: Any) -> Any:
        return _to_jsonata(function(*args), null)

    return call


def evaluate(
    expression: str,
    *,
    states: Mapping[str, Any] | None = None,
    variables: Mapping[str, Any] | None = None,
) -> Any:
    """Evaluate one JSONata expression as Step Functions does; return its JSON value.

    Parameters
    ----------
    expression
        The expression (the text between ``{%`` and ``%}``).
    states
        The value of ``$states`` (``input``, ``result``, ``errorOutput``, ``context``);
        unbound when ``None``.
    variables
        The workflow variables, by name (``"error"`` or ``"$error"`` binds ``$error``).

    Returns
    -------
    Any
        The result as JSON data; ``None`` for JSON ``null`` and for no result (undefined).

    Raises
    ------
    JsonataEvaluationError
        When the expression does not parse or fails to evaluate (on AWS the state fails
        with ``States.QueryEvaluationError``).
    """
    _load_jsonata()
    from jsonata import JException  # noqa: PLC0415 - local mode only

    null = _null_value()
    bindings: dict[str, Any] = {}
    for name, value in (variables or {}).items():
        bindings[name.removeprefix("$")] = _to_jsonata(value, null)
    if states is not None:
        if "states" in bindings:
            raise ValueError("a workflow variable cannot be named states")
        bindings["states"] = _to_jsonata(states, null)
    compiled = _compile(expression)
    try:
        result = compiled.evaluate(None, bindings)
    except JsonataEvaluationError:
        raise
    except JException as error:
        raise JsonataEvaluationError(str(error), code=error.error) from error
    except (RecursionError, ArithmeticError, TypeError, ValueError, KeyError, IndexError) as error:
        # The evaluator lets some type errors of its own out as Python exceptions.
        raise JsonataEvaluationError(f"{type(error).__name__}: {error}") from error
    return _to_json(result)


# --- moto ------------------------------------------------------------------------------------


def _json_default(value: Any) -> str:
    # As moto's own encoder: a task result may hold dates (boto3 responses parse them).
    if isinstance(value, datetime.date | datetime.datetime):
        return value.isoformat()
    return str(value)


def encode_variable_declarations(bindings: Mapping[str, Any]) -> str:
    """Write JSONata declarations ``$name:=value;`` with every value as exact JSON.

    Stands in for moto's ``encode_jsonata_variable_declarations``: JSON text is a JSONata
    literal, and its characters are kept as they are (JSON escapes only what it must).
    Each declaration starts with a comment that marks it as one of these, so that
    :func:`evaluate_composed` can take the values back without JSONata parsing them.
    """
    return "".join(
        f"{_DECLARATION_MARK}{name}:="
        f"{json.dumps(value, ensure_ascii=False, separators=(',', ':'), default=_json_default)};"
        for name, value in bindings.items()
    )


def evaluate_composed(text: str) -> Any:
    """Evaluate an expression moto composed (its ``_eval_jsonata``).

    moto writes ``$states`` and the variables into the text as declarations ahead of the
    expression, ``(decl;decl;expression)``, and wraps some in ``$exists(...)`` or
    ``$type(...)``. The declarations :func:`encode_variable_declarations` wrote are read
    back as JSON and bound instead (the same values, thirty times faster than JSONata
    parsing a large ``$states`` as a literal); any other text is evaluated as it is.
    """
    start = text.find("(" + _DECLARATION_MARK)
    if start < 0:
        return evaluate(text)
    bindings: dict[str, Any] = {}
    position = start + 1
    while text.startswith(_DECLARATION_MARK, position):
        name = _DECLARED_NAME.match(text, position + len(_DECLARATION_MARK))
        if name is None:
            return evaluate(text)
        try:
            value, end = _JSON.raw_decode(text, name.end())
        except ValueError:
            return evaluate(text)
        if not text.startswith(";", end):
            return evaluate(text)
        bindings[name.group(1)] = value
        position = end + 1
    return evaluate(text[: start + 1] + text[position:], variables=bindings)


def _no_intrinsic_declarations(variable_references: Any) -> str:  # noqa: ARG001 - moto's keyword
    return ""


def _query_evaluation_failure(env: Any, expression: str, error: JsonataEvaluationError) -> Any:
    """Return the ``FailureEventException`` of a failed expression (moto 5.2.x types)."""
    from moto.stepfunctions.parser.api import (  # noqa: PLC0415 - local mode only
        EvaluationFailedEventDetails,
        HistoryEventType,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (  # noqa: PLC0415
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (  # noqa: PLC0415
        StatesErrorName,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (  # noqa: PLC0415
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import (  # noqa: PLC0415
        EventDetails,
    )

    error_name = StatesErrorName(typ=StatesErrorNameType.StatesQueryEvaluationError)
    cause = (
        f"The JSONata expression '{expression}' threw an error during evaluation. {error.message}"
    )
    return FailureEventException(
        failure_event=FailureEvent(
            env=env,
            error_name=error_name,
            event_type=HistoryEventType.EvaluationFailed,
            # moto's EventDetails is a TypedDict with every event's details required.
            event_details=cast(Any, EventDetails)(
                evaluationFailedEventDetails=EvaluationFailedEventDetails(
                    error=error_name.error_name, cause=cause
                )
            ),
        )
    )


class _DefaultTarget(str):
    """The next state's name when a Choice took its ``Default`` (no rule matched)."""

    __slots__ = ()


def _choice_eval_state(self: Any, env: Any) -> None:
    """Choose as moto 5.2.x ``StateChoice._eval_state``, marking the name of the Default."""
    for rule in self.choices_decl.rules:
        rule.eval(env)
        if env.stack.pop() is True:
            if not rule.next_stmt:
                raise RuntimeError(f"Missing Next definition for choice rule '{rule}' in '{self}'.")
            env.stack.append(rule.next_stmt.name)
            return
    if self.default_state is None:
        raise RuntimeError(f"No branching option reached in state {self.name}")
    env.stack.append(_DefaultTarget(self.default_state.state_name))


def _choice_eval_state_output(self: Any, env: Any) -> None:
    """Output as moto 5.2.x ``StateChoice._eval_state_output``, telling the Default by the mark.

    moto told it by the name, so a rule whose ``Next`` is also the ``Default`` had the
    state-level ``Assign`` and ``Output`` evaluated over its own.
    """
    next_state_name = env.stack.pop()
    if isinstance(next_state_name, _DefaultTarget):
        if self.assign_decl:
            self.assign_decl.eval(env=env)
        if self.output:
            self.output.eval(env=env)
    if self._is_language_query_jsonpath():
        if self.output_path:
            self.output_path.eval(env=env)
        else:
            env.states.reset(input_value=env.stack.pop())
    env.next_state_name = str(next_state_name)


@contextmanager
def jsonata_engine() -> Iterator[None]:
    """Make moto's ASL interpreter evaluate JSONata as Step Functions does (moto 5.2.x).

    Patches, while active, the internals the module docstring lists; restores them all on
    exit. Raises ``RuntimeError`` before patching anything when one of them is gone.
    """
    from moto.stepfunctions.parser.asl.component.common.error_name import (  # noqa: PLC0415
        failure_event,
    )
    from moto.stepfunctions.parser.asl.component.common.string import (  # noqa: PLC0415
        string_expression,
    )
    from moto.stepfunctions.parser.asl.component.state.choice import (  # noqa: PLC0415
        state_choice,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (  # noqa: PLC0415
        state_task_service_dynamodb,
    )
    from moto.stepfunctions.parser.asl.eval import (  # noqa: PLC0415 - local mode only
        states,
        variable_store,
    )
    from moto.stepfunctions.parser.asl.jsonata import jsonata  # noqa: PLC0415

    string_jsonata: Any = string_expression.StringJSONata
    dynamodb_task: Any = state_task_service_dynamodb.StateTaskServiceDynamoDB
    original_eval_body = string_jsonata._eval_body
    original_dynamodb_from_error = dynamodb_task._from_error

    def eval_body(self: Any, env: Any) -> None:
        try:
            original_eval_body(self, env)
        except JsonataEvaluationError as error:
            raise _query_evaluation_failure(env, self.expression, error) from error

    def dynamodb_from_error(self: Any, env: Any, ex: Exception) -> Any:
        # The state's own failures (an expression's) keep their name, as in other tasks.
        if isinstance(ex, failure_event.FailureEventException):
            return ex.failure_event
        return original_dynamodb_from_error(self, env, ex)

    replacements: list[tuple[Any, str, Any]] = [
        (jsonata, "_eval_jsonata", evaluate_composed),
        (jsonata, "encode_jsonata_variable_declarations", encode_variable_declarations),
        (states, "encode_jsonata_variable_declarations", encode_variable_declarations),
        (variable_store, "encode_jsonata_variable_declarations", encode_variable_declarations),
        (string_expression, "get_intrinsic_functions_declarations", _no_intrinsic_declarations),
        (string_jsonata, "_eval_body", eval_body),
        (state_choice.StateChoice, "_eval_state", _choice_eval_state),
        (state_choice.StateChoice, "_eval_state_output", _choice_eval_state_output),
        (dynamodb_task, "_from_error", dynamodb_from_error),
    ]
    missing = [
        f"{owner.__name__}.{name}" for owner, name, _ in replacements if not hasattr(owner, name)
    ]
    if missing:  # moto moved them: fail loudly rather than run half patched
        raise RuntimeError(f"moto internals gone (moto changed): {', '.join(missing)}")
    originals = [(owner, name, getattr(owner, name)) for owner, name, _ in replacements]
    for owner, name, replacement in replacements:
        setattr(owner, name, replacement)
    try:
        yield
    finally:
        for owner, name, original in reversed(originals):
            setattr(owner, name, original)
