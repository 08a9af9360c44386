"""``albums preflight`` itself: its clients, the checks in order, the lines and exit code."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from botocore.exceptions import BotoCoreError, ClientError

from albums_cli.console import (
    EXIT_ENVIRONMENT,
    EXIT_FAILED,
    EXIT_OK,
    CliError,
    describe_client_error,
    one_line,
)
from albums_cli.environment import REGION
from albums_cli.preflight.checks_deploy import (
    DEFINITION_FILE,
    check_provider_version,
    check_state_machine_definition,
)
from albums_cli.preflight.checks_region import (
    check_bedrock_access,
    check_bedrock_model,
    check_durable_functions,
)
from albums_cli.preflight.iam import check_iam
from albums_cli.preflight.permissions import Identity
from albums_cli.preflight.results import CheckResult, Status, _attempt, _Failed
from albums_cli.preflight.settings import ORCHESTRATOR_ADDRESS, Settings, resolve_settings
from albums_cli.preflight.state import StateReader, terraform_show


@dataclass(frozen=True, slots=True)
class PreflightClients:
    """The boto3 clients the checks use (tests pass stubbed ones)."""

    lambda_: Any
    bedrock: Any
    stepfunctions: Any
    iam: Any
    sts: Any

    @classmethod
    def for_region(cls, region: str | None) -> PreflightClients:
        """Return real clients of ``region`` (credentials from the usual AWS chain)."""
        import boto3  # noqa: PLC0415 - keep `albums --help` fast

        session = boto3.session.Session(region_name=region)
        return cls(
            lambda_=session.client("lambda"),
            bedrock=session.client("bedrock"),
            stepfunctions=session.client("stepfunctions"),
            iam=session.client("iam"),
            sts=session.client("sts"),
        )


def caller_identity(sts: Any) -> Identity:
    """Return the caller's account, partition and ARN.

    Raises
    ------
    CliError
        (exit 5) when the caller cannot be identified (expired or invalid credentials).
    """
    response = _attempt(sts.get_caller_identity)
    if isinstance(response, _Failed):
        raise CliError(
            f"cannot identify the caller (sts:GetCallerIdentity): {response.message}: "
            "check your AWS credentials",
            EXIT_ENVIRONMENT,
        )
    arn = str(response.get("Arn", ""))
    parts = arn.split(":")
    return Identity(
        account=str(response.get("Account", "")),
        partition=parts[1] if len(parts) > 1 and parts[1] else "aws",
        arn=arn,
    )


def run_checks(
    settings: Settings, clients: PreflightClients, identity: Identity, region: str
) -> Iterator[CheckResult]:
    """Run every check in order, yielding each result as it is known."""
    yield check_durable_functions(
        clients.lambda_,
        settings.orchestrator,
        region,
        deployed=ORCHESTRATOR_ADDRESS in settings.state.resources,
    )
    yield check_bedrock_model(clients.bedrock, settings.model_id, region)
    yield check_bedrock_access(clients.bedrock, settings.model_id, region)
    yield check_state_machine_definition(clients.stepfunctions, settings.definition)
    yield from check_iam(
        clients.iam,
        settings.permissions,
        state=settings.state,
        identity=identity,
        region=region,
        state_problem=settings.state_problem,
    )
    yield check_provider_version(settings.root, settings.env)


def preflight(
    arguments: argparse.Namespace,
    *,
    out: TextIO,
    clients: PreflightClients | None = None,
    environ: Mapping[str, str] | None = None,
    read_state: StateReader = terraform_show,
) -> int:
    """Run ``albums preflight``: print one line per check and a summary; return the exit code.

    Raises
    ------
    CliError
        For bad input (exit 2) or when the caller cannot be identified (exit 5).
    """
    settings = resolve_settings(
        arguments, environ=os.environ if environ is None else environ, read_state=read_state
    )
    if clients is None:
        clients = PreflightClients.for_region(settings.region)
    identity = caller_identity(clients.sts)
    region = settings.region or str(clients.lambda_.meta.region_name)
    print(
        f"preflight {settings.env}: region {region} ({settings.region_origin}), account "
        f"{identity.account} as {identity.arn}, model {settings.model_id} "
        f"({settings.model_origin})",
        file=out,
    )
    counts = dict.fromkeys(Status, 0)
    for result in run_checks(settings, clients, identity, region):
        counts[result.status] += 1
        print(result.render(), file=out, flush=True)
    failed = counts[Status.FAIL]
    print(
        f"preflight {settings.env}: {counts[Status.OK]} ok, {failed} failed, "
        f"{counts[Status.SKIP]} skipped"
        + (": fix the FAIL lines and run it again" if failed else ""),
        file=out,
    )
    return EXIT_FAILED if failed else EXIT_OK


def run_command(
    arguments: argparse.Namespace,
    *,
    clients: PreflightClients | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
    environ: Mapping[str, str] | None = None,
    read_state: StateReader = terraform_show,
) -> int:
    """Run ``albums preflight``; every error that stops it is one line on ``err``."""
    errors = err or sys.stderr
    try:
        return preflight(
            arguments,
            out=out or sys.stdout,
            clients=clients,
            environ=environ,
            read_state=read_state,
        )
    except CliError as error:
        message, code = error.message, error.exit_code
    except ClientError as error:
        message, code = f"AWS error: {describe_client_error(error)}", EXIT_ENVIRONMENT
    except BotoCoreError as error:
        message = f"{error} (check your AWS credentials and --region)"
        code = EXIT_ENVIRONMENT
    print(f"albums preflight: {one_line(message, 600)}", file=errors)
    return code


def add_command(commands: Any) -> None:
    """Register ``albums preflight`` on the ``albums`` parser's sub-parsers."""
    parser = commands.add_parser(
        "preflight",
        help="check a real AWS account before and after `make apply` (read-only)",
        description="Read-only checks of the account and region of an environment: durable "
        "functions offered, the Bedrock model offered and accessible, the rendered state "
        "machine definition valid, (after apply) each role allowed what the tests recorded, "
        "and the AWS provider version selected. Exit 1 when a check fails.",
    )
    parser.add_argument(
        "--env", metavar="ENV", help="dev or prod: terraform/environments/ENV ($ALBUMS_ENV, dev)"
    )
    parser.add_argument("--tf-dir", type=Path, metavar="DIR", help="a Terraform root instead")
    parser.add_argument(
        "--region",
        metavar="REGION",
        help=f"{REGION.description} (${REGION.variable}; else the state or variables.tf)",
    )
    parser.add_argument(
        "--model-id",
        metavar="ID",
        help="Bedrock model or inference profile (default: the deployed one, else Terraform's)",
    )
    parser.add_argument(
        "--definition",
        type=Path,
        metavar="PATH",
        help=f"the rendered ASL (default out/tf-check/ENV/{DEFINITION_FILE}, by make tf-check)",
    )
    parser.add_argument(
        "--state",
        type=Path,
        metavar="PATH",
        help="a saved `terraform show -json` instead of running terraform",
    )
    parser.add_argument(
        "--permissions",
        type=Path,
        metavar="PATH",
        help="the recorded permission set (default terraform/required_permissions.json)",
    )
    parser.set_defaults(run=run_command)
