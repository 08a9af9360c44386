"""Local-mode core: the in-process Lambda dispatch, the Bedrock stand-in, and the stack.

The dispatch patches one moto internal (``LambdaFunction._invoke_lambda``); the smoke
tests here fail when a moto upgrade changes it.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from PIL import Image

from albums.adapters import clients
from albums.adapters.bedrock import RetryPolicy, invoke_vision_model
from albums.domain.errors import VisionNotJsonError, VisionThrottledError
from albums.domain.vision import VisionConfig
from localmode.lambdas import LambdaRegistry, function_name_of
from localmode.stack import LocalStack
from localmode.vision import StandInBedrock

ALBUMS = [{"albumName": f"Album {i}", "artist": f"Artist {i}", "year": 1970 + i} for i in range(6)]


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buffer, format="PNG")
    return buffer.getvalue()


class BoomError(Exception):
    pass


def test_function_names_from_names_and_arns() -> None:
    assert function_name_of("accept_upload") == "accept_upload"
    assert (
        function_name_of("arn:aws:lambda:us-east-1:1:function:orchestrator:live") == "orchestrator"
    )
    assert function_name_of("arn:aws:lambda:us-east-1:1:function:orchestrator") == "orchestrator"
    with pytest.raises(ValueError, match="not a Lambda function ARN"):
        function_name_of("arn:aws:states:us-east-1:1:stateMachine:x")


def test_registry_reports_exceptions_as_lambda_error_payloads() -> None:
    registry = LambdaRegistry()

    def failing(event: Any, context: Any) -> Any:
        raise BoomError("it broke")

    registry.register("f", lambda event, context: {"echo": event, "name": context.function_name})
    registry.register("g", failing)
    body, errored = registry.invoke("f", {"a": 1})
    assert (json.loads(body), errored) == ({"echo": {"a": 1}, "name": "f"}, False)
    body, errored = registry.invoke("arn:aws:lambda:us-east-1:1:function:g:live", {})
    assert errored
    assert json.loads(body)["errorType"] == "BoomError"
    assert json.loads(body)["errorMessage"] == "it broke"
    assert [i.function_name for i in registry.invocations] == ["f", "g"]
    with pytest.raises(KeyError):
        registry.invoke("missing", {})


def test_moto_lambda_invoke_runs_the_registered_handler() -> None:
    """Smoke test of the patched moto internal ``LambdaFunction._invoke_lambda``."""
    with LocalStack() as stack:
        arn = stack.add_lambda("echo", lambda event, context: {"got": event})
        stack.add_lambda("fails", lambda event, context: (_ for _ in ()).throw(BoomError("no")))
        response = stack.lambda_.invoke(FunctionName=arn, Payload=json.dumps({"x": 1}))
        assert json.loads(response["Payload"].read()) == {"got": {"x": 1}}
        failed = stack.lambda_.invoke(FunctionName="fails", Payload=b"{}")
        assert failed["FunctionError"] == "Handled"
        assert json.loads(failed["Payload"].read())["errorType"] == "BoomError"


def test_stand_in_answers_registered_albums_and_injects_faults() -> None:
    vision = StandInBedrock()
    image = png()
    vision.register(image, ALBUMS)
    config = VisionConfig(model_id="local-stand-in")
    albums = invoke_vision_model(vision, image, "image/png", config, sleep=lambda _: None)
    assert [a.album_name for a in albums] == [a["albumName"] for a in ALBUMS]

    vision.throttle_next(2)
    sleeps: list[float] = []
    invoke_vision_model(vision, image, "image/png", config, sleep=sleeps.append)
    assert len(sleeps) == 2

    vision.fail_always("ThrottlingException")
    with pytest.raises(VisionThrottledError):
        invoke_vision_model(
            vision,
            image,
            "image/png",
            config,
            retry=RetryPolicy(max_retries=1),
            sleep=lambda _: None,
        )
    vision.fail_always(None)

    vision.malformed_next(1)
    with pytest.raises(VisionNotJsonError):
        invoke_vision_model(vision, image, "image/png", config, sleep=lambda _: None)


def test_stand_in_refuses_requests_without_an_image() -> None:
    with pytest.raises(ClientError):
        StandInBedrock().invoke_model(body=json.dumps({"messages": []}))


def test_stack_creates_resources_and_delivers_matching_upload_events() -> None:
    with LocalStack(validation_timeout_seconds=5) as stack:
        assert clients.get("bedrock-runtime") is stack.vision
        tables = stack.dynamodb.list_tables()["TableNames"]
        assert tables == ["albums-local"]
        delivered: list[dict[str, Any]] = []
        stack.add_event_target("collector", delivered.append)
        event = stack.put_upload("uploads/shelf.png", png(), content_type="image/png")
        assert delivered == [event]
        detail = event["detail"]["object"]
        assert detail["version-id"]
        head = stack.s3.head_object(Bucket=stack.bucket, Key="uploads/shelf.png")
        assert head["ETag"].strip('"') == detail["etag"]
        # Outside uploads/ the rule does not match, so no workflow starts.
        stack.put_upload("elsewhere/shelf.png", png())
        assert len(delivered) == 1
    # Leaving the stack removes the stand-in: outside local mode Bedrock is the real client.
    assert "bedrock-runtime" not in clients._OVERRIDES


def test_dynamodb_requests_are_serialised_under_concurrent_transactions() -> None:
    """Smoke test of the patched moto internal ``DynamoHandler.call_action``.

    Without the lock, moto's TransactWriteItems deep-copies the table while other threads
    write to it and fails with "dictionary changed size during iteration".
    """
    import threading

    from moto.dynamodb.responses import DynamoHandler

    with LocalStack() as stack:
        assert DynamoHandler.call_action.__name__ == "call_action"
        assert DynamoHandler.call_action.__qualname__.startswith("serialized_dynamodb")
        errors: list[BaseException] = []

        def write(worker: int) -> None:
            try:
                for n in range(10):
                    stack.dynamodb.transact_write_items(
                        TransactItems=[
                            {
                                "Put": {
                                    "TableName": stack.table_name,
                                    "Item": {
                                        "pk": {"S": f"load#{worker}#{n}"},
                                        "sk": {"S": f"item#{i}"},
                                        "blob": {"S": "x" * 200},
                                    },
                                }
                            }
                            for i in range(5)
                        ]
                    )
            except BaseException as error:  # collected and asserted below
                errors.append(error)

        threads = [threading.Thread(target=write, args=(w,)) for w in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert stack.dynamodb.scan(TableName=stack.table_name, Select="COUNT")["Count"] == 300
    assert not DynamoHandler.call_action.__qualname__.startswith("serialized_dynamodb")
