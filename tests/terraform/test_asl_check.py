"""``scripts/asl_check.py``: the definition as deployed, against statelint and the service."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from scripts.asl_check import check, service_rules


def _machine(**wait: Any) -> dict[str, Any]:
    return {
        "StartAt": "Wait",
        "TimeoutSeconds": 90000,
        "States": {
            "Wait": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 3, "BackoffRate": 2}],
                "End": True,
                **wait,
            }
        },
    }


def test_a_heartbeat_equal_to_the_timeout_is_refused() -> None:
    problems = service_rules(_machine(TimeoutSeconds=3600, HeartbeatSeconds=3600))
    assert problems == [
        "$.States.Wait: HeartbeatSeconds (3600) must be smaller than TimeoutSeconds (3600); "
        "AWS refuses the definition otherwise"
    ]
    assert service_rules(_machine(TimeoutSeconds=3600, HeartbeatSeconds=3599)) == []
    assert service_rules(_machine(TimeoutSeconds=3600)) == []


def test_timeouts_and_retriers_stay_within_the_service_limits() -> None:
    machine = _machine(TimeoutSeconds=0)
    machine["TimeoutSeconds"] = 40_000_000
    machine["States"]["Wait"]["Retry"][0]["BackoffRate"] = 0.5
    problems = service_rules(machine)
    assert any("$: TimeoutSeconds 40000000 is outside" in p for p in problems)
    assert any("$.States.Wait: TimeoutSeconds 0 is outside" in p for p in problems)
    assert any("BackoffRate 0.5 must be at least 1.0" in p for p in problems)


def test_nested_states_are_checked_too() -> None:
    inner = _machine(TimeoutSeconds=10, HeartbeatSeconds=20)
    machine = {
        "StartAt": "Each",
        "States": {
            "Each": {
                "Type": "Map",
                "ItemProcessor": {"StartAt": "Wait", "States": inner["States"]},
                "End": True,
            }
        },
    }
    assert service_rules(machine) == [
        "$.States.Each.ItemProcessor.Wait: HeartbeatSeconds (20) must be smaller than "
        "TimeoutSeconds (10); AWS refuses the definition otherwise"
    ]


def test_statelint_finds_what_the_language_forbids(tmp_path: Path) -> None:
    good = tmp_path / "good.asl.json"
    good.write_text(json.dumps(_machine(TimeoutSeconds=60, HeartbeatSeconds=30)))
    assert check(good) == []
    broken = _machine()
    broken["StartAt"] = "Missing"
    bad = tmp_path / "bad.asl.json"
    bad.write_text(json.dumps(broken))
    assert any(p.startswith("statelint: ") and "Missing" in p for p in check(bad))
    (tmp_path / "text.json").write_text("{not json")
    assert check(tmp_path / "text.json")[0].startswith("not JSON")
