"""Contract check of the REAL terraform/ tree for what provider 5.100 cannot validate.

Run with the python of ``.venv-tf`` (it needs python-hcl2): ``make tf-check`` does. Checks:

- the durable orchestrator has ``durable_config`` with ``execution_timeout`` and
  ``retention_period`` taken from variables (defaults 86400 and 14), inside the markers
  that ``scripts/tf_offline.py`` removes; ``publish = true``; an alias on the published
  version; the checkpoint actions on ``function:NAME:*``;
- EventBridge invokes the alias (the upload rule's durable target is the alias ARN, the
  permission has the alias as qualifier, and the stack passes the alias ARN);
- provider constraints: ``>= 6.28, < 7.0`` in every module and both environments
  (``durable_config`` needs 6.25, ``aws_lambda_permission.invoked_via_function_url`` 6.28);
- the table's keys and GSI1 equal ``TABLE_SCHEMA`` in ``albums.domain.records``;
- no IAM statement that allows a wildcard action; every module has main/variables/outputs/
  versions.tf and a README, and every variable a type and a description;
- both environments output what the CLI reads.

Prints one line per check and exits 1 when any fails.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import hcl2  # type: ignore[import-not-found,unused-ignore]

REPO_ROOT = Path(__file__).resolve().parent.parent
TF = REPO_ROOT / "terraform"
sys.path.insert(0, str(REPO_ROOT / "shared_layer"))

from albums.domain.records import TABLE_SCHEMA  # noqa: E402

MODULE_FILES = ("main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md")
CLI_OUTPUTS = ("bucket_name", "table_name", "state_machine_arn", "durable_alias_arn", "api_url")
ENVIRONMENTS = ("dev", "prod")


def load(path: Path) -> dict[str, Any]:
    """Parse one HCL file."""
    with path.open(encoding="utf-8") as handle:
        result: dict[str, Any] = hcl2.load(handle)
    return result


def attr(block: dict[str, Any], key: str) -> Any:
    """Value of an attribute (python-hcl2 wraps attribute values in a one-item list)."""
    value = block.get(key)
    if isinstance(value, list) and len(value) == 1:
        return value[0]
    return value


def blocks(doc: dict[str, Any], kind: str) -> dict[tuple[str, str], dict[str, Any]]:
    """``resource``/``data`` blocks of a file keyed by (type, name)."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for entry in doc.get(kind, []):
        for type_name, named in entry.items():
            for name, body in named.items():
                found[(type_name, name)] = body
    return found


def labelled(doc: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    """``variable``/``output``/``module`` blocks keyed by name."""
    return {name: body for entry in doc.get(kind, []) for name, body in entry.items()}


def walk(node: Any) -> Iterator[dict[str, Any]]:
    """Every dict inside ``node``."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def aws_constraint(path: Path) -> str:
    """The hashicorp/aws version constraint of a versions.tf."""
    terraform = load(path)["terraform"][0]
    providers = attr(terraform, "required_providers")
    aws = attr(providers, "aws")
    return str(aws["version"])


# --- the checks ----------------------------------------------------------------------------


def check_durable_config() -> list[str]:
    """durable_config with the variables, publish, alias, checkpoint actions."""
    module = TF / "modules" / "durable_orchestrator"
    main_text = (module / "main.tf").read_text(encoding="utf-8")
    doc = load(module / "main.tf")
    resources = blocks(doc, "resource")
    problems: list[str] = []
    function = resources.get(("aws_lambda_function", "this"))
    if function is None:
        return ["durable_orchestrator has no aws_lambda_function.this"]
    durable = attr(function, "durable_config")
    if not isinstance(durable, dict):
        problems.append("aws_lambda_function.this has no durable_config block")
    else:
        if attr(durable, "execution_timeout") != "${var.execution_timeout}":
            problems.append("durable_config.execution_timeout must be var.execution_timeout")
        if attr(durable, "retention_period") != "${var.retention_period}":
            problems.append("durable_config.retention_period must be var.retention_period")
    marked = re.search(
        r"# offline-check:durable_config:begin\n\s*durable_config \{.*?\}\n\s*"
        r"# offline-check:durable_config:end",
        main_text,
        re.S,
    )
    if not marked:
        problems.append("durable_config is not wrapped in the offline-check markers")
    if attr(function, "publish") is not True:
        problems.append("the orchestrator must set publish = true")
    variables = labelled(load(module / "variables.tf"), "variable")
    for name, default in (("execution_timeout", 86400), ("retention_period", 14)):
        if attr(variables.get(name, {}), "default") != default:
            problems.append(f"variable {name} must default to {default}")
    alias = resources.get(("aws_lambda_alias", "live"))
    if alias is None or attr(alias, "function_version") != "${aws_lambda_function.this.version}":
        problems.append("aws_lambda_alias.live must point at aws_lambda_function.this.version")
    data = blocks(doc, "data")
    policy = data.get(("aws_iam_policy_document", "this"), {})
    checkpoint = [
        s
        for s in policy.get("statement", [])
        if set(attr(s, "actions") or [])
        == {"lambda:CheckpointDurableExecution", "lambda:GetDurableExecutionState"}
    ]
    if not checkpoint or not any(
        str(r).endswith(":*") for r in attr(checkpoint[0], "resources") or []
    ):
        problems.append("the checkpoint actions must be granted on function:NAME:*")
    return problems


def check_alias_target() -> list[str]:
    """EventBridge invokes the alias, never the unqualified function."""
    problems: list[str] = []
    events = blocks(load(TF / "modules" / "events" / "main.tf"), "resource")
    target = events.get(("aws_cloudwatch_event_target", "durable"), {})
    if attr(target, "arn") != "${var.orchestrator_alias_arn}":
        problems.append("the durable upload target must be var.orchestrator_alias_arn")
    if not isinstance(attr(target, "dead_letter_config"), dict) or not isinstance(
        attr(target, "retry_policy"), dict
    ):
        problems.append("the durable upload target needs a retry policy and a DLQ")
    permission = events.get(("aws_lambda_permission", "durable_from_upload"), {})
    if attr(permission, "qualifier") != "${var.orchestrator_alias_name}":
        problems.append("the invoke permission must be on the alias (qualifier)")
    stack = labelled(load(TF / "modules" / "album_registration" / "main.tf"), "module")
    events_call = stack.get("events", {})
    if attr(events_call, "orchestrator_alias_arn") != "${module.orchestrator.alias_arn}":
        problems.append("the stack must pass module.orchestrator.alias_arn to events")
    return problems


def check_versions() -> list[str]:
    """>= 6.28, < 7.0 in every versions.tf (every module and both roots)."""
    problems: list[str] = []
    paths = sorted((TF / "modules").glob("*/versions.tf"))
    paths += [TF / "environments" / env / "versions.tf" for env in ENVIRONMENTS]
    for path in paths:
        constraint = aws_constraint(path)
        if not re.fullmatch(r">=\s*6\.28(\.0)?\s*,\s*<\s*7\.0", constraint):
            problems.append(
                f"{path.relative_to(REPO_ROOT)}: aws {constraint!r} must be '>= 6.28, < 7.0'"
            )
    return problems


def check_table_schema() -> list[str]:
    """Keys and GSI1 of the table equal TABLE_SCHEMA."""
    doc = load(TF / "modules" / "storage" / "main.tf")
    table = blocks(doc, "resource")[("aws_dynamodb_table", "this")]
    attributes = sorted(
        (
            {"AttributeName": attr(a, "name"), "AttributeType": attr(a, "type")}
            for a in table["attribute"]
        ),
        key=str,
    )
    expected_attributes = sorted(TABLE_SCHEMA["AttributeDefinitions"], key=str)
    problems: list[str] = []
    if attributes != expected_attributes:
        problems.append(f"attributes {attributes} != {expected_attributes}")
    keys = [
        {"AttributeName": attr(table, "hash_key"), "KeyType": "HASH"},
        {"AttributeName": attr(table, "range_key"), "KeyType": "RANGE"},
    ]
    if keys != TABLE_SCHEMA["KeySchema"]:
        problems.append(f"key schema {keys} != {TABLE_SCHEMA['KeySchema']}")
    indexes = [
        {
            "IndexName": attr(g, "name"),
            "KeySchema": [
                {"AttributeName": attr(g, "hash_key"), "KeyType": "HASH"},
                {"AttributeName": attr(g, "range_key"), "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": attr(g, "projection_type")},
        }
        for g in table.get("global_secondary_index", [])
    ]
    if indexes != TABLE_SCHEMA["GlobalSecondaryIndexes"]:
        problems.append(f"indexes {indexes} != {TABLE_SCHEMA['GlobalSecondaryIndexes']}")
    if attr(table, "billing_mode") != TABLE_SCHEMA["BillingMode"]:
        problems.append(f"billing mode must be {TABLE_SCHEMA['BillingMode']}")
    return problems


def check_no_wildcard_actions() -> list[str]:
    """No Allow statement and no policy_statements entry names a wildcard action."""
    problems: list[str] = []
    for path in sorted(TF.rglob("*.tf")):
        if ".terraform" in path.parts:
            continue
        for node in walk(load(path)):
            actions = attr(node, "actions")
            if not isinstance(actions, list) or attr(node, "effect") == "Deny":
                continue
            bad = [a for a in actions if isinstance(a, str) and "*" in a]
            if bad:
                problems.append(f"{path.relative_to(REPO_ROOT)}: wildcard actions {bad}")
    return problems


def check_module_layout() -> list[str]:
    """terraform-aws-modules layout; typed, described variables."""
    problems: list[str] = []
    for module in sorted(p for p in (TF / "modules").iterdir() if p.is_dir()):
        missing = [f for f in MODULE_FILES if not (module / f).is_file()]
        if missing:
            problems.append(f"modules/{module.name} lacks {', '.join(missing)}")
            continue
        for name, body in labelled(load(module / "variables.tf"), "variable").items():
            if not attr(body, "description") or not attr(body, "type"):
                problems.append(f"modules/{module.name}: variable {name} needs type + description")
        for name, body in labelled(load(module / "outputs.tf"), "output").items():
            if not attr(body, "description"):
                problems.append(f"modules/{module.name}: output {name} needs a description")
    return problems


def check_environment_outputs() -> list[str]:
    """Both environments output what the CLI reads."""
    problems: list[str] = []
    for env in ENVIRONMENTS:
        outputs = labelled(load(TF / "environments" / env / "outputs.tf"), "output")
        missing = [o for o in CLI_OUTPUTS if o not in outputs]
        if missing:
            problems.append(f"environments/{env} lacks outputs {', '.join(missing)}")
    return problems


CHECKS: tuple[tuple[str, Callable[[], list[str]]], ...] = (
    ("durable_config, publish, alias, checkpoint actions", check_durable_config),
    ("EventBridge target on the durable alias", check_alias_target),
    ("provider constraints >= 6.28, < 7.0", check_versions),
    ("table keys and GSI1 equal TABLE_SCHEMA", check_table_schema),
    ("no wildcard IAM actions", check_no_wildcard_actions),
    ("module layout, typed and described variables", check_module_layout),
    ("environment outputs for the CLI", check_environment_outputs),
)


def main() -> int:
    failed = 0
    for title, check in CHECKS:
        problems = check()
        print(f"tf-contract: {'ok  ' if not problems else 'FAIL'} {title}")
        for problem in problems:
            print(f"tf-contract:      {problem}")
        failed += bool(problems)
    print(f"tf-contract: {len(CHECKS) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
