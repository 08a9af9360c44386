"""How the durable orchestrator runs: retry strategies per step, the review timeout.

Every durable operation is named after its :class:`~albums.workflow_contract.Step`: names
are what replay matches checkpoints against and what the execution history shows, so they
never change for executions in flight. Retry strategies are explicit (the SDK's default
would retry any error 6 times) and come from the workflow contract file the state
machine's retriers are rendered from too (:mod:`albums.workflow_contract`): each step's
policy, retrying only that policy's :class:`~albums.domain.errors.TransientError` classes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Final

from aws_durable_execution_sdk_python.config import Duration, JitterStrategy
from aws_durable_execution_sdk_python.retries import (
    RetryDecision,
    RetryStrategyConfig,
    create_retry_strategy,
)

from albums import workflow_contract
from albums.domain.errors import ConfigurationError
from albums.settings import (
    DEFAULT_VALIDATION_TIMEOUT_SECONDS,
    MAX_VALIDATION_TIMEOUT_SECONDS,
    Settings,
)
from albums.workflow_contract import RetrySpec, Step, WorkflowContract

RetryStrategy = Callable[[Exception, int], RetryDecision]

#: Local mode's retry jitter (:meth:`OrchestratorConfig.local`): the testing runner skips
#: retry delays, but a jittered delay in a map branch can stall its clock for seconds;
#: without jitter every run is repeatable.
LOCAL_RETRY_JITTER: Final = JitterStrategy.NONE


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff for one step, on the given transient errors only.

    Built from the workflow contract (:meth:`from_contract`); the fields are the SDK's.

    Parameters
    ----------
    max_attempts
        Attempts in all, the first one included (1..10): the contract's ``retries`` + 1
        (ASL ``MaxAttempts`` counts retries).
    initial_delay_seconds
        Wait before the first retry (the SDK's unit is whole seconds, at least 1).
    backoff_rate
        Multiplier of the wait after each retry (1..10).
    max_delay_seconds
        Longest wait.
    jitter
        ``FULL`` spreads retries of many executions apart; ``NONE`` waits exactly.
    error_types
        The errors retried (instances of these classes); any other error fails the step.
    """

    max_attempts: int
    initial_delay_seconds: int
    backoff_rate: float
    max_delay_seconds: int
    jitter: JitterStrategy
    error_types: tuple[type[Exception], ...]

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
        if not self.error_types or not all(
            isinstance(error, type) and issubclass(error, Exception) for error in self.error_types
        ):
            raise ConfigurationError("error_types must be a non-empty tuple of exception classes")
        object.__setattr__(self, "jitter", JitterStrategy(self.jitter))
        object.__setattr__(self, "error_types", tuple(self.error_types))

    @classmethod
    def from_contract(cls, spec: RetrySpec) -> RetryPolicy:
        """Return the durable policy of one contract policy (``$.policies.<name>``)."""
        return cls(
            max_attempts=spec.retries + 1,
            initial_delay_seconds=spec.interval_seconds,
            backoff_rate=spec.backoff_rate,
            max_delay_seconds=spec.max_delay_seconds,
            jitter=JitterStrategy(spec.jitter.value),
            error_types=spec.error_types,
        )

    def strategy(self) -> RetryStrategy:
        """Return the SDK retry strategy: retry :attr:`error_types` only, with backoff."""
        return create_retry_strategy(
            RetryStrategyConfig(
                max_attempts=self.max_attempts,
                initial_delay=Duration.from_seconds(self.initial_delay_seconds),
                max_delay=Duration.from_seconds(self.max_delay_seconds),
                backoff_rate=self.backoff_rate,
                jitter_strategy=self.jitter,
                # An empty message list: match on the error type alone.
                retryable_errors=[],
                retryable_error_types=list(self.error_types),
            )
        )


def _packaged_contract() -> WorkflowContract:
    # Looked up on the module when called, so a test can swap the loaded contract.
    return workflow_contract.load_contract()


@dataclass(frozen=True, slots=True)
class OrchestratorConfig:
    """Settings of one orchestrator instance.

    Parameters
    ----------
    validation_timeout_seconds
        How long the reviewer has; then the workflow continues with the original data.
    contract
        Where each step's retry policy comes from (default: the packaged contract file,
        the one the state machine's retriers are rendered from).
    retry_jitter_override
        ``None`` keeps each policy's jitter; a strategy here replaces it in every policy
        (local mode: :data:`LOCAL_RETRY_JITTER`, see :meth:`local`). Nothing else of the
        contract can be overridden.
    """

    validation_timeout_seconds: int = DEFAULT_VALIDATION_TIMEOUT_SECONDS
    contract: WorkflowContract = field(default_factory=_packaged_contract)
    retry_jitter_override: JitterStrategy | None = None
    _retries: Mapping[Step, RetryPolicy] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        timeout = self.validation_timeout_seconds
        if isinstance(timeout, bool) or not isinstance(timeout, int):
            raise ConfigurationError("validation_timeout_seconds must be an integer")
        if not 1 <= timeout <= MAX_VALIDATION_TIMEOUT_SECONDS:
            raise ConfigurationError(
                f"validation_timeout_seconds must be 1..{MAX_VALIDATION_TIMEOUT_SECONDS}"
            )
        jitter = self.retry_jitter_override
        if jitter is not None:
            try:
                jitter = JitterStrategy(jitter)
            except ValueError:
                raise ConfigurationError(f"unknown retry jitter override {jitter!r}") from None
            object.__setattr__(self, "retry_jitter_override", jitter)
        retries: dict[Step, RetryPolicy] = {}
        for step in Step:
            spec = self.contract.retry_of(step)
            if spec is None:
                continue
            policy = RetryPolicy.from_contract(spec)
            if jitter is not None:
                policy = replace(policy, jitter=jitter)
            retries[step] = policy
        object.__setattr__(self, "_retries", MappingProxyType(retries))

    @classmethod
    def from_settings(cls, settings: Settings) -> OrchestratorConfig:
        """Return the configuration for a deployment's settings."""
        return cls(validation_timeout_seconds=settings.validation_timeout_seconds)

    @classmethod
    def local(cls, validation_timeout_seconds: int = 2) -> OrchestratorConfig:
        """Return the local-mode configuration: the contract's retries without jitter.

        The one override: every policy's jitter becomes :data:`LOCAL_RETRY_JITTER`
        (``NONE``). The testing runner skips retry delays, but a jittered delay in a map
        branch can stall its clock for seconds; without jitter every run is repeatable.
        Attempts, intervals, backoff and the errors retried stay the contract's.
        """
        return cls(
            validation_timeout_seconds=validation_timeout_seconds,
            retry_jitter_override=LOCAL_RETRY_JITTER,
        )

    def retry_policy(self, step: Step) -> RetryPolicy:
        """Return the retry policy of ``step`` (from the contract, override applied).

        Raises
        ------
        ConfigurationError
            The contract gives ``step`` no policy (the map: its branches' steps retry).
        """
        try:
            return self._retries[Step(step)]
        except KeyError:
            raise ConfigurationError(
                f"the workflow contract gives {step} no retry policy"
            ) from None

    def retry_strategy(self, step: Step) -> RetryStrategy:
        """Return the SDK retry strategy of ``step`` (see :meth:`retry_policy`)."""
        return self.retry_policy(step).strategy()

    @property
    def vision_retry(self) -> RetryPolicy:
        """The retry policy of ``ProcessImage``."""
        return self.retry_policy(Step.PROCESS_IMAGE)

    @property
    def price_retry(self) -> RetryPolicy:
        """The retry policy of each ``EstimatePrice-n``."""
        return self.retry_policy(Step.ESTIMATE_PRICE)

    def describe(self) -> Mapping[str, object]:
        """Return the configuration as plain JSON (for logs)."""
        return {
            "validationTimeoutSeconds": self.validation_timeout_seconds,
            "visionMaxAttempts": self.vision_retry.max_attempts,
            "priceMaxAttempts": self.price_retry.max_attempts,
            "retryJitterOverride": (
                None if self.retry_jitter_override is None else str(self.retry_jitter_override)
            ),
        }
