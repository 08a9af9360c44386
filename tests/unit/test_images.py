"""Image reading (moto S3) and downscaling (Pillow)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, ReadTimeoutError
from botocore.stub import Stubber
from moto import mock_aws
from PIL import Image

from albums.adapters.images import DEFAULT_MAX_BYTES, downscale, read_image
from albums.domain.errors import ImageError, TransientError
from albums.domain.keys import UploadRef

BUCKET = "album-uploads-test"
KEY = "uploads/shelf.jpg"


def make_image(
    size: tuple[int, int], fmt: str = "JPEG", *, orientation: int | None = None
) -> bytes:
    mode = "RGBA" if fmt in ("PNG", "WEBP") else "RGB"
    image = Image.new(mode, size, (180, 40, 40, 255) if mode == "RGBA" else (180, 40, 40))
    # A marker in the top-left corner so rotations can be checked.
    image.paste((0, 0, 255) if mode == "RGB" else (0, 0, 255, 255), (0, 0, 10, 10))
    buffer = io.BytesIO()
    if orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = orientation
        image.save(buffer, format=fmt, exif=exif)
    else:
        image.save(buffer, format=fmt)
    return buffer.getvalue()


def size_of(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as image:
        return image.size


# --- downscale ---------------------------------------------------------------------


def test_large_jpeg_is_resized_to_1568_on_the_long_edge_keeping_aspect_ratio() -> None:
    result = downscale(make_image((3000, 2000)), "image/jpeg")
    assert size_of(result.data) == (1568, 1045)
    assert result.media_type == "image/jpeg"
    assert Image.open(io.BytesIO(result.data)).format == "JPEG"


def test_portrait_image_is_resized_on_its_height() -> None:
    result = downscale(make_image((1000, 4000)), "image/jpeg", 1000)
    assert size_of(result.data) == (250, 1000)


@pytest.mark.parametrize(
    ("fmt", "media_type"), [("PNG", "image/png"), ("WEBP", "image/webp"), ("GIF", "image/gif")]
)
def test_other_formats_are_re_encoded_in_their_own_format(fmt: str, media_type: str) -> None:
    result = downscale(make_image((2000, 1000), fmt), media_type)
    assert size_of(result.data) == (1568, 784)
    expected = "image/png" if fmt == "GIF" else media_type  # a GIF becomes a PNG
    assert result.media_type == expected
    assert Image.open(io.BytesIO(result.data)).format == expected.split("/")[1].upper()


def test_small_image_is_returned_unchanged() -> None:
    original = make_image((800, 600))
    result = downscale(original, "image/jpeg")
    assert result.data == original
    assert result.media_type == "image/jpeg"


def test_exactly_max_edge_is_unchanged() -> None:
    original = make_image((1568, 1000), "PNG")
    assert downscale(original, "image/png").data == original


def test_exif_orientation_is_applied_even_to_small_images() -> None:
    # Orientation 6: the camera was turned; viewers rotate 90 degrees clockwise.
    original = make_image((400, 300), orientation=6)
    result = downscale(original, "image/jpeg")
    assert result.data != original
    assert size_of(result.data) == (300, 400)
    with Image.open(io.BytesIO(result.data)) as image:
        assert image.getexif().get(0x0112) in (None, 1)
        # The blue marker moved from top-left to top-right.
        red, _green, blue = image.convert("RGB").getpixel((image.width - 3, 3))  # type: ignore[misc]
        assert blue > 200
        assert red < 60


def test_exif_orientation_and_resize_together() -> None:
    result = downscale(make_image((3000, 2000), orientation=8), "image/jpeg")
    assert size_of(result.data) == (1045, 1568)


def test_media_type_follows_the_real_content() -> None:
    png = make_image((100, 100), "PNG")
    assert downscale(png, "image/jpeg").media_type == "image/png"


@pytest.mark.parametrize(
    "data", [b"this is not an image", b"\xff\xd8\xff\xe0" + b"\x00" * 50, b"\x89PNG\r\n\x1a\n"]
)
def test_unreadable_content_is_an_image_error(data: bytes) -> None:
    with pytest.raises(ImageError):
        downscale(data, "image/jpeg")


def test_truncated_large_image_is_an_image_error() -> None:
    data = make_image((3000, 2000))
    with pytest.raises(ImageError, match="damaged or unreadable"):
        downscale(data[: len(data) // 2], "image/jpeg")


def test_unsupported_format_is_refused() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (10, 10)).save(buffer, format="BMP")
    with pytest.raises(ImageError, match="BMP, not JPEG"):
        downscale(buffer.getvalue(), "image/jpeg")


def test_empty_and_wrong_media_type_are_refused() -> None:
    with pytest.raises(ImageError, match="empty"):
        downscale(b"", "image/jpeg")
    with pytest.raises(ImageError, match="unsupported"):
        downscale(make_image((10, 10)), "image/tiff")
    with pytest.raises(ValueError, match="max_edge"):
        downscale(make_image((10, 10)), "image/jpeg", 0)


def test_decompression_bombs_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    data = make_image((300, 200), "PNG")
    # Between 1x and 2x the limit Pillow only warns; we refuse.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 40_000)
    with pytest.warns(Image.DecompressionBombWarning), pytest.raises(ImageError, match="bomb"):
        downscale(data, "image/png")
    # Beyond 2x Pillow raises; we convert it.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 20_000)
    with pytest.raises(ImageError, match="cannot be read"):
        downscale(data, "image/png")


def test_palette_png_is_resized_in_full_colour() -> None:
    image = Image.new("RGB", (2000, 500), (10, 200, 10)).convert("P")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    result = downscale(buffer.getvalue(), "image/png")
    assert size_of(result.data) == (1568, 392)


def test_byte_budget_falls_back_to_jpeg() -> None:
    noisy = Image.effect_noise((500, 500), 100).convert("RGB")
    buffer = io.BytesIO()
    noisy.save(buffer, format="PNG")
    png = buffer.getvalue()
    budget = len(png) // 2
    result = downscale(png, "image/png", max_bytes=budget)
    assert result.media_type == "image/jpeg"
    assert len(result.data) <= budget
    assert size_of(result.data) == (500, 500)
    with pytest.raises(ImageError, match="after downscaling"):
        downscale(png, "image/png", max_bytes=100)


# --- read_image --------------------------------------------------------------------


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


def test_reads_the_exact_version_named_by_the_event(s3: Any) -> None:
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    first = make_image((50, 50))
    v1 = s3.put_object(Bucket=BUCKET, Key=KEY, Body=first, ContentType="image/jpeg")
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=make_image((60, 60)), ContentType="image/jpeg")
    image = read_image(s3, UploadRef(BUCKET, KEY, version_id=v1["VersionId"]))
    assert image.data == first
    assert image.media_type == "image/jpeg"


def test_unversioned_read_is_conditional_on_the_etag(s3: Any) -> None:
    data = make_image((50, 50))
    put = s3.put_object(Bucket=BUCKET, Key=KEY, Body=data)
    assert read_image(s3, UploadRef(BUCKET, KEY, etag=put["ETag"])).data == data
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=make_image((70, 70)))
    with pytest.raises(ImageError, match="overwritten after the upload event"):
        read_image(s3, UploadRef(BUCKET, KEY, etag=put["ETag"]))


def test_media_type_from_content_type_or_key_suffix(s3: Any) -> None:
    png_key = "uploads/shelf.png"
    png = make_image((20, 20), "PNG")
    a = s3.put_object(Bucket=BUCKET, Key=png_key, Body=png)  # binary/octet-stream
    assert read_image(s3, UploadRef(BUCKET, png_key, etag=a["ETag"])).media_type == "image/png"
    b = s3.put_object(Bucket=BUCKET, Key=KEY, Body=png, ContentType="image/png; charset=x")
    assert read_image(s3, UploadRef(BUCKET, KEY, etag=b["ETag"])).media_type == "image/png"
    c = s3.put_object(Bucket=BUCKET, Key=KEY, Body=png, ContentType="text/plain")
    assert read_image(s3, UploadRef(BUCKET, KEY, etag=c["ETag"])).media_type == "image/jpeg"


def test_missing_key_and_missing_version_are_image_errors(s3: Any) -> None:
    with pytest.raises(ImageError, match="does not exist"):
        read_image(s3, UploadRef(BUCKET, "uploads/gone.jpg", etag="abc123"))
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=b"x")
    with pytest.raises(ImageError, match="has no version"):
        read_image(s3, UploadRef(BUCKET, KEY, version_id="nonexistentversion123"))


def test_too_large_object_is_refused(s3: Any) -> None:
    put = s3.put_object(Bucket=BUCKET, Key=KEY, Body=b"x" * 2048)
    with pytest.raises(ImageError, match="2048 bytes; the limit is 1024"):
        read_image(s3, UploadRef(BUCKET, KEY, etag=put["ETag"]), max_bytes=1024)


def test_size_from_the_event_is_refused_without_calling_s3() -> None:
    class NoCalls:
        def get_object(self, **kwargs: Any) -> None:
            raise AssertionError("S3 must not be called")

    upload = UploadRef(BUCKET, KEY, etag="abc", size=DEFAULT_MAX_BYTES + 1)
    with pytest.raises(ImageError, match="the limit is"):
        read_image(NoCalls(), upload)  # type: ignore[arg-type]


class Body:
    """A streaming body that records whether it was read and closed."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.reads: list[int | None] = []
        self.closed = False

    def read(self, amount: int | None = None) -> bytes:
        self.reads.append(amount)
        return self.data if amount is None else self.data[:amount]

    def close(self) -> None:
        self.closed = True


def test_content_length_is_checked_before_the_body_is_read() -> None:
    client = boto3.client("s3", region_name="us-east-1")
    body = Body(b"x" * 10)
    with Stubber(client) as stub:
        stub.add_response(
            "get_object",
            {"Body": body, "ContentLength": 5000, "ContentType": "image/jpeg"},
            {"Bucket": BUCKET, "Key": KEY, "IfMatch": '"abc"'},
        )
        with pytest.raises(ImageError, match="5000 bytes"):
            read_image(client, UploadRef(BUCKET, KEY, etag="abc"), max_bytes=1000)
    assert body.reads == []
    assert body.closed


def test_a_body_longer_than_its_length_claims_is_still_refused() -> None:
    client = boto3.client("s3", region_name="us-east-1")
    body = Body(b"x" * 3000)
    with Stubber(client) as stub:
        stub.add_response(
            "get_object",
            {"Body": body, "ContentLength": 10, "ContentType": "image/jpeg"},
            {"Bucket": BUCKET, "Key": KEY, "VersionId": "v1"},
        )
        with pytest.raises(ImageError, match="larger than the limit"):
            read_image(client, UploadRef(BUCKET, KEY, version_id="v1"), max_bytes=1000)
    assert body.reads == [1001]
    assert body.closed


def test_empty_object_is_refused(s3: Any) -> None:
    put = s3.put_object(Bucket=BUCKET, Key=KEY, Body=b"")
    with pytest.raises(ImageError, match="empty"):
        read_image(s3, UploadRef(BUCKET, KEY, etag=put["ETag"]))


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("SlowDown", 503, TransientError),
        ("InternalError", 500, TransientError),
        ("AccessDenied", 403, ImageError),
        ("InvalidObjectState", 403, ImageError),
    ],
)
def test_s3_errors_are_typed(code: str, status: int, expected: type[Exception]) -> None:
    client = boto3.client("s3", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_client_error("get_object", code, f"{code}!", status)
        with pytest.raises(expected, match=code) as caught:
            read_image(client, UploadRef(BUCKET, KEY, etag="abc"))
    assert type(caught.value) is expected
    assert isinstance(caught.value.__cause__, ClientError)


def test_network_errors_are_transient() -> None:
    class Timeout:
        def get_object(self, **kwargs: Any) -> None:
            raise ReadTimeoutError(endpoint_url="https://s3")

    with pytest.raises(TransientError, match="reading s3://"):
        read_image(Timeout(), UploadRef(BUCKET, KEY, etag="abc"))  # type: ignore[arg-type]


def test_read_then_downscale_end_to_end(s3: Any) -> None:
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    put = s3.put_object(Bucket=BUCKET, Key=KEY, Body=make_image((3000, 2000)))
    image = read_image(s3, UploadRef(BUCKET, KEY, version_id=put["VersionId"]))
    small = downscale(image.data, image.media_type)
    assert size_of(small.data) == (1568, 1045)
