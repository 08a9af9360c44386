"""Domain models: validation, corrections, price estimates, statuses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from albums.domain import models
from albums.domain.errors import InvalidAlbumError, InvalidRecordError
from albums.domain.models import (
    Album,
    AlbumCorrection,
    AlbumPriceResult,
    ExecutionStatus,
    PriceEstimate,
    WorkflowType,
)


def six_albums() -> list[Album]:
    return [Album(i, f"Album {i}", f"Artist {i}", 1960 + i) for i in range(1, 7)]


class TestWorkflowType:
    def test_tenants(self) -> None:
        assert WorkflowType.STEP_FUNCTIONS.tenant == "sf"
        assert WorkflowType.DURABLE_FUNCTIONS.tenant == "ldf"
        assert WorkflowType.from_tenant("ldf") is WorkflowType.DURABLE_FUNCTIONS
        assert str(WorkflowType.STEP_FUNCTIONS) == "step-functions"

    def test_unknown_tenant(self) -> None:
        with pytest.raises(InvalidRecordError, match="unknown tenant"):
            WorkflowType.from_tenant("xx")


class TestExecutionStatus:
    @pytest.mark.parametrize(
        ("status", "terminal"),
        [
            (ExecutionStatus.RUNNING, False),
            (ExecutionStatus.AWAITING_VALIDATION, False),
            (ExecutionStatus.COMPLETED, True),
            (ExecutionStatus.COMPLETED_WITH_ERRORS, True),
            (ExecutionStatus.REJECTED, True),
            (ExecutionStatus.FAILED, True),
            (ExecutionStatus.DUPLICATE, True),
        ],
    )
    def test_terminal_statuses(self, status: ExecutionStatus, terminal: bool) -> None:
        assert status.is_terminal is terminal


class TestAlbum:
    def test_trims_text_and_round_trips(self) -> None:
        album = Album(1, "  Kind of Blue ", " Miles Davis", 1959)
        assert album.album_name == "Kind of Blue"
        assert album.artist == "Miles Davis"
        assert Album.from_dict(album.to_dict()) == album

    @pytest.mark.parametrize(
        ("fields", "message"),
        [
            ({"index": 0}, "index must be between 1 and 6"),
            ({"index": 7}, "index must be between 1 and 6"),
            ({"index": True}, "index must be an integer"),
            ({"index": "1"}, "index must be an integer"),
            ({"album_name": ""}, "albumName must not be empty"),
            ({"album_name": "   "}, "albumName must not be empty"),
            ({"album_name": None}, "albumName must be a string"),
            ({"album_name": "x" * 201}, "albumName is longer than 200"),
            ({"album_name": "bad\x07name"}, "control characters"),
            ({"artist": 5}, "artist must be a string"),
            ({"year": 1899}, "year must be between 1900"),
            ({"year": models.current_year() + 1}, "year must be between 1900"),
            ({"year": 1973.0}, "year must be an integer"),
            ({"year": "1973"}, "year must be an integer"),
            ({"year": "1970s"}, "year must be an integer"),
            ({"year": False}, "year must be an integer"),
        ],
    )
    def test_invalid_albums_name_the_field(self, fields: dict[str, Any], message: str) -> None:
        arguments: dict[str, Any] = {"index": 1, "album_name": "A", "artist": "B", "year": 1970}
        arguments.update(fields)
        with pytest.raises(InvalidAlbumError, match=message):
            Album(**arguments)

    def test_from_dict_names_missing_fields(self) -> None:
        with pytest.raises(InvalidAlbumError, match="missing albumName, year"):
            Album.from_dict({"albumIndex": 1, "artist": "x"})
        with pytest.raises(InvalidAlbumError, match="must be an object"):
            Album.from_dict(["x"])

    def test_album_set_must_be_exactly_indices_one_to_six(self) -> None:
        albums = six_albums()
        assert [a.index for a in models.check_album_set(list(reversed(albums)))] == [
            1,
            2,
            3,
            4,
            5,
            6,
        ]
        with pytest.raises(InvalidAlbumError, match="exactly 6 albums"):
            models.check_album_set(albums[:5])
        with pytest.raises(InvalidAlbumError, match="exactly 6 albums"):
            models.check_album_set([*albums[:5], albums[0]])


class TestCorrections:
    def test_corrections_replace_year_and_keep_the_original(self) -> None:
        validated = models.apply_corrections(
            six_albums(), [AlbumCorrection(index=2, year=1999, artist="Fixed Artist")]
        )
        assert [v.album.index for v in validated] == [1, 2, 3, 4, 5, 6]
        second = validated[1]
        assert second.album.year == 1999
        assert second.year_original == 1962
        assert second.album.artist == "Fixed Artist"
        assert second.album.album_name == "Album 2"
        assert all(v.year_validated for v in validated)
        untouched = validated[0]
        assert untouched.album == six_albums()[0]
        assert untouched.year_original == untouched.album.year

    def test_correcting_an_album_twice_is_refused(self) -> None:
        with pytest.raises(InvalidAlbumError, match="corrected twice"):
            models.apply_corrections(
                six_albums(), [AlbumCorrection(1, 1970), AlbumCorrection(1, 1971)]
            )

    @pytest.mark.parametrize(
        ("fields", "message"),
        [
            ({"index": 9}, "index"),
            ({"year": 1800}, "year"),
            ({"album_name": " "}, "albumName must not be empty"),
            ({"artist": "y" * 300}, "artist is longer"),
        ],
    )
    def test_invalid_corrections(self, fields: dict[str, Any], message: str) -> None:
        arguments: dict[str, Any] = {"index": 1, "year": 1970}
        arguments.update(fields)
        with pytest.raises(InvalidAlbumError, match=message):
            AlbumCorrection(**arguments)

    def test_timeout_keeps_original_data_unvalidated(self) -> None:
        kept = models.keep_original(six_albums())
        assert [v.album for v in kept] == six_albums()
        assert not any(v.year_validated for v in kept)
        assert all(v.year_original == v.album.year for v in kept)


class TestPriceEstimate:
    def test_rounds_to_cents_and_serialises_plain_json(self) -> None:
        estimate = PriceEstimate(Decimal("12.345"), 0.8765, "deterministic")
        assert estimate.price_estimate == Decimal("12.35")
        assert estimate.price_confidence == Decimal("0.88")
        assert estimate.to_dict() == {
            "priceEstimate": 12.35,
            "priceConfidence": 0.88,
            "priceSource": "deterministic",
            "currency": "USD",
        }
        assert PriceEstimate.from_dict(estimate.to_dict()) == estimate

    @pytest.mark.parametrize(
        ("fields", "message"),
        [
            ({"price_estimate": -1}, "must not be negative"),
            ({"price_estimate": "abc"}, "must be a number"),
            ({"price_estimate": float("nan")}, "must be finite"),
            ({"price_estimate": True}, "must be a number"),
            ({"price_confidence": 1.5}, "within 0..1"),
            ({"price_confidence": -0.1}, "within 0..1"),
            ({"price_source": ""}, "priceSource must not be empty"),
            ({"currency": "usd"}, "ISO-4217"),
        ],
    )
    def test_invalid_estimates(self, fields: dict[str, Any], message: str) -> None:
        arguments: dict[str, Any] = {
            "price_estimate": 10,
            "price_confidence": 0.5,
            "price_source": "s",
        }
        arguments.update(fields)
        with pytest.raises(InvalidAlbumError, match=message):
            PriceEstimate(**arguments)

    def test_from_dict_names_missing_fields(self) -> None:
        with pytest.raises(InvalidAlbumError, match="missing priceConfidence"):
            PriceEstimate.from_dict({"priceEstimate": 1, "priceSource": "s"})


class TestCompletionStatus:
    def priced(self, index: int) -> AlbumPriceResult:
        return AlbumPriceResult(index, estimate=PriceEstimate(Decimal(10), Decimal("0.5"), "s"))

    def test_all_priced_is_completed(self) -> None:
        results = [self.priced(i) for i in range(1, 7)]
        assert models.completion_status(results) is ExecutionStatus.COMPLETED

    def test_one_failure_is_completed_with_errors(self) -> None:
        results = [self.priced(i) for i in range(1, 6)]
        results.append(AlbumPriceResult(6, error="PriceEstimationError", error_message="no data"))
        assert models.completion_status(results) is ExecutionStatus.COMPLETED_WITH_ERRORS
        assert results[-1].status is models.PriceStatus.FAILED

    def test_a_missing_album_result_is_an_error(self) -> None:
        with pytest.raises(InvalidAlbumError, match="one price result per album"):
            models.completion_status([self.priced(i) for i in range(1, 6)])

    def test_result_has_exactly_one_of_estimate_or_error(self) -> None:
        with pytest.raises(InvalidAlbumError):
            AlbumPriceResult(1)
        with pytest.raises(InvalidAlbumError):
            AlbumPriceResult(1, estimate=self.priced(1).estimate, error="X")


class TestFailureAndMetrics:
    def test_failure_details_bound_the_cause(self) -> None:
        failure = models.FailureDetails("VisionThrottledError", "x" * 10_000, "ProcessImage")
        assert len(failure.cause) == 4000
        with pytest.raises(InvalidRecordError):
            models.FailureDetails("", "c", "step")

    def test_metrics_must_be_non_negative_integers(self) -> None:
        assert models.ExecutionMetrics(duration_ms=10, transitions=18).transitions == 18
        with pytest.raises(InvalidRecordError):
            models.ExecutionMetrics(duration_ms=-1)
        with pytest.raises(InvalidRecordError):
            models.ExecutionMetrics(duration_ms=1, replays=True)  # type: ignore[arg-type]


class TestTimestamps:
    def test_format_is_iso_utc_with_millis(self) -> None:
        moment = datetime(2026, 11, 23, 12, 30, 5, 123456, tzinfo=timezone(timedelta(hours=2)))
        assert models.format_timestamp(moment) == "2026-11-23T10:30:05.123Z"
        assert models.utc_now_iso().endswith("Z")

    def test_naive_datetimes_are_refused(self) -> None:
        with pytest.raises(InvalidRecordError):
            models.format_timestamp(datetime(2026, 1, 1))  # noqa: DTZ001

    def test_current_year(self) -> None:
        assert models.current_year() == datetime.now(UTC).year


class TestIds:
    @pytest.mark.parametrize("value", ["sf-1", "a" * 128, "A_b-9"])
    def test_valid_ids(self, value: str) -> None:
        assert models.check_execution_id(value) == value
        assert models.check_task_id(value) == value

    @pytest.mark.parametrize("value", ["", "a" * 129, "a#b", "a/b", 5, None])
    def test_invalid_ids(self, value: object) -> None:
        with pytest.raises(InvalidRecordError):
            models.check_execution_id(value)
        with pytest.raises(InvalidRecordError):
            models.check_task_id(value)
