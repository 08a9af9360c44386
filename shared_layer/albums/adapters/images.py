"""Read the uploaded image from S3 and shrink it to what the vision model needs.

:func:`read_image` reads exactly the object version the event named (by version id, or
by ETag in an unversioned bucket), so an overwrite between the event and the read can
never make one execution process another upload's photo. :func:`downscale` brings the
long edge down to the model's 1568 px and applies the EXIF orientation phones record
instead of rotating pixels.

Pillow is imported inside :func:`downscale`: handlers that never touch pixels do not pay
for it at cold start.
"""

from __future__ import annotations

import io
import logging
from typing import TYPE_CHECKING, Any

from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
    ResponseStreamingError,
)

from albums.domain.errors import ImageError, TransientError
from albums.domain.keys import UploadRef, media_type_for_key
from albums.domain.vision import (
    DEFAULT_MAX_IMAGE_EDGE,
    ImageData,
    check_media_type,
)

if TYPE_CHECKING:
    from PIL.Image import Image as PilImage
    from types_boto3_s3.client import S3Client

__all__ = ["DEFAULT_MAX_BYTES", "ImageData", "downscale", "read_image"]

logger = logging.getLogger(__name__)

#: Largest upload we read; a phone photo is 2-8 MiB, a RAW-sized JPEG rarely over 20.
DEFAULT_MAX_BYTES = 20 * 1024 * 1024
JPEG_QUALITY = 90
#: Quality of the JPEG fallback when a re-encoded image is still over its byte budget.
FALLBACK_JPEG_QUALITY = 85

# The object is gone, changed, archived or forbidden: retrying cannot help.
_PERMANENT_S3_CODES = frozenset(
    {
        "NoSuchKey",
        "NoSuchVersion",
        "NoSuchBucket",
        "NotFound",
        "404",
        "PreconditionFailed",
        "412",
        "InvalidArgument",
        "InvalidObjectState",
        "MethodNotAllowed",
        "AccessDenied",
        "403",
    }
)
_TRANSIENT_S3_CODES = frozenset(
    {"SlowDown", "InternalError", "ServiceUnavailable", "RequestTimeout", "503", "500"}
)
_NETWORK_ERRORS = (
    ReadTimeoutError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ConnectionClosedError,
    ResponseStreamingError,
)
# Pillow's format names for the media types the model accepts (MPO: phone JPEGs with a
# second picture appended, still a JPEG to any decoder).
_FORMAT_MEDIA_TYPES = {
    "JPEG": "image/jpeg",
    "MPO": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "GIF": "image/gif",
}
_EXIF_ORIENTATION = 0x0112


def read_image(
    s3_client: S3Client, upload: UploadRef, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> ImageData:
    """Read the uploaded object version and return its bytes and media type.

    Parameters
    ----------
    s3_client
        An S3 client.
    upload
        The object version from the trigger event. Its ``version_id`` is read when set;
        otherwise the read is conditional on its ``etag``.
    max_bytes
        Largest object accepted. The size is checked before the body is read.

    Returns
    -------
    ImageData
        The bytes, and the media type from the object's ``Content-Type`` when that is an
        image type the model accepts, else from the key's suffix.

    Raises
    ------
    ImageError
        When the object or version does not exist, changed since the event, is empty,
        larger than ``max_bytes``, or cannot be read (access denied, archived).
    TransientError
        When S3 throttles or fails transiently; the read can be retried.
    """
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1:
        raise ValueError(f"max_bytes must be a positive integer, got {max_bytes!r}")
    where = f"s3://{upload.bucket}/{upload.key}"
    if upload.size is not None and upload.size > max_bytes:
        raise ImageError(f"{where} is {upload.size} bytes; the limit is {max_bytes}")
    params: dict[str, Any] = {"Bucket": upload.bucket, "Key": upload.key}
    if upload.version_id is not None:
        params["VersionId"] = upload.version_id
    else:
        params["IfMatch"] = f'"{upload.etag}"'
    try:
        response = s3_client.get_object(**params)
        body = response["Body"]
        try:
            length = response.get("ContentLength")
            if length is not None and length > max_bytes:
                raise ImageError(f"{where} is {length} bytes; the limit is {max_bytes}")
            # Read one byte past the limit so a missing or wrong length cannot slip by.
            data = body.read(max_bytes + 1)
        finally:
            body.close()
    except ClientError as error:
        raise _map_s3_error(error, upload) from error
    except _NETWORK_ERRORS as error:
        raise TransientError(f"reading {where} failed: {error}") from error
    if len(data) > max_bytes:
        raise ImageError(f"{where} is larger than the limit of {max_bytes} bytes")
    if not data:
        raise ImageError(f"{where} is empty")
    return ImageData(data, _media_type(response.get("ContentType"), upload.key))


def _media_type(content_type: object, key: str) -> str:
    if isinstance(content_type, str):
        try:
            return check_media_type(content_type)
        except ImageError:
            pass  # e.g. binary/octet-stream from a client that set no type
    return media_type_for_key(key)


def _map_s3_error(error: ClientError, upload: UploadRef) -> ImageError | TransientError:
    details = error.response.get("Error", {})
    code = str(details.get("Code", "Unknown"))
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    where = f"s3://{upload.bucket}/{upload.key}"
    if code in ("NoSuchKey", "NotFound", "404"):
        return ImageError(f"{where} does not exist (deleted after the upload event?)")
    if code == "NoSuchVersion":
        return ImageError(f"{where} has no version {upload.version_id!r}")
    if code in ("PreconditionFailed", "412"):
        return ImageError(
            f"{where} was overwritten after the upload event (ETag {upload.etag!r} no longer "
            "matches); the new upload is processed by its own event"
        )
    message = f"reading {where} failed: S3 {code}: {details.get('Message', str(error))}"
    if code in _TRANSIENT_S3_CODES or (isinstance(status, int) and status >= 500):
        return TransientError(message)
    return ImageError(message)


def downscale(
    image_bytes: bytes,
    media_type: str,
    max_edge: int = DEFAULT_MAX_IMAGE_EDGE,
    *,
    max_bytes: int | None = None,
) -> ImageData:
    """Shrink an image so its long edge is at most ``max_edge`` pixels, upright.

    An image already small enough, without an EXIF rotation, and (when ``max_bytes`` is
    given) within the byte budget is returned byte for byte. Otherwise it is rotated per
    its EXIF orientation, resized with LANCZOS keeping its aspect ratio, and re-encoded in
    its own format (JPEG quality 90, PNG, WebP quality 90; a GIF becomes a PNG) without
    its metadata (which also drops GPS positions). If that is still over ``max_bytes`` it
    is re-encoded as JPEG quality 85.

    The media type returned is the one the bytes really have: a PNG uploaded as
    ``photo.jpg`` is sent as ``image/png``, because Bedrock refuses a mismatch.

    Parameters
    ----------
    image_bytes
        The image as read from S3.
    media_type
        Its declared media type (one of ``image/jpeg``, ``image/png``, ``image/webp``,
        ``image/gif``).
    max_edge
        Longest edge allowed, in pixels.
    max_bytes
        Optional byte budget for the result.

    Raises
    ------
    ImageError
        When the bytes are not a readable JPEG, PNG, WebP or GIF image, have more pixels
        than Pillow's decompression-bomb limit, or cannot fit in ``max_bytes``.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError  # noqa: PLC0415

    check_media_type(media_type)
    if isinstance(max_edge, bool) or not isinstance(max_edge, int) or max_edge < 1:
        raise ValueError(f"max_edge must be a positive integer, got {max_edge!r}")
    if not image_bytes:
        raise ImageError("image is empty")
    try:
        image = Image.open(io.BytesIO(image_bytes))
        actual_type = _FORMAT_MEDIA_TYPES.get(image.format or "")
        if actual_type is None:
            raise ImageError(
                f"image is {image.format or 'an unknown format'}, not JPEG, PNG, WebP or GIF"
            )
        # Image.open only warns between 1x and 2x the limit; refuse those too.
        pixel_limit = Image.MAX_IMAGE_PIXELS
        if pixel_limit is not None and image.width * image.height > pixel_limit:
            raise ImageError(
                f"image has {image.width}x{image.height} pixels, more than the "
                f"{pixel_limit} allowed (decompression bomb protection)"
            )
        orientation = image.getexif().get(_EXIF_ORIENTATION, 1)
        rotated = orientation not in (None, 1)
        too_big = max(image.size) > max_edge
        over_budget = max_bytes is not None and len(image_bytes) > max_bytes
        if not (rotated or too_big or over_budget):
            if actual_type != check_media_type(media_type):
                logger.info("image declared %s is really %s", media_type, actual_type)
            return ImageData(image_bytes, actual_type)
        image.load()
        upright = ImageOps.exif_transpose(image)
        if max(upright.size) > max_edge:
            upright = _normalise_mode(upright).resize(
                _fit(upright.size, max_edge), Image.Resampling.LANCZOS
            )
        result = _encode(upright, actual_type)
        if max_bytes is not None and len(result.data) > max_bytes:
            result = _encode(upright, "image/jpeg", quality=FALLBACK_JPEG_QUALITY)
            if len(result.data) > max_bytes:
                raise ImageError(
                    f"image is still {len(result.data)} bytes after downscaling; "
                    f"the limit is {max_bytes}"
                )
        return result
    except (UnidentifiedImageError, Image.DecompressionBombError) as error:
        raise ImageError(f"image cannot be read: {error}") from None
    except (OSError, ValueError, SyntaxError) as error:
        # Truncated or corrupt data surfaces from the decoders as these.
        raise ImageError(f"image is damaged or unreadable: {error}") from None


def _fit(size: tuple[int, int], max_edge: int) -> tuple[int, int]:
    width, height = size
    scale = max_edge / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _normalise_mode(image: PilImage) -> PilImage:
    # LANCZOS needs real colour channels; palette and CMYK images are converted first.
    if image.mode in ("RGB", "RGBA", "L", "LA"):
        return image
    has_alpha = image.mode in ("PA", "RGBa", "La") or "transparency" in image.info
    return image.convert("RGBA" if has_alpha else "RGB")


def _encode(image: PilImage, media_type: str, *, quality: int = JPEG_QUALITY) -> ImageData:
    buffer = io.BytesIO()
    if media_type == "image/jpeg":
        rgb = image if image.mode in ("RGB", "L") else _normalise_mode(image).convert("RGB")
        rgb.save(buffer, format="JPEG", quality=quality)
    elif media_type == "image/webp":
        _normalise_mode(image).save(buffer, format="WEBP", quality=quality)
    else:
        # PNG, and GIF re-encoded as PNG: lossless, and no 256-colour palette.
        _normalise_mode(image).save(buffer, format="PNG")
        media_type = "image/png"
    return ImageData(buffer.getvalue(), media_type)
