"""``albums``: run the comparison locally, or work with a deployed environment.

Local mode needs no AWS account::

    albums demo [--uploads N] [--out DIR] [--interactive] [--vision-latency S]
                [--price-latency S] [--fail-rate R]

Against a deployed environment (``terraform output -json`` of ``--env``, or flags)::

    albums upload PATH...      albums tasks       albums validate TASK ...
    albums status [EXECUTION]  albums report      albums redrive

Before and after ``make apply``, a read-only check of the real account and region::

    albums preflight [--env ENV] [--region R] [--definition PATH] [--state PATH]

Exit codes: 0 success, 1 the run or part of the command did not succeed, 2 usage or bad input,
3 not found, 4 conflict (already answered or expired), 5 AWS or environment error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from albums_cli import deployed, preflight
from albums_cli.console import number_argument

#: Defaults of ``albums demo``: a Bedrock vision call and a price lookup take about this long.
DEFAULT_VISION_LATENCY_S = 1.5
DEFAULT_PRICE_LATENCY_S = 0.4


#: Seconds of simulated latency: 0 or more (NaN, false in every comparison, is refused).
_non_negative = number_argument(
    float, "a number of seconds", lambda value: value >= 0, "{text} must be 0 or more"
)
_rate = number_argument(
    float,
    "a rate between 0 and 1",
    lambda value: 0 <= value < 1,
    "{text} must be at least 0 and below 1",
)


def _uploads(text: str) -> int:
    from localmode.demo import MAX_UPLOADS  # noqa: PLC0415 - keep `albums --help` fast

    return number_argument(
        int,
        "a whole number",
        lambda value: 1 <= value <= MAX_UPLOADS,
        f"uploads must be between 1 and {MAX_UPLOADS}",
    )(text)


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of every ``albums`` command."""
    parser = argparse.ArgumentParser(
        prog="albums",
        description="Album registration: Step Functions and Lambda durable functions, compared.",
        epilog="Exit codes: 0 ok, 1 not everything succeeded, 2 usage or bad input, 3 not found, "
        "4 conflict, 5 AWS or environment error.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser(
        "demo",
        help="run sample uploads through both patterns locally and write the report",
        description="Local mode: no AWS account. Uploads sample shelf photos, lets the "
        "EventBridge rule start both patterns, answers validations, waits for every "
        "execution and writes report.json, report.md and charts.",
    )
    demo.add_argument("--uploads", type=_uploads, default=5, help="sample photos (1-100)")
    demo.add_argument(
        "--out", type=Path, default=Path("out/demo"), help="report folder (default out/demo)"
    )
    demo.add_argument(
        "--interactive",
        action="store_true",
        help="answer validations yourself in the validation page (links are printed)",
    )
    demo.add_argument(
        "--vision-latency",
        type=_non_negative,
        default=DEFAULT_VISION_LATENCY_S,
        metavar="S",
        help=f"simulated seconds per vision call (default {DEFAULT_VISION_LATENCY_S})",
    )
    demo.add_argument(
        "--price-latency",
        type=_non_negative,
        default=DEFAULT_PRICE_LATENCY_S,
        metavar="S",
        help=f"simulated seconds per price call (default {DEFAULT_PRICE_LATENCY_S})",
    )
    demo.add_argument(
        "--fail-rate",
        type=_rate,
        default=0.0,
        metavar="R",
        help="share of price calls that fail transiently and are retried (default 0)",
    )
    demo.add_argument("--seed", type=int, default=0, help="seed of the injected failures")
    demo.add_argument(
        "--timeout",
        type=_non_negative,
        default=None,
        metavar="S",
        help="longest wait for each execution (default 120 s; 1 h with --interactive)",
    )
    demo.set_defaults(run=_run_demo)

    deployed.add_commands(commands)
    preflight.add_command(commands)
    return parser


def _run_demo(arguments: argparse.Namespace) -> int:
    from localmode.demo import DemoError, DemoOptions, run_local  # noqa: PLC0415

    timeout = arguments.timeout or (3600.0 if arguments.interactive else 120.0)
    options = DemoOptions(
        uploads=arguments.uploads,
        vision_latency_s=arguments.vision_latency,
        price_latency_s=arguments.price_latency,
        fail_rate=arguments.fail_rate,
        seed=arguments.seed,
        interactive=arguments.interactive,
        timeout_s=timeout,
    )
    try:
        run = run_local(options, out_dir=arguments.out)
    except DemoError as error:
        print(f"albums demo: {error}", file=sys.stderr)
        return 1
    if not run.succeeded:
        print(
            "albums demo: not every execution completed with equal results in both "
            f"patterns; see {arguments.out}/report.md",
            file=sys.stderr,
        )
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run one ``albums`` command; return its exit code."""
    parser = build_parser()
    arguments = parser.parse_args(argv)
    code: int = arguments.run(arguments)
    return code


if __name__ == "__main__":
    sys.exit(main())
