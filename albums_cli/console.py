"""What every deployed-environment command shares: exit codes, one-line errors, output.

- :class:`CliError`: the one line a command prints when it stops, and its exit code.
- :func:`aws_call`: turns a failed AWS call into a :class:`CliError` naming what failed.
- :func:`exit_code_of`: the exit code of one of the domain's typed errors.
- :func:`format_table` and :func:`emit`: aligned text tables, or JSON with ``--json``.
- :func:`number_argument`: an argparse type for a number within bounds, with clear refusals.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import Any, Final, TextIO, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from albums.domain.errors import (
    AlbumRegistrationError,
    ExecutionNotFoundError,
    ImageError,
    InvalidAlbumError,
    InvalidRecordError,
    InvalidS3KeyError,
    InvalidSubmissionError,
    InvalidUploadEventError,
    StateRegressionError,
    TaskExpiredError,
    TaskNotFoundError,
    TaskNotPendingError,
)

N = TypeVar("N", int, float)

#: Exit codes of the CLI (``albums --help`` lists them too).
EXIT_OK: Final = 0
#: The command ran, but part of it did not succeed (the output says which part).
EXIT_FAILED: Final = 1
#: Bad arguments or bad input: nothing was changed.
EXIT_USAGE: Final = 2
#: The task, execution, file or upload does not exist.
EXIT_NOT_FOUND: Final = 3
#: The task was answered already or has expired: nothing was changed.
EXIT_CONFLICT: Final = 4
#: The environment cannot be found or reached (Terraform, credentials, an AWS error).
EXIT_ENVIRONMENT: Final = 5

_EXIT_CODES: Final[tuple[tuple[type[AlbumRegistrationError], int], ...]] = (
    (TaskNotFoundError, EXIT_NOT_FOUND),
    (ExecutionNotFoundError, EXIT_NOT_FOUND),
    (TaskNotPendingError, EXIT_CONFLICT),
    (TaskExpiredError, EXIT_CONFLICT),
    (StateRegressionError, EXIT_CONFLICT),
    (InvalidSubmissionError, EXIT_USAGE),
    (InvalidS3KeyError, EXIT_USAGE),
    (InvalidAlbumError, EXIT_USAGE),
    (InvalidRecordError, EXIT_USAGE),
    (InvalidUploadEventError, EXIT_USAGE),
    (ImageError, EXIT_USAGE),
)


class CliError(Exception):
    """One clear line for the user, and the exit code that goes with it.

    Parameters
    ----------
    message
        What went wrong and what to do about it, on one line.
    exit_code
        One of the ``EXIT_*`` codes.
    """

    def __init__(self, message: str, exit_code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


def exit_code_of(error: AlbumRegistrationError) -> int:
    """Return the exit code of a domain error (:data:`EXIT_ENVIRONMENT` when unlisted)."""
    for kind, code in _EXIT_CODES:
        if isinstance(error, kind):
            return code
    return EXIT_ENVIRONMENT


def client_error_code(error: ClientError) -> str:
    """Return the service's error code of a failed call (``""`` when it has none)."""
    return str(error.response.get("Error", {}).get("Code", ""))


def describe_client_error(error: ClientError) -> str:
    """Return ``Code: message`` of a failed call, on one line."""
    details = error.response.get("Error", {})
    code = str(details.get("Code", "Error"))
    message = " ".join(str(details.get("Message", "")).split())
    return f"{code}: {message}" if message else code


@contextmanager
def aws_call(what: str) -> Iterator[None]:
    """Turn a failed AWS call in the block into a :class:`CliError` naming ``what`` failed.

    Service errors keep their code (``AccessDeniedException: ...``); client-side errors
    (no credentials, no region, no connection) say to check them.
    """
    try:
        yield
    except ClientError as error:
        raise CliError(f"{what}: {describe_client_error(error)}", EXIT_ENVIRONMENT) from error
    except BotoCoreError as error:
        raise CliError(
            f"{what}: {error} (check your AWS credentials and --region)", EXIT_ENVIRONMENT
        ) from error


def one_line(text: object, limit: int = 160) -> str:
    """Return ``text`` on one line, shortened to ``limit`` characters."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]], indent: str = "") -> str:
    """Return rows as left-aligned columns under their headers (``-`` for ``None``)."""
    cells = [[("-" if value is None else str(value)) for value in row] for row in rows]
    widths = [len(header) for header in headers]
    for row in cells:
        for column, value in enumerate(row):
            widths[column] = max(widths[column], len(value))

    def line(values: Sequence[str]) -> str:
        padded = (value.ljust(width) for value, width in zip(values, widths, strict=True))
        return (indent + "  ".join(padded)).rstrip()

    return "\n".join([line(list(headers)), *(line(row) for row in cells)])


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return str(value)


def emit(value: Any, *, as_json: bool, text: Callable[[], str], out: TextIO) -> None:
    """Print ``value`` as indented JSON with ``--json``, else the human-readable ``text()``."""
    if as_json:
        print(json.dumps(value, indent=2, default=_json_default), file=out)
    else:
        print(text(), file=out)


def number_argument(
    convert: Callable[[str], N], kind: str, accept: Callable[[N], bool], refusal: str
) -> Callable[[str], N]:
    """Return an argparse ``type`` reading a number and refusing what ``accept`` refuses.

    Parameters
    ----------
    convert
        ``int`` or ``float``; text it cannot read is refused as "'TEXT' is not KIND".
    kind
        What the text should have been, e.g. ``"a whole number"``.
    accept
        Whether a read value is allowed. Write it as a test that must hold, so NaN
        (false in every comparison) is refused.
    refusal
        The message for a refused value; ``{text}`` stands for the argument, quoted.
    """

    def parse(text: str) -> N:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {kind}") from None
        if not accept(value):
            raise argparse.ArgumentTypeError(refusal.format(text=repr(text)))
        return value

    return parse
