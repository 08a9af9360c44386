"""The bad-input corpus itself: its size, its coverage of issue 8's list, and its format.

The cases run against the real entry points in
``tests/integration/test_bad_input_corpus.py`` (keys, events, vision outputs) and
``tests/integration/test_bad_submission_corpus.py`` (validation submissions); this file
checks that the corpus holds what the issue asks for, so a case cannot quietly vanish.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from albums.domain.models import current_year
from tests.corpus_harness import (
    FAMILIES,
    CorpusError,
    build_albums,
    expand,
    load_family,
    patched,
)

ALL = {family: load_family(family) for family in FAMILIES}
ERROR_CASES = [case for cases in ALL.values() for case in cases if case.error is not None]


def tags_of(family: str) -> Counter[str]:
    return Counter(tag for case in ALL[family] for tag in case.tags)


def test_the_corpus_holds_at_least_50_error_cases_with_unique_ids() -> None:
    assert len(ERROR_CASES) >= 50
    ids = [case.id for cases in ALL.values() for case in cases]
    assert len(ids) == len(set(ids))
    assert all(case.why for case in ERROR_CASES)


@pytest.mark.parametrize(
    ("family", "required"),
    [
        (
            "s3_keys",
            {
                "path-traversal",
                "unicode",
                "control-characters",
                "long",
                "wrong-suffix",
                "url-encoded",
            },
        ),
        ("events", {"not-an-object", "wrong-source", "missing-field", "wrong-type"}),
        (
            "vision_outputs",
            {"not-json", "prose-around-json", "album-count", "wrong-types", "years", "names"}
            | {"prompt-injection"},
        ),
        (
            "submissions",
            {"album-count", "album-index", "years", "strings", "reason", "body", "link", "state"},
        ),
    ],
)
def test_every_family_covers_what_the_issue_lists(family: str, required: set[str]) -> None:
    assert required <= set(tags_of(family))


def test_the_issues_named_vision_cases_are_there() -> None:
    ids = {case.id for case in ALL["vision_outputs"]}
    named = {"vision-0-albums", "vision-5-albums", "vision-7-albums", "vision-10kb-name"}
    named |= {"vision-year-0", "vision-year-3000", "vision-year-1970s"}
    assert named <= ids
    texts = {case.id: case.data["reply"].get("text") for case in ALL["vision_outputs"]}
    counts = {n: len(json.loads(texts[f"vision-{n}-albums"])) for n in (0, 5, 7)}
    assert counts == {0: 0, 5: 5, 7: 7}
    years = [json.loads(texts[f"vision-year-{y}"]) for y in ("0", "3000", "1970s")]
    assert [
        album["year"] for albums in years for album in albums if album["year"] in (0, 3000, "1970s")
    ] == [0, 3000, "1970s"]
    names = json.loads(texts["vision-10kb-name"])
    assert len(names[0]["albumName"]) >= 10_000


def test_long_keys_really_are_long() -> None:
    sizes = {case.id: len(str(case.data["key"]).encode()) for case in ALL["s3_keys"]}
    assert sizes["key-1024-bytes"] == 1024
    assert sizes["key-1025-bytes"] == 1025
    assert sizes["key-513-bytes"] == 513
    assert max(sizes.values()) > 8192


def test_both_event_entry_points_are_covered() -> None:
    entries = Counter(case.entry for case in ALL["events"])
    assert entries["upload-target"] >= 20
    assert entries["execution-recorder"] >= 5


def test_every_submission_states_status_and_field() -> None:
    for case in ALL["submissions"]:
        assert case.data["status"] in (400, 403, 404, 409, 410), case.id
        assert ("field" in case.data) is (case.data["status"] == 400), case.id


# --- the format ------------------------------------------------------------------------------


def test_operators_build_what_they_say() -> None:
    base = [
        {"albumName": "A", "artist": "B", "year": 1970},
        {"albumName": "C", "artist": "D", "year": 1980},
    ]
    assert expand({"$repeat": "ab", "times": 3}, base) == "ababab"
    assert expand({"$concat": ["x", {"$repeat": "-", "times": 2}, 5]}, base) == "x--5"
    assert expand({"$json": {"a": [1]}}, base) == '{"a": [1]}'
    assert expand({"$thisYear": 1}, base) == current_year() + 1
    assert expand({"$rawYear": "NaN"}, base).startswith(
        '[{"albumName": "A", "artist": "B", "year": NaN}'
    )
    assert expand({"nested": [{"$repeat": "z", "times": 2}]}, base) == {"nested": ["zz"]}
    built = build_albums(
        base,
        {"take": 1, "extra": [{"albumName": "E"}], "set": {"1.year": 2}, "unset": ["0.year"]},
    )
    assert built == [{"albumName": "A", "artist": "B"}, {"albumName": "E", "year": 2}]
    assert build_albums(base, {"replace": {"0": None}}) == [None, base[1]]


def test_patches_set_and_unset_dotted_paths_on_a_copy() -> None:
    event: dict[str, Any] = {"detail": {"object": {"key": "k", "etag": "e"}}, "source": "aws.s3"}
    result = patched(
        event, {"set": {"detail.object.key": 1, "source": "x"}, "unset": ["detail.object.etag"]}
    )
    assert result == {"detail": {"object": {"key": 1}}, "source": "x"}
    assert event["detail"]["object"] == {"key": "k", "etag": "e"}


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            {"family": "f", "cases": [{"id": "a", "error": "NoSuchError", "why": "w"}]},
            "NoSuchError",
        ),
        (
            {"family": "f", "cases": [{"id": "a", "error": "ImageError"}]},
            "states its error and why",
        ),
        ({"family": "f", "cases": [{"id": "a", "why": "w"}]}, "states its error and why"),
        (
            {"family": "f", "cases": [{"id": "a", "error": None, "why": "w"}] * 2},
            "used twice",
        ),
        (
            {"family": "f", "cases": [{"id": "a", "error": None, "why": "w", "x": {"$nope": 1}}]},
            "unknown corpus operator",
        ),
        (
            {
                "family": "f",
                "cases": [
                    {"id": "a", "error": None, "why": "w", "x": {"$albums": {"set": {"9.year": 1}}}}
                ],
            },
            "position.field",
        ),
    ],
)
def test_a_malformed_corpus_file_is_refused(
    tmp_path: Path, document: dict[str, object], message: str
) -> None:
    (tmp_path / "f.json").write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(CorpusError, match=message):
        load_family("f", directory=tmp_path)


def test_a_patch_path_through_a_missing_field_is_refused() -> None:
    with pytest.raises(CorpusError, match="does not name"):
        patched({"detail": "text"}, {"set": {"detail.object.key": 1}})
