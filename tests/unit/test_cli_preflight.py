"""``albums preflight``: each read-only check of a real account, one by one and through the CLI.

Every AWS call goes through botocore's ``Stubber`` with the exact expected parameters, so
request shapes are checked against the service models; client-side failures (no
credentials, no endpoint) come from small fakes that raise them. ``terraform show`` runs
for real through a stand-in ``terraform`` script on ``PATH``. Nothing reaches AWS.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError, NoCredentialsError
from botocore.stub import Stubber

from albums.domain.vision import foundation_model_id
from albums_cli.console import EXIT_ENVIRONMENT, EXIT_FAILED, EXIT_OK, EXIT_USAGE, CliError
from albums_cli.environment import ENVIRONMENTS_DIR
from albums_cli.main import build_parser
from albums_cli.preflight import state as state_module
from albums_cli.preflight.checks_deploy import (
    TF_CHECK_DIR,
    check_provider_version,
    check_state_machine_definition,
)
from albums_cli.preflight.checks_region import (
    check_bedrock_access,
    check_bedrock_model,
    check_durable_functions,
)
from albums_cli.preflight.cli import PreflightClients
from albums_cli.preflight.iam import check_iam
from albums_cli.preflight.permissions import (
    REQUIRED_PERMISSIONS,
    Binding,
    Identity,
    Plain,
    Reference,
    load_required_permissions,
    parse_required_permissions,
    parse_template,
    render_template,
)
from albums_cli.preflight.results import CheckResult, Status
from albums_cli.preflight.settings import DEFAULT_MODEL_ID, resolve_settings
from albums_cli.preflight.state import (
    TerraformState,
    UnresolvedError,
    load_state_file,
    parse_state,
    state_attribute,
    terraform_show,
)

REGION = "us-east-1"
ACCOUNT = "123456789012"
CALLER = f"arn:aws:sts::{ACCOUNT}:assumed-role/deployer/session"
IDENTITY = Identity(account=ACCOUNT, partition="aws", arn=CALLER)
MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
FOUNDATION = "anthropic.claude-sonnet-4-5-20250929-v1:0"
PROFILE_ARN = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:inference-profile/{MODEL}"
ORCHESTRATOR_NAME = "albums-dev-orchestrator"
ORCHESTRATOR = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{ORCHESTRATOR_NAME}"
BUCKET_ARN = f"arn:aws:s3:::albums-dev-uploads-{ACCOUNT}"
TABLE_ARN = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/albums-dev-albums"
IMAGE_ROLE = f"arn:aws:iam::{ACCOUNT}:role/albums-dev-image-processor-role"
ORCHESTRATOR_ROLE = f"arn:aws:iam::{ACCOUNT}:role/albums-dev-orchestrator-role"
FIXTURE = Path(__file__).parent / "preflight_required_permissions.json"
FUNCTIONS = 'module.album_registration.module.functions["image_processor"]'

TABLE_NAME = "albums-dev-albums"
BUCKET_NAME = f"albums-dev-uploads-{ACCOUNT}"
STATE_MACHINE = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:albums-dev-album-registration"


def resource(address: str, values: dict[str, Any]) -> dict[str, Any]:
    """A resource of ``terraform show -json``: its type and mode come from the address."""
    parts = address.split(".")
    data = len(parts) >= 3 and parts[-3] == "data"
    return {
        "address": address,
        "mode": "data" if data else "managed",
        "type": parts[-2],
        "name": parts[-1],
        "values": values,
    }


def module_of(address: str, *resources: dict[str, Any]) -> dict[str, Any]:
    return {"address": address, "resources": list(resources)}


ROOT = "module.album_registration"
#: ``terraform show -json`` of an applied dev environment (what the fixture refers to).
STATE: dict[str, Any] = {
    "format_version": "1.0",
    "terraform_version": "1.9.8",
    "values": {
        "outputs": {"region": {"sensitive": False, "value": REGION}},
        "root_module": {
            "child_modules": [
                {
                    **module_of(
                        ROOT, resource(f"{ROOT}.data.aws_partition.current", {"partition": "aws"})
                    ),
                    "child_modules": [
                        module_of(
                            f"{ROOT}.module.storage",
                            resource(
                                f"{ROOT}.module.storage.aws_s3_bucket.uploads", {"arn": BUCKET_ARN}
                            ),
                            resource(
                                f"{ROOT}.module.storage.aws_dynamodb_table.this", {"arn": TABLE_ARN}
                            ),
                        ),
                        module_of(
                            FUNCTIONS,
                            resource(f"{FUNCTIONS}.aws_iam_role.this", {"arn": IMAGE_ROLE}),
                            resource(
                                f"{FUNCTIONS}.aws_lambda_function.this",
                                {
                                    "arn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:ip",
                                    "handler": "image_processor.handler",
                                    "role": IMAGE_ROLE,
                                    "environment": [
                                        {
                                            "variables": {
                                                "BEDROCK_MODEL_ID": MODEL,
                                                "TABLE_NAME": TABLE_NAME,
                                                "BUCKET_NAME": BUCKET_NAME,
                                            }
                                        }
                                    ],
                                },
                            ),
                        ),
                        module_of(
                            f"{ROOT}.module.orchestrator",
                            resource(
                                f"{ROOT}.module.orchestrator.aws_iam_role.this",
                                {"arn": ORCHESTRATOR_ROLE},
                            ),
                            resource(
                                f"{ROOT}.module.orchestrator.aws_lambda_function.this",
                                {
                                    "arn": ORCHESTRATOR,
                                    "qualified_arn": f"{ORCHESTRATOR}:3",
                                    "handler": "orchestrator.handler",
                                    "role": ORCHESTRATOR_ROLE,
                                },
                            ),
                        ),
                        module_of(
                            f"{ROOT}.module.state_machine",
                            resource(
                                f"{ROOT}.module.state_machine.aws_sfn_state_machine.this",
                                {"arn": STATE_MACHINE, "name": "albums-dev-album-registration"},
                            ),
                        ),
                    ],
                }
            ]
        },
    },
}
BEFORE_APPLY: dict[str, Any] = {"format_version": "1.0"}

LOCK = """# This file is maintained automatically by "terraform init".
# Manual edits may be lost in future updates.

provider "registry.terraform.io/hashicorp/archive" {{
  version = "2.4.2"
  hashes = [
    "h1:abc=",
  ]
}}

provider "registry.terraform.io/hashicorp/aws" {{
  version     = "{version}"
  constraints = ">= 6.25.0, < 7.0.0"
  hashes = [
    "h1:def=",
    "zh:0123",
  ]
}}
"""

VARIABLES = """variable "environment" {
  description = "Environment name, part of every resource name."
  type        = string
  default     = "dev"
}

variable "region" {
  description = "AWS region."
  type        = string
  default     = "us-east-1"
}

variable "bedrock_model_id" {
  description = "Vision model or inference profile id."
  type        = string
  default     = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
}
"""

VALID_ASL = json.dumps(
    {"QueryLanguage": "JSONata", "StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}
)


def state() -> TerraformState:
    return parse_state(copy.deepcopy(STATE), "test state")


# --- stubbed clients ------------------------------------------------------------------------


@dataclass
class Stubs:
    clients: PreflightClients
    lambda_: Stubber
    bedrock: Stubber
    stepfunctions: Stubber
    iam: Stubber
    sts: Stubber

    def all(self) -> list[Stubber]:
        return [self.lambda_, self.bedrock, self.stepfunctions, self.iam, self.sts]


@pytest.fixture
def stubs() -> Iterator[Stubs]:
    session = boto3.session.Session(region_name=REGION)
    clients = PreflightClients(
        lambda_=session.client("lambda"),
        bedrock=session.client("bedrock"),
        stepfunctions=session.client("stepfunctions"),
        iam=session.client("iam"),
        sts=session.client("sts"),
    )
    made = Stubs(
        clients,
        Stubber(clients.lambda_),
        Stubber(clients.bedrock),
        Stubber(clients.stepfunctions),
        Stubber(clients.iam),
        Stubber(clients.sts),
    )
    with contextlib.ExitStack() as stack:
        for stubber in made.all():
            stack.enter_context(stubber)
        yield made
        for stubber in made.all():
            stubber.assert_no_pending_responses()


class Raising:
    """A client whose every method raises ``error`` (client-side failures)."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def __getattr__(self, name: str) -> Callable[..., Any]:
        def call(**_params: Any) -> Any:
            raise self.error

        return call


def one(result: CheckResult, status: Status, *fragments: str) -> None:
    assert result.status is status, result.render()
    for fragment in fragments:
        assert fragment in result.render(), result.render()
    assert "\n" not in result.detail


def profile_response(models: list[str] | None = None) -> dict[str, Any]:
    regions = models or ["us-east-1", "us-east-2", "us-west-2"]
    return {
        "inferenceProfileName": "US Anthropic Claude Sonnet 4.5",
        "inferenceProfileArn": PROFILE_ARN,
        "inferenceProfileId": MODEL,
        "models": [
            {"modelArn": f"arn:aws:bedrock:{region}::foundation-model/{FOUNDATION}"}
            for region in regions
        ],
        "status": "ACTIVE",
        "type": "SYSTEM_DEFINED",
    }


def model_response(
    modalities: tuple[str, ...] = ("TEXT", "IMAGE"),
    inference: tuple[str, ...] = ("INFERENCE_PROFILE",),
    lifecycle: str = "ACTIVE",
    model_id: str = FOUNDATION,
) -> dict[str, Any]:
    return {
        "modelDetails": {
            "modelArn": f"arn:aws:bedrock:{REGION}::foundation-model/{model_id}",
            "modelId": model_id,
            "modelName": "Claude Sonnet 4.5",
            "providerName": "Anthropic",
            "inputModalities": list(modalities),
            "outputModalities": ["TEXT"],
            "inferenceTypesSupported": list(inference),
            "modelLifecycle": {"status": lifecycle},
        }
    }


def availability(**changes: Any) -> dict[str, Any]:
    response: dict[str, Any] = {
        "modelId": FOUNDATION,
        "agreementAvailability": {"status": "AVAILABLE"},
        "authorizationStatus": "AUTHORIZED",
        "entitlementAvailability": "AVAILABLE",
        "regionAvailability": "AVAILABLE",
    }
    response.update(changes)
    return response


# --- durable functions ------------------------------------------------------------------------


def durable_params(function: str = ORCHESTRATOR_NAME) -> dict[str, Any]:
    return {"FunctionName": function, "MaxItems": 1}


def test_durable_functions_before_apply_a_missing_function_proves_the_api(stubs: Stubs) -> None:
    stubs.lambda_.add_client_error(
        "list_durable_executions_by_function",
        "ResourceNotFoundException",
        "Function not found",
        404,
        expected_params=durable_params(),
    )
    result = check_durable_functions(stubs.clients.lambda_, ORCHESTRATOR_NAME, REGION)
    one(result, Status.OK, "offered in us-east-1", "ResourceNotFoundException", "does not exist")


def test_durable_functions_after_apply_the_orchestrator_answers(stubs: Stubs) -> None:
    stubs.lambda_.add_response(
        "list_durable_executions_by_function",
        {"DurableExecutions": []},
        expected_params=durable_params(ORCHESTRATOR),
    )
    result = check_durable_functions(stubs.clients.lambda_, ORCHESTRATOR, REGION, deployed=True)
    one(result, Status.OK, "offered in us-east-1", "answers as a durable function")


@pytest.mark.parametrize("code", ["ResourceNotFoundException", "InvalidParameterValueException"])
def test_durable_functions_after_apply_a_missing_or_plain_orchestrator_fails(
    stubs: Stubs, code: str
) -> None:
    stubs.lambda_.add_client_error(
        "list_durable_executions_by_function",
        code,
        "nope",
        400,
        expected_params=durable_params(ORCHESTRATOR),
    )
    result = check_durable_functions(stubs.clients.lambda_, ORCHESTRATOR, REGION, deployed=True)
    one(result, Status.FAIL, "has the durable API", code, "check --region and the account")


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("UnknownOperationException", 404),
        ("UnrecognizedClientException", 403),
        ("InvalidAction", 400),
    ],
)
def test_durable_functions_a_region_without_the_api_fails(
    stubs: Stubs, code: str, status: int
) -> None:
    stubs.lambda_.add_client_error(
        "list_durable_executions_by_function",
        code,
        "The operation is not known",
        status,
        expected_params=durable_params(),
    )
    result = check_durable_functions(stubs.clients.lambda_, ORCHESTRATOR_NAME, "ap-east-2")
    one(result, Status.FAIL, "not offered in ap-east-2", code, "deploy to a region that offers")


def test_durable_functions_access_denied_cannot_tell(stubs: Stubs) -> None:
    stubs.lambda_.add_client_error(
        "list_durable_executions_by_function",
        "AccessDeniedException",
        "not authorized",
        403,
        expected_params=durable_params(),
    )
    result = check_durable_functions(stubs.clients.lambda_, ORCHESTRATOR_NAME, REGION)
    one(result, Status.FAIL, "cannot tell", "allow lambda:ListDurableExecutionsByFunction")


def test_durable_functions_an_unexpected_error_is_a_fail_with_its_code(stubs: Stubs) -> None:
    stubs.lambda_.add_client_error(
        "list_durable_executions_by_function",
        "TooManyRequestsException",
        "Rate exceeded",
        429,
        expected_params=durable_params(),
    )
    result = check_durable_functions(stubs.clients.lambda_, ORCHESTRATOR_NAME, REGION)
    one(result, Status.FAIL, "TooManyRequestsException: Rate exceeded")


def test_durable_functions_an_unreachable_endpoint_is_a_fail_not_a_traceback() -> None:
    client = Raising(EndpointConnectionError(endpoint_url="https://lambda.xx-east-9.amazonaws.com"))
    result = check_durable_functions(client, ORCHESTRATOR_NAME, "xx-east-9")
    one(result, Status.FAIL, "Could not connect to the endpoint URL")


def test_missing_credentials_are_not_swallowed_by_a_check() -> None:
    with pytest.raises(NoCredentialsError):
        check_durable_functions(Raising(NoCredentialsError()), ORCHESTRATOR_NAME, REGION)


# --- the Bedrock model ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model_id", "foundation"),
    [
        (MODEL, FOUNDATION),
        ("eu.amazon.nova-pro-v1:0", "amazon.nova-pro-v1:0"),
        ("global.anthropic.claude-x-v1:0", "anthropic.claude-x-v1:0"),
        ("anthropic.claude-3-5-sonnet-20240620-v1:0", "anthropic.claude-3-5-sonnet-20240620-v1:0"),
        (PROFILE_ARN, FOUNDATION),
        (f"arn:aws:bedrock:{REGION}::foundation-model/{FOUNDATION}", FOUNDATION),
    ],
)
def test_foundation_model_id_is_derived_as_terraform_does(model_id: str, foundation: str) -> None:
    assert foundation_model_id(model_id) == foundation


def stub_profile(stubs: Stubs, response: dict[str, Any]) -> None:
    stubs.bedrock.add_response(
        "get_inference_profile", response, expected_params={"inferenceProfileIdentifier": MODEL}
    )


def stub_model(stubs: Stubs, response: dict[str, Any], model_id: str = FOUNDATION) -> None:
    stubs.bedrock.add_response(
        "get_foundation_model", response, expected_params={"modelIdentifier": model_id}
    )


def test_bedrock_model_a_profile_routing_to_a_vision_model_is_ok(stubs: Stubs) -> None:
    stub_profile(stubs, profile_response())
    stub_model(stubs, model_response())
    result = check_bedrock_model(stubs.clients.bedrock, MODEL, REGION)
    one(result, Status.OK, f"{MODEL} (Claude Sonnet 4.5, takes images) is offered in us-east-1")
    assert result.notes == (
        f"the profile routes to {FOUNDATION} in us-east-1, us-east-2, us-west-2",
    )


def test_bedrock_model_a_profile_not_in_the_region_fails(stubs: Stubs) -> None:
    stubs.bedrock.add_client_error(
        "get_inference_profile",
        "ResourceNotFoundException",
        "The inference profile does not exist",
        404,
        expected_params={"inferenceProfileIdentifier": MODEL},
    )
    result = check_bedrock_model(stubs.clients.bedrock, MODEL, "eu-west-1")
    one(
        result,
        Status.FAIL,
        f"inference profile {MODEL} is not offered in eu-west-1",
        "ResourceNotFoundException",
        "profile of this region's geography",
    )


def test_bedrock_model_a_profile_routing_elsewhere_than_terraform_grants_fails(
    stubs: Stubs,
) -> None:
    response = profile_response()
    response["models"] = [{"modelArn": "arn:aws:bedrock:us-east-1::foundation-model/other.m-v1:0"}]
    stub_profile(stubs, response)
    result = check_bedrock_model(stubs.clients.bedrock, MODEL, REGION)
    one(result, Status.FAIL, "routes to other.m-v1:0", f"bedrock:InvokeModel on {FOUNDATION}")


def test_bedrock_model_an_unexpected_profile_error_is_a_fail_with_its_code(stubs: Stubs) -> None:
    stubs.bedrock.add_client_error(
        "get_inference_profile",
        "AccessDeniedException",
        "not allowed",
        403,
        expected_params={"inferenceProfileIdentifier": MODEL},
    )
    result = check_bedrock_model(stubs.clients.bedrock, MODEL, REGION)
    one(result, Status.FAIL, "GetInferenceProfile failed: AccessDeniedException: not allowed")


def test_bedrock_model_a_foundation_model_missing_in_the_region_fails(stubs: Stubs) -> None:
    stub_profile(stubs, profile_response())
    stubs.bedrock.add_client_error(
        "get_foundation_model",
        "ResourceNotFoundException",
        "Could not find model",
        404,
        expected_params={"modelIdentifier": FOUNDATION},
    )
    result = check_bedrock_model(stubs.clients.bedrock, MODEL, REGION)
    one(result, Status.FAIL, f"foundation model {FOUNDATION} is not offered in us-east-1")


def test_bedrock_model_an_unexpected_model_error_is_a_fail_with_its_code(stubs: Stubs) -> None:
    stub_profile(stubs, profile_response())
    stubs.bedrock.add_client_error(
        "get_foundation_model",
        "ThrottlingException",
        "slow down",
        429,
        expected_params={"modelIdentifier": FOUNDATION},
    )
    result = check_bedrock_model(stubs.clients.bedrock, MODEL, REGION)
    one(result, Status.FAIL, "GetFoundationModel failed: ThrottlingException: slow down")


def test_bedrock_model_a_text_only_model_fails(stubs: Stubs) -> None:
    stub_profile(stubs, profile_response())
    stub_model(stubs, model_response(modalities=("TEXT",)))
    result = check_bedrock_model(stubs.clients.bedrock, MODEL, REGION)
    one(result, Status.FAIL, "does not take images (input: TEXT)", "needs a vision model")


def test_bedrock_model_a_profile_only_model_named_directly_fails(stubs: Stubs) -> None:
    stub_model(stubs, model_response(inference=("INFERENCE_PROFILE",)))
    result = check_bedrock_model(stubs.clients.bedrock, FOUNDATION, REGION)
    one(result, Status.FAIL, "cannot be invoked on demand", f"such as us.{FOUNDATION}")


def test_bedrock_model_an_on_demand_model_named_directly_is_ok(stubs: Stubs) -> None:
    stub_model(stubs, model_response(inference=("ON_DEMAND",), lifecycle="LEGACY"))
    result = check_bedrock_model(stubs.clients.bedrock, FOUNDATION, REGION)
    one(result, Status.OK, "takes images")
    assert result.notes == (f"{FOUNDATION} is LEGACY: plan a move to a current model",)


# --- Bedrock access ---------------------------------------------------------------------------


def stub_availability(stubs: Stubs, response: dict[str, Any], model_id: str = FOUNDATION) -> None:
    stubs.bedrock.add_response(
        "get_foundation_model_availability", response, expected_params={"modelId": model_id}
    )


def test_bedrock_access_everything_available_is_ok(stubs: Stubs) -> None:
    stub_availability(stubs, availability())
    result = check_bedrock_access(stubs.clients.bedrock, MODEL, REGION)
    one(result, Status.OK, f"{FOUNDATION} in us-east-1: available, authorized, subscribed")


@pytest.mark.parametrize(
    ("changes", "fragments"),
    [
        ({"regionAvailability": "NOT_AVAILABLE"}, ["not available in us-east-1"]),
        (
            {"authorizationStatus": "NOT_AUTHORIZED"},
            ["not authorized", "Anthropic's one-time first-use form", "put-use-case-for-model"],
        ),
        (
            {"entitlementAvailability": "NOT_AVAILABLE"},
            ["no AWS Marketplace subscription", "aws-marketplace:Subscribe", "playground"],
        ),
        ({"agreementAvailability": {"status": "PENDING"}}, ["being set up", "run preflight again"]),
        (
            {"agreementAvailability": {"status": "ERROR", "errorMessage": "offer expired"}},
            ["the model agreement failed: offer expired"],
        ),
        (
            {"agreementAvailability": {"status": "NOT_AVAILABLE"}},
            [
                "no model agreement",
                f"list-foundation-model-agreement-offers --model-id {FOUNDATION}",
            ],
        ),
    ],
)
def test_bedrock_access_each_missing_piece_fails_and_says_what_to_do(
    stubs: Stubs, changes: dict[str, Any], fragments: list[str]
) -> None:
    stub_availability(stubs, availability(**changes))
    result = check_bedrock_access(stubs.clients.bedrock, MODEL, REGION)
    one(result, Status.FAIL, f"{FOUNDATION} in us-east-1: ", *fragments)


def test_bedrock_access_a_new_account_lists_every_missing_piece(stubs: Stubs) -> None:
    stub_availability(
        stubs,
        availability(
            authorizationStatus="NOT_AUTHORIZED",
            entitlementAvailability="NOT_AVAILABLE",
            agreementAvailability={"status": "NOT_AVAILABLE"},
        ),
    )
    result = check_bedrock_access(stubs.clients.bedrock, MODEL, REGION)
    one(result, Status.FAIL, "first-use form", "Marketplace subscription", "no model agreement")


def test_bedrock_access_the_first_use_form_is_only_asked_for_anthropic(stubs: Stubs) -> None:
    stub_availability(
        stubs, availability(authorizationStatus="NOT_AUTHORIZED"), model_id="amazon.nova-pro-v1:0"
    )
    result = check_bedrock_access(stubs.clients.bedrock, "us.amazon.nova-pro-v1:0", REGION)
    one(result, Status.FAIL, "not authorized to use it; check that no SCP or IAM policy")
    assert "Anthropic" not in result.detail


@pytest.mark.parametrize(
    ("code", "fragment"),
    [
        ("AccessDeniedException", "cannot tell: AccessDeniedException: denied: allow bedrock:Get"),
        ("ThrottlingException", "GetFoundationModelAvailability failed: ThrottlingException"),
    ],
)
def test_bedrock_access_errors_are_fails_with_their_code(
    stubs: Stubs, code: str, fragment: str
) -> None:
    stubs.bedrock.add_client_error(
        "get_foundation_model_availability",
        code,
        "denied",
        400,
        expected_params={"modelId": FOUNDATION},
    )
    one(check_bedrock_access(stubs.clients.bedrock, MODEL, REGION), Status.FAIL, fragment)


# --- the state machine definition ----------------------------------------------------------


def validate_params(definition: str) -> dict[str, Any]:
    return {"definition": definition, "type": "STANDARD", "severity": "WARNING", "maxResults": 100}


def test_definition_missing_says_run_make_tf_check(stubs: Stubs, tmp_path: Path) -> None:
    result = check_state_machine_definition(stubs.clients.stepfunctions, tmp_path / "none.json")
    one(result, Status.FAIL, "none.json: run make tf-check", "--definition PATH")


def test_definition_empty_fails(stubs: Stubs, tmp_path: Path) -> None:
    (tmp_path / "asl.json").write_text("  \n", encoding="utf-8")
    result = check_state_machine_definition(stubs.clients.stepfunctions, tmp_path / "asl.json")
    one(result, Status.FAIL, "is empty: run make tf-check")


def test_definition_valid_is_ok(stubs: Stubs, tmp_path: Path) -> None:
    (tmp_path / "asl.json").write_text(VALID_ASL, encoding="utf-8")
    stubs.stepfunctions.add_response(
        "validate_state_machine_definition",
        {"result": "OK", "diagnostics": []},
        expected_params=validate_params(VALID_ASL),
    )
    result = check_state_machine_definition(stubs.clients.stepfunctions, tmp_path / "asl.json")
    one(result, Status.OK, "is a valid STANDARD state machine (0 error(s), 0 warning(s))")
    assert result.notes == ()


def test_definition_warnings_are_printed_but_do_not_fail(stubs: Stubs, tmp_path: Path) -> None:
    (tmp_path / "asl.json").write_text(VALID_ASL, encoding="utf-8")
    stubs.stepfunctions.add_response(
        "validate_state_machine_definition",
        {
            "result": "OK",
            "diagnostics": [
                {
                    "severity": "WARNING",
                    "code": "NO_DOLLAR",
                    "message": "The field 'X' ends\nwithout a dollar sign",
                    "location": "/States/Done",
                }
            ],
        },
        expected_params=validate_params(VALID_ASL),
    )
    result = check_state_machine_definition(stubs.clients.stepfunctions, tmp_path / "asl.json")
    one(result, Status.OK, "(0 error(s), 1 warning(s))")
    assert result.notes == (
        "WARNING NO_DOLLAR at /States/Done: The field 'X' ends without a dollar sign",
    )


def test_definition_errors_fail_and_every_diagnostic_is_listed(
    stubs: Stubs, tmp_path: Path
) -> None:
    (tmp_path / "asl.json").write_text(VALID_ASL, encoding="utf-8")
    stubs.stepfunctions.add_response(
        "validate_state_machine_definition",
        {
            "result": "FAIL",
            "diagnostics": [
                {
                    "severity": "ERROR",
                    "code": "SCHEMA_VALIDATION_FAILED",
                    "message": "HeartbeatSeconds must be smaller than TimeoutSeconds",
                    "location": "/States/WaitForValidation",
                },
                {"severity": "ERROR", "code": "MISSING_START_AT", "message": "no StartAt"},
                {
                    "severity": "WARNING",
                    "code": "UNUSED_STATE",
                    "message": "never reached",
                    "location": "/States/Orphan",
                },
            ],
            "truncated": True,
        },
        expected_params=validate_params(VALID_ASL),
    )
    result = check_state_machine_definition(stubs.clients.stepfunctions, tmp_path / "asl.json")
    one(result, Status.FAIL, "2 error(s), 1 warning(s)", "album_registration.asl.json.tftpl")
    assert result.notes == (
        "ERROR SCHEMA_VALIDATION_FAILED at /States/WaitForValidation: HeartbeatSeconds must be "
        "smaller than TimeoutSeconds",
        "ERROR MISSING_START_AT at (top): no StartAt",
        "WARNING UNUSED_STATE at /States/Orphan: never reached",
        "(more diagnostics were not returned: fix these and run it again)",
    )


def test_definition_a_service_error_is_a_fail_with_its_code(stubs: Stubs, tmp_path: Path) -> None:
    (tmp_path / "asl.json").write_text(VALID_ASL, encoding="utf-8")
    stubs.stepfunctions.add_client_error(
        "validate_state_machine_definition",
        "ValidationException",
        "Definition too large",
        400,
        expected_params=validate_params(VALID_ASL),
    )
    result = check_state_machine_definition(stubs.clients.stepfunctions, tmp_path / "asl.json")
    one(result, Status.FAIL, "ValidationException: Definition too large")


# --- the provider version ---------------------------------------------------------------------


@pytest.mark.parametrize("version", ["6.28.0", "6.30.1", "6.100.0"])
def test_provider_version_at_least_6_28_is_ok(tmp_path: Path, version: str) -> None:
    (tmp_path / ".terraform.lock.hcl").write_text(LOCK.format(version=version), encoding="utf-8")
    result = check_provider_version(tmp_path, "dev")
    one(result, Status.OK, f"hashicorp/aws {version} (>= 6.28.0)")


@pytest.mark.parametrize("version", ["6.25.0", "6.27.9", "5.100.0", "6.28.0-beta1"])
def test_provider_version_below_6_28_fails(tmp_path: Path, version: str) -> None:
    (tmp_path / ".terraform.lock.hcl").write_text(LOCK.format(version=version), encoding="utf-8")
    result = check_provider_version(tmp_path, "dev")
    one(result, Status.FAIL, f"hashicorp/aws {version} is selected", "init -upgrade", "ENV=dev")


def test_provider_version_without_a_lock_file_says_run_terraform_init(tmp_path: Path) -> None:
    result = check_provider_version(tmp_path, "prod")
    one(result, Status.FAIL, "no ", ".terraform.lock.hcl", "init (make plan ENV=prod)")


@pytest.mark.parametrize(
    "text",
    [
        'provider "registry.terraform.io/hashicorp/random" {\n  version = "3.6.0"\n}\n',
        'provider "registry.terraform.io/hashicorp/aws" {\n  constraints = ">= 6.25"\n}\n',
    ],
)
def test_provider_version_a_lock_without_the_aws_version_fails(tmp_path: Path, text: str) -> None:
    (tmp_path / ".terraform.lock.hcl").write_text(text, encoding="utf-8")
    one(check_provider_version(tmp_path, "dev"), Status.FAIL, "selects no hashicorp/aws version")


def test_provider_version_an_unreadable_version_fails(tmp_path: Path) -> None:
    (tmp_path / ".terraform.lock.hcl").write_text(LOCK.format(version="six"), encoding="utf-8")
    one(check_provider_version(tmp_path, "dev"), Status.FAIL, "selects hashicorp/aws 'six'")


# --- placeholders and the permission file ------------------------------------------------------


def test_a_placeholder_address_may_hold_dots_brackets_and_quoted_marks() -> None:
    template = parse_template(
        'arn:{partition}:x:{region}:{account}:{module.f["a.b#c}"].aws_iam_role.this#tags.k}/z',
        "resource",
        "test",
    )
    assert template == (
        "arn:",
        Plain("partition"),
        ":x:",
        Plain("region"),
        ":",
        Plain("account"),
        ":",
        Reference('module.f["a.b#c}"].aws_iam_role.this', ("tags", "k")),
        "/z",
    )
    resolved = TerraformState(
        "test", {'module.f["a.b#c}"].aws_iam_role.this': {"tags": {"k": "v"}}}
    )
    assert render_template(template, Binding(resolved, IDENTITY, "eu-west-1")) == (
        f"arn:aws:x:eu-west-1:{ACCOUNT}:v/z"
    )


@pytest.mark.parametrize(
    "text",
    [
        "{table}",
        "{table}/index/GSI1",
        "{bucket}/uploads/example.jpg",
        "{foundation_model}",
        "{inference_profile}",
        "{function:image_processor}",
        "{function:orchestrator}:{qualifier}",
        "{orchestrator_durable_execution}",
        "{state_machine_execution}",
    ],
)
def test_logical_names_of_an_older_file_are_bad_input(text: str) -> None:
    """Only ``{ADDRESS#path}``, ``{partition}``, ``{region}`` and ``{account}`` are read."""
    document = fixture_document()
    first_permission(document)["resource"] = f"arn:{{partition}}:x:{text}"
    with pytest.raises(CliError) as raised:
        parse_required_permissions(document, "terraform/required_permissions.json")
    assert raised.value.exit_code == EXIT_USAGE
    name = text[: text.index("}") + 1]
    assert raised.value.message == (
        "terraform/required_permissions.json: principals[0].permissions[0].resource: "
        f"unknown placeholder {name}: use {{ADDRESS#attribute.path}}, {{partition}}, "
        "{region} or {account} (regenerate the file with make iam-permissions)"
    )


def test_the_committed_permission_set_loads() -> None:
    """``terraform/required_permissions.json`` (written by ``make test``) is readable."""
    if not REQUIRED_PERMISSIONS.is_file():
        pytest.skip("terraform/required_permissions.json is not recorded yet")
    permissions = load_required_permissions(REQUIRED_PERMISSIONS)
    assert any(principal.kind == "role" for principal in permissions.principals)


def test_the_committed_permission_set_resolves_against_the_rendered_state() -> None:
    """Every placeholder of the recorded set binds in ``make tf-check``'s rendered dev state."""
    rendered = TF_CHECK_DIR / "dev" / "state.json"
    if not (REQUIRED_PERMISSIONS.is_file() and rendered.is_file()):
        pytest.skip("needs terraform/required_permissions.json and make tf-check's output")
    environment = load_state_file(rendered)
    for principal in load_required_permissions(REQUIRED_PERMISSIONS).principals:
        if principal.kind != "role":
            continue
        state_attribute(environment, principal.target, ("arn",))  # the role is rendered too
        binding = Binding(environment, IDENTITY, REGION)
        for permission in principal.permissions:
            assert render_template(permission.resource, binding).startswith(("arn:", "*"))


def test_a_state_values_object_without_its_envelope_is_read_too() -> None:
    """``out/tf-check/ENV/state.json`` holds the ``values`` object itself."""
    parsed = parse_state(copy.deepcopy(STATE["values"]), "rendered")
    assert parsed.resources == state().resources
    assert parsed.outputs == {"region": REGION}
    with pytest.raises(CliError, match=r"rendered: root_module.resources: expected a list"):
        parse_state({"root_module": {"resources": {}}}, "rendered")


def test_state_attributes_follow_list_indexes_and_keys() -> None:
    address = f"{FUNCTIONS}.aws_lambda_function.this"
    path = ("environment", "0", "variables", "BEDROCK_MODEL_ID")
    assert state_attribute(state(), address, path) == MODEL
    with pytest.raises(UnresolvedError, match=r"has no attribute environment.1$"):
        state_attribute(state(), address, ("environment", "1", "variables"))
    with pytest.raises(UnresolvedError, match=r"is not a string"):
        state_attribute(state(), address, ("environment", "0"))
    with pytest.raises(UnresolvedError, match=r"^no module.x.aws_s3_bucket.y in the state$"):
        state_attribute(state(), "module.x.aws_s3_bucket.y", ("arn",))


def test_the_fixture_loads() -> None:
    permissions = load_required_permissions(FIXTURE)
    assert [(p.name, p.kind) for p in permissions.principals] == [
        ("image_processor", "role"),
        ("orchestrator", "role"),
        ("events to orchestrator", "service"),
    ]
    context = permissions.principals[1].permissions[2].context
    assert context[0][0] == "bedrock:InferenceProfileArn"
    assert context[0][1][0] == "string"


def fixture_document() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(FIXTURE.read_text(encoding="utf-8"))
    return document


def first_permission(document: dict[str, Any]) -> dict[str, Any]:
    permission: dict[str, Any] = document["principals"][0]["permissions"][0]
    return permission


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(version=2), "version: expected 1, got 2"),
        (lambda d: d.update(principals={}), "principals: expected a list"),
        (lambda d: d["principals"][0].update(kind="user"), 'principals[0].kind: expected "role"'),
        (lambda d: d["principals"][0].pop("role"), "principals[0].role: expected a non-empty"),
        (lambda d: d["principals"][2].pop("principal"), "principals[2].principal: expected"),
        (
            lambda d: first_permission(d).update(action="GetObject"),
            "principals[0].permissions[0].action: expected \"service:Action\", got 'GetObject'",
        ),
        (
            lambda d: first_permission(d).update(resource=""),
            "principals[0].permissions[0].resource: expected a non-empty string",
        ),
        (
            lambda d: first_permission(d).update(resource="{module.x#arn"),
            "principals[0].permissions[0].resource: an unclosed '{'",
        ),
        (
            lambda d: first_permission(d).update(resource="arn}"),
            "principals[0].permissions[0].resource: a '}' without its '{'",
        ),
        (
            lambda d: first_permission(d).update(resource="arn:{acct}"),
            "principals[0].permissions[0].resource: unknown placeholder {acct}",
        ),
        (
            lambda d: first_permission(d).update(resource="{#arn}"),
            "{#arn} needs an address, '#' and an attribute path",
        ),
        (
            lambda d: first_permission(d).update(resource="{module.x#a..b}"),
            "{module.x#a..b} needs an address",
        ),
        (
            lambda d: first_permission(d).update(context=[]),
            "principals[0].permissions[0].context: expected an object",
        ),
        (
            lambda d: first_permission(d).update(context={"k": {"v": 1}}),
            "principals[0].permissions[0].context.k: expected a string, number or boolean",
        ),
        (
            lambda d: first_permission(d).update(context={"k": ["a", 1]}),
            "principals[0].permissions[0].context.k: expected values of one type",
        ),
        (
            lambda d: first_permission(d).update(context={"k": "{nope}"}),
            "principals[0].permissions[0].context.k: unknown placeholder {nope}",
        ),
        (
            lambda d: first_permission(d).update(calls=-1),
            "principals[0].permissions[0].calls: expected a count, got -1",
        ),
        (
            lambda d: first_permission(d).update(operations="s3.GetObject"),
            "principals[0].permissions[0].operations: expected a list",
        ),
        (
            lambda d: d["principals"][1].update(permissions=None),
            "principals[1].permissions: expected a list, got None",
        ),
    ],
)
def test_a_malformed_permission_file_names_the_bad_field(
    change: Callable[[dict[str, Any]], Any], message: str
) -> None:
    document = fixture_document()
    change(document)
    with pytest.raises(CliError) as raised:
        parse_required_permissions(document, "terraform/required_permissions.json")
    assert raised.value.exit_code == EXIT_USAGE
    assert raised.value.message.startswith("terraform/required_permissions.json: ")
    assert message in raised.value.message


def test_a_permission_file_that_is_not_json_is_bad_input(tmp_path: Path) -> None:
    (tmp_path / "p.json").write_text("{", encoding="utf-8")
    with pytest.raises(CliError, match=r"p.json: not JSON") as raised:
        load_required_permissions(tmp_path / "p.json")
    assert raised.value.exit_code == EXIT_USAGE


def test_context_values_take_their_iam_types() -> None:
    permission = (
        parse_required_permissions(
            {
                "version": 1,
                "principals": [
                    {
                        "name": "r",
                        "kind": "role",
                        "role": "aws_iam_role.r",
                        "permissions": [
                            {
                                "action": "s3:GetObject",
                                "resource": "*",
                                "context": {
                                    "a": "x",
                                    "b": ["x", "y"],
                                    "c": True,
                                    "d": 3,
                                    "e": [1, 2],
                                },
                            }
                        ],
                    }
                ],
            },
            "p",
        )
        .principals[0]
        .permissions[0]
    )
    assert [(key, kind) for key, (kind, _) in permission.context] == [
        ("a", "string"),
        ("b", "stringList"),
        ("c", "boolean"),
        ("d", "numeric"),
        ("e", "numericList"),
    ]


# --- the Terraform state ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([], "(top level): expected a JSON object"),
        ({"values": []}, "values: expected an object"),
        ({"values": {"outputs": {"region": "x"}}}, "values.outputs.region: expected an object"),
        ({"values": {"root_module": {"resources": {}}}}, "values.root_module.resources: expected"),
        (
            {"values": {"root_module": {"resources": [{"values": {}}]}}},
            "values.root_module.resources[0].address: expected a resource address",
        ),
        (
            {"values": {"root_module": {"resources": [{"address": "a.b", "values": []}]}}},
            "values.root_module.resources[0].values: expected an object",
        ),
        (
            {"values": {"root_module": {"child_modules": [{"resources": [7]}]}}},
            "values.root_module.child_modules[0].resources[0]: expected an object",
        ),
        (
            {"values": {"root_module": {"child_modules": {}}}},
            "values.root_module.child_modules: expected a list",
        ),
    ],
)
def test_a_malformed_state_names_the_bad_field(document: Any, message: str) -> None:
    with pytest.raises(CliError) as raised:
        parse_state(document, "--state s.json")
    assert raised.value.exit_code == EXIT_USAGE
    assert raised.value.message == f"--state s.json: {message}" or message in raised.value.message


def test_the_state_is_indexed_by_address_through_every_module() -> None:
    parsed = state()
    assert parsed.applied
    assert parsed.outputs == {"region": REGION}
    assert parsed.resources[f"{FUNCTIONS}.aws_iam_role.this"] == {"arn": IMAGE_ROLE}
    assert "module.album_registration.data.aws_partition.current" in parsed.resources
    assert "module.album_registration.data.aws_partition.current" not in parsed.types
    assert parsed.types[f"{FUNCTIONS}.aws_lambda_function.this"] == "aws_lambda_function"
    assert not parse_state(BEFORE_APPLY, "x").applied


@pytest.fixture
def fake_terraform(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Install ``terraform`` (a shell script with the given body) first on PATH."""
    folder = tmp_path / "bin"
    folder.mkdir()
    calls = tmp_path / "calls"

    def install(body: str) -> Path:
        script = folder / "terraform"
        script.write_text(f'#!/bin/sh\necho "$@" >> {calls}\n{body}\n', encoding="utf-8")
        script.chmod(script.stat().st_mode | stat.S_IEXEC)
        return calls

    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ.get('PATH', '')}")
    return install


def test_terraform_show_is_read_as_json(tmp_path: Path, fake_terraform: Any) -> None:
    calls = fake_terraform(f"cat <<'EOF'\n{json.dumps(STATE)}\nEOF")
    assert terraform_show(tmp_path) == STATE
    assert calls.read_text().split() == [f"-chdir={tmp_path}", "show", "-json", "-no-color"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "echo '│ Error: Backend initialization required, please run \"terraform init\"' >&2\n"
            "exit 1",
            'terraform show failed in {root}: Backend initialization required, please run "'
            'terraform init" (run `make plan ENV=...` once to initialise it, or pass --state PATH',
        ),
        ("echo 'not json'", "terraform show -json in {root} printed no JSON"),
    ],
)
def test_terraform_show_failures_say_what_to_do(
    tmp_path: Path, fake_terraform: Any, body: str, message: str
) -> None:
    fake_terraform(body)
    with pytest.raises(CliError) as raised:
        terraform_show(tmp_path)
    assert message.format(root=tmp_path) in raised.value.message
    assert raised.value.exit_code == EXIT_ENVIRONMENT


def test_a_hanging_terraform_show_is_stopped(
    tmp_path: Path, fake_terraform: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_terraform("exec sleep 5")
    monkeypatch.setattr(state_module, "TERRAFORM_TIMEOUT_S", 0.2)
    with pytest.raises(CliError, match=r"terraform show did not answer within 0.2 s"):
        terraform_show(tmp_path)


def test_missing_terraform_says_pass_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(state_module.shutil, "which", lambda _name: None)
    with pytest.raises(CliError, match=r"terraform is not installed: install it, or pass --state"):
        terraform_show(tmp_path)


# --- IAM simulation -------------------------------------------------------------------------


def allowed(action: str, resource: str) -> dict[str, Any]:
    return {
        "EvalActionName": action,
        "EvalResourceName": resource,
        "EvalDecision": "allowed",
        "MatchedStatements": [{"SourcePolicyId": "policy", "SourcePolicyType": "IAM Policy"}],
        "MissingContextValues": [],
    }


def simulation(
    role: str,
    actions: list[str],
    resources: list[str],
    context: list[dict[str, Any]] | None = None,
    marker: str | None = None,
) -> dict[str, Any]:
    params: dict[str, Any] = {
        "PolicySourceArn": role,
        "ActionNames": actions,
        "ResourceArns": resources,
    }
    if context is not None:
        params["ContextEntries"] = context
    if marker is not None:
        params["Marker"] = marker
    return params


OBJECT = f"{BUCKET_ARN}/uploads/example.jpg"
CHECKPOINT = f"{ORCHESTRATOR}:live"
FOUNDATION_ARN = f"arn:aws:bedrock:{REGION}::foundation-model/{FOUNDATION}"
PROFILE_CONTEXT = [
    {
        "ContextKeyName": "bedrock:InferenceProfileArn",
        "ContextKeyValues": [PROFILE_ARN],
        "ContextKeyType": "string",
    }
]
#: The fixture's simulations, grouped: (params, the actions and resources they answer).
SIMULATIONS: list[tuple[dict[str, Any], list[tuple[str, str]]]] = [
    (
        simulation(IMAGE_ROLE, ["s3:GetObject", "s3:GetObjectVersion"], [OBJECT]),
        [("s3:GetObject", OBJECT), ("s3:GetObjectVersion", OBJECT)],
    ),
    (
        simulation(IMAGE_ROLE, ["bedrock:InvokeModel"], [PROFILE_ARN]),
        [("bedrock:InvokeModel", PROFILE_ARN)],
    ),
    (
        simulation(IMAGE_ROLE, ["dynamodb:PutItem"], [TABLE_ARN]),
        [("dynamodb:PutItem", TABLE_ARN)],
    ),
    (
        simulation(
            ORCHESTRATOR_ROLE,
            ["lambda:CheckpointDurableExecution", "lambda:GetDurableExecutionState"],
            [CHECKPOINT],
        ),
        [
            ("lambda:CheckpointDurableExecution", CHECKPOINT),
            ("lambda:GetDurableExecutionState", CHECKPOINT),
        ],
    ),
    (
        simulation(ORCHESTRATOR_ROLE, ["bedrock:InvokeModel"], [FOUNDATION_ARN], PROFILE_CONTEXT),
        [("bedrock:InvokeModel", FOUNDATION_ARN)],
    ),
]


def stub_simulations(stubs: Stubs, replace: dict[int, list[dict[str, Any]]] | None = None) -> None:
    """Queue every simulation of the fixture, all allowed unless ``replace``d by index."""
    for index, (params, pairs) in enumerate(SIMULATIONS):
        results = (replace or {}).get(index) or [allowed(*pair) for pair in pairs]
        stubs.iam.add_response(
            "simulate_principal_policy",
            {"EvaluationResults": results, "IsTruncated": False},
            expected_params=params,
        )


def run_iam(stubs: Stubs, state_value: TerraformState | None = None) -> list[CheckResult]:
    return check_iam(
        stubs.clients.iam,
        load_required_permissions(FIXTURE),
        state=state() if state_value is None else state_value,
        identity=IDENTITY,
        region=REGION,
    )


def test_iam_every_recorded_permission_allowed_is_ok_per_role(stubs: Stubs) -> None:
    stub_simulations(stubs)
    results = run_iam(stubs)
    assert [result.render() for result in results] == [
        f"ok   iam image_processor: 4 action(s) on 3 resource(s) allowed for {IMAGE_ROLE} "
        "(4 pair(s) simulated)",
        f"ok   iam orchestrator: 3 action(s) on 2 resource(s) allowed for {ORCHESTRATOR_ROLE} "
        "(3 pair(s) simulated)",
        "skip iam events to orchestrator: service principal events.amazonaws.com: its "
        "resource policies are checked offline by make test",
    ]


def test_iam_an_implicit_deny_names_role_action_resource_and_missing_context(
    stubs: Stubs,
) -> None:
    denied = {
        "EvalActionName": "bedrock:InvokeModel",
        "EvalResourceName": FOUNDATION_ARN,
        "EvalDecision": "implicitDeny",
        "MatchedStatements": [],
        "MissingContextValues": ["bedrock:InferenceProfileArn"],
    }
    stub_simulations(stubs, {4: [denied]})
    results = run_iam(stubs)
    assert [result.status for result in results] == [Status.OK, Status.FAIL, Status.SKIP]
    assert results[1].render() == (
        f"FAIL iam orchestrator: bedrock:InvokeModel on {FOUNDATION_ARN} is implicitDeny for "
        f"{ORCHESTRATOR_ROLE} (matched: no statement; missing context: "
        "bedrock:InferenceProfileArn; needed by bedrock-runtime.InvokeModel): grant it in the "
        "role's policy under terraform/ and apply"
    )


def test_iam_an_explicit_deny_names_the_matched_statements(stubs: Stubs) -> None:
    denied = {
        "EvalActionName": "dynamodb:PutItem",
        "EvalResourceName": TABLE_ARN,
        "EvalDecision": "explicitDeny",
        "MatchedStatements": [
            {
                "SourcePolicyId": "albums-dev-image-processor-policy",
                "SourcePolicyType": "role",
                "StartPosition": {"Line": 4, "Column": 7},
                "EndPosition": {"Line": 12, "Column": 8},
            }
        ],
    }
    stub_simulations(stubs, {2: [denied]})
    results = run_iam(stubs)
    one(
        results[0],
        Status.FAIL,
        f"dynamodb:PutItem on {TABLE_ARN} is explicitDeny for {IMAGE_ROLE}",
        "matched: albums-dev-image-processor-policy (role) line 4; missing context: none",
    )


def test_iam_resource_specific_denials_name_each_resource(stubs: Stubs) -> None:
    result = {
        "EvalActionName": "s3:GetObjectVersion",
        "EvalDecision": "allowed",
        "ResourceSpecificResults": [
            {"EvalResourceName": OBJECT, "EvalResourceDecision": "implicitDeny"},
        ],
    }
    stub_simulations(stubs, {0: [allowed("s3:GetObject", OBJECT), result]})
    results = run_iam(stubs)
    one(results[0], Status.FAIL, f"s3:GetObjectVersion on {OBJECT} is implicitDeny")
    assert len([r for r in results if r.status is Status.FAIL]) == 1


def test_iam_a_missing_result_is_a_fail(stubs: Stubs) -> None:
    stub_simulations(stubs, {0: [allowed("s3:GetObject", OBJECT)]})
    results = run_iam(stubs)
    one(results[0], Status.FAIL, f"s3:GetObjectVersion: no simulation result for {IMAGE_ROLE}")


def test_iam_simulations_follow_their_pages(stubs: Stubs) -> None:
    params, pairs = SIMULATIONS[0]
    stubs.iam.add_response(
        "simulate_principal_policy",
        {"EvaluationResults": [allowed(*pairs[0])], "IsTruncated": True, "Marker": "page-2"},
        expected_params=params,
    )
    stubs.iam.add_response(
        "simulate_principal_policy",
        {
            "EvaluationResults": [{**allowed(*pairs[1]), "EvalDecision": "implicitDeny"}],
            "IsTruncated": False,
        },
        expected_params={**params, "Marker": "page-2"},
    )
    for later, _ in SIMULATIONS[1:]:
        stubs.iam.add_response(
            "simulate_principal_policy",
            {"EvaluationResults": [], "IsTruncated": False},
            expected_params=later,
        )
    results = run_iam(stubs)
    fails = [result.detail for result in results if result.status is Status.FAIL]
    assert fails[0].startswith(f"s3:GetObjectVersion on {OBJECT} is implicitDeny")
    assert "bedrock:InvokeModel: no simulation result" in fails[1]


def test_iam_a_simulation_error_fails_that_role_and_the_next_still_runs(stubs: Stubs) -> None:
    stubs.iam.add_client_error(
        "simulate_principal_policy",
        "NoSuchEntity",
        "The role cannot be found",
        404,
        expected_params=SIMULATIONS[0][0],
    )
    for params, pairs in SIMULATIONS[1:]:
        stubs.iam.add_response(
            "simulate_principal_policy",
            {"EvaluationResults": [allowed(*pair) for pair in pairs]},
            expected_params=params,
        )
    results = run_iam(stubs)
    one(
        results[0],
        Status.FAIL,
        "SimulatePrincipalPolicy of s3:GetObject, s3:GetObjectVersion for",
        "failed: NoSuchEntity: The role cannot be found",
    )
    assert [result.status for result in results[1:]] == [Status.OK, Status.SKIP]


def test_iam_a_role_missing_from_the_state_fails(stubs: Stubs) -> None:
    document = copy.deepcopy(STATE)
    modules = document["values"]["root_module"]["child_modules"][0]["child_modules"]
    modules[2]["resources"] = modules[2]["resources"][1:]  # the orchestrator's role is gone
    for params, pairs in SIMULATIONS[:3]:
        stubs.iam.add_response(
            "simulate_principal_policy",
            {"EvaluationResults": [allowed(*pair) for pair in pairs]},
            expected_params=params,
        )
    results = run_iam(stubs, parse_state(document, "s"))
    one(
        results[1],
        Status.FAIL,
        "role not deployed: no module.album_registration.module.orchestrator.aws_iam_role.this "
        "in the state: run make apply",
    )


def test_iam_an_unresolvable_placeholder_fails_that_permission(stubs: Stubs) -> None:
    document = copy.deepcopy(STATE)
    modules = document["values"]["root_module"]["child_modules"][0]["child_modules"]
    modules[0]["resources"] = modules[0]["resources"][:1]  # the table is gone
    for params, pairs in SIMULATIONS[:2] + SIMULATIONS[3:]:
        stubs.iam.add_response(
            "simulate_principal_policy",
            {"EvaluationResults": [allowed(*pair) for pair in pairs]},
            expected_params=params,
        )
    results = run_iam(stubs, parse_state(document, "s"))
    one(
        results[0],
        Status.FAIL,
        "dynamodb:PutItem: cannot resolve its resource or context: no module.album_registration"
        ".module.storage.aws_dynamodb_table.this in the state",
    )
    assert [result.status for result in results[1:]] == [Status.OK, Status.SKIP]


def test_iam_before_apply_is_skipped(stubs: Stubs) -> None:
    results = run_iam(stubs, parse_state(BEFORE_APPLY, "s"))
    assert [result.render() for result in results] == [
        "skip iam simulation: no deployed role in the state yet: run after make apply"
    ]


def test_iam_without_the_permission_file(stubs: Stubs) -> None:
    kwargs: dict[str, Any] = {"identity": IDENTITY, "region": REGION}
    before = check_iam(stubs.clients.iam, None, state=parse_state(BEFORE_APPLY, "s"), **kwargs)
    assert [r.status for r in before] == [Status.SKIP]
    after = check_iam(stubs.clients.iam, None, state=state(), **kwargs)
    one(after[0], Status.FAIL, "required_permissions.json", "run make test, or pass --permissions")


def test_iam_an_unreadable_state_is_a_fail(stubs: Stubs) -> None:
    results = check_iam(
        stubs.clients.iam,
        load_required_permissions(FIXTURE),
        state=parse_state({}, "s"),
        identity=IDENTITY,
        region=REGION,
        state_problem="terraform is not installed: install it, or pass --state PATH",
    )
    assert [result.render() for result in results] == [
        "FAIL iam simulation: terraform is not installed: install it, or pass --state PATH"
    ]


# --- the command ------------------------------------------------------------------------------


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A Terraform root like terraform/environments/dev, initialised with provider 6.28.0."""
    folder = tmp_path / "env"
    folder.mkdir()
    (folder / "variables.tf").write_text(VARIABLES, encoding="utf-8")
    (folder / ".terraform.lock.hcl").write_text(LOCK.format(version="6.28.0"), encoding="utf-8")
    return folder


@pytest.fixture
def definition(tmp_path: Path) -> Path:
    path = tmp_path / "state_machine.asl.json"
    path.write_text(VALID_ASL, encoding="utf-8")
    return path


def run(
    *arguments: str,
    clients: Any,
    read_state: Callable[[Path], Any] | None = None,
    environ: dict[str, str] | None = None,
) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            parsed = build_parser().parse_args(["preflight", *arguments])
    except SystemExit as exited:
        return int(str(exited.code)), out.getvalue(), err.getvalue()

    def refuse(_root: Path) -> Any:
        raise AssertionError("terraform must not run")

    code = parsed.run(
        parsed,
        clients=clients,
        out=out,
        err=err,
        environ=environ or {},
        read_state=read_state or refuse,
    )
    return code, out.getvalue(), err.getvalue()


def stub_account_checks(stubs: Stubs, function: str = ORCHESTRATOR_NAME) -> None:
    """Identity, durable API (function not there yet), Bedrock all fine, definition valid."""
    stubs.sts.add_response(
        "get_caller_identity",
        {"UserId": "AROA:session", "Account": ACCOUNT, "Arn": CALLER},
        expected_params={},
    )
    if function == ORCHESTRATOR_NAME:
        stubs.lambda_.add_client_error(
            "list_durable_executions_by_function",
            "ResourceNotFoundException",
            "Function not found",
            404,
            expected_params=durable_params(function),
        )
    else:
        stubs.lambda_.add_response(
            "list_durable_executions_by_function",
            {"DurableExecutions": []},
            expected_params=durable_params(function),
        )
    stub_profile(stubs, profile_response())
    stub_model(stubs, model_response())
    stub_availability(stubs, availability())
    stubs.stepfunctions.add_response(
        "validate_state_machine_definition",
        {"result": "OK", "diagnostics": []},
        expected_params=validate_params(VALID_ASL),
    )


def test_preflight_before_apply_passes_with_the_iam_check_skipped(
    stubs: Stubs, root: Path, definition: Path
) -> None:
    stub_account_checks(stubs)
    code, out, err = run(
        "--env",
        "dev",
        "--tf-dir",
        str(root),
        "--definition",
        str(definition),
        "--permissions",
        str(FIXTURE),
        clients=stubs.clients,
        read_state=lambda _root: BEFORE_APPLY,
    )
    assert (code, err) == (EXIT_OK, "")
    lines = out.splitlines()
    assert lines[0] == (
        f"preflight dev: region us-east-1 ({root}/variables.tf default), account {ACCOUNT} as "
        f"{CALLER}, model {MODEL} ({root}/variables.tf default)"
    )
    statuses = ["ok   ", "ok   ", "     ", "ok   ", "ok   ", "skip ", "ok   "]
    assert [line[:5] for line in lines[1:-1]] == statuses  # the note under the model line
    assert lines[1] == (
        "ok   durable functions: offered in us-east-1 (ListDurableExecutionsByFunction answered "
        f"ResourceNotFoundException: {ORCHESTRATOR_NAME} does not exist yet)"
    )
    assert lines[-3] == (
        "skip iam simulation: no deployed role in the state yet: run after make apply"
    )
    assert lines[-2].startswith("ok   aws provider: hashicorp/aws 6.28.0 (>= 6.28.0)")
    assert lines[-1] == "preflight dev: 5 ok, 0 failed, 1 skipped"


def test_preflight_after_apply_reads_the_state_file_and_fails_on_a_denial(
    stubs: Stubs, root: Path, definition: Path, tmp_path: Path
) -> None:
    (tmp_path / "state.json").write_text(json.dumps(STATE), encoding="utf-8")
    stub_account_checks(stubs, function=ORCHESTRATOR)
    stub_simulations(
        stubs, {2: [{**allowed("dynamodb:PutItem", TABLE_ARN), "EvalDecision": "implicitDeny"}]}
    )
    code, out, err = run(
        "--tf-dir",
        str(root),
        "--state",
        str(tmp_path / "state.json"),
        "--definition",
        str(definition),
        "--permissions",
        str(FIXTURE),
        "--region",
        REGION,
        clients=stubs.clients,
    )
    assert (code, err) == (EXIT_FAILED, "")
    lines = out.splitlines()
    assert lines[0].startswith("preflight dev: region us-east-1 (--region), account")
    assert lines[0].endswith(f"model {MODEL} (the deployed functions)")
    assert f"FAIL iam image_processor: dynamodb:PutItem on {TABLE_ARN} is implicitDeny" in out
    assert (
        f"ok   iam orchestrator: 3 action(s) on 2 resource(s) allowed for {ORCHESTRATOR_ROLE}"
        in out
    )
    assert lines[-1] == (
        "preflight dev: 6 ok, 1 failed, 1 skipped: fix the FAIL lines and run it again"
    )


def test_preflight_a_failing_check_does_not_stop_the_others(
    stubs: Stubs, root: Path, tmp_path: Path
) -> None:
    stubs.sts.add_response(
        "get_caller_identity", {"Account": ACCOUNT, "Arn": CALLER}, expected_params={}
    )
    stubs.lambda_.add_client_error(
        "list_durable_executions_by_function",
        "ServiceException",
        "internal",
        500,
        expected_params=durable_params(),
    )
    stubs.bedrock.add_client_error(
        "get_inference_profile",
        "AccessDeniedException",
        "no",
        403,
        expected_params={"inferenceProfileIdentifier": MODEL},
    )
    stubs.bedrock.add_client_error(
        "get_foundation_model_availability",
        "AccessDeniedException",
        "no",
        403,
        expected_params={"modelId": FOUNDATION},
    )
    (root / ".terraform.lock.hcl").unlink()

    def unreadable(_root: Path) -> Any:
        raise CliError("terraform show failed in env: boom", EXIT_ENVIRONMENT)

    code, out, err = run(
        "--tf-dir",
        str(root),
        "--definition",
        str(tmp_path / "missing.json"),
        "--permissions",
        str(FIXTURE),
        clients=stubs.clients,
        read_state=unreadable,
    )
    assert (code, err) == (EXIT_FAILED, "")
    assert [line[:5] for line in out.splitlines()[1:-1]] == ["FAIL "] * 6
    assert "FAIL durable functions: ListDurableExecutionsByFunction failed: ServiceException" in out
    assert "FAIL iam simulation: terraform show failed in env: boom" in out
    assert out.splitlines()[-1].startswith("preflight dev: 0 ok, 6 failed, 0 skipped")


def test_preflight_an_unknown_env_is_a_usage_error(stubs: Stubs) -> None:
    code, out, err = run("--env", "qa", clients=stubs.clients)
    assert (code, out) == (EXIT_USAGE, "")
    assert err == (
        "albums preflight: unknown --env 'qa': no Terraform root terraform/environments/qa "
        "(environments: dev, prod; or --tf-dir DIR)\n"
    )


def test_preflight_an_env_name_cannot_leave_the_environments_folder(stubs: Stubs) -> None:
    code, _, err = run("--env", "../../etc", clients=stubs.clients)
    assert code == EXIT_USAGE
    assert (
        err == "albums preflight: --env '../../etc' is not an environment name (dev, prod, ...)\n"
    )


def test_preflight_a_malformed_permission_file_is_a_usage_error(
    stubs: Stubs, root: Path, tmp_path: Path
) -> None:
    document = fixture_document()
    first_permission(document)["resource"] = "arn:{acct}"
    (tmp_path / "p.json").write_text(json.dumps(document), encoding="utf-8")
    code, out, err = run(
        "--tf-dir",
        str(root),
        "--permissions",
        str(tmp_path / "p.json"),
        clients=stubs.clients,
        read_state=lambda _root: BEFORE_APPLY,
    )
    assert (code, out) == (EXIT_USAGE, "")
    assert err.startswith(f"albums preflight: {tmp_path / 'p.json'}: principals[0].permissions[0]")
    assert err.count("\n") == 1


def test_preflight_a_missing_permission_file_given_by_flag_is_a_usage_error(
    stubs: Stubs, root: Path, tmp_path: Path
) -> None:
    code, _, err = run(
        "--tf-dir",
        str(root),
        "--permissions",
        str(tmp_path / "none.json"),
        clients=stubs.clients,
        read_state=lambda _root: BEFORE_APPLY,
    )
    assert code == EXIT_USAGE
    assert err == f"albums preflight: --permissions {tmp_path / 'none.json'}: no such file\n"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read it (FileNotFoundError)"),
        ("{", "not JSON"),
        (
            json.dumps({"values": {"root_module": {"resources": [{"address": 3}]}}}),
            "values.root_module.resources[0].address: expected a resource address",
        ),
    ],
)
def test_preflight_a_bad_state_file_is_a_usage_error(
    stubs: Stubs, root: Path, tmp_path: Path, content: str | None, message: str
) -> None:
    path = tmp_path / "state.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    code, out, err = run(
        "--tf-dir",
        str(root),
        "--state",
        str(path),
        "--permissions",
        str(FIXTURE),
        clients=stubs.clients,
    )
    assert (code, out) == (EXIT_USAGE, "")
    assert err.startswith(f"albums preflight: --state {path}: {message}")


def test_preflight_without_credentials_is_one_line_and_exit_5(stubs: Stubs, root: Path) -> None:
    clients = PreflightClients(
        lambda_=stubs.clients.lambda_,
        bedrock=stubs.clients.bedrock,
        stepfunctions=stubs.clients.stepfunctions,
        iam=stubs.clients.iam,
        sts=Raising(NoCredentialsError()),
    )
    code, out, err = run(
        "--tf-dir",
        str(root),
        "--permissions",
        str(FIXTURE),
        clients=clients,
        read_state=lambda _root: BEFORE_APPLY,
    )
    assert (code, out) == (EXIT_ENVIRONMENT, "")
    assert err == (
        "albums preflight: Unable to locate credentials (check your AWS credentials and --region)\n"
    )


def test_preflight_credentials_lost_mid_run_stop_it_with_exit_5(stubs: Stubs, root: Path) -> None:
    stubs.sts.add_response(
        "get_caller_identity", {"Account": ACCOUNT, "Arn": CALLER}, expected_params={}
    )
    clients = PreflightClients(
        lambda_=Raising(NoCredentialsError()),
        bedrock=stubs.clients.bedrock,
        stepfunctions=stubs.clients.stepfunctions,
        iam=stubs.clients.iam,
        sts=stubs.clients.sts,
    )
    code, _, err = run(
        "--tf-dir",
        str(root),
        "--permissions",
        str(FIXTURE),
        clients=clients,
        read_state=lambda _root: BEFORE_APPLY,
    )
    assert code == EXIT_ENVIRONMENT
    assert err.endswith("Unable to locate credentials (check your AWS credentials and --region)\n")


def test_preflight_expired_credentials_are_exit_5(stubs: Stubs, root: Path) -> None:
    stubs.sts.add_client_error(
        "get_caller_identity",
        "ExpiredToken",
        "The security token included in the request is expired",
        403,
        expected_params={},
    )
    code, out, err = run(
        "--tf-dir",
        str(root),
        "--permissions",
        str(FIXTURE),
        clients=stubs.clients,
        read_state=lambda _root: BEFORE_APPLY,
    )
    assert (code, out) == (EXIT_ENVIRONMENT, "")
    assert err == (
        "albums preflight: cannot identify the caller (sts:GetCallerIdentity): ExpiredToken: "
        "The security token included in the request is expired: check your AWS credentials\n"
    )


# --- where the settings come from -----------------------------------------------------------


def settings_of(*arguments: str, environ: dict[str, str] | None = None, **kwargs: Any) -> Any:
    parsed = build_parser().parse_args(["preflight", *arguments])
    if "--permissions" not in arguments:
        parsed.permissions = FIXTURE  # never the real file, which others may be rewriting
    return resolve_settings(
        parsed, environ=environ or {}, read_state=kwargs.get("read_state", lambda _r: STATE)
    )


def test_settings_after_apply_come_from_the_state(root: Path) -> None:
    settings = settings_of("--tf-dir", str(root), "--env", "prod")
    assert (settings.region, settings.region_origin) == (REGION, "the state's region output")
    assert (settings.model_id, settings.model_origin) == (MODEL, "the deployed functions")
    assert settings.orchestrator == ORCHESTRATOR
    assert settings.definition == TF_CHECK_DIR / "prod" / "state_machine.asl.json"


def test_settings_before_apply_come_from_tfvars_then_variables(root: Path) -> None:
    (root / "terraform.tfvars").write_text(
        'environment = "staging"\nbedrock_model_id = "eu.amazon.nova-pro-v1:0"\n',
        encoding="utf-8",
    )
    settings = settings_of("--tf-dir", str(root), read_state=lambda _r: BEFORE_APPLY)
    assert (settings.region, settings.region_origin) == (
        "us-east-1",
        f"{root}/variables.tf default",
    )
    assert (settings.model_id, settings.model_origin) == (
        "eu.amazon.nova-pro-v1:0",
        f"{root}/terraform.tfvars",
    )
    assert settings.orchestrator == "albums-staging-orchestrator"


def test_settings_flags_and_variables_win(root: Path) -> None:
    settings = settings_of(
        "--tf-dir",
        str(root),
        "--model-id",
        "anthropic.claude-x-v1:0",
        environ={"ALBUMS_REGION": "us-west-2", "ALBUMS_ENV": "prod"},
    )
    assert (settings.env, settings.region, settings.region_origin) == (
        "prod",
        "us-west-2",
        "ALBUMS_REGION",
    )
    assert (settings.model_id, settings.model_origin) == ("anthropic.claude-x-v1:0", "--model-id")
    settings = settings_of(
        "--tf-dir", str(root), "--region", "eu-west-1", environ={"ALBUMS_REGION": "us-west-2"}
    )
    assert settings.region == "eu-west-1"


def test_the_real_environments_resolve_to_terraform_defaults() -> None:
    for env in ("dev", "prod"):
        settings = settings_of("--env", env, read_state=lambda _r: BEFORE_APPLY)
        assert settings.root == ENVIRONMENTS_DIR / env
        assert (settings.region, settings.model_id) == ("us-east-1", DEFAULT_MODEL_ID)
        assert settings.orchestrator == f"albums-{env}-orchestrator"
