"""A price source with programmable faults, for local runs and tests of both patterns.

Wraps the deterministic estimator; per album (matched by index or by album name) it can
fail transiently ``n`` times (``PriceSourceUnavailableError``, which the orchestrations
retry) or fail permanently (``PriceEstimationError``), and it records when each call
began and ended, so tests can see calls overlap. For demos and benchmarks it can also
sleep a simulated latency per call and fail a share of calls transiently (``fail_rate``):
which calls fail is a pure function of the seed, the album and the attempt number, so both
patterns meet the same faults, and at most ``MAX_INJECTED_FAILURES`` in a row per album, so
the orchestrations' 3 retries always recover. Thread-safe: the Map branches
and durable map items call it concurrently.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Final

from albums.domain.errors import PriceEstimationError, PriceSourceUnavailableError
from albums.domain.models import Album, PriceEstimate
from albums.domain.pricing import DeterministicPriceEstimator, PriceSource

#: Most injected failures in a row for one album: below both patterns' 3 retries.
MAX_INJECTED_FAILURES: Final = 2


@dataclass(frozen=True, slots=True)
class PriceCall:
    """One call of the price source: which album, and when it began and ended (monotonic s)."""

    album_name: str
    began: float
    ended: float


def most_at_once(calls: list[PriceCall]) -> int:
    """Return the largest number of ``calls`` that were running at the same moment."""
    # Sweep the begin/end events in time order; an end sorts before a begin at the same
    # instant, so calls that merely touch do not count as overlapping.
    events = sorted([(c.began, 1) for c in calls] + [(c.ended, -1) for c in calls])
    running = peak = 0
    for _, change in events:
        running += change
        peak = max(peak, running)
    return peak


@dataclass
class ProgrammablePriceSource:
    """The deterministic estimator with injectable failures.

    Parameters
    ----------
    inner
        The source that answers when no fault applies.
    latency_s
        Simulated latency of every call (slept before answering or failing).
    fail_rate
        Share of calls that fail transiently (0 to 1), decided by ``seed``.
    seed
        Makes the injected failures reproducible.
    """

    inner: PriceSource = field(default_factory=DeterministicPriceEstimator)
    latency_s: float = 0.0
    fail_rate: float = 0.0
    seed: int = 0
    _transient: dict[object, int] = field(default_factory=dict)
    _permanent: set[object] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    calls: Counter[int] = field(default_factory=Counter)
    spans: list[PriceCall] = field(default_factory=list)
    _attempts: Counter[tuple[str, str]] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        if not 0 <= self.fail_rate <= 1:
            raise ValueError("fail_rate must be between 0 and 1")
        if self.latency_s < 0:
            raise ValueError("latency_s must not be negative")

    def fail_transiently(self, album: int | str, times: int) -> None:
        """Fail the album (index or name) ``times`` times, then answer normally."""
        with self._lock:
            self._transient[album] = times

    def fail_permanently(self, album: int | str) -> None:
        """Fail the album (index or name) on every call."""
        with self._lock:
            self._permanent.add(album)

    def clear(self) -> None:
        """Forget every programmed fault and call count."""
        with self._lock:
            self._transient.clear()
            self._permanent.clear()
            self.calls.clear()
            self.spans.clear()
            self._attempts.clear()

    def estimate(self, album: Album) -> PriceEstimate:
        """Answer like ``inner``, unless a fault is programmed for this album."""
        began = time.monotonic()
        if self.latency_s:
            time.sleep(self.latency_s)
        with self._lock:
            self.spans.append(PriceCall(album.album_name, began, time.monotonic()))
            self.calls[album.index] += 1
            if self._injected_failure(album):
                raise PriceSourceUnavailableError(
                    f"price source unavailable for album {album.index} (injected, "
                    f"fail rate {self.fail_rate:g})"
                )
            keys = (album.index, album.album_name)
            if any(key in self._permanent for key in keys):
                raise PriceEstimationError(f"no price can be found for album {album.index}")
            for key in keys:
                if self._transient.get(key, 0) > 0:
                    self._transient[key] -= 1
                    raise PriceSourceUnavailableError(
                        f"price source unavailable for album {album.index} (local fault)"
                    )
        return self.inner.estimate(album)

    def _injected_failure(self, album: Album) -> bool:
        """Whether this attempt for ``album`` fails under ``fail_rate`` (lock held)."""
        if not self.fail_rate:
            return False
        identity = (album.album_name, album.artist)
        attempt = self._attempts[identity]
        self._attempts[identity] += 1
        if attempt >= MAX_INJECTED_FAILURES:
            return False
        digest = hashlib.sha256(f"{self.seed}|{identity}|{attempt}".encode()).digest()
        draw = int.from_bytes(digest[:8], "big") / 2**64
        if draw < self.fail_rate:
            return True
        # A success ends the run of failures: later calls of this album always answer.
        self._attempts[identity] = MAX_INJECTED_FAILURES
        return False
