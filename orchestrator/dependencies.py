"""What the orchestrator's steps talk to, built once per invocation and injectable in tests.

Clients come from :mod:`albums.adapters.clients` (lazy, cached per process, with local
mode's overrides), so nothing is created at import time and nothing here is serialised
into a checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from albums.adapters import clients
from albums.adapters.notifications import notifier_from_settings
from albums.adapters.repository import AlbumRepository
from albums.domain.errors import ConfigurationError
from albums.domain.models import WorkflowType
from albums.domain.pricing import DeterministicPriceEstimator, PriceSource
from albums.domain.records import ValidationTask
from albums.domain.vision import VisionConfig
from albums.observability import get_logger
from albums.settings import Settings
from albums.workflow import ValidationNotifier

PATTERN = WorkflowType.DURABLE_FUNCTIONS
LOGGER = get_logger()


class LogOnlyNotifier:
    """Used when no topic is configured: the task is listed as pending, and logged."""

    def notify(self, task: ValidationTask) -> None:
        """Log that ``task`` waits for a reviewer."""
        LOGGER.info(
            "validation task waits for a reviewer (no notification topic configured)",
            extra={"taskId": task.task_id, "executionId": task.execution_id},
        )


@dataclass(frozen=True, slots=True)
class Dependencies:
    """The orchestrator's collaborators.

    Parameters
    ----------
    repository
        The ``ldf#`` tenant's repository.
    s3, bedrock
        Clients the process-image step reads the photo and calls the model with.
    notifier
        Tells the reviewer a validation task waits.
    price_source
        Estimates one album's price (deterministic by default, as in the other pattern).
    vision
        Model id and inference parameters.
    uploads_bucket
        The only bucket an upload event may name (``BUCKET_NAME``); ``None`` checks none.
    """

    repository: AlbumRepository
    s3: Any
    bedrock: Any
    notifier: ValidationNotifier
    price_source: PriceSource
    vision: VisionConfig
    uploads_bucket: str | None = None

    def __post_init__(self) -> None:
        if self.repository.workflow_type is not PATTERN:
            raise ConfigurationError("the durable orchestrator writes the ldf# tenant only")

    @classmethod
    def from_settings(cls, settings: Settings) -> Dependencies:
        """Build the production collaborators from the environment's settings."""
        notifier: ValidationNotifier = notifier_from_settings(settings) or LogOnlyNotifier()
        return cls(
            repository=AlbumRepository(clients.get("dynamodb"), settings.table_name, PATTERN),
            s3=clients.get("s3"),
            bedrock=clients.get("bedrock-runtime"),
            notifier=notifier,
            price_source=DeterministicPriceEstimator(),
            vision=VisionConfig(model_id=settings.model_id),
            uploads_bucket=settings.bucket_name,
        )
