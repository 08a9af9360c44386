"""``scripts/iam_policy.py``: IAM's evaluation logic, rule by rule as AWS documents it."""

from __future__ import annotations

from typing import Any

import pytest

from scripts.iam_policy import (
    Principal,
    Request,
    UnsupportedPolicyError,
    action_matches,
    conditions_match,
    evaluate,
    resource_matches,
    statements,
)

ROLE = Principal("AWS", "arn:aws:iam::123456789012:role/albums-dev-image-processor-role")
TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/albums-dev-albums"


def _policy(*entries: dict[str, Any]) -> list[Any]:
    return statements("test", {"Version": "2012-10-17", "Statement": list(entries)})


def _request(action: str, resource: str = TABLE, **context: str) -> Request:
    return Request(ROLE, action, resource, context)


def test_an_allow_for_the_action_and_resource_allows() -> None:
    policy = _policy({"Effect": "Allow", "Action": ["dynamodb:GetItem"], "Resource": TABLE})
    decision = evaluate(_request("dynamodb:GetItem"), policy)
    assert decision.allowed
    assert [s.sid for s in decision.allowed_by] == ["#1"]


def test_without_an_allow_the_request_is_implicitly_denied() -> None:
    policy = _policy({"Effect": "Allow", "Action": "dynamodb:UpdateItem", "Resource": TABLE})
    assert not evaluate(_request("dynamodb:GetItem"), policy).allowed
    assert not evaluate(_request("dynamodb:GetItem")).allowed


def test_an_explicit_deny_wins_over_any_allow() -> None:
    policy = _policy(
        {"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"},
        {"Sid": "NoDeletes", "Effect": "Deny", "Action": "dynamodb:DeleteItem", "Resource": TABLE},
    )
    decision = evaluate(_request("dynamodb:DeleteItem"), policy)
    assert not decision.allowed
    assert [s.sid for s in decision.denied_by] == ["NoDeletes"]
    assert evaluate(_request("dynamodb:PutItem"), policy).allowed


def test_actions_match_case_insensitively_with_wildcards() -> None:
    assert action_matches("dynamodb:Get*", "dynamodb:GetItem")
    assert action_matches("DynamoDB:getitem", "dynamodb:GetItem")
    assert action_matches("s3:GetObject?ersion", "s3:GetObjectVersion")
    assert not action_matches("dynamodb:Get*", "dynamodb:PutItem")
    assert not action_matches("dynamodb:GetItem", "dynamodb:GetItems")


def test_resources_match_case_sensitively_and_field_by_field() -> None:
    assert resource_matches(f"{TABLE}/index/*", f"{TABLE}/index/GSI1")
    assert not resource_matches(f"{TABLE}/index/*", TABLE)
    assert not resource_matches(TABLE.upper(), TABLE)
    assert resource_matches(
        "arn:aws:bedrock:*::foundation-model/anthropic.x",
        "arn:aws:bedrock:us-west-2::foundation-model/anthropic.x",
    )
    # A wildcard in the region field never reaches into the account field.
    assert not resource_matches(
        "arn:aws:lambda:us-*:function:x", "arn:aws:lambda:us-east-1:123456789012:function:x"
    )
    assert resource_matches(
        "arn:aws:lambda:us-east-1:123456789012:function:f:*",
        "arn:aws:lambda:us-east-1:123456789012:function:f:1/durable-execution/a/b",
    )
    assert resource_matches("*", "anything")


def test_not_action_and_not_resource_grant_everything_else() -> None:
    policy = _policy(
        {"Effect": "Allow", "NotAction": "dynamodb:DeleteItem", "NotResource": f"{TABLE}-other"}
    )
    assert evaluate(_request("dynamodb:GetItem"), policy).allowed
    assert not evaluate(_request("dynamodb:DeleteItem"), policy).allowed
    assert not evaluate(_request("dynamodb:GetItem", f"{TABLE}-other"), policy).allowed


def test_an_identity_statement_without_resource_grants_nothing() -> None:
    assert not evaluate(
        _request("dynamodb:GetItem"), _policy({"Effect": "Allow", "Action": "*"})
    ).allowed


def test_conditions_string_arn_bool_and_missing_keys() -> None:
    rule = "arn:aws:events:us-east-1:123456789012:rule/albums-dev-upload"
    assert conditions_match(
        {"ArnEquals": {"aws:SourceArn": [rule, "other"]}}, {"aws:SourceArn": rule}
    )
    assert not conditions_match(
        {"ArnEquals": {"aws:SourceArn": rule}}, {"aws:SourceArn": rule + "x"}
    )
    # Keys are case-insensitive.
    assert conditions_match(
        {"ArnLike": {"AWS:SourceArn": "arn:aws:events:*:*:rule/*"}}, {"aws:sourcearn": rule}
    )
    assert conditions_match(
        {"Bool": {"aws:SecureTransport": "false"}}, {"aws:SecureTransport": "false"}
    )
    assert not conditions_match(
        {"Bool": {"aws:SecureTransport": "false"}}, {"aws:SecureTransport": "true"}
    )
    # A missing key fails a positive operator, passes a negated one and an ...IfExists one.
    assert not conditions_match({"StringEquals": {"cloudwatch:namespace": "A"}}, {})
    assert conditions_match({"StringNotEquals": {"cloudwatch:namespace": "A"}}, {})
    assert conditions_match({"StringEqualsIfExists": {"cloudwatch:namespace": "A"}}, {})
    assert conditions_match({"Null": {"aws:SourceArn": "true"}}, {})
    assert not conditions_match({"Null": {"aws:SourceArn": "false"}}, {})
    # Every operator and every key must hold.
    assert not conditions_match(
        {"StringEquals": {"a:x": "1", "a:y": "2"}}, {"a:x": "1", "a:y": "3"}
    )


def test_an_unknown_condition_operator_is_refused_not_guessed() -> None:
    with pytest.raises(UnsupportedPolicyError, match="DateGreaterThan"):
        conditions_match(
            {"DateGreaterThan": {"aws:CurrentTime": "2020-01-01"}}, {"aws:CurrentTime": "x"}
        )


def test_resource_policies_match_their_principal() -> None:
    events = Principal("Service", "events.amazonaws.com")
    queue = "arn:aws:sqs:us-east-1:123456789012:albums-dev-upload-dlq"
    rule = "arn:aws:events:us-east-1:123456789012:rule/albums-dev-upload"
    queue_policy = _policy(
        {
            "Effect": "Allow",
            "Action": "sqs:SendMessage",
            "Resource": queue,
            "Principal": {"Service": "events.amazonaws.com"},
            "Condition": {"ArnEquals": {"aws:SourceArn": rule}},
        }
    )
    assert evaluate(
        Request(events, "sqs:SendMessage", queue, {"aws:SourceArn": rule}), (), queue_policy
    ).allowed
    # Another rule, or another service, is not let in.
    assert not evaluate(
        Request(events, "sqs:SendMessage", queue, {"aws:SourceArn": rule + "2"}), (), queue_policy
    ).allowed
    sns = Principal("Service", "sns.amazonaws.com")
    assert not evaluate(
        Request(sns, "sqs:SendMessage", queue, {"aws:SourceArn": rule}), (), queue_policy
    ).allowed


def test_a_bucket_policy_deny_applies_to_insecure_requests_only() -> None:
    bucket = "arn:aws:s3:::albums-dev-uploads"
    identity = _policy(
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"{bucket}/uploads/*"}
    )
    bucket_policy = _policy(
        {
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [bucket, f"{bucket}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    )
    key = f"{bucket}/uploads/a.jpg"
    assert evaluate(
        _request("s3:GetObject", key, **{"aws:SecureTransport": "true"}), identity, bucket_policy
    ).allowed
    assert not evaluate(
        _request("s3:GetObject", key, **{"aws:SecureTransport": "false"}), identity, bucket_policy
    ).allowed
