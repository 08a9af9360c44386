"""Where a deployed environment is: ``terraform output -json``, flags or environment variables.

Each resource can be given by a flag (``--table``), by an environment variable
(``ALBUMS_TABLE``) or, for whatever is still missing, from ``terraform output -json`` of the
environment's root (``terraform/environments/<env>``). Terraform runs only when needed, so
an operator without the state can still pass every name.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import boto3

REPO_ROOT: Final = Path(__file__).resolve().parent.parent

#: Exit codes of the CLI (also listed in ``albums --help``).
EXIT_FAILED: Final = 1
EXIT_USAGE: Final = 2
EXIT_NOT_FOUND: Final = 3
EXIT_CONFLICT: Final = 4
EXIT_ENVIRONMENT: Final = 5


class CliError(Exception):
    """One clear line for the user, and the exit code that goes with it."""

    def __init__(self, message: str, exit_code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


#: Setting name -> (terraform output, environment variable, flag help).
SETTINGS: Final[Mapping[str, tuple[str, str, str]]] = {
    "region": ("region", "ALBUMS_REGION", "AWS region of the environment"),
    "bucket": ("bucket_name", "ALBUMS_BUCKET", "uploads bucket"),
    "table": ("table_name", "ALBUMS_TABLE", "DynamoDB table"),
    "state_machine_arn": ("state_machine_arn", "ALBUMS_STATE_MACHINE_ARN", "state machine ARN"),
    "durable_function": (
        "durable_alias_arn",
        "ALBUMS_DURABLE_FUNCTION",
        "durable function (name or alias ARN)",
    ),
    "api_url": ("api_url", "ALBUMS_API_URL", "validation API base URL"),
}


@dataclass(frozen=True, slots=True)
class Environment:
    """The names of one deployed environment's resources."""

    name: str
    region: str
    bucket: str
    table: str
    state_machine_arn: str
    durable_function: str
    api_url: str = ""
    dead_letter_queues: Mapping[str, str] = field(default_factory=dict)


TerraformOutput = Callable[[Path], Mapping[str, Any]]


def terraform_output(root: Path) -> dict[str, Any]:
    """Return ``terraform output -json`` of ``root`` as ``{name: value}``.

    Raises
    ------
    CliError
        When terraform is missing, the root does not exist, or it has no outputs.
    """
    if not root.is_dir():
        raise CliError(
            f"no Terraform environment at {root}: pass --tf-dir, or the resource flags",
            EXIT_ENVIRONMENT,
        )
    terraform = shutil.which("terraform")
    if terraform is None:
        raise CliError(
            "terraform is not installed: install it, or pass --bucket, --table, "
            "--state-machine-arn and --durable-function (or ALBUMS_* variables)",
            EXIT_ENVIRONMENT,
        )
    completed = subprocess.run(  # noqa: S603 - a fixed command line, no shell
        [terraform, f"-chdir={root}", "output", "-no-color", "-json"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if completed.returncode != 0:
        lines = [line.strip() for line in completed.stderr.splitlines() if line.strip()]
        first_error = next((line for line in lines if line.startswith("Error")), None)
        reason = first_error or (lines[-1] if lines else "no message")
        raise CliError(
            f"terraform output failed in {root}: {reason} (run `terraform init` there, or "
            "pass the resource flags)",
            EXIT_ENVIRONMENT,
        )
    outputs = json.loads(completed.stdout or "{}")
    if not outputs:
        raise CliError(
            f"{root} has no outputs: deploy it first (make plan apply ENV=...), "
            "or pass the resource flags",
            EXIT_ENVIRONMENT,
        )
    return {name: entry.get("value") for name, entry in outputs.items()}


def resolve_environment(
    name: str,
    flags: Mapping[str, str | None],
    *,
    tf_dir: Path | None = None,
    environ: Mapping[str, str] | None = None,
    outputs: TerraformOutput = terraform_output,
) -> Environment:
    """Resolve every resource name: flags first, then ``ALBUMS_*`` variables, then Terraform.

    Raises
    ------
    CliError
        When a required name is found nowhere (the message says where it was looked for).
    """
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for setting, (_, variable, _) in SETTINGS.items():
        values[setting] = flags.get(setting) or environ.get(variable) or None
    root = tf_dir or REPO_ROOT / "terraform" / "environments" / name
    required = ("bucket", "table", "state_machine_arn", "durable_function")
    dead_letter_queues: Mapping[str, str] = {}
    if any(values[setting] is None for setting in required):
        found = outputs(root)
        for setting, (output, _, _) in SETTINGS.items():
            if values[setting] is None and isinstance(found.get(output), str):
                values[setting] = found[output]
        queues = found.get("dead_letter_queue_urls")
        if isinstance(queues, Mapping):
            dead_letter_queues = {str(k): str(v) for k, v in queues.items()}
    missing = [setting for setting in required if not values[setting]]
    if missing:
        names = ", ".join(f"--{s.replace('_', '-')}" for s in missing)
        raise CliError(f"missing {names} (not in terraform output of {root})", EXIT_ENVIRONMENT)
    return Environment(
        name=name,
        region=values["region"] or environ.get("AWS_REGION") or "us-east-1",
        bucket=values["bucket"],
        table=values["table"],
        state_machine_arn=values["state_machine_arn"],
        durable_function=values["durable_function"],
        api_url=values["api_url"] or "",
        dead_letter_queues=dead_letter_queues,
    )


@dataclass(frozen=True, slots=True)
class Clients:
    """The boto3 clients the commands use (tests pass moto's or stubbed ones)."""

    s3: Any
    dynamodb: Any
    stepfunctions: Any
    lambda_: Any
    cloudwatch: Any
    sqs: Any

    @classmethod
    def for_region(cls, region: str) -> Clients:
        """Return real clients of ``region`` (credentials from the usual AWS chain)."""
        session = boto3.session.Session(region_name=region)
        return cls(
            s3=session.client("s3"),
            dynamodb=session.client("dynamodb"),
            stepfunctions=session.client("stepfunctions"),
            lambda_=session.client("lambda"),
            cloudwatch=session.client("cloudwatch"),
            sqs=session.client("sqs"),
        )
