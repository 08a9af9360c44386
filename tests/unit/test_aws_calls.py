"""Recording what each function asks of AWS (``localmode/aws_calls.py``) and what IAM
authorizes for each call (``localmode/iam_actions.py``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from localmode import aws_calls, durable, iam_actions
from localmode.iam_actions import Authorization, authorizations, logical

REGION = "us-east-1"
TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/albums-local"


def _one(service: str, operation: str, params: dict[str, Any]) -> list[tuple[str, str]]:
    found = authorizations(service, operation, params, region=REGION)
    assert found is not None
    return [(a.action, a.resource) for a in found]


def test_each_transaction_item_is_authorized_by_its_own_action() -> None:
    items = [
        {"Put": {"TableName": "albums-local", "Item": {}}},
        {"Update": {"TableName": "albums-local", "Key": {}}},
        {"Delete": {"TableName": "albums-local", "Key": {}}},
        {"ConditionCheck": {"TableName": "albums-local", "Key": {}}},
    ]
    assert _one("dynamodb", "TransactWriteItems", {"TransactItems": items}) == [
        ("dynamodb:PutItem", TABLE),
        ("dynamodb:UpdateItem", TABLE),
        ("dynamodb:DeleteItem", TABLE),
        ("dynamodb:ConditionCheckItem", TABLE),
    ]
    gets = [{"Get": {"TableName": "albums-local", "Key": {}}}]
    assert _one("dynamodb", "TransactGetItems", {"TransactItems": gets}) == [
        ("dynamodb:GetItem", TABLE)
    ]


def test_batch_writes_name_every_table_and_queries_the_index() -> None:
    assert _one(
        "dynamodb", "BatchWriteItem", {"RequestItems": {"albums-local": [], "other": []}}
    ) == [
        ("dynamodb:BatchWriteItem", TABLE),
        ("dynamodb:BatchWriteItem", TABLE.replace("albums-local", "other")),
    ]
    assert _one("dynamodb", "Query", {"TableName": "albums-local", "IndexName": "GSI1"}) == [
        ("dynamodb:Query", f"{TABLE}/index/GSI1")
    ]


def test_an_object_version_needs_get_object_version() -> None:
    assert _one("s3", "GetObject", {"Bucket": "b", "Key": "uploads/a.jpg", "VersionId": "v1"}) == [
        ("s3:GetObjectVersion", "arn:aws:s3:::b/uploads/a.jpg")
    ]
    assert _one("s3", "HeadObject", {"Bucket": "b", "Key": "uploads/a.jpg"}) == [
        ("s3:GetObject", "arn:aws:s3:::b/uploads/a.jpg")
    ]
    assert _one("s3", "ListObjectsV2", {"Bucket": "b"}) == [("s3:ListBucket", "arn:aws:s3:::b")]


def test_lambda_invokes_durable_calls_and_callbacks() -> None:
    function = "arn:aws:lambda:us-east-1:123456789012:function:sf-image_processor"
    assert _one("lambda", "Invoke", {"FunctionName": function}) == [
        ("lambda:InvokeFunction", function)
    ]
    assert _one("lambda", "Invoke", {"FunctionName": "f", "Qualifier": "live"}) == [
        ("lambda:InvokeFunction", "arn:aws:lambda:us-east-1:123456789012:function:f:live")
    ]
    execution = f"{function}:1/durable-execution/n/i"
    assert _one("lambda", "GetDurableExecution", {"DurableExecutionArn": execution}) == [
        ("lambda:GetDurableExecution", execution)
    ]
    # The testing runner's ids, and callbacks (no ARN in the request), are the orchestrator's.
    runner = authorizations(
        "lambda", "CheckpointDurableExecution", {"DurableExecutionArn": "abc/inv-1"}, region=REGION
    )
    callback = authorizations(
        "lambda", "SendDurableExecutionCallbackSuccess", {"CallbackId": "c"}, region=REGION
    )
    assert runner is not None
    assert callback is not None
    assert [a.logical().resource for a in runner + callback] == [
        "{orchestrator_durable_execution}"
    ] * 2


def test_an_inference_profile_is_authorized_with_its_foundation_model() -> None:
    found = _one(
        "bedrock-runtime",
        "InvokeModel",
        {"modelId": "us.anthropic.claude-sonnet-4-5-20250929-v1:0"},
    )
    assert found == [
        (
            "bedrock:InvokeModel",
            "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-sonnet-4-5-20250929-v1:0",
        ),
        (
            "bedrock:InvokeModel",
            "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0",
        ),
    ]


def test_task_token_callbacks_topics_and_secrets() -> None:
    assert _one("stepfunctions", "SendTaskSuccess", {"taskToken": "t", "output": "{}"}) == [
        ("states:SendTaskSuccess", "*")
    ]
    arn = "arn:aws:states:us-east-1:123456789012:execution:sm:e"
    assert _one("stepfunctions", "DescribeExecution", {"executionArn": arn}) == [
        ("states:DescribeExecution", arn)
    ]
    topic = "arn:aws:sns:us-east-1:123456789012:t"
    assert _one("sns", "Publish", {"TopicArn": topic, "Message": "m"}) == [("sns:Publish", topic)]
    assert _one("secretsmanager", "GetSecretValue", {"SecretId": "key"}) == [
        (
            "secretsmanager:GetSecretValue",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:key",
        )
    ]


def test_an_unknown_service_or_a_request_without_names_is_not_guessed() -> None:
    assert authorizations("kinesis", "PutRecord", {"StreamName": "s"}, region=REGION) is None
    assert authorizations("dynamodb", "GetItem", {}, region=REGION) is None


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        (TABLE, "{table}"),
        (f"{TABLE}/index/GSI1", "{table}/index/GSI1"),
        ("arn:aws:s3:::album-uploads-local/uploads/2026/x/a.jpg", "{bucket}/uploads/example.jpg"),
        ("arn:aws:s3:::album-uploads-local/other.jpg", "{bucket}/example.jpg"),
        (
            "arn:aws:lambda:us-east-1:123456789012:function:sf-price_estimator",
            "{function:price_estimator}",
        ),
        (
            f"arn:aws:lambda:us-east-1:123456789012:function:{iam_actions.LOCAL_ORCHESTRATOR}",
            "{orchestrator}",
        ),
        ("arn:aws:states:us-east-1:123456789012:stateMachine:sm", "{state_machine}"),
        ("arn:aws:states:us-east-1:123456789012:execution:sm:e", "{state_machine_execution}"),
        ("arn:aws:sns:us-east-1:123456789012:t", "{notification_topic}"),
        ("arn:aws:bedrock:us-east-1::foundation-model/local-stand-in", "{vision_model}"),
        ("arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.x", "{vision_model}"),
        (
            "arn:aws:kinesis:us-east-1:123456789012:stream/s",
            "arn:aws:kinesis:us-east-1:123456789012:stream/s",
        ),
        ("*", "*"),
    ],
)
def test_resources_are_written_in_deployment_terms(resource: str, expected: str) -> None:
    assert logical(resource) == expected


def test_the_local_names_the_logical_resources_rely_on() -> None:
    assert durable.FUNCTION_NAME == iam_actions.LOCAL_ORCHESTRATOR


def _in_function(name: str, body: str, **names: Any) -> Any:
    """Run ``body`` as code of ``functions/NAME/handler.py`` (so the stack says so)."""
    path = aws_calls.REPO_ROOT / "functions" / name / "handler.py"
    namespace: dict[str, Any] = dict(names)
    exec(compile(f"def run():\n    {body}\n", str(path), "exec"), namespace)  # noqa: S102 - a test fixture
    return namespace["run"]()


def test_calls_are_recorded_for_the_function_whose_code_makes_them(tmp_path: Path) -> None:
    with aws_calls.recording() as recorder:
        client = boto3.client("dynamodb", region_name=REGION)
        with Stubber(client) as stubber:
            stubber.add_response("transact_write_items", {})
            items = [
                {
                    "ConditionCheck": {
                        "TableName": "albums-local",
                        "Key": {"pk": {"S": "a"}},
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                }
            ]
            _in_function(
                "workflow_store",
                "client.transact_write_items(TransactItems=items)",
                client=client,
                items=items,
            )
            stubber.add_response("get_item", {})
            client.get_item(TableName="albums-local", Key={"pk": {"S": "a"}})  # the test's own call
        s3 = boto3.client("s3", region_name=REGION)
        url = _in_function(
            "validation_api",
            "return s3.generate_presigned_url('get_object', Params=params)",
            s3=s3,
            params={"Bucket": "b", "Key": "uploads/a.jpg", "VersionId": "v"},
        )
        assert url.startswith("https://")
    snapshot = recorder.snapshot()
    assert snapshot["unattributed_calls"] == 1
    store = snapshot["principals"]["workflow_store"]["authorizations"]
    assert [(a["action"], a["resource"], a["operations"]) for a in store] == [
        ("dynamodb:ConditionCheckItem", "{table}", ["dynamodb.TransactWriteItems"])
    ]
    api = snapshot["principals"]["validation_api"]["authorizations"]
    assert [(a["action"], a["resource"]) for a in api] == [
        ("s3:GetObjectVersion", "{bucket}/uploads/example.jpg")
    ]
    written = json.loads(recorder.write(tmp_path / "calls.json").read_text())
    assert written == json.loads(json.dumps(snapshot))


def test_stand_ins_record_with_a_named_principal_and_recordings_nest() -> None:
    with aws_calls.recording() as recorder:
        aws_calls.record(
            "lambda",
            "CheckpointDurableExecution",
            {"DurableExecutionArn": "x/inv-1"},
            principal=aws_calls.ORCHESTRATOR,
        )
        aws_calls.record("kinesis", "PutRecord", {}, principal="image_processor")
        with aws_calls.recording() as inner:
            aws_calls.record("sns", "Publish", {"TopicArn": "t"}, principal="image_processor")
        assert aws_calls.active() is recorder
    assert inner.snapshot()["principals"]["image_processor"]["authorizations"][0]["action"] == (
        "sns:Publish"
    )
    snapshot = recorder.snapshot()
    assert "sns:Publish" not in json.dumps(snapshot)
    assert (
        snapshot["principals"]["orchestrator"]["authorizations"][0]["action"]
        == "lambda:CheckpointDurableExecution"
    )
    assert snapshot["unexpanded_calls"] == {"image_processor kinesis.PutRecord": 1}
    assert aws_calls.active() is not recorder


def test_authorization_logical_keeps_action_and_context() -> None:
    authorization = Authorization("s3:GetObject", "arn:aws:s3:::b/uploads/x.png", (("k", "v"),))
    assert authorization.logical() == Authorization(
        "s3:GetObject", "{bucket}/uploads/example.jpg", (("k", "v"),)
    )
