"""The local price source: programmed faults, a seeded fail rate and a simulated latency."""

from __future__ import annotations

import time

import pytest

from albums.domain.errors import PriceEstimationError, PriceSourceUnavailableError
from albums.domain.models import Album
from localmode.pricing import (
    MAX_INJECTED_FAILURES,
    PriceCall,
    ProgrammablePriceSource,
    most_at_once,
)

ALBUMS = [
    Album(index=i, album_name=f"Album {i}", artist="Artist", year=1970 + i) for i in range(1, 7)
]


def _failures_until_answered(source: ProgrammablePriceSource, album: Album) -> int:
    failures = 0
    while True:
        try:
            source.estimate(album)
        except PriceSourceUnavailableError:
            failures += 1
        else:
            return failures


def test_fail_rate_is_reproducible_and_never_exhausts_the_retries() -> None:
    runs = []
    for _ in range(2):
        source = ProgrammablePriceSource(fail_rate=0.6, seed=7)
        runs.append([_failures_until_answered(source, album) for album in ALBUMS])
    assert runs[0] == runs[1]
    assert any(runs[0]), "a 60 % fail rate should fail some album"
    assert max(runs[0]) <= MAX_INJECTED_FAILURES


def test_a_success_ends_the_injected_failures_of_that_album() -> None:
    source = ProgrammablePriceSource(fail_rate=0.6, seed=7)
    _failures_until_answered(source, ALBUMS[0])
    for _ in range(5):
        source.estimate(ALBUMS[0])


def test_another_seed_fails_other_calls() -> None:
    patterns = {
        seed: tuple(
            _failures_until_answered(ProgrammablePriceSource(fail_rate=0.5, seed=seed), album)
            for album in ALBUMS
        )
        for seed in range(6)
    }
    assert len(set(patterns.values())) > 1


def test_no_fail_rate_means_no_injected_failure_and_permanent_faults_still_apply() -> None:
    source = ProgrammablePriceSource()
    assert [_failures_until_answered(source, album) for album in ALBUMS] == [0] * 6
    source.fail_permanently(3)
    with pytest.raises(PriceEstimationError):
        source.estimate(ALBUMS[2])


def test_latency_is_slept_on_every_call() -> None:
    source = ProgrammablePriceSource(latency_s=0.05)
    began = time.perf_counter()
    source.estimate(ALBUMS[0])
    assert time.perf_counter() - began >= 0.05


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"fail_rate": -0.1}, "fail_rate must be between 0 and 1"),
        ({"fail_rate": 1.5}, "fail_rate must be between 0 and 1"),
        ({"latency_s": -1.0}, "latency_s must not be negative"),
    ],
)
def test_bad_settings_are_refused(arguments: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ProgrammablePriceSource(**arguments)  # type: ignore[arg-type]


def test_calls_are_recorded_with_their_span_and_overlap_is_counted() -> None:
    source = ProgrammablePriceSource(latency_s=0.02)
    source.estimate(ALBUMS[0])
    source.estimate(ALBUMS[1])
    first, second = source.spans
    assert first.album_name == ALBUMS[0].album_name
    assert first.ended - first.began >= 0.02
    assert second.began >= first.ended
    assert most_at_once(source.spans) == 1  # one after the other
    source.clear()
    assert source.spans == []


@pytest.mark.parametrize(
    ("spans", "expected"),
    [
        ([], 0),
        ([(0.0, 1.0)], 1),
        ([(0.0, 1.0), (1.0, 2.0)], 1),  # touching is not overlapping
        ([(0.0, 1.0), (0.5, 2.0), (0.9, 1.1)], 3),
        ([(0.0, 1.0), (0.5, 0.6), (2.0, 3.0), (2.5, 3.5)], 2),
    ],
)
def test_most_at_once_counts_the_largest_overlap(
    spans: list[tuple[float, float]], expected: int
) -> None:
    calls = [PriceCall("x", began, ended) for began, ended in spans]
    assert most_at_once(calls) == expected
