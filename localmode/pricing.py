"""A price source with programmable faults, for local runs and tests of both patterns.

Wraps the deterministic estimator; per album (matched by index or by album name) it can
fail transiently ``n`` times (``PriceSourceUnavailableError``, which the orchestrations
retry) or fail permanently (``PriceEstimationError``). Thread-safe: the Map branches and
durable map items call it concurrently.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field

from albums.domain.errors import PriceEstimationError, PriceSourceUnavailableError
from albums.domain.models import Album, PriceEstimate
from albums.domain.pricing import DeterministicPriceEstimator, PriceSource


@dataclass
class ProgrammablePriceSource:
    """The deterministic estimator with injectable failures.

    Parameters
    ----------
    inner
        The source that answers when no fault applies.
    """

    inner: PriceSource = field(default_factory=DeterministicPriceEstimator)
    _transient: dict[object, int] = field(default_factory=dict)
    _permanent: set[object] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    calls: Counter[int] = field(default_factory=Counter)

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

    def estimate(self, album: Album) -> PriceEstimate:
        """Answer like ``inner``, unless a fault is programmed for this album."""
        with self._lock:
            self.calls[album.index] += 1
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
