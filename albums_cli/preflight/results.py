"""What a check comes to: its printed line, a failed AWS call, a bad-input error."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    CredentialRetrievalError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    SSOError,
    TokenRetrievalError,
)

from albums_cli.console import (
    EXIT_USAGE,
    CliError,
    client_error_code,
    describe_client_error,
    one_line,
)
from albums_cli.environment import REPO_ROOT

#: Client-side errors that mean "no usable credentials or region": the command stops.
_CREDENTIAL_ERRORS: Final = (
    NoCredentialsError,
    PartialCredentialsError,
    CredentialRetrievalError,
    TokenRetrievalError,
    SSOError,
    NoRegionError,
)


class Status(StrEnum):
    """The outcome of one check, as printed at the start of its line."""

    OK = "ok"
    FAIL = "FAIL"
    SKIP = "skip"


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One printed line: the check's name, its outcome and the detail (and indented notes)."""

    name: str
    status: Status
    detail: str
    notes: tuple[str, ...] = ()

    def render(self) -> str:
        """Return the line (``FAIL name: detail``) and its notes, indented below it."""
        lines = [f"{self.status.value:<4} {self.name}: {self.detail}"]
        lines += [f"     {note}" for note in self.notes]
        return "\n".join(lines)


def _ok(name: str, detail: str, notes: Sequence[str] = ()) -> CheckResult:
    return CheckResult(name, Status.OK, detail, tuple(notes))


def _fail(name: str, detail: str, notes: Sequence[str] = ()) -> CheckResult:
    return CheckResult(name, Status.FAIL, detail, tuple(notes))


def _skip(name: str, detail: str) -> CheckResult:
    return CheckResult(name, Status.SKIP, detail)


@dataclass(frozen=True, slots=True)
class _Failed:
    """A failed AWS call: its error code (``""`` when client-side) and one line about it."""

    code: str
    message: str


def _attempt(call: Callable[[], dict[str, Any]]) -> dict[str, Any] | _Failed:
    """Return the call's response, or what failed; missing credentials are raised."""
    try:
        return call()
    except _CREDENTIAL_ERRORS:
        raise
    except ClientError as error:
        return _Failed(client_error_code(error), describe_client_error(error))
    except BotoCoreError as error:
        return _Failed("", one_line(error, 300))


def _display(path: Path) -> str:
    """Return ``path`` relative to the repository when it is inside it."""
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def _bad(origin: str, where: str, problem: str) -> CliError:
    """Return the bad-input error (exit 2) about field ``where`` of the file ``origin``."""
    return CliError(f"{origin}: {where}: {problem}", EXIT_USAGE)
