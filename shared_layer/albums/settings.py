"""Run-time settings, read once from the environment with clear errors.

Every Lambda and the local harness build a :class:`Settings` from environment variables
(Terraform sets them); nothing reads ``os.environ`` elsewhere.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from albums.domain.errors import ConfigurationError
from albums.domain.models import WorkflowType
from albums.domain.vision import DEFAULT_MODEL_ID

DEFAULT_VALIDATION_TIMEOUT_SECONDS = 3600
MAX_VALIDATION_TIMEOUT_SECONDS = 7 * 24 * 3600

_TABLE_NAME = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")


@dataclass(frozen=True, slots=True)
class Settings:
    """What a function needs to know about its environment."""

    table_name: str
    bucket_name: str | None = None
    model_id: str = DEFAULT_MODEL_ID
    validation_timeout_seconds: int = DEFAULT_VALIDATION_TIMEOUT_SECONDS
    notification_topic_arn: str | None = None
    workflow_type: WorkflowType | None = None
    #: Secrets Manager secret holding the HMAC key of review links.
    signing_secret_arn: str | None = None
    #: Origin of the validation page (the API's function URL); links point there.
    validation_base_url: str | None = None

    def __post_init__(self) -> None:
        if not _TABLE_NAME.fullmatch(self.table_name):
            raise ConfigurationError(
                f"TABLE_NAME is not a DynamoDB table name: {self.table_name!r}"
            )
        if not self.model_id.strip():
            raise ConfigurationError("BEDROCK_MODEL_ID must not be empty")
        if not 1 <= self.validation_timeout_seconds <= MAX_VALIDATION_TIMEOUT_SECONDS:
            raise ConfigurationError(
                "VALIDATION_TIMEOUT_SECONDS must be between 1 and "
                f"{MAX_VALIDATION_TIMEOUT_SECONDS}, got {self.validation_timeout_seconds}"
            )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read settings from ``env`` (default: ``os.environ``).

        Raises
        ------
        ConfigurationError
            When ``TABLE_NAME`` is missing, or a value is malformed; the message names
            the variable.
        """
        source = os.environ if env is None else env
        table_name = source.get("TABLE_NAME")
        if not table_name:
            raise ConfigurationError("TABLE_NAME is not set")
        timeout_text = source.get(
            "VALIDATION_TIMEOUT_SECONDS", str(DEFAULT_VALIDATION_TIMEOUT_SECONDS)
        )
        try:
            timeout = int(timeout_text)
        except ValueError:
            raise ConfigurationError(
                f"VALIDATION_TIMEOUT_SECONDS must be a whole number, got {timeout_text!r}"
            ) from None
        workflow_text = source.get("WORKFLOW_TYPE")
        try:
            workflow_type = WorkflowType(workflow_text) if workflow_text else None
        except ValueError:
            raise ConfigurationError(
                f"WORKFLOW_TYPE must be one of {', '.join(WorkflowType)}, got {workflow_text!r}"
            ) from None
        return cls(
            table_name=table_name,
            bucket_name=source.get("BUCKET_NAME") or None,
            model_id=source.get("BEDROCK_MODEL_ID") or DEFAULT_MODEL_ID,
            validation_timeout_seconds=timeout,
            notification_topic_arn=source.get("NOTIFICATION_TOPIC_ARN") or None,
            workflow_type=workflow_type,
            signing_secret_arn=source.get("SIGNING_SECRET_ARN") or None,
            validation_base_url=source.get("VALIDATION_BASE_URL") or None,
        )
