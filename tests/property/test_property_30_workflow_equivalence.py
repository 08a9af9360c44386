"""**Feature: album-registration-system, Property 30: Workflow Equivalence** — *For any*
image processed by both workflows, the extracted albums and estimated prices should be
equivalent (Validates: Requirements 9.3).

One upload event reaches both patterns (the state machine on moto's ASL interpreter, the
durable handler in the testing runner); the reviewer gives both the same answer: accept as
detected, correct years and names, reject, or let the review time out; the price source
fails the same albums for both, for good or for a few attempts. Then every item each
pattern stored for the upload (the claim, the execution, its six albums, the validation
task) is checked two ways:

1. Round trip: ``parse_item(item).to_item()`` gives the item back exactly: the same
   attributes with the same DynamoDB types (N, BOOL, S, M, L) and equal values. The state
   machine builds its items in JSONata, so this says each one is what
   ``albums.domain.records`` would write; the durable items are the baseline.
2. Across patterns: once what names the pattern or the moment is replaced by a
   placeholder (tenant prefixes, ``workflowType``, execution and task ids, timestamps,
   the TTL and GSI sort keys built from them, the resume token, the run's own billing
   figures), the two patterns' items are equal. What was replaced is checked on its own:
   timestamps are ISO-8601 UTC with milliseconds and ``Z``, ``gsi1sk`` is
   ``createdAt#executionId`` or ``expiresAt#taskId``, ``ttl`` is
   ``retention_ttl(answeredAt or expiresAt)``.

The fixed-example tests (one upload per path) and the hypothesis test run in ``make test``
(10 examples for the latter); ``make test-slow`` runs 100 (``DURABLE_PROPERTY_EXAMPLES``).
"""

from __future__ import annotations

import io
import itertools
import json
import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any, Final, Literal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from albums.domain import keys
from albums.domain.errors import AlbumRegistrationError
from albums.domain.models import Album, AlbumCorrection, WorkflowType
from albums.domain.records import parse_item, parse_timestamp, retention_ttl
from albums.workflow_contract import Step, load_contract
from localmode.durable import LocalDurable
from localmode.pricing import ProgrammablePriceSource
from localmode.stack import ACCOUNT, LocalStack, object_created_event
from localmode.stepfunctions import STATE_MACHINE_NAME, StepFunctionsPattern, render_definition
from orchestrator.config import OrchestratorConfig
from tests.durable_harness import (
    ALBUMS,
    DURABLE_EXAMPLES,
    album_dicts,
    album_sets,
    approve,
    durable_stack,
    image,
    no_answer,
    reject,
)
from tests.property.strategies import album_text, years
from tests.table import on_fresh_stack, scan_items

SF: Final = WorkflowType.STEP_FUNCTIONS
LDF: Final = WorkflowType.DURABLE_FUNCTIONS
#: The review wait of the runs that answer: long enough that no answer comes too late.
REVIEW_SECONDS: Final = 30
#: The review wait of the runs that time out: both patterns wait it out in real time.
SHORT_REVIEW_SECONDS: Final = 2
TIMESTAMP: Final = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
#: Attributes whose values are moments of the run, so differ between any two runs.
MOMENTS: Final = frozenset(
    {
        "claimedAt",
        "createdAt",
        "updatedAt",
        "endedAt",
        "validatedAt",
        "pricedAt",
        "answeredAt",
        "expiresAt",
    }
)
#: The run's own billing figures (records.metrics_fields): each pattern is metered in its
#: own units (state transitions, durable operations), so these differ by design.
METRICS: Final = frozenset(
    {
        "durationMs",
        "transitions",
        "durableOperations",
        "replays",
        "lambdaGbSeconds",
        "costUsd",
        "metricsExtra",
    }
)
#: Attributes that name the pattern's tenant, execution or task (names and artists are left
#: alone: a drawn album name may contain anything).
IDENTIFYING: Final = frozenset({"pk", "gsi1pk", "executionId", "taskId"})


def _price_retries() -> int:
    policy = load_contract().retry_of(Step.ESTIMATE_PRICE)
    assert policy is not None, "the contract retries each album's price"
    return policy.retries


#: Retries of one album's price after its first attempt, the same in both patterns: an
#: album failing more often than that ends failed.
PRICE_RETRIES: Final = _price_retries()
_UPLOADS = itertools.count(1)

Kind = Literal["accept", "correct", "reject", "timeout"]
#: Price faults by album index: ``None`` fails every call, ``n`` fails the first n calls.
Faults = Mapping[int, int | None]
NO_FAULTS: Final[Faults] = {}


@dataclass(frozen=True, slots=True)
class Answer:
    """What the reviewer does, the same in both patterns."""

    kind: Kind
    corrections: tuple[AlbumCorrection, ...] = ()
    reason: str = ""


@dataclass
class Both:
    """Both patterns on one stack, with a second, short review wait for the timeouts."""

    stack: LocalStack
    sf: StepFunctionsPattern
    durable: LocalDurable
    durable_short: LocalDurable
    short_machine_arn: str
    prices: ProgrammablePriceSource


@dataclass(frozen=True, slots=True)
class Stored:
    """Every item one pattern stored for one upload, by role (claim, execution, …)."""

    pattern: WorkflowType
    execution_id: str
    task_id: str
    items: dict[str, dict[str, Any]] = field(repr=False)


@pytest.fixture(scope="module")
def both() -> Iterator[Both]:
    prices = ProgrammablePriceSource()
    with (
        durable_stack(validation_timeout_seconds=REVIEW_SECONDS, price_source=prices) as (
            stack,
            durable,
        ),
        StepFunctionsPattern(stack, prices=prices) as sf,
        # Not entered: the stack's rule target and function are the first runner's; this
        # one is started directly, for the runs whose review times out.
        closing(
            LocalDurable(
                stack,
                price_source=prices,
                config=lambda: OrchestratorConfig.local(SHORT_REVIEW_SECONDS),
                metrics_stream=io.StringIO(),
            )
        ) as durable_short,
    ):
        created = stack.stepfunctions.create_state_machine(
            name=f"{STATE_MACHINE_NAME}-short-review",
            definition=render_definition(
                sf.function_arns,
                timeout_seconds=SHORT_REVIEW_SECONDS,
                table_name=stack.table_name,
                uploads_bucket=stack.bucket,
            ),
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/album-registration-states-local",
            type="STANDARD",
        )
        yield Both(stack, sf, durable, durable_short, str(created["stateMachineArn"]), prices)


# --- running one upload through both patterns ----------------------------------------------


def program(prices: ProgrammablePriceSource, faults: Faults) -> None:
    """Program the same faults afresh for each pattern (transient ones count down)."""
    prices.clear()
    for index, times in faults.items():
        if times is None:
            prices.fail_permanently(index)
        else:
            prices.fail_transiently(index, times)


def run_sf(both: Both, event: dict[str, Any], answer: Answer) -> str:
    sf = both.sf
    machine = both.short_machine_arn if answer.kind == "timeout" else sf.state_machine_arn
    started = both.stack.stepfunctions.start_execution(
        stateMachineArn=machine, name=uuid.uuid4().hex, input=json.dumps(event)
    )
    arn = str(started["executionArn"])
    sf.started.append(arn)  # stopped at teardown if it is still running
    if answer.kind == "reject":
        sf.reject(arn, answer.reason)
    elif answer.kind == "timeout":
        sf.wait_for_validation(arn)
    else:
        sf.approve(arn, answer.corrections)
    described = sf.wait_for_end(arn, timeout=60)
    assert described["status"] == "SUCCEEDED", sf.history(arn)[-3:]
    return sf.execution_id(arn)


def run_durable(both: Both, event: dict[str, Any], answer: Answer) -> str:
    durable = both.durable_short if answer.kind == "timeout" else both.durable
    arn = durable.start(event)
    execution_id = keys.execution_id_for(LDF, arn)
    if answer.kind == "reject":
        reject(answer.reason)(durable, execution_id)
    elif answer.kind == "timeout":
        no_answer(durable, execution_id)
    else:
        approve(answer.corrections)(durable, execution_id)
    run = durable.wait(arn, timeout=60)
    assert run.status == "SUCCEEDED", run.error
    return run.execution_id


def run_both(
    both: Both, albums: Sequence[dict[str, Any]], answer: Answer, faults: Faults = NO_FAULTS
) -> tuple[Stored, Stored]:
    """Run one upload event through each pattern, one after the other; return their items.

    Sequential on purpose: moto's DynamoDB ``TransactWriteItems`` deep-copies every table
    without a lock, so two executions writing at the same moment can fail with
    "dictionary changed size during iteration" (a moto limit, not the patterns'). It also
    lets one programmable price source fail the same albums for both.
    """
    stack = both.stack
    number = next(_UPLOADS)
    photo = image(f"equivalence-{number}")
    stack.vision.register(photo, list(albums))
    key = f"uploads/equivalence-{number}.png"
    put = stack.s3.put_object(Bucket=stack.bucket, Key=key, Body=photo, ContentType="image/png")
    event = object_created_event(
        bucket=stack.bucket,
        key=key,
        size=len(photo),
        etag=str(put["ETag"]).strip('"'),
        version_id=put.get("VersionId"),
    )
    program(both.prices, faults)
    sf_id = run_sf(both, event, answer)
    program(both.prices, faults)
    durable_id = run_durable(both, event, answer)
    both.prices.clear()
    items = scan_items(stack.dynamodb, stack.table_name)
    return stored(items, SF, sf_id), stored(items, LDF, durable_id)


def stored(items: Sequence[dict[str, Any]], pattern: WorkflowType, execution_id: str) -> Stored:
    """Pick one execution's items out of a table scan, and check there are no others."""
    task_id = keys.task_id_for(pattern, execution_id)
    execution_pk = keys.execution_pk(pattern, execution_id)
    roles: dict[tuple[str, str], str] = {
        (execution_pk, keys.EXECUTION_SK): "execution",
        **{(execution_pk, keys.album_sk(index)): f"album#{index}" for index in range(1, 7)},
        (keys.task_pk(pattern, task_id), keys.TASK_SK): "task",
    }
    found: dict[str, dict[str, Any]] = {}
    for item in items:
        role = roles.get((item["pk"], item["sk"]))
        if role is None and item.get("executionId") == execution_id and item["sk"] == "claim":
            role = "claim"
        if role is not None:
            found[role] = item
        else:
            assert item.get("executionId") != execution_id, f"unexpected item {item['pk']}"
    assert set(found) == {*roles.values(), "claim"}, sorted(found)
    claim = found["claim"]
    assert claim["pk"] == keys.claim_pk(pattern, claim["uploadId"])
    return Stored(pattern, execution_id, task_id, found)


# --- the two checks -----------------------------------------------------------------------


def typed(value: Any) -> Any:
    """``value`` with each leaf tagged by its DynamoDB type (True == Decimal(1) otherwise)."""
    if isinstance(value, bool):
        return ("BOOL", value)
    if isinstance(value, Decimal):
        return ("N", value)  # Decimal equality: 44 == 44.00, as DynamoDB stores them
    if isinstance(value, str):
        return ("S", value)
    if isinstance(value, Mapping):
        return ("M", {k: typed(v) for k, v in value.items()})
    if isinstance(value, list):
        return ("L", [typed(v) for v in value])
    return (type(value).__name__, value)


def differences(left: Mapping[str, Any], right: Mapping[str, Any]) -> list[str]:
    """Attribute by attribute, where two items differ (for the assertion message)."""
    found = []
    for name in sorted(set(left) | set(right)):
        a = typed(left[name]) if name in left else "<absent>"
        b = typed(right[name]) if name in right else "<absent>"
        if a != b:
            found.append(f"{name}: {a!r} != {b!r}")
    return found


def check_round_trip(stored: Stored) -> None:
    for role, item in stored.items.items():
        try:
            again = parse_item(item).to_item()
        except AlbumRegistrationError as error:
            pytest.fail(f"{stored.pattern} {role}: parse_item refuses the stored item: {error}")
        wrong = differences(item, again)
        assert not wrong, f"{stored.pattern} {role}: stored != parse_item().to_item(): {wrong}"


def neutral(stored: Stored, role: str) -> dict[str, Any]:
    """The item with what names its pattern or its moment checked, then replaced."""
    item = dict(stored.items[role])
    pattern, tenant = stored.pattern, stored.pattern.tenant
    where = f"{pattern} {role}"
    for name in MOMENTS & set(item):
        assert TIMESTAMP.fullmatch(item[name]), f"{where}: {name} = {item[name]!r}"
        item[name] = "<moment>"
    original = stored.items[role]
    if role == "execution":
        assert original["gsi1pk"] == keys.executions_gsi1pk(pattern), where
        assert original["gsi1sk"] == f"{original['createdAt']}#{stored.execution_id}", where
        assert {"durationMs", "costUsd"} <= set(item), f"{where}: figures not recorded"
        for name in METRICS & set(item):
            del item[name]
    if role == "task":
        assert original["gsi1sk"] == f"{original['expiresAt']}#{stored.task_id}", where
        ttl_base = original.get("answeredAt", original["expiresAt"])
        assert original["ttl"] == retention_ttl(ttl_base), f"{where}: ttl {original['ttl']}"
        assert isinstance(original["resumeToken"], str), where
        assert original["resumeToken"], where
        item["ttl"] = "<ttl>"
        item["resumeToken"] = "<resume token>"
    if "gsi1sk" in item:
        item["gsi1sk"] = "<gsi1sk>"
    assert item["workflowType"] == pattern.value, where
    item["workflowType"] = "<workflowType>"
    for name in IDENTIFYING & set(item):
        item[name] = _placeholders(item[name], stored, tenant)
    return item


def _placeholders(text: str, stored: Stored, tenant: str) -> str:
    text = text.replace(stored.execution_id, "<executionId>").replace(stored.task_id, "<taskId>")
    return f"<tenant>#{text.removeprefix(f'{tenant}#')}" if text.startswith(f"{tenant}#") else text


def check_equivalent(sf: Stored, durable: Stored, timeout_seconds: int) -> None:
    """Both checks on every item of both patterns; the review's expiry on the tasks."""
    check_round_trip(sf)
    check_round_trip(durable)
    for role in sorted(sf.items):
        wrong = differences(neutral(sf, role), neutral(durable, role))
        assert not wrong, f"{role}: step functions != durable: {wrong}"
    for pattern in (sf, durable):
        task = pattern.items["task"]
        waited = parse_timestamp(task["expiresAt"]) - parse_timestamp(task["createdAt"])
        # expiresAt is now + the wait, taken a moment before the task's createdAt.
        assert abs(waited - timedelta(seconds=timeout_seconds)) < timedelta(seconds=5), waited


def check_path(stored: Stored, answer: Answer, faults: Faults) -> None:
    """The items show the path taken (so an example cannot pass by taking another)."""
    execution, task = stored.items["execution"], stored.items["task"]
    albums = [stored.items[f"album#{index}"] for index in range(1, 7)]
    if answer.kind == "reject":
        assert (execution["status"], task["status"]) == ("rejected", "rejected")
        assert all("validatedAt" not in a and "priceStatus" not in a for a in albums)
        return
    assert task["status"] == ("timeout" if answer.kind == "timeout" else "completed")
    assert all(a["yearValidated"] is (answer.kind != "timeout") for a in albums)
    failed = {i for i, times in faults.items() if times is None or times > PRICE_RETRIES}
    assert {int(a["albumIndex"]) for a in albums if a["priceStatus"] == "failed"} == failed
    expected = "completed_with_errors" if failed else "completed"
    assert execution["status"] == expected


def check_upload(
    both: Both, albums: Sequence[dict[str, Any]], answer: Answer, faults: Faults = NO_FAULTS
) -> tuple[Stored, Stored]:
    sf, durable = run_both(both, albums, answer, faults)
    check_path(sf, answer, faults)
    timeout = SHORT_REVIEW_SECONDS if answer.kind == "timeout" else REVIEW_SECONDS
    check_equivalent(sf, durable, timeout)
    return sf, durable


# --- tests --------------------------------------------------------------------------------

#: One upload per path, each with the same six detected albums.
FIXED: Final[dict[str, tuple[Answer, Faults]]] = {
    "accepted as detected": (Answer("accept"), {}),
    "names corrected": (
        Answer(
            "correct",
            (
                AlbumCorrection(1, 1959, album_name="  Kind of Blue (Legacy) "),
                AlbumCorrection(4, 1977, artist="Fleetwood Mac\u00a0"),
                AlbumCorrection(5, 1981, album_name="Remain In Light", artist="Talking Heads"),
            ),
        ),
        {},
    ),
    "rejected": (Answer("reject", reason="  these are CDs, not records\n"), {}),
    # Sent past the validation API (which refuses a blank reason): both patterns give the
    # rejection the workflow's default reason.
    "rejected without a reason": (Answer("reject", reason="   "), {}),
    "timed out": (Answer("timeout"), {}),
    "price failures": (Answer("accept"), {2: None, 3: PRICE_RETRIES, 5: PRICE_RETRIES + 1}),
}


@pytest.mark.integration
def test_one_upload_gives_equal_records_in_both_patterns(both: Both) -> None:
    """**Feature: album-registration-system, Property 30: Workflow Equivalence** — For any
    image processed by both workflows, the extracted albums and estimated prices should be
    equivalent (one fixed example)
    """
    corrections = (AlbumCorrection(2, 1970), AlbumCorrection(6, 1985, artist="Prince"))
    sf, durable = check_upload(both, ALBUMS, Answer("correct", corrections))
    years_kept = [int(durable.items[f"album#{index}"]["year"]) for index in range(1, 7)]
    assert years_kept == [1959, 1970, 1971, 1977, 1980, 1985]
    assert all(sf.items[f"album#{index}"]["priceStatus"] == "priced" for index in range(1, 7))


@pytest.mark.integration
@pytest.mark.parametrize("path", list(FIXED))
def test_each_path_gives_equal_items_in_both_patterns(both: Both, path: str) -> None:
    """**Feature: album-registration-system, Property 30: Workflow Equivalence** — For any
    image processed by both workflows, the extracted albums and estimated prices should be
    equivalent (one fixed example per path)
    """
    answer, faults = FIXED[path]
    check_upload(both, ALBUMS, answer, faults)


@st.composite
def answers(draw: st.DrawFn) -> Answer:
    """Any answer: accept, corrections (years, sometimes names), reject, or none."""
    # A timeout waits out the short review in both patterns (about 5 s an example), so it
    # is drawn least often; corrections, the path with the most to compare, most often.
    kind: Kind = draw(st.sampled_from(["accept", "correct", "correct", "reject", "timeout"]))
    if kind == "correct":
        indices = draw(st.sets(st.integers(min_value=1, max_value=6), min_size=1, max_size=6))
        names = st.none() | album_text
        corrections = tuple(
            AlbumCorrection(index, draw(years), album_name=draw(names), artist=draw(names))
            for index in sorted(indices)
        )
        return Answer(kind, corrections)
    if kind == "reject":
        # Reasons the validation API accepts (it refuses a blank one), padded as typed.
        padding = st.sampled_from(["", " ", "\n", "\t "])
        return Answer(kind, reason=draw(padding) + draw(album_text) + draw(padding))
    return Answer(kind)


#: Some albums' prices fail: for good (None), or n times (recovered within the retries,
#: or one time too many).
price_faults = st.dictionaries(
    st.integers(min_value=1, max_value=6),
    st.none() | st.integers(min_value=1, max_value=PRICE_RETRIES + 1),
    max_size=3,
)


@pytest.mark.property
@pytest.mark.timeout(1800)  # up to 100 whole executions on a loaded machine
@DURABLE_EXAMPLES
@given(albums=album_sets(), answer=answers(), faults=price_faults)
def test_any_upload_gives_equal_records_in_both_patterns(
    both: Both, albums: Sequence[Album], answer: Answer, faults: dict[int, int | None]
) -> None:
    """**Feature: album-registration-system, Property 30: Workflow Equivalence** — For any
    image processed by both workflows, the extracted albums and estimated prices should be
    equivalent
    """
    # From a shallow stack: under hypothesis the moto calls ran several times slower (see
    # on_fresh_stack).
    on_fresh_stack(check_upload, both, album_dicts(albums), answer, faults)
