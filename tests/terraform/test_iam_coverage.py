"""``scripts/iam_coverage.py``: recorded calls against rendered policies, offline.

A small rendered state (Terraform's JSON state format, as ``scripts/tf_render.py`` writes
it) stands in for an environment: one function, its role and role policy, the table, and
the wiring a service acts on. Each way a call can fail the check is planted in turn; the
message must name the principal, the action, the resource and the fix.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from scripts import iam_coverage

ACCOUNT = "123456789012"
TABLE = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/albums-dev-albums"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/albums-dev-workflow-store-role"
STORE_ACTIONS = [
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:ConditionCheckItem",
]


def _resource(address: str, kind: str, values: dict[str, Any]) -> dict[str, Any]:
    return {"address": address, "mode": "managed", "type": kind, "name": "this", "values": values}


def _state(actions: list[str], *, extra: list[dict[str, Any]] = ()) -> dict[str, Any]:  # type: ignore[assignment]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "TableItems",
                "Effect": "Allow",
                "Action": actions,
                "Resource": [TABLE, f"{TABLE}/index/*"],
            }
        ],
    }
    module = 'module.album_registration.module.functions["workflow_store"]'
    resources = [
        _resource(
            f"{module}.aws_lambda_function.this",
            "aws_lambda_function",
            {
                "function_name": "albums-dev-workflow-store",
                "handler": "workflow_store.handler.handler",
                "role": ROLE_ARN,
                "arn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:albums-dev-workflow-store",
                "environment": [{"variables": {"TABLE_NAME": "albums-dev-albums"}}],
            },
        ),
        _resource(
            f"{module}.aws_iam_role.this",
            "aws_iam_role",
            {"name": "albums-dev-workflow-store-role", "arn": ROLE_ARN},
        ),
        _resource(
            f"{module}.aws_iam_role_policy.this",
            "aws_iam_role_policy",
            {"role": "albums-dev-workflow-store-role", "policy": json.dumps(policy)},
        ),
        _resource(
            "module.album_registration.module.storage.aws_dynamodb_table.this",
            "aws_dynamodb_table",
            {"name": "albums-dev-albums", "arn": TABLE},
        ),
        *extra,
    ]
    return {"format_version": "1.0", "root_module": {"child_modules": [{"resources": resources}]}}


def _calls(
    *authorizations: dict[str, Any], unexpanded: dict[str, int] | None = None
) -> dict[str, Any]:
    return {
        "version": 1,
        "principals": {
            "workflow_store": {"calls": len(authorizations), "authorizations": list(authorizations)}
        },
        "unattributed_calls": 0,
        "unexpanded_calls": unexpanded or {},
    }


def _authorization(action: str, resource: str = "{table}") -> dict[str, Any]:
    return {
        "action": action,
        "resource": resource,
        "context": {},
        "operations": ["dynamodb.TransactWriteItems"],
        "calls": 3,
    }


def _run(
    tmp_path: Path, state: dict[str, Any], calls: dict[str, Any], *, write: bool = True
) -> int:
    (tmp_path / "rendered" / "dev").mkdir(parents=True, exist_ok=True)
    (tmp_path / "rendered" / "dev" / "state.json").write_text(json.dumps(state), encoding="utf-8")
    (tmp_path / "calls.json").write_text(json.dumps(calls), encoding="utf-8")
    argv = [
        "--calls", str(tmp_path / "calls.json"),
        "--rendered", str(tmp_path / "rendered"),
        "--env", "dev",
        "--report", str(tmp_path / "coverage.json"),
        "--required", str(tmp_path / "required.json"),
    ]  # fmt: skip
    return iam_coverage.main([*argv, "--write"] if write else argv)


def test_a_transaction_condition_check_without_its_grant_fails_naming_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    without = [a for a in STORE_ACTIONS if a != "dynamodb:ConditionCheckItem"]
    calls = _calls(
        _authorization("dynamodb:PutItem"), _authorization("dynamodb:ConditionCheckItem")
    )
    assert _run(tmp_path, _state(without), calls) == 1
    out = capsys.readouterr().out
    denied = [line for line in out.splitlines() if "DENIED" in line]
    assert len(denied) == 1
    assert "workflow_store" in denied[0]
    assert f"dynamodb:ConditionCheckItem on {TABLE}" in denied[0]
    assert "fix: add dynamodb:ConditionCheckItem to statement 'TableItems'" in denied[0]
    report = json.loads((tmp_path / "coverage.json").read_text())
    assert report["environments"]["dev"]["denied"] == [denied[0].split("[dev] ", 1)[1]]


def test_every_call_allowed_passes_and_lists_the_unused_grants(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    calls = _calls(
        _authorization("dynamodb:PutItem"), _authorization("dynamodb:ConditionCheckItem")
    )
    assert _run(tmp_path, _state(STORE_ACTIONS), calls) == 0
    out = capsys.readouterr().out
    assert "0 not allowed" in out
    unused = json.loads((tmp_path / "coverage.json").read_text())["environments"]["dev"][
        "unused_grants"
    ]
    assert sorted(line.rsplit(": ", 1)[1] for line in unused) == [
        "dynamodb:GetItem",
        "dynamodb:UpdateItem",
    ]
    # The permission set preflight simulates names state values, not dev's ARNs.
    required = json.loads((tmp_path / "required.json").read_text())
    assert required["principals"][0]["name"] == "workflow_store"
    function = (
        'module.album_registration.module.functions["workflow_store"].aws_lambda_function.this'
    )
    assert {p["resource"] for p in required["principals"][0]["permissions"]} == {
        "arn:{partition}:dynamodb:{region}:{account}:table/"
        f"{{{function}#environment.0.variables.TABLE_NAME}}"
    }


def test_the_committed_permission_set_must_hold_every_needed_permission(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    calls = _calls(_authorization("dynamodb:PutItem"))
    assert _run(tmp_path, _state(STORE_ACTIONS), calls) == 0
    more = _calls(_authorization("dynamodb:PutItem"), _authorization("dynamodb:GetItem"))
    assert _run(tmp_path, _state(STORE_ACTIONS), more, write=False) == 1
    assert (
        "lacks workflow_store: dynamodb:GetItem on arn:{partition}:dynamodb:"
        in capsys.readouterr().out
    )


def test_a_query_on_the_index_is_judged_on_the_index_arn(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = _state(["dynamodb:Query"])
    policy = json.loads(
        state["root_module"]["child_modules"][0]["resources"][2]["values"]["policy"]
    )
    policy["Statement"][0]["Resource"] = [TABLE]
    state["root_module"]["child_modules"][0]["resources"][2]["values"]["policy"] = json.dumps(
        policy
    )
    assert (
        _run(tmp_path, state, _calls(_authorization("dynamodb:Query", "{table}/index/GSI1"))) == 1
    )
    assert f"dynamodb:Query on {TABLE}/index/GSI1 is not allowed" in capsys.readouterr().out


def test_an_action_with_no_resource_type_must_be_granted_on_star(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        _run(tmp_path, _state(STORE_ACTIONS), _calls(_authorization("states:SendTaskSuccess", "*")))
        == 1
    )
    assert "IAM only matches it on Resource '*'" in capsys.readouterr().out


def test_calls_that_cannot_be_expanded_or_bound_fail(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    unexpanded = _calls(unexpanded={"workflow_store kinesis.PutRecord": 2})
    assert _run(tmp_path, _state(STORE_ACTIONS), unexpanded) == 1
    assert "kinesis.PutRecord: 2 calls this check cannot expand" in capsys.readouterr().out
    unbound = _calls(_authorization("dynamodb:GetItem", "{dynamodb:stream/x}"))
    assert _run(tmp_path, _state(STORE_ACTIONS), unbound) == 1
    assert "stands for nothing Terraform renders" in capsys.readouterr().out


def test_an_action_aws_does_not_have_is_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        _run(
            tmp_path,
            _state([*STORE_ACTIONS, "dynamodb:TransactWriteItems"]),
            _calls(_authorization("dynamodb:GetItem")),
        )
        == 1
    )
    assert (
        "dynamodb:TransactWriteItems is not an IAM action: it grants nothing"
        in capsys.readouterr().out
    )


def test_a_dead_letter_queue_without_its_queue_policy_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    queue = f"arn:aws:sqs:us-east-1:{ACCOUNT}:albums-dev-upload-dlq"
    rule = f"arn:aws:events:us-east-1:{ACCOUNT}:rule/albums-dev-upload"
    wiring = [
        _resource(
            "module.events.aws_cloudwatch_event_rule.upload",
            "aws_cloudwatch_event_rule",
            {"name": "albums-dev-upload", "arn": rule},
        ),
        _resource(
            "module.events.aws_cloudwatch_event_target.store",
            "aws_cloudwatch_event_target",
            {
                "rule": "albums-dev-upload",
                "arn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:albums-dev-workflow-store",
                "dead_letter_config": [{"arn": queue}],
            },
        ),
        _resource(
            "module.events.aws_lambda_permission.store",
            "aws_lambda_permission",
            {
                "function_name": "albums-dev-workflow-store",
                "action": "lambda:InvokeFunction",
                "principal": "events.amazonaws.com",
                "source_arn": rule,
            },
        ),
    ]
    assert _run(tmp_path, _state(STORE_ACTIONS, extra=wiring), _calls()) == 1
    out = capsys.readouterr().out
    assert f"dead-letters: events.amazonaws.com may not sqs:SendMessage on {queue}" in out
    assert (
        "delivers" not in out.split("FAILED")[0].split("DENIED", 1)[-1]
    )  # the invoke itself is allowed
    queue_policy = {
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue,
                "Condition": {"ArnEquals": {"aws:SourceArn": rule}},
            }
        ]
    }
    allowed = [
        *wiring,
        _resource(
            "module.events.aws_sqs_queue_policy.dlq",
            "aws_sqs_queue_policy",
            {"queue_url": "x", "policy": json.dumps(queue_policy)},
        ),
    ]
    assert _run(tmp_path, _state(STORE_ACTIONS, extra=allowed), _calls()) == 0


def test_the_vision_model_is_judged_as_the_deployment_configures_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    profile = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
    state = _state(STORE_ACTIONS)
    resources = state["root_module"]["child_modules"][0]["resources"]
    resources[0]["values"]["environment"][0]["variables"]["BEDROCK_MODEL_ID"] = profile
    policy = json.loads(resources[2]["values"]["policy"])
    profile_arn = f"arn:aws:bedrock:us-east-1:{ACCOUNT}:inference-profile/{profile}"
    policy["Statement"].append(
        {
            "Sid": "InvokeVisionModel",
            "Effect": "Allow",
            "Action": "bedrock:InvokeModel",
            "Resource": profile_arn,
        }
    )
    resources[2]["values"]["policy"] = json.dumps(policy)
    calls = _calls(_authorization("bedrock:InvokeModel", "{vision_model}"))
    # Through a profile, IAM also authorizes the foundation model: the profile alone is not enough.
    assert _run(tmp_path, state, calls) == 1
    denied = [line for line in capsys.readouterr().out.splitlines() if "DENIED" in line]
    assert len(denied) == 1
    assert "foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0 is not allowed" in denied[0]
    policy["Statement"][-1]["Resource"] = [
        profile_arn,
        "arn:aws:bedrock:*::foundation-model/anthropic.*",
    ]
    resources[2]["values"]["policy"] = json.dumps(policy)
    assert _run(tmp_path, state, calls) == 0


def test_the_state_machine_writes_the_table_its_definition_names() -> None:
    """The state machine has no environment: its tasks' TableName say which table its
    direct integrations write (a whole-JSONata Arguments names it inside the expression)."""
    definition = {
        "States": {
            "Claim": {"Type": "Task", "Arguments": {"TableName": "albums-dev-albums"}},
            "Record": {"Type": "Task", "Arguments": "{% {'TableName': 'albums-dev-albums'} %}"},
            "Prices": {
                "Type": "Map",
                "ItemProcessor": {
                    "States": {"Write": {"Type": "Task", "Arguments": {"TableName": "other"}}}
                },
            },
        }
    }
    machine = iam_coverage.Resource(
        "aws_sfn_state_machine.this",
        "aws_sfn_state_machine",
        {"definition": json.dumps(definition)},
    )
    assert iam_coverage._definition_tables(machine) == {"albums-dev-albums", "other"}
