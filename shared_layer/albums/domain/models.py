"""Domain models: albums, corrections, price estimates, executions and validation tasks.

Pure Python, no AWS imports. Every model is a frozen dataclass that validates itself in
``__post_init__`` and raises :class:`~albums.domain.errors.InvalidAlbumError` (or
:class:`~albums.domain.errors.InvalidRecordError`) with a message naming the field.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any

from albums.domain.errors import AlbumRegistrationError, InvalidAlbumError, InvalidRecordError

#: Every photo shows exactly this many albums.
ALBUMS_PER_IMAGE = 6
#: Oldest plausible year for a record (78s included).
MIN_YEAR = 1900
#: Longest album or artist name we store; longer text is a vision or input error.
MAX_TEXT_LENGTH = 200
#: Longest reason a reviewer may give when rejecting.
MAX_REASON_LENGTH = 500

_EXECUTION_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_TASK_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
#: Unicode's control characters (category Cc): C0, DEL and C1 (``\x85``, ``\x9b``...).
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class WorkflowType(StrEnum):
    """The two orchestration patterns being compared."""

    STEP_FUNCTIONS = "step-functions"
    DURABLE_FUNCTIONS = "durable-functions"

    @property
    def tenant(self) -> str:
        """Key prefix that isolates this pattern's items: ``sf`` or ``ldf``."""
        return _TENANTS[self]

    @classmethod
    def from_tenant(cls, tenant: str) -> WorkflowType:
        """Return the pattern whose tenant prefix is ``tenant`` (``sf`` or ``ldf``)."""
        for workflow_type, prefix in _TENANTS.items():
            if prefix == tenant:
                return workflow_type
        raise InvalidRecordError(f"unknown tenant prefix {tenant!r}; expected 'sf' or 'ldf'")


_TENANTS = {WorkflowType.STEP_FUNCTIONS: "sf", WorkflowType.DURABLE_FUNCTIONS: "ldf"}


class ExecutionStatus(StrEnum):
    """Lifecycle of one workflow execution."""

    RUNNING = "running"
    AWAITING_VALIDATION = "awaiting_validation"
    COMPLETED = "completed"
    COMPLETED_WITH_ERRORS = "completed_with_errors"
    REJECTED = "rejected"
    FAILED = "failed"
    #: A duplicate delivery of an upload that another execution already claimed.
    DUPLICATE = "duplicate"

    @property
    def is_terminal(self) -> bool:
        """Whether the execution has ended; a terminal status never changes again."""
        return self not in (ExecutionStatus.RUNNING, ExecutionStatus.AWAITING_VALIDATION)


class TaskStatus(StrEnum):
    """Lifecycle of one human validation task."""

    PENDING = "pending"
    COMPLETED = "completed"
    REJECTED = "rejected"
    TIMEOUT = "timeout"


class PriceStatus(StrEnum):
    """Outcome of one album's price estimation."""

    PRICED = "priced"
    FAILED = "failed"


def current_year() -> int:
    """Return the current UTC year (the newest year an album can have)."""
    return datetime.now(UTC).year


def utc_now_iso() -> str:
    """Return the current time as ISO-8601 UTC with millisecond precision and a ``Z``."""
    return format_timestamp(datetime.now(UTC))


def format_timestamp(moment: datetime) -> str:
    """Format an aware datetime as ISO-8601 UTC, e.g. ``2026-11-23T10:30:00.000Z``."""
    if moment.tzinfo is None:
        raise InvalidRecordError("timestamps must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{moment.astimezone(UTC).microsecond // 1000:03d}Z"
    )


def clean_text(value: object, field_name: str, *, max_length: int = MAX_TEXT_LENGTH) -> str:
    """Return ``value`` trimmed, or raise if it is not a non-empty, bounded, printable string.

    Raises
    ------
    InvalidAlbumError
        When the value is not a string, is empty after trimming, is longer than
        ``max_length`` characters, or contains control characters.
    """
    if not isinstance(value, str):
        raise InvalidAlbumError(f"{field_name} must be a string, got {type(value).__name__}")
    text = value.strip()
    if not text:
        raise InvalidAlbumError(f"{field_name} must not be empty")
    if len(text) > max_length:
        raise InvalidAlbumError(f"{field_name} is longer than {max_length} characters")
    if _CONTROL_CHARS.search(text):
        raise InvalidAlbumError(f"{field_name} must not contain control characters")
    return text


def check_year(value: object, field_name: str = "year", *, max_year: int | None = None) -> int:
    """Return ``value`` if it is an integer year in ``MIN_YEAR..max_year`` (default: this year).

    Booleans and floats are refused even when integral: a year is a whole number.
    """
    newest = current_year() if max_year is None else max_year
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidAlbumError(f"{field_name} must be an integer, got {value!r}")
    if not MIN_YEAR <= value <= newest:
        raise InvalidAlbumError(
            f"{field_name} must be between {MIN_YEAR} and {newest}, got {value}"
        )
    return value


def check_index(value: object) -> int:
    """Return ``value`` if it is an album index in ``1..ALBUMS_PER_IMAGE``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidAlbumError(f"index must be an integer, got {value!r}")
    if not 1 <= value <= ALBUMS_PER_IMAGE:
        raise InvalidAlbumError(f"index must be between 1 and {ALBUMS_PER_IMAGE}, got {value}")
    return value


def check_execution_id(value: object) -> str:
    """Return ``value`` if it is a usable execution id (1..128 of ``[A-Za-z0-9_-]``)."""
    if not isinstance(value, str) or not _EXECUTION_ID.fullmatch(value):
        raise InvalidRecordError(f"execution id must be 1-128 of [A-Za-z0-9_-], got {value!r}")
    return value


def check_task_id(value: object) -> str:
    """Return ``value`` if it is a usable validation task id."""
    if not isinstance(value, str) or not _TASK_ID.fullmatch(value):
        raise InvalidRecordError(f"task id must be 1-128 of [A-Za-z0-9_-], got {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class Album:
    """One album as detected in a photo (or corrected by a reviewer)."""

    index: int
    album_name: str
    artist: str
    year: int

    def __post_init__(self) -> None:
        check_index(self.index)
        object.__setattr__(self, "album_name", clean_text(self.album_name, "albumName"))
        object.__setattr__(self, "artist", clean_text(self.artist, "artist"))
        check_year(self.year)

    def to_dict(self) -> dict[str, Any]:
        """Return the album as plain JSON with the wire names (``albumIndex``, ``albumName``)."""
        return {
            "albumIndex": self.index,
            "albumName": self.album_name,
            "artist": self.artist,
            "year": self.year,
        }

    @classmethod
    def from_dict(cls, data: object) -> Album:
        """Build an album from its wire form; raise :class:`InvalidAlbumError` when malformed."""
        if not isinstance(data, dict):
            raise InvalidAlbumError(f"album must be an object, got {type(data).__name__}")
        missing = [k for k in ("albumIndex", "albumName", "artist", "year") if k not in data]
        if missing:
            raise InvalidAlbumError(f"album is missing {', '.join(missing)}")
        return cls(
            index=data["albumIndex"],
            album_name=data["albumName"],
            artist=data["artist"],
            year=data["year"],
        )


def check_album_set(albums: Sequence[Album]) -> tuple[Album, ...]:
    """Return the albums ordered by index if they are exactly indices ``1..6``, once each."""
    ordered = tuple(sorted(albums, key=lambda album: album.index))
    indices = [album.index for album in ordered]
    if indices != list(range(1, ALBUMS_PER_IMAGE + 1)):
        raise InvalidAlbumError(
            f"expected exactly {ALBUMS_PER_IMAGE} albums with indices 1..{ALBUMS_PER_IMAGE}, "
            f"got indices {indices}"
        )
    return ordered


@dataclass(frozen=True, slots=True)
class AlbumCorrection:
    """A reviewer's correction of one album: a year, and optionally fixed names."""

    index: int
    year: int
    album_name: str | None = None
    artist: str | None = None

    def __post_init__(self) -> None:
        check_index(self.index)
        check_year(self.year)
        if self.album_name is not None:
            object.__setattr__(self, "album_name", clean_text(self.album_name, "albumName"))
        if self.artist is not None:
            object.__setattr__(self, "artist", clean_text(self.artist, "artist"))


@dataclass(frozen=True, slots=True)
class ValidatedAlbum:
    """An album after human validation: the year the model saw and the year kept."""

    album: Album
    year_original: int
    year_validated: bool

    def __post_init__(self) -> None:
        check_year(self.year_original, "yearOriginal")


def apply_corrections(
    albums: Sequence[Album],
    corrections: Sequence[AlbumCorrection],
) -> tuple[ValidatedAlbum, ...]:
    """Apply a reviewer's corrections to the detected albums.

    Albums without a correction keep their data and are marked validated (the reviewer saw
    and accepted them). Raises :class:`InvalidAlbumError` for a correction of an index that
    does not exist or for two corrections of the same index.
    """
    ordered = check_album_set(list(albums))
    by_index: dict[int, AlbumCorrection] = {}
    for correction in corrections:
        if correction.index in by_index:
            raise InvalidAlbumError(f"album {correction.index} is corrected twice")
        by_index[correction.index] = correction
    validated = []
    for album in ordered:
        fix = by_index.get(album.index)
        if fix is None:
            validated.append(ValidatedAlbum(album, year_original=album.year, year_validated=True))
            continue
        corrected = Album(
            index=album.index,
            album_name=fix.album_name or album.album_name,
            artist=fix.artist or album.artist,
            year=fix.year,
        )
        validated.append(ValidatedAlbum(corrected, year_original=album.year, year_validated=True))
    return tuple(validated)


def keep_original(albums: Sequence[Album]) -> tuple[ValidatedAlbum, ...]:
    """Return the albums unchanged and *not* validated: what a validation timeout keeps."""
    return tuple(
        ValidatedAlbum(album, year_original=album.year, year_validated=False)
        for album in check_album_set(list(albums))
    )


_CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class PriceEstimate:
    """One album's estimated market price."""

    price_estimate: Decimal
    price_confidence: Decimal
    price_source: str
    currency: str = "USD"

    def __post_init__(self) -> None:
        price = to_decimal(self.price_estimate, "priceEstimate")
        if price < 0:
            raise InvalidAlbumError(f"priceEstimate must not be negative, got {price}")
        object.__setattr__(self, "price_estimate", price.quantize(_CENT, rounding=ROUND_HALF_UP))
        confidence = to_decimal(self.price_confidence, "priceConfidence")
        if not Decimal(0) <= confidence <= Decimal(1):
            raise InvalidAlbumError(f"priceConfidence must be within 0..1, got {confidence}")
        object.__setattr__(
            self, "price_confidence", confidence.quantize(_CENT, rounding=ROUND_HALF_UP)
        )
        object.__setattr__(self, "price_source", clean_text(self.price_source, "priceSource"))
        if not re.fullmatch(r"[A-Z]{3}", self.currency):
            raise InvalidAlbumError(f"currency must be an ISO-4217 code, got {self.currency!r}")

    def to_dict(self) -> dict[str, Any]:
        """Return the estimate as plain JSON (numbers as floats, never Decimal)."""
        return {
            "priceEstimate": float(self.price_estimate),
            "priceConfidence": float(self.price_confidence),
            "priceSource": self.price_source,
            "currency": self.currency,
        }

    @classmethod
    def from_dict(cls, data: object) -> PriceEstimate:
        """Build an estimate from its wire form; raise :class:`InvalidAlbumError` when malformed."""
        if not isinstance(data, dict):
            raise InvalidAlbumError("price estimate must be an object")
        try:
            return cls(
                price_estimate=data["priceEstimate"],
                price_confidence=data["priceConfidence"],
                price_source=data["priceSource"],
                currency=data.get("currency", "USD"),
            )
        except KeyError as missing:
            raise InvalidAlbumError(f"price estimate is missing {missing.args[0]}") from None


def to_decimal(
    value: object,
    field_name: str,
    *,
    error: type[AlbumRegistrationError] = InvalidAlbumError,
    non_negative: bool = False,
) -> Decimal:
    """Return ``value`` (int, float, Decimal or numeric string) as a finite Decimal.

    Raises ``error`` (default :class:`InvalidAlbumError`) naming ``field_name`` for a
    boolean, a non-number, NaN or infinity, and (with ``non_negative``) a negative value.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal, str)):
        raise error(f"{field_name} must be a number, got {value!r}")
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        raise error(f"{field_name} must be a number, got {value!r}") from None
    if not number.is_finite():
        raise error(f"{field_name} must be finite, got {value!r}")
    if non_negative and number < 0:
        raise error(f"{field_name} must not be negative, got {value!r}")
    return number


@dataclass(frozen=True, slots=True)
class AlbumPriceResult:
    """The outcome of one album's estimation: a price, or the error that stopped it."""

    index: int
    estimate: PriceEstimate | None = None
    error: str | None = None
    error_message: str | None = None

    def __post_init__(self) -> None:
        check_index(self.index)
        if (self.estimate is None) == (self.error is None):
            raise InvalidAlbumError("a price result has either an estimate or an error")

    @property
    def status(self) -> PriceStatus:
        """``priced`` when an estimate exists, else ``failed``."""
        return PriceStatus.PRICED if self.estimate is not None else PriceStatus.FAILED


def completion_status(
    results: Sequence[AlbumPriceResult],
) -> ExecutionStatus:
    """Return ``completed`` when every album is priced, else ``completed_with_errors``."""
    indices = sorted(result.index for result in results)
    if indices != list(range(1, ALBUMS_PER_IMAGE + 1)):
        raise InvalidAlbumError(f"expected one price result per album, got indices {indices}")
    if all(result.status is PriceStatus.PRICED for result in results):
        return ExecutionStatus.COMPLETED
    return ExecutionStatus.COMPLETED_WITH_ERRORS


@dataclass(frozen=True, slots=True)
class FailureDetails:
    """Why an execution failed: the error's type, its message, and the step it happened in."""

    error: str
    cause: str
    step: str

    def __post_init__(self) -> None:
        for name in ("error", "step"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise InvalidRecordError(f"failure {name} must be a non-empty string")
        # Causes can be long stack traces; keep what fits comfortably in an item.
        object.__setattr__(self, "cause", str(self.cause)[:4000])


@dataclass(frozen=True, slots=True)
class ExecutionMetrics:
    """Figures recorded on an execution when it ends, for the comparison report."""

    duration_ms: int
    transitions: int | None = None
    durable_operations: int | None = None
    replays: int | None = None
    lambda_gb_seconds: Decimal | None = None
    cost_usd: Decimal | None = None
    extra: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("duration_ms", "transitions", "durable_operations", "replays"):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 0
            ):
                raise InvalidRecordError(f"{name} must be a non-negative integer, got {value!r}")
