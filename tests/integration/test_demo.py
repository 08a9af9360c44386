"""The local main job end to end: sample uploads through both patterns, side by side."""

from __future__ import annotations

import io

import pytest

from albums.domain.models import WorkflowType
from localmode.demo import main, run_demo


@pytest.mark.integration
def test_demo_runs_both_patterns_to_completion_with_equal_results() -> None:
    out = io.StringIO()
    result = run_demo(2, out=out)
    assert result.equivalent, result.differences
    for pattern in WorkflowType:
        summary = result.summaries[pattern]
        assert summary.executions == summary.completed == 2
        assert summary.albums_priced == 12
        assert 0 < summary.orchestration_per_workflow <= 20
        assert summary.cost_per_1k_usd > 0
    text = out.getvalue()
    assert "vision: local-stand-in" in text
    assert "both patterns stored the same albums and prices: yes" in text


def test_demo_refuses_an_unreasonable_number_of_uploads(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--uploads", "0"])
    assert exited.value.code == 2
    assert "uploads must be between 1 and 100" in capsys.readouterr().err
