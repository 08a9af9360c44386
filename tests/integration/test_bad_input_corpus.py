"""The bad-input corpus against the real entry points, in local mode (issue 8, item 4).

One local stack runs both patterns: the real ASL in moto with the real Lambda handlers,
and the real durable orchestrator under the SDK's testing runner. Each family of
``tests/corpus/`` is launched at once (every case concurrently, as a burst of uploads
would arrive), then every case is checked on its own: the typed error it must end with,
in both patterns, and that it left no partial write.

- S3 keys and malformed upload events go through the upload rule (or, when the rule
  drops them, straight to both targets): both executions end ``rejected`` with the
  expected error, and the table is exactly as before the family ran.
- Status-change events go to the ``execution_recorder`` Lambda: it raises the expected
  error and the table is unchanged.
- Vision outputs are the stand-in model's answer to a photo uploaded for the case: both
  executions fail at ``ProcessImage`` with the expected error after one model call each,
  with a ``failed`` record and no album or task. Control cases (hostile but valid text)
  must be stored verbatim and wait for their reviewer.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from albums.domain import keys
from albums.domain.models import ExecutionStatus, WorkflowType
from execution_recorder.handler import handler as record_ended_execution
from localmode.durable import LocalDurable
from localmode.stack import LocalStack, object_created_event
from localmode.stepfunctions import StepFunctionsPattern
from tests.corpus_harness import Case, load_family, patched
from tests.durable_harness import image
from tests.table import scan_all

pytestmark = pytest.mark.integration

SF = WorkflowType.STEP_FUNCTIONS
LDF = WorkflowType.DURABLE_FUNCTIONS
#: Seconds one family may take to end in both patterns on a loaded 2-core machine.
FAMILY_TIMEOUT = 120

KEY_CASES = load_family("s3_keys")
EVENT_CASES = load_family("events")
UPLOAD_EVENT_CASES = [case for case in EVENT_CASES if case.entry == "upload-target"]
RECORDER_CASES = [case for case in EVENT_CASES if case.entry == "execution-recorder"]
VISION_CASES = load_family("vision_outputs")


@dataclass
class Local:
    """The running stack and both patterns."""

    stack: LocalStack
    step_functions: StepFunctionsPattern
    durable: LocalDurable

    def snapshot(self) -> list[dict[str, Any]]:
        """Every item of the table, sorted by key."""
        return scan_all(self.stack.dynamodb, self.stack.table_name)


@pytest.fixture(scope="module")
def local() -> Iterator[Local]:
    with (
        LocalStack(validation_timeout_seconds=300) as stack,
        StepFunctionsPattern(stack, record_on_end=False) as step_functions,
        LocalDurable(stack, metrics_stream=io.StringIO()) as durable,
    ):
        yield Local(stack, step_functions, durable)


# --- upload targets: keys and malformed events ---------------------------------------------


@dataclass
class Rejection:
    """What both patterns did with one hostile upload event."""

    delivered_by_rule: bool
    sf_arn: str
    ldf_arn: str
    sf: dict[str, Any] = field(default_factory=dict)
    ldf: dict[str, Any] = field(default_factory=dict)


@dataclass
class FamilyRun:
    """Every case's outcome, and the table before and after the whole family."""

    outcomes: dict[str, Any]
    before: list[dict[str, Any]]
    after: list[dict[str, Any]]
    vision_calls: int


def version_id(case: Case) -> str:
    """A version id as S3 hands them out, unique per case."""
    return hashlib.sha256(case.id.encode()).hexdigest()[:32]


def s3_event(local: Local, case: Case, key: Any) -> dict[str, Any]:
    """The "Object Created" event S3 would send for ``key``, unique per case."""
    return object_created_event(
        bucket=local.stack.bucket,
        key=key,
        size=2048,
        etag=hashlib.md5(case.id.encode(), usedforsecurity=False).hexdigest(),
        version_id=version_id(case),
    )


def key_event(local: Local, case: Case) -> dict[str, Any]:
    return s3_event(local, case, case.data["key"])


def upload_event(local: Local, case: Case) -> Any:
    if "event" in case.data:
        return case.data["event"]
    return patched(s3_event(local, case, f"uploads/corpus/{case.id}.jpg"), case.data["patch"])


def run_rejections(
    local: Local, cases: list[Case], event_of: Callable[[Local, Case], Any]
) -> FamilyRun:
    """Send every case's event to both patterns at once; wait for every execution."""
    before = local.snapshot()
    calls = local.stack.vision.calls
    outcomes: dict[str, Rejection] = {}
    for case in cases:
        event = event_of(local, case)
        delivered = bool(local.stack.deliver(event))
        if not delivered:
            # What a target does with an event sent to it directly (StartExecution, Invoke).
            local.step_functions.start(event)
            local.durable.start(event)
        outcomes[case.id] = Rejection(
            delivered, local.step_functions.started[-1], local.durable.started[-1]
        )
    for outcome in outcomes.values():
        described = local.step_functions.wait_for_end(outcome.sf_arn, timeout=FAMILY_TIMEOUT)
        outcome.sf = {"ended": described["status"], **json.loads(described.get("output", "{}"))}
        run = local.durable.wait(outcome.ldf_arn, timeout=FAMILY_TIMEOUT, record=False)
        outcome.ldf = {"ended": run.status, **(run.result or {})}
    return FamilyRun(outcomes, before, local.snapshot(), local.stack.vision.calls - calls)


@pytest.fixture(scope="module")
def key_run(local: Local) -> FamilyRun:
    return run_rejections(local, KEY_CASES, key_event)


@pytest.fixture(scope="module")
def event_run(local: Local) -> FamilyRun:
    return run_rejections(local, UPLOAD_EVENT_CASES, upload_event)


def assert_rejected(case: Case, outcome: Rejection) -> None:
    if "rule" in case.data:
        assert outcome.delivered_by_rule is (case.data["rule"] == "delivers"), "upload rule"
    for name, result in (("step-functions", outcome.sf), ("durable-functions", outcome.ldf)):
        assert (result["ended"], result["status"]) == ("SUCCEEDED", "rejected"), (name, result)
        assert result["reason"].startswith(f"{case.error}: "), (name, result["reason"])
    # One outcome shape and one reason: the state machine's rules table is Python's.
    assert sorted(outcome.sf) == sorted(outcome.ldf)
    assert outcome.sf["reason"] == outcome.ldf["reason"]
    assert outcome.sf["duplicateOf"] is None


@pytest.mark.parametrize("case", KEY_CASES, ids=str)
def test_a_hostile_key_is_rejected_by_both_patterns(case: Case, key_run: FamilyRun) -> None:
    assert_rejected(case, key_run.outcomes[case.id])


@pytest.mark.parametrize("case", UPLOAD_EVENT_CASES, ids=str)
def test_a_malformed_upload_event_is_rejected_by_both_patterns(
    case: Case, event_run: FamilyRun
) -> None:
    assert_rejected(case, event_run.outcomes[case.id])


@pytest.mark.parametrize("family", ["key_run", "event_run"])
def test_rejected_uploads_write_nothing_and_call_no_model(
    family: str, request: pytest.FixtureRequest
) -> None:
    run: FamilyRun = request.getfixturevalue(family)
    assert run.after == run.before
    assert run.vision_calls == 0
    assert len(run.outcomes) == len({o.sf_arn for o in run.outcomes.values()})


# --- the execution recorder ------------------------------------------------------------------


@pytest.mark.parametrize("case", RECORDER_CASES, ids=str)
def test_a_malformed_status_change_event_is_refused_by_the_recorder(
    case: Case, local: Local
) -> None:
    before = local.snapshot()
    with pytest.raises(Exception) as raised:  # noqa: PT011 - the type is the case's to name
        record_ended_execution(case.data["event"], None)
    assert type(raised.value).__name__ == case.error, raised.value
    assert local.snapshot() == before


# --- vision outputs --------------------------------------------------------------------------


@dataclass
class PatternEnd:
    """How one pattern's execution of a vision case ended, read once after the family ran."""

    status: ExecutionStatus
    failure: tuple[str, str] | None
    item_sort_keys: list[str]
    task_status: str | None
    albums: list[dict[str, Any]]


@dataclass
class VisionOutcome:
    """What both patterns did with a photo the model answered with the case's reply."""

    photo: bytes
    sf_arn: str
    ldf_arn: str
    sf: dict[str, Any] = field(default_factory=dict)
    ldf_status: str = ""
    model_calls: int = 0
    ends: dict[WorkflowType, PatternEnd] = field(default_factory=dict)


def reply_of(case: Case) -> str | bytes:
    """The stand-in's answer: the model's text, or a whole response body."""
    reply = case.data["reply"]
    if "text" in reply:
        return str(reply["text"])
    if "bodyBase64" in reply:
        return base64.b64decode(reply["bodyBase64"])
    return json.dumps(reply["body"]).encode()


def pattern_end(
    local: Local, items: list[dict[str, Any]], pattern: WorkflowType, arn: str
) -> PatternEnd:
    execution_id = keys.execution_id_for(pattern, arn)
    repository = local.stack.repository(pattern)
    record = repository.get_execution(execution_id)
    pk = keys.execution_pk(pattern, execution_id)
    task_pk = keys.task_pk(pattern, keys.task_id_for(pattern, execution_id))
    tasks = [item for item in items if item["pk"]["S"] == task_pk]
    return PatternEnd(
        status=record.status,
        failure=None if record.failure is None else (record.failure.error, record.failure.step),
        item_sort_keys=[item["sk"]["S"] for item in items if item["pk"]["S"] == pk],
        task_status=tasks[0]["status"]["S"] if tasks else None,
        albums=[
            {"albumName": r.album.album_name, "artist": r.album.artist, "year": r.album.year}
            for r in repository.get_albums(execution_id)
        ],
    )


@pytest.fixture(scope="module")
def vision_run(local: Local) -> dict[str, VisionOutcome]:
    outcomes: dict[str, VisionOutcome] = {}
    for case in VISION_CASES:
        photo = image(f"corpus-{case.id}")
        local.stack.vision.register_reply(photo, reply_of(case))
        hit = local.stack.put_upload(
            f"uploads/corpus/{case.id}.png", photo, content_type="image/png"
        )
        assert hit, case.id
        outcomes[case.id] = VisionOutcome(
            photo, local.step_functions.started[-1], local.durable.started[-1]
        )
    for case in VISION_CASES:
        if case.error is None:
            # Hostile text stored as data: the reviewer rejects it (checked below).
            outcome = outcomes[case.id]
            local.step_functions.reject(outcome.sf_arn, "corpus control", timeout=FAMILY_TIMEOUT)
            callback_id = local.durable.wait_for_task(
                keys.execution_id_for(LDF, outcome.ldf_arn), timeout=FAMILY_TIMEOUT
            )
            local.durable.resumer.fail(callback_id, message="corpus control")
    for outcome in outcomes.values():
        described = local.step_functions.wait_for_end(outcome.sf_arn, timeout=FAMILY_TIMEOUT)
        outcome.sf = {"status": described["status"], "error": described.get("error")}
        outcome.ldf_status = local.durable.wait(
            outcome.ldf_arn, timeout=FAMILY_TIMEOUT, record=False
        ).status
    items = local.snapshot()
    for outcome in outcomes.values():
        outcome.model_calls = local.stack.vision.calls_for(outcome.photo)
        outcome.ends = {
            SF: pattern_end(local, items, SF, outcome.sf_arn),
            LDF: pattern_end(local, items, LDF, outcome.ldf_arn),
        }
    return outcomes


@pytest.mark.parametrize("case", [c for c in VISION_CASES if c.error is not None], ids=str)
def test_an_unusable_model_answer_fails_both_patterns_with_its_error_and_no_albums(
    case: Case, vision_run: dict[str, VisionOutcome]
) -> None:
    outcome = vision_run[case.id]
    assert outcome.sf == {"status": "FAILED", "error": case.error}
    assert outcome.ldf_status == "FAILED"
    # Unusable output is permanent: one model call per pattern, no retries.
    assert outcome.model_calls == 2
    for end in outcome.ends.values():
        assert end.status is ExecutionStatus.FAILED
        assert end.failure == (case.error, "ProcessImage")
        assert end.item_sort_keys == ["meta"]  # the failed record, no album
        assert end.task_status is None


@pytest.mark.parametrize("case", [c for c in VISION_CASES if c.error is None], ids=str)
def test_hostile_but_valid_text_is_stored_verbatim_and_waits_for_review(
    case: Case, vision_run: dict[str, VisionOutcome]
) -> None:
    outcome = vision_run[case.id]
    assert outcome.model_calls == 2
    assert outcome.sf["status"] == "SUCCEEDED"
    for end in outcome.ends.values():
        assert end.albums == case.data["stored"]
        # The reviewer (here: a rejection) decided what happened; nothing in the text did.
        assert end.task_status == "rejected"
        assert end.status is ExecutionStatus.REJECTED
