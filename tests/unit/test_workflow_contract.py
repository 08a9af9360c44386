"""The workflow contract: one file decides the step names and retries of both patterns."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from aws_durable_execution_sdk_python.config import JitterStrategy

from albums import workflow_contract
from albums.domain import errors
from albums.domain.errors import (
    ConfigurationError,
    PriceSourceUnavailableError,
    TransientError,
    VisionThrottledError,
)
from albums.workflow_contract import (
    CONTRACT_FILE,
    STATE_MACHINE_ONLY_STATES,
    Integration,
    Jitter,
    Step,
    asl_retriers,
    asl_retry_variables,
    load_contract,
    parse_contract,
    step_of_state,
    terraform_jsonencode,
)
from localmode.templatefile import STATE_MACHINE_TEMPLATE, placeholders
from orchestrator.config import OrchestratorConfig

REPO_ROOT = Path(__file__).resolve().parents[2]
MODULE_DIR = REPO_ROOT / "terraform" / "modules" / "album_registration"
TERRAFORM = shutil.which("terraform")
LAMBDA_ERRORS = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
]


def packaged() -> dict[str, Any]:
    """The packaged contract file, decoded (a fresh copy to change)."""
    text = (resources.files("albums") / "data" / CONTRACT_FILE).read_text(encoding="utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


@pytest.fixture
def contract_file(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[dict[str, Any]], None]]:
    """Replace the packaged file's text for this test (the loaded contract is re-read)."""

    def use(document: dict[str, Any]) -> None:
        monkeypatch.setattr(workflow_contract, "_contract_text", lambda: json.dumps(document))
        load_contract.cache_clear()

    yield use
    load_contract.cache_clear()


# --- names -------------------------------------------------------------------------------


def test_the_ten_steps_in_workflow_order() -> None:
    assert [step.value for step in Step] == [
        "AcceptUpload",
        "ProcessImage",
        "StoreInitialData",
        "WaitForValidation",
        "ApplyValidation",
        "RejectExecution",
        "EstimatePrices",
        "EstimatePrice",
        "StoreResults",
        "RecordFailure",
    ]
    assert Step.ESTIMATE_PRICE.for_album(3) == "EstimatePrice-3"
    assert Step.STORE_INITIAL_DATA.snake_name == "store_initial_data"
    assert Step.WAIT_FOR_VALIDATION.retry_variable == "retry_wait_for_validation"


def test_state_machine_only_states_belong_to_a_step_or_to_none() -> None:
    assert not set(STATE_MACHINE_ONLY_STATES) & {step.value for step in Step}
    terminal = {name for name, step in STATE_MACHINE_ONLY_STATES.items() if step is None}
    assert terminal == {"UploadRejected", "Duplicate", "Rejected", "Failed"}
    assert step_of_state("CheckUpload") is Step.ACCEPT_UPLOAD
    assert step_of_state("ExpireValidationTask") is Step.APPLY_VALIDATION
    assert step_of_state("RejectValidationTask") is Step.REJECT_EXECUTION
    assert step_of_state("PriceFailed") is Step.ESTIMATE_PRICE
    assert step_of_state("StoreResults") is Step.STORE_RESULTS
    assert step_of_state("Duplicate") is None
    assert step_of_state("NoSuchState") is None
    with pytest.raises(TypeError):
        STATE_MACHINE_ONLY_STATES["CheckUpload"] = None  # type: ignore[index]


# --- the packaged file ---------------------------------------------------------------------


def test_the_packaged_contract_gives_every_step_its_policy() -> None:
    contract = load_contract()
    policies = {step: spec.policy for step, spec in contract.steps.items()}
    assert policies == {
        Step.ACCEPT_UPLOAD: "store",
        Step.PROCESS_IMAGE: "vision",
        Step.STORE_INITIAL_DATA: "store",
        Step.WAIT_FOR_VALIDATION: "store",
        Step.APPLY_VALIDATION: "store",
        Step.REJECT_EXECUTION: "store",
        Step.ESTIMATE_PRICES: None,  # the Map: its iterations retry
        Step.ESTIMATE_PRICE: "price",
        Step.STORE_RESULTS: "store",
        Step.RECORD_FAILURE: "store",
    }
    numbers = {
        name: (p.retries, p.interval_seconds, p.backoff_rate, p.max_delay_seconds, p.jitter)
        for name, p in contract.policies.items()
    }
    assert numbers == {
        "vision": (3, 2, 2, 60, Jitter.FULL),
        "price": (3, 2, 2, 60, Jitter.FULL),
        "store": (3, 1, 2, 60, Jitter.FULL),
    }
    assert set(contract.integration_errors) == set(Integration)
    assert list(contract.integration_errors[Integration.LAMBDA]) == LAMBDA_ERRORS


def test_every_policy_error_is_a_transient_error_class() -> None:
    for policy in load_contract().policies.values():
        assert policy.error_types == tuple(getattr(errors, name) for name in policy.errors)
        assert all(issubclass(error, TransientError) for error in policy.error_types)


# --- validation: every bad field is named by its JSON path --------------------------------


def _change(path: str, value: object) -> Callable[[dict[str, Any]], None]:
    """Set (or, for ``...``, delete) the field at a dotted path."""

    def apply(document: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target = document
        for key in parents:
            target = target[key]
        if value is ...:
            del target[last]
        else:
            target[last] = value

    return apply


BAD_FIELDS: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("unknown field", _change("comment", "x"), r"\$\.comment is not a known field"),
    ("missing section", _change("policies", ...), r"\$\.policies is missing"),
    ("empty why", _change("why", []), r"\$\.why must be a non-empty list"),
    ("unknown step", _change("steps.Accept", {}), r"\$\.steps\.Accept is not a known field"),
    ("missing step", _change("steps.RecordFailure", ...), r"\$\.steps\.RecordFailure is missing"),
    (
        "missing policy",
        _change("steps.ProcessImage.policy", "visoin"),
        r"\$\.steps\.ProcessImage\.policy must name a policy of \$\.policies",
    ),
    (
        "unknown integration",
        _change("steps.ProcessImage.integration", "sqs"),
        r"\$\.steps\.ProcessImage\.integration must be one of lambda, dynamodb",
    ),
    (
        "integration without a policy",
        _change("steps.EstimatePrices.integration", "lambda"),
        r"\$\.steps\.EstimatePrices\.integration must be null",
    ),
    (
        "missing policy field",
        _change("policies.price.retries", ...),
        r"\$\.policies\.price\.retries is missing",
    ),
    (
        "zero interval",
        _change("policies.price.intervalSeconds", 0),
        r"\$\.policies\.price\.intervalSeconds must be an integer in 1\.\.300, got 0",
    ),
    (
        "fractional interval",
        _change("policies.price.intervalSeconds", 1.5),
        r"\$\.policies\.price\.intervalSeconds must be an integer",
    ),
    (
        "interval as text",
        _change("policies.price.intervalSeconds", "2"),
        r"\$\.policies\.price\.intervalSeconds must be an integer",
    ),
    (
        "too many retries",
        _change("policies.vision.retries", 10),
        r"\$\.policies\.vision\.retries must be an integer in 0\.\.9, got 10",
    ),
    (
        "retries as a boolean",
        _change("policies.vision.retries", True),
        r"\$\.policies\.vision\.retries must be an integer",
    ),
    (
        "shrinking backoff",
        _change("policies.store.backoffRate", 0.5),
        r"\$\.policies\.store\.backoffRate must be a number in 1\.\.10, got 0\.5",
    ),
    (
        "backoff as text",
        _change("policies.store.backoffRate", "2"),
        r"\$\.policies\.store\.backoffRate must be a number",
    ),
    (
        "cap below the interval",
        _change("policies.vision.maxDelaySeconds", 1),
        r"\$\.policies\.vision\.maxDelaySeconds must be an integer in 2\.\.900, got 1",
    ),
    (
        "unknown jitter",
        _change("policies.vision.jitter", "HALF"),
        r"\$\.policies\.vision\.jitter must be FULL or NONE",
    ),
    (
        "no errors",
        _change("policies.price.errors", []),
        r"\$\.policies\.price\.errors must be a non-empty list",
    ),
    (
        "a permanent error",
        _change("policies.price.errors", ["PriceEstimationError"]),
        r"\$\.policies\.price\.errors\[0\] must name a TransientError class",
    ),
    (
        "an unknown error",
        _change("policies.price.errors", ["TransientError", "NoSuchError"]),
        r"\$\.policies\.price\.errors\[1\] must name a TransientError class",
    ),
    (
        "a repeated error",
        _change("policies.price.errors", ["TransientError", "TransientError"]),
        r"\$\.policies\.price\.errors must not repeat a name",
    ),
    (
        "a malformed service error",
        _change("integrationErrors.lambda", ["Lambda ServiceException"]),
        r"\$\.integrationErrors\.lambda\[0\] must be an error name",
    ),
    (
        "a missing integration",
        _change("integrationErrors.dynamodb", ...),
        r"\$\.integrationErrors\.dynamodb is missing",
    ),
]


@pytest.mark.parametrize(
    ("change", "message"),
    [pytest.param(change, message, id=name) for name, change, message in BAD_FIELDS],
)
def test_a_bad_field_is_refused_with_its_json_path(
    change: Callable[[dict[str, Any]], None], message: str
) -> None:
    document = packaged()
    change(document)
    with pytest.raises(ConfigurationError, match=rf"^{re.escape(CONTRACT_FILE)}: {message}"):
        parse_contract(json.dumps(document))


def test_text_that_is_not_one_json_document_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="is not valid JSON"):
        parse_contract("{")
    with pytest.raises(ConfigurationError, match="'retries' appears twice"):
        parse_contract('{"policies": {"p": {"retries": 1, "retries": 2}}}')


def test_a_bad_packaged_file_fails_the_orchestrator_config(
    contract_file: Callable[[dict[str, Any]], None],
) -> None:
    document = packaged()
    document["policies"]["store"]["intervalSeconds"] = 0
    contract_file(document)
    with pytest.raises(ConfigurationError, match=r"\$\.policies\.store\.intervalSeconds"):
        OrchestratorConfig()


# --- the state machine's retriers ------------------------------------------------------------


def test_asl_retriers_are_the_policy_then_the_integration_errors() -> None:
    assert asl_retriers(Step.PROCESS_IMAGE) == [
        {
            "ErrorEquals": [
                "VisionThrottledError",
                "VisionServiceError",
                "TransientError",
                *LAMBDA_ERRORS,
            ],
            "IntervalSeconds": 2,
            "MaxAttempts": 3,
            "BackoffRate": 2,
            "MaxDelaySeconds": 60,
            "JitterStrategy": "FULL",
        }
    ]
    (store,) = asl_retriers(Step.STORE_RESULTS)
    dynamodb = list(load_contract().integration_errors[Integration.DYNAMODB])
    assert store["ErrorEquals"] == ["RepositoryThrottledError", "TransientError", *dynamodb]
    assert store["IntervalSeconds"] == 1
    assert asl_retriers(Step.ESTIMATE_PRICES) == []


def test_retry_variables_are_what_the_template_asks_for() -> None:
    variables = asl_retry_variables()
    wanted = {name for name in placeholders(STATE_MACHINE_TEMPLATE.read_text()) if "retry" in name}
    assert set(variables) == wanted
    assert set(variables) == {
        step.retry_variable for step in Step if step is not Step.ESTIMATE_PRICES
    }
    for step in Step:
        if step.retry_variable in variables:
            text = variables[step.retry_variable]
            assert json.loads(text) == asl_retriers(step)
            assert text == terraform_jsonencode(asl_retriers(step))
    assert variables["retry_estimate_price"] == (
        '[{"BackoffRate":2,"ErrorEquals":["PriceSourceUnavailableError","TransientError",'
        + ",".join(f'"{name}"' for name in LAMBDA_ERRORS)
        + '],"IntervalSeconds":2,"JitterStrategy":"FULL","MaxAttempts":3,"MaxDelaySeconds":60}]'
    )


def test_numbers_are_written_in_their_shortest_form() -> None:
    assert terraform_jsonencode({"b": 2.0, "a": [1.5, 10, 0.25]}) == '{"a":[1.5,10,0.25],"b":2}'


# --- one file, both patterns -----------------------------------------------------------------


def test_the_durable_strategies_are_built_from_the_file() -> None:
    config, contract = OrchestratorConfig(), load_contract()
    for step in Step:
        spec = contract.retry_of(step)
        if spec is None:
            continue
        policy = config.retry_policy(step)
        assert policy.max_attempts == spec.retries + 1  # the SDK counts the first attempt
        assert policy.initial_delay_seconds == spec.interval_seconds
        assert policy.backoff_rate == spec.backoff_rate
        assert policy.max_delay_seconds == spec.max_delay_seconds
        assert policy.jitter == JitterStrategy(spec.jitter.value)
        assert policy.error_types == spec.error_types


def test_one_value_in_the_file_changes_both_patterns(
    contract_file: Callable[[dict[str, Any]], None],
) -> None:
    before = OrchestratorConfig.local().retry_strategy(Step.ESTIMATE_PRICE)
    assert before(PriceSourceUnavailableError("down"), 1).delay_seconds == 2
    document = packaged()
    document["policies"]["price"]["intervalSeconds"] = 7
    document["policies"]["price"]["errors"] = ["PriceSourceUnavailableError"]
    contract_file(document)

    # The durable pattern ...
    price = OrchestratorConfig.local().retry_strategy(Step.ESTIMATE_PRICE)
    assert price(PriceSourceUnavailableError("down"), 1).delay_seconds == 7
    assert not price(VisionThrottledError("slow down"), 1).should_retry  # no longer listed
    assert OrchestratorConfig().price_retry.initial_delay_seconds == 7
    # ... and the state machine's template variables.
    (retrier,) = json.loads(asl_retry_variables()["retry_estimate_price"])
    assert retrier["IntervalSeconds"] == 7
    assert retrier["ErrorEquals"] == ["PriceSourceUnavailableError", *LAMBDA_ERRORS]
    # Nothing else moved.
    assert OrchestratorConfig().vision_retry.initial_delay_seconds == 2
    assert json.loads(asl_retry_variables()["retry_process_image"])[0]["IntervalSeconds"] == 2


# --- Terraform computes the same variables -------------------------------------------------


def _module_local(name: str) -> str:
    """The text of one ``locals`` entry of the album_registration module's main.tf."""
    source = (MODULE_DIR / "main.tf").read_text()
    match = re.search(rf"^  {name} = ", source, re.MULTILINE)
    assert match, f"local.{name} not found in main.tf"
    depth, end = 0, match.end()
    while depth or source[end] != "\n":
        depth += {"{": 1, "[": 1, "(": 1, "}": -1, "]": -1, ")": -1}.get(source[end], 0)
        end += 1
    return source[match.start() : end]


def terraform_retry_variables(contract_files: list[Path], workdir: Path) -> list[dict[str, str]]:
    """Evaluate the module's ``local.asl_retry_variables`` over each file, in one console run.

    A root of our own holds the module's two locals, once per file (``path.module`` and
    the file read replaced), so nothing but those expressions is evaluated.
    """
    contract, variables = _module_local("workflow_contract"), _module_local("asl_retry_variables")
    default = '"${path.module}/../../../shared_layer/albums/data/workflow_contract.json"'
    assert default in contract
    entries = []
    for number, path in enumerate(contract_files):
        entries.append(
            contract.replace(default, json.dumps(str(path))).replace(
                "workflow_contract =", f"contract_{number} =", 1
            )
        )
        entries.append(
            variables.replace("local.workflow_contract", f"local.contract_{number}").replace(
                "asl_retry_variables =", f"variables_{number} =", 1
            )
        )
    (workdir / "main.tf").write_text("locals {\n" + "\n".join(entries) + "\n}\n")
    expression = ",".join(
        f"base64encode(jsonencode(local.variables_{n}))" for n in range(len(contract_files))
    )
    result = subprocess.run(  # noqa: S603 - our own fixed command line
        [str(TERRAFORM), "console"],
        input=f'join(",", [{expression}])\n',
        capture_output=True,
        text=True,
        cwd=workdir,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = [line.strip() for line in result.stdout.splitlines() if line.strip()]
    encoded = lines[-1].strip('"').split(",")
    return [json.loads(base64.b64decode(value)) for value in encoded]


@pytest.mark.terraform
@pytest.mark.skipif(TERRAFORM is None, reason="terraform is not installed")
def test_terraform_renders_the_same_retry_variables_byte_for_byte(tmp_path: Path) -> None:
    variant = packaged()
    variant["policies"]["price"].update(backoffRate=1.5, jitter="NONE", retries=0)
    variant["policies"]["vision"]["backoffRate"] = 2.0
    variant["steps"]["RecordFailure"] = {"policy": None, "integration": None}
    files = [REPO_ROOT / "shared_layer" / "albums" / "data" / CONTRACT_FILE, tmp_path / "v.json"]
    files[1].write_text(json.dumps(variant))
    (work := tmp_path / "root").mkdir()

    packaged_tf, variant_tf = terraform_retry_variables(files, work)

    assert packaged_tf == asl_retry_variables()
    expected = asl_retry_variables(parse_contract(json.dumps(variant)))
    assert variant_tf == expected
    assert "retry_record_failure" not in variant_tf
    assert '"BackoffRate":1.5' in variant_tf["retry_estimate_price"]
    assert '"BackoffRate":2,' in variant_tf["retry_process_image"]
