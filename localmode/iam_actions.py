"""What IAM authorizes for one API call: its actions and resources, as AWS documents them.

An API call is not one IAM action. The rules that matter here, from the services' own
documentation:

- DynamoDB authorizes each item of ``TransactWriteItems``/``TransactGetItems`` by that
  item's own action (``Put`` → ``dynamodb:PutItem``, ``Update`` → ``UpdateItem``,
  ``Delete`` → ``DeleteItem``, ``ConditionCheck`` → ``ConditionCheckItem``, ``Get`` →
  ``GetItem``): there is no ``dynamodb:TransactWriteItems`` action ("Using IAM with
  DynamoDB transactions"). ``BatchWriteItem``/``BatchGetItem`` are actions of their own,
  on every table they name. A ``Query``/``Scan`` of an index is authorized on the index ARN.
- S3: ``GetObject``/``HeadObject`` with a ``VersionId`` need ``s3:GetObjectVersion``
  (without one, ``s3:GetObject``); listing a bucket is ``s3:ListBucket`` on the bucket.
- Lambda: ``Invoke`` is ``lambda:InvokeFunction`` on the function (or its qualifier); the
  durable SDK's checkpoints and state reads are ``lambda:CheckpointDurableExecution`` and
  ``lambda:GetDurableExecutionState`` on the durable execution's ARN.
- Bedrock: ``InvokeModel`` through an inference profile is authorized on the profile and
  on the foundation model it routes to; ``Converse`` is ``bedrock:InvokeModel``.
- Step Functions task-token callbacks (``SendTaskSuccess``/``Failure``/``Heartbeat``) have
  no resource type: IAM checks them against ``*``.

Everything else is ``<iam prefix>:<operation>`` on the resource the request names. An
operation this module does not know returns ``None``, and the IAM coverage check reports
it, so a new kind of call cannot slip through unjudged.

Resources are local ARNs; :meth:`Authorization.logical` rewrites them in terms of the
deployment (``{table}``, ``{bucket}/uploads/example.jpg``, ``{function:image_processor}``)
so one recording can be checked against what each environment renders.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from albums.domain.vision import foundation_model_id, is_inference_profile

ACCOUNT: Final = "123456789012"
PARTITION: Final = "aws"
#: The orchestrator's function name in local mode (``localmode.durable.FUNCTION_NAME``).
LOCAL_ORCHESTRATOR: Final = "album-orchestrator"
#: Local mode names the Step Functions pattern's functions ``sf-<name>``.
LOCAL_FUNCTION_PREFIX: Final = "sf-"
#: The example object a logical S3 resource stands for.
EXAMPLE_OBJECT: Final = "example.jpg"

#: IAM's service prefix where it differs from botocore's signing name.
_IAM_PREFIX: Final[Mapping[str, str]] = {"monitoring": "cloudwatch", "bedrock-runtime": "bedrock"}
_TRANSACT_ACTIONS: Final[Mapping[str, str]] = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
    "Get": "GetItem",
}


@dataclass(frozen=True, slots=True, order=True)
class Authorization:
    """One IAM action on one resource, with the request context keys it carries."""

    action: str
    resource: str
    context: tuple[tuple[str, str], ...] = ()

    def logical(self) -> Authorization:
        """Return this authorization with its resource in deployment terms (:func:`logical`)."""
        return Authorization(self.action, logical(self.resource), self.context)

    def sort_key(self) -> tuple[str, str, tuple[tuple[str, str], ...]]:
        """Sort by action, then resource."""
        return (self.action, self.resource, self.context)


def _arn(service: str, region: str, resource: str, *, account: str = ACCOUNT) -> str:
    return f"arn:{PARTITION}:{service}:{region}:{account}:{resource}"


def _table(name: str, region: str) -> str:
    return name if name.startswith("arn:") else _arn("dynamodb", region, f"table/{name}")


def _function(name: str, region: str, qualifier: str | None = None) -> str:
    arn = name if name.startswith("arn:") else _arn("lambda", region, f"function:{name}")
    if qualifier and arn.count(":") == 6:
        arn = f"{arn}:{qualifier}"
    return arn


def _dynamodb(operation: str, params: Mapping[str, Any], region: str) -> list[Authorization]:
    if operation in ("TransactWriteItems", "TransactGetItems"):
        found = []
        for item in params.get("TransactItems", []):
            for kind, body in item.items():
                action = _TRANSACT_ACTIONS[kind]
                found.append(Authorization(f"dynamodb:{action}", _table(body["TableName"], region)))
        return found
    if operation in ("BatchWriteItem", "BatchGetItem"):
        return [
            Authorization(f"dynamodb:{operation}", _table(name, region))
            for name in params.get("RequestItems", {})
        ]
    resource = _table(str(params["TableName"]), region)
    if params.get("IndexName"):
        resource = f"{resource}/index/{params['IndexName']}"
    return [Authorization(f"dynamodb:{operation}", resource)]


def _s3(operation: str, params: Mapping[str, Any], _region: str) -> list[Authorization]:
    bucket = f"arn:{PARTITION}:s3:::{params['Bucket']}"
    if operation in ("ListObjects", "ListObjectsV2", "ListObjectVersions"):
        action = "ListBucketVersions" if operation == "ListObjectVersions" else "ListBucket"
        return [Authorization(f"s3:{action}", bucket)]
    if operation in ("HeadBucket", "GetBucketLocation"):
        action = "ListBucket" if operation == "HeadBucket" else operation
        return [Authorization(f"s3:{action}", bucket)]
    resource = f"{bucket}/{params['Key']}"
    if operation in ("GetObject", "HeadObject"):
        action = "GetObjectVersion" if params.get("VersionId") else "GetObject"
        return [Authorization(f"s3:{action}", resource)]
    if operation == "DeleteObject" and params.get("VersionId"):
        return [Authorization("s3:DeleteObjectVersion", resource)]
    return [Authorization(f"s3:{operation}", resource)]


def _lambda(operation: str, params: Mapping[str, Any], region: str) -> list[Authorization]:
    if operation in ("Invoke", "InvokeAsync"):
        function = _function(str(params["FunctionName"]), region, params.get("Qualifier"))
        return [Authorization("lambda:InvokeFunction", function)]
    if "DurableExecutionArn" in params:
        execution = str(params["DurableExecutionArn"])
        if not execution.startswith("arn:"):
            # The testing runner names executions by id alone; on AWS it is one of the
            # orchestrator's durable executions.
            execution = _durable_execution(_function(LOCAL_ORCHESTRATOR, region, "1"))
        return [Authorization(f"lambda:{operation}", execution)]
    if "CallbackId" in params:
        # A callback id names no ARN in the request; IAM authorizes it on the durable
        # execution it belongs to, which is one of the orchestrator's.
        execution = _durable_execution(_function(LOCAL_ORCHESTRATOR, region, "1"))
        return [Authorization(f"lambda:{operation}", execution)]
    if "FunctionName" in params:
        function = _function(str(params["FunctionName"]), region, params.get("Qualifier"))
        return [Authorization(f"lambda:{operation}", function)]
    return [Authorization(f"lambda:{operation}", "*")]


def _durable_execution(qualified_function: str) -> str:
    return f"{qualified_function}/durable-execution/example/example"


def _bedrock(operation: str, params: Mapping[str, Any], region: str) -> list[Authorization]:
    action = "bedrock:InvokeModel" if operation in ("InvokeModel", "Converse") else None
    if operation in ("InvokeModelWithResponseStream", "ConverseStream"):
        action = "bedrock:InvokeModelWithResponseStream"
    if action is None:
        return [Authorization(f"bedrock:{operation}", "*")]
    model = str(params.get("modelId") or params["ModelId"])
    if model.startswith("arn:"):
        return [Authorization(action, model)]
    if is_inference_profile(model):
        foundation = foundation_model_id(model)
        return [
            Authorization(action, _arn("bedrock", region, f"inference-profile/{model}")),
            Authorization(
                action, _arn("bedrock", region, f"foundation-model/{foundation}", account="")
            ),
        ]
    return [Authorization(action, _arn("bedrock", region, f"foundation-model/{model}", account=""))]


def _states(operation: str, params: Mapping[str, Any], _region: str) -> list[Authorization]:
    for name in ("executionArn", "stateMachineArn", "mapRunArn", "activityArn"):
        if name in params:
            return [Authorization(f"states:{operation}", str(params[name]))]
    return [Authorization(f"states:{operation}", "*")]


def _named(parameter: str) -> Callable[[str, str, Mapping[str, Any], str], list[Authorization]]:
    def expand(
        prefix: str, operation: str, params: Mapping[str, Any], _region: str
    ) -> list[Authorization]:
        return [Authorization(f"{prefix}:{operation}", str(params.get(parameter) or "*"))]

    return expand


def _secret(
    prefix: str, operation: str, params: Mapping[str, Any], region: str
) -> list[Authorization]:
    secret = str(params["SecretId"])
    if not secret.startswith("arn:"):
        secret = _arn("secretsmanager", region, f"secret:{secret}")
    return [Authorization(f"{prefix}:{operation}", secret)]


_BY_SERVICE: Final[Mapping[str, Callable[[str, Mapping[str, Any], str], list[Authorization]]]] = {
    "dynamodb": _dynamodb,
    "s3": _s3,
    "lambda": _lambda,
    "bedrock-runtime": _bedrock,
    "stepfunctions": _states,
}
_BY_PARAMETER: Final[
    Mapping[str, Callable[[str, str, Mapping[str, Any], str], list[Authorization]]]
] = {
    "sns": _named("TopicArn"),
    "sqs": _named("QueueUrl"),
    "secretsmanager": _secret,
}
#: botocore service names whose IAM prefix differs (Step Functions signs as ``states``).
_SERVICE_PREFIX: Final[Mapping[str, str]] = {"stepfunctions": "states", **_IAM_PREFIX}


def authorizations(
    service: str, operation: str, params: Mapping[str, Any], *, region: str
) -> list[Authorization] | None:
    """Return the IAM authorizations ``service.operation`` needs, or ``None``.

    Parameters
    ----------
    service
        botocore's service name (``dynamodb``, ``stepfunctions``, ``bedrock-runtime``).
    operation
        The API operation (``TransactWriteItems``).
    params
        The request parameters, as given to the client.
    region
        The client's region (resources are ARNs in it).

    Returns
    -------
    list[Authorization] | None
        Each action on each resource, or ``None`` for a service this module does not know
        how to expand (the coverage check reports those).
    """
    try:
        if service in _BY_SERVICE:
            return _BY_SERVICE[service](operation, params, region)
        if service in _BY_PARAMETER:
            prefix = _SERVICE_PREFIX.get(service, service)
            return _BY_PARAMETER[service](prefix, operation, params, region)
    except (KeyError, TypeError, AttributeError):
        return None  # a request without the names IAM needs: reported, never guessed
    return None


def logical(resource: str) -> str:
    """``resource`` in deployment terms: the kind of thing it is, not its local name.

    Local mode has one table, one uploads bucket, one notification topic, one signing
    secret, one state machine and one orchestrator, so a resource of that kind is *the*
    one; Lambda functions keep their name (``{function:image_processor}``). S3 keys keep
    their first folder (policies scope ``uploads/*``). Anything else is returned as is,
    and the coverage check reports that it cannot bind it.
    """
    if resource == "*":
        return resource
    parts = resource.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        return resource
    service, rest = parts[2], parts[5]
    binder = _LOGICAL.get(service)
    return binder(rest) if binder is not None else resource


def _logical_dynamodb(rest: str) -> str:
    kind, _, tail = rest.partition("/")
    if kind != "table":
        return f"{{dynamodb:{rest}}}"
    _name, _, below = tail.partition("/")
    return "{table}" + (f"/{below}" if below else "")


def _logical_s3(rest: str) -> str:
    _bucket, slash, key = rest.partition("/")
    if not slash:
        return "{bucket}"
    folder, _, name = key.rpartition("/")
    return (
        "{bucket}/"
        + (f"{folder.split('/', 1)[0]}/" if folder else "")
        + (EXAMPLE_OBJECT if name else "")
    )


def _logical_lambda(rest: str) -> str:
    if "/durable-execution/" in rest:
        return "{orchestrator_durable_execution}"
    fields = rest.split(":")
    if fields[0] != "function" or len(fields) < 2:
        return f"{{lambda:{rest}}}"
    name = fields[1]
    if name == LOCAL_ORCHESTRATOR:
        base = "{orchestrator}"
    else:
        base = "{function:" + name.removeprefix(LOCAL_FUNCTION_PREFIX) + "}"
    if len(fields) > 2:
        return f"{base}:{{qualifier}}"
    return base


def _logical_states(rest: str) -> str:
    kind = rest.split(":", 1)[0]
    return {"stateMachine": "{state_machine}", "execution": "{state_machine_execution}"}.get(
        kind, f"{{states:{rest}}}"
    )


def _logical_bedrock(rest: str) -> str:
    # The model a function calls is whatever its BEDROCK_MODEL_ID says (local mode's is a
    # stand-in): the coverage check expands this into the deployed model's profile and
    # foundation model.
    kind = rest.split("/", 1)[0]
    if kind in ("inference-profile", "foundation-model"):
        return "{vision_model}"
    return f"{{bedrock:{rest}}}"


_LOGICAL: Final[Mapping[str, Callable[[str], str]]] = {
    "dynamodb": _logical_dynamodb,
    "s3": _logical_s3,
    "lambda": _logical_lambda,
    "states": _logical_states,
    "bedrock": _logical_bedrock,
    "sns": lambda _rest: "{notification_topic}",
    "secretsmanager": lambda _rest: "{signing_secret}",
}
