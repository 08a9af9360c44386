"""Where a deployed environment is: flags, ``ALBUMS_*`` variables, or ``terraform output``.

Each resource name can be given by a flag (``--table``), by an environment variable
(``ALBUMS_TABLE``) or, for whatever a command needs and is still missing, read from
``terraform output -json`` of the environment's root (``terraform/environments/<env>``).
Terraform runs only when something is missing, so an operator without access to the state
can pass every name instead. Each command asks only for what it uses (``upload`` needs the
bucket, ``tasks`` the table...).

The region is ``--region`` / ``ALBUMS_REGION``, else Terraform's ``region`` output when
Terraform was read, else the AWS SDK's own default (``AWS_REGION``, the profile).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess  # nosec B404  # fixed command lines only, never a shell
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from albums_cli.console import EXIT_ENVIRONMENT, EXIT_USAGE, CliError

REPO_ROOT: Final = Path(__file__).resolve().parent.parent
#: Where ``--env NAME`` looks for its Terraform root.
ENVIRONMENTS_DIR: Final = REPO_ROOT / "terraform" / "environments"
#: Longest wait for ``terraform output`` (it may read remote state).
TERRAFORM_TIMEOUT_S: Final = 120
_ENV_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


@dataclass(frozen=True, slots=True)
class Setting:
    """One resource name: its Terraform output, environment variable and flag."""

    output: str
    variable: str
    description: str

    def flag(self, name: str) -> str:
        """Return the command-line flag of setting ``name`` (``--state-machine-arn``)."""
        return "--" + name.replace("_", "-")


#: Resource names a command may need, by setting name.
SETTINGS: Final[Mapping[str, Setting]] = {
    "bucket": Setting("bucket_name", "ALBUMS_BUCKET", "uploads bucket"),
    "table": Setting("table_name", "ALBUMS_TABLE", "DynamoDB table"),
    "state_machine_arn": Setting(
        "state_machine_arn", "ALBUMS_STATE_MACHINE_ARN", "Step Functions state machine ARN"
    ),
    "durable_function": Setting(
        "durable_alias_arn", "ALBUMS_DURABLE_FUNCTION", "durable function alias ARN (or name)"
    ),
}
REGION: Final = Setting("region", "ALBUMS_REGION", "AWS region of the environment")
DEAD_LETTER_QUEUES: Final = Setting(
    "dead_letter_queue_urls", "ALBUMS_DLQ_URLS", "dead-letter queue URL by name"
)


@dataclass(frozen=True, slots=True)
class Environment:
    """The names of one deployed environment's resources (``""`` when not needed and unknown).

    ``region`` is ``None`` when neither a flag, a variable nor Terraform named it: the AWS
    SDK's default region applies.
    """

    name: str
    region: str | None = None
    bucket: str = ""
    table: str = ""
    state_machine_arn: str = ""
    durable_function: str = ""
    dead_letter_queues: Mapping[str, str] = field(default_factory=dict)


#: Reads a Terraform root's outputs as ``{name: value}`` (injectable for tests).
TerraformOutputs = Callable[[Path], Mapping[str, Any]]


def _terraform_error_line(stderr: str) -> str:
    """Return the ``Error: ...`` line of Terraform's stderr (else its last line)."""
    lines = [line.strip(" │╷╵\t") for line in stderr.splitlines()]
    lines = [line for line in lines if line]
    for line in lines:
        if line.startswith("Error:"):
            return line.removeprefix("Error:").strip()
    return lines[-1] if lines else "no message"


def terraform_outputs(root: Path) -> dict[str, Any]:
    """Return ``terraform output -json`` of ``root`` as ``{name: value}``.

    Raises
    ------
    CliError
        When the root does not exist, terraform is missing, fails, times out, prints no
        JSON, or the environment has no outputs (not applied); the message says what to do.
    """
    flags = "--bucket, --table, --state-machine-arn, --durable-function"
    if not root.is_dir():
        raise CliError(
            f"no Terraform environment at {root}: use --env dev|prod or --tf-dir DIR, "
            f"or pass {flags} (or ALBUMS_* variables)",
            EXIT_ENVIRONMENT,
        )
    terraform = shutil.which("terraform")
    if terraform is None:
        raise CliError(
            f"terraform is not installed: install it, or pass {flags} (or ALBUMS_* variables)",
            EXIT_ENVIRONMENT,
        )
    command = [terraform, f"-chdir={root}", "output", "-json", "-no-color"]
    try:
        completed = subprocess.run(  # noqa: S603 - a fixed command line, no shell  # nosec B603
            command, capture_output=True, text=True, check=False, timeout=TERRAFORM_TIMEOUT_S
        )
    except subprocess.TimeoutExpired:
        raise CliError(
            f"terraform output did not answer within {TERRAFORM_TIMEOUT_S} s in {root}: "
            f"check access to its state, or pass {flags}",
            EXIT_ENVIRONMENT,
        ) from None
    if completed.returncode != 0:
        raise CliError(
            f"terraform output failed in {root}: {_terraform_error_line(completed.stderr)} "
            f"(run `make plan ENV=...` once to initialise it, or pass {flags})",
            EXIT_ENVIRONMENT,
        )
    try:
        outputs = json.loads(completed.stdout or "{}")
    except ValueError:
        raise CliError(f"terraform output in {root} printed no JSON", EXIT_ENVIRONMENT) from None
    if not isinstance(outputs, dict) or not outputs:
        raise CliError(
            f"{root} has no outputs: the environment is not deployed yet "
            f"(make plan apply ENV=...), or pass {flags}",
            EXIT_ENVIRONMENT,
        )
    return {
        str(name): entry.get("value") if isinstance(entry, dict) else None
        for name, entry in outputs.items()
    }


def parse_queue_pairs(pairs: Iterable[str], origin: str) -> dict[str, str]:
    """Read ``NAME=URL`` pairs (``--dlq`` or ``ALBUMS_DLQ_URLS``, comma separated).

    Raises
    ------
    CliError
        For a pair without a name or an ``https://`` URL.
    """
    queues: dict[str, str] = {}
    for pair in pairs:
        name, separator, url = pair.strip().partition("=")
        if not separator or not name.strip() or not url.strip().startswith("https://"):
            raise CliError(
                f"{origin} {pair!r}: write it as NAME=https://sqs.REGION.amazonaws.com/..."
            )
        queues[name.strip()] = url.strip()
    return queues


def environment_root(name: str, tf_dir: Path | None) -> Path:
    """Return the Terraform root of ``--env name`` (or ``--tf-dir``).

    Raises
    ------
    CliError
        When the name is not a plain environment name (``dev``, ``prod``...).
    """
    if tf_dir is not None:
        return tf_dir
    if not _ENV_NAME.fullmatch(name):
        raise CliError(f"--env {name!r} is not an environment name (dev, prod, ...)", EXIT_USAGE)
    return ENVIRONMENTS_DIR / name


def resolve_environment(
    name: str,
    flags: Mapping[str, Any],
    *,
    needs: Sequence[str],
    tf_dir: Path | None = None,
    environ: Mapping[str, str] | None = None,
    outputs: TerraformOutputs = terraform_outputs,
) -> Environment:
    """Resolve the names a command needs: flags first, then ``ALBUMS_*``, then Terraform.

    Parameters
    ----------
    name
        The environment (``--env``), naming its Terraform root.
    flags
        Setting name to the flag's value (``None`` when not given); ``region`` and
        ``dead_letter_queues`` (a list of ``NAME=URL``) too.
    needs
        Settings the command cannot run without (keys of :data:`SETTINGS`, or
        ``"dead_letter_queues"``).
    tf_dir
        A Terraform root instead of the one of ``name``.
    environ
        The process environment (default ``os.environ``).
    outputs
        Reads a root's outputs (default: runs ``terraform output -json``).

    Raises
    ------
    CliError
        When a needed name is found nowhere (the message names the flag and variable), or
        Terraform cannot be read.
    """
    environ = os.environ if environ is None else environ
    values: dict[str, str] = {}
    for setting, spec in SETTINGS.items():
        value = flags.get(setting) or environ.get(spec.variable)
        if value:
            values[setting] = str(value)
    region = flags.get("region") or environ.get(REGION.variable) or None
    queues = parse_queue_pairs(flags.get("dead_letter_queues") or (), "--dlq")
    if not queues and environ.get(DEAD_LETTER_QUEUES.variable):
        variable = DEAD_LETTER_QUEUES.variable
        queues = parse_queue_pairs(environ[variable].split(","), variable)
    missing = [
        setting
        for setting in needs
        if (setting == "dead_letter_queues" and not queues)
        or (setting in SETTINGS and setting not in values)
    ]
    if missing:
        root = environment_root(name, tf_dir)
        found = outputs(root)
        for setting, spec in SETTINGS.items():
            output = found.get(spec.output)
            if setting not in values and isinstance(output, str) and output:
                values[setting] = output
        if region is None and isinstance(found.get(REGION.output), str):
            region = found[REGION.output]
        listed = found.get(DEAD_LETTER_QUEUES.output)
        if not queues and isinstance(listed, Mapping):
            queues = {str(key): str(url) for key, url in listed.items() if url}
        _refuse_missing(needs, values, queues, root)
    return Environment(
        name=name,
        region=region,
        bucket=values.get("bucket", ""),
        table=values.get("table", ""),
        state_machine_arn=values.get("state_machine_arn", ""),
        durable_function=values.get("durable_function", ""),
        dead_letter_queues=queues,
    )


def _refuse_missing(
    needs: Sequence[str], values: Mapping[str, str], queues: Mapping[str, str], root: Path
) -> None:
    still = []
    for setting in needs:
        if setting == "dead_letter_queues" and not queues:
            still.append(
                f"--dlq NAME=URL ({DEAD_LETTER_QUEUES.variable}; "
                f"no {DEAD_LETTER_QUEUES.output} output)"
            )
        elif setting in SETTINGS and setting not in values:
            spec = SETTINGS[setting]
            still.append(f"{spec.flag(setting)} (${spec.variable}; no {spec.output} output)")
    if still:
        raise CliError(f"missing {', '.join(still)} in {root}", EXIT_ENVIRONMENT)


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
    def for_region(cls, region: str | None) -> Clients:
        """Return real clients of ``region`` (credentials from the usual AWS chain).

        boto3 is imported here so ``albums --help`` and the local demo do not pay for it.
        """
        import boto3  # noqa: PLC0415

        session = boto3.session.Session(region_name=region)
        return cls(
            s3=session.client("s3"),
            dynamodb=session.client("dynamodb"),
            stepfunctions=session.client("stepfunctions"),
            lambda_=session.client("lambda"),
            cloudwatch=session.client("cloudwatch"),
            sqs=session.client("sqs"),
        )
