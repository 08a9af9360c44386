"""``albums`` commands against a deployed environment: the parser and the runner.

=========================  ==================================================================
``upload PATH...``         put photos under ``uploads/<prefix>/``: both patterns start
                           (:mod:`albums_cli.uploads`)
``tasks``                  the pending validations of both patterns, grouped by upload
                           (:mod:`albums_cli.reviews`)
``validate TASK ...``      answer an upload once (``--year N=YYYY``, ``--accept``,
                           ``--reject REASON``): every pending task of it, in both patterns
``status [EXECUTION]``     one execution (id or ARN), or the recent ones of each pattern
                           (:mod:`albums_cli.status`)
``report [--since ...]``   the comparison report from the table, histories and CloudWatch
                           (:mod:`albums_cli.deployed_report`, :mod:`albums_cli.report`)
``redrive``                undelivered answers, failed Step Functions executions, DLQ events
                           (:mod:`albums_cli.redrive`)
=========================  ==================================================================

Where the environment is: :mod:`albums_cli.environment` (``--env``, flags, ``ALBUMS_*``
variables, ``terraform output -json``). Each command is a function of an
:class:`~albums_cli.environment.Environment` and :class:`~albums_cli.environment.Clients`
(tests pass moto's or stubbed clients); :func:`add_commands` wires them into the parser,
and the runner checks the arguments before the environment is resolved or anything is
called. Every error is one line saying what to do; exit codes (:mod:`albums_cli.console`):
0 done, 1 part of the command did not succeed (the output says which), 2 usage or bad
input, 3 not found, 4 conflict (answered or expired), 5 environment or AWS error.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from botocore.exceptions import BotoCoreError, ClientError

from albums.adapters.repository import MAX_PAGE_SIZE
from albums.domain.errors import AlbumRegistrationError
from albums.observability import get_logger
from albums_cli import redrive as redriving
from albums_cli.console import (
    EXIT_ENVIRONMENT,
    EXIT_FAILED,
    EXIT_OK,
    CliError,
    aws_call,
    describe_client_error,
    emit,
    exit_code_of,
    number_argument,
    one_line,
)
from albums_cli.environment import (
    DEAD_LETTER_QUEUES,
    REGION,
    SETTINGS,
    Clients,
    Environment,
    TerraformOutputs,
    resolve_environment,
    terraform_outputs,
)
from albums_cli.reviews import (
    build_answer,
    pending_reviews,
    review_target,
    tasks_text,
    unresumed,
    validate,
    validate_text,
)
from albums_cli.status import (
    execution_ref,
    execution_status,
    recent_executions,
    summary_text,
    summary_view,
)
from albums_cli.uploads import DEFAULT_PREFIX, plan_uploads, put_uploads, upload_text

# --- report ----------------------------------------------------------------------------------


def parse_since(text: str, *, now: datetime) -> datetime:
    """Read ``--since``: an ISO-8601 time (UTC without a zone) or an age like ``24h``/``7d``.

    Raises
    ------
    CliError
        For anything else, or a time not before ``now``.
    """
    # The report's modules load only for the commands that read a time window.
    from albums_cli.dataset import ReportError  # noqa: PLC0415
    from albums_cli.report import since_from_text  # noqa: PLC0415

    try:
        since = since_from_text(text, now=now)
    except ReportError as error:
        raise CliError(error.message) from None
    if since >= now:
        raise CliError(f"--since {text!r} is not in the past")
    return since


def write_deployed_report(
    environment: Environment,
    clients: Clients,
    *,
    since: datetime,
    out_dir: Path,
    max_executions: int,
) -> list[Path]:
    """Collect both patterns' figures since ``since`` and write the report into ``out_dir``.

    The vision model is the durable function's ``BEDROCK_MODEL_ID``.

    Raises
    ------
    CliError
        When a resource cannot be read (the message names it and the AWS error), or the
        report cannot be written.
    """
    # Loaded only for `albums report` (the report pulls in the cost model and matplotlib).
    from albums_cli.dataset import ReportError  # noqa: PLC0415
    from albums_cli.deployed_report import collect_deployed  # noqa: PLC0415
    from albums_cli.report import build_report, write_report  # noqa: PLC0415

    with aws_call(f"read the configuration of {environment.durable_function}"):
        configuration = clients.lambda_.get_function_configuration(
            FunctionName=environment.durable_function
        )
    variables = configuration.get("Environment", {}).get("Variables", {})
    try:
        dataset = collect_deployed(
            dynamodb=clients.dynamodb,
            table_name=environment.table,
            stepfunctions=clients.stepfunctions,
            state_machine_arn=environment.state_machine_arn,
            lambda_client=clients.lambda_,
            durable_function_name=environment.durable_function,
            cloudwatch=clients.cloudwatch,
            vision=str(variables.get("BEDROCK_MODEL_ID") or "unknown"),
            since=since,
            max_executions=max_executions,
        )
        return write_report(out_dir, build_report(dataset))
    except ReportError as error:
        raise CliError(one_line(error.message, 400), EXIT_ENVIRONMENT) from None


# --- the parser and the runner ----------------------------------------------------------------


@dataclass
class Invocation:
    """One run of a command: its arguments, streams, clock, and how to reach the environment."""

    arguments: argparse.Namespace
    out: TextIO
    err: TextIO
    clock: Callable[[], datetime]
    clients: Clients | None = None
    environ: Mapping[str, str] | None = None
    outputs: TerraformOutputs = terraform_outputs

    @property
    def as_json(self) -> bool:
        """Whether ``--json`` was given."""
        return bool(self.arguments.json)

    def environment(self, *needs: str) -> Environment:
        """Resolve the environment with what the command ``needs`` (Terraform if missing)."""
        arguments = self.arguments
        flags = {name: getattr(arguments, name, None) for name in SETTINGS}
        flags["region"] = arguments.region
        flags["dead_letter_queues"] = arguments.dlq
        environ = os.environ if self.environ is None else self.environ
        return resolve_environment(
            arguments.env or environ.get("ALBUMS_ENV") or "dev",
            flags,
            needs=needs,
            tf_dir=arguments.tf_dir,
            environ=environ,
            outputs=self.outputs,
        )

    def aws(self, environment: Environment) -> Clients:
        """Return the injected clients, else real ones of the environment's region."""
        if self.clients is None:
            with aws_call("create the AWS clients"):
                self.clients = Clients.for_region(environment.region)
        return self.clients

    def partly_failed(self, what: str, failures: Sequence[str]) -> int:
        """Print one line about what did not succeed; return :data:`EXIT_FAILED`."""
        first = one_line(failures[0], 200)
        more = f" (and {len(failures) - 1} more, listed above)" if len(failures) > 1 else ""
        print(f"albums {self.arguments.command}: {what}: {first}{more}", file=self.err)
        return EXIT_FAILED


def _upload(run: Invocation) -> int:
    arguments = run.arguments
    planned = plan_uploads(arguments.paths, arguments.prefix)  # before Terraform runs
    environment = run.environment("bucket")
    uploaded = put_uploads(environment, run.aws(environment), planned)
    emit(
        uploaded,
        as_json=run.as_json,
        text=lambda: upload_text(uploaded, environment.bucket),
        out=run.out,
    )
    return EXIT_OK


def _tasks(run: Invocation) -> int:
    environment = run.environment("table")
    pending = pending_reviews(environment, run.aws(environment))
    now = run.clock()
    emit(
        [upload.to_dict(now) for upload in pending],
        as_json=run.as_json,
        text=lambda: tasks_text(pending, now),
        out=run.out,
    )
    return EXIT_OK


def _validate(run: Invocation) -> int:
    arguments = run.arguments
    review_target(arguments.target)
    answer = build_answer(
        years=arguments.year,
        accept=arguments.accept,
        reject=arguments.reject,
        this_year=run.clock().year,
    )
    environment = run.environment("table")
    outcome = validate(environment, run.aws(environment), arguments.target, answer, clock=run.clock)
    emit(outcome.to_dict(), as_json=run.as_json, text=lambda: validate_text(outcome), out=run.out)
    stuck = unresumed(outcome)
    if stuck:
        return run.partly_failed("the answer is stored but a workflow was not resumed", stuck)
    return EXIT_OK


def _status(run: Invocation) -> int:
    arguments = run.arguments
    if arguments.execution is not None:
        execution_ref(arguments.execution)
        environment = run.environment("table")
        view = execution_status(environment, run.aws(environment), arguments.execution)
        emit(view.to_dict(), as_json=run.as_json, text=view.render, out=run.out)
        return EXIT_OK
    environment = run.environment("table")
    recent = recent_executions(environment, run.aws(environment), limit=arguments.limit)
    summary = summary_view(recent)
    emit(summary, as_json=run.as_json, text=lambda: summary_text(summary), out=run.out)
    return EXIT_OK


def _report(run: Invocation) -> int:
    arguments = run.arguments
    since = parse_since(arguments.since, now=run.clock())
    environment = run.environment("table", "state_machine_arn", "durable_function")
    paths = write_deployed_report(
        environment,
        run.aws(environment),
        since=since,
        out_dir=arguments.out,
        max_executions=arguments.max_executions,
    )
    emit(
        {"out": str(arguments.out), "files": [str(path) for path in paths]},
        as_json=run.as_json,
        text=lambda: f"report written to {arguments.out}/: " + ", ".join(p.name for p in paths),
        out=run.out,
    )
    return EXIT_OK


def _redrive(run: Invocation) -> int:
    arguments = run.arguments
    now = run.clock()
    since = parse_since(arguments.since, now=now)
    environment = run.environment(
        "table", "state_machine_arn", "durable_function", "dead_letter_queues"
    )
    report = redriving.redrive(
        environment,
        run.aws(environment),
        since=since,
        now=now,
        dry_run=arguments.dry_run,
        max_events=arguments.max_events,
    )
    emit(report.to_dict(), as_json=run.as_json, text=report.render, out=run.out)
    if report.failures:
        return run.partly_failed(
            "some answers, executions or events were not sent again", report.failures
        )
    return EXIT_OK


def _utc_now() -> datetime:
    return datetime.now(UTC)


@contextmanager
def _shared_logs_quiet() -> Iterator[None]:
    """Keep the shared code's JSON log lines (meant for CloudWatch) out of the output.

    The commands report every outcome themselves, and ``--json`` output must stay JSON.
    """
    logger = get_logger()
    level = logger.log_level
    logger.setLevel("CRITICAL")
    try:
        yield
    finally:
        logger.setLevel(level)


def _runner(command: Callable[[Invocation], int]) -> Callable[..., int]:
    """Wrap a command: inject clients, streams and clock; turn every error into one line."""

    def run(
        arguments: argparse.Namespace,
        *,
        clients: Clients | None = None,
        out: TextIO | None = None,
        err: TextIO | None = None,
        environ: Mapping[str, str] | None = None,
        outputs: TerraformOutputs = terraform_outputs,
        clock: Callable[[], datetime] = _utc_now,
    ) -> int:
        errors = err or sys.stderr
        invocation = Invocation(
            arguments, out or sys.stdout, errors, clock, clients, environ, outputs
        )
        try:
            with _shared_logs_quiet():
                return command(invocation)
        except CliError as error:
            message, code = error.message, error.exit_code
        except AlbumRegistrationError as error:
            message, code = error.message, exit_code_of(error)
        except ClientError as error:
            message, code = f"AWS error: {describe_client_error(error)}", EXIT_ENVIRONMENT
        except BotoCoreError as error:
            message = f"{error} (check your AWS credentials and --region)"
            code = EXIT_ENVIRONMENT
        print(f"albums {arguments.command}: {one_line(message, 600)}", file=errors)
        return code

    return run


def _positive_int(maximum: int) -> Callable[[str], int]:
    return number_argument(
        int,
        "a whole number",
        lambda value: 1 <= value <= maximum,
        f"{{text}} must be between 1 and {maximum}",
    )


def _common_options() -> argparse.ArgumentParser:
    """Return the options every deployed-environment command takes (an argparse parent)."""
    common = argparse.ArgumentParser(add_help=False)
    where = common.add_argument_group(
        "environment",
        "Each name comes from its flag, else its ALBUMS_* variable, else "
        "`terraform output -json` of terraform/environments/ENV (read only when needed).",
    )
    where.add_argument(
        "--env",
        metavar="ENV",
        help="the environment whose Terraform outputs to read: dev or prod "
        "($ALBUMS_ENV, default dev)",
    )
    where.add_argument("--tf-dir", type=Path, metavar="DIR", help="a Terraform root instead")
    where.add_argument(
        "--region", metavar="REGION", help=f"{REGION.description} (${REGION.variable})"
    )
    for name, setting in SETTINGS.items():
        where.add_argument(
            setting.flag(name),
            dest=name,
            metavar="ARN" if name.endswith(("_arn", "function")) else "NAME",
            help=f"{setting.description} (${setting.variable})",
        )
    where.add_argument(
        "--dlq",
        action="append",
        metavar="NAME=URL",
        help=f"a dead-letter queue, repeatable (${DEAD_LETTER_QUEUES.variable}: comma separated)",
    )
    common.add_argument("--json", action="store_true", help="print JSON instead of tables")
    return common


def add_commands(commands: Any) -> None:
    """Register ``upload``, ``tasks``, ``validate``, ``status``, ``report`` and ``redrive``.

    Parameters
    ----------
    commands
        The ``albums`` parser's sub-parsers (``add_subparsers()``). Each command's
        ``run(arguments)`` returns the exit code.
    """
    common = [_common_options()]

    upload_parser = commands.add_parser(
        "upload",
        parents=common,
        help="put photos into the uploads bucket (both patterns start)",
        description="Check each photo (name, size, JPEG/PNG/WebP content), then put it "
        "under uploads/PREFIX/ with its content type. A bad photo uploads nothing.",
    )
    upload_parser.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    upload_parser.add_argument(
        "--prefix",
        default=DEFAULT_PREFIX,
        help=f"folder under uploads/ (default {DEFAULT_PREFIX})",
    )
    upload_parser.set_defaults(run=_runner(_upload))

    tasks_parser = commands.add_parser(
        "tasks",
        parents=common,
        help="list the pending validations of both patterns, by upload",
    )
    tasks_parser.set_defaults(run=_runner(_tasks))

    validate_parser = commands.add_parser(
        "validate",
        parents=common,
        help="answer an upload's validation in both patterns",
        description="One answer resumes every pending task of the upload, in both "
        "patterns. Albums not corrected are accepted as detected.",
    )
    validate_parser.add_argument(
        "target", metavar="TASK", help="a task id from `albums tasks` (or the upload id)"
    )
    answer = validate_parser.add_mutually_exclusive_group(required=True)
    answer.add_argument(
        "--year",
        action="append",
        metavar="N=YYYY",
        help="correct album N's year (repeat for several albums)",
    )
    answer.add_argument("--accept", action="store_true", help="accept the albums as detected")
    answer.add_argument("--reject", metavar="REASON", help="reject the albums, saying why")
    validate_parser.set_defaults(run=_runner(_validate))

    status_parser = commands.add_parser(
        "status",
        parents=common,
        help="one execution, or the recent ones of each pattern",
    )
    status_parser.add_argument(
        "execution", nargs="?", metavar="EXECUTION", help="an execution id or ARN"
    )
    status_parser.add_argument(
        "--limit",
        type=_positive_int(MAX_PAGE_SIZE),
        metavar="N",
        default=10,
        help="recent executions per pattern (default 10)",
    )
    status_parser.set_defaults(run=_runner(_status))

    report_parser = commands.add_parser(
        "report",
        parents=common,
        help="write the comparison report of a deployed environment",
        description="Reads the table, the execution histories and CloudWatch; writes "
        "report.json, report.md and the charts.",
    )
    report_parser.add_argument(
        "--since", default="24h", help="ISO time or age like 30m, 24h, 7d (default 24h)"
    )
    report_parser.add_argument(
        "--out", type=Path, default=Path("out/report"), help="folder (default out/report)"
    )
    report_parser.add_argument(
        "--max-executions",
        type=_positive_int(10_000),
        metavar="N",
        default=200,
        help="newest executions read per pattern (default 200)",
    )
    report_parser.set_defaults(run=_runner(_report))

    redrive_parser = commands.add_parser(
        "redrive",
        parents=common,
        help="send undelivered answers again, redrive failed executions, re-deliver DLQ events",
        description="Send every reviewer's answer that is stored but did not reach its "
        "workflow again (and answer the pending task of an upload whose answer was stored "
        "for one pattern only), while its wait lasts. Then redrive the state machine's "
        "failed, timed-out and aborted executions "
        "started since --since (those whose failure the table already records are skipped: a "
        "redrive would only repeat their Fail state), then re-deliver each event of the "
        "dead-letter queues to its target (state machine, durable function, recorder) and "
        "delete it only after that succeeded. Re-delivered runs are named redrive-EVENT_ID, "
        "so running this twice starts nothing twice. Failure notifications are counted, "
        "not re-sent.",
    )
    redrive_parser.add_argument(
        "--since", default="14d", help="oldest execution start: ISO time or age (default 14d)"
    )
    redrive_parser.add_argument(
        "--dry-run", action="store_true", help="list and count only; change nothing"
    )
    redrive_parser.add_argument(
        "--max-events",
        type=_positive_int(10_000),
        metavar="N",
        default=redriving.DEFAULT_MAX_EVENTS,
        help=f"most messages read per queue (default {redriving.DEFAULT_MAX_EVENTS})",
    )
    redrive_parser.set_defaults(run=_runner(_redrive))
