"""**Feature: album-registration-system, Property 3: S3 Key Validation** — *For any* S3 key
input, invalid formats should be rejected and valid formats should be accepted
(Validates: Requirements 1.3)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from albums.domain import keys
from albums.domain.errors import InvalidS3KeyError
from tests.property.strategies import valid_keys

# An independent statement of the rules, to check the implementation against.
_SPEC = re.compile(r"uploads/(?:[A-Za-z0-9._~-]+/)*[A-Za-z0-9._~-]+\.(?:jpe?g|png|webp)", re.I)


def spec_accepts(key: str) -> bool:
    segments = key.split("/")[1:]
    return (
        _SPEC.fullmatch(key) is not None
        and len(key.encode("utf-8")) <= keys.MAX_KEY_BYTES
        and all(part not in (".", "..") and len(part) <= 255 for part in segments)
    )


@pytest.mark.property
@given(key=valid_keys())
def test_valid_keys_are_accepted(key: str) -> None:
    assert keys.validate_s3_key(key) == key


@st.composite
def broken_keys(draw: st.DrawFn) -> str:
    """A valid key with exactly one rule broken."""
    key = draw(valid_keys())
    position = draw(st.integers(min_value=len("uploads/"), max_value=len(key) - 1))
    breakage = draw(st.sampled_from(["char", "prefix", "suffix", "dotdot", "empty", "long"]))
    if breakage == "char":
        bad = draw(st.sampled_from([*" %+\\\x00\n\t#?*:<>|\"'", "ä", "\u202e", "é"]))
        return key[:position] + bad + key[position:]
    if breakage == "prefix":
        return draw(st.sampled_from(["", "/", "Uploads/", "upload/", "private/"])) + key[8:]
    if breakage == "suffix":
        return key.rsplit(".", 1)[0] + draw(st.sampled_from([".gif", ".exe", ".jpg.exe", ""]))
    if breakage == "dotdot":
        return "uploads/" + draw(st.sampled_from(["../", "./", "a/../"])) + key[8:]
    if breakage == "empty":
        return key[:position] + "//" + key[position:]
    return "uploads/" + "a/" * 300 + key[8:]


@pytest.mark.property
@given(key=broken_keys())
def test_keys_breaking_a_rule_are_rejected(key: str) -> None:
    with pytest.raises(InvalidS3KeyError):
        keys.validate_s3_key(key)


@pytest.mark.property
@given(key=st.one_of(st.text(max_size=80), st.text(max_size=40).map(lambda t: "uploads/" + t)))
def test_any_text_is_accepted_exactly_when_the_rules_allow_it(key: str) -> None:
    try:
        keys.validate_s3_key(key)
    except InvalidS3KeyError:
        accepted = False
    else:
        accepted = True
    assert accepted is spec_accepts(key)
