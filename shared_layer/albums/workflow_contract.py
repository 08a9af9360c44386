"""The workflow contract both orchestrations are built from: step names and retry policies.

The state machine and the durable function run the same business steps (:class:`Step`);
each step's name is the ASL state name and the durable operation name alike. The JSON the
steps pass to each other is the contract's other half, :mod:`albums.step_data` (one JSON
Schema per shape). How each step is retried lives in one data file,
``albums/data/workflow_contract.json``, shipped in the layer:

- the durable orchestrator builds its retry strategies from it at run time
  (``orchestrator.config``, through :func:`load_contract`);
- Terraform reads it with ``jsondecode(file(...))`` and passes :func:`asl_retry_variables`'s
  twin (``local.asl_retry_variables`` in ``terraform/modules/album_registration``) to the
  ASL template; local mode renders the template with :func:`asl_retry_variables`. The two
  are byte-identical: :func:`asl_retry_variables` writes JSON as Terraform's
  ``jsonencode()`` does.

The file (see its ``why``):

- ``steps``: per :class:`Step`, ``policy`` (a name in ``policies``, or null: the step is not
  retried itself) and ``integration`` (``lambda`` | ``dynamodb``, null with no policy);
- ``policies``: per name, ``retries``, ``intervalSeconds``, ``backoffRate``,
  ``maxDelaySeconds``, ``jitter`` (``FULL`` | ``NONE``) and ``errors`` (class names of
  :class:`~albums.domain.errors.TransientError` subclasses);
- ``integrationErrors``: per integration, the service error names the state machine retries
  too (appended to ``ErrorEquals``).

The file is validated strictly when loaded; a bad field raises
:class:`~albums.domain.errors.ConfigurationError` naming its JSON path (``$.policies.price.
intervalSeconds``).
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from types import MappingProxyType
from typing import Any, Final

from albums.domain import errors
from albums.domain.errors import ConfigurationError, TransientError

#: The contract file shipped in ``albums/data``.
CONTRACT_FILE: Final = "workflow_contract.json"

# Bounds the durable SDK accepts (attempts 1..10, whole seconds); the state machine's are wider.
MAX_RETRIES: Final = 9
MAX_INTERVAL_SECONDS: Final = 300
MAX_DELAY_SECONDS: Final = 900
MAX_BACKOFF_RATE: Final = 10.0

# ASL error names: dotted identifiers. Nothing in them needs escaping in JSON, so Python's
# and Terraform's encoders write them alike.
_ERROR_NAME: Final = re.compile(r"[A-Za-z][A-Za-z0-9]*(\.[A-Za-z][A-Za-z0-9]*)*")
# The same rule as the Terraform local: an underscore before each capital that follows a
# lower-case letter or digit, then lower case.
_WORD_BOUNDARY: Final = re.compile(r"([a-z0-9])([A-Z])")


class Step(StrEnum):
    """The workflow's business steps, in workflow order: ASL state and durable operation names.

    The durable names are what replay matches checkpoints against: never rename one for
    executions in flight.
    """

    ACCEPT_UPLOAD = "AcceptUpload"
    PROCESS_IMAGE = "ProcessImage"
    STORE_INITIAL_DATA = "StoreInitialData"
    WAIT_FOR_VALIDATION = "WaitForValidation"
    APPLY_VALIDATION = "ApplyValidation"
    REJECT_EXECUTION = "RejectExecution"
    ESTIMATE_PRICES = "EstimatePrices"
    #: One album's price: the Map iteration's task, ``EstimatePrice-<n>`` in the durable map.
    ESTIMATE_PRICE = "EstimatePrice"
    STORE_RESULTS = "StoreResults"
    RECORD_FAILURE = "RecordFailure"

    def for_album(self, index: int) -> str:
        """Return the per-album durable operation name, e.g. ``EstimatePrice-3``."""
        return f"{self.value}-{index}"

    @property
    def snake_name(self) -> str:
        """The name in snake case, e.g. ``store_initial_data``."""
        return _WORD_BOUNDARY.sub(r"\1_\2", self.value).lower()

    @property
    def retry_variable(self) -> str:
        """The ASL template variable holding this step's retriers, e.g. ``retry_process_image``."""
        return f"retry_{self.snake_name}"


#: States only the state machine has, and the step each one's time belongs to (``None``:
#: a terminal state, counted in no step).
STATE_MACHINE_ONLY_STATES: Final[Mapping[str, Step | None]] = MappingProxyType(
    {
        "CheckUpload": Step.ACCEPT_UPLOAD,
        "UploadRejected": None,
        "ReadClaim": Step.ACCEPT_UPLOAD,
        "IsOwnClaim": Step.ACCEPT_UPLOAD,
        "RecordDuplicate": Step.ACCEPT_UPLOAD,
        "Duplicate": None,
        "ExpireValidationTask": Step.APPLY_VALIDATION,
        "RejectValidationTask": Step.REJECT_EXECUTION,
        "Rejected": None,
        "PriceFailed": Step.ESTIMATE_PRICE,
        "Failed": None,
    }
)


def step_of_state(name: str) -> Step | None:
    """Return the step a state machine state belongs to.

    A state named as a step is that step; a state-machine-only state belongs to its step of
    :data:`STATE_MACHINE_ONLY_STATES`; a terminal or unknown state to none.
    """
    if name in STATE_MACHINE_ONLY_STATES:
        return STATE_MACHINE_ONLY_STATES[name]
    try:
        return Step(name)
    except ValueError:
        return None


class Integration(StrEnum):
    """How the state machine runs a step (which service errors it retries besides ours)."""

    LAMBDA = "lambda"
    DYNAMODB = "dynamodb"


class Jitter(StrEnum):
    """Retry jitter, as ASL's ``JitterStrategy`` and the durable SDK's ``JitterStrategy``."""

    FULL = "FULL"
    NONE = "NONE"


@dataclass(frozen=True, slots=True)
class RetrySpec:
    """One retry policy of the contract (``$.policies.<name>``).

    Parameters
    ----------
    name
        The policy's name (``vision``, ``price``, ``store``).
    retries
        Retries after the first attempt (ASL ``MaxAttempts``; the durable SDK's
        ``max_attempts`` is one more).
    interval_seconds
        Wait before the first retry.
    backoff_rate
        Multiplier of the wait after each retry.
    max_delay_seconds
        Longest wait.
    jitter
        ``FULL`` (a random wait up to the computed one) or ``NONE``.
    errors
        Class names in :mod:`albums.domain.errors`, each a ``TransientError`` subclass.
    """

    name: str
    retries: int
    interval_seconds: int
    backoff_rate: int | float
    max_delay_seconds: int
    jitter: Jitter
    errors: tuple[str, ...]

    @property
    def error_types(self) -> tuple[type[TransientError], ...]:
        """The classes of :attr:`errors` (what the durable strategy matches)."""
        return tuple(_transient_error(name) for name in self.errors)


@dataclass(frozen=True, slots=True)
class StepSpec:
    """One step of the contract (``$.steps.<Step>``): its retry policy and integration."""

    step: Step
    policy: str | None
    integration: Integration | None


@dataclass(frozen=True, slots=True)
class WorkflowContract:
    """The parsed contract file (see the module docstring)."""

    steps: Mapping[Step, StepSpec]
    policies: Mapping[str, RetrySpec]
    integration_errors: Mapping[Integration, tuple[str, ...]]

    def retry_of(self, step: Step) -> RetrySpec | None:
        """Return the retry policy of ``step`` (``None``: the step is not retried itself)."""
        name = self.steps[Step(step)].policy
        return None if name is None else self.policies[name]


# --- loading ---------------------------------------------------------------------------


def _contract_text() -> str:
    resource = resources.files("albums") / "data" / CONTRACT_FILE
    try:
        return resource.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigurationError(f"packaged {CONTRACT_FILE} is missing: {error}") from error


@functools.cache
def load_contract() -> WorkflowContract:
    """Return the packaged contract, parsed and validated once per process.

    Raises
    ------
    ConfigurationError
        The file is missing, not JSON, or a field is wrong (the message names its path).
    """
    return parse_contract(_contract_text())


def parse_contract(text: str, *, origin: str = CONTRACT_FILE) -> WorkflowContract:
    """Parse and validate the JSON text of a contract file.

    Raises
    ------
    ConfigurationError
        ``text`` is not JSON, or a field is missing, unknown or out of range; the message
        names the field's JSON path.
    """
    try:
        document = json.loads(text, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as error:
        raise ConfigurationError(f"{origin} is not valid JSON: {error}") from error
    except _DuplicateKeyError as error:
        raise ConfigurationError(f"{origin}: the key {error} appears twice in one object") from None
    return _Parser(origin).contract(document)


class _DuplicateKeyError(Exception):
    """A JSON object names a key twice (json.loads would keep the last silently)."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKeyError(repr(key))
        result[key] = value
    return result


class _Parser:
    """Validates a decoded contract, naming the JSON path of whatever is wrong."""

    def __init__(self, origin: str) -> None:
        self.origin = origin

    def fail(self, path: str, problem: str) -> ConfigurationError:
        return ConfigurationError(f"{self.origin}: {path} {problem}")

    def fields(self, value: object, path: str, required: Sequence[str]) -> Mapping[str, Any]:
        """Return ``value`` if it is an object with exactly the ``required`` fields."""
        if not isinstance(value, dict):
            raise self.fail(path, "must be an object")
        for key in value:
            if key not in required:
                raise self.fail(f"{path}.{key}", "is not a known field")
        for key in required:
            if key not in value:
                raise self.fail(f"{path}.{key}", "is missing")
        return value

    def text(self, value: object, path: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(path, "must be a non-empty string")
        return value

    def integer(self, value: object, path: str, low: int, high: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.fail(path, f"must be an integer in {low}..{high}, got {value!r}")
        return value

    def names(self, value: object, path: str) -> tuple[str, ...]:
        if not isinstance(value, list) or not value:
            raise self.fail(path, "must be a non-empty list of error names")
        for index, name in enumerate(value):
            if not isinstance(name, str) or not _ERROR_NAME.fullmatch(name):
                raise self.fail(f"{path}[{index}]", f"must be an error name, got {name!r}")
        if len(set(value)) != len(value):
            raise self.fail(path, "must not repeat a name")
        return tuple(value)

    def contract(self, document: object) -> WorkflowContract:
        root = self.fields(
            document, "$", ("source", "why", "steps", "policies", "integrationErrors")
        )
        self.text(root["source"], "$.source")
        why = root["why"]
        if not isinstance(why, list) or not why:
            raise self.fail("$.why", "must be a non-empty list of strings")
        for index, line in enumerate(why):
            self.text(line, f"$.why[{index}]")
        policies = self.policies(root["policies"])
        integration_errors = self.integration_errors(root["integrationErrors"])
        steps = self.steps(root["steps"], policies)
        return WorkflowContract(
            steps=MappingProxyType(steps),
            policies=MappingProxyType(policies),
            integration_errors=MappingProxyType(integration_errors),
        )

    def policies(self, value: object) -> dict[str, RetrySpec]:
        if not isinstance(value, dict) or not value:
            raise self.fail("$.policies", "must be a non-empty object")
        return {str(name): self.policy(str(name), spec) for name, spec in value.items()}

    def policy(self, name: str, value: object) -> RetrySpec:
        path = f"$.policies.{name}"
        spec = self.fields(
            value,
            path,
            ("retries", "intervalSeconds", "backoffRate", "maxDelaySeconds", "jitter", "errors"),
        )
        interval = self.integer(
            spec["intervalSeconds"], f"{path}.intervalSeconds", 1, MAX_INTERVAL_SECONDS
        )
        max_delay = self.integer(
            spec["maxDelaySeconds"], f"{path}.maxDelaySeconds", interval, MAX_DELAY_SECONDS
        )
        rate = spec["backoffRate"]
        if (
            isinstance(rate, bool)
            or not isinstance(rate, int | float)
            or not math.isfinite(rate)
            or not 1 <= rate <= MAX_BACKOFF_RATE
        ):
            raise self.fail(
                f"{path}.backoffRate", f"must be a number in 1..{MAX_BACKOFF_RATE:g}, got {rate!r}"
            )
        jitter = spec["jitter"]
        if not isinstance(jitter, str) or jitter not in set(Jitter):
            raise self.fail(f"{path}.jitter", f"must be FULL or NONE, got {jitter!r}")
        names = self.names(spec["errors"], f"{path}.errors")
        for index, error in enumerate(names):
            if _transient_error_or_none(error) is None:
                raise self.fail(
                    f"{path}.errors[{index}]",
                    f"must name a TransientError class of albums.domain.errors, got {error!r}",
                )
        return RetrySpec(
            name=name,
            retries=self.integer(spec["retries"], f"{path}.retries", 0, MAX_RETRIES),
            interval_seconds=interval,
            backoff_rate=rate,
            max_delay_seconds=max_delay,
            jitter=Jitter(jitter),
            errors=names,
        )

    def integration_errors(self, value: object) -> dict[Integration, tuple[str, ...]]:
        spec = self.fields(value, "$.integrationErrors", [i.value for i in Integration])
        return {
            integration: self.names(spec[integration.value], f"$.integrationErrors.{integration}")
            for integration in Integration
        }

    def steps(self, value: object, policies: Mapping[str, RetrySpec]) -> dict[Step, StepSpec]:
        spec = self.fields(value, "$.steps", [step.value for step in Step])
        return {step: self.step(step, spec[step.value], policies) for step in Step}

    def step(self, step: Step, value: object, policies: Mapping[str, RetrySpec]) -> StepSpec:
        path = f"$.steps.{step}"
        spec = self.fields(value, path, ("policy", "integration"))
        policy, integration = spec["policy"], spec["integration"]
        if policy is None:
            if integration is not None:
                raise self.fail(f"{path}.integration", "must be null when policy is null")
            return StepSpec(step, None, None)
        if not isinstance(policy, str) or policy not in policies:
            raise self.fail(
                f"{path}.policy",
                f"must name a policy of $.policies ({', '.join(sorted(policies))}) or be null,"
                f" got {policy!r}",
            )
        if not isinstance(integration, str) or integration not in set(Integration):
            raise self.fail(
                f"{path}.integration",
                f"must be one of {', '.join(Integration)}, got {integration!r}",
            )
        return StepSpec(step, policy, Integration(integration))


def _transient_error_or_none(name: str) -> type[TransientError] | None:
    candidate = getattr(errors, name, None)
    if isinstance(candidate, type) and issubclass(candidate, TransientError):
        return candidate
    return None


def _transient_error(name: str) -> type[TransientError]:
    error = _transient_error_or_none(name)
    if error is None:
        raise ConfigurationError(f"{name} is not a TransientError class of albums.domain.errors")
    return error


# --- the state machine's retriers --------------------------------------------------------


def asl_retriers(step: Step, contract: WorkflowContract | None = None) -> list[dict[str, Any]]:
    """Return the ASL ``Retry`` array of ``step`` (empty when it has no policy).

    ``ErrorEquals`` is the policy's errors, then its integration's service errors.

    Parameters
    ----------
    step
        The step.
    contract
        The contract (default: the packaged one, :func:`load_contract`).
    """
    if contract is None:
        contract = load_contract()
    spec = contract.steps[Step(step)]
    policy = contract.retry_of(step)
    if policy is None or spec.integration is None:
        return []
    return [
        {
            "ErrorEquals": [*policy.errors, *contract.integration_errors[spec.integration]],
            "IntervalSeconds": policy.interval_seconds,
            "MaxAttempts": policy.retries,
            "BackoffRate": policy.backoff_rate,
            "MaxDelaySeconds": policy.max_delay_seconds,
            "JitterStrategy": policy.jitter.value,
        }
    ]


def asl_retry_variables(contract: WorkflowContract | None = None) -> dict[str, str]:
    """Return the ASL template's retry variables: ``retry_<snake step>`` -> compact JSON.

    One per step that has a policy (:attr:`Step.retry_variable`), each value the text
    Terraform's ``jsonencode()`` writes for :func:`asl_retriers` (``local.
    asl_retry_variables`` of ``terraform/modules/album_registration``).

    Parameters
    ----------
    contract
        The contract (default: the packaged one, :func:`load_contract`).
    """
    if contract is None:
        contract = load_contract()
    return {
        step.retry_variable: terraform_jsonencode(asl_retriers(step, contract))
        for step in Step
        if contract.steps[step].policy is not None
    }


def terraform_jsonencode(value: object) -> str:
    """Return ``value`` as Terraform's ``jsonencode()`` writes it.

    No whitespace, object keys sorted, numbers in their shortest form (``2``, not ``2.0``).
    Strings are written as ``json.dumps`` does, which matches Terraform for printable ASCII
    without ``<``, ``>`` or ``&`` (what error names and ASL field names are).
    """
    return json.dumps(_shortest_numbers(value), separators=(",", ":"), sort_keys=True)


def _shortest_numbers(value: object) -> object:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {key: _shortest_numbers(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_shortest_numbers(item) for item in value]
    return value
