"""The deployed state: ``terraform show -json`` (run, or a saved file) indexed by address."""

from __future__ import annotations

import json
import shutil
import subprocess  # nosec B404  # fixed command lines only, never a shell
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from albums_cli.console import EXIT_ENVIRONMENT, CliError
from albums_cli.environment import TERRAFORM_TIMEOUT_S as _TERRAFORM_TIMEOUT_S
from albums_cli.environment import _terraform_error_line
from albums_cli.preflight.results import _bad

#: Longest wait for ``terraform show -json`` (it may read remote state).
TERRAFORM_TIMEOUT_S: Final = _TERRAFORM_TIMEOUT_S


@dataclass(frozen=True, slots=True)
class TerraformState:
    """Resource values by address, and the outputs, of ``terraform show -json``.

    Empty before the first apply (``terraform show -json`` then prints no ``values``).
    """

    origin: str
    resources: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    outputs: Mapping[str, Any] = field(default_factory=dict)
    #: The type of each managed resource (``aws_lambda_function``), by address.
    types: Mapping[str, str] = field(default_factory=dict)

    @property
    def applied(self) -> bool:
        """Whether the state holds any resource."""
        return bool(self.resources)


class UnresolvedError(Exception):
    """A placeholder whose value the state (or the identity) does not have."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def state_attribute(state: TerraformState, address: str, path: Sequence[str]) -> str:
    """Return attribute ``path`` of resource ``address`` as text.

    Numeric segments index lists (``environment.0.variables.X``); other segments are keys.

    Raises
    ------
    UnresolvedError
        When the resource is not in the state, the path leads nowhere, or the value is not
        a string or a number.
    """
    if address not in state.resources:
        raise UnresolvedError(f"no {address} in the state")
    value: Any = state.resources[address]
    for depth, segment in enumerate(path):
        where = ".".join(path[: depth + 1])
        if isinstance(value, list) and segment.isdigit() and int(segment) < len(value):
            value = value[int(segment)]
        elif isinstance(value, Mapping) and segment in value:
            value = value[segment]
        else:
            raise UnresolvedError(f"{address} has no attribute {where}")
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise UnresolvedError(f"{address}#{'.'.join(path)} is not a string (it is {value!r})")
    return str(value)


def parse_state(document: Any, origin: str) -> TerraformState:
    """Read ``terraform show -json`` output: resource values by address, and the outputs.

    Parameters
    ----------
    document
        The decoded JSON.
    origin
        Where it came from, for messages (``--state PATH``).

    Raises
    ------
    CliError
        (exit 2) naming the path of the first malformed field.
    """
    if not isinstance(document, Mapping):
        raise _bad(origin, "(top level)", "expected a JSON object (terraform show -json)")
    values = document.get("values")
    prefix = "values."
    if values is None and "root_module" in document:
        values, prefix = document, ""  # a state's values object itself (out/tf-check/ENV)
    if values is None:
        return TerraformState(origin)
    if not isinstance(values, Mapping):
        raise _bad(origin, "values", "expected an object")
    outputs: dict[str, Any] = {}
    listed = values.get("outputs", {})
    if not isinstance(listed, Mapping):
        raise _bad(origin, f"{prefix}outputs", "expected an object")
    for name, entry in listed.items():
        if not isinstance(entry, Mapping) or "value" not in entry:
            raise _bad(origin, f"{prefix}outputs.{name}", "expected an object with a value")
        outputs[str(name)] = entry["value"]
    resources: dict[str, Mapping[str, Any]] = {}
    types: dict[str, str] = {}
    root = values.get("root_module", {})
    _collect_module(root, f"{prefix}root_module", origin, resources, types)
    return TerraformState(origin, resources, outputs, types)


def _collect_module(
    module: Any,
    where: str,
    origin: str,
    resources: dict[str, Mapping[str, Any]],
    types: dict[str, str],
) -> None:
    if not isinstance(module, Mapping):
        raise _bad(origin, where, "expected an object")
    listed = module.get("resources", [])
    if not isinstance(listed, list):
        raise _bad(origin, f"{where}.resources", "expected a list")
    for index, resource in enumerate(listed):
        at = f"{where}.resources[{index}]"
        if not isinstance(resource, Mapping):
            raise _bad(origin, at, "expected an object")
        address = resource.get("address")
        if not isinstance(address, str) or not address:
            raise _bad(origin, f"{at}.address", "expected a resource address")
        attributes = resource.get("values", {})
        if not isinstance(attributes, Mapping):
            raise _bad(origin, f"{at}.values", "expected an object")
        resources[address] = attributes
        if isinstance(resource.get("type"), str) and resource.get("mode", "managed") != "data":
            types[address] = resource["type"]
    children = module.get("child_modules", [])
    if not isinstance(children, list):
        raise _bad(origin, f"{where}.child_modules", "expected a list")
    for index, child in enumerate(children):
        _collect_module(child, f"{where}.child_modules[{index}]", origin, resources, types)


def load_state_file(path: Path) -> TerraformState:
    """Read a saved ``terraform show -json`` (``--state PATH``).

    Raises
    ------
    CliError
        (exit 2) when the file is missing, is not JSON, or is malformed.
    """
    origin = f"--state {path}"
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise CliError(f"{origin}: cannot read it ({error.__class__.__name__})") from None
    try:
        document = json.loads(text)
    except ValueError as error:
        raise CliError(f"{origin}: not JSON ({error})") from None
    return parse_state(document, origin)


#: Reads a Terraform root's state as ``terraform show -json`` prints it (injectable).
StateReader = Callable[[Path], Any]


def terraform_show(root: Path) -> Any:
    """Return ``terraform show -json`` of ``root``, decoded.

    Raises
    ------
    CliError
        (exit 5) when terraform is missing, fails, times out or prints no JSON; the
        message says what to do.
    """
    instead = "or pass --state PATH (a saved `terraform show -json`)"
    terraform = shutil.which("terraform")
    if terraform is None:
        raise CliError(f"terraform is not installed: install it, {instead}", EXIT_ENVIRONMENT)
    command = [terraform, f"-chdir={root}", "show", "-json", "-no-color"]
    try:
        completed = subprocess.run(  # noqa: S603 - a fixed command line, no shell  # nosec B603
            command, capture_output=True, text=True, check=False, timeout=TERRAFORM_TIMEOUT_S
        )
    except subprocess.TimeoutExpired:
        raise CliError(
            f"terraform show did not answer within {TERRAFORM_TIMEOUT_S} s in {root}: "
            f"check access to its state, {instead}",
            EXIT_ENVIRONMENT,
        ) from None
    if completed.returncode != 0:
        raise CliError(
            f"terraform show failed in {root}: {_terraform_error_line(completed.stderr)} "
            f"(run `make plan ENV=...` once to initialise it, {instead})",
            EXIT_ENVIRONMENT,
        )
    try:
        return json.loads(completed.stdout or "{}")
    except ValueError:
        raise CliError(
            f"terraform show -json in {root} printed no JSON", EXIT_ENVIRONMENT
        ) from None
