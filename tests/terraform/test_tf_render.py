"""``scripts/tf_render.py``: the overrides that let Terraform render an environment offline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from scripts.tf_render import RenderError, overrides, render_test_file, state_resources


def _change(
    address: str, kind: str, after: dict[str, Any], mode: str = "managed"
) -> dict[str, Any]:
    return {"address": address, "type": kind, "mode": mode, "change": {"after": after}}


def test_every_resource_is_overridden_with_the_arn_aws_would_give_it() -> None:
    plan = {
        "resource_changes": [
            _change(
                'module.f["a"].aws_lambda_function.this',
                "aws_lambda_function",
                {"function_name": "albums-dev-a", "publish": True},
            ),
            _change(
                "module.s.aws_dynamodb_table.this",
                "aws_dynamodb_table",
                {"name": "albums-dev-albums"},
            ),
            _change(
                "module.s.aws_s3_bucket_versioning.this",
                "aws_s3_bucket_versioning",
                {"bucket": "b"},
            ),
            _change(
                "module.s.data.aws_iam_policy_document.x",
                "aws_iam_policy_document",
                {},
                mode="data",
            ),
        ]
    }
    blocks = list(overrides(plan))
    assert len(blocks) == 3  # data sources are read for real, never overridden
    assert 'target = module.f["a"].aws_lambda_function.this' in blocks[0]
    assert 'arn = "arn:aws:lambda:us-east-1:123456789012:function:albums-dev-a"' in blocks[0]
    assert (
        'qualified_arn = "arn:aws:lambda:us-east-1:123456789012:function:albums-dev-a:1"'
        in blocks[0]
    )
    assert 'arn = "arn:aws:dynamodb:us-east-1:123456789012:table/albums-dev-albums"' in blocks[1]
    assert "values = {\n  }" in blocks[2]


def test_a_resource_without_a_planned_name_is_an_error() -> None:
    plan = {"resource_changes": [_change("aws_sqs_queue.q", "aws_sqs_queue", {})]}
    with pytest.raises(RenderError, match=r"aws_sqs_queue\.q: no planned name"):
        list(overrides(plan))


def test_pass_one_plans_and_pass_two_applies_against_the_local_server() -> None:
    first = render_test_file(4566, Path("/dist"), None)
    assert "command = plan" in first
    assert "override_resource" not in first
    assert 'sts = "http://127.0.0.1:4566"' in first
    second = render_test_file(4566, Path("/dist"), {"resource_changes": []})
    assert "command = apply" in second
    assert 'artifacts_dir = "/dist"' in second


def test_state_resources_walks_every_module() -> None:
    state = {
        "values": {
            "root_module": {
                "resources": [{"address": "a"}],
                "child_modules": [
                    {
                        "resources": [{"address": "b"}],
                        "child_modules": [{"resources": [{"address": "c"}]}],
                    }
                ],
            }
        }
    }
    assert [r["address"] for r in state_resources(state)] == ["a", "b", "c"]
