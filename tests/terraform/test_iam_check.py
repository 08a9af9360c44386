"""``scripts/iam_check.py``: every IAM policy in the Terraform, no wildcard grants.

Planted policies in temporary trees must fail (a wildcard action, an unscoped resource,
a public principal, each way a policy can be written: policy documents, module
``policy_statements`` through ``locals`` and ``for_each``, ``jsonencode`` and JSON text,
Lambda permissions), the allow-list must pass only what AWS requires and only with its
condition, and the real tree must pass. The HCL is parsed by python-hcl2, which lives in
``.venv-tf`` (``make tf-venv``): those tests run the checker there and skip, saying so,
when it is missing. The judging itself is pure Python and is tested here directly.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from scripts.iam_check import (
    UNSCOPED_ALLOWED,
    Report,
    Statement,
    check_statement,
    is_unscoped,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
VENV_TF_PYTHON = REPO_ROOT / ".venv-tf" / "bin" / "python"
needs_hcl2 = pytest.mark.skipif(
    not VENV_TF_PYTHON.exists(), reason=".venv-tf (python-hcl2) is missing: run `make tf-venv`"
)

ROLE = """
data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}
resource "aws_iam_role" "this" {
  name               = "r"
  assume_role_policy = data.aws_iam_policy_document.assume.json
}
"""


def document(*statements: str) -> str:
    body = "\n".join(f"  statement {{\n{s}\n  }}" for s in statements)
    return f'{ROLE}\ndata "aws_iam_policy_document" "this" {{\n{body}\n}}\n'


#: name -> (main.tf, the problem the checker must report, or None when it must pass).
TREES: dict[str, tuple[str, str | None]] = {
    "planted-wildcard-action": (
        document('actions = ["s3:*"]\nresources = ["arn:aws:s3:::uploads/*"]'),
        "wildcard action 's3:*'",
    ),
    "planted-star-action": (
        document('actions = ["*"]\nresources = ["arn:aws:s3:::uploads/*"]'),
        "wildcard action '*'",
    ),
    "planted-prefix-wildcard": (
        document(
            'actions = ["dynamodb:Get*"]\nresources = ["arn:aws:dynamodb:us-east-1:1:table/t"]'
        ),
        "wildcard action 'dynamodb:Get*'",
    ),
    "planted-star-resource": (
        document('actions = ["s3:GetObject"]\nresources = ["*"]'),
        "unscoped resource ['*'] for ['s3:GetObject']",
    ),
    "planted-any-table": (
        document('actions = ["dynamodb:PutItem"]\nresources = ["arn:aws:dynamodb:*:*:table/*"]'),
        "unscoped resource",
    ),
    "planted-all-buckets": (
        document('actions = ["s3:GetObject"]\nresources = ["arn:${local.p}:s3:::*"]'),
        "unscoped resource",
    ),
    "planted-star-in-expression": (
        document('actions = ["sqs:SendMessage"]\nresources = concat(var.queues, ["*"])'),
        "unscoped resource ['*']",
    ),
    "planted-not-action": (
        document('not_actions = ["iam:CreateUser"]\nresources = ["arn:aws:s3:::b/*"]'),
        "NotAction in an Allow statement",
    ),
    "planted-public-principal": (
        document(
            'actions = ["sqs:SendMessage"]\nresources = ["arn:aws:sqs:us-east-1:1:q"]\n'
            'principals {\n type = "AWS"\n identifiers = ["*"]\n}'
        ),
        "grants to any principal",
    ),
    "planted-no-resources": (document('actions = ["s3:GetObject"]'), "without resources"),
    "planted-metric-data-unconditioned": (
        document('actions = ["cloudwatch:PutMetricData"]\nresources = ["*"]'),
        "cloudwatch:PutMetricData on '*' needs a cloudwatch:namespace condition",
    ),
    "planted-xray-with-s3": (
        document('actions = ["xray:PutTraceSegments", "s3:GetObject"]\nresources = ["*"]'),
        "unscoped resource ['*'] for ['s3:GetObject']",
    ),
    "planted-jsonencode-wildcard": (
        ROLE
        + """
resource "aws_iam_role_policy" "inline" {
  role = aws_iam_role.this.id
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "dynamodb:*", Resource = aws_dynamodb_table.t.arn }]
  })
}
""",
        "wildcard action 'dynamodb:*'",
    ),
    "planted-jsonencode-star-resource": (
        ROLE
        + """
locals {
  everything = "*"
}
resource "aws_iam_role_policy" "inline" {
  role = aws_iam_role.this.id
  policy = jsonencode({
    Statement = [{ Effect = "Allow", Action = ["sns:Publish"], Resource = [local.everything] }]
  })
}
""",
        "unscoped resource ['*'] for ['sns:Publish']",
    ),
    "planted-json-text-public-principal": (
        """
resource "aws_sns_topic_policy" "p" {
  arn    = "arn:aws:sns:us-east-1:1:t"
  policy = <<EOF
{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sns:Publish",
                "Resource": "arn:aws:sns:us-east-1:1:t"}]}
EOF
}
""",
        "grants to any principal",
    ),
    "planted-unreadable-policy": (
        'resource "aws_iam_role_policy" "p" {\n  role = "r"\n  policy = var.policy\n}\n',
        "is neither JSON, jsonencode({...}) nor an aws_iam_policy_document's .json",
    ),
    "planted-module-statements-via-locals": (
        """
locals {
  everything = {
    sid       = "Everything"
    actions   = ["s3:GetObject"]
    resources = ["*"]
  }
  functions = {
    reader = { statements = [local.everything] }
    writer = {
      statements = [{ sid = "W", actions = ["s3:PutObject"], resources = ["arn:aws:s3:::b/*"] }]
    }
  }
}
module "functions" {
  source            = "../lambda_function"
  for_each          = local.functions
  policy_statements = each.value.statements
}
""",
        "module.functions policy_statements 'Everything': unscoped resource ['*']",
    ),
    "planted-module-literal-wildcard": (
        """
module "api" {
  source = "../lambda_function"
  policy_statements = [{ sid = "Any", actions = ["lambda:*"], resources = [var.function_arn] }]
}
""",
        "module.api policy_statements 'Any': wildcard action 'lambda:*'",
    ),
    "planted-public-lambda-permission": (
        """
resource "aws_lambda_permission" "open" {
  statement_id  = "Open"
  action        = "lambda:InvokeFunction"
  function_name = "f"
  principal     = "*"
}
""",
        "aws_lambda_permission.open: grants to any principal",
    ),
    "planted-public-invoke-not-via-url": (
        """
resource "aws_lambda_permission" "open" {
  action                   = "lambda:InvokeFunction"
  function_name            = "f"
  principal                = "*"
  invoked_via_function_url = false
}
""",
        "aws_lambda_permission.open: grants to any principal",
    ),
    "planted-url-flag-on-another-action": (
        """
resource "aws_lambda_permission" "open" {
  action                   = "lambda:GetFunction"
  function_name            = "f"
  principal                = "*"
  invoked_via_function_url = true
}
""",
        "aws_lambda_permission.open: grants to any principal",
    ),
    "planted-public-url-with-iam-auth": (
        """
resource "aws_lambda_permission" "open" {
  action                 = "lambda:InvokeFunctionUrl"
  function_name          = "f"
  principal              = "*"
  function_url_auth_type = "AWS_IAM"
}
""",
        "aws_lambda_permission.open: grants to any principal",
    ),
    "allowed-xray-logs-and-deny": (
        document(
            'sid = "Tracing"\nactions = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]\n'
            'resources = ["*"]',
            'effect = "Deny"\nactions = ["s3:*"]\nresources = ["*"]\n'
            'principals {\n type = "*"\n identifiers = ["*"]\n}',
            'actions = ["logs:CreateLogDelivery", "logs:DescribeLogGroups"]\nresources = ["*"]',
            'actions = ["logs:PutLogEvents"]\n'
            'resources = ["${aws_cloudwatch_log_group.this.arn}:*"]',
        ),
        None,
    ),
    "allowed-metric-data-with-namespace": (
        document(
            'actions = ["cloudwatch:PutMetricData"]\nresources = ["*"]\n'
            'condition {\n test = "StringEquals"\n variable = "cloudwatch:namespace"\n'
            ' values = ["Albums"]\n}'
        ),
        None,
    ),
    "allowed-public-function-url": (
        """
resource "aws_lambda_permission" "url" {
  action                 = "lambda:InvokeFunctionUrl"
  function_name          = "f"
  principal              = "*"
  function_url_auth_type = "NONE"
}
""",
        None,
    ),
    "allowed-public-function-url-invoke": (
        """
resource "aws_lambda_permission" "url_invoke" {
  action                   = "lambda:InvokeFunction"
  function_name            = "f"
  principal                = "*"
  invoked_via_function_url = true
}
""",
        None,
    ),
    "allowed-scoped-module-statements": (
        """
locals {
  table = [module.storage.table_arn, "${module.storage.table_arn}/index/*"]
  bedrock = var.on ? ["arn:${local.p}:bedrock:*::foundation-model/${var.model}"] : []
}
module "f" {
  source = "../lambda_function"
  policy_statements = [
    { sid = "T", actions = ["dynamodb:Query"], resources = local.table },
    { sid = "B", actions = ["bedrock:InvokeModel"], resources = local.bedrock },
  ]
}
""",
        None,
    ),
}

_DRIVER = """
import dataclasses, json, sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from scripts.iam_check import check_tree
print(json.dumps({root: dataclasses.asdict(check_tree(Path(root))) for root in sys.argv[2:]}))
"""


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    base = tmp_path_factory.mktemp("iam")
    roots = {}
    for name, (text, _) in TREES.items():
        module = base / name / "modules" / "m"
        module.mkdir(parents=True)
        (module / "main.tf").write_text(text, encoding="utf-8")
        roots[str(base / name)] = name
    result = subprocess.run(  # noqa: S603 - our own venv's python and script
        [str(VENV_TF_PYTHON), "-c", _DRIVER, str(REPO_ROOT), *roots],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    parsed: dict[str, dict[str, Any]] = json.loads(result.stdout)
    return {roots[root]: report for root, report in parsed.items()}


@needs_hcl2
@pytest.mark.parametrize("name", sorted(TREES))
def test_every_planted_grant_is_caught_and_every_allowed_one_passes(
    name: str, reports: dict[str, dict[str, Any]]
) -> None:
    expected = TREES[name][1]
    report = reports[name]
    if expected is None:
        assert report["statements"] >= 1
        assert report["problems"] == []
        assert name == "allowed-scoped-module-statements" or report["allowed"]
    else:
        assert any(expected in problem for problem in report["problems"]), report["problems"]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own venv's python and script
        [str(VENV_TF_PYTHON), str(REPO_ROOT / "scripts" / "iam_check.py"), *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )


@needs_hcl2
def test_the_real_tree_passes_with_each_allow_list_use_and_its_reason() -> None:
    result = run_cli()
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[-1].endswith(" 0 problems")
    allowed = [line for line in lines if line.startswith("iam-check: allowed ")]
    assert any("xray:PutTraceSegments" in line and "X-Ray defines no" in line for line in allowed)
    assert any("lambda:InvokeFunctionUrl" in line for line in allowed)
    # The function URL's second statement: InvokeFunction, only through the URL.
    assert any(
        "lambda:InvokeFunction for '*' (invoked_via_function_url = true)" in line
        for line in allowed
    )
    assert int(lines[-1].split()[1]) >= 30  # statements read: every module's policies


@needs_hcl2
def test_a_planted_wildcard_fails_the_command(tmp_path: Path) -> None:
    module = tmp_path / "modules" / "m"
    module.mkdir(parents=True)
    (module / "main.tf").write_text(TREES["planted-wildcard-action"][0], encoding="utf-8")
    result = run_cli("--root", str(tmp_path), "--quiet")
    assert result.returncode == 1
    assert "iam-check: FAIL" in result.stdout
    assert "wildcard action 's3:*'" in result.stdout


# --- the judge, without HCL ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("resource", "unscoped"),
    [
        ("*", True),
        ("arn:aws:s3:::*", True),
        ("arn:aws:dynamodb:*:*:table/*", True),
        ("arn:aws:logs:us-east-1:1:log-group:*", True),
        ("arn:${local.partition}:lambda:${var.region}:${local.account}:function:*", True),
        ("arn:aws:s3:::uploads/*", False),
        ("arn:aws:s3:::*/uploads/*", True),
        ("arn:aws:dynamodb:us-east-1:1:table/t/index/*", False),
        ("arn:aws:states:us-east-1:1:execution:${local.name}:*", False),
        ("${aws_cloudwatch_log_group.this.arn}:*", False),
        ("arn:aws:bedrock:*::foundation-model/${local.model}", False),
    ],
)
def test_unscoped_means_every_resource_of_a_kind(resource: str, unscoped: bool) -> None:
    assert is_unscoped(resource) is unscoped


def test_every_allow_list_entry_gives_its_reason() -> None:
    assert UNSCOPED_ALLOWED
    for action, allowance in UNSCOPED_ALLOWED.items():
        assert "*" not in action
        assert len(allowance.reason) > 40


def test_a_deny_is_never_judged_and_an_allow_is() -> None:
    report = Report()
    check_statement(Statement("deny", "Deny", ("s3:*",), ("*",)), report)
    check_statement(Statement("allow", "Allow", ("s3:*",), ("*",)), report)
    assert report.statements == 2
    assert [p.split(":")[0] for p in report.problems] == ["allow", "allow"]


def test_an_allow_listed_action_on_star_is_recorded_with_its_reason() -> None:
    report = Report()
    check_statement(Statement("x", actions=("xray:PutTraceSegments",), resources=("*",)), report)
    assert report.problems == []
    assert report.allowed
    assert "X-Ray defines no resource type" in report.allowed[0]
