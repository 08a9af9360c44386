"""The load run (``make load``) in small: 10 uploads at once through both patterns.

The run itself must find nothing lost, duplicated or stuck; and its audit must find each
kind of damage when it is planted in the table the run left (so a clean result means
something), and the command must fail when the audit does.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from albums.domain.models import ExecutionStatus, WorkflowType
from localmode import load

pytestmark = pytest.mark.integration

UPLOADS = 10
SF = WorkflowType.STEP_FUNCTIONS
LDF = WorkflowType.DURABLE_FUNCTIONS


class Run:
    """What one ``python -m localmode.load`` run returned, wrote and left in the table."""

    def __init__(self, code: int, results: dict[str, Any], items: list[dict[str, Any]]) -> None:
        self.code = code
        self.results = results
        self.items = items

    def expected(self) -> dict[str, tuple[int, ...]]:
        """Each upload's years as planned (the reviewer's corrections applied), by upload id."""
        planned = {plan.key: plan.expected_years for plan in load.plan_uploads(UPLOADS)}
        return {
            item["uploadId"]: planned[item["key"]]
            for item in self.items
            if item.get("entityType") == "execution"
        }


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """Run the load command once for the module, keeping the table it scanned."""
    out = tmp_path_factory.mktemp("load")
    scanned: list[list[dict[str, Any]]] = []
    original = load.scan_table

    def keep(stack: Any) -> list[dict[str, Any]]:
        items = original(stack)
        scanned.append(items)
        return items

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(load, "scan_table", keep)
        code = load.main(["--uploads", str(UPLOADS), "--out", str(out), "--timeout", "120"])
    return Run(code, json.loads((out / load.RESULTS_FILE).read_text()), scanned[0])


def test_ten_uploads_at_once_end_completed_in_both_patterns_with_nothing_lost(run: Run) -> None:
    results = run.results
    assert run.code == 0, results["problems"]
    assert results["passed"] is True
    assert (results["lost"], results["duplicated"], results["stuck"]) == (0, 0, 0)
    assert results["equivalent"] is True
    assert results["vision_calls"] == 2 * UPLOADS
    for pattern in (SF, LDF):
        figures = results["patterns"][str(pattern)]
        assert figures["executions_started"] == figures["terminal"] == UPLOADS
        assert figures["completed"] == UPLOADS
        assert figures["throughput_workflows_per_s"] > 0
        assert 0 < figures["latency_s"]["p50"] <= figures["latency_s"]["p95"]
        assert figures["latency_excluding_review_s"]["p95"] <= figures["latency_s"]["p95"]


def test_the_clean_table_audits_clean(run: Run) -> None:
    for pattern in (SF, LDF):
        audit = load.audit_pattern(pattern, run.items, run.expected())
        assert (audit.completed, audit.lost, audit.duplicated) == (UPLOADS, 0, 0), audit.problems


def _first_execution(items: list[dict[str, Any]], pattern: WorkflowType) -> str:
    return next(i["executionId"] for i in items if i["pk"].startswith(f"{pattern.tenant}#exec#"))


def test_the_audit_counts_a_missing_album_or_claim_as_lost(run: Run) -> None:
    items = copy.deepcopy(run.items)
    victim = _first_execution(items, SF)
    items = [i for i in items if not (i.get("executionId") == victim and i["sk"] == "album#3")]
    items.remove(next(i for i in items if i["pk"].startswith("ldf#upload#")))

    sf, ldf = (load.audit_pattern(p, items, run.expected()) for p in (SF, LDF))

    assert (sf.lost, sf.completed) == (1, UPLOADS - 1)
    assert "albums [1, 2, 4, 5, 6] stored" in " ".join(sf.problems)
    assert (ldf.lost, ldf.completed) == (1, UPLOADS - 1)
    assert "no execution claimed it" in " ".join(ldf.problems)


def test_the_audit_counts_wrong_years_or_a_missing_task_as_lost(run: Run) -> None:
    items = copy.deepcopy(run.items)
    victim = _first_execution(items, LDF)
    for item in items:
        if item.get("executionId") == victim and item["sk"] == "album#1":
            item["year"] = item["yearOriginal"] = 1901
    task_of = next(i for i in items if i["pk"].startswith("sf#task#"))
    items.remove(task_of)

    sf, ldf = (load.audit_pattern(p, items, run.expected()) for p in (SF, LDF))

    assert sf.lost == 1
    assert "0 validation tasks, expected 1" in " ".join(sf.problems)
    assert ldf.lost == 1
    assert "years [1901," in " ".join(ldf.problems)


def test_the_audit_counts_a_second_execution_of_an_upload_as_duplicated(run: Run) -> None:
    items = copy.deepcopy(run.items)
    victim = _first_execution(items, SF)
    copies = []
    for item in items:
        if item.get("executionId") == victim and item["pk"].startswith("sf#exec#"):
            twin = copy.deepcopy(item)
            twin["pk"] = twin["pk"].replace(victim, f"{victim}twin")
            twin["executionId"] = f"{victim}twin"
            if twin["sk"] == "meta":
                twin["gsi1sk"] = twin["gsi1sk"].replace(victim, f"{victim}twin")
            copies.append(twin)
    duplicate_record = copy.deepcopy(next(c for c in copies if c["sk"] == "meta"))
    duplicate_record.update(
        pk=duplicate_record["pk"].replace("twin", "dup"),
        executionId=f"{victim}dup",
        status=ExecutionStatus.DUPLICATE.value,
        duplicateOf=victim,
    )
    duplicate_record["gsi1sk"] = duplicate_record["gsi1sk"].replace("twin", "dup")
    stray_album = copy.deepcopy(next(c for c in copies if c["sk"] == "album#1"))
    stray_album.update(pk=duplicate_record["pk"], executionId=f"{victim}dup")

    audit = load.audit_pattern(SF, [*items, *copies, duplicate_record, stray_album], run.expected())

    assert audit.completed == UPLOADS  # the claim holder still completed
    assert audit.duplicated == 7 + 1  # the twin's record and six albums; the stray album
    problems = " ".join(audit.problems)
    assert "without its claim" in problems
    assert "wrote 1 albums or tasks" in problems


def test_the_command_fails_when_the_audit_finds_a_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = load.plan_uploads

    def wrong_expectation(count: int) -> list[load.PlannedUpload]:
        planned = plan(count)
        first = planned[0]
        planned[0] = load.PlannedUpload(
            first.key, first.image, first.detected, first.corrections, (1900,) * 6
        )
        return planned

    monkeypatch.setattr(load, "plan_uploads", wrong_expectation)
    code = load.main(["--uploads", "2", "--out", str(tmp_path), "--timeout", "60"])
    results = json.loads((tmp_path / load.RESULTS_FILE).read_text())

    assert code == 1
    assert results["passed"] is False
    assert results["lost"] == 2  # that upload, in each pattern
    assert any("years" in problem for problem in results["problems"])
