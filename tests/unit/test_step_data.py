"""The step data contract (``albums.step_data``): its schemas, the fixtures, the breakages.

The schemas must accept what the code and the tests' own fixtures write for each shape,
and refuse the usual ways such data goes wrong: a null where a field should be left out,
an extra key, a wrong type, a wrong count. The runs of both patterns are checked against
the same schemas in their own tests (``tests/step_data_support.py``).
"""

from __future__ import annotations

import ast
import copy
import inspect
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from albums import step_data
from albums.domain.errors import InvalidS3KeyError
from albums.domain.keys import UploadRef, execution_id_for, validate_s3_key
from albums.domain.models import (
    AlbumCorrection,
    ExecutionStatus,
    WorkflowType,
    apply_corrections,
    keep_original,
)
from albums.domain.pricing import DeterministicPriceEstimator
from albums.workflow import AcceptOutcome, AcceptStatus, ValidationDecision
from orchestrator import flow
from price_estimator import handler as price_estimator
from tests.corpus_harness import CORPUS_DIR, load_family
from tests.durable_harness import ALBUMS as DURABLE_VISION_ALBUMS
from tests.property.strategies import KEY_ALPHABET, album_sets, valid_keys
from tests.step_data_support import problems, shape_name
from tests.table import sample_albums, sample_upload, uploads

SF = WorkflowType.STEP_FUNCTIONS
LDF = WorkflowType.DURABLE_FUNCTIONS
ARN = "arn:aws:states:us-east-1:123456789012:execution:album-registration:run-1"
SF_ID = execution_id_for(SF, ARN)
LDF_ID = execution_id_for(LDF, "arn:aws:lambda:us-east-1:1:function:f/durable-execution/run-1/x")
ESTIMATOR = DeterministicPriceEstimator()


def accepts(schema: dict[str, Any], instance: object) -> None:
    found = problems(schema, instance)
    assert not found, "\n".join(found)


def refuses(schema: dict[str, Any], instance: object) -> None:
    assert problems(schema, instance), f"{shape_name(schema)} accepted {instance!r}"


# --- the fixtures of each shape ------------------------------------------------------------


def albums() -> list[dict[str, Any]]:
    return [album.to_dict() for album in sample_albums()]


def validated(timed_out: bool = False) -> list[dict[str, Any]]:
    if timed_out:
        return [flow._validated_to_dict(v) for v in keep_original(sample_albums())]
    fixes = [AlbumCorrection(1, 1960, album_name="Kind of Blue (Legacy)"), AlbumCorrection(4, 1983)]
    return [flow._validated_to_dict(v) for v in apply_corrections(sample_albums(), fixes)]


def prices(failed: int | None = None) -> list[dict[str, Any]]:
    return [
        {"albumIndex": a.index, "error": "PriceEstimationError", "errorMessage": "no price"}
        if a.index == failed
        else {"albumIndex": a.index, "estimate": ESTIMATOR.estimate(a).to_dict()}
        for a in sample_albums()
    ]


def upload() -> dict[str, Any]:
    return sample_upload().to_dict()


def decision() -> dict[str, Any]:
    return ValidationDecision(
        (AlbumCorrection(1, 1960, album_name="Kind of Blue"), AlbumCorrection(4, 1983))
    ).to_dict()


def outcomes() -> dict[str, dict[str, Any]]:
    """Every path's outcome, as orchestrator.flow's ``_outcome`` builds it."""
    rejected = AcceptOutcome(AcceptStatus.REJECTED, LDF_ID, reason="InvalidS3KeyError: bad")
    duplicate = AcceptOutcome(
        AcceptStatus.DUPLICATE, LDF_ID, upload=sample_upload(), duplicate_of=LDF_ID
    )
    return {
        "completed": flow._outcome(
            LDF_ID, ExecutionStatus.COMPLETED, albums=validated(), prices=prices()
        ),
        "completed_with_errors": flow._outcome(
            LDF_ID,
            ExecutionStatus.COMPLETED_WITH_ERRORS,
            albums=validated(timed_out=True),
            prices=prices(failed=3),
            timed_out=True,
        ),
        "upload_rejected": flow._outcome(LDF_ID, "rejected", accept=rejected.to_dict()),
        "duplicate": flow._outcome(LDF_ID, "duplicate", accept=duplicate.to_dict()),
        "reviewer_rejected": flow._outcome(LDF_ID, ExecutionStatus.REJECTED, albums=albums()),
    }


def fixtures() -> list[tuple[dict[str, Any], Any]]:
    submissions = json.loads((CORPUS_DIR / "submissions.json").read_text(encoding="utf-8"))
    indexed_vision_albums = [{"albumIndex": i, **a} for i, a in enumerate(DURABLE_VISION_ALBUMS, 1)]
    upload_ref = sample_upload()
    return [
        (step_data.UPLOAD, upload()),
        (step_data.UPLOAD, UploadRef("album-uploads", "uploads/a.JPEG", version_id="v1").to_dict()),
        (step_data.ALBUMS, albums()),
        (step_data.ALBUMS, indexed_vision_albums),
        (step_data.ALBUMS, submissions["baseAlbums"]),
        (step_data.VALIDATED_ALBUMS, validated()),
        (step_data.VALIDATED_ALBUMS, validated(timed_out=True)),
        (step_data.DECISION, decision()),
        (step_data.DECISION, ValidationDecision().to_dict()),
        (step_data.DECISION, ValidationDecision((), answer_stored=True).to_dict()),
        *[(step_data.PRICE_ESTIMATE, p["estimate"]) for p in prices()],
        *[(step_data.PRICE_RESULT, p) for p in prices(failed=2)],
        (step_data.PRICE_RESULTS, prices()),
        (step_data.PRICE_RESULTS, prices(failed=6)),
        (step_data.COMPLETION_STATUS, "completed"),
        (step_data.COMPLETION_STATUS, "completed_with_errors"),
        (
            step_data.ACCEPT_OUTCOME,
            AcceptOutcome(AcceptStatus.ACCEPTED, SF_ID, upload_ref).to_dict(),
        ),
        (
            step_data.ACCEPT_OUTCOME,
            AcceptOutcome(AcceptStatus.DUPLICATE, SF_ID, upload_ref, duplicate_of=SF_ID).to_dict(),
        ),
        (
            step_data.ACCEPT_OUTCOME,
            AcceptOutcome(
                AcceptStatus.REJECTED, SF_ID, reason="InvalidUploadEventError: x"
            ).to_dict(),
        ),
        *[(step_data.OUTCOME, outcome) for outcome in outcomes().values()],
        (step_data.IMAGE_PROCESSOR_PAYLOAD, {"executionArn": ARN, "upload": upload()}),
        (step_data.IMAGE_PROCESSOR_RESULT, {"albums": albums(), "modelId": "local-stand-in"}),
        (
            step_data.VALIDATION_NOTIFIER_PAYLOAD,
            {
                "taskToken": "token-1",
                "executionArn": ARN,
                "uploadId": upload_ref.upload_id,
                "albums": albums(),
                "timeoutSeconds": 3600,
            },
        ),
        (
            step_data.VALIDATION_NOTIFIER_RESULT,
            {"taskId": "sf-4ceb5c460c41aa9c00c72bf7", "expiresAt": "2026-12-04T19:11:38.008Z"},
        ),
        *[
            (step_data.PRICE_ESTIMATOR_PAYLOAD, {"executionArn": ARN, "album": album})
            for album in validated()
        ],
        *[
            (
                step_data.PRICE_ESTIMATOR_RESULT,
                price_estimator.estimate({"executionArn": ARN, "album": album}, ESTIMATOR),
            )
            for album in validated()
        ],
    ]


@pytest.mark.parametrize(
    ("schema", "instance"),
    [pytest.param(s, i, id=f"{shape_name(s)}-{n}") for n, (s, i) in enumerate(fixtures())],
)
def test_the_schemas_accept_the_fixtures(schema: dict[str, Any], instance: Any) -> None:
    accepts(schema, instance)


def test_every_shape_has_a_fixture() -> None:
    assert {shape_name(schema) for schema, _ in fixtures()} == set(step_data.SHAPES)


# --- the usual breakages -------------------------------------------------------------------

_DELETE = object()


def changed(instance: Any, path: str, value: object = _DELETE) -> Any:
    """A copy of ``instance`` with the dotted ``path`` set to ``value`` (default: removed)."""
    copied = copy.deepcopy(instance)
    *parents, last = [int(part) if part.isdigit() else part for part in path.split(".")]
    target = copied
    for part in parents:
        target = target[part]
    if value is _DELETE:
        del target[last]
    else:
        target[last] = value
    assert copied != instance, f"changing {path} changed nothing"
    return copied


def notifier_payload() -> dict[str, Any]:
    return {
        "taskToken": "token-1",
        "executionArn": ARN,
        "uploadId": sample_upload().upload_id,
        "albums": albums(),
        "timeoutSeconds": 60,
    }


OUTCOMES = outcomes()
PRICED, FAILED = prices()[0], prices(failed=1)[0]
ACCEPTED = AcceptOutcome(AcceptStatus.ACCEPTED, SF_ID, sample_upload()).to_dict()

BREAKAGES: list[tuple[str, dict[str, Any], Any]] = [
    # A null where the field should be left out.
    ("null versionId", step_data.UPLOAD, changed(upload(), "versionId", None)),
    ("null size", step_data.UPLOAD, changed(upload(), "size", None)),
    ("null correction name", step_data.DECISION, changed(decision(), "corrections.1.artist", None)),
    ("null answerStored", step_data.DECISION, {**decision(), "answerStored": None}),
    ("null estimate", step_data.PRICE_RESULT, changed(PRICED, "estimate", None)),
    ("null albums", step_data.OUTCOME, changed(OUTCOMES["reviewer_rejected"], "albums", None)),
    # An extra key.
    ("extra key: upload", step_data.UPLOAD, {**upload(), "bucketArn": "arn:aws:s3:::b"}),
    ("extra key: album", step_data.ALBUMS, changed(albums(), "0.index", 1)),
    ("extra key: decision", step_data.DECISION, {**decision(), "taskId": "sf-1"}),
    ("estimate and error", step_data.PRICE_RESULT, {**PRICED, "error": "E", "errorMessage": ""}),
    ("extra key: outcome", step_data.OUTCOME, {**OUTCOMES["completed"], "modelId": "m"}),
    ("prices of a rejection", step_data.OUTCOME, {**OUTCOMES["reviewer_rejected"], "prices": []}),
    ("reason of a duplicate", step_data.OUTCOME, changed(OUTCOMES["duplicate"], "reason", "x")),
    (
        "extra key: price payload",
        step_data.PRICE_ESTIMATOR_PAYLOAD,
        {"executionArn": ARN, "album": validated()[0], "index": 0},
    ),
    # A wrong type.
    ("year as text", step_data.ALBUMS, changed(albums(), "2.year", "1977")),
    (
        "yearOriginal a boolean",
        step_data.VALIDATED_ALBUMS,
        changed(validated(), "0.yearOriginal", True),
    ),
    (
        "yearValidated as text",
        step_data.VALIDATED_ALBUMS,
        changed(validated(), "0.yearValidated", "true"),
    ),
    ("albumIndex as text", step_data.ALBUMS, changed(albums(), "0.albumIndex", "1")),
    (
        "price as text",
        step_data.PRICE_ESTIMATE,
        changed(PRICED["estimate"], "priceEstimate", "42.66"),
    ),
    ("size a boolean", step_data.UPLOAD, changed(upload(), "size", True)),
    ("size a float", step_data.UPLOAD, changed(upload(), "size", 12.5)),
    (
        "timedOut as text",
        step_data.OUTCOME,
        changed(OUTCOMES["completed"], "validationTimedOut", "false"),
    ),
    ("status a list", step_data.COMPLETION_STATUS, ["completed"]),
    (
        "timeout as text",
        step_data.VALIDATION_NOTIFIER_PAYLOAD,
        changed(notifier_payload(), "timeoutSeconds", "60"),
    ),
    ("corrections an object", step_data.DECISION, {"corrections": {"albumIndex": 1, "year": 1960}}),
    # A missing key.
    ("no uploadId", step_data.UPLOAD, changed(upload(), "uploadId")),
    ("neither versionId nor etag", step_data.UPLOAD, changed(upload(), "etag")),
    ("no corrections", step_data.DECISION, changed(decision(), "corrections")),
    ("no correction year", step_data.DECISION, changed(decision(), "corrections.0.year")),
    ("no currency", step_data.PRICE_ESTIMATE, changed(PRICED["estimate"], "currency")),
    ("no errorMessage", step_data.PRICE_RESULT, changed(FAILED, "errorMessage")),
    (
        "no validationTimedOut",
        step_data.OUTCOME,
        changed(OUTCOMES["completed"], "validationTimedOut"),
    ),
    ("no duplicateOf", step_data.OUTCOME, changed(OUTCOMES["upload_rejected"], "duplicateOf")),
    (
        "no taskToken",
        step_data.VALIDATION_NOTIFIER_PAYLOAD,
        changed(notifier_payload(), "taskToken"),
    ),
    ("no accept reason key", step_data.ACCEPT_OUTCOME, changed(ACCEPTED, "reason")),
    # The wrong number or order of albums.
    ("five albums", step_data.ALBUMS, albums()[:5]),
    ("seven albums", step_data.ALBUMS, [*albums(), albums()[0]]),
    ("albums out of order", step_data.ALBUMS, albums()[::-1]),
    ("five prices", step_data.PRICE_RESULTS, prices()[1:]),
    (
        "an album corrected twice",
        step_data.DECISION,
        changed(decision(), "corrections.1.albumIndex", 1),
    ),
    # Values the code refuses.
    ("untrimmed name", step_data.ALBUMS, changed(albums(), "0.albumName", " Kind of Blue")),
    ("trailing newline in a name", step_data.ALBUMS, changed(albums(), "0.albumName", "Blue\n")),
    ("C1 control character", step_data.ALBUMS, changed(albums(), "0.artist", "Miles\x85Davis")),
    ("empty name", step_data.ALBUMS, changed(albums(), "0.artist", "")),
    ("a year before 1900", step_data.ALBUMS, changed(albums(), "0.year", 1899)),
    ("albumIndex 7", step_data.DECISION, changed(decision(), "corrections.0.albumIndex", 7)),
    ("uploadId with a newline", step_data.UPLOAD, changed(upload(), "uploadId", "0" * 32 + "\n")),
    ("key outside uploads/", step_data.UPLOAD, changed(upload(), "key", "secrets/a.jpg")),
    ("quoted etag", step_data.UPLOAD, changed(upload(), "etag", '"abc"')),
    (
        "confidence over 1",
        step_data.PRICE_ESTIMATE,
        changed(PRICED["estimate"], "priceConfidence", 1.5),
    ),
    ("negative price", step_data.PRICE_ESTIMATE, changed(PRICED["estimate"], "priceEstimate", -1)),
    (
        "lower-case currency",
        step_data.PRICE_ESTIMATE,
        changed(PRICED["estimate"], "currency", "usd"),
    ),
    ("message over 1000", step_data.PRICE_RESULT, changed(FAILED, "errorMessage", "x" * 1001)),
    ("empty error name", step_data.PRICE_RESULT, changed(FAILED, "error", "")),
    ("an unknown status", step_data.COMPLETION_STATUS, "failed"),
    (
        "not an execution ARN",
        step_data.IMAGE_PROCESSOR_PAYLOAD,
        {"executionArn": "run-1", "upload": upload()},
    ),
    (
        "a zero timeout",
        step_data.VALIDATION_NOTIFIER_PAYLOAD,
        changed(notifier_payload(), "timeoutSeconds", 0),
    ),
    # The outcome's parts disagree.
    (
        "completed, a price failed",
        step_data.OUTCOME,
        changed(OUTCOMES["completed"], "prices", prices(failed=2)),
    ),
    (
        "with errors, all priced",
        step_data.OUTCOME,
        changed(OUTCOMES["completed_with_errors"], "prices", prices()),
    ),
    (
        "timed out but validated",
        step_data.OUTCOME,
        changed(OUTCOMES["completed"], "validationTimedOut", True),
    ),
    (
        "answered, not validated",
        step_data.OUTCOME,
        changed(OUTCOMES["completed"], "albums", validated(True)),
    ),
    (
        "the other pattern's id",
        step_data.OUTCOME,
        changed(OUTCOMES["completed"], "executionId", SF_ID),
    ),
    (
        "the other pattern's holder",
        step_data.OUTCOME,
        changed(OUTCOMES["duplicate"], "duplicateOf", SF_ID),
    ),
    (
        "rejected without a reason",
        step_data.OUTCOME,
        changed(OUTCOMES["upload_rejected"], "reason", None),
    ),
    (
        "a reason of no rule",
        step_data.OUTCOME,
        changed(OUTCOMES["upload_rejected"], "reason", "no"),
    ),
    (
        "rejected, validated albums",
        step_data.OUTCOME,
        changed(OUTCOMES["reviewer_rejected"], "albums", validated()),
    ),
    ("accepted without its upload", step_data.ACCEPT_OUTCOME, changed(ACCEPTED, "upload", None)),
    ("accepted with a reason", step_data.ACCEPT_OUTCOME, changed(ACCEPTED, "reason", "x")),
]


@pytest.mark.parametrize(
    ("schema", "instance"),
    [pytest.param(schema, instance, id=why) for why, schema, instance in BREAKAGES],
)
def test_the_schemas_refuse_typical_breakages(schema: dict[str, Any], instance: Any) -> None:
    refuses(schema, instance)


def test_the_breakages_are_named_once() -> None:
    names = [why for why, _, _ in BREAKAGES]
    assert len(names) == len(set(names))


# --- the upload key: the schema's rules are validate_s3_key's -------------------------------


def key_is_valid(key: str) -> bool:
    try:
        validate_s3_key(key)
    except InvalidS3KeyError:
        return False
    return True


def with_key(key: object) -> dict[str, Any]:
    return {**upload(), "key": key}


@pytest.mark.parametrize("case", load_family("s3_keys"), ids=str)
def test_the_upload_schema_refuses_every_corpus_key(case: Any) -> None:
    refuses(step_data.UPLOAD, with_key(case.data["key"]))


@settings(max_examples=200)
@given(
    st.one_of(
        valid_keys(),
        st.text(alphabet=KEY_ALPHABET + "/.é\n%", max_size=30).map(lambda t: "uploads/" + t),
        st.builds(
            lambda stem, suffix: f"uploads/{stem}{suffix}",
            st.text(alphabet=KEY_ALPHABET + "/", max_size=12),
            st.sampled_from([".jpg", ".JpEg", ".png", ".webp", ".gif", ".jpg/", ".jpg\n"]),
        ),
    )
)
def test_the_upload_key_rule_is_validate_s3_key(key: str) -> None:
    assert (not problems(step_data.UPLOAD, with_key(key))) is key_is_valid(key), key


@settings(max_examples=50)
@given(uploads())
def test_every_upload_ref_is_an_upload(ref: UploadRef) -> None:
    accepts(step_data.UPLOAD, ref.to_dict())


@settings(max_examples=50)
@given(album_sets())
def test_every_album_set_is_albums(albums_: Any) -> None:
    accepts(step_data.ALBUMS, [album.to_dict() for album in albums_])


# --- the module ------------------------------------------------------------------------------


def test_every_shape_is_a_draft_2020_12_schema_with_its_own_id() -> None:
    for name, schema in step_data.SHAPES.items():
        Draft202012Validator.check_schema(schema)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert schema["$id"] == f"{step_data.ID_PREFIX}{name}"
        assert schema["title"]
        # Self-contained: nothing to resolve, and plain JSON (what another tool would read).
        assert "$ref" not in json.dumps(schema)
        assert json.loads(json.dumps(schema)) == schema


def test_every_shape_constant_is_listed_and_has_a_docstring() -> None:
    tree = ast.parse(inspect.getsource(step_data))
    documented: dict[str, bool] = {}
    body = tree.body
    for statement, following in zip(body, [*body[1:], None], strict=True):
        if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
            value = getattr(statement.value, "func", None)
            if isinstance(value, ast.Name) and value.id == "_shape":
                documented[statement.target.id] = (
                    isinstance(following, ast.Expr)
                    and isinstance(following.value, ast.Constant)
                    and isinstance(following.value.value, str)
                )
    assert documented, "no shapes found"
    assert all(documented.values()), [name for name, ok in documented.items() if not ok]
    listed = {id(schema) for schema in step_data.SHAPES.values()}
    assert {id(getattr(step_data, name)) for name in documented} == listed


def test_the_layer_module_needs_nothing_outside_the_standard_library_and_albums() -> None:
    tree = ast.parse(Path(step_data.__file__).read_text(encoding="utf-8"))
    imported = {
        (node.module or "") if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    outside = {
        m
        for m in imported
        if m.split(".")[0] not in {"__future__", "albums", "collections", "json", "types", "typing"}
    }
    assert not outside


def test_each_price_result_is_what_the_store_step_reads() -> None:
    """The durable store step reads price results back: the schema's two forms are its two."""
    results = flow._price_results(prices(failed=4))
    assert [r.status.value for r in results] == ["priced"] * 3 + ["failed"] + ["priced"] * 2
    accepts(step_data.PRICE_RESULTS, prices(failed=4))


def test_the_space_class_is_what_str_strip_removes() -> None:
    pattern = re.compile(step_data.SPACE_CLASS)
    spaces = {chr(code) for code in range(sys.maxunicode + 1) if chr(code).isspace()}
    assert {ch for ch in map(chr, range(sys.maxunicode + 1)) if pattern.fullmatch(ch)} == spaces
