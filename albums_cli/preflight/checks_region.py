"""Checks of what the region and the account offer: durable functions, the Bedrock model."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from albums.domain.vision import foundation_model_id, is_inference_profile
from albums_cli.preflight.results import CheckResult, _attempt, _fail, _Failed, _ok

#: Error codes of a durable API call the region does not know.
_NOT_OFFERED: Final = frozenset(
    {
        "UnknownOperationException",
        "UnrecognizedClientException",
        "InvalidAction",
        "InvalidActionException",
        "UnsupportedOperation",
        "UnsupportedOperationException",
        "OperationNotSupportedException",
        "NotImplemented",
        "404",
    }
)


def check_durable_functions(
    lambda_client: Any, function: str, region: str, *, deployed: bool = False
) -> CheckResult:
    """Check that ``region`` offers Lambda durable functions, reading only.

    ``ListDurableExecutionsByFunction`` on the orchestrator answers in a region that has
    the durable API, also before apply: a function that does not exist yet is a
    ``ResourceNotFoundException``, where a region without the API answers an unknown
    operation (``UnknownOperationException``, ``UnrecognizedClientException``, ...).

    Parameters
    ----------
    lambda_client
        A Lambda client of the region.
    function
        The orchestrator's name or ARN.
    region
        The region, for messages.
    deployed
        Whether the state holds the orchestrator: then it must be found, and be durable.
    """
    name = "durable functions"
    response = _attempt(
        lambda: lambda_client.list_durable_executions_by_function(FunctionName=function, MaxItems=1)
    )
    if not isinstance(response, _Failed):
        return _ok(name, f"offered in {region}; {function} answers as a durable function")
    if response.code in ("ResourceNotFoundException", "InvalidParameterValueException"):
        if deployed:
            return _fail(
                name,
                f"{region} has the durable API, but {function} from the Terraform state "
                f"answered {response.message}: check --region and the account, or apply "
                "again (durable execution can only be enabled when a function is created)",
            )
        return _ok(
            name,
            f"offered in {region} (ListDurableExecutionsByFunction answered "
            f"{response.code}: {function} does not exist yet)",
        )
    if response.code in _NOT_OFFERED:
        return _fail(
            name,
            f"not offered in {region}: ListDurableExecutionsByFunction answered "
            f"{response.message}: deploy to a region that offers Lambda durable functions "
            "(set `region` in terraform.tfvars and pass --region), or enable the region "
            "for the account",
        )
    if response.code == "AccessDeniedException":
        return _fail(
            name,
            f"cannot tell: {response.message}: allow lambda:ListDurableExecutionsByFunction "
            "to the caller",
        )
    return _fail(name, f"ListDurableExecutionsByFunction failed: {response.message or 'error'}")


def _check_profile(bedrock: Any, model_id: str, region: str) -> CheckResult | str:
    """Return a FAIL of the inference profile, else a note on where it routes."""
    name = "bedrock model"
    foundation = foundation_model_id(model_id)
    profile = _attempt(lambda: bedrock.get_inference_profile(inferenceProfileIdentifier=model_id))
    if isinstance(profile, _Failed):
        if profile.code in ("ResourceNotFoundException", "ValidationException"):
            return _fail(
                name,
                f"inference profile {model_id} is not offered in {region} "
                f"({profile.message}): set bedrock_model_id to the profile of this "
                "region's geography (us., eu., apac., global.), or deploy where it is",
            )
        return _fail(name, f"GetInferenceProfile failed: {profile.message or 'error'}")
    if profile.get("status") != "ACTIVE":
        return _fail(name, f"inference profile {model_id} is {profile.get('status')!r}")
    routed = [str(model.get("modelArn", "")) for model in profile.get("models") or []]
    targets = sorted({arn.rsplit("/", 1)[-1] for arn in routed if arn})
    if targets and foundation not in targets:
        return _fail(
            name,
            f"inference profile {model_id} routes to {', '.join(targets)}, but "
            f"Terraform grants bedrock:InvokeModel on {foundation}: fix bedrock_model_id",
        )
    regions = sorted({arn.split(":")[3] for arn in routed if arn.count(":") >= 5})
    return f"the profile routes to {foundation} in {', '.join(regions) or 'no region'}"


def _model_problem(model: Mapping[str, Any], model_id: str, foundation: str) -> str | None:
    """Return why the foundation model cannot serve the workflow as configured, if it cannot."""
    modalities = model.get("inputModalities") or []
    if "IMAGE" not in modalities:
        return (
            f"{foundation} does not take images (input: {', '.join(modalities) or 'none'}): "
            "the workflow needs a vision model for bedrock_model_id"
        )
    inference = model.get("inferenceTypesSupported") or []
    if not is_inference_profile(model_id) and "ON_DEMAND" not in inference:
        return (
            f"{foundation} cannot be invoked on demand ({', '.join(inference) or 'no type'}): "
            f"set bedrock_model_id to an inference profile such as us.{foundation}"
        )
    return None


def check_bedrock_model(bedrock: Any, model_id: str, region: str) -> CheckResult:
    """Check that the configured model exists in ``region`` and can serve the workflow.

    An inference profile (``GetInferenceProfile``) must be active and route to the
    foundation model Terraform grants ``bedrock:InvokeModel`` on; the foundation model
    (``GetFoundationModel``) must take images, and be invocable on demand when it is named
    directly.

    Parameters
    ----------
    bedrock
        A Bedrock (control plane) client of the region.
    model_id
        Terraform's ``bedrock_model_id``.
    region
        The region, for messages.
    """
    name = "bedrock model"
    foundation = foundation_model_id(model_id)
    notes: list[str] = []
    if is_inference_profile(model_id):
        profile = _check_profile(bedrock, model_id, region)
        if isinstance(profile, CheckResult):
            return profile
        notes.append(profile)
    details = _attempt(lambda: bedrock.get_foundation_model(modelIdentifier=foundation))
    if isinstance(details, _Failed):
        if details.code in ("ResourceNotFoundException", "ValidationException"):
            return _fail(
                name,
                f"foundation model {foundation} is not offered in {region} "
                f"({details.message}): pick a model of the region for bedrock_model_id",
            )
        return _fail(name, f"GetFoundationModel failed: {details.message or 'error'}")
    model = details.get("modelDetails") or {}
    problem = _model_problem(model, model_id, foundation)
    if problem is not None:
        return _fail(name, problem)
    lifecycle = (model.get("modelLifecycle") or {}).get("status", "ACTIVE")
    if lifecycle != "ACTIVE":
        notes.append(f"{foundation} is {lifecycle}: plan a move to a current model")
    label = model.get("modelName") or foundation
    return _ok(name, f"{model_id} ({label}, takes images) is offered in {region}", notes)


def check_bedrock_access(bedrock: Any, model_id: str, region: str) -> CheckResult:
    """Check that the account may invoke the model: ``GetFoundationModelAvailability``.

    Region availability, authorization, the AWS Marketplace entitlement and the model
    agreement must all be there; each missing one says what to do (for Anthropic models,
    also the one-time first-use form).

    Parameters
    ----------
    bedrock
        A Bedrock (control plane) client of the region.
    model_id
        Terraform's ``bedrock_model_id`` (a profile is checked as its foundation model).
    region
        The region, for messages.
    """
    name = "bedrock access"
    foundation = foundation_model_id(model_id)
    anthropic = foundation.startswith("anthropic.")
    response = _attempt(lambda: bedrock.get_foundation_model_availability(modelId=foundation))
    if isinstance(response, _Failed):
        if response.code == "AccessDeniedException":
            return _fail(
                name,
                f"cannot tell: {response.message}: allow "
                "bedrock:GetFoundationModelAvailability to the caller",
            )
        return _fail(name, f"GetFoundationModelAvailability failed: {response.message or 'error'}")
    problems: list[str] = []
    if response.get("regionAvailability") != "AVAILABLE":
        problems.append(f"not available in {region}: choose a region or profile that has it")
    if response.get("authorizationStatus") != "AUTHORIZED":
        problems.append(
            "the account is not authorized to use it"
            + (
                ": submit Anthropic's one-time first-use form (Bedrock console > Model "
                "catalog > the model, or `aws bedrock put-use-case-for-model-access`)"
                if anthropic
                else ""
            )
            + "; check that no SCP or IAM policy denies it"
        )
    if response.get("entitlementAvailability") != "AVAILABLE":
        problems.append(
            "no AWS Marketplace subscription: open the model in the Bedrock console "
            "playground (or invoke it once) as a principal allowed aws-marketplace:Subscribe"
            " and aws-marketplace:ViewSubscriptions (the functions' roles are not)"
        )
    agreement = response.get("agreementAvailability") or {}
    status = agreement.get("status")
    if status == "PENDING":
        problems.append("the model agreement is being set up: run preflight again in 15 minutes")
    elif status == "ERROR":
        problems.append(
            f"the model agreement failed: {agreement.get('errorMessage') or 'no message'}"
        )
    elif status != "AVAILABLE":
        problems.append(
            "no model agreement: accept the offer (`aws bedrock "
            f"list-foundation-model-agreement-offers --model-id {foundation}`, then "
            "`create-foundation-model-agreement`) or open the model in the playground"
        )
    if problems:
        return _fail(name, f"{foundation} in {region}: " + "; ".join(problems))
    return _ok(
        name,
        f"{foundation} in {region}: available, authorized, subscribed, agreement accepted",
    )
