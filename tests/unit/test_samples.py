"""Sample shelf photos: deterministic, six legible albums each, and the stand-in reads them."""

from __future__ import annotations

import io

from PIL import Image

from albums.adapters.bedrock import invoke_vision_model
from albums.adapters.images import downscale
from albums.domain import keys
from albums.domain.vision import VisionConfig
from localmode import samples
from localmode.vision import StandInBedrock


def test_every_shelf_has_six_albums_a_valid_key_and_some_misreads() -> None:
    assert len(samples.SHELVES) >= 5
    for shelf in samples.SHELVES:
        assert len(shelf.detected()) == 6
        assert keys.validate_s3_key(shelf.key) == shelf.key
        corrections = shelf.corrections()
        assert corrections, "each shelf gives the reviewer something to correct"
        for correction in corrections:
            album = shelf.albums[correction["albumIndex"] - 1]
            assert album.seen_year != album.year == correction["year"]


def test_photos_are_deterministic_jpegs_under_the_vision_size_limit() -> None:
    samples.render_shelf.cache_clear()
    first = samples.SHELVES[0].image()
    samples.render_shelf.cache_clear()
    assert samples.SHELVES[0].image() == first
    photo = Image.open(io.BytesIO(first))
    assert photo.format == "JPEG"
    assert max(photo.size) <= 1568  # not downscaled, so the bytes reach the model unchanged
    assert len({shelf.image() for shelf in samples.SHELVES}) == len(samples.SHELVES)


def test_the_stand_in_reads_what_the_photo_shows() -> None:
    vision = StandInBedrock()
    shelf = samples.shelf(1)
    vision.register(shelf.image(), shelf.detected())
    image = downscale(shelf.image(), "image/jpeg")
    albums = invoke_vision_model(
        vision, image.data, image.media_type, VisionConfig(model_id="local"), sleep=lambda _: None
    )
    assert [(a.album_name, a.year) for a in albums] == [
        (a.album_name, a.seen_year) for a in shelf.albums
    ]
    assert samples.shelf(len(samples.SHELVES) + 1) is shelf
