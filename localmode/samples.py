"""Sample shelf photos for local mode: six album covers each, drawn with Pillow.

Each :class:`SampleShelf` knows the albums its photo shows (what the vision stand-in
answers, including the year a model plausibly misreads) and the years a reviewer would
correct them to. The photos are drawn here, deterministically — no binary assets in the
repository — with the album name, artist and year legible on each cover.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from functools import cache
from typing import Any

from albums.domain.models import ALBUMS_PER_IMAGE

COVER = 360
GAP = 24
COLUMNS = 3
ROWS = ALBUMS_PER_IMAGE // COLUMNS


@dataclass(frozen=True, slots=True)
class SampleAlbum:
    """One cover on a sample shelf: what the photo shows, and the year a model reads."""

    album_name: str
    artist: str
    year: int
    detected_year: int | None = None

    @property
    def seen_year(self) -> int:
        """The year the vision stand-in reports (a misread, when one is set)."""
        return self.detected_year if self.detected_year is not None else self.year


@dataclass(frozen=True, slots=True)
class SampleShelf:
    """One photo of six albums."""

    name: str
    albums: tuple[SampleAlbum, ...]

    def __post_init__(self) -> None:
        if len(self.albums) != ALBUMS_PER_IMAGE:
            raise ValueError(f"a shelf shows {ALBUMS_PER_IMAGE} albums")

    @property
    def key(self) -> str:
        """The upload key of this photo."""
        return f"uploads/samples/{self.name}.jpg"

    def detected(self) -> list[dict[str, Any]]:
        """Return what the vision stand-in answers for this photo."""
        return [
            {"albumName": a.album_name, "artist": a.artist, "year": a.seen_year}
            for a in self.albums
        ]

    def corrections(self) -> list[dict[str, int]]:
        """Return the reviewer's corrections: the misread years, set right."""
        return [
            {"albumIndex": index, "year": album.year}
            for index, album in enumerate(self.albums, start=1)
            if album.detected_year is not None
        ]

    def image(self) -> bytes:
        """Return the photo as JPEG bytes (drawn once, then cached)."""
        return render_shelf(self)


def _album(name: str, artist: str, year: int, seen: int | None = None) -> SampleAlbum:
    return SampleAlbum(album_name=name, artist=artist, year=year, detected_year=seen)


SHELVES: tuple[SampleShelf, ...] = (
    SampleShelf(
        "jazz-and-soul",
        (
            _album("Kind of Blue", "Miles Davis", 1959),
            _album("A Love Supreme", "John Coltrane", 1965, seen=1985),
            _album("Blue Train", "John Coltrane", 1957),
            _album("What's Going On", "Marvin Gaye", 1971),
            _album("Songs in the Key of Life", "Stevie Wonder", 1976, seen=1978),
            _album("Lady Soul", "Aretha Franklin", 1968),
        ),
    ),
    SampleShelf(
        "seventies-rock",
        (
            _album("The Dark Side of the Moon", "Pink Floyd", 1973),
            _album("Rumours", "Fleetwood Mac", 1977, seen=1971),
            _album("Led Zeppelin IV", "Led Zeppelin", 1971),
            _album("Hotel California", "Eagles", 1976),
            _album("Born to Run", "Bruce Springsteen", 1975, seen=1976),
            _album("Horses", "Patti Smith", 1975),
        ),
    ),
    SampleShelf(
        "eighties-new-wave",
        (
            _album("Remain in Light", "Talking Heads", 1980),
            _album("Thriller", "Michael Jackson", 1982),
            _album("Purple Rain", "Prince", 1984, seen=1994),
            _album("The Queen Is Dead", "The Smiths", 1986),
            _album("Disintegration", "The Cure", 1989),
            _album("Closer", "Joy Division", 1980, seen=1990),
        ),
    ),
    SampleShelf(
        "nineties-crate",
        (
            _album("Nevermind", "Nirvana", 1991),
            _album("OK Computer", "Radiohead", 1997),
            _album("Dummy", "Portishead", 1994, seen=1997),
            _album("Loveless", "My Bloody Valentine", 1991),
            _album("The Miseducation of Lauryn Hill", "Lauryn Hill", 1998),
            _album("Homogenic", "Bjork", 1997, seen=1991),
        ),
    ),
    SampleShelf(
        "new-pressings",
        (
            _album("Random Access Memories", "Daft Punk", 2013),
            _album("Currents", "Tame Impala", 2015, seen=2016),
            _album("Blonde", "Frank Ocean", 2016),
            _album("Punisher", "Phoebe Bridgers", 2020),
            _album("To Pimp a Butterfly", "Kendrick Lamar", 2015),
            _album("Norman Fucking Rockwell!", "Lana Del Rey", 2019, seen=2009),
        ),
    ),
)


def shelf(index: int) -> SampleShelf:
    """Return sample shelf ``index`` (cycling, so any number of uploads has a photo)."""
    return SHELVES[index % len(SHELVES)]


@cache
def render_shelf(sample: SampleShelf) -> bytes:
    """Draw the shelf: a 3 x 2 grid of covers, each with its name, artist and true year."""
    from PIL import Image, ImageDraw, ImageFont  # noqa: PLC0415 - heavy, local mode only

    width = COLUMNS * COVER + (COLUMNS + 1) * GAP
    height = ROWS * COVER + (ROWS + 1) * GAP
    photo = Image.new("RGB", (width, height), (58, 44, 32))  # a wooden shelf
    draw = ImageDraw.Draw(photo)
    title_font = ImageFont.load_default(size=30)
    small_font = ImageFont.load_default(size=24)
    for position, album in enumerate(sample.albums):
        column, row = position % COLUMNS, position // COLUMNS
        left = GAP + column * (COVER + GAP)
        top = GAP + row * (COVER + GAP)
        colour = _cover_colour(album)
        draw.rectangle((left, top, left + COVER, top + COVER), fill=colour)
        ink = (20, 20, 20) if sum(colour) > 380 else (245, 245, 245)
        lines = [
            *_wrap(album.album_name, 18),
            "",
            *_wrap(album.artist, 22),
            str(album.year),
        ]
        y = top + 30
        for number, line in enumerate(lines):
            font = title_font if number < len(_wrap(album.album_name, 18)) else small_font
            draw.text((left + 24, y), line, fill=ink, font=font)
            y += 40
    buffer = io.BytesIO()
    photo.save(buffer, format="JPEG", quality=88)
    return buffer.getvalue()


def _cover_colour(album: SampleAlbum) -> tuple[int, int, int]:
    digest = hashlib.sha256(f"{album.artist}/{album.album_name}".encode()).digest()
    return (digest[0], digest[1], digest[2])


def _wrap(text: str, width: int) -> list[str]:
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}".strip()
        if len(candidate) > width and current:
            lines.append(current)
            current = word
        else:
            current = candidate
    if current:
        lines.append(current)
    return lines
