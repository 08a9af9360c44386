"""Where the ``albums`` CLI finds a deployed environment: flags, ``ALBUMS_*``, Terraform.

``terraform output`` is exercised for real through a stand-in ``terraform`` executable on
``PATH`` (a shell script), so the subprocess handling, its errors and timeout are tested
without a deployed environment.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from albums_cli import environment as environment_module
from albums_cli.console import EXIT_ENVIRONMENT, EXIT_USAGE, CliError
from albums_cli.environment import resolve_environment, terraform_outputs
from tests.unit.cli_deployed_world import (
    BUCKET,
    DURABLE,
    REGION,
    STATE_MACHINE,
    TABLE,
    Deployed,
    deployed_environment,
)

OUTPUTS: dict[str, Any] = {
    "region": "eu-west-1",
    "bucket_name": "tf-bucket",
    "table_name": "tf-table",
    "state_machine_arn": "arn:aws:states:eu-west-1:123456789012:stateMachine:tf",
    "durable_alias_arn": "arn:aws:lambda:eu-west-1:123456789012:function:tf:live",
    "api_url": None,
    "dead_letter_queue_urls": {"upload-durable": "https://sqs.eu-west-1.amazonaws.com/1/q"},
}


def outputs_of(values: Mapping[str, Any]) -> Any:
    def read(_root: Path) -> Mapping[str, Any]:
        return values

    return read


def refuse(_root: Path) -> Mapping[str, Any]:
    raise AssertionError("terraform must not run")


# --- resolution ---------------------------------------------------------------------------


def test_flags_win_over_variables_and_terraform_fills_the_rest() -> None:
    environment = resolve_environment(
        "dev",
        {"table": "flag-table", "region": None, "dead_letter_queues": None},
        needs=("bucket", "table", "state_machine_arn", "durable_function"),
        environ={"ALBUMS_BUCKET": "env-bucket", "ALBUMS_TABLE": "env-table"},
        outputs=outputs_of(OUTPUTS),
    )
    assert environment.table == "flag-table"
    assert environment.bucket == "env-bucket"
    assert environment.state_machine_arn == OUTPUTS["state_machine_arn"]
    assert environment.durable_function == OUTPUTS["durable_alias_arn"]
    assert environment.region == "eu-west-1"
    assert environment.dead_letter_queues == OUTPUTS["dead_letter_queue_urls"]


def test_terraform_runs_only_when_a_needed_name_is_missing() -> None:
    environment = resolve_environment(
        "dev", {"table": "t"}, needs=("table",), environ={}, outputs=refuse
    )
    assert (environment.table, environment.bucket, environment.region) == ("t", "", None)


def test_region_and_queues_come_from_variables_too() -> None:
    environment = resolve_environment(
        "dev",
        {},
        needs=("table", "dead_letter_queues"),
        environ={
            "ALBUMS_TABLE": "t",
            "ALBUMS_REGION": "eu-central-1",
            "ALBUMS_DLQ_URLS": "upload-durable=https://sqs/a, alerts=https://sqs/b",
        },
        outputs=refuse,
    )
    assert environment.region == "eu-central-1"
    assert environment.dead_letter_queues == {
        "upload-durable": "https://sqs/a",
        "alerts": "https://sqs/b",
    }


def test_a_name_found_nowhere_names_its_flag_variable_and_output() -> None:
    with pytest.raises(CliError) as raised:
        resolve_environment(
            "dev",
            {},
            needs=("table", "state_machine_arn", "dead_letter_queues"),
            environ={},
            outputs=outputs_of({"table_name": "t"}),
        )
    assert raised.value.exit_code == EXIT_ENVIRONMENT
    assert raised.value.message == (
        "missing --state-machine-arn ($ALBUMS_STATE_MACHINE_ARN; no state_machine_arn output), "
        "--dlq NAME=URL (ALBUMS_DLQ_URLS; no dead_letter_queue_urls output) in "
        f"{environment_module.ENVIRONMENTS_DIR / 'dev'}"
    )


@pytest.mark.parametrize(
    ("flags", "environ", "message"),
    [
        ({"dead_letter_queues": ["alerts"]}, {}, "--dlq 'alerts': write it as NAME=https://"),
        ({"dead_letter_queues": ["a=http://x"]}, {}, "--dlq 'a=http://x': write it as"),
        ({}, {"ALBUMS_DLQ_URLS": "=https://x"}, "ALBUMS_DLQ_URLS '=https://x': write it as"),
    ],
)
def test_a_malformed_queue_pair_is_a_usage_error(
    flags: dict[str, Any], environ: dict[str, str], message: str
) -> None:
    with pytest.raises(CliError, match=message) as raised:
        resolve_environment(
            "dev", {"table": "t", **flags}, needs=("table",), environ=environ, outputs=refuse
        )
    assert raised.value.exit_code == EXIT_USAGE


def test_an_environment_name_cannot_leave_the_environments_folder() -> None:
    with pytest.raises(CliError, match=r"--env '../../etc' is not an environment name") as raised:
        resolve_environment("../../etc", {}, needs=("table",), environ={}, outputs=refuse)
    assert raised.value.exit_code == EXIT_USAGE


def test_tf_dir_replaces_the_environment_root(tmp_path: Path) -> None:
    seen: list[Path] = []

    def read(root: Path) -> Mapping[str, Any]:
        seen.append(root)
        return OUTPUTS

    environment = resolve_environment(
        "prod", {}, needs=("table",), tf_dir=tmp_path, environ={}, outputs=read
    )
    assert seen == [tmp_path]
    assert environment.table == "tf-table"


# --- terraform output, for real, with a stand-in terraform ---------------------------------


@pytest.fixture
def fake_terraform(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Install ``terraform`` (a shell script with the given body) first on PATH."""
    folder = tmp_path / "bin"
    folder.mkdir()
    calls = tmp_path / "calls"

    def install(body: str) -> Path:
        script = folder / "terraform"
        script.write_text(f'#!/bin/sh\necho "$@" >> {calls}\n{body}\n', encoding="utf-8")
        script.chmod(script.stat().st_mode | stat.S_IEXEC)
        return calls

    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ.get('PATH', '')}")
    return install


def test_terraform_outputs_are_read_as_values(tmp_path: Path, fake_terraform: Any) -> None:
    printed = {name: {"sensitive": False, "value": value} for name, value in OUTPUTS.items()}
    calls = fake_terraform(f"cat <<'EOF'\n{json.dumps(printed)}\nEOF")
    assert terraform_outputs(tmp_path) == OUTPUTS
    assert calls.read_text().split() == [f"-chdir={tmp_path}", "output", "-json", "-no-color"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "echo 'Warning: no CLI config' >&2\n"
            "echo '│ Error: Backend initialization required, please run \"terraform init\"' >&2\n"
            "echo '│ Reason: Initial configuration' >&2\nexit 1",
            'Backend initialization required, please run "terraform init" '
            "(run `make plan ENV=...` once to initialise it, or pass --bucket",
        ),
        ("echo '{}'", "has no outputs: the environment is not deployed yet (make plan apply"),
        ("echo 'not json'", "printed no JSON"),
        ("exit 3", "terraform output failed in"),
    ],
)
def test_terraform_failures_say_what_to_do(
    tmp_path: Path, fake_terraform: Any, body: str, message: str
) -> None:
    fake_terraform(body)
    with pytest.raises(CliError) as raised:
        terraform_outputs(tmp_path)
    assert message in raised.value.message
    assert "\n" not in raised.value.message
    assert raised.value.exit_code == EXIT_ENVIRONMENT


def test_a_hanging_terraform_is_stopped(
    tmp_path: Path, fake_terraform: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_terraform("exec sleep 5")
    monkeypatch.setattr(environment_module, "TERRAFORM_TIMEOUT_S", 0.2)
    with pytest.raises(CliError, match=r"did not answer within 0.2 s"):
        terraform_outputs(tmp_path)


def test_missing_terraform_says_what_to_pass_instead(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    with pytest.raises(CliError, match=r"terraform is not installed: install it, or pass --bucket"):
        terraform_outputs(tmp_path)


def test_a_missing_environment_root_is_reported(tmp_path: Path) -> None:
    with pytest.raises(CliError, match=r"no Terraform environment at .*nope: use --env dev\|prod"):
        terraform_outputs(tmp_path / "nope")


# --- through the command line -------------------------------------------------------------


@pytest.fixture
def deployed() -> Iterator[Deployed]:
    with deployed_environment() as environment:
        yield environment


def test_commands_read_terraform_when_no_flags_are_given(deployed: Deployed) -> None:
    outputs = {
        "region": REGION,
        "bucket_name": BUCKET,
        "table_name": TABLE,
        "state_machine_arn": STATE_MACHINE,
        "durable_alias_arn": DURABLE,
    }
    roots: list[Path] = []

    def read(root: Path) -> Mapping[str, Any]:
        roots.append(root)
        return outputs

    code, out, err = deployed.run("tasks", "--env", "prod", flags=[], outputs=read)
    assert (code, out, err) == (0, "no pending validation tasks\n", "")
    code, _, _ = deployed.run("tasks", flags=[], outputs=read, environ={"ALBUMS_ENV": "qa"})
    assert code == 0
    assert roots == [environment_module.ENVIRONMENTS_DIR / name for name in ("prod", "qa")]


def test_a_terraform_failure_is_one_line_and_exit_5(deployed: Deployed) -> None:
    def read(root: Path) -> Mapping[str, Any]:
        raise CliError(f"terraform output failed in {root}: boom", EXIT_ENVIRONMENT)

    code, out, err = deployed.run("tasks", flags=[], outputs=read)
    assert code == EXIT_ENVIRONMENT
    assert out == ""
    assert err == (
        "albums tasks: terraform output failed in "
        f"{environment_module.ENVIRONMENTS_DIR / 'dev'}: boom\n"
    )


def test_each_command_asks_only_for_the_names_it_uses(deployed: Deployed) -> None:
    code, _, err = deployed.run("tasks", flags=["--table", TABLE])
    assert (code, err) == (0, "")
    code, _, err = deployed.run("status", flags=["--table", TABLE])
    assert (code, err) == (0, "")
