"""The ASL template: its placeholders, its two renderers, and the flow it defines.

Terraform renders ``state_machine/album_registration.asl.json.tftpl`` with
``templatefile()`` and local mode with :mod:`localmode.templatefile`; these tests render
the real template with both and compare the bytes, for several sets of values (the
heartbeat null, as deployed by default, and set), and probe templates of our own for the
one directive form the Python renderer accepts.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from albums.domain.records import TASK_RETENTION
from albums.workflow_contract import (
    STATE_MACHINE_ONLY_STATES,
    Step,
    asl_retriers,
    asl_retry_variables,
)
from localmode.stepfunctions import FUNCTION_VARIABLES, render_definition, template_variables
from localmode.templatefile import (
    STATE_MACHINE_TEMPLATE,
    TemplateError,
    TemplateValue,
    placeholders,
    render,
)
from orchestrator.config import OrchestratorConfig

EXPECTED_PLACEHOLDERS = {
    "image_processor_arn",
    "validation_notifier_arn",
    "price_estimator_arn",
    "table_name",
    "uploads_bucket",
    "validation_timeout_seconds",
    "validation_heartbeat_seconds",
    "execution_timeout_seconds",
    *asl_retry_variables(),
}
#: Where code must run: the only Lambdas the state machine invokes.
CODE_FUNCTIONS = {"image_processor", "validation_notifier", "price_estimator"}
TERRAFORM = shutil.which("terraform")


def arns(prefix: str = "album-dev") -> dict[str, str]:
    return {
        name: f"arn:aws:lambda:eu-west-1:210987654321:function:{prefix}-{name}"
        for name in FUNCTION_VARIABLES
    }


def variables(
    timeout: int = 3600,
    heartbeat: int | None = None,
    prefix: str = "album-dev",
    execution_timeout: int = 86400,
) -> dict[str, TemplateValue]:
    return template_variables(
        arns(prefix),
        timeout_seconds=timeout,
        heartbeat_seconds=heartbeat,
        execution_timeout_seconds=execution_timeout,
    )


def definition(**kwargs: Any) -> dict[str, Any]:
    return json.loads(render(STATE_MACHINE_TEMPLATE.read_text(), variables(**kwargs)))  # type: ignore[no-any-return]


def terraform_console(expression: str, workdir: Path) -> subprocess.CompletedProcess[str]:
    """Evaluate one expression with ``terraform console`` (no configuration, no network)."""
    return subprocess.run(  # noqa: S603 - our own fixed command line
        [str(TERRAFORM), "console"],
        input=f"{expression}\n",
        capture_output=True,
        text=True,
        cwd=workdir,
        timeout=60,
        check=False,
    )


def templatefile_call(path: Path, values: dict[str, TemplateValue], file: Path) -> str:
    """A ``templatefile()`` call with ``values`` read from a JSON file (None is null)."""
    file.write_text(json.dumps(values))
    return f'templatefile("{path}", jsondecode(file("{file}")))'


def terraform_render(jobs: list[tuple[Path, dict[str, TemplateValue]]], workdir: Path) -> list[str]:
    """Render each (template, variables) with Terraform's templatefile(), in one console run.

    ``terraform console`` prints only the last expression read from stdin, so every
    rendering goes into one comma-joined string of base64 texts.
    """
    calls = [
        f"base64encode({templatefile_call(path, values, workdir / f'vars{number}.json')})"
        for number, (path, values) in enumerate(jobs)
    ]
    result = terraform_console(f'join(",", [{", ".join(calls)}])', workdir)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = [line.strip() for line in result.stdout.splitlines() if line.strip()]
    assert lines, result.stderr
    encoded = lines[-1].strip('"').split(",")
    assert len(encoded) == len(jobs), result.stdout + result.stderr
    return [base64.b64decode(value).decode() for value in encoded]


def test_template_has_exactly_the_agreed_placeholders() -> None:
    assert placeholders(STATE_MACHINE_TEMPLATE.read_text()) == EXPECTED_PLACEHOLDERS
    assert set(variables()) == EXPECTED_PLACEHOLDERS


@pytest.mark.terraform
@pytest.mark.skipif(TERRAFORM is None, reason="terraform is not installed")
def test_python_renderer_agrees_with_terraform_templatefile(tmp_path: Path) -> None:
    sets = [
        variables(),  # the deployed default: no heartbeat
        variables(heartbeat=3599),
        variables(timeout=2, heartbeat=1, prefix="album-prod", execution_timeout=3),
        variables(timeout=604800, heartbeat=86400, prefix="x", execution_timeout=31536000),
        variables(timeout=604800, prefix="x", execution_timeout=31536000),
    ]
    # Escapes, odd characters and numbers of every kind, on a template of our own too.
    probe = tmp_path / "probe.tftpl"
    probe.write_text(
        '{"a": "${s}", "b": ${n}, "c": ${f}, "d": "$${literal}", "e": "%%{x}", "t": ${b}}\n'
    )
    probe_sets: list[dict[str, TemplateValue]] = [
        {"s": 'quo"te\\ and ünïcode', "n": 42, "f": 1.5, "b": True},
        {"s": "", "n": 0, "f": 10.0, "b": False},
    ]
    # The optional section: first, last and only lines, escapes inside, empty sections.
    section = tmp_path / "section.tftpl"
    section.write_text(
        "%{ if h != null ~}\n"
        '  "first": ${h},\n'
        "%{ endif ~}\n"
        '  "a": "${s}",\n'
        "%{if h!=null~}\n"
        '    "h": ${h}, "lit": "$${h} %%{ if }",\n'
        "\n"
        "%{ endif ~}\n"
        "%{ if s != null ~}\n"
        "%{ endif ~}\n"
        '  "z": 1\n'
        "%{ if h != null ~}\n"
        "last ${s}\n"
        "%{ endif ~}"
    )
    section_sets: list[dict[str, TemplateValue]] = [
        {"h": None, "s": "x"},
        {"h": 7, "s": "x"},
        {"h": "", "s": ""},
    ]
    jobs = [(STATE_MACHINE_TEMPLATE, values) for values in sets]
    jobs += [(probe, values) for values in probe_sets]
    jobs += [(section, values) for values in section_sets]
    expected = terraform_render(jobs, tmp_path)
    assert [render(path.read_text(), values) for path, values in jobs] == expected
    # The rendered definition is JSON and the escape in its comment became a literal.
    assert "written ${ here" in json.loads(expected[0])["Comment"]
    waits = [json.loads(text)["States"]["WaitForValidation"] for text in expected[:5]]
    assert ["HeartbeatSeconds" in wait for wait in waits] == [False, True, True, True, False]


@pytest.mark.terraform
@pytest.mark.skipif(TERRAFORM is None, reason="terraform is not installed")
def test_terraform_also_wants_every_variable_of_a_dropped_section(tmp_path: Path) -> None:
    """Both renderers refuse a missing variable even where a null drops its section."""
    template = tmp_path / "dropped.tftpl"
    template.write_text("%{ if h != null ~}\n${missing}\n%{ endif ~}\n")
    values: dict[str, TemplateValue] = {"h": None}
    result = terraform_console(templatefile_call(template, values, tmp_path / "v.json"), tmp_path)
    assert result.returncode != 0
    assert "missing" in result.stderr
    with pytest.raises(TemplateError, match="does not contain key 'missing'"):
        render(template.read_text(), values)


def test_escapes_render_literally_and_unsupported_syntax_is_refused() -> None:
    assert render("$${a} %%{b} ${c}", {"c": 3}) == "${a} %{b} 3"
    # As in Terraform: the escape wins, so "$$${c}" is "$" + a literal "${c}".
    assert render("$$${c}", {"c": "x"}) == "$${c}"
    with pytest.raises(TemplateError, match="does not contain key 'missing'"):
        render("${missing}", {})
    with pytest.raises(TemplateError, match="directives are not supported"):
        render("%{ if true }x%{ endif }", {})
    with pytest.raises(TemplateError, match="plain variables"):
        render("${upper(a)}", {"a": "x"})
    with pytest.raises(TemplateError, match="strip markers"):
        render("${~a}", {"a": "x"})


def test_the_optional_section_is_kept_or_dropped_by_whole_lines() -> None:
    template = 'a,\n%{ if h != null ~}\n  "h": ${h},\n%{ endif ~}\n  "z": 1\n'
    assert render(template, {"h": 5}) == 'a,\n  "h": 5,\n  "z": 1\n'
    assert render(template, {"h": None}) == 'a,\n  "z": 1\n'
    assert render("%{ if h != null ~}\n${h}\n%{ endif ~}", {"h": 0}) == "0\n"
    # A null is only allowed where the template tests it; a missing key never.
    with pytest.raises(TemplateError, match="'h' is null"):
        render("${h}", {"h": None})
    with pytest.raises(TemplateError, match="does not contain key 'h'"):
        render(template, {})
    assert placeholders(template) == {"h"}


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("%{ if h != null }\nx\n%{ endif }\n", "directives are not supported"),
        ("%{~ if h != null ~}\nx\n%{ endif ~}\n", "directives are not supported"),
        ("  %{ if h != null ~}\nx\n%{ endif ~}\n", "directives are not supported"),
        ("a %{ if h != null ~}\nx\n%{ endif ~}\n", "directives are not supported"),
        ("%{ if h != null ~} x\n%{ endif ~}\n", "directives are not supported"),
        ("%{ if h != null ~}\r\nx\r\n%{ endif ~}\r\n", "directives are not supported"),
        ("%{ if h == null ~}\nx\n%{ endif ~}\n", "directives are not supported"),
        ("%{ if h ~}\nx\n%{ endif ~}\n", "directives are not supported"),
        ("%{ if h != null ~}\nx\n%{ else ~}\ny\n%{ endif ~}\n", "directives are not supported"),
        ("%{ for a in h ~}\n${a}\n%{ endfor ~}\n", "directives are not supported"),
        ("%{ if h != null ~}\n%{ if h != null ~}\n%{ endif ~}\n%{ endif ~}\n", "nested"),
        ("x\n%{ endif ~}\n", "endif without an if"),
        ("%{ if h != null ~}\nx\n", "has no endif"),
    ],
)
def test_every_other_directive_form_is_refused(template: str, message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        render(template, {"h": 1})


def test_by_default_the_review_wait_has_no_heartbeat() -> None:
    """Nothing sends heartbeats: null renders no HeartbeatSeconds (never one equal to the
    timeout, which the States Language forbids)."""
    wait = definition()["States"]["WaitForValidation"]
    assert wait["TimeoutSeconds"] == 3600
    assert "HeartbeatSeconds" not in wait
    assert definition(heartbeat=30)["States"]["WaitForValidation"]["HeartbeatSeconds"] == 30


def test_the_execution_timeout_bounds_the_whole_state_machine() -> None:
    """One rule for both patterns: the durable execution_timeout is the definition's
    TimeoutSeconds."""
    assert definition()["TimeoutSeconds"] == 86400
    assert definition(timeout=60, execution_timeout=7200)["TimeoutSeconds"] == 7200
    with pytest.raises(ValueError, match="above timeout_seconds"):
        template_variables(arns(), timeout_seconds=60, execution_timeout_seconds=60)
    with pytest.raises(ValueError, match="at most 31536000"):
        template_variables(arns(), timeout_seconds=60, execution_timeout_seconds=31536001)


def _tasks(states: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every Task state, the Map's item processor included."""
    found = {}
    for name, state in states.items():
        if state["Type"] == "Task":
            found[name] = state
        if state["Type"] == "Map":
            found.update(_tasks(state["ItemProcessor"]["States"]))
    return found


def test_rendered_template_is_jsonata_with_every_value_in_place() -> None:
    document = definition(timeout=120, heartbeat=60)
    assert document["QueryLanguage"] == "JSONata"
    states = document["States"]
    functions = arns()
    assert states["ProcessImage"]["Arguments"]["FunctionName"] == functions["image_processor"]
    wait = states["WaitForValidation"]
    assert wait["Resource"] == "arn:aws:states:::lambda:invoke.waitForTaskToken"
    assert wait["Arguments"]["FunctionName"] == functions["validation_notifier"]
    assert (wait["TimeoutSeconds"], wait["HeartbeatSeconds"]) == (120, 60)
    assert wait["Arguments"]["Payload"]["timeoutSeconds"] == 120
    assert wait["Arguments"]["Payload"]["taskToken"] == "{% $states.context.Task.Token %}"
    item = states["EstimatePrices"]["ItemProcessor"]["States"]["EstimatePrice"]
    assert item["Arguments"]["FunctionName"] == functions["price_estimator"]


def test_lambdas_run_only_where_code_must_and_every_table_write_is_direct() -> None:
    text = render(STATE_MACHINE_TEMPLATE.read_text(), variables())
    tasks = _tasks(json.loads(text)["States"])
    invoked = {
        name: task["Arguments"]["FunctionName"]
        for name, task in tasks.items()
        if task["Resource"].startswith("arn:aws:states:::lambda:")
    }
    assert set(invoked.values()) == {arns()[name] for name in CODE_FUNCTIONS}
    assert set(invoked) == {"ProcessImage", "WaitForValidation", "EstimatePrice"}
    direct = {name: task["Resource"] for name, task in tasks.items() if name not in invoked}
    assert set(direct.values()) == {
        "arn:aws:states:::dynamodb:putItem",
        "arn:aws:states:::dynamodb:getItem",
        "arn:aws:states:::dynamodb:updateItem",
        "arn:aws:states:::aws-sdk:dynamodb:transactWriteItems",
    }
    # The table is the deployment's: only ever named by the template variable.
    template = STATE_MACHINE_TEMPLATE.read_text()
    named = render(template, {**variables(), "table_name": "albums-test"})
    assert named.count("albums-test") == template.count("${table_name}") > 0


def test_every_state_is_a_step_of_the_contract_or_a_state_machine_only_state() -> None:
    states = definition()["States"]
    steps = {str(step) for step in Step} - {Step.ESTIMATE_PRICE}
    assert set(states) == (steps | set(STATE_MACHINE_ONLY_STATES)) - {"PriceFailed"}
    inner = states["EstimatePrices"]["ItemProcessor"]["States"]
    assert set(inner) == {Step.ESTIMATE_PRICE, "PriceFailed"}


def test_every_retry_is_the_contracts() -> None:
    """One data file decides: the ASL Retry of each step is what the contract renders."""
    states = definition()["States"]
    tasks = _tasks(states)
    for name, task in tasks.items():
        step = Step(name) if name in {str(s) for s in Step} else STATE_MACHINE_ONLY_STATES[name]
        assert step is not None, name
        assert task["Retry"] == asl_retriers(step), name


def test_validation_timeout_continues_and_rejection_ends_rejected() -> None:
    states = definition()["States"]
    catches = {tuple(c["ErrorEquals"]): c for c in states["WaitForValidation"]["Catch"]}
    timeout = catches[("States.Timeout", "States.HeartbeatTimeout")]
    assert timeout["Next"] == "ExpireValidationTask"
    assert timeout["Assign"]["decision"] is None
    assert states["ExpireValidationTask"]["Next"] == "ApplyValidation"
    rejected = catches[("ValidationRejected",)]
    assert rejected["Next"] == "RejectValidationTask"
    assert states["RejectValidationTask"]["Next"] == "RejectExecution"
    assert states[states["RejectExecution"]["Next"]]["Type"] == "Succeed"
    assert states["ApplyValidation"]["Next"] == "EstimatePrices"


def test_a_closed_task_lives_as_long_as_the_repository_keeps_it() -> None:
    """The TTL the state machine writes is records.TASK_RETENTION, in seconds."""
    text = STATE_MACHINE_TEMPLATE.read_text()
    retention = int(TASK_RETENTION.total_seconds())
    assert text.count(f"+ {retention}") == 3  # timeout, rejection, the answered task
    assert text.count("2592000") == 3


def test_price_map_isolates_each_album() -> None:
    estimate = definition()["States"]["EstimatePrices"]
    assert estimate["Type"] == "Map"
    assert estimate["MaxConcurrency"] == 6
    item_states = estimate["ItemProcessor"]["States"]
    task = item_states["EstimatePrice"]
    assert "PriceSourceUnavailableError" in task["Retry"][0]["ErrorEquals"]
    assert task["Catch"][0]["ErrorEquals"] == ["States.ALL"]
    assert item_states[task["Catch"][0]["Next"]]["Type"] == "Succeed"


def test_every_failure_names_its_step_and_is_recorded_before_the_fail_state() -> None:
    """Each Catch assigns the failed step itself: no Pass state per step."""
    states = definition()["States"]
    assert not [name for name, state in states.items() if state["Type"] == "Pass"]
    steps = {str(step) for step in Step}
    for name, state in states.items():
        if state["Type"] not in ("Task", "Map") or name == "RecordFailure":
            continue
        last = state["Catch"][-1]
        assert last["ErrorEquals"] == ["States.ALL"], name
        assert last["Next"] == "RecordFailure", name
        assert last["Assign"]["failedStep"] in steps, name
        own = name if name in steps else STATE_MACHINE_ONLY_STATES[name]
        assert last["Assign"]["failedStep"] == own, name
    assert states["RecordFailure"]["Next"] == "Failed"
    assert states["Failed"]["Type"] == "Fail"


def test_local_definition_is_rendered_from_the_same_template() -> None:
    local = render_definition(arns(), timeout_seconds=5, heartbeat_seconds=4)
    assert local == render(STATE_MACHINE_TEMPLATE.read_text(), variables(timeout=5, heartbeat=4))
    assert render_definition(arns(), timeout_seconds=5) == render(
        STATE_MACHINE_TEMPLATE.read_text(), variables(timeout=5)
    )
    for heartbeat in (5, 0):
        with pytest.raises(ValueError, match="below timeout_seconds"):
            template_variables(arns(), timeout_seconds=5, heartbeat_seconds=heartbeat)


def test_both_patterns_retry_vision_and_prices_from_the_one_contract() -> None:
    """DESIGN.md's "retry 3 times": ASL ``MaxAttempts`` counts retries, the SDK attempts."""
    states = definition()["States"]
    (vision,) = states["ProcessImage"]["Retry"]
    price_states = states["EstimatePrices"]["ItemProcessor"]["States"]
    (price,) = next(s["Retry"] for s in price_states.values() if "Retry" in s)
    durable = OrchestratorConfig()
    for asl, policy in ((vision, durable.vision_retry), (price, durable.price_retry)):
        assert asl["MaxAttempts"] + 1 == policy.max_attempts == 4
        assert (asl["IntervalSeconds"], asl["BackoffRate"], asl["MaxDelaySeconds"]) == (
            policy.initial_delay_seconds,
            policy.backoff_rate,
            policy.max_delay_seconds,
        )
        assert asl["JitterStrategy"] == policy.jitter.name
