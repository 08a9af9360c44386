"""Checks of what ``make apply`` would deploy: the state machine definition, the provider."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Final

from albums_cli.console import one_line
from albums_cli.environment import REPO_ROOT
from albums_cli.preflight.results import CheckResult, _attempt, _display, _fail, _Failed, _ok

#: ``make tf-check`` writes the definition Terraform renders for an environment here.
TF_CHECK_DIR: Final = REPO_ROOT / "out" / "tf-check"
DEFINITION_FILE: Final = "state_machine.asl.json"
LOCK_FILE: Final = ".terraform.lock.hcl"
#: Real deploys need this hashicorp/aws version: 6.25 adds ``durable_config``, 6.28 the
#: ``lambda:InvokeFunction`` grant that function URLs created since October 2025 need.
MINIMUM_AWS_PROVIDER: Final = (6, 28, 0)


def check_state_machine_definition(stepfunctions: Any, path: Path) -> CheckResult:
    """Validate the rendered state machine definition with ``ValidateStateMachineDefinition``.

    Every diagnostic (severity, code, location, message) is a note of the line; ``ERROR``
    ones fail the check, ``WARNING`` ones do not.

    Parameters
    ----------
    stepfunctions
        A Step Functions client.
    path
        The definition as Terraform renders it (``make tf-check`` writes it).
    """
    name = "state machine definition"
    shown = _display(path)
    if not path.is_file():
        return _fail(
            name,
            f"no {shown}: run make tf-check (it writes the definition as Terraform renders "
            "it), or pass --definition PATH",
        )
    try:
        definition = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        return _fail(name, f"cannot read {shown} ({error.__class__.__name__}): run make tf-check")
    if not definition.strip():
        return _fail(name, f"{shown} is empty: run make tf-check")
    response = _attempt(
        lambda: stepfunctions.validate_state_machine_definition(
            definition=definition, type="STANDARD", severity="WARNING", maxResults=100
        )
    )
    if isinstance(response, _Failed):
        return _fail(name, f"ValidateStateMachineDefinition failed: {response.message or 'error'}")
    diagnostics = response.get("diagnostics") or []
    notes = [
        f"{item.get('severity')} {item.get('code')} at {item.get('location') or '(top)'}: "
        f"{one_line(item.get('message', ''), 400)}"
        for item in diagnostics
    ]
    if response.get("truncated"):
        notes.append("(more diagnostics were not returned: fix these and run it again)")
    errors = sum(1 for item in diagnostics if item.get("severity") == "ERROR")
    warnings = len(diagnostics) - errors
    counted = f"{errors} error(s), {warnings} warning(s)"
    if errors or response.get("result") != "OK":
        return _fail(
            name,
            f"{shown}: {counted}: fix state_machine/album_registration.asl.json.tftpl and "
            "run make tf-check again",
            notes,
        )
    return _ok(name, f"{shown} is a valid STANDARD state machine ({counted})", notes)


_PROVIDER_BLOCK = re.compile(
    r'^provider\s+"registry\.terraform\.io/hashicorp/aws"\s*\{(?P<body>.*?)^\}',
    re.MULTILINE | re.DOTALL,
)
_LOCKED_VERSION = re.compile(r'^\s*version\s*=\s*"(?P<version>[^"]*)"', re.MULTILINE)
_SEMVER = re.compile(r"^(\d+)\.(\d+)\.(\d+)(-[0-9A-Za-z.-]+)?$")


def check_provider_version(root: Path, env: str) -> CheckResult:
    """Check the hashicorp/aws version ``terraform init`` selected (``.terraform.lock.hcl``).

    Parameters
    ----------
    root
        The environment's Terraform root.
    env
        The environment's name, for messages.
    """
    name = "aws provider"
    lock = root / LOCK_FILE
    minimum = ".".join(str(part) for part in MINIMUM_AWS_PROVIDER)
    init = f"run terraform -chdir={_display(root)} init (make plan ENV={env})"
    try:
        text = lock.read_text(encoding="utf-8")
    except FileNotFoundError:
        return _fail(name, f"no {_display(lock)}: {init}")
    except (OSError, UnicodeDecodeError) as error:
        return _fail(name, f"cannot read {_display(lock)} ({error.__class__.__name__}): {init}")
    block = _PROVIDER_BLOCK.search(text)
    found = _LOCKED_VERSION.search(block.group("body")) if block else None
    if found is None:
        return _fail(name, f"{_display(lock)} selects no hashicorp/aws version: {init}")
    version = found.group("version")
    parsed = _SEMVER.fullmatch(version)
    if parsed is None:
        return _fail(name, f"{_display(lock)} selects hashicorp/aws {version!r}: {init}")
    release = tuple(int(part) for part in parsed.groups()[:3])
    if release < MINIMUM_AWS_PROVIDER or (release == MINIMUM_AWS_PROVIDER and parsed[4]):
        return _fail(
            name,
            f"hashicorp/aws {version} is selected in {_display(lock)}; real deploys need >= "
            f"{minimum} (durable_config; the invoke grant of function URLs): run terraform "
            f"-chdir={_display(root)} init -upgrade (then make plan ENV={env}) and commit "
            "the lock file",
        )
    return _ok(name, f"hashicorp/aws {version} (>= {minimum}) in {_display(lock)}")
