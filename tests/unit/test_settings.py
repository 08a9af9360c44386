"""Settings from the environment: defaults and one clear error per bad value."""

from __future__ import annotations

import pytest

from albums.domain.errors import ConfigurationError
from albums.domain.models import WorkflowType
from albums.settings import DEFAULT_MODEL_ID, Settings


def test_defaults() -> None:
    settings = Settings.from_env({"TABLE_NAME": "albums-dev"})
    assert settings.table_name == "albums-dev"
    assert settings.model_id == DEFAULT_MODEL_ID
    assert settings.validation_timeout_seconds == 3600
    assert settings.bucket_name is None
    assert settings.workflow_type is None


def test_every_variable_is_read() -> None:
    settings = Settings.from_env(
        {
            "TABLE_NAME": "albums-prod",
            "BUCKET_NAME": "album-uploads",
            "BEDROCK_MODEL_ID": "anthropic.claude-x",
            "VALIDATION_TIMEOUT_SECONDS": "120",
            "NOTIFICATION_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:validation",
            "WORKFLOW_TYPE": "durable-functions",
        }
    )
    assert settings.bucket_name == "album-uploads"
    assert settings.model_id == "anthropic.claude-x"
    assert settings.validation_timeout_seconds == 120
    assert settings.notification_topic_arn.endswith(":validation")  # type: ignore[union-attr]
    assert settings.workflow_type is WorkflowType.DURABLE_FUNCTIONS


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "TABLE_NAME is not set"),
        ({"TABLE_NAME": "a b"}, "not a DynamoDB table name"),
        ({"TABLE_NAME": "t123", "VALIDATION_TIMEOUT_SECONDS": "soon"}, "whole number"),
        ({"TABLE_NAME": "t123", "VALIDATION_TIMEOUT_SECONDS": "0"}, "between 1 and"),
        ({"TABLE_NAME": "t123", "WORKFLOW_TYPE": "express"}, "WORKFLOW_TYPE must be one of"),
    ],
)
def test_bad_settings_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Settings.from_env(env)
