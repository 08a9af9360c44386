"""``albums upload``: check photos locally, then put them where the upload rule sees them.

Every photo is checked before the first is put, so a bad one uploads nothing: its name
becomes a key under ``uploads/<prefix>/`` that passes :func:`albums.domain.keys.validate_s3_key`
(characters outside the rules become ``-``), its size is within what the workflow reads,
and its first bytes are a JPEG, PNG or WebP image matching its suffix. The object's
content type comes from the suffix.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from albums.adapters.images import DEFAULT_MAX_BYTES
from albums.domain import keys
from albums.domain.errors import InvalidS3KeyError, InvalidUploadEventError
from albums_cli.console import EXIT_NOT_FOUND, CliError, aws_call, format_table
from albums_cli.environment import Clients, Environment

#: Largest photo the workflow reads (the image adapter's limit), so a bigger one fails here.
MAX_UPLOAD_BYTES: Final = DEFAULT_MAX_BYTES
#: Folder under ``uploads/`` that ``albums upload`` puts photos in by default.
DEFAULT_PREFIX: Final = "cli"
#: Longest file name stem kept in a key.
MAX_STEM_LENGTH: Final = 100
_UNSAFE_RUN = re.compile(r"[^A-Za-z0-9._~-]+")
_MEDIA_NAMES: Final = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WebP"}


def sniff_media_type(head: bytes) -> str | None:
    """Return the media type a file's first bytes announce (JPEG, PNG, WebP), else ``None``."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def safe_file_name(path: Path) -> str:
    """Return a file's name made of the characters the key rules allow.

    Accents are dropped (``é`` -> ``e``), every other run of characters outside
    ``A-Z a-z 0-9 . _ - ~`` becomes ``-``, and the suffix is lower-cased.

    Raises
    ------
    CliError
        When the suffix is not an image suffix, or nothing of the name is left.
    """
    suffix = path.suffix.lower()
    if suffix not in keys.IMAGE_SUFFIXES:
        raise CliError(
            f"{path}: not a photo name (the workflow takes {', '.join(keys.IMAGE_SUFFIXES)})"
        )
    ascii_stem = unicodedata.normalize("NFKD", path.stem).encode("ascii", "ignore").decode()
    stem = _UNSAFE_RUN.sub("-", ascii_stem).strip(".-~")[:MAX_STEM_LENGTH].rstrip(".-~")
    if not stem:
        raise CliError(f"{path}: its name keeps no letters or digits in a key; rename it")
    return stem + suffix


def upload_key(path: Path, prefix: str) -> str:
    """Return the key ``uploads/<prefix>/<safe name>`` of a photo, checked by the key rules.

    Raises
    ------
    CliError
        When the prefix breaks the key rules (the message names the rule).
    """
    folder = prefix.strip("/")
    name = safe_file_name(path)
    key = f"{keys.UPLOAD_PREFIX}{folder}/{name}" if folder else f"{keys.UPLOAD_PREFIX}{name}"
    try:
        return keys.validate_s3_key(key)
    except InvalidS3KeyError as error:
        raise CliError(
            f"--prefix {prefix!r} breaks the key rules: {error.message} "
            "(use letters, digits, . _ - ~ and /)"
        ) from None


@dataclass(frozen=True, slots=True)
class PlannedUpload:
    """One photo checked and ready to put (its bytes are read when it is put)."""

    path: Path
    key: str
    media_type: str
    size: int


def _read(path: Path, limit: int | None = None) -> bytes:
    """Return a file's first ``limit`` bytes (all without a limit), or say why it cannot."""
    try:
        with path.open("rb") as handle:
            return handle.read() if limit is None else handle.read(limit)
    except OSError as error:
        raise CliError(f"{path}: cannot read it ({error.strerror or error})") from None


def plan_uploads(paths: Sequence[Path], prefix: str) -> list[PlannedUpload]:
    """Check every photo before any is put: name, key, size and content.

    Raises
    ------
    CliError
        For a missing file (not found), a name or prefix that breaks the key rules, an
        empty or too large file, content that is not a JPEG, PNG or WebP image, content
        that does not match the suffix, or two photos that would get the same key.
    """
    planned: list[PlannedUpload] = []
    taken: dict[str, Path] = {}
    for path in paths:
        if not path.exists():
            raise CliError(f"{path}: no such file", EXIT_NOT_FOUND)
        if not path.is_file():
            raise CliError(f"{path}: not a file")
        key = upload_key(path, prefix)
        if key in taken:
            raise CliError(f"{path} and {taken[key]} would both be uploaded as {key}; rename one")
        taken[key] = path
        size = path.stat().st_size
        if size == 0:
            raise CliError(f"{path}: the file is empty")
        if size > MAX_UPLOAD_BYTES:
            raise CliError(
                f"{path}: {size / 1024 / 1024:.1f} MiB is over the "
                f"{MAX_UPLOAD_BYTES / 1024 / 1024:g} MiB the workflow reads; downscale it"
            )
        expected = keys.media_type_for_key(key)
        found = sniff_media_type(_read(path, 16))
        if found is None:
            raise CliError(f"{path}: not a JPEG, PNG or WebP image (its content says otherwise)")
        if found != expected:
            raise CliError(
                f"{path}: the content is {_MEDIA_NAMES[found]} but the name says "
                f"{_MEDIA_NAMES[expected]}; rename it"
            )
        planned.append(PlannedUpload(path, key, expected, size))
    return planned


def _upload_id(bucket: str, key: str, response: Mapping[str, Any]) -> str | None:
    """Return the upload id the workflow will know the object by (``None`` if unknown)."""
    try:
        return keys.UploadRef(
            bucket=bucket, key=key, version_id=response.get("VersionId"), etag=response.get("ETag")
        ).upload_id
    except (InvalidUploadEventError, InvalidS3KeyError):
        return None


def put_uploads(
    environment: Environment, clients: Clients, planned: Sequence[PlannedUpload]
) -> list[dict[str, Any]]:
    """Put checked photos into the uploads bucket; the upload rule starts both patterns.

    Returns
    -------
    list of dict
        Per photo: ``path``, ``bucket``, ``key``, ``contentType``, ``bytes`` and the
        ``uploadId`` the workflow derives from the S3 event (``albums validate`` takes it).
    """
    uploaded = []
    for photo in planned:
        body = _read(photo.path)
        with aws_call(f"put s3://{environment.bucket}/{photo.key}"):
            response = clients.s3.put_object(
                Bucket=environment.bucket, Key=photo.key, Body=body, ContentType=photo.media_type
            )
        uploaded.append(
            {
                "path": str(photo.path),
                "bucket": environment.bucket,
                "key": photo.key,
                "contentType": photo.media_type,
                "bytes": len(body),
                "uploadId": _upload_id(environment.bucket, photo.key, response),
            }
        )
    return uploaded


def upload(
    environment: Environment,
    clients: Clients,
    paths: Sequence[Path],
    *,
    prefix: str = DEFAULT_PREFIX,
) -> list[dict[str, Any]]:
    """Check every photo (:func:`plan_uploads`), then put them all (:func:`put_uploads`).

    A bad photo uploads nothing, not even the good ones before it.
    """
    return put_uploads(environment, clients, plan_uploads(paths, prefix))


def upload_text(uploaded: Sequence[Mapping[str, Any]], bucket: str) -> str:
    """Return what :func:`upload` put, as text with the upload ids."""
    rows = [(item["path"], item["key"], item["uploadId"]) for item in uploaded]
    return "\n".join(
        [
            f"uploaded {len(uploaded)} photo(s) to s3://{bucket}/",
            format_table(("FILE", "KEY", "UPLOAD ID"), rows, "  "),
            "Both patterns start now; `albums tasks` lists the validations once they wait.",
        ]
    )
