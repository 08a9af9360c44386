"""The state machine definition as deployed, against the States Language and the service.

``make tf-check`` renders each environment's definition (``scripts/tf_render.py``) and runs
this on ``out/tf-check/ENV/state_machine.asl.json``:

1. statelint (PyPI), the States Language validator after awslabs/statelint: structure,
   field types, transitions, reachable and terminal states;
2. the rules of the service that statelint does not know (AWS Step Functions developer
   guide, "Task" state and "Quotas"): ``HeartbeatSeconds`` smaller than ``TimeoutSeconds``,
   every timeout a positive whole number within a Standard execution's one year, retrier
   numbers within the service's bounds, in every state and every nested Map or Parallel.

Prints one line per problem and exits 1 when there is any.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Final

#: A Standard execution lasts at most one year; no timeout can usefully be longer.
MAX_SECONDS: Final = 31_536_000
#: The service's bound on retrier fields (MaxAttempts, IntervalSeconds, MaxDelaySeconds).
MAX_RETRIER_VALUE: Final = 99_999_999


def _states(definition: Mapping[str, Any], path: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for name, state in (definition.get("States") or {}).items():
        where = f"{path}.{name}"
        yield where, state
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if isinstance(processor, Mapping):
            yield from _states(processor, f"{where}.ItemProcessor")
        for index, branch in enumerate(state.get("Branches") or []):
            yield from _states(branch, f"{where}.Branches[{index}]")


def _seconds(where: str, field: str, value: Any) -> list[str]:
    if isinstance(value, bool) or not isinstance(value, int):
        return [f"{where}: {field} must be a whole number of seconds, not {value!r}"]
    if not 1 <= value <= MAX_SECONDS:
        return [
            f"{where}: {field} {value} is outside 1..{MAX_SECONDS} (a Standard execution's year)"
        ]
    return []


def service_rules(definition: Mapping[str, Any]) -> list[str]:
    """Problems with the service rules statelint does not check."""
    problems: list[str] = []
    if "TimeoutSeconds" in definition:
        problems += _seconds("$", "TimeoutSeconds", definition["TimeoutSeconds"])
    for where, state in _states(definition, "$.States"):
        timeout = state.get("TimeoutSeconds")
        heartbeat = state.get("HeartbeatSeconds")
        for field, value in (("TimeoutSeconds", timeout), ("HeartbeatSeconds", heartbeat)):
            if value is not None:
                problems += _seconds(where, field, value)
        if isinstance(timeout, int) and isinstance(heartbeat, int) and heartbeat >= timeout:
            problems.append(
                f"{where}: HeartbeatSeconds ({heartbeat}) must be smaller than TimeoutSeconds "
                f"({timeout}); AWS refuses the definition otherwise"
            )
        for index, retrier in enumerate(state.get("Retry") or []):
            label = f"{where}.Retry[{index}]"
            for field in ("MaxAttempts", "IntervalSeconds", "MaxDelaySeconds"):
                value = retrier.get(field)
                if value is not None and not (
                    isinstance(value, int) and 0 <= value <= MAX_RETRIER_VALUE
                ):
                    problems.append(f"{label}: {field} {value!r} is outside 0..{MAX_RETRIER_VALUE}")
            rate = retrier.get("BackoffRate")
            if rate is not None and not (isinstance(rate, int | float) and rate >= 1.0):
                problems.append(f"{label}: BackoffRate {rate!r} must be at least 1.0")
    return problems


def statelint_problems(text: str) -> list[str]:
    """What statelint finds in a definition's JSON text."""
    from statelint.config import Config  # noqa: PLC0415 - a dev tool, loaded when used
    from statelint.linter import Linter  # noqa: PLC0415
    from statelint.problem import ProblemType  # noqa: PLC0415

    # JSON has one number type: the template writes "BackoffRate": 2, which the service
    # accepts; statelint makes its float-only check optional for that reason.
    ignored = {ProblemType.FLOAT}
    return [str(problem) for problem in Linter.validate(text, Config(ignored, False, False))]


def check(path: Path) -> list[str]:
    """Every problem of the definition in ``path``."""
    text = path.read_text(encoding="utf-8")
    try:
        definition = json.loads(text)
    except ValueError as error:
        return [f"not JSON: {error}"]
    return [f"statelint: {p}" for p in statelint_problems(text)] + service_rules(definition)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("definitions", type=Path, nargs="+")
    args = parser.parse_args(argv)
    failed = False
    for path in args.definitions:
        problems = check(path)
        for problem in problems:
            print(f"asl-check: FAIL {path}: {problem}")
        if not problems:
            print(f"asl-check: ok   {path}: statelint and the service rules pass")
        failed = failed or bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
