"""How the durable orchestrator runs: operation names, retry strategies, the review timeout.

Every durable operation has a fixed name (:class:`Operation`): names are what replay
matches checkpoints against and what the execution history shows, so they never change
for executions in flight. Retry strategies are explicit (the SDK's default would retry
any error 6 times) and retry only :class:`~albums.domain.errors.TransientError`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from aws_durable_execution_sdk_python.config import Duration, JitterStrategy
from aws_durable_execution_sdk_python.retries import (
    RetryDecision,
    RetryStrategyConfig,
    create_retry_strategy,
)

from albums.domain.errors import ConfigurationError, TransientError
from albums.settings import (
    DEFAULT_VALIDATION_TIMEOUT_SECONDS,
    MAX_VALIDATION_TIMEOUT_SECONDS,
    Settings,
)

RetryStrategy = Callable[[Exception, int], RetryDecision]


class Operation(StrEnum):
    """Names of the orchestrator's durable operations (the execution history shows them)."""

    ACCEPT_UPLOAD = "AcceptUpload"
    PROCESS_IMAGE = "ProcessImage"
    STORE_INITIAL_DATA = "StoreInitialData"
    HUMAN_VALIDATION = "HumanValidation"
    APPLY_VALIDATION = "ApplyValidation"
    REJECT_EXECUTION = "RejectExecution"
    ESTIMATE_PRICES = "EstimatePrices"
    ESTIMATE_PRICE = "EstimatePrice"
    STORE_RESULTS = "StoreResults"
    RECORD_FAILURE = "RecordFailure"

    def for_album(self, index: int) -> str:
        """Return the per-album name, e.g. ``EstimatePrice-3``."""
        return f"{self.value}-{index}"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff for one kind of step, on transient errors only.

    Parameters
    ----------
    max_attempts
        Attempts in all, the first one included (1..10). The default, 4, is DESIGN.md's
        "retry 3 times" and the state machine's ``MaxAttempts: 3`` (which counts retries).
    initial_delay_seconds
        Wait before the first retry (the SDK's unit is whole seconds, at least 1).
    backoff_rate
        Multiplier of the wait after each retry (1..10).
    max_delay_seconds
        Longest wait.
    jitter
        ``FULL`` spreads retries of many executions apart; tests use ``NONE`` (the
        testing runner skips retry delays, but a jittered delay in a parallel branch can
        stall its clock).
    """

    max_attempts: int = 4
    initial_delay_seconds: int = 2
    backoff_rate: float = 2.0
    max_delay_seconds: int = 60
    jitter: JitterStrategy = JitterStrategy.FULL

    def __post_init__(self) -> None:
        for name, low, high in (
            ("max_attempts", 1, 10),
            ("initial_delay_seconds", 1, 300),
            ("max_delay_seconds", 1, 900),
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ConfigurationError(f"{name} must be an integer in {low}..{high}")
        if isinstance(self.backoff_rate, bool) or not isinstance(self.backoff_rate, int | float):
            raise ConfigurationError("backoff_rate must be a number")
        if not 1.0 <= self.backoff_rate <= 10.0:
            raise ConfigurationError("backoff_rate must be within 1..10")
        object.__setattr__(self, "jitter", JitterStrategy(self.jitter))

    def strategy(self) -> RetryStrategy:
        """Return the SDK retry strategy: retry ``TransientError`` only, with backoff."""
        return create_retry_strategy(
            RetryStrategyConfig(
                max_attempts=self.max_attempts,
                initial_delay=Duration.from_seconds(self.initial_delay_seconds),
                max_delay=Duration.from_seconds(self.max_delay_seconds),
                backoff_rate=self.backoff_rate,
                jitter_strategy=self.jitter,
                # An empty message list: match on the error type alone.
                retryable_errors=[],
                retryable_error_types=[TransientError],
            )
        )


@dataclass(frozen=True, slots=True)
class OrchestratorConfig:
    """Settings of one orchestrator instance.

    Parameters
    ----------
    validation_timeout_seconds
        How long the reviewer has; then the workflow continues with the original data.
    vision_retry
        Retries of ``ProcessImage`` (3 retries, exponential).
    price_retry
        Retries of each ``EstimatePrice-n`` (3 retries, exponential).
    store_retry
        Retries of the DynamoDB steps (throttling).
    """

    validation_timeout_seconds: int = DEFAULT_VALIDATION_TIMEOUT_SECONDS
    vision_retry: RetryPolicy = RetryPolicy()
    price_retry: RetryPolicy = RetryPolicy()
    store_retry: RetryPolicy = RetryPolicy(initial_delay_seconds=1)

    def __post_init__(self) -> None:
        timeout = self.validation_timeout_seconds
        if isinstance(timeout, bool) or not isinstance(timeout, int):
            raise ConfigurationError("validation_timeout_seconds must be an integer")
        if not 1 <= timeout <= MAX_VALIDATION_TIMEOUT_SECONDS:
            raise ConfigurationError(
                f"validation_timeout_seconds must be 1..{MAX_VALIDATION_TIMEOUT_SECONDS}"
            )

    @classmethod
    def from_settings(cls, settings: Settings) -> OrchestratorConfig:
        """Return the configuration for a deployment's settings."""
        return cls(validation_timeout_seconds=settings.validation_timeout_seconds)

    @classmethod
    def local(cls, validation_timeout_seconds: int = 2) -> OrchestratorConfig:
        """Return the local-mode configuration: no retry jitter, a given review timeout.

        The testing runner skips retry delays, but a jittered delay in a map branch can
        stall its clock for seconds; without jitter every run is repeatable.
        """
        policy = RetryPolicy(initial_delay_seconds=1, jitter=JitterStrategy.NONE)
        return cls(
            validation_timeout_seconds=validation_timeout_seconds,
            vision_retry=policy,
            price_retry=policy,
            store_retry=policy,
        )

    def describe(self) -> Mapping[str, object]:
        """Return the configuration as plain JSON (for logs)."""
        return {
            "validationTimeoutSeconds": self.validation_timeout_seconds,
            "visionMaxAttempts": self.vision_retry.max_attempts,
            "priceMaxAttempts": self.price_retry.max_attempts,
        }
