"""Where each setting of ``albums preflight`` comes from: flags, the environment, Terraform."""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from albums_cli.console import EXIT_USAGE, CliError
from albums_cli.environment import ENVIRONMENTS_DIR, REGION, environment_root
from albums_cli.preflight.checks_deploy import DEFINITION_FILE, TF_CHECK_DIR
from albums_cli.preflight.permissions import (
    REQUIRED_PERMISSIONS,
    RequiredPermissions,
    load_required_permissions,
)
from albums_cli.preflight.results import _display
from albums_cli.preflight.state import (
    StateReader,
    TerraformState,
    UnresolvedError,
    load_state_file,
    parse_state,
    state_attribute,
    terraform_show,
)

#: Terraform's ``bedrock_model_id`` default (``terraform/environments/*/variables.tf``).
DEFAULT_MODEL_ID: Final = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
#: The orchestrator's resource address, and its name when it is not in the state yet
#: (``name_prefix = "albums-${var.environment}"``, ``"${name_prefix}-orchestrator"``).
ORCHESTRATOR_ADDRESS: Final = (
    "module.album_registration.module.orchestrator.aws_lambda_function.this"
)
ORCHESTRATOR_NAME: Final = "albums-{environment}-orchestrator"


def _terraform_value(root: Path, name: str) -> tuple[str, str] | None:
    """Return ``(value, origin)`` of a string variable in the root's tfvars, else its default."""
    assignment = re.compile(rf'^\s*{re.escape(name)}\s*=\s*"(?P<value>[^"]*)"', re.MULTILINE)
    for tfvars in [root / "terraform.tfvars", *sorted(root.glob("*.auto.tfvars"))]:
        if tfvars.is_file():
            found = assignment.search(tfvars.read_text(encoding="utf-8"))
            if found:
                return found.group("value"), _display(tfvars)
    variables = root / "variables.tf"
    if variables.is_file():
        block = re.search(
            rf'^variable\s+"{re.escape(name)}"\s*\{{(?P<body>.*?)^\}}',
            variables.read_text(encoding="utf-8"),
            re.MULTILINE | re.DOTALL,
        )
        default = (
            re.search(r'^\s*default\s*=\s*"(?P<value>[^"]*)"', block.group("body"), re.MULTILINE)
            if block
            else None
        )
        if default:
            return default.group("value"), f"{_display(variables)} default"
    return None


def _state_model_id(state: TerraformState) -> str | None:
    for address in sorted(state.resources):
        if ".aws_lambda_function." not in f".{address}":
            continue
        try:
            return state_attribute(
                state, address, ("environment", "0", "variables", "BEDROCK_MODEL_ID")
            )
        except UnresolvedError:
            continue
    return None


@dataclass(frozen=True, slots=True)
class Settings:
    """What the checks need to know about the environment, and where each value came from."""

    env: str
    root: Path
    region: str | None
    region_origin: str
    model_id: str
    model_origin: str
    orchestrator: str
    definition: Path
    state: TerraformState
    state_problem: str | None
    permissions: RequiredPermissions | None


def resolve_settings(
    arguments: argparse.Namespace,
    *,
    environ: Mapping[str, str],
    read_state: StateReader = terraform_show,
) -> Settings:
    """Resolve the environment's root, state, region, model, orchestrator and inputs.

    Region: ``--region``, ``ALBUMS_REGION``, the state's ``region`` output, the root's
    tfvars or ``variables.tf`` default, else the AWS SDK's default. Model: ``--model-id``,
    the deployed functions' ``BEDROCK_MODEL_ID``, tfvars, the default.

    Raises
    ------
    CliError
        (exit 2) for an unknown environment, a malformed state or permission file.
    """
    env = arguments.env or environ.get("ALBUMS_ENV") or "dev"
    root = environment_root(env, arguments.tf_dir)
    if not root.is_dir():
        known = sorted(path.name for path in ENVIRONMENTS_DIR.iterdir() if path.is_dir())
        raise CliError(
            f"unknown --env {env!r}: no Terraform root {_display(root)} "
            f"(environments: {', '.join(known)}; or --tf-dir DIR)",
            EXIT_USAGE,
        )
    state_problem = None
    if arguments.state is not None:
        state = load_state_file(arguments.state)
    else:
        origin = f"terraform show -json of {_display(root)}"
        try:
            document = read_state(root)
        except CliError as error:
            if error.exit_code == EXIT_USAGE:
                raise
            document, state_problem = {}, error.message
        state = parse_state(document, origin)
    permissions_path = arguments.permissions or REQUIRED_PERMISSIONS
    if arguments.permissions is not None and not permissions_path.is_file():
        raise CliError(f"--permissions {permissions_path}: no such file")
    permissions = (
        load_required_permissions(permissions_path) if permissions_path.is_file() else None
    )
    region, region_origin = _resolve_region(arguments, environ, state, root)
    if arguments.model_id:
        model_id, model_origin = arguments.model_id, "--model-id"
    elif (deployed := _state_model_id(state)) is not None:
        model_id, model_origin = deployed, "the deployed functions"
    else:
        model_id, model_origin = _terraform_value(root, "bedrock_model_id") or (
            DEFAULT_MODEL_ID,
            "default",
        )
    try:
        orchestrator = state_attribute(state, ORCHESTRATOR_ADDRESS, ("arn",))
    except UnresolvedError:
        environment, _ = _terraform_value(root, "environment") or (env, "")
        orchestrator = ORCHESTRATOR_NAME.format(environment=environment)
    return Settings(
        env=env,
        root=root,
        region=region,
        region_origin=region_origin,
        model_id=model_id,
        model_origin=model_origin,
        orchestrator=orchestrator,
        definition=arguments.definition or TF_CHECK_DIR / env / DEFINITION_FILE,
        state=state,
        state_problem=state_problem,
        permissions=permissions,
    )


def _resolve_region(
    arguments: argparse.Namespace,
    environ: Mapping[str, str],
    state: TerraformState,
    root: Path,
) -> tuple[str | None, str]:
    if arguments.region:
        return arguments.region, "--region"
    if environ.get(REGION.variable):
        return environ[REGION.variable], REGION.variable
    if isinstance(state.outputs.get("region"), str) and state.outputs["region"]:
        return str(state.outputs["region"]), "the state's region output"
    found = _terraform_value(root, "region")
    if found is not None:
        return found
    return None, "the AWS SDK's default"
