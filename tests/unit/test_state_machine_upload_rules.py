"""The state machine's ``CheckUpload`` state gives the verdicts of ``albums.domain.keys``.

``CheckUpload`` is a JSONata Choice state: one rule per check of
:func:`albums.domain.keys.parse_object_created_event` (the event's shape,
:func:`~albums.domain.keys.validate_s3_key`, the uploads bucket, then
:class:`~albums.domain.keys.UploadRef`'s checks), in Python's order. The state is run here
with Step Functions' Choice semantics (the state's ``Assign`` always; then the first rule
whose ``Condition`` is true: its ``Output`` and ``Assign``) through
:func:`localmode.jsonata_engine.evaluate`, over the whole bad-input corpus of keys and
events and over generated keys, events and execution names, and must agree with Python:

- accepted by Python exactly when the last rule (``AcceptUpload``) is taken;
- a rejection's ``reason`` is Python's ``"{error class}: {message}"``, text included;
- an accepted upload is :meth:`~albums.domain.keys.UploadRef.to_dict` of the parsed event;
- ``executionId`` is :func:`~albums.domain.keys.execution_id_for` of the execution.
"""

from __future__ import annotations

import copy
import hashlib
import json
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from albums.domain import keys
from albums.domain.errors import InvalidS3KeyError, InvalidUploadEventError
from albums.domain.models import WorkflowType
from localmode.jsonata_engine import evaluate
from localmode.stack import ACCOUNT, REGION, object_created_event
from localmode.stepfunctions import FUNCTION_VARIABLES, STATE_MACHINE_NAME, render_definition
from tests.corpus_harness import Case, load_family, patched

BUCKET: Final = "album-uploads-local"
ACCEPTED: Final = "AcceptUpload"
REJECTED: Final = "UploadRejected"

KEY_CASES = load_family("s3_keys")
EVENT_CASES = [case for case in load_family("events") if case.entry == "upload-target"]


# --- the state -------------------------------------------------------------------------------


def check_upload_state(uploads_bucket: str = BUCKET) -> dict[str, Any]:
    """The ``CheckUpload`` state of the definition rendered for ``uploads_bucket``."""
    arns = {
        name: f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:sf-{name}" for name in FUNCTION_VARIABLES
    }
    definition = json.loads(
        render_definition(arns, timeout_seconds=300, uploads_bucket=uploads_bucket)
    )
    assert definition["QueryLanguage"] == "JSONata"
    assert definition["StartAt"] == "CheckUpload"
    state: dict[str, Any] = definition["States"]["CheckUpload"]
    return state


STATE = check_upload_state()


# --- Choice semantics ------------------------------------------------------------------------


def value_of(template: Any, states: Mapping[str, Any]) -> Any:
    """A JSONata field's value: every ``{% ... %}`` string evaluated, the rest as it is."""
    if isinstance(template, str) and template.startswith("{%"):
        assert template.endswith("%}"), template
        return evaluate(template[2:-2], states=states)
    if isinstance(template, dict):
        return {name: value_of(item, states) for name, item in template.items()}
    if isinstance(template, list):
        return [value_of(item, states) for item in template]
    return template


@dataclass
class Transition:
    """Where a Choice state went, what it passed on and what it assigned."""

    next: str
    output: Any
    assigned: dict[str, Any] = field(default_factory=dict)


def run_choice(state: Mapping[str, Any], states: Mapping[str, Any]) -> Transition:
    """Run a JSONata Choice state as Step Functions does.

    The state's ``Assign`` is evaluated whichever rule matches; the rules are tried in
    order and the first whose ``Condition`` is ``true`` gives ``Next``, ``Output`` (the
    state input when it has none) and its own ``Assign``. Every expression sees the
    variables as they were on entering the state.
    """
    assigned = value_of(state.get("Assign", {}), states)
    for choice in state["Choices"]:
        condition = value_of(choice["Condition"], states)
        assert isinstance(condition, bool), f"a Condition gave {condition!r}"
        if condition:
            assigned.update(value_of(choice.get("Assign", {}), states))
            output = value_of(choice["Output"], states) if "Output" in choice else states["input"]
            return Transition(choice["Next"], output, assigned)
    next_state = state.get("Default")
    assert next_state is not None, "no rule matched and no Default (States.NoChoiceMatched)"
    return Transition(next_state, states["input"], assigned)


def execution_arn(name: str) -> str:
    return f"arn:aws:states:{REGION}:{ACCOUNT}:execution:{STATE_MACHINE_NAME}:{name}"


def context(name: str) -> dict[str, Any]:
    """``$states.context`` of an execution named ``name`` (the fields the state reads)."""
    return {
        "Execution": {"Id": execution_arn(name), "Name": name},
        "StateMachine": {"Name": STATE_MACHINE_NAME},
        "State": {"Name": "CheckUpload"},
    }


def python_verdict(event: Any, uploads_bucket: str = BUCKET) -> dict[str, Any] | str:
    """``UploadRef.to_dict()`` of the event, or ``"{error class}: {message}"``."""
    try:
        upload = keys.parse_object_created_event(
            copy.deepcopy(event), uploads_bucket=uploads_bucket
        )
    except (InvalidS3KeyError, InvalidUploadEventError) as error:
        return f"{type(error).__name__}: {error.message}"
    return upload.to_dict()


def assert_agrees(
    event: Any,
    *,
    name: str = "0d6ca4a4-59cb-4e5b-9f0e-39ae2d8c7d52",
    state: Mapping[str, Any] = STATE,
    uploads_bucket: str = BUCKET,
) -> Transition:
    """Run ``CheckUpload`` on ``event``; assert it agrees with Python; return the transition."""
    expected = python_verdict(event, uploads_bucket)
    transition = run_choice(state, {"input": event, "context": context(name)})
    assert transition.assigned["executionId"] == keys.execution_id_for(
        WorkflowType.STEP_FUNCTIONS, execution_arn(name)
    )
    if isinstance(expected, str):
        assert transition.next == REJECTED
        assert transition.output == {"status": "rejected", "reason": expected}
        assert "upload" not in transition.assigned
    else:
        assert transition.next == ACCEPTED, transition.output
        assert transition.assigned["upload"] == expected
        # Absent fields stay absent: the state's upload is exactly to_dict()'s keys.
        assert list(transition.assigned["upload"]) == list(expected)
    return transition


def s3_event(case_id: str, key: Any, *, bucket: str = BUCKET) -> dict[str, Any]:
    """The "Object Created" event S3 would send for ``key`` (what the corpus runs use)."""
    return object_created_event(
        bucket=bucket,
        key=key,
        size=2048,
        etag=hashlib.md5(case_id.encode(), usedforsecurity=False).hexdigest(),
        version_id=hashlib.sha256(case_id.encode()).hexdigest()[:32],
    )


# --- the corpus ------------------------------------------------------------------------------


@pytest.mark.parametrize("case", KEY_CASES, ids=str)
def test_every_corpus_key_gets_pythons_verdict(case: Case) -> None:
    transition = assert_agrees(s3_event(case.id, case.data["key"]))
    assert transition.next == REJECTED
    assert transition.output["reason"].startswith(f"{case.error}: ")


@pytest.mark.parametrize("case", EVENT_CASES, ids=str)
def test_every_corpus_event_gets_pythons_verdict(case: Case) -> None:
    if "event" in case.data:
        event = case.data["event"]
    else:
        event = patched(s3_event(case.id, f"uploads/corpus/{case.id}.jpg"), case.data["patch"])
    transition = assert_agrees(event)
    assert transition.next == REJECTED
    assert transition.output["reason"].startswith(f"{case.error}: ")


@pytest.mark.parametrize(
    "obj",
    [
        {"key": "uploads/shelf.jpg", "etag": '"d41d8cd98f00b204e9800998ecf8427e"', "size": 0},
        {"key": "uploads/2026/a_b~c.JPEG", "version-id": "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"},
        {"key": "uploads/x.webp", "version-id": "v+/=1", "etag": "abc", "size": 12},
        {"key": "uploads/x.png", "etag": '"abc', "version-id": None, "size": None},
        {"key": "uploads/x.png", "etag": 'abc"', "size": 9007199254740991},
    ],
)
def test_accepted_uploads_are_pythons_upload_refs(obj: dict[str, Any]) -> None:
    event = s3_event("accepted", "uploads/a.jpg")
    event["detail"]["object"] = obj
    assert assert_agrees(event).next == ACCEPTED


@pytest.mark.parametrize(
    ("obj", "reason"),
    [
        ({"key": "uploads/caf\u00e9.jpg", "etag": "a"}, "found '\\xe9'"),
        ({"key": "uploads/\U0001f3b5.jpg", "etag": "a"}, "found '\\U0001f3b5'"),
        ({"key": "uploads/a\u202eb.jpg", "etag": "a"}, "found '\\u202e'"),
        ({"key": "uploads/it's.jpg", "etag": "a"}, 'found "\'"'),
        ({"key": "uploads/a\\b.jpg", "etag": "a"}, "found '\\\\'"),
        ({"key": "uploads/a\tb.jpg", "etag": "a"}, "found '\\t'"),
        (
            {"key": "uploads/a.jpg", "etag": ["x", {"k": None}, 1.5, True]},
            "['x', {'k': None}, 1.5, True]",
        ),
        ({"key": "uploads/a.jpg", "version-id": 'it\'s "v"\n\u00e9'}, "'it\\'s \"v\"\\n\\xe9'"),
    ],
)
def test_quoted_values_are_shown_as_python_ascii_shows_them(
    obj: dict[str, Any], reason: str
) -> None:
    event = s3_event("quoted", "uploads/a.jpg")
    event["detail"]["object"] = obj
    transition = assert_agrees(event)
    assert reason in transition.output["reason"]


@pytest.mark.parametrize(
    "key",
    [
        "uploads/" + "a" * 251 + ".jpg",
        "uploads/" + "a" * 252 + ".jpg",
        "uploads/" + "a" * 256 + "/x y.jpg",
        "uploads/x y/" + "a" * 256 + ".jpg",
        "uploads/" + "a" * 250 + "/" + "b" * 249 + ".jpg",
        "uploads/" + "a" * 250 + "/" + "b" * 250 + ".jpg",
        "uploads/" + "\u00e9" * 250 + ".jpg",
        "uploads/" + "\u00e9" * 251 + ".jpg",
        "uploads/" + "\U0001f3b5" * 125 + ".jpg",
        "uploads/" + "\U0001f3b5" * 126 + ".jpg",
    ],
    ids=lambda key: f"{len(key)}-characters-{len(key.encode())}-bytes",
)
def test_keys_at_the_length_limits_get_pythons_verdict(key: str) -> None:
    assert_agrees(s3_event("limits", key))


@pytest.mark.parametrize(
    "bucket", ["Bad_Bucket", "ab", "a" * 64, "bucket-", "-bucket", "bucket.", "caf\u00e9s"]
)
def test_an_invalid_uploads_bucket_is_refused_as_python_refuses_it(bucket: str) -> None:
    # Only reachable when the deployment's bucket itself breaks the bucket name rules.
    state = check_upload_state(bucket)
    transition = assert_agrees(
        s3_event("bucket", "uploads/a.jpg", bucket=bucket), state=state, uploads_bucket=bucket
    )
    assert transition.output["reason"].startswith("InvalidUploadEventError: bucket name is not")


# --- generated inputs ------------------------------------------------------------------------


def weighted(*options: tuple[int, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """One of the strategies, each chosen in proportion to its weight."""
    indices = [index for index, (weight, _) in enumerate(options) for _ in range(weight)]
    return st.sampled_from(indices).flatmap(lambda index: options[index][1])


KEY_ALPHABET: Final = string.ascii_letters + string.digits + "._~-"
#: Every kind of trouble a key may hold: separators, quotes, escapes, controls, non-ASCII
#: (two-, three- and four-byte UTF-8, combining, invisible, case-changing, fullwidth).
ODD_CHARACTERS: Final = (
    "/.~'\"\\ %+:$(){}[]#?*&"
    "\x00\t\n\r\x1b\x7f\x85\x9b\xa0\xe4\xe9\xff\u0130\u017f\u0301\u200b\u2028\u202e\u212a"
    "\uff0e\ufeff\U0001f3b5\U0010ffff"
)
#: Any character UTF-8 can encode (a lone surrogate is no text: Python fails to encode it,
#: and so does the service's $encodeUrlComponent).
characters = weighted(
    (3, st.sampled_from(KEY_ALPHABET)),
    (2, st.sampled_from(ODD_CHARACTERS)),
    (1, st.characters(codec="utf-8")),
)
#: Strings from those characters (what a forged event may carry anywhere).
texts = st.text(alphabet=characters, max_size=12)
good_parts = st.text(alphabet=KEY_ALPHABET, min_size=1, max_size=12)
#: One character many times: segments near 255 characters and keys near 512 bytes.
runs = st.builds(
    lambda char, size: char * size,
    st.sampled_from(["a", "\u00e9", "\u20ac", "\U0001f3b5", "."]),
    st.sampled_from([1, 2, 100, 127, 128, 170, 250, 254, 255, 255, 256, 256, 300]),
)
segments = weighted(
    (8, good_parts),
    (1, texts),
    (1, st.sampled_from(["", ".", "..", "...", "a..b", "%2e%2e", "\uff0e\uff0e", "~"])),
    (1, runs),
)
suffixes = weighted(
    (6, st.sampled_from(keys.IMAGE_SUFFIXES).flatmap(lambda s: st.sampled_from([s, s.upper()]))),
    (1, st.sampled_from([".Jpeg", ".gif", ".jpg ", ".jpgx", ".jpg.", "", "/", ".jpg/", "jpg"])),
)


valid_keys = st.builds(
    lambda folders, stem, suffix: "uploads/" + "".join(f"{f}/" for f in folders) + stem + suffix,
    st.lists(good_parts.filter(lambda part: part not in (".", "..")), max_size=3),
    good_parts,
    st.sampled_from(keys.IMAGE_SUFFIXES).flatmap(lambda s: st.sampled_from([s, s.upper()])),
)


@st.composite
def generated_keys(draw: st.DrawFn) -> str:
    """Keys near every rule: prefixes, segments, suffixes, and lengths near both limits."""
    prefix: str = draw(
        weighted(
            (8, st.just("uploads/")),
            (1, st.sampled_from(["", "Uploads/", "/uploads/", "uploads", "upl\u043eads/"])),
        )
    )
    folders: list[str] = draw(st.lists(segments, max_size=3))
    stem: str = draw(weighted((8, good_parts), (1, texts), (1, runs), (1, st.just(""))))
    suffix: str = draw(suffixes)
    return prefix + "".join(f"{folder}/" for folder in folders) + stem + suffix


#: Numbers JSONata and Python print alike: no integral floats (JSONata has one number type,
#: so 2.0 is the integer 2 there and a float in Python) and at most 15 digits (jsonata-python
#: prints 10**15 as 1e+15).
numbers = st.integers(min_value=-(10**15) + 1, max_value=10**15 - 1) | st.integers(
    min_value=-(10**6), max_value=10**6
).map(lambda n: n + 0.25 if n % 2 else n - 0.5)
json_values = st.recursive(
    st.none() | st.booleans() | numbers | texts,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(texts, children, max_size=3),
    max_leaves=6,
)
#: A field left out of the event.
ABSENT: Final = object()


def field_values(
    good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any], *, good_weight: int = 6
) -> st.SearchStrategy[Any]:
    """Mostly a good value; sometimes a bad one, no field at all, or any JSON value."""
    return weighted((good_weight, good), (2, bad), (1, st.just(ABSENT)), (1, json_values))


version_ids = field_values(
    st.text(alphabet=string.ascii_letters + string.digits + "._+/=-", min_size=1, max_size=40),
    st.sampled_from(["", "v" * 1024, "v" * 1025, "has space", "v1;", "\u00e9", "v\n"]) | texts,
)
etag_cores = st.text(alphabet="0123456789abcdefABCDEF-", min_size=1, max_size=66)
etags = field_values(
    etag_cores.flatmap(lambda core: st.sampled_from([core, f'"{core}"', f'"{core}', f'{core}"'])),
    st.sampled_from(['"', '""', '""a', 'a""', '"a"b"', "a b", "a\n", '"a"\n', "\u00e9"]) | texts,
)
sizes = field_values(
    st.integers(min_value=0, max_value=2**53),
    st.sampled_from([-1, -(2**40), 10.5, -0.5, True, False, "12", [1]]),
)
bucket_names = weighted(
    (6, st.just(BUCKET)),
    (1, st.sampled_from(["attacker-bucket", "Album-Uploads-Local", BUCKET + " ", "a" * 70])),
    (1, texts | st.text(alphabet=characters, min_size=60, max_size=70)),
)


@st.composite
def generated_events(draw: st.DrawFn) -> Any:
    """Upload events with fields missing, mistyped or malformed, or all well-formed."""
    if draw(weighted((30, st.just(False)), (1, st.just(True)))):
        return draw(json_values)
    key = draw(weighted((6, valid_keys), (3, generated_keys()), (1, json_values)))
    event = s3_event("generated", key)
    changes: dict[str, Any] = {
        "source": draw(
            field_values(st.just("aws.s3"), st.sampled_from(["aws.ec2", "AWS.S3"]), good_weight=40)
        ),
        "detail-type": draw(
            field_values(
                st.just("Object Created"), st.sampled_from(["Object Deleted", ""]), good_weight=40
            )
        ),
        "detail.bucket.name": draw(field_values(bucket_names, json_values, good_weight=40)),
        "detail.object.version-id": draw(version_ids),
        "detail.object.etag": draw(etags),
        "detail.object.size": draw(sizes),
    }
    event = patched(
        event,
        {
            "set": {path: value for path, value in changes.items() if value is not ABSENT},
            "unset": [path for path, value in changes.items() if value is ABSENT],
        },
    )
    # Rarely a whole part of the event is missing or of the wrong kind.
    broken = draw(
        weighted(
            (12, st.just(None)),
            (1, st.sampled_from(["detail", "detail.bucket", "detail.object", "detail.object.key"])),
        )
    )
    if broken is not None:
        replaced = draw(field_values(st.just(ABSENT), json_values))
        if replaced is ABSENT:
            event = patched(event, {"unset": [broken]})
        else:
            event = patched(event, {"set": {broken: replaced}})
    return event


@settings(max_examples=80)
@given(key=generated_keys())
def test_generated_keys_get_pythons_verdict(key: str) -> None:
    assert_agrees(s3_event("generated", key))


@settings(max_examples=30)
@given(key=json_values)
def test_keys_of_any_json_type_get_pythons_verdict(key: Any) -> None:
    assert_agrees(s3_event("generated", key))


@settings(max_examples=100)
@given(event=generated_events())
def test_generated_events_get_pythons_verdict(event: Any) -> None:
    assert_agrees(event)


#: Execution names: what Step Functions allows and more, but never ':' or '/' (the name is
#: the ARN's last ':' field, and Step Functions refuses both in names).
name_characters = st.sampled_from(string.ascii_letters + string.digits + "_-") | st.characters(
    codec="utf-8", blacklist_characters=":/"
)


@settings(max_examples=60)
@given(
    name=st.text(alphabet=name_characters, min_size=1, max_size=130)
    | st.text(alphabet=string.ascii_letters + string.digits + "_-", min_size=110, max_size=130)
)
def test_the_execution_id_is_pythons_for_any_execution_name(name: str) -> None:
    # Every rule assigns the execution id (a Choice's own Assign is not applied when a rule
    # matches): the rejected paths need it as much as the accepted one.
    states = {"input": {}, "context": context(name)}
    expected = keys.execution_id_for(WorkflowType.STEP_FUNCTIONS, execution_arn(name))
    for choice in STATE["Choices"]:
        assert value_of(choice["Assign"]["executionId"], states) == expected
