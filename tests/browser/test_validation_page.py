"""The validation page in headless Chromium: a person's correction reaches both patterns.

Debian's ``chromium`` driven by Playwright's Python package (``executable_path``), against
the validation server on 127.0.0.1 in front of both patterns running locally. Skipped,
with the reason shown by ``pytest -rs``, when ``/usr/bin/chromium`` is not installed
(``.ci/run`` installs it with apt-get in CI).

The first test writes a screenshot of the page to ``out/validation-page.png``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from albums.domain.models import ExecutionStatus
from localmode import samples
from tests.durable_harness import ALBUMS
from tests.validation_harness import LDF, SF, ReviewWorld, review_world

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOT = Path(__file__).resolve().parents[2] / "out" / "validation-page.png"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason=f"browser tests skipped: {CHROMIUM} is not installed (apt-get install chromium)",
    ),
]


@pytest.fixture(scope="module")
def world() -> Iterator[ReviewWorld]:
    with review_world() as running:
        yield running


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),  # a fresh user-data-dir
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 900, "height": 1100},
        )
        try:
            yield context
        finally:
            context.close()


class Console:
    """Errors the page logged; an API status a test provokes on purpose is allowed."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.allowed: set[int] = set()

    def unexpected(self) -> list[str]:
        allowed = {f"status of {status} " for status in self.allowed}
        return [e for e in self.errors if not any(status in e for status in allowed)]


@pytest.fixture
def console() -> Console:
    return Console()


@pytest.fixture
def page(browser: Any, console: Console) -> Iterator[Any]:
    opened = browser.new_page()
    opened.on("pageerror", lambda error: console.errors.append(f"page error: {error}"))
    opened.on(
        "console",
        lambda message: console.errors.append(message.text) if message.type == "error" else None,
    )
    yield opened
    opened.close()
    # No script error, no Content-Security-Policy violation, no failed load.
    assert console.unexpected() == []


def year_input(page: Any, position: int) -> Any:
    return page.locator(f'.album[data-position="{position}"] input[data-field="year"]')


def test_a_corrected_year_reaches_both_patterns(world: ReviewWorld, page: Any) -> None:
    shelf = samples.shelf(0)
    correction = shelf.corrections()[0]
    position, year = correction["albumIndex"] - 1, correction["year"]
    upload = world.upload(shelf.detected(), photo=shelf.image())

    page.goto(world.link(upload))
    page.wait_for_selector("#albums .album >> nth=5")
    assert page.locator("#state").inner_text() == "Waiting for your review"
    assert page.locator("#patterns li").all_inner_texts() == [
        "Step Functions: waiting",
        "durable functions: waiting",
    ]
    page.wait_for_function("document.getElementById('photo').naturalWidth > 0")
    year_input(page, position).fill(str(year))
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    page.click("#save")
    page.wait_for_selector("#result:not([hidden])")
    assert page.locator("#result").inner_text() == (
        "Thank you. Resumed: Step Functions and durable functions."
    )

    sf_status, run = world.wait_for_end(upload)
    assert (sf_status, run.status) == ("SUCCEEDED", "SUCCEEDED")
    expected = [album["year"] for album in shelf.detected()]
    expected[position] = year
    assert world.stored_years(upload) == {SF: expected, LDF: expected}
    assert set(world.statuses(upload).values()) == {ExecutionStatus.COMPLETED}
    for pattern in (SF, LDF):
        stored = world.stack.repository(pattern).get_albums(upload.execution_id(pattern))
        assert stored[position].year_original == shelf.detected()[position]["year"]
        assert all(album.year_validated for album in stored)

    page.reload()
    page.wait_for_selector("#state.answered")
    assert page.locator("#state").inner_text().startswith("Already reviewed")
    assert year_input(page, position).is_disabled()
    assert SCREENSHOT.stat().st_size > 10_000


def test_a_script_in_an_album_name_is_shown_as_text(
    world: ReviewWorld, page: Any, console: Console
) -> None:
    console.allowed.add(400)  # the bad year below
    hostile = [dict(album) for album in ALBUMS]
    hostile[0]["albumName"] = "<script>window.pwned = 1</script>"
    hostile[1]["artist"] = '<img src=x onerror="window.pwned = 2">'
    upload = world.upload(hostile)
    page.goto(world.link(upload))
    page.wait_for_selector("#albums .album >> nth=5")

    name = page.locator('.album[data-position="0"] input[data-field="albumName"]')
    artist = page.locator('.album[data-position="1"] input[data-field="artist"]')
    assert name.input_value() == "<script>window.pwned = 1</script>"
    assert artist.input_value() == '<img src=x onerror="window.pwned = 2">'
    assert page.evaluate("window.pwned") is None
    assert page.locator("script").count() == 1  # only the page's own review.js
    assert page.locator("img").count() == 1  # only the photo

    # A bad year is reported next to its field, and changes nothing.
    before = world.snapshot()
    year_input(page, 2).fill("1800")
    page.click("#save")
    error = page.locator('.album[data-position="2"] .year .field-error')
    error.wait_for(state="visible")
    assert "1900" in error.inner_text()
    assert year_input(page, 2).get_attribute("aria-invalid") == "true"
    assert world.snapshot() == before

    # Accepting keeps the names exactly as read, in both patterns.
    page.click("#accept")
    page.wait_for_selector("#result:not([hidden])")
    world.wait_for_end(upload)
    for pattern in (SF, LDF):
        stored = world.stack.repository(pattern).get_albums(upload.execution_id(pattern))
        assert stored[0].album.album_name == "<script>window.pwned = 1</script>"


def test_a_broken_link_says_so(world: ReviewWorld, page: Any, console: Console) -> None:
    console.allowed.add(403)
    page.goto(f"{world.server.base_url}/review#t=v1.nope")
    page.wait_for_selector("#state.invalid")
    assert "not valid" in page.locator("#state").inner_text()
    assert page.locator("#review").is_hidden()
    page.goto(f"{world.server.base_url}/review")
    page.wait_for_selector("#state.invalid")
    assert json.dumps(page.locator("#state").inner_text()).count("not valid") == 1
